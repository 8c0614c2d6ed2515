"""Voice benchmarks with cloud speech on loopback vendors: pipeline overhead, barge-in and capacity.

Three processes, as in production (the callers and the vendors are not the app's CPU):

- the app: ``python -m agent.cli serve`` with ``DEEPGRAM_*``, ``ELEVENLABS_*`` and ``OPENAI_*`` pointing at
- the vendors: ``python -m benchmarks.voice_fakes`` (loopback Deepgram, ElevenLabs and OpenAI that speak
  the documented wire protocols, with fixed injected latencies), plus FakeTwilio for REST;
- the callers (this process): ``TwilioMediaCaller``s that dial like Twilio (signed inbound webhook, then the
  media websocket with the TwiML's token), send 20 ms frames in real time and play the agent's audio.

Each call: the greeting plays out; the caller says a phrase (hibari speech, so both Deepgram's fake and our
VAD hear speech); the reply starts; for barge-in the caller talks over it.

- **Pipeline overhead** = (first agent frame after the caller stopped − end of caller speech) − injected
  latency. End of speech = when the first silent frame after the phrase was sent. Injected = the endpointing
  silence the (fake) recogniser waits for (``endpointing`` − one frame: it counts the frame that ends the
  speech) + STT final latency + LLM first token + TTS first audio.
- **Barge-in** = ``clear`` received − when the first speech frame of the interruption was sent.
- **Outbound jitter** = for every agent frame after the first ``lead`` frames of a burst, |inter-arrival −
  20 ms|; an **underrun** is a frame that arrives after its play time (first frame of the burst + 20 ms × i,
  one frame of slack for the caller's clock).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx

from agent.voice.twilio_caller import ServerEvent, TwilioMediaCaller
from benchmarks.common import (
    CpuMeter,
    children_of,
    create_database,
    drop_database,
    free_port,
    sqlalchemy_url,
    summary_ms,
)
from tests.fakes.deepgram_server import speech_frames

T = TypeVar("T")
ROOT = Path(__file__).resolve().parent.parent
FRAME_S = 0.02
PLAYOUT_LEAD_FRAMES = 5  # telephony.playout default lead_ms=100
TARGET_OVERHEAD_P50_MS = 25.0
TARGET_OVERHEAD_P95_MS = 60.0
TARGET_BARGE_P95_MS = 200.0
TARGET_JITTER_P99_MS = 20.0
TARGET_CAPACITY = 200
CALLER_PHRASE = "I have a question about my bill."
BARGE_PHRASE = "Sorry, wait, I already paid that one."


@dataclass(frozen=True)
class Injected:
    stt_final_ms: float = 150.0
    llm_first_token_ms: float = 250.0
    tts_first_audio_ms: float = 120.0
    endpointing_ms: int = 400  # DeepgramSpeechToText's default, which the fake honours

    @property
    def total_s(self) -> float:
        wait = self.endpointing_ms - FRAME_S * 1000
        return (wait + self.stt_final_ms + self.llm_first_token_ms + self.tts_first_audio_ms) / 1000


@dataclass
class CallSample:
    overhead_s: float | None = None
    barge_s: float | None = None
    jitter_ms: list[float] = field(default_factory=list)
    frames: int = 0
    underruns: int = 0
    error: str | None = None
    t_end: float | None = None  # end of the caller's speech (monotonic)
    t_first: float | None = None  # the first agent frame after it


@dataclass
class VoiceResult:
    scenario: str
    concurrency: int
    calls: int
    overhead: dict[str, float]
    barge: dict[str, float]
    jitter: dict[str, float]
    frames: int
    underruns: int
    errors: list[str]
    cpu: dict[str, float]
    injected_ms: float
    loadavg: str = ""
    breakdown: dict[str, float] = field(default_factory=dict)  # p50 ms per hop (one call at a time)

    @property
    def overhead_ok(self) -> bool:
        return (
            self.overhead.get("p50", 1e9) <= TARGET_OVERHEAD_P50_MS
            and self.overhead.get("p95", 1e9) <= TARGET_OVERHEAD_P95_MS
        )

    @property
    def barge_ok(self) -> bool:
        return self.barge.get("p95", 1e9) <= TARGET_BARGE_P95_MS

    @property
    def smooth(self) -> bool:
        return self.jitter.get("p99", 1e9) <= TARGET_JITTER_P99_MS and self.underruns == 0 and not self.errors


# ---- the caller ---------------------------------------------------------------------------------


class BenchCaller(TwilioMediaCaller):
    """A TwilioMediaCaller that remembers when chosen microphone frames were sent."""

    def __post_init__(self) -> None:
        super().__post_init__()
        self.sent_at: dict[int, float] = {}
        self._watch: set[int] = set()
        self._media_in_flight = False

    def say_watched(self, mulaw: bytes, watch: list[int]) -> list[int]:
        """Queue ``mulaw``; the absolute frame numbers of its frames ``watch`` (indices into it)."""
        # the clock pops a frame, sends it, then counts it: one may be in flight right now
        base = self.stats.frames_sent + len(self._mic) + int(self._media_in_flight)
        self.say(mulaw)
        frames = [base + i for i in watch]
        self._watch.update(frames)
        return frames

    async def _send(self, message: dict[str, Any]) -> None:
        media = message.get("event") == "media"
        index = self.stats.frames_sent if media else -1
        self._media_in_flight = media
        try:
            await super()._send(message)
        finally:
            if media:
                self._media_in_flight = False
        if index in self._watch:
            self.sent_at[index] = time.monotonic()


@dataclass(frozen=True)
class Phrase:
    audio: bytes
    first_speech: int  # frame index of the first frame the recogniser hears as speech
    first_silence: int  # frame index right after the last speech frame


def phrase(text: str, tts: Any) -> Phrase:
    """Caller speech from the local TTS (real speech: our VAD and the fake recogniser both hear it)."""

    async def render() -> bytes:
        return b"".join([chunk async for chunk in tts.synthesize(text)])

    return phrase_of(asyncio.run(render()))


def phrase_of(audio: bytes) -> Phrase:
    """``audio`` followed by 800 ms of silence, with its speech span as the recogniser hears it."""
    audio += b"\xff" * (800 * 8)  # the caller then stays quiet
    flags = speech_frames(audio)
    speech = [i for i, f in enumerate(flags) if f]
    if not speech:
        raise RuntimeError("the caller phrase has no speech in it")
    return Phrase(audio=audio, first_speech=speech[0], first_silence=speech[-1] + 1)


async def _poll(probe: Callable[[], T | None], limit_s: float) -> T:
    """The probe's first non-None value, checked every 5 ms (the callers' events are plain lists)."""
    async with asyncio.timeout(limit_s):
        while (value := probe()) is None:  # noqa: ASYNC110 - polling lists the caller appends to
            await asyncio.sleep(0.005)
    return value


def _media_after(events: list[ServerEvent], t: float) -> ServerEvent | None:
    return next((e for e in events if e.kind == "media" and e.at >= t), None)


def frame_timing(events: list[ServerEvent]) -> tuple[list[float], int, int]:
    """(jitter ms per frame, frames, underruns) of the agent's audio as the caller's buffer sees it.

    A playback buffer is simulated: each frame plays 20 ms after the previous one, or when it arrives if
    the buffer ran dry. A frame that arrives more than one frame late for its slot is an underrun (the
    caller hears a gap) unless a mark came in between (a chunk, i.e. sentence, ended: the next one may
    start later) or a clear emptied the buffer. Jitter = |inter-arrival - 20 ms| within a chunk, after
    the playout's initial lead burst.
    """
    jitter: list[float] = []
    frames = underruns = 0
    play_end: float | None = None  # when the buffered audio runs out
    boundary = True
    prev: float | None = None
    in_chunk = 0
    for e in events:
        if e.kind != "media":
            boundary = True
            if e.kind == "clear":
                play_end = None
            continue
        frames += 1
        t = e.at
        if play_end is None or (boundary and t > play_end):
            play_end, in_chunk = t + FRAME_S, 0
        else:
            if t > play_end + FRAME_S:
                underruns += 1
                play_end = t
            play_end += FRAME_S
            in_chunk += 1
            if prev is not None and not boundary and in_chunk > PLAYOUT_LEAD_FRAMES:
                jitter.append(abs((t - prev) - FRAME_S) * 1000)
        boundary = False
        prev = t
    return jitter, frames, underruns


# ---- one call -----------------------------------------------------------------------------------


@dataclass
class Dialer:
    base_url: str
    http: httpx.AsyncClient
    auth_token: str
    public: str
    practice_number: str
    caller_number: str = "+17635550199"
    sid_counter: int = 0

    def next_sid(self) -> str:
        self.sid_counter += 1
        return f"CA{os.getpid():08d}{self.sid_counter:024d}"

    async def dial(self) -> BenchCaller:
        from tests.fakes.twilio_media import dial_inbound, media_url

        sid = self.next_sid()
        r, params = await dial_inbound(
            self.http,
            auth_token=self.auth_token,
            public_base_url=self.public,
            call_sid=sid,
            caller=self.caller_number,
            to=self.practice_number,
        )
        if r.status_code != 200 or not params:
            raise RuntimeError(f"inbound webhook answered {r.status_code}")
        caller = BenchCaller(
            url=media_url(self.base_url), parameters=params, call_sid=sid, stream_sid="MZ" + sid[2:]
        )
        await caller.start(open_timeout=30)
        return caller


async def one_call(
    dialer: Dialer,
    says: Phrase,
    interrupts: Phrase | None,
    injected: Injected,
    *,
    listen_s: float = 1.0,
    full_reply: bool = False,
    quiet_s: float = 1.0,
) -> CallSample:
    sample = CallSample()
    caller: BenchCaller | None = None
    try:
        caller = await dialer.dial()
        if not await caller.wait_for_agent_audio(30):
            raise RuntimeError("no greeting")
        await caller.wait_for_quiet(quiet_s, 60)  # the greeting has played out (not just paused)
        start_frame, end_frame = caller.say_watched(says.audio, [says.first_speech, says.first_silence])
        t_end = await _poll(lambda: caller.sent_at.get(end_frame), 15)
        t_start = caller.sent_at[start_frame]
        if any(e.kind == "media" and t_start <= e.at <= t_end for e in caller.events):
            # the agent was still talking (a long pause inside the greeting fooled the quiet check):
            # the next frame need not be the reply, so this call measures nothing
            raise RuntimeError("agent audio during the caller's phrase")
        first = await _poll(lambda: _media_after(caller.events, t_end), 15)
        sample.overhead_s = first.at - t_end - injected.total_s
        sample.t_end, sample.t_first = t_end, first.at
        if interrupts is not None:
            await asyncio.sleep(listen_s)
            (onset,) = caller.say_watched(interrupts.audio, [interrupts.first_speech])
            t_onset = await _poll(lambda: caller.sent_at.get(onset), 15)
            clear = await _poll(
                lambda: next((e for e in caller.events if e.kind == "clear" and e.at >= t_onset), None), 5
            )
            sample.barge_s = clear.at - t_onset
        elif full_reply:
            await caller.wait_for_quiet(0.6, 60)
        sample.jitter_ms, sample.frames, sample.underruns = frame_timing(caller.events)
    except Exception as exc:
        sample.error = f"{type(exc).__name__}: {exc}"[:160]
    finally:
        if caller is not None:
            with contextlib.suppress(Exception):
                await caller.hangup()
    return sample


async def run_level(
    dialer: Dialer,
    concurrency: int,
    calls: int,
    says: Phrase,
    interrupts: Phrase | None,
    injected: Injected,
    *,
    ramp_s: float,
    full_reply: bool,
    quiet_s: float = 1.0,
) -> list[CallSample]:
    """``calls`` calls, at most ``concurrency`` at once, started ``ramp_s / concurrency`` apart."""
    limit = asyncio.Semaphore(concurrency)
    gap = ramp_s / max(1, concurrency)

    async def run_one(i: int) -> CallSample:
        await asyncio.sleep(gap * min(i, concurrency))
        async with limit:
            return await one_call(dialer, says, interrupts, injected, full_reply=full_reply, quiet_s=quiet_s)

    return list(await asyncio.gather(*(run_one(i) for i in range(calls))))


def summarise(
    scenario: str, concurrency: int, samples: list[CallSample], cpu: dict[str, float], injected: Injected
) -> VoiceResult:
    jitter = [j for s in samples for j in s.jitter_ms]
    js = sorted(jitter)
    from benchmarks.common import percentile

    return VoiceResult(
        scenario=scenario,
        concurrency=concurrency,
        calls=len(samples),
        overhead=summary_ms(s.overhead_s for s in samples if s.overhead_s is not None),
        barge=summary_ms(s.barge_s for s in samples if s.barge_s is not None),
        jitter={"p50": percentile(js, 50), "p99": percentile(js, 99), "max": js[-1] if js else float("nan")},
        frames=sum(s.frames for s in samples),
        underruns=sum(s.underruns for s in samples),
        errors=[s.error for s in samples if s.error],
        cpu=cpu,
        injected_ms=injected.total_s * 1000,
        loadavg=" ".join(f"{x:.2f}" for x in os.getloadavg()),
    )


HOPS = (
    "caller audio -> STT final",
    "STT final -> LLM request",
    "LLM request -> TTS text",
    "TTS text -> caller hears",
)


def breakdown(samples: list[CallSample], trace: Path, injected: Injected) -> dict[str, float]:
    """p50 ms of each hop's own time (its injected latency removed), from the vendors' event times.

    Only meaningful one call at a time (events are matched to a call by time order)."""
    from benchmarks.common import percentile

    events: dict[str, list[float]] = {}
    if not trace.exists():
        return {}
    for line in trace.read_text().splitlines():
        name, _, at = line.partition(" ")
        events.setdefault(name, []).append(float(at))

    def after(name: str, t: float) -> float | None:
        return next((x for x in sorted(events.get(name, [])) if x >= t), None)

    hops: dict[str, list[float]] = {h: [] for h in HOPS}
    wait_s = injected.total_s - (injected.llm_first_token_ms + injected.tts_first_audio_ms) / 1000
    for s in samples:
        if s.t_end is None or s.t_first is None:
            continue
        final = after("deepgram.final", s.t_end)
        request = after("openai.request", final) if final is not None else None
        text = after("elevenlabs.text", request) if request is not None else None
        if final is None or request is None or text is None or text > s.t_first:
            continue
        hops[HOPS[0]].append(final - s.t_end - wait_s)
        hops[HOPS[1]].append(request - final)
        hops[HOPS[2]].append(text - request - injected.llm_first_token_ms / 1000)
        hops[HOPS[3]].append(s.t_first - text - injected.tts_first_audio_ms / 1000)
    return {h: percentile(sorted(v), 50) * 1000 for h, v in hops.items() if v}


# ---- processes ----------------------------------------------------------------------------------


def _stop(proc: subprocess.Popen[Any] | None, sig: int = signal.SIGTERM) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(sig)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=5)


@contextlib.contextmanager
def _process(
    cmd: list[str], expect: str, log: Path, env: dict[str, str] | None = None
) -> Iterator[tuple[subprocess.Popen[str], str]]:
    proc = subprocess.Popen(
        cmd, cwd=ROOT, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log.open("w"), text=True
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().strip()
        if not line.startswith(expect):
            raise RuntimeError(f"{cmd[2]} did not start ({line!r}); see {log}")
        threading.Thread(target=proc.stdout.read, daemon=True).start()  # never let its stdout fill up
        yield proc, line
    finally:
        if proc.stdin:
            with contextlib.suppress(OSError):
                proc.stdin.close()
        _stop(proc)


def _wait_healthy(url: str, proc: subprocess.Popen[Any], timeout: float = 300.0) -> None:
    """Until ``/healthz`` answers (the first start migrates and seeds the demo practice)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the app exited with {proc.returncode} before it was ready")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url + "/healthz", timeout=2).status_code == 200:
                return
        time.sleep(0.25)
    raise RuntimeError("the app did not become ready")


