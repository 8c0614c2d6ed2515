"""TwiML documents for webhook replies, built with twilio-python's ``twilio.twiml`` (escaping included).

Messaging only for now; the voice builders (``<Connect><Stream>``, ``<Pay>``, ``<Dial>``) join later.
"""

from __future__ import annotations

from twilio.twiml.messaging_response import MessagingResponse

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
