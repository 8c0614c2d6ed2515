"""TwilioSmsClient: the real twilio SDK against the loopback Twilio REST server."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable

import pytest

from telephony.sms import OPTED_OUT_ERROR, SmsSender, TwilioSmsClient
from tests.fakes.twilio_rest import FakeTwilio
from tests.telephony.conftest import FROM_NUMBER, STATUS_CALLBACK

MakeClient = Callable[..., TwilioSmsClient]
PATIENT = "+15551230001"


async def test_send_success_posts_twilio_form(fake_twilio: FakeTwilio, make_sms_client: MakeClient) -> None:
    outcome = await make_sms_client().send(PATIENT, "Hi from Bright Smile Dental. Reply STOP to opt out.")

    assert outcome.sent and not outcome.permanent and not outcome.opted_out and not outcome.transient
    assert outcome.sid is not None and outcome.sid.startswith("SM") and len(outcome.sid) == 34
    assert outcome.status == "queued"
    assert outcome.error_code is None
    [form] = fake_twilio.messages
    assert form["To"] == PATIENT
    assert form["From"] == FROM_NUMBER
    assert form["Body"] == "Hi from Bright Smile Dental. Reply STOP to opt out."
    assert form["StatusCallback"] == STATUS_CALLBACK
    assert "MessagingServiceSid" not in form
    [request] = fake_twilio.requests
    assert request.path == f"/2010-04-01/Accounts/{fake_twilio.account_sid}/Messages.json"
    assert request.status == 201


async def test_messaging_service_send_without_from(
    fake_twilio: FakeTwilio, make_sms_client: MakeClient
) -> None:
    service = "MG" + "a" * 32
    client = make_sms_client(from_number=None, messaging_service_sid=service, status_callback_url=None)

    outcome = await client.send(PATIENT, "hello")

    assert outcome.sent and outcome.status == "accepted"
    [form] = fake_twilio.messages
    assert form["MessagingServiceSid"] == service
    assert "From" not in form and "StatusCallback" not in form


async def test_body_is_sent_verbatim(fake_twilio: FakeTwilio, make_sms_client: MakeClient) -> None:
    body = "  Café – $12.50 due ✓ & <ok>?  "
    assert (await make_sms_client().send(PATIENT, body)).sent
    assert fake_twilio.messages[0]["Body"] == body


async def test_opted_out_number_is_permanent_and_flagged(
    fake_twilio: FakeTwilio, make_sms_client: MakeClient
) -> None:
    fake_twilio.opted_out_numbers.add(PATIENT)

    outcome = await make_sms_client().send(PATIENT, "hello")

    assert not outcome.sent and outcome.sid is None
    assert outcome.opted_out and outcome.permanent and not outcome.transient
    assert outcome.error_code == OPTED_OUT_ERROR
    assert outcome.error_message is not None and "unsubscribed" in outcome.error_message
    assert fake_twilio.messages == []
    assert [r.status for r in fake_twilio.requests] == [400]


@pytest.mark.parametrize(("status", "code"), [(500, 20500), (503, 20503), (429, 20429)])
async def test_server_errors_and_throttling_are_transient(
    fake_twilio: FakeTwilio, make_sms_client: MakeClient, status: int, code: int
) -> None:
    client = make_sms_client()
    fake_twilio.fail_next(1, status=status)

    failed = await client.send(PATIENT, "hello")
    retried = await client.send(PATIENT, "hello")

    assert not failed.sent and failed.transient and not failed.permanent and not failed.opted_out
    assert failed.error_code == code
    assert retried.sent
    assert len(fake_twilio.messages) == 1


async def test_wrong_credentials_are_permanent(fake_twilio: FakeTwilio, make_sms_client: MakeClient) -> None:
    outcome = await make_sms_client(auth_token="not-the-token").send(PATIENT, "hello")

    assert not outcome.sent and outcome.permanent and not outcome.opted_out
    assert outcome.error_code == 20003
    assert fake_twilio.messages == []


async def test_invalid_number_is_permanent(make_sms_client: MakeClient) -> None:
    outcome = await make_sms_client().send("5551230001", "hello")

    assert not outcome.sent and outcome.permanent and not outcome.opted_out
    assert outcome.error_code == 21211


async def test_connection_refused_is_transient(make_sms_client: MakeClient) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed_port = sock.getsockname()[1]

    outcome = await make_sms_client(api_base=f"http://127.0.0.1:{closed_port}").send(PATIENT, "hello")

    assert not outcome.sent and outcome.transient
    assert outcome.error_code is None
    assert outcome.error_message is not None and "network error" in outcome.error_message


async def test_default_timeout_applies_and_is_transient(
    fake_twilio: FakeTwilio, make_sms_client: MakeClient
) -> None:
    fake_twilio.stall_next(1, seconds=1.0)

    outcome = await make_sms_client(timeout=0.2).send(PATIENT, "hello")

    assert not outcome.sent and outcome.transient
    assert outcome.error_message == "network error: TimeoutError"


async def test_200_concurrent_sends_each_land_once_with_their_own_outcome(
    fake_twilio: FakeTwilio, make_sms_client: MakeClient
) -> None:
    client = make_sms_client(max_in_flight=32)
    numbers = [f"+1555200{i:04d}" for i in range(200)]
    blocked = set(numbers[::10])
    fake_twilio.opted_out_numbers.update(blocked)

    outcomes = await asyncio.gather(*(client.send(n, f"msg {n}") for n in numbers))

    for number, outcome in zip(numbers, outcomes, strict=True):
        assert outcome.opted_out == (number in blocked)
        assert outcome.sent == (number not in blocked)
    sids = [o.sid for o in outcomes if o.sent]
    assert len(sids) == len(set(sids)) == 180
    # Only this test's numbers: a request stalled by an earlier timeout test may still land late.
    mine = set(numbers)
    assert sorted((f["To"], f["Body"]) for f in fake_twilio.messages if f["To"] in mine) == sorted(
        (n, f"msg {n}") for n in numbers if n not in blocked
    )


def test_sender_protocol_and_required_sender() -> None:
    client = TwilioSmsClient(
        "AC" + "1" * 32,
        "token",
        from_number="+15005550006",
        messaging_service_sid=None,
        api_base=None,
        status_callback_url=None,
    )
    assert isinstance(client, SmsSender)
    with pytest.raises(ValueError, match="from_number or messaging_service_sid"):
        TwilioSmsClient(
            "AC" + "1" * 32,
            "token",
            from_number=None,
            messaging_service_sid=None,
            api_base=None,
            status_callback_url=None,
        )
