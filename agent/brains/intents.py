"""Deterministic intent + slot reading of one user turn (the rules brain's NLU).

`classify(text, today, pending=...)` is pure. `pending` is the question the agent asked last
(e.g. "identity", "plan_choice"); it only changes how bare answers ("yes", "2", "Jane Doe",
"3/14/1985") are read. Precedence runs from what must never be missed (card numbers, opt-outs,
wrong party, a request for a person) to ordinary billing questions.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from agent.brains import slots
from policies.redaction import contains_card_number


class Intent(StrEnum):
    CARD = "card"
    SPANISH = "spanish"
    STOP = "stop"
    WRONG_NUMBER = "wrong_number"
    DECEASED = "deceased"
    THIRD_PARTY = "third_party"
    HUMAN = "human"
    HELP = "help"
    DISPUTE = "dispute"
    HARDSHIP = "hardship"
    CALLBACK = "callback"
    PROMISE = "promise"
    PLAN = "plan"
    PAY = "pay"
    EXPLAIN = "explain"
    BALANCE = "balance"
    IDENTITY = "identity"
    CHOICE = "choice"
    YES = "yes"
    NO = "no"
    WHO = "who"
    GREETING = "greeting"
    BYE = "bye"
    UNKNOWN = "unknown"


# Intents that talk about the debt: they need a verified caller first.
NEEDS_VERIFICATION = frozenset(
    {Intent.BALANCE, Intent.EXPLAIN, Intent.PLAN, Intent.PAY, Intent.PROMISE, Intent.DISPUTE, Intent.HARDSHIP}
)


@dataclass(frozen=True)
class Reading:
    intent: Intent
    amount: str | None = None  # raw span, e.g. "$50"
    full: bool = False  # "the rest", "in full"
    date: str | None = None  # raw span, e.g. "Friday"
    dob: str | None = None  # raw span
    name: str | None = None
    choice: int | None = None  # 1-based; -1 = last
    months: int | None = None
    when: str | None = None  # callback time words
    channel: str | None = None  # opt-out scope: voice | sms | email | all
    injection: bool = False
    link: bool = False  # the patient accepted an offer of a texted link (pay by link, not keypad)


def _wordset(text: str) -> frozenset[str]:
    return frozenset(text.split())


def _rx(*alternatives: str) -> re.Pattern[str]:
    return re.compile("|".join(f"(?:{a})" for a in alternatives), re.I)


_CARD_WORDS = _rx(r"\bcard\s+(?:number|num|#)", r"\bcvv\b", r"\bcvc\b", r"\bsecurity\s+code\b", r"\[card")
_CARD_DIGITS = re.compile(r"(?<!\d)(?:\d[ -]?){13,19}(?!\d)")
_STOP = _rx(
    r"\bstop\s+(?:calling|texting|messaging|contacting|emailing|bothering|sending)",
    r"\b(?:don'?t|do\s+not|never)\s+(?:call|text|message|contact|email)\b",
    r"\btake\s+me\s+off\b",
    r"\bremove\s+me\b",
    r"\bunsubscribe\b",
    r"\bopt(?:\s|-)?out\b",
    r"\bleave\s+me\s+alone\b",
    r"\bno\s+more\s+(?:calls|texts|messages|emails)\b",
    r"^\s*(?:stop|quit|end|cancel)\W*$",
    r"\bput\s+me\s+on\s+(?:the|your)\s+do\s+not\s+call\b",
    r"\bquit\s+(?:calling|texting)\b",
)
_WRONG = _rx(
    r"\bwrong\s+(?:number|person|phone)\b",
    r"\bdon'?t\s+know\s+(?:this|that|who|any)",
    r"\bno\s+one\s+(?:here\s+)?by\s+that",
    r"\bnobody\s+(?:here\s+)?by\s+that",
    r"\bnever\s+heard\s+of\s+(?:him|her|them|that)",
    r"\b(?:isn'?t|not)\s+(?:his|her|their)\s+(?:number|phone)\b",
    r"\bno\s+such\s+person\b",
)
_DECEASED = _rx(r"\b(?:passed\s+away|(?:he|she|they)\s+(?:died|is\s+dead|'s\s+dead)|deceased)\b")
_THIRD = _rx(
    r"\b(?:this\s+is|i'?m|i\s+am)\s+(?:his|her|their|the\s+patient'?s)\s+\w+",
    r"\b(?:he|she|they)(?:'s|\s+is|'re|\s+are)\s+(?:not|n'?t)\s+(?:here|home|in|available|around)\b",
    r"\b(?:he|she)\s+(?:isn'?t|is\s+not)\s+(?:here|home|in|available|around)\b",
    r"\bcan\s+i\s+take\s+a\s+message\b",
    r"\b(?:he|she)'?s\s+(?:at\s+work|out|asleep|busy)\b",
    r"\bnot\s+(?:him|her)\b",
    r"\b(?:i'?m|this\s+is)\s+not\s+(?:him|her)\b",
)
_HUMAN = _rx(
    r"\b(?:talk|speak)\s+(?:to|with)\s+(?:a|an|the|someone|somebody|your|real|live)\b",
    r"\b(?:agent|representative|operator|human|real\s+person|live\s+person)\b",
    r"\btransfer\s+me\b",
    r"\bconnect\s+me\b",
    r"\bbilling\s+(?:department|office|person|team)\b",
)
_HELP = _rx(r"^\s*(?:help|info|menu|options)\W*$", r"\bwhat\s+can\s+you\s+do\b")
_DISPUTE = _rx(
    r"\balready\s+paid\b",
    r"\bi\s+paid\s+(?:this|that|it|already)\b",
    r"\bpaid\s+(?:this|that|it)\s+(?:off|already)\b",
    r"\binsurance\s+(?:should|was\s+supposed\s+to|is\s+supposed\s+to|will|needs\s+to|didn'?t|never)\b",
    r"\b(?:this|that|it|the\s+bill|my\s+bill)\s+(?:is|was|'s)\s+"
    r"(?:wrong|incorrect|a\s+mistake|an\s+error|not\s+mine)\b",
    r"\bnever\s+(?:had|got|received)\s+(?:that|this|it|those|any)",
    r"\bdidn'?t\s+have\s+(?:that|this|it)\s+done\b",
    r"\bdispute\b",
    r"\bnot\s+my\s+(?:bill|charge|debt)\b",
    r"\b(?:overcharged|double\s+charged|billed\s+twice)\b",
    r"\bthat'?s\s+(?:wrong|not\s+right|a\s+mistake)\b",
    r"\bmistake\s+on\s+(?:my|the)\b",
)
_HARDSHIP = _rx(
    r"\blost\s+my\s+job\b",
    r"\bcan'?t\s+afford\b",
    r"\bcannot\s+afford\b",
    r"\bunemployed\b",
    r"\blaid\s+off\b",
    r"\bno\s+(?:money|income)\b",
    r"\b(?:financial|money)\s+(?:hardship|trouble|problems)\b",
    r"\bhardship\b",
    r"\bfinancial\s+(?:assistance|aid|help)\b",
    r"\bcharity\s+care\b",
    r"\bbroke\b",
    r"\bdisability\b",
    r"\bcan'?t\s+pay\s+(?:anything|right\s+now|at\s+all|it)\b",
    r"\bstruggling\b",
)
_CALLBACK = _rx(
    r"\bcall\s+(?:me|us)\s+(?:back\s+)?(?:later|tomorrow|tonight|on|at|after|before|in|next|this|around|monday|"
    r"tuesday|wednesday|thursday|friday|saturday|sunday|\d)",
    r"\bcall\s+(?:me\s+)?back\b",
    r"\b(?:not\s+a\s+good\s+time|bad\s+time|busy\s+right\s+now|i'?m\s+(?:driving|at\s+work))\b",
    r"\btry\s+(?:me\s+)?(?:again|later|back)\b",
    r"\bcall\s+me\b",
)
_PLAN = _rx(
    r"\bplan\b",
    r"\b(?:make|do|set\s+up)\s+(?:monthly\s+)?payments\b",
    r"\binstall?ments?\b",
    r"\bper\s+month\b",
    r"\ba\s+month\b",
    r"\bmonthly\b",
    r"\bspread\s+(?:it|this)\s+out\b",
    r"\bover\s+(?:time|\w+\s+months)\b",
    r"\bpay\s+(?:it\s+)?(?:off\s+)?(?:a\s+little|in\s+parts|bit\s+by\s+bit|little\s+by\s+little)\b",
)
_PAY = _rx(
    r"\bpay\b",
    r"\blink\b",
    r"\bpayment\b",
    r"\bcredit\s+card\b",
    r"\bdebit\b",
    r"\bsettle\b",
    r"^\s*(?:pay|link|paynow|pay\s+now)\W*$",
)
_PROMISE_VERB = _rx(
    r"\b(?:i\s+can|i\s+could|i'?ll|i\s+will|i'?m\s+going\s+to|i\s+am\s+going\s+to|i'?m\s+gonna|gonna|let\s+me|"
    r"i\s+get\s+paid|i\s+promise|i\s+plan\s+to|i\s+should\s+be\s+able\s+to|can\s+i)\b",
)
_NOW = _rx(r"\b(?:now|today|right\s+away|immediately)\b")
_EXPLAIN = _rx(
    r"\bwhat\s+(?:is|was|'s)\s+(?:this|that|it)\s+(?:charge\s+)?for\b",
    r"\bwhat'?s\s+(?:this|that|it)\s+for\b",
    r"\bwhy\s+(?:do|would|should)\s+i\s+owe\b",
    r"\bwhy\s+(?:am|was)\s+i\s+(?:charged|billed)\b",
    r"\bwhat\s+(?:are|were)\s+(?:the|these|those)\s+charges\b",
    r"\bexplain\b",
    r"\bbreak\s*down\b",
    r"\bitemi[sz]ed?\b",
    r"\bwhat\s+(?:did|was)\s+(?:i|that)\s+(?:have|get)\s+done\b",
    r"\bwhat\s+charges?\b",
    r"\bwhat\s+(?:is|was)\s+(?:the\s+)?charge\b",
    r"\bwhat\s+(?:is|was)\s+(?:this|that)\s+(?:bill|charge)\b",
    r"\bwhere\s+(?:does|did)\s+(?:this|that)\s+come\s+from\b",
)
_BALANCE = _rx(
    r"\bowe[ds]?\b",
    r"\bowing\b",
    r"\bbalance\b",
    r"\bbill\b",
    r"\bhow\s+much\b",
    r"\bamount\s+due\b",
    r"\bwhat'?s\s+due\b",
    r"\bstatement\b",
    r"\binvoice\b",
    r"^\s*(?:bal|balance|amount)\W*$",
    r"\bmy\s+account\b",
)
_INJECTION = _rx(
    r"\bignore\s+(?:all\s+|any\s+|your\s+|the\s+|previous\s+|prior\s+|above\s+)*(?:rules|instructions|prompts?|policy)",
    r"\bsystem\s+prompt\b",
    r"\bdeveloper\s+mode\b",
    r"\byou\s+are\s+now\b",
    r"\bforget\s+(?:your|all|the)\s+",
    r"\b(?:set|change|make|update|reduce|lower|adjust)\s+(?:my|the)\s+(?:balance|bill|amount)\b",
    r"\b(?:balance|bill)\s+to\s+(?:zero|0|\$0|nothing)\b",
    r"\bwrite\s+(?:it|this|my\s+\w+)\s+off\b",
    r"\bjailbreak\b",
    r"\bpretend\s+(?:you|to)\b",
    r"\bact\s+as\b",
    r"\bnew\s+instructions\b",
)
_YES = _rx(
    r"^\W*(?:yes|yeah|yea|yep|yup|y|sure|ok|okay|k|correct|right|absolutely|definitely|please|please\s+do|"
    r"go\s+ahead|do\s+it|sounds\s+good|that\s+works|that'?s\s+fine|fine|perfect|great|speaking|that'?s\s+me|"
    r"this\s+is\s+(?:he|she|him|her)|it'?s\s+me|si|sí|accept|i\s+accept|agreed|deal)\b",
)
_NO = _rx(
    r"^\W*(?:no|nope|nah|n|not\s+really|no\s+thanks?|no\s+thank\s+you|i'?m\s+good|that'?s\s+(?:all|it)|"
    r"nothing(?:\s+else)?|i'?m\s+all\s+set|all\s+set|not\s+now|neither)\b",
)
_WHO = _rx(
    r"\bwho\s+(?:is\s+(?:this|calling)|are\s+you|'s\s+calling)\b",
    r"\bwhat\s+is\s+this\s+(?:about|regarding)\b",
    r"\bwhat'?s\s+this\s+about\b",
    r"\bwhy\s+are\s+you\s+calling\b",
    r"\bwho\s+is\s+it\b",
)
_GREETING = _rx(r"^\W*(?:hi|hello|hey|hiya|good\s+(?:morning|afternoon|evening)|yo)\b[\W\s]*(?:there)?\W*$")
_BYE = _rx(
    r"\b(?:bye|goodbye|good\s+bye|hang\s+up|that'?s\s+all|that\s+is\s+all|have\s+a\s+good)\b",
    r"^\W*(?:thanks|thank\s+you|thx|ty)\W*$",
)

_ES_WORDS = _wordset(
    """
    hola quiero quisiera pagar cuánto cuanto debo deuda cuenta factura gracias español espanol habla hablar
    necesito llamar llámeme llameme puedo por favor usted ustedes tengo quién quien qué porque señor señora
    buenos buenas días dias tardes noches pago dinero mañana manana ahora sí no entiendo inglés ingles ayuda
    persona mi mis es está esta estoy el la los las un una de del que para con como cómo dónde donde
    """
)
_EN_WORDS = _wordset(
    """
    i you the a to is it my me what how much do owe pay can this that and of in for on not no yes please want
    need call bill balance plan with be have are was your we they he she just like
    """
)


def is_spanish(text: str) -> bool:
    """Mostly-Spanish text, or a request for Spanish ("do you speak Spanish?")."""
    low = text.lower()
    if re.search(r"\b(?:spanish|español|espanol|en\s+español)\b", low):
        return True
    words = re.findall(r"[a-záéíóúñü]+", low)
    if not words:
        return False
    es = sum(w in _ES_WORDS for w in words)
    en = sum(w in _EN_WORDS for w in words)
    accents = bool(re.search(r"[áéíóúñ¿¡]", low))
    return (es >= 2 and es > en) or (accents and es >= 1 and es >= en)


def _has_card(text: str) -> bool:
    return contains_card_number(text) or bool(_CARD_WORDS.search(text) or _CARD_DIGITS.search(text))


def _opt_out_channel(text: str) -> str:
    low = text.lower()
    if re.search(r"\b(?:call|calling|calls|phone|ring)\b", low):
        return "voice"
    if re.search(r"\b(?:text|texting|texts|sms|messag)", low):
        return "sms"
    if re.search(r"\be-?mail", low):
        return "email"
    return "all"


def classify(text: str, today: date, *, pending: str | None = None) -> Reading:
    """Read one user turn. `pending` = the agent's open question, if any."""
    t = " ".join(text.split())
    low = t.lower().replace("’", "'")
    if not low.strip(" .!?,"):
        return Reading(Intent.UNKNOWN)
    if _has_card(t):
        return Reading(Intent.CARD)
    if is_spanish(low) and not (pending == "identity" and slots.find_dob(t, today)):
        return Reading(Intent.SPANISH)
    if _STOP.search(low):
        return Reading(Intent.STOP, channel=_opt_out_channel(low))
    if _WRONG.search(low):
        return Reading(Intent.WRONG_NUMBER)
    if _DECEASED.search(low):
        return Reading(Intent.DECEASED)
    if _THIRD.search(low):
        return Reading(Intent.THIRD_PARTY)
    if _HUMAN.search(low) or re.fullmatch(r"\W*(?:agent|representative|operator|human|person)\W*", low):
        return Reading(Intent.HUMAN)

    injection = bool(_INJECTION.search(low))
    dob = slots.find_dob(t, today)
    name = slots.find_name(t, dob, loose=pending == "identity")
    if pending == "identity" and (dob or name) and not injection:
        return Reading(Intent.IDENTITY, dob=dob, name=name)
    if _HELP.search(low):
        return Reading(Intent.HELP)

    amount = slots.find_amount(t)
    full = slots.wants_full_amount(low)
    when_date = slots.find_date(t, today)

    def money(intent: Intent, months: int | None = None) -> Reading:
        return Reading(intent, amount=amount, full=full, date=when_date, months=months)

    if injection:
        return Reading(Intent.BALANCE, injection=True)
    if pending == "plan_choice" and (choice := slots.find_choice(t)) is not None:
        return Reading(Intent.CHOICE, choice=choice)
    if _DISPUTE.search(low):
        return Reading(Intent.DISPUTE)
    if _HARDSHIP.search(low):
        return Reading(Intent.HARDSHIP)
    if _CALLBACK.search(low) and not (amount or full):
        return Reading(Intent.CALLBACK, when=slots.find_when(t))
    if pending == "promise" and (amount or when_date or full):
        return money(Intent.PROMISE)
    pay_words = bool(_PAY.search(low))
    promised = amount or full or (pay_words and _PROMISE_VERB.search(low))
    if when_date and promised and not _PLAN.search(low):
        if re.fullmatch(r"(?:today|tonight)", when_date.lower()):
            return money(Intent.PAY)
        return money(Intent.PROMISE)
    if _PLAN.search(low) or slots.find_months(t):
        return money(Intent.PLAN, slots.find_months(t))
    if _EXPLAIN.search(low):
        return Reading(Intent.EXPLAIN)
    # "the balance" alone is a question about it ("what's the balance?"), not a request to pay it
    if pay_words or amount or (full and not _BALANCE.search(low)):
        return money(Intent.PAY)
    if _BALANCE.search(low):
        return Reading(Intent.BALANCE)
    if dob or (name and _NAME_CUE.search(low)):
        return Reading(Intent.IDENTITY, dob=dob, name=name)
    if _WHO.search(low):
        return Reading(Intent.WHO)
    if _YES.search(low):
        return Reading(Intent.YES)
    if _BYE.search(low):
        return Reading(Intent.BYE)
    if _NO.search(low):
        return Reading(Intent.NO)
    if _GREETING.search(low):
        return Reading(Intent.GREETING)
    if pending == "callback" and (when := slots.find_when(t)):
        return Reading(Intent.CALLBACK, when=when)
    return Reading(Intent.UNKNOWN)


_NAME_CUE = _rx(r"\bmy\s+name\b", r"\bname\s+is\b", r"^\s*(?:this\s+is|it'?s|i'?m|i\s+am)\s+[a-z]")