@dataclass
class Stack:
    base_url: str
    app: subprocess.Popen[bytes]
    vendors: subprocess.Popen[str]
    twilio: subprocess.Popen[str]
    auth_token: str
    public: str
    practice_number: str
    trace: Path

    def cpu_meter(self) -> CpuMeter:
        def app_pids() -> list[int]:
            return [self.app.pid, *children_of(self.app.pid)]

        return CpuMeter(
            {
                "app": app_pids,
                "vendors": lambda: [self.vendors.pid],
                "callers": lambda: [os.getpid()],
            }
        )


@contextlib.contextmanager
def stack(
    logs: Path,
    injected: Injected,
    *,
    cloud: bool = True,
    llm: bool = True,
    postgres: bool = False,
    ms_per_char: float = 30.0,
) -> Iterator[Stack]:
    """FakeTwilio + vendors + the app: cloud speech when ``cloud`` (else the offline stack), the LLM brain
    on the loopback OpenAI when ``llm`` (else the rules brain), a scratch PostgreSQL database when
    ``postgres`` (production's store; else the embedded SQLite file)."""
    from benchmarks.voice_fakes import DEEPGRAM_KEY, ELEVENLABS_KEY
    from tests.fakes.twilio_rest import DEFAULT_ACCOUNT_SID, DEFAULT_AUTH_TOKEN
    from tests.integration.harness import PRACTICE_NUMBER, PUBLIC

    py = sys.executable
    with (
        _process([py, "-m", "benchmarks.fake_twilio_server"], "PORT", logs / "twilio.log") as (twilio, tl),
        _process(
            [py, "-m", "benchmarks.voice_fakes",
             "--stt-final-ms", str(injected.stt_final_ms),
             "--llm-first-token-ms", str(injected.llm_first_token_ms),
             "--tts-first-audio-ms", str(injected.tts_first_audio_ms),
             "--ms-per-char", str(ms_per_char),
             "--trace", str(logs / "vendor_trace.txt")],
            "PORTS",
            logs / "voice_fakes.log",
        ) as (vendors, vl),
    ):  # fmt: skip
        dg, el, oa = vl.split()[1:4]
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("OPENAI_", "STRIPE_", "DEEPGRAM_", "ELEVEN"))
        }
        dbname = f"bl_voice_bench_{os.getpid()}"
        if postgres:
            asyncio.run(create_database(dbname))
        db_url = sqlalchemy_url(dbname) if postgres else f"sqlite+aiosqlite:///{logs / 'voice.db'}"
        env.update(
            DATABASE_URL=db_url,
            PUBLIC_BASE_URL=PUBLIC,
            TWILIO_ACCOUNT_SID=DEFAULT_ACCOUNT_SID,
            TWILIO_AUTH_TOKEN=DEFAULT_AUTH_TOKEN,
            TWILIO_FROM_NUMBER=PRACTICE_NUMBER,
            TWILIO_API_BASE=f"http://127.0.0.1:{tl.split()[1]}",
            BALANCELINE_API_TOKEN="bench-token",
            PMS="local",
            PYTHONUNBUFFERED="1",
        )
        env.pop("REDIS_URL", None)
        env.pop("POLICY_FILE", None)
        env.pop("TWILIO_MESSAGING_SERVICE_SID", None)
        if llm:
            env.update(OPENAI_API_KEY="sk-bench", OPENAI_BASE_URL=f"http://127.0.0.1:{oa}/v1")
        if cloud:
            env.update(
                DEEPGRAM_API_KEY=DEEPGRAM_KEY,
                DEEPGRAM_URL=f"ws://127.0.0.1:{dg}",
                ELEVENLABS_API_KEY=ELEVENLABS_KEY,
                ELEVENLABS_VOICE_ID="bench-voice",
                ELEVENLABS_URL=f"ws://127.0.0.1:{el}",
            )
        port = free_port()
        log = (logs / "app.log").open("w")
        app = subprocess.Popen(
            [py, "-m", "agent.cli", "serve", "--port", str(port)],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        url = f"http://127.0.0.1:{port}"
        try:
            _wait_healthy(url, app)
            trace = logs / "vendor_trace.txt"
            yield Stack(url, app, vendors, twilio, DEFAULT_AUTH_TOKEN, PUBLIC, PRACTICE_NUMBER, trace)
        finally:
            _stop(app, signal.SIGINT)
            log.close()
            if postgres:
                asyncio.run(drop_database(dbname))


# ---- the benchmark ------------------------------------------------------------------------------


def run_cloud(
    *,
    single_calls: int = 6,
    concurrent: int = 100,
    capacity_levels: tuple[int, ...] = (100, 200),
    ramp_s: float = 5.0,
    injected: Injected | None = None,
    say: Callable[[str], None] = print,
    logs: Path | None = None,
    postgres: bool = True,
) -> list[VoiceResult]:
    """(a) + (b) at 1 call and at ``concurrent`` calls, then (c) at each capacity level."""
    injected = injected or Injected()
    from telephony.local_tts import LocalTextToSpeech

    tts = LocalTextToSpeech()
    says, interrupts = phrase(CALLER_PHRASE, tts), phrase(BARGE_PHRASE, tts)
    tts.close()
    logs = logs or Path(tempfile.mkdtemp(prefix="bl-voice-bench-"))
    results: list[VoiceResult] = []
    with stack(logs, injected, postgres=postgres) as st:

        async def drive() -> None:
            limits = httpx.Limits(max_connections=400, max_keepalive_connections=100)
            async with httpx.AsyncClient(base_url=st.base_url, timeout=60, limits=limits) as http:
                dialer = Dialer(st.base_url, http, st.auth_token, st.public, st.practice_number)
                say("  warm-up call (loads the speech providers)")
                warm = await one_call(dialer, says, None, injected)
                if warm.error:
                    say(f"  warm-up failed: {warm.error}")
                plan: list[tuple[str, int, int, bool, bool]] = [
                    ("overhead+barge-in", 1, single_calls, True, False),
                    ("overhead+barge-in", concurrent, concurrent, True, False),
                    *[("capacity", n, n, False, True) for n in capacity_levels],
                ]
                for scenario, conc, calls, barge, full in plan:
                    say(f"  {scenario}: {calls} calls, {conc} at once")
                    meter = st.cpu_meter()
                    meter.start()
                    t0 = time.monotonic()
                    samples = await run_level(
                        dialer,
                        conc,
                        calls,
                        says,
                        interrupts if barge else None,
                        injected,
                        ramp_s=0.0 if conc == 1 else ramp_s,
                        full_reply=full,
                    )
                    cpu = meter.stop(time.monotonic() - t0)
                    result = summarise(scenario, conc, samples, cpu, injected)
                    if conc == 1:
                        result.breakdown = breakdown(samples, st.trace, injected)
                    results.append(result)
                    for err in sorted(set(result.errors))[:3]:
                        say(f"    error x{result.errors.count(err)}: {err}")
                    await asyncio.sleep(1.0)

        asyncio.run(drive())
    return results
