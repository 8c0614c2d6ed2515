"""The payment-link provider the runtime uses, and the record of every processor link it makes.

`make_payment_links` picks Stripe Checkout when `STRIPE_API_KEY` is set and the policy's portal link
otherwise (CONTRACTS.md). `RecordedLinks` stores each Stripe link (`payment_links`) so the webhook
can mark it paid or expired; the tools only see the `PaymentLinks` protocol.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from decimal import Decimal

from agent.settings import Settings
from agent.store.payments import PaymentStore
from policies.config import PracticePolicy
from tools.context import PaymentLink, PaymentLinks
from tools.payments.portal import PortalLinks

CHECKOUT_COMPLETE_PATH = "/stripe/checkout/complete"
CHECKOUT_CANCELLED_PATH = "/stripe/checkout/cancelled"


class RecordedLinks:
    """`PaymentLinks` that stores every link with a processor id before handing it to the tool."""

    def __init__(self, inner: PaymentLinks, store: PaymentStore) -> None:
        self.inner = inner
        self.store = store

    async def create_link(
        self, *, guarantor_id: str, amount: Decimal, purpose: str, attempt: int, conversation_id: str
    ) -> PaymentLink:
        link = await self.inner.create_link(
            guarantor_id=guarantor_id,
            amount=amount,
            purpose=purpose,
            attempt=attempt,
            conversation_id=conversation_id,
        )
        await self.store.record_link(
            link, guarantor_id=guarantor_id, conversation_id=conversation_id, purpose=purpose, attempt=attempt
        )
        return link


def make_payment_links(
    settings: Settings, policy: PracticePolicy, store: PaymentStore, clock: Callable[[], datetime]
) -> PaymentLinks:
    if not settings.stripe_configured:
        return PortalLinks(policy)
    from tools.payments.stripe_gateway import StripeLinks

    assert settings.stripe_api_key is not None
    stripe_links = StripeLinks(
        settings.stripe_api_key.get_secret_value(),
        api_base=settings.stripe_api_base,
        practice_id=policy.practice.practice_id,
        success_url=settings.public_base_url + CHECKOUT_COMPLETE_PATH,
        cancel_url=settings.public_base_url + CHECKOUT_CANCELLED_PATH,
        link_expiry_minutes=policy.payments.link_expiry_minutes,
        clock=clock,
    )
    return RecordedLinks(stripe_links, store)
