"""The SDK REST client plumbing: TWILIO_API_BASE rewriting, repeated fields, and the fake's wire format."""

from __future__ import annotations

import base64

import httpx
import pytest

from telephony.rest import TwilioAsyncHttpClient, build_rest_client, rewrite_api_url
from tests.fakes.twilio_rest import FakeTwilio


@pytest.mark.parametrize(
    ("url", "base", "expected"),
    [
        (
            "https://api.twilio.com/2010-04-01/Accounts/AC1/Messages.json",
            "http://127.0.0.1:9999",
            "http://127.0.0.1:9999/2010-04-01/Accounts/AC1/Messages.json",
        ),
        (
            "https://api.dublin.ie1.twilio.com/2010-04-01/Accounts/AC1/Calls.json?PageSize=5",
            "https://edge.example.net/twilio/",
            "https://edge.example.net/twilio/2010-04-01/Accounts/AC1/Calls.json?PageSize=5",
        ),
        (
            "https://messaging.twilio.com/v1/Services",
            "http://127.0.0.1:9999",
            "https://messaging.twilio.com/v1/Services",
        ),
        ("https://api.twilio.com/2010-04-01/x", None, "https://api.twilio.com/2010-04-01/x"),
    ],
)
def test_rewrite_api_url(url: str, base: str | None, expected: str) -> None:
    assert rewrite_api_url(url, base) == expected


def test_http_client_validates_configuration() -> None:
    with pytest.raises(ValueError):
        TwilioAsyncHttpClient(api_base="ftp://example.com")
    with pytest.raises(ValueError):
        TwilioAsyncHttpClient(max_in_flight=0)
    with pytest.raises(ValueError):
        TwilioAsyncHttpClient(timeout=0)
    with pytest.raises(ValueError):
        build_rest_client("", "token")


async def test_calls_create_sends_repeated_status_events(fake_twilio: FakeTwilio) -> None:
    client = build_rest_client(fake_twilio.account_sid, fake_twilio.auth_token, api_base=fake_twilio.base_url)
    try:
        call = await client.calls.create_async(
            to="+15551230001",
            from_="+15005550006",
            url="https://billing.example.com/twilio/voice/outbound",
            status_callback="https://billing.example.com/twilio/voice/status",
            status_callback_event=["initiated", "ringing", "answered", "completed"],
            machine_detection="DetectMessageEnd",
            async_amd="true",
        )
    finally:
        await client.http_client.close()
    assert call.sid.startswith("CA") and call.status == "queued"
    [form] = fake_twilio.calls
    assert form.getlist("StatusCallbackEvent") == ["initiated", "ringing", "answered", "completed"]
    assert form["MachineDetection"] == "DetectMessageEnd" and form["AsyncAmd"] == "true"
    assert form["Url"] == "https://billing.example.com/twilio/voice/outbound"


async def test_message_fetch_round_trip(fake_twilio: FakeTwilio) -> None:
    client = build_rest_client(fake_twilio.account_sid, fake_twilio.auth_token, api_base=fake_twilio.base_url)
    try:
        created = await client.messages.create_async(to="+15551230001", from_="+15005550006", body="hi")
        fetched = await client.messages(created.sid).fetch_async()
    finally:
        await client.http_client.close()
    assert (fetched.sid, fetched.body, fetched.to, fetched.status) == (
        created.sid,
        "hi",
        "+15551230001",
        "queued",
    )


def test_fake_speaks_twilio_error_format(fake_twilio: FakeTwilio) -> None:
    url = f"{fake_twilio.base_url}/2010-04-01/Accounts/{fake_twilio.account_sid}/Messages.json"
    good = (
        "Basic " + base64.b64encode(f"{fake_twilio.account_sid}:{fake_twilio.auth_token}".encode()).decode()
    )
    fake_twilio.opted_out_numbers.add("+15551230001")
    form = {"To": "+15551230001", "From": "+15005550006", "Body": "x"}
    with httpx.Client() as http:
        unauth = http.post(url, data=form)
        stopped = http.post(url, data=form, headers={"Authorization": good})
        other_account = http.post(
            url.replace(fake_twilio.account_sid, "AC" + "9" * 32), data=form, headers={"Authorization": good}
        )
        control = http.get(f"{fake_twilio.base_url}/fake/messages")
    assert unauth.status_code == 401 and unauth.json()["code"] == 20003
    assert unauth.headers["www-authenticate"].startswith("Basic")
    assert stopped.status_code == 400
    assert stopped.json() == {
        "code": 21610,
        "message": "Attempt to send to unsubscribed recipient",
        "more_info": "https://www.twilio.com/docs/errors/21610",
        "status": 400,
    }
    assert other_account.status_code == 404
    assert control.json() == []
    assert [r.error_code for r in fake_twilio.requests] == [20003, 21610, 20404]
