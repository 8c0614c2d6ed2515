"""`python -m agent.console.screenshots [OUT_DIR]`: PNGs of the console's main pages for the docs.

Serves the app on localhost with a fresh demo practice (`agent.console.browser`), then drives
Debian's Chromium through the real flows first: a text conversation in the SMS simulator, and a
softphone call (the microphone is a generated WAV) in which the caller asks for a person, so the
account page has a transcript and the transfer queue has a live card. Dev tool: needs `playwright`.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path
from typing import Any

from agent.console.browser import caller_wav, launch_chromium, served_console, sign_in

OUT = Path("docs/screenshots")
PAGES = ("worklist", "account", "transfers", "dashboard", "softphone")


def _text(page: Any, body: str) -> None:
    replies = page.locator("#thread .bubble.agent").count()
    page.fill("#sms-body", body)
    page.press("#sms-body", "Enter")
    page.locator("#thread .bubble.agent").nth(replies).wait_for(timeout=30_000)


def take(out: Path = OUT) -> list[Path]:
    from playwright.sync_api import sync_playwright

    out.mkdir(parents=True, exist_ok=True)
    shots: list[Path] = []
    with tempfile.TemporaryDirectory() as tmp, served_console() as served, sync_playwright() as pw:
        wav = caller_wav(Path(tmp) / "caller.wav", "Hi. Can I talk to a person about my bill, please?")
        context = launch_chromium(
            pw,
            "--use-fake-device-for-media-stream",
            "--use-fake-ui-for-media-stream",
            f"--use-file-for-fake-audio-capture={wav}%noloop",
        )
        try:
            page = context.new_page()
            sign_in(page, served.url, "billing_manager")

            page.goto(f"{served.url}/console/try/sms")
            page.select_option("#persona", "plan_candidate")
            for body in ("Hi, what do I owe?", "Marcus Bell, 09/03/1979", "PLAN", "YES"):
                _text(page, body)

            page.select_option("#persona", "prompt_payer")
            for body in ("what's my balance?", "Emily Carter 04/12/1988", "I can pay $100 on Friday"):
                _text(page, body)
            page.select_option("#persona", "small_balance")
            _text(page, "STOP")

            queue = context.new_page()
            queue.goto(f"{served.url}/console/transfers")
            queue.wait_for_selector("body[data-live=ready]")

            page.goto(f"{served.url}/console/try/phone")
            page.select_option("#persona", "prompt_payer")
            page.click("#call")
            queue.locator(".transfer-card").first.wait_for(timeout=90_000)
            page.wait_for_function(
                "() => (document.body.dataset.phone || '').startsWith('Call ended')", timeout=60_000
            )
            shots.append(_shot(page, out, "softphone"))
            shots.append(_shot(queue, out, "transfers"))
            for name, path in (
                ("worklist", "/console/worklist"),
                ("account", "/console/accounts/2"),
                ("dashboard", "/console/dashboard"),
            ):
                if name == "account":
                    served.run(served.runtime.outbox.drain_once())  # the accepted plan reaches the PMS
                page.goto(served.url + path)
                shots.append(_shot(page, out, name, full=name in ("account", "dashboard")))
        finally:
            context.close()
    return shots


def _shot(page: Any, out: Path, name: str, *, full: bool = False) -> Path:
    path = out / f"{name}.png"
    page.screenshot(path=str(path), full_page=full)
    return path


if __name__ == "__main__":
    for shot in take(Path(sys.argv[1]) if len(sys.argv) > 1 else OUT):
        print(shot)
