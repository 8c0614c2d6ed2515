"""Off-session charges of a saved card (plan installments), on the stripe SDK.

- One PaymentIntent per attempt: `customer` + `payment_method`, `confirm=true`, `off_session=true`,
  amount in integer cents, metadata with internal ids only (PHI-checked like the Checkout links).
- `Idempotency-Key` is a deterministic UUID of (practice, guarantor, plan, installment, attempt): a
  retry of the same attempt (a timeout, a crash before we wrote the outcome) replays Stripe's first
  answer, the same PaymentIntent, so a card is never charged twice for one attempt; the next attempt
  (after a decline) is a new key.
- A decline (HTTP 402 `card_error`) is an answer, not an error: `ChargeOutcome(status="declined")`
  with the decline code only. Anything else unexpected (network, 5xx) is `status="error"` and the
  caller retries the *same* attempt later.
- The card is the customer's default payment method when one is set (a patient who updated their
  card), else the one saved with the first payment, else the customer's default source (a card saved
  by Twilio <Pay>), else the newest card on the customer.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal, cast

import stripe

from tools.payments.stripe_gateway import amount_to_cents, metadata_problem

log = logging.getLogger(__name__)

_NAMESPACE = uuid.UUID("0b7e4a0e-5a43-4b7e-9d52-3f1c0d7a9e21")


def installment_key(
    *, practice_id: str, guarantor_id: str, plan_id: str, installment: int, attempt: int
) -> str:
    name = "|".join((practice_id, guarantor_id, plan_id, str(installment), str(attempt)))
    return f"bl-installment-{uuid.uuid5(_NAMESPACE, name)}"


@dataclass(frozen=True)
class ChargeOutcome:
    status: Literal["succeeded", "declined", "error"]
    payment_intent: str | None = None
    code: str | None = None  # decline_code / error code, never card data


class StripeCharges:
    def __init__(self, api_key: str, *, api_base: str | None = None, max_network_retries: int = 2) -> None:
        self.client = stripe.StripeClient(
            api_key,
            base_addresses={"api": api_base} if api_base else {},
            max_network_retries=max_network_retries,
        )

    async def payment_method_for(self, customer: str, saved: str | None) -> str | None:
        """The card to charge: the customer's default payment method (the patient may have updated
        it), else the one saved with the first payment, else the default source, else the newest card."""
        cust = (await self.client.v1.customers.retrieve_async(customer)).to_dict()
        default = (cust.get("invoice_settings") or {}).get("default_payment_method")
        if default:
            return str(default["id"] if isinstance(default, dict) else default)
        if saved:
            return saved
        if cust.get("default_source"):
            return str(cust["default_source"])
        methods = await self.client.v1.payment_methods.list_async(
            params={"customer": customer, "type": "card"}
        )
        data = methods.to_dict().get("data") or []
        return str(data[0]["id"]) if data else None

    async def charge_off_session(
        self,
        *,
        customer: str,
        payment_method: str | None,
        amount: Decimal,
        currency: str,
        metadata: dict[str, str],
        idempotency_key: str,
    ) -> ChargeOutcome:
        cents = amount_to_cents(amount)
        problem = metadata_problem(metadata)
        if problem:
            raise ValueError(problem)
        try:
            method = await self.payment_method_for(customer, payment_method)
            if method is None:
                return ChargeOutcome(status="declined", code="no_saved_card")
            params: dict[str, Any] = {
                "amount": cents,
                "currency": currency,
                "customer": customer,
                "payment_method": method,
                "confirm": True,
                "off_session": True,
                "metadata": metadata,
            }
            intent = await self.client.v1.payment_intents.create_async(
                params=cast(Any, params), options={"idempotency_key": idempotency_key}
            )
        except stripe.CardError as exc:
            err = exc.error
            pi = getattr(err, "payment_intent", None) if err else None
            pi_id = pi.get("id") if isinstance(pi, dict) else getattr(pi, "id", None)
            code = (getattr(err, "decline_code", None) or getattr(err, "code", None)) if err else None
            return ChargeOutcome(status="declined", payment_intent=pi_id, code=str(code or "card_declined"))
        except stripe.StripeError as exc:
            log.warning(
                "stripe off-session charge failed: %s code=%s status=%s",
                type(exc).__name__,
                getattr(exc, "code", None),
                getattr(exc, "http_status", None),
            )
            return ChargeOutcome(status="error", code=str(getattr(exc, "code", None) or type(exc).__name__))
        if intent.status == "succeeded":
            return ChargeOutcome(status="succeeded", payment_intent=str(intent.id))
        if intent.status in ("processing", "requires_capture"):
            return ChargeOutcome(status="error", payment_intent=str(intent.id), code=intent.status)
        return ChargeOutcome(status="declined", payment_intent=str(intent.id), code=str(intent.status))

    async def ping(self) -> bool:
        """A cheap authenticated read: is Stripe reachable with this key?"""
        try:
            await self.client.v1.customers.list_async(params={"limit": 1})
        except stripe.StripeError:
            return False
        return True
