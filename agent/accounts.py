"""Account views for staff and machines: the PMS (system of record) joined with what BalanceLine did."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from decimal import Decimal
from typing import Any

from agent.api_models import (
    AccountDetail,
    AccountListItem,
    AgingOut,
    ConsentOut,
    ConversationSummaryOut,
    LedgerSummaryOut,
    PaymentOut,
    PlanOut,
    PromiseOut,
    TransferCardOut,
)
from agent.payment_accounts import autopay_plans, promise_outcomes
from agent.runtime import Runtime
from pms.types import ZERO, AccountSummary, LedgerLine
from policies import scoring
from policies.types import Priority


async def _priority(rt: Runtime, account: AccountSummary, today: date) -> Priority:
    history = await rt.records.contact_history(account.guarantor.guarantor_id, now=rt.clock())
    return scoring.prioritise(account, history, rt.policy, today)


def _today(rt: Runtime) -> date:
    from zoneinfo import ZoneInfo

    return rt.clock().astimezone(ZoneInfo(rt.policy.practice.timezone)).date()


def list_item(account: AccountSummary, priority: Priority) -> AccountListItem:
    g = account.guarantor
    return AccountListItem(
        patient_id=g.patient_id,
        guarantor_id=g.guarantor_id,
        name=g.name,
        date_of_birth=g.date_of_birth,
        phones=[c.value for c in g.phones],
        timezone=g.timezone,
        patient_balance=account.aging.patient_balance,
        tier=priority.tier.value,
    )


async def account_list_items(rt: Runtime, accounts: list[AccountSummary]) -> list[AccountListItem]:
    today = _today(rt)
    return [list_item(a, await _priority(rt, a, today)) for a in accounts]


def ledger_summary(lines: list[LedgerLine]) -> LedgerSummaryOut:
    sums: dict[str, Decimal] = {}
    for line in lines:
        sums[line.kind] = sums.get(line.kind, ZERO) + line.amount
    return LedgerSummaryOut(
        charges=sums.get("charge", ZERO) + sums.get("payplan_charge", ZERO),
        insurance_paid=-sums.get("insurance_payment", ZERO),
        writeoffs=-sums.get("writeoff", ZERO),
        adjustments=sums.get("adjustment", ZERO) + sums.get("refund", ZERO),
        patient_paid=-sums.get("patient_payment", ZERO),
        lines=len(lines),
    )


def transfer_card(task: Mapping[str, Any]) -> TransferCardOut:
    ctx = task.get("context") or {}
    balance = ctx.get("balance")
    return TransferCardOut(
        transfer_id=task["task_id"],
        patient_id=task.get("patient_id"),
        status=ctx.get("transfer_status") or ("waiting" if task["status"] == "open" else "done"),
        verified=bool(ctx.get("verified")),
        balance=Decimal(str(balance)) if balance not in (None, "") else None,
        offered=[str(x) for x in ctx.get("offered") or []],
        objection=ctx.get("objection"),
        ask=ctx.get("ask"),
        summary=task.get("summary") or "",
        created_at=task["created_at"],
    )


async def account_detail(rt: Runtime, guarantor_id: str) -> AccountDetail | None:
    account = await rt.pms.get_account(guarantor_id)
    if account is None:
        patient = await rt.pms.get_patient(guarantor_id)
        if patient is None:
            return None
        account = await rt.pms.get_account(patient.guarantor_id)
        if account is None:
            return None
    g = account.guarantor
    priority = await _priority(rt, account, _today(rt))
    ledger = await rt.pms.get_ledger(g.guarantor_id)
    plans = await rt.pms.get_payment_plans(g.guarantor_id)
    promises = await rt.pms.get_promises(g.guarantor_id)
    kept = await promise_outcomes(rt, g.guarantor_id)  # kept / partly kept / broken, matched to payments
    payments = await rt.pms.get_payments(g.guarantor_id)
    conversations = await rt.records.list_conversations(g.guarantor_id)
    transfers = [
        t for t in await rt.records.list_staff_tasks(status=None, kind="transfer", patient_id=g.patient_id)
    ]
    consent = await rt.records.consent_state(g.patient_id, [c.value for c in g.contacts])
    pms_sms = [c.sms_consent for c in g.phones]
    if consent.get("sms") == "unknown" and pms_sms:
        consent["sms"] = (
            "opted_in"
            if "yes" in pms_sms
            else ("opted_out" if all(s == "no" for s in pms_sms) else "unknown")
        )
    flags = sorted(set(account.flags) | set(g.flags) | await rt.records.account_flags(g.guarantor_id))
    a = account.aging
    base = list_item(account, priority)
    return AccountDetail(
        **base.model_dump(),
        aging=AgingOut(
            bal_0_30=a.bal_0_30,
            bal_31_60=a.bal_31_60,
            bal_61_90=a.bal_61_90,
            bal_over_90=a.bal_over_90,
            insurance_estimate=a.insurance_estimate,
            patient_balance=a.patient_balance,
        ),
        flags=flags,
        consent=ConsentOut(
            sms=consent.get("sms", "unknown"),
            voice=consent.get("voice", "unknown"),
            email=consent.get("email", "unknown"),
        ),
        ledger_summary=ledger_summary(ledger),
        plans=[
            PlanOut(
                plan_id=p.plan_id,
                status=p.status,
                installment_amount=p.installment_amount,
                installments=p.installments,
                frequency=p.frequency,
                first_due=p.first_due,
                down_payment=p.down_payment,
            )
            for p in plans
        ],
        promises=[
            PromiseOut(
                promise_id=p.promise_id,
                amount=p.amount,
                due_on=p.due_on,
                status=p.status if p.status != "open" else kept.get((p.amount, p.due_on), p.status),
            )
            for p in promises
        ],
        payments=[
            PaymentOut(
                payment_id=p.payment_id,
                amount=p.amount,
                paid_on=p.paid_on,
                method=p.method,
                processor_ref=p.processor_ref,
            )
            for p in payments
        ],
        conversations=[
            ConversationSummaryOut(
                conversation_id=c.conversation_id,
                channel=c.channel,
                direction=c.direction,
                started_at=c.started_at,
                outcome=c.state.outcome,
                summary=c.summary,
            )
            for c in conversations
        ],
        transfers=[transfer_card(t) for t in transfers],
        tier_reasons=list(priority.reasons),
        autopay_plans=await autopay_plans(rt, g.guarantor_id),
    )
