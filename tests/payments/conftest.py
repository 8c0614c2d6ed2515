"""Loopback Stripe for the payments tests: localstripe (subprocess) + the Checkout Sessions fake."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fakes.stripe_checkout import FakeCheckout, LocalStripe


@pytest.fixture(scope="session")
def localstripe() -> Iterator[LocalStripe]:
    with LocalStripe() as server:
        yield server


@pytest.fixture
def checkout(localstripe: LocalStripe) -> Iterator[FakeCheckout]:
    with FakeCheckout(localstripe.base_url) as fake:
        yield fake
