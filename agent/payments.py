"""The payment-link provider the runtime uses, and the record of every processor link it makes.

`make_payment_links` picks Stripe Checkout when `STRIPE_API_KEY` is set and the policy's portal link
otherwise (CONTRACTS.md). `RecordedLinks` stores each Stripe link (`payment_links`) so the webhook
can mark it paid or expired; the tools only see the `PaymentLinks` protocol.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from agent.settings import Settings
from agent.store.payments import PaymentStore
from policies.config import PracticePolicy
from tools.context import PaymentLink, PaymentLinks
from tools.payments.portal import PortalLinks

if TYPE_CHECKING:
    from agent.payment_posting import PaymentPoster
    from agent.plan_charges import PlanCharger
    from agent.runtime import Runtime
    from tools.payments.stripe_charges import StripeCharges

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
    """Stripe Checkout links (recorded) with `STRIPE_API_KEY`, else the policy's portal link."""
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


# ---- the payment services built from a runtime (webhook, <Pay> routes, plan loop, worker) -----------


def payment_poster(runtime: Runtime) -> PaymentPoster:
    from agent.payment_posting import PaymentPoster

    return PaymentPoster(
        store=PaymentStore(runtime.sessions, runtime.clock),
        records=runtime.records,
        pms=runtime.pms,
        policy=runtime.policy,
        sms=runtime.outbound_sms,
        clock=runtime.clock,
    )


_charges_by_settings: dict[tuple[str, str | None], StripeCharges] = {}


def stripe_charges(settings: Settings) -> StripeCharges | None:
    """The off-session charger (plans), or None without `STRIPE_API_KEY`; one client per settings."""
    if not settings.stripe_configured:
        return None
    from tools.payments.stripe_charges import StripeCharges

    assert settings.stripe_api_key is not None
    key = (settings.stripe_api_key.get_secret_value(), settings.stripe_api_base)
    found = _charges_by_settings.get(key)
    if found is None:
        found = _charges_by_settings[key] = StripeCharges(key[0], api_base=key[1])
    return found


def plan_charger(runtime: Runtime) -> PlanCharger:
    from agent.plan_charges import PlanCharger
    from agent.store.plan_schedules import PlanScheduleStore

    return PlanCharger(
        store=PlanScheduleStore(runtime.sessions, runtime.clock, actor="plan_charges"),
        poster=payment_poster(runtime),
        charges=stripe_charges(runtime.settings),
        links=runtime.payments,
        clock=runtime.clock,
    )


async def run_plan_charges(runtime: Runtime, stop: asyncio.Event, interval: float = 60.0) -> None:
    """The plan loop (reminders, installment charges, retries, promise sweep) until `stop`."""
    await plan_charger(runtime).run_forever(stop, interval)


_READINESS_TTL = 30.0
_readiness_cache: dict[int, tuple[float, dict[str, Any]]] = {}


async def stripe_readiness(runtime: Runtime) -> dict[str, Any]:
    """For /readyz: is Stripe configured (API key, webhook secret, <Pay> connector) and reachable?

    Reachability is one authenticated read, cached for 30 s per runtime so probes never hammer Stripe.
    """
    s = runtime.settings
    out: dict[str, Any] = {
        "configured": s.stripe_configured,
        "webhook_secret": s.stripe_webhook_secret is not None,
        "pay_connector": runtime.policy.payments.pay_connector if s.stripe_configured else None,
        "fallback": None if s.stripe_configured else "portal",
        "reachable": None,
    }
    charges = stripe_charges(s)
    if charges is None:
        return out
    now = time.monotonic()
    cached = _readiness_cache.get(id(runtime))
    if cached is None or now - cached[0] > _READINESS_TTL:
        try:
            reachable = await asyncio.wait_for(charges.ping(), timeout=3.0)
        except TimeoutError:
            reachable = False
        cached = (now, {"reachable": reachable})
        _readiness_cache[id(runtime)] = cached
    return {**out, **cached[1]}
