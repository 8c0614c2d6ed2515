"""Stripe webhook signatures: the §3 vector, tolerance on both sides, header shapes."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import stripe

from tools.payments.stripe_signature import StripeSignatureError, expected_signature, verify_signature

SECRET = "whsec_test"
T = 1700000000
BODY = b'{"id":"evt_1","object":"event"}'
V1 = "4c15fb2a43f93ef61eaa3e0893866d57cad9cad4223242cfb96f362480cb4021"
HEADER = f"t={T},v1={V1}"


def at(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def test_documented_vector() -> None:
    assert expected_signature(BODY, SECRET, T) == V1
    assert stripe.WebhookSignature.generate_signature_header(BODY.decode(), SECRET, timestamp=T) == HEADER
    assert verify_signature(BODY, HEADER, SECRET, now=at(T)) == T
    assert verify_signature(BODY, HEADER, SECRET, now=at(T + 300)) == T


def test_stale_and_future_timestamps_are_refused() -> None:
    with pytest.raises(StripeSignatureError, match="too old"):
        verify_signature(BODY, HEADER, SECRET, now=at(T + 301))
    assert verify_signature(BODY, HEADER, SECRET, now=at(T - 300)) == T
    with pytest.raises(StripeSignatureError, match="future"):
        verify_signature(BODY, HEADER, SECRET, now=at(T - 301))


def test_any_v1_may_match_and_other_schemes_are_ignored() -> None:
    header = f"t={T},v1={'0' * 64},v0={V1},v1={V1}"
    assert verify_signature(BODY, header, SECRET, now=at(T)) == T
    with pytest.raises(StripeSignatureError):
        verify_signature(BODY, f"t={T},v0={V1}", SECRET, now=at(T))


@pytest.mark.parametrize(
    "header",
    [None, "", "garbage", f"v1={V1}", f"t=abc,v1={V1}", f"t={T},v1={'0' * 64}", f"t={T + 1},v1={V1}"],
)
def test_missing_malformed_or_wrong_headers_are_refused(header: str | None) -> None:
    with pytest.raises(StripeSignatureError):
        verify_signature(BODY, header, SECRET, now=at(T))


def test_body_and_secret_are_bound() -> None:
    with pytest.raises(StripeSignatureError):
        verify_signature(BODY + b" ", HEADER, SECRET, now=at(T))
    with pytest.raises(StripeSignatureError):
        verify_signature(BODY, HEADER, "whsec_other", now=at(T))
