"""The limited-content voicemail (rule 30) and the one follow-up text after it.

Both are rendered from `prompts/outbound_channels.*.yaml` with values from the practice policy only
(outreach name, callback number, a person to ask for), then linted by `policies.messages.lint`; a
violation raises `ContentRejected` instead of speaking or sending anything. The patient's names are
passed to the linter so that a template edit that names the patient is caught too.
"""

from __future__ import annotations

from collections.abc import Iterable

from agent.brains.phrases import pretty_phone
from agent.outreach.delivery import ContentRejected
from policies.config import PracticePolicy
from policies.messages import lint
from prompts.outbound import render_outbound
from telephony.twiml import say_then_hangup


def _vars(policy: PracticePolicy) -> dict[str, str]:
    p = policy.practice
    return {
        "practice": p.outreach_name,
        "phone": pretty_phone(p.callback_number),
        "contact": p.staff_contact_name,
    }


def voicemail_text(policy: PracticePolicy, *, patient_names: Iterable[str] = ()) -> str:
    """The words of the voicemail, checked against rule 30."""
    text = render_outbound("voicemail", **_vars(policy))
    violations = lint(text, verified=False, policy=policy, channel="voicemail", patient_names=patient_names)
    if violations:
        raise ContentRejected("voicemail", violations)
    return text


def voicemail_twiml(policy: PracticePolicy, *, patient_names: Iterable[str] = ()) -> str:
    """TwiML that replaces the live call's media stream: say the voicemail once, then hang up."""
    return say_then_hangup(voicemail_text(policy, patient_names=patient_names))


def followup_sms_text(policy: PracticePolicy, *, patient_names: Iterable[str] = ()) -> str:
    """The text after a voicemail: a first-contact text before verification (rules 26, 31)."""
    text = render_outbound("voicemail_followup_sms", **_vars(policy))
    violations = lint(
        text, verified=False, policy=policy, channel="sms", first_contact=True, patient_names=patient_names
    )
    if violations:
        raise ContentRejected("follow-up text", violations)
    return text
