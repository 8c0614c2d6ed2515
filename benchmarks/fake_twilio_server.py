"""FakeTwilio (tests/fakes/twilio_rest.py) in a process of its own, so its CPU is not the app's.

    python -m benchmarks.fake_twilio_server

Prints one line `PORT <n>` when it listens, then serves until stdin closes or SIGTERM. The
benchmark reads what it received through FakeTwilio's control surface (`GET /fake/messages`).
"""

from __future__ import annotations

import signal
import sys
import threading

from tests.fakes.twilio_rest import FakeTwilio


def main() -> None:
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    signal.signal(signal.SIGINT, lambda *_: done.set())

    def watch_stdin() -> None:
        sys.stdin.read()  # returns when the parent closes the pipe (or dies)
        done.set()

    threading.Thread(target=watch_stdin, daemon=True).start()
    with FakeTwilio() as fake:
        print(f"PORT {fake.base_url.rsplit(':', 1)[1]}", flush=True)
        done.wait()


if __name__ == "__main__":
    main()
