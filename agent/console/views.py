"""What the console pages show, assembled from the PMS (system of record) and the record store."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from agent.accounts import account_detail, transfer_card
from agent.api_models import AccountDetail, TransferCardOut
from agent.conversation import Conversation
from agent.runtime import Runtime
from pms.types import Claim, LedgerLine
from tools.codes import describe

KIND_WORDS = {
    "charge": "Treatment",
    "payplan_charge": "Payment-plan charge",
    "insurance_payment": "Insurance paid",
    "patient_payment": "Patient paid",
    "writeoff": "Insurance write-off",
    "adjustment": "Adjustment",
    "refund": "Refund",
}
CLAIM_WORDS = {
    "unsent": "not sent yet",
    "hold": "on hold",
    "waiting": "waiting to be sent",
    "sent": "sent, awaiting the insurer",
    "received": "received by the insurer",
    "in_process": "being processed by the insurer",
    "denied": "denied",
}


@dataclass(frozen=True)
class LedgerRow:
    posted: Any
    what: str
    kind: str
    amount: Decimal
    pending_insurance: bool


@dataclass
class AccountView:
    detail: AccountDetail
    ledger: list[LedgerRow]
    claims: list[tuple[Claim, str]]
    conversations: list[Conversation]
    open_transfers: list[TransferCardOut] = field(default_factory=list)


def ledger_rows(lines: list[LedgerLine]) -> list[LedgerRow]:
    """Newest first, each charge named in plain language (CDT/CPT code → words)."""
    out = []
    for line in sorted(lines, key=lambda x: (x.posted_date, x.line_id), reverse=True):
        what = describe(line.code, line.description) if line.kind == "charge" else (line.description or "")
        out.append(
            LedgerRow(
                posted=line.posted_date,
                what=what[:1].upper() + what[1:] if what else KIND_WORDS.get(line.kind, line.kind),
                kind=KIND_WORDS.get(line.kind, line.kind.replace("_", " ")),
                amount=line.amount,
                pending_insurance=line.insurance_pending,
            )
        )
    return out


async def account_view(rt: Runtime, patient_id: str) -> AccountView | None:
    detail = await account_detail(rt, patient_id)
    if detail is None:
        return None
    gid = detail.guarantor_id
    ledger = await rt.pms.get_ledger(gid)
    claims = await rt.pms.get_claims(gid)
    conversations = await rt.records.list_conversations(gid, limit=20)
    return AccountView(
        detail=detail,
        ledger=ledger_rows(ledger),
        claims=[(c, CLAIM_WORDS.get(c.status, c.status)) for c in claims],
        conversations=conversations,
        open_transfers=[t for t in detail.transfers if t.status in ("waiting", "ringing")],
    )


async def open_transfer_cards(rt: Runtime) -> list[TransferCardOut]:
    tasks = await rt.records.list_staff_tasks(status="open", kind="transfer", patient_id=None)
    return [transfer_card(t) for t in tasks]


async def transfer_card_by_id(rt: Runtime, transfer_id: str) -> TransferCardOut | None:
    for task in await rt.records.list_staff_tasks(status=None, kind="transfer", patient_id=None):
        if task["task_id"] == transfer_id:
            return transfer_card(task)
    return None
