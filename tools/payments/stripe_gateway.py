"""Stripe Checkout links: one single-use Checkout Session per request (rules 50, 52, 53).

- The amount is the tool's server-computed `Decimal`, sent as integer cents (≥ $0.50, whole cents).
- `expires_at` follows the policy's `link_expiry_minutes`, kept inside Stripe's window (30 min–24 h
  after creation, with a minute of margin each side for clock skew and transit).
- `client_reference_id` and `metadata` carry internal ids only (practice, guarantor, purpose,
  attempt, conversation); `phi_problems` refuses procedure/diagnosis codes and clinical words in
  everything Stripe would store or show (description, product name, metadata).
- Every create sends an `Idempotency-Key`: a deterministic UUID of (practice, guarantor, purpose,
  conversation, attempt, amount), so a retried request returns the same session instead of a second one.
- Stripe failures become `PaymentLinkError` with a message safe to relay; details go to the log
  (error class and code only).

The SDK's async methods are used (`create_async`), so the event loop is never blocked.
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any, cast

import stripe

from tools.context import PaymentLink, PaymentLinkError

log = logging.getLogger(__name__)

MIN_AMOUNT = Decimal("0.50")
MAX_CENTS = 99_999_999  # Stripe: up to 8 digits in the smallest unit
MIN_EXPIRY = timedelta(minutes=30)
MAX_EXPIRY = timedelta(hours=24)
_SKEW = timedelta(minutes=1)
_KEY_NAMESPACE = uuid.UUID("6f1d3a52-8c1e-4f5b-9a57-2b0c4de5b7a1")
PRODUCT_NAME = "Account balance payment"
SAVE_CARD_PURPOSE = "plan_first_payment"  # the card is kept for the plan's later installments
_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,200}$")
ID_FIELDS = frozenset({"practice_id", "guarantor_id", "conversation_id", "attempt"})

# Codes that identify care: CDT (D0120), CPT (5 digits, or 4 digits + F/T/U category II/III),
# ICD-10-CM with its dot (K02.9, Z01.20), ICD-9 V/E codes with a dot.
_CODE_PATTERNS = (
    re.compile(r"\bD\d{4}\b", re.IGNORECASE),
    re.compile(r"(?<![\w.])\d{5}(?![\w.])"),
    re.compile(r"\b\d{4}[FTU]\b"),
    re.compile(r"\b[A-TV-Z]\d[0-9AB]\.[0-9A-Z]{1,4}\b", re.IGNORECASE),
    re.compile(r"\b[VE]\d{2,3}\.\d{1,2}\b", re.IGNORECASE),
)
_CLINICAL_WORDS = frozenset(
    [
        "abscess",
        "anesthesia",
        "biopsy",
        "bleaching",
        "braces",
        "bridge",
        "canal",
        "caries",
        "cavity",
        "cleaning",
        "crown",
        "crowns",
        "denture",
        "dentures",
        "diagnosis",
        "endodontic",
        "extraction",
        "extractions",
        "filling",
        "fillings",
        "fluoride",
        "gingivitis",
        "graft",
        "implant",
        "implants",
        "invisalign",
        "molar",
        "orthodontic",
        "orthodontics",
        "periodontal",
        "periodontitis",
        "prophy",
        "prophylaxis",
        "radiograph",
        "root",
        "scaling",
        "sealant",
        "sealants",
        "surgery",
        "surgical",
        "tooth",
        "teeth",
        "treatment",
        "veneer",
        "veneers",
        "whitening",
        "wisdom",
        "xray",
        "x-ray",
        "procedure",
        "procedures",
        "diagnosed",
        "pregnant",
        "pregnancy",
        "diabetes",
        "hiv",
        "cancer",
        "medication",
        "prescription",
    ]
)
_WORD = re.compile(r"[a-z][a-z-]*")


def phi_problems(text: str) -> list[str]:
    """Why `text` may not go to Stripe (empty when it is fine): care codes or clinical words."""
    problems = [f"code:{m.group(0)}" for p in _CODE_PATTERNS for m in p.finditer(text)]
    problems += [f"word:{w}" for w in _WORD.findall(text.lower()) if w in _CLINICAL_WORDS]
    return problems


def amount_to_cents(amount: Decimal) -> int:
    """Integer cents for a Stripe amount; `PaymentLinkError` below $0.50, above 8 digits, or sub-cent."""
    try:
        cents = Decimal(amount) * 100
    except (InvalidOperation, TypeError, ValueError):
        raise PaymentLinkError("the payment amount is not a number") from None
    if not cents.is_finite() or cents != cents.to_integral_value():
        raise PaymentLinkError("a card payment must be a whole number of cents")
    if amount < MIN_AMOUNT:
        raise PaymentLinkError("a card payment must be at least $0.50")
    if cents > MAX_CENTS:
        raise PaymentLinkError("that amount is too large for one card payment")
    return int(cents)


def link_expiry(now: datetime, minutes: int) -> datetime:
    """`now` + `minutes`, kept a minute inside Stripe's 30 min–24 h window."""
    if now.tzinfo is None:
        raise ValueError("the clock must return timezone-aware datetimes")
    wanted = timedelta(minutes=minutes)
    bounded = min(max(wanted, MIN_EXPIRY + _SKEW), MAX_EXPIRY - _SKEW)
    return (now + bounded).astimezone(UTC).replace(microsecond=0)


