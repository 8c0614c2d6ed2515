"""Stripe webhook signatures (rule 56): HMAC-SHA256 over the raw body, checked before any parsing.

`Stripe-Signature: t=<unix>,v1=<hex>[,v1=<hex>…][,v0=…]`; the expected v1 is
hex(HMAC-SHA256(endpoint_secret, f"{t}.{raw_body}")). An event is accepted when any v1 matches
(constant-time) and `t` lies within `tolerance` seconds of now on *both* sides: stripe-python only
refuses old timestamps, we also refuse ones from the future (a replay window cannot be moved
forward by a forged clock). The clock is injected, so the check is testable without sleeping.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime

DEFAULT_TOLERANCE = 300
SCHEME = "v1"


class StripeSignatureError(ValueError):
    """The webhook is not provably from Stripe (missing, malformed, wrong, stale or future-dated)."""


def expected_signature(payload: bytes, secret: str, timestamp: int) -> str:
    signed = str(timestamp).encode("ascii") + b"." + payload
    return hmac.new(secret.encode("utf-8"), signed, hashlib.sha256).hexdigest()


def verify_signature(
    payload: bytes, header: str | None, secret: str, *, now: datetime, tolerance: int = DEFAULT_TOLERANCE
) -> int:
    """Check `header` against the raw `payload`; return its timestamp or raise `StripeSignatureError`."""
    if not secret:
        raise StripeSignatureError("no webhook secret is configured")
    if not header:
        raise StripeSignatureError("missing Stripe-Signature header")
    timestamp: int | None = None
    signatures: list[str] = []
    for item in header.split(","):
        name, sep, value = item.strip().partition("=")
        if not sep:
            continue
        if name == "t":
            try:
                timestamp = int(value)
            except ValueError:
                raise StripeSignatureError("malformed timestamp in Stripe-Signature") from None
        elif name == SCHEME:
            signatures.append(value)
    if timestamp is None:
        raise StripeSignatureError("no timestamp in Stripe-Signature")
    if not signatures:
        raise StripeSignatureError("no v1 signature in Stripe-Signature")
    expected = expected_signature(payload, secret, timestamp)
    if not any(hmac.compare_digest(expected, s) for s in signatures):
        raise StripeSignatureError("no signature matches the payload")
    age = now.timestamp() - timestamp
    if age > tolerance:
        raise StripeSignatureError("timestamp outside the tolerance (too old)")
    if -age > tolerance:
        raise StripeSignatureError("timestamp outside the tolerance (in the future)")
    return timestamp
