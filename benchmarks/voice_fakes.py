"""The voice benchmark's vendors in one process of their own: loopback Deepgram, ElevenLabs and OpenAI.

    python -m benchmarks.voice_fakes --stt-final-ms 150 --llm-first-token-ms 250 --tts-first-audio-ms 120

Prints ``PORTS <deepgram> <elevenlabs> <openai>`` once all three listen, then serves until stdin closes
or SIGTERM. The latencies are the injected ones the pipeline-overhead benchmark subtracts:

- Deepgram (tests/fakes/deepgram_server.py): the final arrives ``--stt-final-ms`` after the endpoint
  (the client's ``endpointing`` ms of silence after the last speech frame); every utterance is
  recognised as ``--transcript``.
- OpenAI (tests/fakes/openai_server.py, never runs out of replies here): every completion streams
  ``REPLY`` with its first token ``--llm-first-token-ms`` after the request.
- ElevenLabs (tests/fakes/elevenlabs_server.py): each generation's first audio ``--tts-first-audio-ms``
  after the text is flushed; 60 ms of audio per character, faster than real time.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.fakes.deepgram_server import DeepgramFake
from tests.fakes.elevenlabs_server import ElevenLabsFake
from tests.fakes.openai_server import OpenAIFake, Reply, Script

DEEPGRAM_KEY = "dg-bench-key"
ELEVENLABS_KEY = "el-bench-key"
CALLER_SAYS = "I have a question about my bill."
# Long enough to be interrupted (about 10 s of audio at the fake's 60 ms per character); nothing in it
# is about a debt, so the unverified caller may hear all of it.
REPLY = (
    "I can help with that. "
    "To protect your privacy, I first need to confirm who I am speaking with today. "
    "Please tell me your full name and then your date of birth, one after the other."
)


class EndlessOpenAI(OpenAIFake):
    """The OpenAI fake with a default streamed reply instead of an empty script."""

    def __init__(self, first_token_s: float, on_event: Callable[[str], None] | None = None) -> None:
        super().__init__()
        self.first_token_s = first_token_s
        self.on_event = on_event

    def _next(self, body: dict[str, Any]) -> Script | None:
        if self.on_event is not None:
            self.on_event("request")
        scripted = super()._next(body)
        self.requests.clear()  # unbounded otherwise
        return scripted or Reply(text=REPLY, chunk_size=12, first_token_delay=self.first_token_s)


class Tracer:
    """Vendor-side event times (time.monotonic is one clock for every process on the machine)."""

    def __init__(self, path: Path) -> None:
        self._file = path.open("a", buffering=1)
        self._lock = threading.Lock()

    def hook(self, vendor: str) -> Callable[[str], None]:
        def record(event: str) -> None:
            line = f"{vendor}.{event} {time.monotonic():.6f}\n"
            with self._lock:
                self._file.write(line)

        return record


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--stt-final-ms", type=float, default=150.0)
    parser.add_argument("--llm-first-token-ms", type=float, default=250.0)
    parser.add_argument("--tts-first-audio-ms", type=float, default=120.0)
    parser.add_argument("--transcript", default=CALLER_SAYS)
    parser.add_argument("--ms-per-char", type=float, default=60.0, help="TTS audio per character")
    parser.add_argument("--trace", type=Path, help="append '<vendor>.<event> <monotonic time>' lines here")
    args = parser.parse_args(argv)
    trace = Tracer(args.trace) if args.trace else None

    deepgram = DeepgramFake(
        api_key=DEEPGRAM_KEY,
        default_transcript=args.transcript,
        final_latency_ms=args.stt_final_ms,
        record_sent=False,
        idle_timeout_s=60.0,
    )
    elevenlabs = ElevenLabsFake(
        api_key=ELEVENLABS_KEY,
        first_audio_latency_ms=args.tts_first_audio_ms,
        ms_per_char=args.ms_per_char,
        record_texts=False,
    )
    openai = EndlessOpenAI(args.llm_first_token_ms / 1000, trace.hook("openai") if trace else None).start()
    if trace is not None:
        deepgram.on_event = trace.hook("deepgram")
        elevenlabs.on_event = trace.hook("elevenlabs")

    async def run() -> None:
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        threading.Thread(
            target=lambda: (sys.stdin.read(), loop.call_soon_threadsafe(stop.set)), daemon=True
        ).start()
        ready = asyncio.Event()
        servers = [
            asyncio.create_task(deepgram.serve_here(0, lambda _p: ready.set())),
        ]
        await ready.wait()
        ready.clear()
        servers.append(asyncio.create_task(elevenlabs.serve_here(0, lambda _p: ready.set())))
        await ready.wait()
        print(f"PORTS {deepgram.port} {elevenlabs.port} {openai.port}", flush=True)
        await stop.wait()
        deepgram.stop_here()
        elevenlabs.stop_here()
        await asyncio.gather(*servers, return_exceptions=True)

    try:
        asyncio.run(run())
    finally:
        openai.stop()


if __name__ == "__main__":
    main()
