"""prompts.loader and the line files: rendering, errors, and the content rules every line must keep."""

from __future__ import annotations

import re

import pytest

from agent.brains.phrases import Phrasebook, opening
from policies import messages
from prompts import PromptError, render, system_prompt
from prompts.loader import CHANNELS, keys, template
from tests.brains.conftest import POLICY, make_conversation

SAMPLE = {
    "practice": "Bright Smile Dental",
    "phone": "(512) 555-0100",
    "office_hours": "Monday to Friday, 8 to 5",
    "ai": True,
    "recording": True,
    "name": "Jane",
    "amount": "$450.00",
    "minimum": "$50.00",
    "date": "Friday",
    "when": "on Tuesday at 5 PM",
    "url": "https://pay.example.test/l/1",
    "options": "1) x",
    "numbers": "1, 2",
    "number": 1,
    "installment": "$75.00",
    "frequency": "a month",
    "count": 6,
    "first_due": "Apr 1",
}
# Lines that may be said before the person is verified: nothing about money owed (rules 28, 29, 31).
PRE_VERIFICATION = [
    "greeting",
    "greeting_outbound",
    "greeting_outbound_call",
    "who_is_calling",
    "right_party_ask",
    "recording_notice",
    "identity_request",
    "identity_need_dob",
    "identity_need_name",
    "identity_verified",
    "verification_failed",
    "locked_out",
    "transfer",
    "transfer_unavailable",
    "callback_ask_time",
    "callback_scheduled",
    "offer_transfer",
    "opt_out_voice",
    "opt_out_sms",
    "opt_out_all",
    "opt_out_email",
    "opt_out_confirmation",
    "opt_out_confirmation_voice",
    "opt_in_confirmation",
    "help",
    "wrong_number",
    "third_party",
    "deceased",
    "card_number_redirect",
    "card_offer_link",
    "clarify_unverified",
    "clarify_again",
    "how_can_i_help",
    "anything_else",
    "tool_problem",
    "llm_fallback",
    "goodbye",
    "amount_withheld",
]


def test_every_line_renders_on_both_channels_with_its_variables() -> None:
    for lang in ("en", "es"):
        for key in keys(lang):
            for channel in CHANNELS:
                text = render(key, channel=channel, lang=lang, **SAMPLE)
                assert text and "{" not in text and "[[" not in text, (lang, key, channel)


def test_missing_variable_key_and_channel_are_clear_errors() -> None:
    with pytest.raises(PromptError, match="'amount'"):
        render("balance", channel="sms", practice="X")
    with pytest.raises(PromptError, match="no prompt line 'no_such_line'"):
        render("no_such_line", channel="sms")
    with pytest.raises(PromptError, match="unknown channel 'fax'"):
        render("goodbye", channel="fax", practice="X", phone="1")
    with pytest.raises(PromptError, match="'recording'"):
        render("greeting", channel="voice", practice="X", ai=True)


def test_optional_sections_follow_the_policy_flags() -> None:
    both = render("greeting", channel="voice", practice="Bright Smile Dental", ai=True, recording=True)
    neither = render("greeting", channel="voice", practice="Bright Smile Dental", ai=False, recording=False)
    assert "automated assistant" in both and "recorded" in both
    assert "automated" not in neither and "record" not in neither
    assert "Bright Smile Dental" in neither


def test_languages_fall_back_to_english_key_by_key() -> None:
    es = render("spanish_handoff", channel="voice", lang="es", **SAMPLE)
    assert "Un miembro de nuestro equipo le llamará" in es
    assert render("identity_request", channel="voice", lang="es") == render(
        "identity_request", channel="voice"
    )
    assert render("goodbye", channel="sms", lang="vi", **SAMPLE) == render("goodbye", channel="sms", **SAMPLE)


def test_no_line_sounds_like_a_collection_agency() -> None:
    for lang in ("en", "es"):
        for key in keys(lang):
            for channel in CHANNELS:
                text = render(key, channel=channel, lang=lang, **SAMPLE)
                found = [
                    v
                    for v in messages.lint(text, verified=True, policy=POLICY, channel="sms", reply=True)
                    if v.rule == "collection_language"
                ]
                assert not found, (key, channel, text)


def test_pre_verification_lines_say_nothing_about_the_debt() -> None:
    for key in PRE_VERIFICATION:
        for channel in CHANNELS:
            text = render(key, channel=channel, **SAMPLE)
            problems = messages.lint(text, verified=False, policy=POLICY, channel=channel, reply=True)
            assert not problems, (key, channel, text, problems)


def test_voice_lines_are_speakable() -> None:
    for key in keys("en"):
        raw = template(key, channel="voice")
        assert "{url}" not in raw and "http" not in raw and "\n" not in raw, key


def test_first_contact_lines_pass_the_linter() -> None:
    voice = render("greeting", channel="voice", practice=POLICY.practice.name, ai=True, recording=True)
    assert not messages.lint(voice, verified=False, policy=POLICY, channel="voice", first_contact=True)
    outreach = Phrasebook(POLICY, "sms").line("greeting_outbound")
    assert not messages.lint(outreach, verified=False, policy=POLICY, channel="sms", first_contact=True)
    help_text = render("help", channel="sms", **SAMPLE)
    assert "Bright Smile Dental" in help_text and "(512) 555-0100" in help_text
    assert re.search(r"Reply STOP to opt out", help_text)


def test_identity_request_by_sms_asks_for_name_and_dob() -> None:
    text = render("identity_request", channel="sms", practice="Bright Smile Dental")
    assert "reply with your full name and date of birth" in text and "Bright Smile Dental" in text


def test_opt_out_confirmations_do_not_persuade() -> None:
    for key in ("opt_out_voice", "opt_out_sms", "opt_out_all", "opt_out_confirmation"):
        for channel in CHANNELS:
            text = render(key, channel=channel, **SAMPLE).lower()
            assert not re.search(r"\b(but|instead|reconsider|sure\?|are you sure|miss out|offer)\b", text), (
                text
            )


def test_opening_lines() -> None:
    inbound = opening(POLICY, make_conversation("voice"))
    assert inbound.startswith("Thanks for calling Bright Smile Dental") and "recorded" in inbound
    outbound = make_conversation("voice", "outbound")
    line = opening(POLICY, outbound, first_name="Jane")
    assert "Jane" in line and "Bright Smile Dental" in line
    assert outbound.memory["rules"]["pending"] == "right_party"
    sms = opening(POLICY, make_conversation("sms", "outbound"))
    assert "Reply STOP to opt out" in sms and "$" not in sms


@pytest.mark.parametrize("channel", CHANNELS)
@pytest.mark.parametrize("verified", [True, False])
def test_system_prompt(channel: str, verified: bool) -> None:
    text = system_prompt(
        practice="Bright Smile Dental",
        phone="(512) 555-0100",
        office_hours="9 to 5",
        channel=channel,
        today="Monday, March 2, 2026",
        verified=verified,
        min_monthly="$50.00",
        mask_token="[date of birth]",
    )
    assert "Bright Smile Dental" in text and '"[date of birth]"' in text and "Monday, March 2, 2026" in text
    assert ("NOT verified" in text) is (not verified)
    assert ("spoken aloud" in text) is (channel == "voice")
    assert "{" not in text and "[[" not in text
