"""`balanceline chat`: be the patient in a terminal, through the same conversation code.

SMS mode drives the real SMS channel (keywords, identity, tools, outbox) with texts delivered to the
terminal instead of Twilio. Voice mode runs the same turn engine with spoken-style lines.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Literal

from rich.console import Console

from agent.bootstrap import prepare
from agent.conversation import Conversation
from agent.logs import configure_logging
from agent.messaging import ConversationMessenger
from agent.pms_lookup import match_caller
from agent.runtime import Runtime, build_runtime
from agent.settings import Settings
from agent.sms import InboundText
from prompts.loader import render
from telephony.sms_local import LocalOutbox
from tools.context import CallerState, ToolContext

QUIT = {"/quit", "/exit", "quit", "exit"}


async def _read(prompt: str) -> str | None:
    try:
        return await asyncio.to_thread(input, prompt)
    except EOFError:
        return None


def _default_phone() -> str:
    from pms.demo.personas import PERSONAS

    persona = PERSONAS["prompt_payer"]
    assert persona.phone
    return persona.phone


async def run_chat(
    settings: Settings, *, phone: str | None, channel: Literal["sms", "voice"], console: Console
) -> None:
    configure_logging("WARNING")
    await prepare(settings, console=console)
    outbox = LocalOutbox()
    runtime = await build_runtime(settings, sms_sender=outbox)
    runtime.start_background(outbox_interval=1.0)
    number = phone or _default_phone()
    try:
        if channel == "sms":
            await _sms_loop(runtime, outbox, number, console)
        else:
            await _voice_loop(runtime, outbox, number, console)
    finally:
        await runtime.close()


def _print_new(outbox: LocalOutbox, seen: int, console: Console) -> int:
    messages = outbox.messages
    for m in list(messages)[seen:]:
        console.print(f"[cyan]{runtime_name()} → {m.to}[/cyan]: {m.body}")
    return len(messages)


def runtime_name() -> str:
    return "BalanceLine"


def _silence_reason(kind: str) -> str:
    return {
        "stop": "opted out; for a single-word STOP, Twilio itself sends the one confirmation",
        "start": "opted back in; Twilio itself confirms START",
        "help": "Twilio itself answers HELP with the practice's help text",
        "suppressed": "this number opted out: the agent may not text it until it sends START",
    }.get(kind, "no reply")


async def _sms_loop(runtime: Runtime, outbox: LocalOutbox, number: str, console: Console) -> None:
    console.print(
        f"You are texting {runtime.policy.practice.name} from {number}. Try: 'what do I owe?', PLAN, YES, STOP, HELP. "
        "Type /quit to leave."
    )
    seen = len(outbox.messages)
    while True:
        line = await _read("you> ")
        if line is None or line.strip() in QUIT:
            return
        if not line.strip():
            continue
        outcome = await runtime.sms.handle(
            InboundText(message_sid=f"SMchat{uuid.uuid4().hex}", from_=number, to="+10000000000", body=line)
        )
        before = seen
        seen = _print_new(outbox, seen, console)
        if seen == before:
            console.print(f"[dim]({_silence_reason(outcome.kind)})[/dim]")


async def _voice_loop(runtime: Runtime, outbox: LocalOutbox, number: str, console: Console) -> None:
    matches = await match_caller(runtime.pms, number)
    state = CallerState(
        conversation_id=f"cv_{uuid.uuid4().hex[:20]}",
        channel="voice",
        contact=number,
        candidate_patient_ids=[p.patient_id for p in matches],
    )
    conv = Conversation(state=state, direction="inbound", started_at=runtime.clock())
    await runtime.records.save_conversation(conv)
    p = runtime.policy
    greeting = render(
        "greeting",
        channel="voice",
        lang="en",
        practice=p.practice.name,
        recording=p.disclosures.recording_notice,
        ai=p.disclosures.ai_disclosure,
    )
    conv.add_turn("agent", greeting, runtime.clock())
    console.print(f"[cyan]agent[/cyan]: {greeting}")
    ctx = ToolContext(
        pms=runtime.pms,
        policy=p,
        records=runtime.records,
        payments=runtime.payments,
        clock=runtime.clock,
        messenger=ConversationMessenger(runtime.outbound_sms, state.conversation_id),
    )
    seen = len(outbox.messages)
    while not state.ended:
        line = await _read("you (speaking)> ")
        if line is None or line.strip() in QUIT:
            break
        if not line.strip():
            continue
        result = await runtime.turns.run(conv, line, ctx)
        await runtime.records.save_conversation(conv)
        console.print(f"[cyan]agent[/cyan]: {result.reply}")
        seen = _print_new(outbox, seen, console)
