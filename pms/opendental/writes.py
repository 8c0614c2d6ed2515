"""Write-backs to Open Dental, idempotent by marker.

Open Dental has no idempotency keys: a repeated POST is a second record. Every request's note
already carries its `[cx:XXXXXXXX]` marker (the outbox adds it); each write is POSTed once, and an
ambiguous failure (timeout, reset, 5xx) returns `unknown`. Before the outbox tries again it calls
`reconcile_write`, which searches the patient's recent records for the marker: found →
`already_exists`, so a write whose response was lost is never duplicated.

Writes by kind: comm log → `POST /commlogs`; promise → a "Payment promise" comm log plus a staff
task (`POST /tasks`, standard tier and up); payment → `POST /payments` (only after the processor
confirmed capture; records, never charges); plan → `POST /payplans/Dynamic` over the procedures
that make up the balance; contact preferences → `PUT /patients/{PatNum}` (TxtMsgOk,
PreferContactMethod: idempotent) plus a comm log with the marker. A kind the tier cannot record
returns `queued_manual` (staff key it from `balanceline pms export-writebacks`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from pms.opendental import parse
from pms.opendental.client import OpenDentalAmbiguous, OpenDentalClient, OpenDentalError, Tier
from pms.opendental.conventions import ZERO, od_id, od_money, to_od_date, to_od_datetime, to_od_money
from pms.types import (
    Capabilities,
    CommLogWrite,
    ContactPreferenceWrite,
    PaymentPlanWrite,
    PaymentWrite,
    PromiseWrite,
    WriteMode,
    WriteResult,
)
from pms.writeback import MARKER, marked_note

Write = CommLogWrite | PromiseWrite | PaymentWrite | PaymentPlanWrite | ContactPreferenceWrite
COMM_TYPE = "Collections"  # the category-27 commlog type BalanceLine writes under
_MODE = {"phone": "Phone", "text": "Text", "email": "Email", "none": "None"}
_DIRECTION = {"sent": "Sent", "received": "Received", "neither": "Neither"}
_FREQUENCY = {
    "weekly": "Weekly",
    "every_other_week": "EveryOtherWeek",
    "monthly": "Monthly",
    "quarterly": "Quarterly",
}
_PAY_NAMES = {
    "card": ("credit card", "card", "visa"),
    "check": ("check", "cheque"),
    "cash": ("cash",),
    "portal": ("portal", "online"),
    "ach": ("ach", "bank"),
    "other": ("other",),
}


def _note(req: Write) -> tuple[str, str]:
    """The note on one line with its marker (kept if the outbox already added it)."""
    found = MARKER.search(req.note)
    if found:
        return " ".join(req.note.split()), found.group(0)
    return marked_note(req.note, req.idempotency_key)


def _manual(what: str, tier: str) -> WriteResult:
    return WriteResult(
        "queued_manual", message=f"Open Dental tier {tier!r} cannot record a {what}; queued for staff"
    )


class OpenDentalWrites:
    """Base of `OpenDentalPms`: connection state, capabilities, the five write-backs, `reconcile_write`."""

    def __init__(
        self,
        client: OpenDentalClient,
        *,
        practice_id: str,
        timezone: str,
        clock: Callable[[], datetime] | None = None,
        task_list_num: int = 1,
    ) -> None:
        self.client = client
        self.practice_id = practice_id
        self.tz_name = timezone
        self.tz = ZoneInfo(timezone)
        self.clock: Callable[[], datetime] = clock or (lambda: datetime.now(UTC))
        self.task_list_num = task_list_num
        self._pay_types: dict[str, str] | None = None

    @property
    def tier(self) -> Tier:
        return self.client.tier

    def capabilities(self) -> Capabilities:
        return capabilities_for(self.tier)

    async def close(self) -> None:
        await self.client.aclose()

    async def _patient_row(self, patient_id: str) -> dict[str, Any] | None:
        if not patient_id.isdigit():
            return None
        row = await self.client.get(f"/patients/{patient_id}", missing_ok=True)
        return row if isinstance(row, dict) and row.get("PatNum") else None

    async def _payment_types(self) -> dict[str, str]:
        if self._pay_types is None:
            defs = await self.client.get_all("/definitions", {"Category": 10})
            self._pay_types = {od_id(d.get("DefNum")): str(d.get("ItemName") or "") for d in defs}
        return self._pay_types

    async def write_comm_log(self, req: CommLogWrite) -> WriteResult:
        if self.capabilities().comm_log != "direct":
            return _manual("comm log", self.tier)
        note, _ = _note(req)
        return await self._post_commlog(
            req.patient_id, note, req.at, _MODE.get(req.mode, "None"), req.direction
        )

    async def record_promise(self, req: PromiseWrite) -> WriteResult:
        if self.capabilities().promise != "direct":
            return _manual("promise", self.tier)
        note, marker = _note(req)
        text = parse.promise_note(req.amount, req.due_on, note)
        result = await self._post_commlog(req.guarantor_id, text, self.clock(), "None", "neither")
        if result.status != "created":
            return result
        if not await self._ensure_task(req, marker):
            return WriteResult("unknown", result.external_id, "comm log recorded; follow-up task unconfirmed")
        return result

    async def record_payment(self, req: PaymentWrite) -> WriteResult:
        if self.capabilities().payment != "direct":
            return _manual("payment", self.tier)
        note, _ = _note(req)
        if f"[ref {req.processor_ref}]" not in note:
            note = f"{note} [ref {req.processor_ref}]"
        body = {
            "PatNum": int(req.guarantor_id),
            "PayAmt": to_od_money(req.amount),
            "PayType": int(await self._pay_type(req.method)),
            "PayDate": to_od_date(req.paid_on),
            "PayNote": note,
            "CheckNum": "",
            "isPatientPreferred": "true",
            "isPrepayment": "false",
        }
        return await self._create("/payments", body, "PayNum")

    async def create_payment_plan(self, req: PaymentPlanWrite) -> WriteResult:
        if self.capabilities().payment_plan != "direct":
            return _manual("payment plan", self.tier)
        note, _ = _note(req)
        proc_nums, adj_nums = await self._open_items(req.guarantor_id)
        if not proc_nums and not adj_nums:
            return WriteResult("failed", message="no open procedures or adjustments to attach the plan to")
        financed = req.total - req.down_payment
        count = req.installments or max(1, math.ceil(financed / req.installment_amount))
        body: dict[str, Any] = {
            "PatNum": int(req.guarantor_id),
            "Guarantor": int(req.guarantor_id),
            "NumberOfPayments": count,
            "procNums": proc_nums,
            "adjNums": adj_nums,
            "APR": "0",
            "DownPayment": to_od_money(req.down_payment),
            "Note": note,
            "ChargeFrequency": _FREQUENCY[req.frequency],
            "DatePayPlanStart": to_od_date(req.first_due),
        }
        return await self._create("/payplans/Dynamic", body, "PayPlanNum")

    async def update_contact_preferences(self, req: ContactPreferenceWrite) -> WriteResult:
        if self.capabilities().contact_preferences != "direct":
            return _manual("contact preference change", self.tier)
        row = await self._patient_row(req.patient_id)
        if row is None:
            return WriteResult("failed", message="unknown patient")
        changes: dict[str, Any] = {}
        if req.sms_ok is not None:
            changes["TxtMsgOk"] = "Yes" if req.sms_ok else "No"
        current = str(row.get("PreferContactMethod") or "None")
        if req.do_not_call:
            changes["PreferContactMethod"] = "DoNotCall"
        elif (req.email_ok is False and current == "Email") or (
            req.sms_ok is False and current == "TextMessage"
        ):
            changes["PreferContactMethod"] = "None"
        if changes:
            try:  # setting the same values again is harmless: a PUT is safe to repeat
                await self.client.put(f"/patients/{req.patient_id}", changes)
            except OpenDentalAmbiguous as exc:
                return WriteResult("unknown", message=str(exc))
            except OpenDentalError as exc:
                return WriteResult("failed", message=str(exc))
        note, _ = _note(req)
        text = f"Contact preferences updated: {', '.join(f'{k}={v}' for k, v in changes.items()) or 'none'}. {note}"
        result = await self._post_commlog(req.patient_id, text, self.clock(), "None", "neither")
        if result.status == "created":
            return WriteResult("created", req.patient_id, result.message)
        return result

    # ---- reconcile-before-retry ------------------------------------------------------------------

    async def reconcile_write(self, req: Write) -> WriteResult | None:
        """After an ambiguous failure: the record carrying this write's marker, if it landed.

        None means "not found": the caller may POST again. A promise found without its staff task
        gets the task now (the task is searched by marker first, too).
        """
        _, marker = _note(req)
        if isinstance(req, PaymentWrite):
            rows = await self.client.get_all("/payments", {"PatNum": req.guarantor_id})
            return _found(rows, "PayNote", "PayNum", marker)
        if isinstance(req, PaymentPlanWrite):
            rows = await self.client.get_all("/payplans", {"Guarantor": req.guarantor_id})
            return _found(rows, "Note", "PayPlanNum", marker)
        patient_id = req.guarantor_id if isinstance(req, PromiseWrite) else req.patient_id
        rows = await self.client.get_all("/commlogs", {"PatNum": patient_id})
        found = _found(rows, "Note", "CommlogNum", marker)
        if found is not None and isinstance(req, PromiseWrite) and not await self._ensure_task(req, marker):
            return WriteResult("unknown", found.external_id, "comm log found; follow-up task unconfirmed")
        if found is not None and isinstance(req, ContactPreferenceWrite):
            return WriteResult("already_exists", req.patient_id, found.message)
        return found

    # ---- helpers -----------------------------------------------------------------------------------

    async def _post_commlog(
        self, patient_id: str, note: str, at: Any, mode: str, direction: str
    ) -> WriteResult:
        body = {
            "PatNum": int(patient_id),
            "CommDateTime": to_od_datetime(at, self.tz),
            "commType": COMM_TYPE,
            "Note": note,
            "Mode_": mode,
            "SentOrReceived": _DIRECTION.get(direction, "Neither"),
        }
        return await self._create("/commlogs", body, "CommlogNum")

    async def _create(self, path: str, body: dict[str, Any], id_field: str) -> WriteResult:
        try:
            created = await self.client.post(path, body)
        except OpenDentalAmbiguous as exc:
            return WriteResult("unknown", message=str(exc))
        except OpenDentalError as exc:
            return WriteResult("failed", message=str(exc))
        new_id = od_id(created.get(id_field)) if isinstance(created, dict) else ""
        return WriteResult("created", new_id or None)

    async def _ensure_task(self, req: PromiseWrite, marker: str) -> bool:
        """A staff follow-up task for a promise (standard tier and up), once per marker. False when
        the task POST got no answer (it may exist: the next reconcile searches for it first)."""
        if self.tier not in ("standard", "payments"):
            return True
        tasks = await self.client.get_all("/tasks", {"KeyNum": req.guarantor_id, "ObjectType": "Patient"})
        if any(marker in str(t.get("Descript") or "") for t in tasks):
            return True
        body = {
            "TaskListNum": self.task_list_num,
            "KeyNum": int(req.guarantor_id),
            "ObjectType": "Patient",
            "DateTask": to_od_date(req.due_on),
            "Descript": f"Follow up: payment promised by {req.due_on.isoformat()}. {marker}",
        }
        try:
            await self.client.post("/tasks", body)
        except OpenDentalAmbiguous:
            return False
        except OpenDentalError:
            return True  # refused for good: the comm log (the record) is there; no task is worth a retry
        return True

    async def _pay_type(self, method: str) -> str:
        """The category-10 definition (payment type) whose name fits the method."""
        names = await self._payment_types()
        wanted = _PAY_NAMES.get(method, ("other",))
        for def_num, name in names.items():
            if any(w in name.lower() for w in wanted):
                return def_num
        if not names:
            raise OpenDentalError(400, "Open Dental has no payment types (definition category 10)")
        return next(iter(names))

    async def _open_items(self, guarantor_id: str) -> tuple[list[int], list[int]]:
        """Procedures and adjustments posted since the family balance was last zero or below."""
        rows = await self.client.get(f"/accountmodules/{guarantor_id}/ServiceDateView", {"isFamily": "true"})
        items = [r for r in (rows or []) if str(r.get("Type")) not in parse.TOTAL_ROWS]
        start = 0
        for i, r in enumerate(items):
            if od_money(r.get("AcctBal")) <= ZERO:
                start = i + 1
        procs, adjs = [], []
        for r in items[start:]:
            key = od_id(r.get("PrimaryKey"))
            if not key.isdigit() or od_money(r.get("Charge")) <= Decimal(0):
                continue
            if r.get("ObjectType") == "Procedure":
                procs.append(int(key))
            elif r.get("ObjectType") == "Adjustment":
                adjs.append(int(key))
        return procs, adjs


def capabilities_for(tier: Tier) -> Capabilities:
    """What each Open Dental permission tier lets the API record (the rest is queued for staff)."""
    comm: WriteMode = "direct" if tier != "read" else "manual"
    standard: WriteMode = "direct" if tier in ("standard", "payments") else "manual"
    money: WriteMode = "direct" if tier == "payments" else "manual"
    return Capabilities(
        comm_log=comm,
        promise=comm,
        payment=money,
        payment_plan=money,
        contact_preferences=standard,
        changes_since=True,
    )


def _found(rows: list[dict[str, Any]], note_field: str, id_field: str, marker: str) -> WriteResult | None:
    for row in rows:
        if marker in str(row.get(note_field) or ""):
            return WriteResult("already_exists", od_id(row.get(id_field)) or None, "found by marker")
    return None
