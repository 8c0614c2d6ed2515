"""StripeLinks with the real stripe SDK against the loopback Checkout Sessions server."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from tests.fakes.stripe_checkout import FakeCheckout
from tools.context import PaymentLink, PaymentLinkError
from tools.payments.stripe_gateway import (
    StripeLinks,
    amount_to_cents,
    idempotency_key,
    link_expiry,
    phi_problems,
    session_params,
)

NOW = datetime(2026, 11, 2, 16, 0, tzinfo=UTC)


def _links(checkout: FakeCheckout, *, minutes: int = 60 * 24, key: str = "sk_test_gateway") -> StripeLinks:
    checkout.clock = lambda: NOW
    return StripeLinks(
        key,
        api_base=checkout.base_url,
        practice_id="maple-grove",
        success_url="https://billing.example.com/stripe/checkout/complete",
        cancel_url="https://billing.example.com/stripe/checkout/cancelled",
        link_expiry_minutes=minutes,
        clock=lambda: NOW,
        max_network_retries=0,
    )


async def _create(
    links: StripeLinks, amount: str = "125.40", attempt: int = 1, conv: str = "cv_1"
) -> PaymentLink:
    return await links.create_link(
        guarantor_id="10234",
        amount=Decimal(amount),
        purpose="balance_payment",
        attempt=attempt,
        conversation_id=conv,
    )


async def test_session_in_cents_with_internal_ids_only(checkout: FakeCheckout) -> None:
    link = await _create(_links(checkout))
    assert link.provider == "stripe"
    assert link.amount == Decimal("125.40")
    session = checkout.session(link.link_id)
    assert link.url == session["url"] and link.url.startswith("https://checkout.stripe.com/")
    assert session["amount_total"] == 12540 and session["mode"] == "payment"
    assert session["client_reference_id"] == "10234"
    assert session["metadata"] == {
        "practice_id": "maple-grove",
        "guarantor_id": "10234",
        "purpose": "balance_payment",
        "attempt": "1",
        "conversation_id": "cv_1",
    }
    method, path, params, key = checkout.requests[-1]
    assert (method, path) == ("POST", "/v1/checkout/sessions")
    item = params["line_items"][0]
    assert item["price_data"] == {
        "currency": "usd",
        "unit_amount": "12540",
        "product_data": {"name": "Account balance payment"},
    }
    assert params["payment_intent_data"]["metadata"]["guarantor_id"] == "10234"
    assert key is not None and len(key) <= 255
    assert link.expires_at == NOW + timedelta(hours=24) - timedelta(minutes=1)


async def test_same_request_reuses_the_session_new_attempt_makes_a_new_one(checkout: FakeCheckout) -> None:
    links = _links(checkout)
    first = await _create(links)
    again = await _create(links)
    assert again.link_id == first.link_id
    assert len(checkout.sessions) == 1
    keys = [r[3] for r in checkout.requests]
    assert keys[0] == keys[1]
    second = await _create(links, attempt=2)
    other_conv = await _create(links, conv="cv_2")
    assert len({first.link_id, second.link_id, other_conv.link_id}) == 3


def test_idempotency_key_is_deterministic_and_short() -> None:
    args = dict(
        practice_id="p" * 200, guarantor_id="g" * 200, purpose="x", conversation_id="c", attempt=1, cents=100
    )
    key = idempotency_key(**args)  # type: ignore[arg-type]
    assert key == idempotency_key(**args)  # type: ignore[arg-type]
    assert len(key) <= 255
    assert key != idempotency_key(**{**args, "attempt": 2})  # type: ignore[arg-type]


async def test_amount_bounds(checkout: FakeCheckout) -> None:
    links = _links(checkout)
    for bad in ("0.49", "0", "-5", "10.005", "1000000.00"):
        with pytest.raises(PaymentLinkError):
            await _create(links, amount=bad)
    assert checkout.requests == []  # refused before any call to Stripe
    assert amount_to_cents(Decimal("0.50")) == 50
    assert amount_to_cents(Decimal("999999.99")) == 99_999_999


async def test_expiry_bounds(checkout: FakeCheckout) -> None:
    assert link_expiry(NOW, 30) == NOW + timedelta(minutes=31)
    assert link_expiry(NOW, 10) == NOW + timedelta(minutes=31)
    assert link_expiry(NOW, 90) == NOW + timedelta(minutes=90)
    assert link_expiry(NOW, 60 * 48) == NOW + timedelta(hours=24) - timedelta(minutes=1)
    short = await _create(_links(checkout, minutes=30))
    assert checkout.session(short.link_id)["expires_at"] == int((NOW + timedelta(minutes=31)).timestamp())


def test_phi_denylist() -> None:
    assert phi_problems("Account balance payment") == []
    for text in ("crown D2740", "D0120", "visit 99213", "dx K02.9", "root canal", "Extraction balance"):
        assert phi_problems(text), text
    base = dict(
        cents=1000,
        currency="usd",
        expires_at=NOW + timedelta(hours=1),
        success_url="https://x.example/ok",
        cancel_url="https://x.example/no",
        client_reference_id="10234",
    )
    ok = session_params(metadata={"guarantor_id": "10234", "purpose": "balance_payment"}, **base)  # type: ignore[arg-type]
    assert ok["metadata"]["guarantor_id"] == "10234"  # a 5-digit PMS id is an id, not a CPT code
    for meta in ({"purpose": "D2740"}, {"purpose": "crown"}, {"note": "K02.9"}, {"guarantor_id": "Jane Doe"}):
        with pytest.raises(PaymentLinkError):
            session_params(metadata=meta, **base)  # type: ignore[arg-type]
    with pytest.raises(PaymentLinkError):
        session_params(metadata={}, product_name="Crown on tooth 3", **base)  # type: ignore[arg-type]


async def test_clinical_purpose_never_reaches_stripe(checkout: FakeCheckout) -> None:
    links = _links(checkout)
    with pytest.raises(PaymentLinkError):
        await links.create_link(
            guarantor_id="10234",
            amount=Decimal("50"),
            purpose="root_canal",
            attempt=1,
            conversation_id="cv_1",
        )
    assert checkout.requests == []


async def test_stripe_errors_become_safe_payment_link_errors(checkout: FakeCheckout) -> None:
    links = _links(checkout, key="not-a-test-key")
    with pytest.raises(PaymentLinkError) as err:
        await _create(links)
    assert "key" not in str(err.value).lower()
    # the same idempotency key with different parameters is refused by Stripe, and by us
    good = _links(checkout)
    await _create(good)
    good.success_url = "https://billing.example.com/other"
    with pytest.raises(PaymentLinkError):
        await _create(good)


async def test_expire_link(checkout: FakeCheckout) -> None:
    links = _links(checkout)
    link = await _create(links)
    await links.expire_link(link.link_id)
    assert checkout.session(link.link_id)["status"] == "expired"
    await links.expire_link(link.link_id)  # already expired: nothing to do
