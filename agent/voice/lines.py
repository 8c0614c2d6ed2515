"""What the voice session itself says (the brain's lines live in prompts/): greeting, fillers,
reprompts, hand-off and hang-up lines. None of them says anything about a debt (they are spoken to
callers who may not be verified), and each names a way back to the practice when the call ends.
"""

from __future__ import annotations

from policies.config import PracticePolicy
from prompts.loader import render

FILLER = "One moment while I check that."
FILLERS_AGAIN = (
    "Thanks for waiting, I'm still working on it.",
    "Just a moment longer, please.",
    "I'm still here, almost done.",
)
REPROMPT = (
    "Are you still there?",
    "I'm sorry, I can't hear anything. If you're there, please say something.",
)
KEYPAD_DOB_HINT = "You can also key in your date of birth on your phone's keypad as eight digits."
STAFF_BY_KEYPAD = "Of course. I'm connecting you with a member of our team now. One moment, please."
TROUBLE_TRANSFER = "I'm sorry, I'm having trouble on my end. Let me connect you with a member of our team."
RESUME = {
    "pay:success": "Thank you, your payment went through.",
    "pay:declined": "I'm sorry, that card was declined. I can text you a secure link instead, or you can try "
    "another card.",
    "pay:failed": "I'm sorry, the payment didn't go through.",
    "pay:cancelled": "No problem, I've cancelled the card payment. Nothing was charged.",
}
RESUME_DEFAULT = "Thanks for holding."
RESUME_FOLLOW_UP = "Is there anything else I can help you with?"


def _phone(e164: str) -> str:
    digits = e164.removeprefix("+1")
    if len(digits) == 10:
        return f"({digits[:3]}) {digits[3:6]}-{digits[6:]}"
    return e164


def greeting(policy: PracticePolicy, *, outbound: bool = False) -> str:
    """Names the practice, the automated assistant and the recording notice (as the policy says).

    An outbound call never names the patient before verification: until asynchronous AMD answers,
    the listener may be an answering machine recording the greeting (rules: limited content)."""
    d = policy.disclosures
    common = {"practice": policy.practice.name, "recording": d.recording_notice, "ai": d.ai_disclosure}
    key = "greeting_outbound_call" if outbound else "greeting"
    return render(key, channel="voice", lang="en", **common)


def silence_goodbye(policy: PracticePolicy) -> str:
    p = policy.practice
    return f"I'll let you go for now. If you need us, please call {p.name} at {_phone(p.callback_number)}. Goodbye."


def time_limit_goodbye(policy: PracticePolicy) -> str:
    p = policy.practice
    return (
        "I'm sorry, we've reached the time limit for this call. Our team can help with anything else at "
        f"{_phone(p.callback_number)}. Goodbye."
    )


def trouble_goodbye(policy: PracticePolicy) -> str:
    p = policy.practice
    return (
        "I'm sorry, I'm having trouble on my end and can't continue right now. Please call "
        f"{p.name} at {_phone(p.callback_number)}. Goodbye."
    )


def resume_line(resume: str) -> str:
    return f"{RESUME.get(resume, RESUME_DEFAULT)} {RESUME_FOLLOW_UP}"
