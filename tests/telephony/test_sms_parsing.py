"""Parsing Twilio's inbound-SMS and status-callback forms, and the messaging TwiML replies."""

from __future__ import annotations

import pytest

from telephony.sms import MalformedWebhook, parse_inbound, parse_status_callback
from telephony.twiml import empty_messaging_response, message_reply

INBOUND = {
    "ToCountry": "US",
    "SmsMessageSid": "SM" + "a" * 32,
    "NumMedia": "0",
    "SmsSid": "SM" + "a" * 32,
    "SmsStatus": "received",
    "Body": " stop ",
    "To": "+15005550006",
    "OptOutType": "STOP",
    "MessagingServiceSid": "MG" + "b" * 32,
    "NumSegments": "1",
    "MessageSid": "SM" + "a" * 32,
    "AccountSid": "AC" + "c" * 32,
    "From": "+15551230001",
    "ApiVersion": "2010-04-01",
}


def test_parse_inbound_full_form() -> None:
    sms = parse_inbound(INBOUND)
    assert sms.message_sid == "SM" + "a" * 32
    assert sms.from_ == "+15551230001"
    assert sms.to == "+15005550006"
    assert sms.body == " stop "  # exactly as received; keyword normalisation is the agent's job
    assert sms.opt_out_type == "STOP"
    assert sms.messaging_service_sid == "MG" + "b" * 32
    assert sms.num_media == 0


def test_parse_inbound_minimal_form() -> None:
    sms = parse_inbound({"MessageSid": "SM1", "From": "+15551230001", "To": "+15005550006", "NumMedia": "2"})
    assert sms.body == ""
    assert sms.opt_out_type is None
    assert sms.messaging_service_sid is None
    assert sms.num_media == 2


@pytest.mark.parametrize("missing", ["From", "To"])
def test_parse_inbound_requires_addresses(missing: str) -> None:
    with pytest.raises(MalformedWebhook, match=missing):
        parse_inbound({k: v for k, v in INBOUND.items() if k != missing})


def test_parse_inbound_requires_a_sid_and_numeric_num_media() -> None:
    without_sid = {k: v for k, v in INBOUND.items() if k not in ("MessageSid", "SmsMessageSid", "SmsSid")}
    with pytest.raises(MalformedWebhook, match="MessageSid"):
        parse_inbound(without_sid)
    with pytest.raises(MalformedWebhook, match="NumMedia"):
        parse_inbound({**INBOUND, "NumMedia": "two"})


def test_parse_status_delivered() -> None:
    status = parse_status_callback(
        {"MessageSid": "SM9", "MessageStatus": "delivered", "To": "+15551230001", "AccountSid": "AC1"}
    )
    assert (status.sid, status.status, status.error_code, status.to) == (
        "SM9",
        "delivered",
        None,
        "+15551230001",
    )
    assert status.is_final and not status.failed and not status.opted_out


def test_parse_status_undelivered_with_error_and_async_opt_out() -> None:
    carrier = parse_status_callback(
        {"MessageSid": "SM9", "MessageStatus": "undelivered", "ErrorCode": "30007"}
    )
    assert carrier.error_code == 30007 and carrier.failed and not carrier.opted_out
    stop = parse_status_callback({"MessageSid": "SM9", "MessageStatus": "failed", "ErrorCode": "21610"})
    assert stop.opted_out and stop.failed


def test_parse_status_intermediate_and_legacy_names() -> None:
    status = parse_status_callback({"SmsSid": "SM8", "SmsStatus": "Sent", "ErrorCode": ""})
    assert (status.sid, status.status, status.error_code) == ("SM8", "sent", None)
    assert not status.is_final


def test_parse_status_requires_sid_and_status() -> None:
    with pytest.raises(MalformedWebhook):
        parse_status_callback({"MessageStatus": "sent"})
    with pytest.raises(MalformedWebhook):
        parse_status_callback({"MessageSid": "SM1"})
    with pytest.raises(MalformedWebhook, match="ErrorCode"):
        parse_status_callback({"MessageSid": "SM1", "MessageStatus": "failed", "ErrorCode": "oops"})


def test_twiml_empty_and_reply() -> None:
    assert empty_messaging_response() == '<?xml version="1.0" encoding="UTF-8"?><Response />'
    assert message_reply("Balance: $12 & <due> soon") == (
        '<?xml version="1.0" encoding="UTF-8"?>'
        "<Response><Message>Balance: $12 &amp; &lt;due&gt; soon</Message></Response>"
    )
    with pytest.raises(ValueError):
        message_reply("")
