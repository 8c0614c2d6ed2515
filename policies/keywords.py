"""Inbound SMS keywords: opt-out, opt-in and help, beyond Twilio's own handling (rules 20, 35-40).

`classify_sms(body, opt_out_type=None, *, suppressed=False) -> KeywordResult`

- `twilio_handled` is True when Twilio has already auto-replied (the webhook's `OptOutType` is set,
  or the body is exactly one of Twilio's single-word keywords, case-insensitive, surrounding
  whitespace ignored), so the app must send no confirmation of its own (rule 35).
- `kind="stop"` for Twilio/FCC per-se words ("STOP", "opt out", "Stop.", "stop please") and for
  plain-language requests ("please stop texting me", "leave me alone", "no me escriban"); the app
  writes suppression and, unless Twilio handled it, sends one confirmation (rules 22, 36).
- `scope`: "all" for a general revocation (rule 24: it covers every automated call and text),
  "sms" for "stop texting me", "voice" for "stop calling me" (rule 25). Non-stop results say "sms".
- A bare YES (or SÍ) is an opt-in only while the number is SMS-suppressed; otherwise it is the
  patient's answer (e.g. accepting a plan) and `kind="none"`.
- "Stop by tomorrow?" or "can't stop thinking about the bill" are not stops: the keyword path
  only fires on whole-message keywords or clear opt-out phrasings; the rest goes to the brain.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Literal

KeywordKind = Literal["stop", "start", "help", "none"]
KeywordScope = Literal["all", "sms", "voice"]

TWILIO_STOP = frozenset({"stop", "unsubscribe", "end", "quit", "stopall", "revoke", "optout", "cancel"})
TWILIO_START = frozenset({"start", "yes", "unstop"})
TWILIO_HELP = frozenset({"help", "info"})

_STOP_WORDS = TWILIO_STOP | {"alto", "basta", "parar", "para", "detener", "cancelar", "baja", "unsubscribe"}
_START_WORDS = frozenset({"start", "unstop", "optin", "subscribe", "resubscribe", "comenzar", "iniciar"})
_YES_WORDS = frozenset({"yes", "si"})
_HELP_WORDS = frozenset({"help", "info", "ayuda"})
_SMS_WORDS = frozenset(
    {"text", "texts", "texting", "txt", "txts", "messages", "message", "messaging", "msgs", "sms"}
)
_CALL_WORDS = frozenset({"calls", "calling", "call", "phoning"})
_FILLER = (
    frozenset(
        {
            "please", "pls", "plz", "now", "it", "all", "thanks", "thank", "you", "ty", "just", "i", "said",
            "ok", "okay", "seriously", "already", "immediately", "asap", "me", "the", "these", "them",
            "sending", "any", "more", "anymore", "por", "favor", "ya", "stop", "mas",
        }
    )
    | _SMS_WORDS
    | _CALL_WORDS
)  # fmt: skip

_NEG = re.compile(r"(?:\bdon'?t|\bdo not|\bnever|\bcan'?t|\bcannot|\bwon'?t|\bwouldn'?t|\bnot)\s*$")
_STOP_VERB = r"(?:stop|quit|cease|end)"
_SMS_NOUN = r"(?:texting|txting|messaging|texts?|txts?|messages?|msgs?|sms)"
_BETWEEN = r"(?:(?:sending|send|me|the|these|those|all|your|ur|with|spam|automated|this|them)\s+){0,3}"
_RAW: tuple[tuple[str, KeywordScope, bool], ...] = (
    # (pattern, scope, check for a preceding negation)
    (rf"\b{_STOP_VERB}\s+{_BETWEEN}{_SMS_NOUN}\b", "sms", True),
    (rf"\b{_STOP_VERB}\s+{_BETWEEN}(?:calling|phoning|ringing|calls?)\b", "voice", True),
    (r"\b(?:stop|quit|cease)\s+(?:contacting|bothering|harr?ass?ing|hassling|bugging|pestering)\b",
     "all", True),
    (r"\b(?:don'?t|do not|never)\s+(?:\w+\s+)?(?:text|txt|message|msg|sms)\b", "sms", False),
    (r"\b(?:don'?t|do not|never)\s+(?:ever\s+)?call(?:\s+me)?"
     r"(?:\s+(?:again|anymore|any more|ever|please))*$", "voice", False),
    (r"\b(?:don'?t|do not|never)\s+(?:ever\s+)?(?:contact|bother)\s+me\b", "all", False),
    (rf"\bno\s+more\s+{_SMS_NOUN}\b", "sms", False),
    (rf"^no\s+{_SMS_NOUN}(?:\s+please)?$", "sms", False),
    (r"\bno\s+more\s+(?:phone\s+)?calls\b", "voice", False),
    (r"\bleave\s+me\s+alone\b", "all", False),
    (r"\b(?:remove|take)\s+(?:me|my\s+(?:number|name|info|phone))\s+(?:off|from)\b", "all", False),
    (r"\bremove\s+(?:me|my\s+number)\b", "all", False),
    (r"\b(?:lose|delete|erase)\s+my\s+(?:number|phone)\b", "all", False),
    (r"\b(?:optout|unsubscribe)\b", "all", False),
    (r"\bopt\s+me\s+out\b", "all", False),
    (r"\bwrong\s+(?:number|person)\b", "all", False),
    (r"\b(?:please|pls|plz|just)\s+stop\s*$", "all", False),
    # Spanish (accents stripped)
    (r"\bno\s+me\s+(?:escriban|escribas|escriba|manden|mandes|envien|envies|texteen)\b", "sms", False),
    (r"\bno\s+(?:quiero|deseo)\s+(?:recibir\s+)?(?:mas\s+)?(?:mensajes|textos)\b", "sms", False),
    (r"\bno\s+mas\s+(?:mensajes|textos)\b", "sms", False),
    (r"\b(?:dejen|deja|deje)\s+de\s+(?:escribir|enviar|mandar|textear)", "sms", False),
    (r"\bno\s+me\s+(?:llamen|llames|llame)\b", "voice", False),
    (r"\b(?:dejen|deja|deje)\s+de\s+llamar", "voice", False),
    (r"\b(?:dejenme|dejame|dejeme)\s+en\s+paz\b", "all", False),
    (r"\b(?:darme|dar|denme)\s+de\s+baja\b", "all", False),
)  # fmt: skip
_PATTERNS = tuple((re.compile(p), scope, guard) for p, scope, guard in _RAW)


@dataclass(frozen=True, slots=True)
class KeywordResult:
    kind: KeywordKind
    twilio_handled: bool
    scope: KeywordScope
    normalized: str = ""


def normalize(body: str) -> str:
    """Trim, case-fold, strip accents, collapse spaces, strip edge punctuation, unify opt-out/opt-in."""
    s = unicodedata.normalize("NFKD", body.replace("’", "'").replace("‘", "'"))
    s = "".join(ch for ch in s if not unicodedata.combining(ch)).casefold()
    s = re.sub(r"\s+", " ", s)
    s = re.sub(r"^[^\w']+|[^\w']+$", "", s)
    s = re.sub(r"\bopt[\s_-]*out\b", "optout", s)
    s = re.sub(r"\bopt[\s_-]*in\b", "optin", s)
    s = re.sub(r"\bun[\s-]+subscribe\b", "unsubscribe", s)
    return re.sub(r"\bstop\s+all\b", "stopall", s)


def _scope_of(words: list[str]) -> KeywordScope:
    texts, calls = any(w in _SMS_WORDS for w in words), any(w in _CALL_WORDS for w in words)
    if texts and not calls:
        return "sms"
    if calls and not texts:
        return "voice"
    return "all"


def classify_sms(body: str, opt_out_type: str | None = None, *, suppressed: bool = False) -> KeywordResult:
    """Classify an inbound text (see the module docstring)."""
    norm = normalize(body)
    exact = body.strip().casefold()
    twilio = bool(opt_out_type) or exact in TWILIO_STOP | TWILIO_START | TWILIO_HELP
    ott = (opt_out_type or "").strip().upper()
    if ott == "STOP":
        return KeywordResult("stop", True, "all", norm)
    if ott == "HELP":
        return KeywordResult("help", True, "sms", norm)
    if ott == "START":
        yes_only = norm in _YES_WORDS
        return KeywordResult("start" if suppressed or not yes_only else "none", True, "sms", norm)

    words = re.findall(r"[\w']+", norm)
    if not words:
        return KeywordResult("none", False, "sms", norm)
    if norm in _YES_WORDS:
        return KeywordResult("start" if suppressed else "none", twilio, "sms", norm)
    if norm in _START_WORDS or norm in ("start again", "sign me up again", "resume texts"):
        return KeywordResult("start", twilio, "sms", norm)
    if norm in _HELP_WORDS:
        return KeywordResult("help", twilio, "sms", norm)
    if any(w in _STOP_WORDS for w in words) and all(w in _STOP_WORDS or w in _FILLER for w in words):
        return KeywordResult("stop", twilio, _scope_of(words), norm)
    for pat, scope, guard in _PATTERNS:
        for m in pat.finditer(norm):
            if guard and _NEG.search(norm[: m.start()]):
                continue
            return KeywordResult("stop", twilio, scope, norm)
    return KeywordResult("none", twilio, "sms", norm)
