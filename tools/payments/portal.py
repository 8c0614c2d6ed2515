"""The no-Stripe fallback: the practice's own payment portal from policy.

The portal URL is the same for everyone and cannot lock an amount, so the link carries the amount
only for what we say ("enter $X"); tools tell the patient the portal will ask for account details.
"""

from __future__ import annotations

from decimal import Decimal

from policies.config import PracticePolicy
from tools.context import PaymentLink, PaymentLinkError


class PortalLinks:
    """`PaymentLinks` backed by `policy.practice.portal_url` (provider "portal", no amount lock)."""

    def __init__(self, policy: PracticePolicy) -> None:
        self.url = policy.practice.portal_url

    async def create_link(
        self, *, guarantor_id: str, amount: Decimal, purpose: str, attempt: int, conversation_id: str
    ) -> PaymentLink:
        if not self.url:
            raise PaymentLinkError("no payment portal is configured (practice.portal_url)")
        if amount <= 0:
            raise PaymentLinkError("a payment link needs a positive amount")
        return PaymentLink(url=self.url, amount=amount, expires_at=None, provider="portal", link_id=None)
