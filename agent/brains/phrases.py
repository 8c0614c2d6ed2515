"""Phrasing for the brains: prompt lines with the practice's details filled in, and values formatted
for the channel (amounts and dates written for SMS, spoken for voice; no URLs on voice).

Amounts and dates come from tool results (`ToolResult.data`); this module only formats them.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from num2words import num2words

from agent.conversation import Conversation
from policies.config import PracticePolicy
from prompts.loader import render

_MONEY_IN_TEXT = re.compile(r"\$\s?(\d{1,3}(?:,\d{3})+|\d+)(?:\.(\d{2}))?")
URL = re.compile(r"\s*(?:https?://|www\.)\S+", re.I)
_FREQUENCY = {
    "sms": {"monthly": "a month", "weekly": "a week", "every_other_week": "every 2 weeks"},
    "voice": {"monthly": "a month", "weekly": "a week", "every_other_week": "every other week"},
}


def channel_of(conversation: Conversation) -> str:
    """Prompt channel for a conversation: voice lines for calls, SMS lines for text-like channels."""
    return "voice" if conversation.channel == "voice" else "sms"


def pretty_phone(e164: str) -> str:
    digits = re.sub(r"\D", "", e164)
    if len(digits) == 11 and digits.startswith("1"):
        digits = digits[1:]
    if len(digits) == 10:
        return f"({digits[:3]}) {digits[3:6]}-{digits[6:]}"
    return e164


def to_decimal(value: Any) -> Decimal | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


def spoken_money(amount: Decimal) -> str:
    """'one hundred twenty dollars and fifty cents' (TTS engines misread '$1,250.50')."""
    q = abs(amount).quantize(Decimal("0.01"))
    dollars, cents = int(q), int((q - int(q)) * 100)
    words = num2words(dollars, lang="en").replace(",", "").replace("-", " ")
    text = f"{words} dollar{'s' if dollars != 1 else ''}"
    if cents:
        text += f" and {num2words(cents, lang='en').replace('-', ' ')} cent{'s' if cents != 1 else ''}"
    return text


class Phrasebook:
    """Renders lines for one channel and language with the practice's name, phone and hours."""

    def __init__(self, policy: PracticePolicy, channel: str, lang: str = "en") -> None:
        self.policy = policy
        self.channel = "voice" if channel == "voice" else "sms"
        self.lang = lang
        p = policy.practice
        self.base: dict[str, Any] = {
            "practice": p.name,
            "phone": pretty_phone(p.callback_number),
            "office_hours": p.office_hours,
            "ai": policy.disclosures.ai_disclosure,
            "recording": policy.disclosures.recording_notice,
        }

    @property
    def voice(self) -> bool:
        return self.channel == "voice"

    def line(self, key: str, *, lang: str | None = None, **vars: Any) -> str:
        return render(key, channel=self.channel, lang=lang or self.lang, **{**self.base, **vars})

    def money(self, value: Any) -> str | None:
        amount = to_decimal(value)
        if amount is None:
            return None
        return spoken_money(amount) if self.voice else f"${amount.quantize(Decimal('0.01')):,.2f}"

    def day(self, value: Any) -> str | None:
        """An ISO date/datetime from tool data, written for the channel; other text passes through."""
        if not value:
            return None
        try:
            d = date.fromisoformat(str(value)[:10])
        except ValueError:
            return str(value)
        if self.voice:
            return f"{d.strftime('%A, %B')} {d.day}"
        return f"{d.strftime('%a %b')} {d.day}"

    def moment(self, value: Any) -> str | None:
        """A callback datetime from tool data ('Tuesday, March 3 at 5:00 PM')."""
        if not value:
            return None
        try:
            dt = datetime.fromisoformat(str(value))
        except ValueError:
            return str(value)
        hour = dt.strftime("%I:%M %p").lstrip("0").replace(":00 ", " ")
        return f"on {self.day(dt.date().isoformat())} at {hour}"

    def frequency(self, value: Any) -> str:
        return _FREQUENCY[self.channel].get(str(value), str(value).replace("_", " "))

    def speakable(self, text: str) -> str:
        """Tool messages, made safe for the channel: on voice, amounts in words and no URLs."""
        if not self.voice:
            return text
        text = URL.sub(" the link I've texted you", text)

        def words(m: re.Match[str]) -> str:
            return spoken_money(Decimal(m.group(1).replace(",", "") + "." + (m.group(2) or "00")))

        return _MONEY_IN_TEXT.sub(words, text)


def opening(policy: PracticePolicy, conversation: Conversation, *, first_name: str | None = None) -> str:
    """The first thing the agent says or sends in a conversation.

    Inbound: the greeting (practice name, automated-assistant and recording notices per policy).
    Outbound voice with a name: asks for the patient by first name and remembers that it asked, so
    the rules brain reads "yes, speaking" / "she's not here" correctly. Outbound SMS: the
    pre-verification outreach text (practice name, reply/call request, opt-out; nothing about money).
    """
    book = Phrasebook(policy, channel_of(conversation), conversation.state.language)
    if conversation.direction == "inbound":
        return book.line("greeting")
    if book.voice and first_name:
        memory = conversation.memory.setdefault("rules", {})
        memory["pending"] = "right_party"
        memory["right_party_name"] = first_name
        return book.line("greeting_outbound", name=first_name)
    if book.voice:
        return book.line("greeting")
    return book.line("greeting_outbound", name=first_name or "")
