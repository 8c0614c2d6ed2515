"""The staff console in real headless Chromium against the app served on localhost."""

from __future__ import annotations

import json
import re
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.sync.client import connect

from agent.console.browser import Served, caller_wav, launch_chromium, sign_in
from tests.fakes.twilio_rest import FakeTwilio
from tests.fakes.twilio_signing import sign_form
from tests.phi_scan import leaked

CALLER = "+17635550102"  # Marcus Bell, a demo persona


def test_each_role_sees_only_what_it_may(served: Served, browser: Any) -> None:
    page = browser.new_page()
    sign_in(page, served.url, "collector")
    nav = page.locator("header nav a").all_inner_texts()
    assert "Worklist" in nav and "Transfers" in nav
    assert "Audit" not in nav and "Results" not in nav and "Approvals" not in nav
    resp = page.goto(f"{served.url}/console/audit")
    assert resp is not None and resp.status == 403
    page.goto(f"{served.url}/console/accounts/2")
    assert page.locator("text=Record phone consent").count() == 0
    page.fill("#note", "Left a voicemail, will try again Monday")
    page.click("text=Save note")
    page.wait_for_selector(".flash >> text=Note saved")
    page.click("text=Sign out")
    page.wait_for_url(re.compile(r".*/console/login$"))
    assert page.goto(f"{served.url}/console/worklist") is not None
    assert "/console/login" in page.url  # signed out for good

    manager = browser.new_page()
    sign_in(manager, served.url, "billing_manager")
    nav = manager.locator("header nav a").all_inner_texts()
    assert "Audit" in nav and "Results" in nav and "Approvals" in nav
    manager.goto(f"{served.url}/console/audit?kind=console.note_added")
    assert manager.locator("td", has_text="collector").count() >= 1
    manager.goto(f"{served.url}/console/dashboard")
    assert manager.locator("svg.chart").count() >= 1
    assert manager.goto(f"{served.url}/console/users") is not None
    assert "403" in manager.content() or manager.locator("h1", has_text="Staff users").count() == 0


