"""TwiML documents for webhook replies, built with twilio-python's ``twilio.twiml`` (escaping included).

Voice builders live beside the messaging ones; add ``<Pay>``/``<Dial>`` builders here too.
"""

from __future__ import annotations

from collections.abc import Mapping

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