def idempotency_key(
    *, practice_id: str, guarantor_id: str, purpose: str, conversation_id: str, attempt: int, cents: int
) -> str:
    """A deterministic UUID per (practice, guarantor, purpose, conversation, attempt, amount)."""
    name = "|".join((practice_id, guarantor_id, purpose, conversation_id, str(attempt), str(cents)))
    return f"bl-checkout-{uuid.uuid5(_KEY_NAMESPACE, name)}"  # 48 chars, well under Stripe's 255


def metadata_problem(metadata: Mapping[str, str], *texts: str) -> str | None:
    """Why metadata (and any other text sent along) may not go to Stripe, or None when it may."""
    for key, value in metadata.items():
        if not _ID.match(key) or not _ID.match(value):
            return "payment metadata may only hold internal ids"
    # Opaque ids are checked by shape only: a PMS id may be a 5-digit number (an Open Dental PatNum)
    # that a code pattern cannot tell from a CPT code. Everything else is checked for care details.
    checked = [*texts, *metadata.keys(), *(v for k, v in metadata.items() if k not in ID_FIELDS)]
    if any(phi_problems(t) for t in checked):
        return "payment details may not describe care (no codes or clinical words)"
    return None


def session_params(
    *,
    cents: int,
    currency: str,
    expires_at: datetime,
    success_url: str,
    cancel_url: str,
    metadata: Mapping[str, str],
    client_reference_id: str,
    product_name: str = PRODUCT_NAME,
    save_card: bool = False,
) -> dict[str, Any]:
    """The Checkout Session create params; refuses anything that could carry PHI (`PaymentLinkError`).

    `save_card` (a plan's first payment): the card is saved on a new Customer for off-session
    installments (`customer_creation=always`, `payment_intent_data.setup_future_usage=off_session`).
    """
    problem = metadata_problem(metadata, product_name)
    if problem:
        raise PaymentLinkError(problem)
    if not _ID.match(client_reference_id):
        raise PaymentLinkError("the client reference may only hold an internal id")
    meta = dict(metadata)
    intent_data: dict[str, Any] = {"metadata": meta, "description": product_name}
    extra: dict[str, Any] = {}
    if save_card:
        intent_data["setup_future_usage"] = "off_session"
        extra["customer_creation"] = "always"
    return {
        **extra,
        "mode": "payment",
        "line_items": [
            {
                "price_data": {
                    "currency": currency,
                    "unit_amount": cents,
                    "product_data": {"name": product_name},
                },
                "quantity": 1,
            }
        ],
        "expires_at": int(expires_at.timestamp()),
        "client_reference_id": client_reference_id,
        "metadata": meta,
        "payment_intent_data": intent_data,
        "success_url": success_url,
        "cancel_url": cancel_url,
    }


class StripeLinks:
    """`PaymentLinks` backed by Stripe Checkout (provider "stripe", amount locked, single use)."""

    def __init__(
        self,
        api_key: str,
        *,
        api_base: str | None = None,
        practice_id: str,
        success_url: str,
        cancel_url: str,
        link_expiry_minutes: int,
        clock: Callable[[], datetime],
        currency: str = "usd",
        max_network_retries: int = 2,
    ) -> None:
        self.practice_id = practice_id
        self.success_url = success_url
        self.cancel_url = cancel_url
        self.link_expiry_minutes = link_expiry_minutes
        self.currency = currency
        self._clock = clock
        self.client = stripe.StripeClient(
            api_key,
            base_addresses={"api": api_base} if api_base else {},
            max_network_retries=max_network_retries,
        )

    async def create_link(
        self, *, guarantor_id: str, amount: Decimal, purpose: str, attempt: int, conversation_id: str
    ) -> PaymentLink:
        cents = amount_to_cents(amount)
        expires_at = link_expiry(self._clock(), self.link_expiry_minutes)
        metadata = {
            "practice_id": self.practice_id,
            "guarantor_id": guarantor_id,
            "purpose": purpose,
            "attempt": str(attempt),
            "conversation_id": conversation_id,
        }
        params = session_params(
            cents=cents,
            currency=self.currency,
            expires_at=expires_at,
            success_url=self.success_url,
            cancel_url=self.cancel_url,
            metadata=metadata,
            client_reference_id=guarantor_id,
            save_card=purpose == SAVE_CARD_PURPOSE,
        )
        key = idempotency_key(
            practice_id=self.practice_id,
            guarantor_id=guarantor_id,
            purpose=purpose,
            conversation_id=conversation_id,
            attempt=attempt,
            cents=cents,
        )
        try:
            session = await self.client.v1.checkout.sessions.create_async(
                params=cast(Any, params), options={"idempotency_key": key}
            )
        except stripe.StripeError as exc:
            log.warning(
                "stripe checkout session create failed: %s code=%s status=%s",
                type(exc).__name__,
                getattr(exc, "code", None),
                getattr(exc, "http_status", None),
            )
            raise PaymentLinkError("the card payment service is unavailable right now") from None
        data = session.to_dict()
        url = data.get("url")
        if not url or data.get("amount_total") not in (None, cents):
            raise PaymentLinkError("the card payment service returned an unusable link")
        stamp = data.get("expires_at")
        return PaymentLink(
            url=str(url),
            amount=(Decimal(cents) / 100).quantize(Decimal("0.01")),
            expires_at=datetime.fromtimestamp(int(stamp), UTC) if stamp else expires_at,
            provider="stripe",
            link_id=str(session.id),
        )

    async def expire_link(self, link_id: str) -> None:
        """Expire an open session (e.g. a newer link replaced it); already-closed ones are left alone."""
        try:
            await self.client.v1.checkout.sessions.expire_async(link_id)
        except stripe.InvalidRequestError:
            return
        except stripe.StripeError as exc:
            raise PaymentLinkError("the card payment service is unavailable right now") from exc
