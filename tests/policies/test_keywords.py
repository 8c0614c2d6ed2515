"""SMS keyword classification (rules 20, 35-40): table-driven over many real-world forms."""

from __future__ import annotations

import pytest

from policies.keywords import classify_sms, normalize

STOP_ALL_TWILIO = [
    "STOP",
    "stop",
    " Stop ",
    "UNSUBSCRIBE",
    "End",
    "QUIT",
    "STOPALL",
    "revoke",
    "OPTOUT",
    "Cancel",
]
STOP_ALL_APP = [
    "Stop.",
    "STOP!!!",
    "stop!",
    "opt out",
    "opt-out",
    "Opt Out",
    "OPT-OUT.",
    "stop all",
    "STOP PLEASE",
    "stop please",
    "please stop",
    "Please STOP!",
    "I said stop",
    "Can you please stop",
    "just stop",
    "stop stop stop",
    "leave me alone",
    "Leave me alone!!",
    "remove me from your list",
    "Remove me",
    "Take me off your list please",
    "take my number off your list",
    "lose my number",
    "delete my number",
    "unsubscribe me",
    "How do I unsubscribe?",
    "opt me out",
    "I want to opt out",
    "stop contacting me",
    "quit bothering me",
    "don't contact me",
    "Do not contact me again",
    "wrong number",
    "You have the wrong number",
    "ALTO",
    "alto",
    "Basta",
    "para",
    "cancelar",
    "Déjenme en paz",
    "quiero darme de baja",
    "Stop, thanks",
    "STOP 🛑",
    "“STOP”",
    "stop it",
    "Stop now",
]
STOP_SMS = [
    "please stop texting me",
    "stop texting me",
    "STOP TEXTING ME",
    "Stop sending me texts",
    "stop sending texts",
    "stop these texts",
    "Stop the text messages please",
    "don't text me anymore",
    "dont text me",
    "Do not text me",
    "Please don't message me again",
    "no more texts",
    "No more messages!",
    "no texts please",
    "stop texts",
    "quit texting",
    "end texts",
    "no me escriban",
    "No me envíen más mensajes",
    "no me manden mensajes",
    "No quiero recibir mensajes",
    "no más mensajes",
    "dejen de escribirme",
]
STOP_VOICE = [
    "stop calling me",
    "Stop calling",
    "STOP CALLING ME!!!",
    "quit calling",
    "don't call me",
    "Do not call me again",
    "no more calls",
    "stop the calls",
    "no me llamen",
    "dejen de llamarme",
]
NOT_STOP = [
    "Stop by tomorrow?",
    "can't stop thinking about the bill",
    "Can I stop by the office?",
    "I'll stop in Friday",
    "cancel my appointment",
    "What is my balance?",
    "no message received",
    "I never got a text",
    "ok thanks",
    "Yes please",
    "Thanks for the reminder",
    "when does it end?",
    "don't call me before noon",
    "don't call me at work",
    "don't stop texting me",
    "I won't stop paying",
    "the end of the month works",
    "Help me understand this bill",
    "Is this a scam?",
    "",
    "   ",
    "para mi esposo",
]


@pytest.mark.parametrize("body", STOP_ALL_TWILIO)
def test_twilio_single_words_are_stops_twilio_already_confirmed(body: str) -> None:
    r = classify_sms(body)
    assert (r.kind, r.twilio_handled, r.scope) == ("stop", True, "all")


@pytest.mark.parametrize("body", STOP_ALL_APP)
def test_app_level_stops_cover_every_medium(body: str) -> None:
    r = classify_sms(body)
    assert (r.kind, r.twilio_handled, r.scope) == ("stop", False, "all")


@pytest.mark.parametrize("body", STOP_SMS)
def test_stop_texting_is_sms_scoped(body: str) -> None:
    r = classify_sms(body)
    assert (r.kind, r.twilio_handled, r.scope) == ("stop", False, "sms")


@pytest.mark.parametrize("body", STOP_VOICE)
def test_stop_calling_is_voice_scoped(body: str) -> None:
    r = classify_sms(body)
    assert (r.kind, r.scope) == ("stop", "voice")


@pytest.mark.parametrize("body", NOT_STOP)
def test_not_stops(body: str) -> None:
    assert classify_sms(body).kind == "none"


@pytest.mark.parametrize(
    ("body", "suppressed", "kind", "twilio"),
    [
        ("YES", False, "none", True),  # plan acceptance; Twilio still sees its keyword
        ("yes", True, "start", True),
        (" Yes ", True, "start", True),
        ("Yes!", True, "start", False),
        ("Sí", True, "start", False),
        ("sí", False, "none", False),
        ("START", False, "start", True),
        ("unstop", True, "start", True),
        ("Start.", True, "start", False),
        ("opt in", True, "start", False),
        ("HELP", False, "help", True),
        ("info", False, "help", True),
        ("Help?", False, "help", False),
        ("ayuda", False, "help", False),
    ],
)
def test_start_yes_and_help(body: str, suppressed: bool, kind: str, twilio: bool) -> None:
    r = classify_sms(body, suppressed=suppressed)
    assert (r.kind, r.twilio_handled) == (kind, twilio)


@pytest.mark.parametrize(
    ("body", "opt_out_type", "suppressed", "kind"),
    [
        ("stop ", "STOP", False, "stop"),
        ("Stop please", "STOP", False, "stop"),
        ("start", "START", True, "start"),
        ("yes", "START", False, "none"),
        ("yes", "START", True, "start"),
        ("help", "HELP", False, "help"),
        ("info", "help", False, "help"),
    ],
)
def test_twilio_opt_out_type_means_twilio_replied(
    body: str, opt_out_type: str, suppressed: bool, kind: str
) -> None:
    r = classify_sms(body, opt_out_type, suppressed=suppressed)
    assert (r.kind, r.twilio_handled) == (kind, True)


@pytest.mark.parametrize(
    ("raw", "norm"),
    [
        ("  Opt-Out!! ", "optout"),
        ("OPT   OUT", "optout"),
        ("opt_out", "optout"),
        ("Stop   All.", "stopall"),
        ("Déjenme  en paz", "dejenme en paz"),
        ("Don’t text me", "don't text me"),
        ("un-subscribe", "unsubscribe"),
    ],
)
def test_normalize(raw: str, norm: str) -> None:
    assert normalize(raw) == norm
