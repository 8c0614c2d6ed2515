"""The console served on localhost for a real browser: used by the screenshot script and the
end-to-end tests (dev only: needs the `playwright` package and Debian's `chromium`; browsers are
never downloaded).

`served_console()` prepares a fresh database (migrations, a small demo practice, one user per
role), runs the app with uvicorn in a background thread on a free port, and yields its URL.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import socket
import tempfile
import threading
import time
import wave
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

CHROMIUM = os.environ.get("BALANCELINE_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
DEMO_PASSWORD = "demo console password"
ROLES = ("admin", "billing_manager", "collector")


@dataclass
class Served:
    url: str
    app: Any  # FastAPI
    loop: asyncio.AbstractEventLoop
    settings: Any

    def run(self, coro: Any, timeout: float = 30) -> Any:
        """Run a coroutine on the server's event loop (where the runtime lives)."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    @property
    def runtime(self) -> Any:
        return self.app.state.runtime


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def prepare(database_url: str, *, patients: int = 80, as_of: date | None = None) -> None:
    """Migrate, load a small demo practice and create one console user per role."""
    from agent.console.auth import hash_password
    from agent.store.console_users import ConsoleStore
    from agent.store.db import make_engine
    from agent.store.migrate import upgrade
    from pms.demo import generate
    from pms.local.adapter import LocalPms
    from policies.config import load_policy

    await upgrade(database_url)
    engine = make_engine(database_url)
    try:
        snapshot = generate(seed=7, patients=patients, as_of=as_of or datetime.now(UTC).date())
        await LocalPms(engine, practice_id=load_policy().practice.practice_id).load_snapshot(
            snapshot, replace=True
        )
        store = ConsoleStore(engine)
        for role in ROLES:
            await store.add_user(role, hash_password(DEMO_PASSWORD), role, actor="demo")
    finally:
        await engine.dispose()


@contextlib.contextmanager
def served_console(
    settings_overrides: dict[str, Any] | None = None, *, workdir: Path | None = None
) -> Iterator[Served]:
    """The app on http://127.0.0.1:<free port>, on a fresh SQLite database in `workdir`."""
    import uvicorn

    from agent.app import create_app
    from agent.settings import Settings

    own = workdir is None
    root = Path(tempfile.mkdtemp(prefix="bl-console-")) if workdir is None else workdir
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    values: dict[str, Any] = {
        "DATABASE_URL": f"sqlite+aiosqlite:///{root}/console.db",
        "PUBLIC_BASE_URL": url,
        **(settings_overrides or {}),
    }
    settings = Settings(_env_file=None, **values)  # type: ignore[call-arg]
    asyncio.run(prepare(settings.database_url))
    app = create_app(settings)
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", ws="websockets")
    )
    loop_box: dict[str, asyncio.AbstractEventLoop] = {}

    def serve() -> None:
        loop = asyncio.new_event_loop()
        loop_box["loop"] = loop
        asyncio.set_event_loop(loop)
        loop.run_until_complete(server.serve())

    thread = threading.Thread(target=serve, name="console-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the console server did not start")
        time.sleep(0.05)
    try:
        yield Served(url=url, app=app, loop=loop_box["loop"], settings=settings)
    finally:
        server.should_exit = True
        thread.join(timeout=20)
        if own:
            shutil.rmtree(root, ignore_errors=True)


def launch_chromium(playwright: Any, *extra_args: str) -> Any:
    """Debian's Chromium under Playwright, headless, with a new empty profile (never downloads)."""
    if not Path(CHROMIUM).exists():
        raise FileNotFoundError(f"{CHROMIUM} is missing: apt-get install -y chromium")
    profile = tempfile.mkdtemp(prefix="bl-chromium-")
    context = playwright.chromium.launch_persistent_context(
        profile,
        executable_path=CHROMIUM,
        headless=True,
        args=[*CHROMIUM_ARGS, *extra_args],
        viewport={"width": 1280, "height": 860},
    )
    context.on("close", lambda *_: shutil.rmtree(profile, ignore_errors=True))
    return context


def sign_in(page: Any, base_url: str, username: str, password: str = DEMO_PASSWORD) -> None:
    page.goto(f"{base_url}/console/login")
    page.fill("#username", username)
    page.fill("#password", password)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base_url}/console/worklist")


def caller_wav(path: Path, text: str, *, lead_s: float = 4.5, tail_s: float = 4.0) -> Path:
    """A 16-bit mono WAV: silence (the greeting plays), the caller's words (hibari TTS), silence."""
    import numpy as np
    from hibari import SAMPLE_RATE, Hibari

    speech = np.concatenate(list(Hibari(voice="heart", threads=1).stream(text))).astype(np.float32)
    audio = np.concatenate(
        [
            np.zeros(int(SAMPLE_RATE * lead_s), np.float32),
            speech,
            np.zeros(int(SAMPLE_RATE * tail_s), np.float32),
        ]
    )
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(SAMPLE_RATE)
        w.writeframes((np.clip(audio, -1, 1) * 32767).astype("<i2").tobytes())
    return path
