"""End-to-end fixtures: the app served on localhost by uvicorn, driven by Debian's Chromium through
Playwright. Without /usr/bin/chromium these tests skip, except in CI (CI=true), where they fail."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from agent.console.browser import CHROMIUM, Served, launch_chromium, served_console
from tests.fakes.twilio_rest import FakeTwilio

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
PRACTICE_NUMBER = "+13125550100"


def _need_chromium() -> None:
    if not Path(CHROMIUM).exists():
        msg = f"{CHROMIUM} is missing (apt-get install -y chromium)"
        if IN_CI:
            pytest.fail(f"{msg}; CI requires it", pytrace=False)
        pytest.skip(msg)


# Module scope, not session: Playwright's sync API keeps an event loop running in this thread while
# it is open, which would break every asyncio test collected after this package.
@pytest.fixture(scope="module")
def twilio() -> Iterator[FakeTwilio]:
    with FakeTwilio() as fake:
        yield fake


@pytest.fixture(scope="module")
def served(twilio: FakeTwilio, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    _need_chromium()
    overrides = {
        "TWILIO_ACCOUNT_SID": twilio.account_sid,
        "TWILIO_AUTH_TOKEN": twilio.auth_token,
        "TWILIO_FROM_NUMBER": PRACTICE_NUMBER,
        "TWILIO_API_BASE": twilio.base_url,
    }
    with served_console(overrides, workdir=tmp_path_factory.mktemp("e2e")) as s:
        s.run(_warm_speech(s))  # load the local speech models while the first browser test runs
        yield s


async def _warm_speech(s: Served) -> None:
    from agent.voice.service import voice_service

    voice_service(s.app).warm()


@pytest.fixture(scope="module")
def playwright() -> Iterator[Any]:
    _need_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        yield pw


@pytest.fixture
def browser(playwright: Any) -> Iterator[Any]:
    context = launch_chromium(playwright)
    try:
        yield context
    finally:
        context.close()