def test_a_manager_approves_a_plan_and_sees_it_in_the_pms(
    served: Served, browser: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    page = browser.new_page()
    sign_in(page, served.url, "billing_manager")
    page.goto(f"{served.url}/console/try/sms")
    page.select_option("#persona", "large_balance_needs_approval")  # $3,480: plans need approval
    for body in ("what do I owe?", "Robert Jensen 11/09/1958", "PLAN", "YES"):
        replies = page.locator("#thread .bubble.agent").count()
        page.fill("#sms-body", body)
        page.press("#sms-body", "Enter")
        page.locator("#thread .bubble.agent").nth(replies).wait_for(timeout=30_000)
    assert "review that plan" in page.locator("#thread .bubble.agent").last.inner_text()

    page.goto(f"{served.url}/console/approvals")
    card = page.locator("[data-approval]", has_text="Payment plan").first
    card.locator("button[value=approve]").click()
    page.wait_for_selector(".flash >> text=Plan approved")
    deadline = time.monotonic() + 30  # the outbox drainer posts it to the PMS in the background
    while not served.run(served.runtime.pms.get_payment_plans("24")) and time.monotonic() < deadline:
        time.sleep(0.5)
    plans = served.run(served.runtime.pms.get_payment_plans("24"))
    assert len(plans) == 1 and plans[0].status == "active"
    page.goto(f"{served.url}/console/accounts/24")
    assert page.locator("section", has_text="Payment plans").locator("td", has_text="active").count() == 1
    logs = "".join(capsys.readouterr())  # what the server logged meanwhile (it runs in this process)
    assert "console.login" in logs
    assert leaked(logs, ("Robert", "Jensen", "1958", "+17635550124", "3,480", "3480")) == []


def _signed_post(served: Served, twilio: FakeTwilio, path: str, params: dict[str, str]) -> httpx.Response:
    url = served.url + path
    return httpx.post(url, data=params, headers=sign_form(twilio.auth_token, url, params), timeout=30)


def _test_call_presses_zero(served: Served, twilio: FakeTwilio) -> str:
    """A Twilio-style inbound call (signed webhooks + the media websocket) that asks for staff."""
    call_sid = "CA" + uuid.uuid4().hex
    base = {"CallSid": call_sid, "AccountSid": twilio.account_sid, "From": CALLER, "To": "+13125550100"}
    twiml = _signed_post(served, twilio, "/twilio/voice/inbound", {**base, "CallStatus": "ringing"}).text
    token = re.search(r'name="bl_token" value="([^"]+)"', twiml)
    assert token, twiml
    stream_sid = "MZ" + uuid.uuid4().hex
    ws_url = served.url.replace("http://", "ws://") + "/twilio/media"
    with connect(ws_url, open_timeout=10) as ws:
        ws.send(json.dumps({"event": "connected", "protocol": "Call", "version": "1.0.0"}))
        ws.send(
            json.dumps(
                {
                    "event": "start",
                    "sequenceNumber": "1",
                    "streamSid": stream_sid,
                    "start": {
                        "accountSid": twilio.account_sid,
                        "streamSid": stream_sid,
                        "callSid": call_sid,
                        "tracks": ["inbound"],
                        "customParameters": {"bl_token": token.group(1)},
                        "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
                    },
                }
            )
        )
        first = json.loads(ws.recv(timeout=60))  # the greeting's first audio
        assert first["event"] in ("media", "mark")
        ws.send(
            json.dumps(
                {
                    "event": "dtmf",
                    "sequenceNumber": "2",
                    "streamSid": stream_sid,
                    "dtmf": {"track": "inbound_track", "digit": "0"},
                }
            )
        )
        deadline = time.monotonic() + 60
        seq = 3
        while time.monotonic() < deadline:  # echo marks like Twilio until the session ends the stream
            try:
                msg = json.loads(ws.recv(timeout=deadline - time.monotonic()))
            except Exception:
                break
            if msg.get("event") == "mark":
                ws.send(
                    json.dumps(
                        {
                            "event": "mark",
                            "sequenceNumber": str(seq),
                            "streamSid": stream_sid,
                            "mark": {"name": msg["mark"]["name"]},
                        }
                    )
                )
                seq += 1
    after = _signed_post(served, twilio, "/twilio/voice/after-stream", {**base, "CallStatus": "in-progress"})
    assert "<Dial" in after.text, after.text
    return call_sid


def test_a_warm_transfer_card_appears_the_moment_it_rings(
    served: Served, browser: Any, twilio: FakeTwilio
) -> None:
    page = browser.new_page()
    sign_in(page, served.url, "collector")
    page.goto(f"{served.url}/console/transfers")
    page.wait_for_selector("body[data-live=ready]")
    before = page.locator(".transfer-card").count()
    done: dict[str, Any] = {}
    caller = threading.Thread(target=lambda: done.setdefault("sid", _test_call_presses_zero(served, twilio)))
    caller.start()
    card = page.locator(".transfer-card.ringing")
    card.wait_for(timeout=60_000)  # arrived over SSE: the page was not reloaded
    caller.join(timeout=60)
    assert "sid" in done
    assert page.locator(".transfer-card").count() == before + 1
    assert "Patient #2" in card.inner_text() or "Unidentified caller" in card.inner_text()


def test_the_softphone_holds_a_short_conversation(served: Served, playwright: Any, tmp_path: Path) -> None:
    wav = caller_wav(tmp_path / "caller.wav", "Hi, I have a question about my bill.", tail_s=3.0)
    context = launch_chromium(
        playwright,
        "--use-fake-device-for-media-stream",
        "--use-fake-ui-for-media-stream",
        f"--use-file-for-fake-audio-capture={wav}%noloop",
        "--autoplay-policy=no-user-gesture-required",
    )
    try:
        page = context.new_page()
        sign_in(page, served.url, "collector")
        live = context.new_page()  # a colleague watching Live calls
        live.goto(f"{served.url}/console/calls")
        live.wait_for_selector("body[data-live=ready]")
        page.goto(f"{served.url}/console/try/phone")
        page.select_option("#persona", "plan_candidate")
        page.click("#call")
        page.wait_for_selector("body[data-phone='In call']", timeout=20_000)
        log = page.locator("#phone-log")
        log.locator(".bubble.agent").first.wait_for(timeout=40_000)  # the greeting, as spoken
        log.locator(".bubble.patient").first.wait_for(timeout=40_000)  # what the agent heard us say
        heard = log.locator(".bubble.patient").first.inner_text().lower()
        assert "bill" in heard or "question" in heard, heard
        page.wait_for_function(
            "() => { const b = [...document.querySelectorAll('#phone-log .bubble')];"
            " const i = b.findIndex(x => x.classList.contains('patient'));"
            " return i >= 0 && b.slice(i + 1).some(x => x.classList.contains('agent')); }",
            timeout=40_000,
        )  # and the agent answered
        live.locator(".call .bubble.patient").first.wait_for(timeout=10_000)  # the transcript, live
        page.click("#hangup")
        page.wait_for_function(
            "() => (document.body.dataset.phone || '').startsWith('Call ended')", timeout=15_000
        )
    finally:
        context.close()
