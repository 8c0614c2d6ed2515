"""LocalOutbox: the embedded-default SMS sender."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import pytest

from telephony.sms import OPTED_OUT_ERROR, SmsSender
from telephony.sms_local import LocalMessage, LocalOutbox

FIXED = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)


async def test_send_stores_and_notifies() -> None:
    seen: list[LocalMessage] = []

    async def on_send(message: LocalMessage) -> None:
        seen.append(message)

    outbox = LocalOutbox(from_number="+15005550006", on_send=on_send, clock=lambda: FIXED)
    assert isinstance(outbox, SmsSender)

    outcome = await outbox.send("+15551230001", "Hello")

    assert outcome.sent and outcome.status == "sent" and not outcome.permanent and not outcome.opted_out
    assert outcome.sid is not None and outcome.sid.startswith("SMlocal") and len(outcome.sid) == 34
    [message] = outbox.messages
    assert message == LocalMessage(outcome.sid, "+15551230001", "+15005550006", "Hello", FIXED)
    assert seen == [message]


async def test_sids_are_unique_and_history_is_bounded() -> None:
    outbox = LocalOutbox(maxlen=3)
    outcomes = [await outbox.send(f"+1555123000{i}", f"m{i}") for i in range(5)]
    assert len({o.sid for o in outcomes}) == 5
    assert [m.body for m in outbox.messages] == ["m2", "m3", "m4"]
    assert [m.body for m in outbox.sent_to("+15551230004")] == ["m4"]
    outbox.clear()
    assert outbox.messages == []


async def test_failing_callback_does_not_fail_the_send(caplog: pytest.LogCaptureFixture) -> None:
    async def broken(message: LocalMessage) -> None:
        raise RuntimeError("display went away")

    outbox = LocalOutbox(on_send=broken)
    with caplog.at_level(logging.ERROR, logger="telephony.sms_local"):
        outcome = await outbox.send("+15551230001", "Hello")
    assert outcome.sent and len(outbox.messages) == 1
    assert "callback failed" in caplog.text


async def test_opt_out_mirrors_twilio_21610() -> None:
    outbox = LocalOutbox(opted_out_numbers=["+15551230001"])
    blocked = await outbox.send("+15551230001", "Hello")
    assert not blocked.sent and blocked.opted_out and blocked.permanent
    assert blocked.error_code == OPTED_OUT_ERROR
    assert outbox.messages == []

    outbox.opt_in("+15551230001")
    assert (await outbox.send("+15551230001", "Hello")).sent
    outbox.opt_out("+15551230001")
    assert (await outbox.send("+15551230001", "Hello")).opted_out


def test_maxlen_must_be_positive() -> None:
    with pytest.raises(ValueError):
        LocalOutbox(maxlen=0)
