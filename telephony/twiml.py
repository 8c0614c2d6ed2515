"""TwiML documents for webhook replies, built with twilio-python's ``twilio.twiml`` (escaping included).

Voice builders live beside the messaging ones; add ``<Pay>``/``<Dial>`` builders here too.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal, InvalidOperation

from twilio.twiml.messaging_response import MessagingResponse
from twilio.twiml.voice_response import Connect, VoiceResponse

TWIML_MEDIA_TYPE = "application/xml"
"""Content type for TwiML responses (Twilio accepts ``text/xml`` and ``application/xml``)."""


def empty_messaging_response() -> str:
    """``<Response />``: acknowledge an inbound SMS without replying (e.g. Twilio already auto-replied)."""
    return str(MessagingResponse())


def message_reply(body: str) -> str:
    """A single ``<Message>`` reply to the sender of the inbound SMS."""
    if not body:
        raise ValueError("a TwiML <Message> reply needs a non-empty body")
    response = MessagingResponse()
    response.message(body)
    return str(response)


def connect_stream(url: str, *, action: str, parameters: Mapping[str, str]) -> str:
    """``<Connect action=…><Stream url=…>`` with custom ``<Parameter>``s (bidirectional media stream)."""
    if not url.startswith(("wss://", "ws://")):
        raise ValueError("a media stream URL must be ws:// or wss://")
    response = VoiceResponse()
    connect = Connect(action=action, method="POST")
    stream = connect.stream(url=url)
    for name, value in parameters.items():
        stream.parameter(name=name, value=value)
    response.append(connect)
    return str(response)


def pay(
    *,
    charge_amount: str,
    currency: str,
    payment_connector: str,
    action: str,
    status_callback: str,
    token_type: str = "one-time",
    description: str | None = None,
    max_attempts: int = 2,
    timeout: int = 10,
) -> str:
    """``<Pay>`` (keypad card capture by Twilio; no audio reaches us while digits are keyed).

    ``charge_amount`` is a decimal string > 0 computed by the caller's server; ``action`` and
    ``status_callback`` must be absolute https URLs (POST).
    """
    try:
        positive = Decimal(charge_amount) > 0
    except InvalidOperation:
        positive = False
    if not positive:
        raise ValueError("<Pay> chargeAmount must be a positive decimal string")
    if token_type not in ("one-time", "reusable", "payment-method"):
        raise ValueError("<Pay> tokenType must be one-time, reusable or payment-method")
    if not 1 <= max_attempts <= 3:
        raise ValueError("<Pay> maxAttempts must be 1-3")
    response = VoiceResponse()
    response.pay(
        input="dtmf",
        payment_connector=payment_connector,
        charge_amount=charge_amount,
        currency=currency,
        token_type=token_type,
        action=action,
        status_callback=status_callback,
        status_callback_method="POST",
        description=description,
        max_attempts=max_attempts,
        timeout=timeout,
    )
    return str(response)


def hangup() -> str:
    """``<Response><Hangup/></Response>``."""
    response = VoiceResponse()
    response.hangup()
    return str(response)


def say_then_hangup(text: str, *, language: str = "en-US", voice: str | None = None) -> str:
    """``<Say>text</Say><Hangup/>``: speak one message (e.g. a voicemail) and end the call."""
    if not text.strip():
        raise ValueError("a <Say> needs text")
    response = VoiceResponse()
    response.say(text, language=language, **({"voice": voice} if voice else {}))
    response.hangup()
    return str(response)
