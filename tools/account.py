"""lookup_balance and explain_charges: what the verified patient owes, read only from the PMS.

`explain_charges` is the patient's explicit ask for detail, so it may name procedures (rule 32).
Open charges are found the way practice systems age accounts: insurance payments and write-offs
attach to their claim's charges (split by fee), every other credit pays the oldest charges first.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from pydantic import Field

from pms.types import Claim, LedgerLine
from tools.base import (
    CENT,
    NoArgs,
    Tool,
    ToolArgs,
    load_account,
    money,
    patient_balance,
    plain,
    say_date,
    set_outcome,
)
from tools.codes import describe
from tools.context import CallerState, ToolContext, ToolResult

PENDING_CLAIM = ("unsent", "hold", "waiting", "sent", "in_process")
ZERO = Decimal("0.00")


class LookupBalance(Tool):
    name = "lookup_balance"
    description = (
        "Read the verified patient's current balance from the practice system: what they owe now, the aging, "
        "any part still waiting on insurance, and their last payment. Takes no arguments."
    )
    Args = NoArgs

    async def run(self, ctx: ToolContext, state: CallerState, args: NoArgs) -> ToolResult:
        account = await load_account(ctx, state)
        balance = patient_balance(account)
        state.disclosed_balance = balance
        set_outcome(state, "info")
        await ctx.records.audit(
            "balance.disclosed",
            patient_id=state.patient_id,
            conversation_id=state.conversation_id,
            detail={"patient_balance": str(balance), "channel": state.channel},
        )
        if account is None:
            return ToolResult(
                ok=True, message="I don't see anything due right now.", data={"patient_balance": "0.00"}
            )
        a = account.aging
        data = {
            "patient_balance": plain(balance),
            "aging": {
                "bal_0_30": plain(a.bal_0_30),
                "bal_31_60": plain(a.bal_31_60),
                "bal_61_90": plain(a.bal_61_90),
                "bal_over_90": plain(a.bal_over_90),
            },
            "insurance_pending": plain(a.insurance_estimate),
            "last_payment": (
                {"amount": plain(account.last_payment_amount), "date": plain(account.last_payment_date)}
                if account.last_payment_date and account.last_payment_amount is not None
                else None
            ),
            "flags": sorted(f for f in account.flags if f in ("dispute", "hardship", "insurance_pending")),
        }
        if balance < 0:
            msg = f"You have a credit of {money(-balance)} on your account; nothing is due."
        elif balance == 0:
            msg = "You don't owe anything right now."
        else:
            msg = f"Your current balance is {money(balance)}."
            if a.bal_over_90 > 0:
                msg += f" {money(a.bal_over_90)} of that is more than 90 days old."
        if a.insurance_estimate > 0:
            msg += f" Another {money(a.insurance_estimate)} is waiting on insurance and isn't included."
        if data["last_payment"] and account.last_payment_amount and account.last_payment_date:
            msg += (
                f" Your last payment was {money(account.last_payment_amount)} "
                f"on {say_date(account.last_payment_date)}."
            )
        return ToolResult(ok=True, message=msg, data=data)


class ExplainChargesArgs(ToolArgs):
    limit: int = Field(5, ge=1, le=20, description="How many open charges to explain, newest first.")


@dataclass
class _Charge:
    line: LedgerLine
    insurance_paid: Decimal = ZERO
    written_off: Decimal = ZERO
    insurance_pending: Decimal = ZERO
    writeoff_pending: Decimal = ZERO
    patient_paid: Decimal = ZERO

    @property
    def fee(self) -> Decimal:
        return self.line.amount

    @property
    def patient_portion(self) -> Decimal:
        pending = self.insurance_pending + self.writeoff_pending
        return max(ZERO, self.fee - self.insurance_paid - self.written_off - pending)

    @property
    def owes(self) -> Decimal:
        return max(ZERO, self.patient_portion - self.patient_paid)

    @property
    def service_date(self) -> date:
        return self.line.service_date or self.line.posted_date


def open_charges(ledger: list[LedgerLine], claims: list[Claim]) -> list[_Charge]:
    """Every charge with its insurance, write-off and remaining patient part (FIFO for other credits)."""
    charges = [_Charge(line) for line in ledger if line.kind == "charge" and line.amount > 0]
    by_claim: dict[str, list[_Charge]] = defaultdict(list)
    for c in charges:
        if c.line.claim_id:
            by_claim[c.line.claim_id].append(c)
    claim_info = {cl.claim_id: cl for cl in claims}
    loose_credit = ZERO
    for line in ledger:
        if line.kind == "charge" or line.amount == 0:
            continue
        group = by_claim.get(line.claim_id or "")
        if group and line.kind in ("insurance_payment", "writeoff"):
            attr = "insurance_paid" if line.kind == "insurance_payment" else "written_off"
            for c, share in zip(group, _split(-line.amount, [c.fee for c in group]), strict=True):
                setattr(c, attr, getattr(c, attr) + share)
        elif line.kind != "payplan_charge":
            loose_credit -= line.amount  # credits are negative; refunds (positive) reduce the pool
    for claim_id, group in by_claim.items():
        claim = claim_info.get(claim_id)
        pending = any(c.line.insurance_pending for c in group) or (
            claim is not None and claim.status in PENDING_CLAIM
        )
        if pending and claim is not None:
            fees = [c.fee for c in group]
            estimate = max(ZERO, claim.ins_pay_estimate - claim.ins_paid)
            for c, share in zip(group, _split(estimate, fees), strict=True):
                c.insurance_pending = share
            # the contractual write-off the claim expects but that is not posted yet
            expected = max(ZERO, claim.writeoff - sum((c.written_off for c in group), ZERO))
            for c, share in zip(group, _split(expected, fees), strict=True):
                c.writeoff_pending = share
    for c in sorted(charges, key=lambda c: (c.service_date, c.line.line_id)):
        applied = min(c.patient_portion, max(ZERO, loose_credit))
        c.patient_paid = applied
        loose_credit -= applied
    return charges


def _split(total: Decimal, weights: list[Decimal]) -> list[Decimal]:
    """Split `total` across weights to the cent; the remainder lands on the last share."""
    whole = sum(weights, ZERO)
    if whole <= 0:
        return [ZERO for _ in weights]
    shares = [(total * w / whole).quantize(CENT, rounding=ROUND_HALF_UP) for w in weights]
    shares[-1] += total - sum(shares, ZERO)
    return shares


class ExplainCharges(Tool):
    name = "explain_charges"
    description = (
        "Explain, in plain language, the charges that make up the verified patient's balance: date of "
        "service, what the procedure was, what insurance paid or adjusted, what the patient owes, and "
        "pending claims. Use only when the patient asks what a charge is for."
    )
    Args = ExplainChargesArgs

    async def run(self, ctx: ToolContext, state: CallerState, args: ExplainChargesArgs) -> ToolResult:
        assert state.guarantor_id is not None
        account = await load_account(ctx, state)
        ledger = await ctx.pms.get_ledger(state.guarantor_id)
        claims = await ctx.pms.get_claims(state.guarantor_id)
        family = {p.patient_id: p.first_name for p in await ctx.pms.get_family(state.guarantor_id)}
        charges = [c for c in open_charges(ledger, claims) if c.owes > 0 or c.insurance_pending > 0]
        charges.sort(key=lambda c: (c.service_date, c.line.line_id), reverse=True)
        shown = charges[: args.limit]
        items = []
        sentences = []
        for c in shown:
            what = describe(c.line.code, c.line.description)
            who = family.get(c.line.patient_id) if c.line.patient_id != state.patient_id else None
            items.append(
                {
                    "service_date": plain(c.service_date),
                    "procedure": what,
                    "code": c.line.code,
                    "for": who,
                    "fee": plain(c.fee),
                    "insurance_paid": plain(c.insurance_paid),
                    "adjusted": plain(c.written_off),
                    "insurance_pending": plain(c.insurance_pending),
                    "expected_adjustment": plain(c.writeoff_pending),
                    "patient_paid": plain(c.patient_paid),
                    "you_owe": plain(c.owes),
                }
            )
            s = f"On {say_date(c.service_date)}, {what}{f' for {who}' if who else ''}: {money(c.fee)}"
            parts = []
            if c.insurance_paid:
                parts.append(f"insurance paid {money(c.insurance_paid)}")
            if c.written_off:
                parts.append(f"{money(c.written_off)} was adjusted off")
            if c.insurance_pending:
                parts.append(f"about {money(c.insurance_pending)} is still waiting on insurance")
            if c.writeoff_pending:
                parts.append(f"about {money(c.writeoff_pending)} should be adjusted off once it's processed")
            if c.patient_paid:
                parts.append(f"you've paid {money(c.patient_paid)}")
            parts.append(f"your part still due is {money(c.owes)}")
            sentences.append(s + "; " + ", ".join(parts) + ".")
        pending = [
            {
                "service_date": plain(cl.service_date),
                "carrier": cl.carrier,
                "status": cl.status,
                "estimate": plain(cl.ins_pay_estimate),
            }
            for cl in claims
            if cl.status in PENDING_CLAIM
        ]
        balance = patient_balance(account)
        state.disclosed_balance = balance
        set_outcome(state, "info")
        if not shown:
            msg = (
                "I don't have itemized charges to go through for your account right now. "
                "Our billing team can send you an itemized statement."
            )
        else:
            msg = " ".join(sentences)
            if len(charges) > len(shown):
                msg += f" There are {len(charges) - len(shown)} older charges as well."
        if pending:
            msg += (
                f" There {'is' if len(pending) == 1 else 'are'} {len(pending)} insurance claim"
                f"{'' if len(pending) == 1 else 's'} still being processed."
            )
        return ToolResult(
            ok=True,
            message=msg,
            data={
                "patient_balance": plain(balance),
                "charges": items,
                "more": len(charges) - len(shown),
                "pending_claims": pending,
            },
        )
