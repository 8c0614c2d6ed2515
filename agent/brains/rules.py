"""`RulesBrain`: deterministic intents + slots, no network. The embedded default and the LLM's fallback.

Each turn: read the text (`intents.classify`, in the light of the agent's open question), then act
through the tools and phrase the reply from `prompts` with the tools' results. Identity comes first:
a debt question from an unverified caller is remembered, the caller is asked for name and date of
birth, and the question is answered once `verify_identity` succeeds. The brain's state lives in
`conversation.memory["rules"]` (see `rules_turn`), so SMS conversations can resume days later.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable
from dataclasses import asdict
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from agent.brains import rules_flows as flows
from agent.brains.base import BrainEvent, ToolInvoker
from agent.brains.intents import NEEDS_VERIFICATION, Intent, Reading, classify
from agent.brains.rules_turn import RulesTurn
from agent.conversation import Conversation
from policies.config import PracticePolicy

_SPANISH_REASON = "Spanish-speaking patient: please help them in Spanish"
_IDENTITY_ANSWERS = frozenset({Intent.IDENTITY, Intent.GREETING, Intent.UNKNOWN, Intent.YES})
# open questions a "no" simply declines
_DECLINABLE = frozenset(
    {"after_balance", "offer_link", "offer_transfer", "plan_choice", "promise", "callback"}
)
_TRANSFER_ES = re.compile(r"\b(?:transf|ahora|ya|sí|si|yes|now|persona|agente|comuni)", re.I)


class RulesBrain:
    name = "rules"

    def __init__(self, policy: PracticePolicy, *, clock: Callable[[], datetime] | None = None) -> None:
        self.policy = policy
        self._clock = clock

    def today(self) -> date:
        tz = ZoneInfo(self.policy.practice.timezone)
        now = self._clock() if self._clock else datetime.now(tz)
        return now.astimezone(tz).date()

    async def respond(
        self, conversation: Conversation, user_turn: str, tools: ToolInvoker
    ) -> AsyncIterator[BrainEvent]:
        t = RulesTurn(self.policy, conversation, tools, user_turn)
        pending = t.pending
        reading = classify(user_turn, self.today(), pending=pending)
        answers_identity = pending == "identity" and reading.intent in _IDENTITY_ANSWERS
        if reading.intent != Intent.IDENTITY and not answers_identity:
            t.mem.pop("id", None)  # a half-given identity is not kept once the caller moves on
        t.expect(None)  # every reply sets its own open question
        await self._route(t, reading, pending)
        if reading.intent != Intent.UNKNOWN:
            t.mem["misses"] = 0
        for event in t.finish():
            yield event

    # ---- routing ------------------------------------------------------------------------------

    async def _route(self, t: RulesTurn, r: Reading, pending: str | None) -> None:
        if pending == "spanish" and r.intent not in (Intent.STOP, Intent.CARD):
            return await self._spanish_choice(t)
        if r.intent == Intent.CARD:
            t.say("card_number_redirect")
            t.ask("card_offer_link", "offer_link")
            return
        if r.intent in _ANYONE:
            return await _ANYONE[r.intent](self, t, r)
        if pending and await self._answer(t, r, pending):
            return
        if r.intent == Intent.IDENTITY:
            return await self._identity(t, r)
        if r.intent in NEEDS_VERIFICATION:
            return await self._debt(t, r)
        await self._small_talk(t, r, pending)

    async def _answer(self, t: RulesTurn, r: Reading, pending: str) -> bool:
        """Read a reply to the agent's open question; False when it is a new request instead."""
        yes, no = r.intent == Intent.YES, r.intent == Intent.NO
        if r.intent == Intent.BYE:
            await self._goodbye(t)
            return True
        if pending == "identity" and r.intent in _IDENTITY_ANSWERS:
            await self._identity(t, r)
            return True
        if pending == "right_party":
            if yes or r.intent == Intent.IDENTITY:
                await self._identity(t, r)
            elif no:
                await self._third_party(t, r)
            elif r.intent == Intent.WHO:
                t.say("who_is_calling")
                t.ask("right_party_ask", "right_party", name=t.mem.get("right_party_name", ""))
            else:
                return False
            return True
        picks = yes or r.intent == Intent.CHOICE or (r.intent == Intent.PLAN and r.months is not None)
        if pending == "plan_choice" and picks:
            await flows.choose_plan(t, r)
            return True
        if pending in ("after_balance", "offer_link") and yes:
            await self._debt(t, Reading(Intent.PAY, full=True, link=pending == "offer_link"))
            return True
        if pending == "offer_transfer" and yes:
            await self._human(t, r)
            return True
        if pending == "callback" and r.intent in (Intent.CALLBACK, Intent.UNKNOWN, Intent.YES):
            await self._callback(t, Reading(Intent.CALLBACK, when=r.when or None), asked=True)
            return True
        if pending == "anything_else" and yes:
            t.ask("how_can_i_help", "")
            return True
        if no and pending == "anything_else":
            await self._goodbye(t)
            return True
        if no and pending in _DECLINABLE:
            t.mem.pop("promise", None)
            t.ask("anything_else", "anything_else")
            return True
        return False

    async def _debt(self, t: RulesTurn, r: Reading) -> None:
        if t.state.locked_out:
            t.say("locked_out")
            t.ask("offer_transfer", "offer_transfer")
            return
        if not t.state.verified:
            t.mem["pending_intent"] = {k: (str(v) if k == "intent" else v) for k, v in asdict(r).items()}
            t.ask("identity_request", "identity")
            return
        if r.injection:
            t.say("injection")
        await flows.MONEY_FLOWS[r.intent](t, r)

    async def _small_talk(self, t: RulesTurn, r: Reading, pending: str | None) -> None:
        if r.intent == Intent.HELP:
            t.say("help")
        elif r.intent == Intent.WHO:
            t.say("who_is_calling")
            t.ask("how_can_i_help", "")
        elif r.intent == Intent.BYE or (r.intent == Intent.NO and pending is None):
            await self._goodbye(t)
        elif r.intent in (Intent.GREETING, Intent.YES):
            t.say("how_can_i_help")
        else:
            misses = int(t.mem.get("misses", 0)) + 1
            t.mem["misses"] = misses
            if misses >= 2:
                t.ask("clarify_again", "offer_transfer")
            elif pending == "identity":
                t.ask("identity_request", "identity")
            else:
                t.say("clarify" if t.state.verified else "clarify_unverified")

    # ---- identity -----------------------------------------------------------------------------

    async def _identity(self, t: RulesTurn, r: Reading) -> None:
        if t.state.verified:
            t.say("how_can_i_help")
            return
        if t.state.locked_out:
            t.say("locked_out")
            t.ask("offer_transfer", "offer_transfer")
            return
        held: dict[str, Any] = t.mem.setdefault("id", {})
        if r.name:
            held["name"] = r.name
        if r.dob:
            held["dob"] = r.dob
        if not held.get("name") and not held.get("dob"):
            misses = int(t.mem.get("misses", 0)) + (r.intent == Intent.UNKNOWN)
            t.mem["misses"] = misses
            if misses >= 2:
                t.ask("clarify_again", "offer_transfer")
            else:
                t.ask("identity_request", "identity")
            return
        if not held.get("name"):
            t.ask("identity_need_name", "identity")
            return
        if not held.get("dob"):
            t.ask("identity_need_dob", "identity")
            return
        t.mem.pop("id", None)  # never keep a date of birth longer than the verification attempt
        result = await t.call("verify_identity", full_name=held["name"], date_of_birth=held["dob"])
        if result.ok:
            t.say("identity_verified")
            intent = t.mem.pop("pending_intent", None)
            if intent:
                return await self._debt(t, Reading(**{**intent, "intent": Intent(intent["intent"])}))
            if t.conv.direction == "outbound":
                return await self._debt(t, Reading(Intent.BALANCE))
            t.ask("how_can_i_help", "")
        elif result.refused == "locked_out" or t.state.locked_out:
            t.say("locked_out")
            t.ask("offer_transfer", "offer_transfer")
        elif result.refused == "not_matched":
            t.ask("verification_failed", "identity")
        elif result.refused == "unclear_dob":
            held = t.mem.setdefault("id", {})
            held["name"] = r.name or held.get("name")
            t.relay(result)
            t.expect("identity")
        else:  # e.g. "representative": someone other than the patient; staff take it from here
            t.relay(result)
            t.expect("offer_transfer")

    # ---- anyone (no verification needed) ------------------------------------------------------

    async def _stop(self, t: RulesTurn, r: Reading) -> None:
        scope = r.channel or "all"
        result = await t.call("opt_out", channel=scope)
        if not result.ok:
            t.relay(result)
            return
        t.say(f"opt_out_{scope}")
        if scope in ("all", t.book.channel):
            await t.call("end_conversation")
        else:
            t.expect("anything_else")

    async def _wrong_number(self, t: RulesTurn, r: Reading) -> None:
        await t.call("end_conversation", outcome="wrong_party")
        t.say("wrong_number")

    async def _third_party(self, t: RulesTurn, r: Reading) -> None:
        await t.call("end_conversation", outcome="no_contact")
        t.say("third_party")

    async def _deceased(self, t: RulesTurn, r: Reading) -> None:
        await t.call("schedule_callback", reason="Caller says the patient passed away; follow up with care")
        await t.call("end_conversation", outcome="no_contact")
        t.say("deceased")

    async def _human(self, t: RulesTurn, r: Reading) -> None:
        result = await t.call("transfer_to_human", reason=flows.reason(t.text, "Caller asked for a person"))
        if result.ok and result.data.get("live"):
            t.say("transfer")
        elif result.ok:
            t.relay(result)
            t.ask("anything_else", "anything_else")
        else:
            t.relay(result)
            t.ask("callback_ask_time", "callback")

    async def _callback(self, t: RulesTurn, r: Reading, *, asked: bool = False) -> None:
        if not r.when and not asked:
            t.ask("callback_ask_time", "callback")
            return
        result = await t.call("schedule_callback", when=r.when)
        if not result.ok:
            t.relay(result)
            if result.refused in ("unclear_time", "outside_range", "outside_hours"):
                t.expect("callback")
            return
        at = t.book.moment(result.data.get("at"))
        t.say("callback_scheduled", when=at)
        if t.voice:
            await t.call("end_conversation")

    async def _callback_intent(self, t: RulesTurn, r: Reading) -> None:
        await self._callback(t, r)

    async def _spanish(self, t: RulesTurn, r: Reading) -> None:
        t.mem["lang"] = "es"
        if t.voice:
            t.say("spanish_handoff", lang="es")
            t.expect("spanish")
            return
        await t.call("schedule_callback", reason=_SPANISH_REASON)
        t.say("spanish_handoff", lang="es")

    async def _spanish_choice(self, t: RulesTurn) -> None:
        if _TRANSFER_ES.search(t.text):
            result = await t.call("transfer_to_human", reason=_SPANISH_REASON)
            if result.ok and result.data.get("live"):
                t.say("spanish_transfer", lang="es")
                return
        else:
            await t.call("schedule_callback", reason=_SPANISH_REASON)
        t.say("spanish_callback", lang="es")
        await t.call("end_conversation")

    async def _goodbye(self, t: RulesTurn) -> None:
        t.say("goodbye")
        await t.call("end_conversation")


_ANYONE: dict[Intent, Callable[[RulesBrain, RulesTurn, Reading], Any]] = {
    Intent.SPANISH: RulesBrain._spanish,
    Intent.STOP: RulesBrain._stop,
    Intent.WRONG_NUMBER: RulesBrain._wrong_number,
    Intent.DECEASED: RulesBrain._deceased,
    Intent.THIRD_PARTY: RulesBrain._third_party,
    Intent.HUMAN: RulesBrain._human,
    Intent.CALLBACK: RulesBrain._callback_intent,
}
