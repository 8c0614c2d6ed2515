"""Warm transfer end to end, and the promise that card data and dates of birth never land anywhere."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import sqlite3
import xml.etree.ElementTree as ET

import pytest
import structlog

from agent.voice.live import TRANSFERS_CHANNEL
from agent.voice.service import install_voice_service
from pms.demo.personas import PERSONAS
from tests.fakes.twilio_media import ScriptedTextToSpeech, scripted_providers
from tests.voice.conftest import FAST, VoiceApp

EMILY = PERSONAS["prompt_payer"]
EMILY_PHONE = EMILY.phone or ""
AUTH = {"Authorization": "Bearer test-token"}


async def _transfers(va: VoiceApp) -> list[dict[str, object]]:
    r = await va.http.get("/api/transfers", headers=AUTH)
    assert r.status_code == 200, r.text
    cards: list[dict[str, object]] = r.json()
    return cards


async def test_warm_transfer_card_is_up_before_staff_is_dialled_and_a_missed_transfer_becomes_a_callback(
    voice_app: VoiceApp,
) -> None:
    va = voice_app
    live: list[dict[str, object]] = []

    async def listen() -> None:
        async for raw in va.runtime.state.subscribe(TRANSFERS_CHANNEL):
            live.append(json.loads(raw))

    listener = asyncio.create_task(listen())
    await asyncio.sleep(0.05)
    caller = await va.call(EMILY_PHONE)
    await caller.wait_for_agent_audio()
    await caller.wait_for_quiet()
    await caller.say_and_wait(va.book.speech("I want to talk to a real person about my bill."))
    assert await caller.wait_closed(10.0), "the session should close the stream to hand the call over"
    assert any("connecting you" in s.lower() for s in va.tts.spoken), va.tts.spoken

    # the card is on the staff console before Twilio even asks what to do next
    cards = await _transfers(va)
    assert len(cards) == 1
    card = cards[0]
    assert card["verified"] is False and card["balance"] is None  # unverified: nothing about the debt
    transfer_id = str(card["transfer_id"])

    r = await va.post("/twilio/voice/after-stream", {"CallSid": caller.call_sid, "CallStatus": "in-progress"})
    assert r.status_code == 200, r.text
    dial = ET.fromstring(r.text).find("Dial")
    assert dial is not None and dial.get("action", "").endswith("/twilio/voice/transfer-result")
    number = dial.find("Number")
    assert number is not None and number.text == va.runtime.policy.transfer.staff_number
    assert number.get("url", "").endswith(f"/twilio/voice/whisper/{transfer_id}")

    r = await va.post(f"/twilio/voice/whisper/{transfer_id}", {"CallSid": "CA" + "9" * 32})
    say = ET.fromstring(r.text).find("Say")
    assert say is not None and "Unverified caller" in (say.text or "")

    result = {"CallSid": caller.call_sid, "DialCallStatus": "no-answer", "DialCallDuration": "0"}
    r = await va.post("/twilio/voice/transfer-result", result)
    assert r.status_code == 200 and "<Hangup" in r.text
    r = await va.post("/twilio/voice/transfer-result", result)  # Twilio retries: nothing happens twice
    texts = [m for m in va.twilio.messages if m.get("To") == EMILY_PHONE]
    assert len(texts) == 1 and "call you back" in texts[0]["Body"]
    assert "$" not in texts[0]["Body"] and "balance" not in texts[0]["Body"].lower()
    callbacks = await va.runtime.records.list_staff_tasks(status=None, kind="transfer")
    assert callbacks[0]["context"]["transfer_status"] == "missed"
    for _ in range(50):
        if len(live) >= 3:
            break
        await asyncio.sleep(0.05)
    listener.cancel()
    assert [e["event"] for e in live] == ["ringing", "answered", "missed"]
    assert all(e["transfer_id"] == transfer_id for e in live)


async def test_after_stream_without_a_hand_off_hangs_up_and_webhooks_are_authenticated(
    voice_app: VoiceApp,
) -> None:
    va = voice_app
    r = await va.post("/twilio/voice/after-stream", {"CallSid": "CA" + "7" * 32})
    assert r.status_code == 200 and "<Hangup" in r.text
    for path in ("/twilio/voice/inbound", "/twilio/voice/after-stream", "/twilio/voice/transfer-result"):
        bad = await va.http.post(
            path, data={"CallSid": "CA" + "7" * 32}, headers={"X-Twilio-Signature": "bm90LXJpZ2h0"}
        )
        assert bad.status_code == 403, path
        missing = await va.http.post(path, data={"CallSid": "CA" + "7" * 32})
        assert missing.status_code == 403, path


CARD = "4242 4242 4242 4242"


def _rows(db_path: str) -> dict[str, set[str]]:
    con = sqlite3.connect(db_path)
    try:
        tables = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        return {t: set(map(repr, con.execute(f'SELECT * FROM "{t}"').fetchall())) for t in tables}
    finally:
        con.close()


def _new_rows(db_path: str, before: dict[str, set[str]]) -> dict[str, str]:
    """Every row the call added or changed, per table (the demo data itself is not the call's)."""
    after = _rows(db_path)
    return {t: "\n".join(sorted(rows - before.get(t, set()))) for t, rows in after.items()}


CVV = "739"


async def test_a_spoken_card_number_cvv_and_date_of_birth_are_never_stored_or_logged(
    voice_app: VoiceApp, caplog: pytest.LogCaptureFixture
) -> None:
    va = voice_app
    db_path = va.settings.database_url.split("///", 1)[1]
    before = _rows(db_path)
    caplog.set_level(logging.INFO)  # the production level (DEBUG SQL echoes parameters)
    with structlog.testing.capture_logs() as logs:
        caller = await va.call(EMILY_PHONE)
        await caller.wait_for_agent_audio()
        await caller.wait_for_quiet()
        await caller.reply(va.book.speech("What do I owe?"))
        await caller.reply(va.book.speech("Emily Carter, April 12th 1988"))
        await caller.reply(
            va.book.speech(f"Take my card, the number is {CARD} and the security code is {CVV}.")
        )
        assert any("don't read card numbers" in s for s in va.tts.spoken), va.tts.spoken
        await caller.hangup()
        await asyncio.sleep(0.5)
        await va.runtime.outbox.drain_once()  # the comm-log note reaches the PMS too
    dumps = _new_rows(db_path, before)
    assert dumps.get("voice_calls")
    assert "Phone call (BalanceLine" in dumps["pms_comm_log"]  # the call's note is in the PMS
    forbidden = [
        re.compile(r"4242[ -]?4242[ -]?4242[ -]?4242"),
        re.compile(rf"(?<![\w.]){CVV}(?!\d)"),  # a word of its own: not inside an id or "0.739" s
        re.compile(r"April 12(?:th)?,? 1988", re.I),
        re.compile(r"0?4/12/(?:19)?88"),
    ]
    for table, dump in dumps.items():
        for pattern in forbidden:
            assert not pattern.search(dump), f"{pattern.pattern} found in table {table}"
        assert "1988-04-12" not in dump, f"DOB in {table}"
    log_text = "\n".join(map(repr, logs)) + "\n" + caplog.text
    for pattern in forbidden:
        assert not pattern.search(log_text), f"{pattern.pattern} found in the logs"
    assert "1988-04-12" not in log_text


async def test_speech_failures_fall_back_to_the_local_providers_then_to_staff(voice_app: VoiceApp) -> None:
    va = voice_app
    fallback = scripted_providers(va.book, tts=ScriptedTextToSpeech(va.book))
    broken_tts = ScriptedTextToSpeech(va.book, fail=True)
    primary = scripted_providers(va.book, tts=broken_tts, stt_kwargs={"fail_after": 0})
    primary.fallback = fallback
    install_voice_service(va.app, providers=primary, config=FAST)
    caller = await va.call(EMILY_PHONE)
    assert await caller.wait_for_agent_audio(), "the fallback TTS should still greet the caller"
    await caller.wait_for_quiet()
    await caller.say_and_wait(va.book.speech("What do I owe?"))  # the primary STT fails on this one
    await asyncio.sleep(0.5)
    await caller.reply(va.book.speech("What do I owe?"))  # …and the fallback recognises the repeat
    assert any("date of birth" in s for s in fallback.tts.spoken), fallback.tts.spoken  # type: ignore[attr-defined]
    await caller.hangup()

    # nothing at all can speak: the call goes to staff with Twilio's own <Say>
    install_voice_service(va.app, providers=scripted_providers(va.book, tts=broken_tts), config=FAST)
    caller = await va.call(EMILY_PHONE)
    assert await caller.wait_closed(10.0)
    r = await va.post("/twilio/voice/after-stream", {"CallSid": caller.call_sid})
    doc = ET.fromstring(r.text)
    assert doc.find("Say") is not None and doc.find("Dial") is not None, r.text
