"""A running app for voice tests: real routes, store, PMS and websocket (uvicorn on a loopback port),
Twilio's side played by ``TwilioMediaCaller``, speech by the scripted vendor doubles.

The demo practice is loaded into one SQLite file per test session and copied for each test (loading
it takes seconds; copying takes milliseconds).
"""

from __future__ import annotations

import asyncio
import itertools
import shutil
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from agent.app import create_app
from agent.runtime import Runtime
from agent.settings import Settings
from agent.voice.local_server import serve_in_process
from agent.voice.providers import SpeechProviders
from agent.voice.service import install_voice_service
from agent.voice.session import VoiceConfig
from agent.voice.twilio_caller import TwilioMediaCaller
from tests.fakes.twilio_media import (
    Phrasebook,
    ScriptedTextToSpeech,
    dial_inbound,
    new_caller,
    scripted_providers,
)
from tests.fakes.twilio_rest import FakeTwilio
from tests.fakes.twilio_signing import apost_signed_form
from tests.integration.harness import PRACTICE_NUMBER, PUBLIC, Clock, make_settings, prepare_database

FAST = VoiceConfig(
    filler_after_ms=600,
    filler_again_after_ms=2000,
    reprompt_after_s=1.0,
    max_call_s=60.0,
    digit_hold_ms=400,
    barge_in_release_ms=800,
)
_sids = itertools.count(1)


@pytest.fixture(scope="session")
def demo_db_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("voice-db") / "demo.db"
    asyncio.run(prepare_database(f"sqlite+aiosqlite:///{path}"))
    return path


@pytest.fixture(scope="session")
def fake_twilio() -> Iterator[FakeTwilio]:
    with FakeTwilio() as fake:
        yield fake


@dataclass
class VoiceApp:
    base_url: str
    http: httpx.AsyncClient
    app: Any
    settings: Settings
    twilio: FakeTwilio
    book: Phrasebook
    tts: ScriptedTextToSpeech
    callers: list[TwilioMediaCaller] = field(default_factory=list)

    @property
    def runtime(self) -> Runtime:
        runtime: Runtime = self.app.state.runtime
        return runtime

    def new_call_sid(self) -> str:
        return f"CA{next(_sids):032d}"

    async def call(self, caller_number: str, *, start: bool = True) -> TwilioMediaCaller:
        """The inbound webhook, then a media stream with the TwiML's token (as Twilio would)."""
        sid = self.new_call_sid()
        r, params = await dial_inbound(
            self.http,
            auth_token=self.twilio.auth_token,
            public_base_url=PUBLIC,
            call_sid=sid,
            caller=caller_number,
            to=PRACTICE_NUMBER,
        )
        assert r.status_code == 200, r.text
        caller = new_caller(self.base_url, params, sid)
        self.callers.append(caller)
        if start:
            await caller.start()
        return caller

    async def post(self, path: str, params: dict[str, str]) -> httpx.Response:
        return await apost_signed_form(self.http, self.twilio.auth_token, PUBLIC, path, params)


@pytest.fixture
async def voice_app(
    tmp_path: Path, demo_db_file: Path, fake_twilio: FakeTwilio, request: pytest.FixtureRequest
) -> AsyncIterator[VoiceApp]:
    db = tmp_path / "bl.db"
    shutil.copy(demo_db_file, db)
    fake_twilio.reset()
    settings = make_settings(f"sqlite+aiosqlite:///{db}", None, fake_twilio)
    book = Phrasebook()
    marker = request.node.get_closest_marker("voice_tts")
    tts = ScriptedTextToSpeech(book, **(marker.kwargs if marker else {}))
    providers: SpeechProviders = scripted_providers(book, tts=tts)
    app = create_app(settings, clock=Clock(), background=False)
    async with serve_in_process(app) as base_url, httpx.AsyncClient(base_url=base_url, timeout=30) as http:
        install_voice_service(app, providers=providers, config=FAST)
        va = VoiceApp(base_url, http, app, settings, fake_twilio, book, tts)
        try:
            yield va
        finally:
            for caller in va.callers:
                await caller.hangup()
            await asyncio.sleep(0.1)  # let the sessions wrap up before the app stops


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "voice_tts(**kwargs): ScriptedTextToSpeech options for voice_app")
