"""The phone edge: Twilio webhooks and signatures, TwiML, SMS (voice media streams come later).

Imports nothing of ours; the agent hands it callbacks or implements its protocols.

- ``signatures``: ``TwilioSignatureVerifier``, ``verified_form``, ``SignatureInvalid`` (→ 403).
- ``twiml``: messaging TwiML replies.
- ``rest``: the twilio SDK client on aiohttp (non-blocking), redirectable with ``TWILIO_API_BASE``.
- ``sms``: ``SmsSender`` protocol, ``TwilioSmsClient``, inbound/status webhook parsing.
- ``sms_local``: ``LocalOutbox``, the in-memory sender of the embedded default.
"""
