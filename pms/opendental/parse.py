"""Open Dental JSON rows → `pms.types` (money Decimal, aware datetimes, E.164 phones).

Flags Open Dental has no field for come from where offices keep them: `PatStatus` Deceased,
`BillingType` "Collections" (placed with an agency) and the family's urgent financial note
(`FamFinUrgNote`: "attorney", "bankruptcy", "disputes", "hardship", "wrong number").
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from pms.csv_import.geo import timezone_for_state
from pms.csv_import.values import flags_from_note, parse_language, parse_preferred, parse_sms
from pms.opendental.conventions import ZERO, od_bool, od_date, od_datetime, od_id, od_int, od_money
from pms.phones import to_e164
from pms.types import (
    AccountSummary,
    Aging,
    Appointment,
    Claim,
    CommEntry,
    ContactPoint,
    Flag,
    LedgerLine,
    Patient,
    Payment,
    PaymentPlan,
    Promise,
)

STATUS = {"patient": "active", "deceased": "deceased"}
CLAIM_STATUS = {"U": "unsent", "H": "hold", "W": "waiting", "S": "sent", "R": "received", "I": "in_process"}
APT_STATUS = {"scheduled": "scheduled", "complete": "complete", "broken": "broken"}
COMM_MODE = {"phone": "phone", "text": "text", "email": "email", "mail": "mail", "in person": "in_person"}
FREQUENCY = {
    "weekly": "weekly",
    "everyotherweek": "every_other_week",
    "monthly": "monthly",
    "quarterly": "quarterly",
}
LEDGER_KIND = {
    "Proc": "charge",
    "Adj-Att.": "adjustment",
    "Adj": "adjustment",
    "PatPay Att.": "patient_payment",
    "PatPay": "patient_payment",
    "InsPay-Att.": "insurance_payment",
    "InsPay": "insurance_payment",
    "WriteOff-Att.": "writeoff",
    "WriteOff": "writeoff",
    "PayPlan Charge": "payplan_charge",
    "Unallocated": "patient_payment",
}
TOTAL_ROWS = frozenset({"Day Total", "Overall Total"})
METHOD_WORDS = (
    ("card", "card"),
    ("credit", "card"),
    ("check", "check"),
    ("cash", "cash"),
    ("portal", "portal"),
)
PROMISE_PREFIX = "Payment promise:"


def patient(row: dict[str, Any], practice_tz: str) -> Patient:
    """One `patients` row; TxtMsgOk is the wireless phone's texting consent ("No" covers every phone)."""
    txt = parse_sms(str(row.get("TxtMsgOk") or "Unknown"))
    contacts: list[ContactPoint] = []
    seen: set[str] = set()
    for field_name, kind in (("WirelessPhone", "mobile"), ("HmPhone", "home"), ("WkPhone", "work")):
        raw = str(row.get(field_name) or "").strip()
        number = to_e164(raw)
        if number is None or number in seen:
            continue
        seen.add(number)
        consent = txt if kind == "mobile" or txt == "no" else "unknown"
        contacts.append(ContactPoint("phone", number, kind, consent, raw=raw))  # type: ignore[arg-type]
    email = str(row.get("Email") or "").strip()
    if "@" in email:
        contacts.append(ContactPoint("email", email.lower(), "email", raw=email))
    preferred = parse_preferred(str(row.get("PreferContactMethod") or "None")) or "none"
    marked = {"mobile": "mobile", "text": "mobile", "home": "home", "work": "work", "email": "email"}
    want = marked.get(preferred)
    contacts = [_preferred(c, c.kind == want) for c in contacts]
    state = str(row.get("State") or "").strip().upper() or None
    note = str(row.get("FamFinUrgNote") or "")
    status = STATUS.get(str(row.get("PatStatus") or "Patient").strip().lower(), "inactive")
    flags = set(flags_from_note(note)) & {Flag.ATTORNEY.value, Flag.WRONG_NUMBER.value, Flag.DECEASED.value}
    if status == "deceased":
        flags.add(Flag.DECEASED.value)
    return Patient(
        patient_id=od_id(row["PatNum"]),
        guarantor_id=od_id(row.get("Guarantor")) or od_id(row["PatNum"]),
        first_name=str(row.get("FName") or "").strip(),
        last_name=str(row.get("LName") or "").strip(),
        date_of_birth=od_date(row.get("Birthdate")),
        contacts=tuple(contacts),
        timezone=timezone_for_state(state) or practice_tz,
        language=parse_language(str(row.get("Language") or "")) or "en",
        status=status,  # type: ignore[arg-type]
        preferred_contact=preferred,
        postal_code=str(row.get("Zip") or "").strip() or None,
        state=state,
        flags=frozenset(flags),
        note=note,
    )


def _preferred(c: ContactPoint, yes: bool) -> ContactPoint:
    if c.is_preferred == yes:
        return c
    return ContactPoint(c.channel, c.value, c.kind, c.sms_consent, yes, c.raw)


def account_flags(
    guarantor: Patient, billing_type: str, patient_balance: Decimal, total: Decimal, ins: Decimal
) -> frozenset[str]:
    flags = set(flags_from_note(guarantor.note)) | set(guarantor.flags)
    if billing_type.strip().lower() in ("collections", "collection agency", "sent to collections"):
        flags.add(Flag.AGENCY.value)
    if total < 0 or patient_balance < 0:
        flags.add(Flag.CREDIT_BALANCE.value)
    if total > 0 and patient_balance <= 0 and ins > 0:
        flags.add(Flag.INSURANCE_PENDING.value)
    return frozenset(flags)


def aging(row: dict[str, Any], *, bulk: bool = False) -> Aging:
    """An Aging endpoint row, or (`bulk`) a guarantor row of the bulk query (write-off estimate:
    the open claims' WriteOff, as `WoEst`)."""
    total = od_money(row.get("Total", row.get("BalTotal")))
    ins = od_money(row.get("InsEst"))
    wo = od_money(row.get("WoEst" if bulk else "InsWoEst"))
    est = None if bulk else row.get("PatEstBal", row.get("EstBal"))
    return Aging(
        bal_0_30=od_money(row.get("Bal_0_30")),
        bal_31_60=od_money(row.get("Bal_31_60")),
        bal_61_90=od_money(row.get("Bal_61_90")),
        bal_over_90=od_money(row.get("BalOver90")),
        total=total,
        insurance_estimate=ins,
        writeoff_estimate=wo,
        patient_balance=od_money(est) if est not in (None, "") else total - ins - wo,
        payplan_due=od_money(row.get("PayPlanDue")),
        as_of=od_date(row.get("AsOf")),
    )


def _summary(guarantor: Patient, ag: Aging, billing_type: str, row: dict[str, Any]) -> AccountSummary:
    return AccountSummary(
        guarantor=guarantor,
        aging=ag,
        last_payment_date=od_date(row.get("DateLastPay")),
        last_statement_date=od_date(row.get("DateLastStatement")),
        flags=account_flags(guarantor, billing_type, ag.patient_balance, ag.total, ag.insurance_estimate),
        open_claims=od_int(row.get("OpenClaims") or 0),
    )


def account(guarantor: Patient, aging_row: dict[str, Any], billing_type: str) -> AccountSummary:
    """`GET /accountmodules/{PatNum}/Aging` plus the guarantor."""
    return _summary(guarantor, aging(aging_row), billing_type, aging_row)


def worklist_account(row: dict[str, Any], practice_tz: str) -> AccountSummary:
    """A row of the bulk aging query (guarantor columns of the `patient` table)."""
    return _summary(patient(row, practice_tz), aging(row, bulk=True), str(row.get("BillingType") or ""), row)


def ledger(rows: list[dict[str, Any]], claim_of: dict[str, tuple[str, bool]]) -> list[LedgerLine]:
    """ServiceDateView rows (total rows skipped); `claim_of` maps ProcNum / ClaimProcNum → (ClaimNum, pending)."""
    out: list[LedgerLine] = []
    for r in rows:
        typ = str(r.get("Type") or "").strip()
        if typ in TOTAL_ROWS or not typ:
            continue
        kind = LEDGER_KIND.get(typ, "adjustment")
        amount = od_money(r.get("Charge")) - od_money(r.get("Credit"))
        if kind == "patient_payment" and amount > 0:
            kind = "refund"
        key = od_id(r.get("PrimaryKey"))
        claim_id, pending = claim_of.get(key, ("", False))
        code, tooth = _reference(str(r.get("Reference") or ""))
        posted = od_date(r.get("TransDate")) or od_date(r.get("ServiceDate"))
        if posted is None:
            continue
        out.append(
            LedgerLine(
                line_id=key,
                patient_id=od_id(r.get("PatNum")),
                kind=kind,  # type: ignore[arg-type]
                posted_date=posted,
                amount=amount,
                description=str(r.get("Description") or r.get("Reference") or ""),
                code=code if kind == "charge" else None,
                service_date=od_date(r.get("ServiceDate")),
                tooth=tooth,
                claim_id=claim_id or None,
                insurance_pending=pending and kind == "charge",
            )
        )
    return out


def _reference(ref: str) -> tuple[str | None, str | None]:
    """ "D2393:#14-MOD-C3(P)" → ("D2393", "14"); "D1110" → ("D1110", None)."""
    head, _, rest = ref.partition(":")
    code = head.strip() if head[:1] in "DdCc" and head[1:5].isdigit() else None
    tooth = None
    if rest.startswith("#"):
        tooth = rest[1:].split("-", 1)[0].strip() or None
    return (code.upper() if code else None), tooth


def claim(row: dict[str, Any]) -> Claim:
    status = CLAIM_STATUS.get(str(row.get("ClaimStatus") or "").strip().upper(), "sent")
    reason = str(row.get("ReasonUnderPaid") or "")
    if status == "received" and reason and od_money(row.get("InsPayAmt")) == ZERO:
        status = "denied"
    return Claim(
        claim_id=od_id(row["ClaimNum"]),
        patient_id=od_id(row.get("PatNum")),
        carrier=str(row.get("CarrierName") or ""),
        status=status,  # type: ignore[arg-type]
        service_date=od_date(row.get("DateService")) or od_date(row.get("DateSent")),  # type: ignore[arg-type]
        fee=od_money(row.get("ClaimFee")),
        ins_pay_estimate=od_money(row.get("InsPayEst")),
        ins_paid=od_money(row.get("InsPayAmt")),
        writeoff=od_money(row.get("WriteOff")),
        date_sent=od_date(row.get("DateSent")),
        reason_underpaid=reason,
    )


def payment(row: dict[str, Any], type_names: dict[str, str], tz: ZoneInfo) -> Payment:
    name = (str(row.get("payType") or "") or type_names.get(od_id(row.get("PayType")), "")).lower()
    method = next((m for word, m in METHOD_WORDS if word in name), "other")
    note = str(row.get("PayNote") or "")
    ref = None
    if "[ref " in note:
        ref = note.split("[ref ", 1)[1].split("]", 1)[0].strip() or None
    return Payment(
        payment_id=od_id(row["PayNum"]),
        guarantor_id=od_id(row.get("PatNum")),
        amount=od_money(row.get("PayAmt")),
        paid_on=od_date(row.get("PayDate")),  # type: ignore[arg-type]
        method=method,  # type: ignore[arg-type]
        processor_ref=ref,
        note=note,
        posted_at=od_datetime(row.get("SecDateTEdit"), tz),
    )


def payment_plan(row: dict[str, Any], today: Any) -> PaymentPlan:
    total = od_money(row.get("CompletedAmt"))
    paid = od_money(row.get("PaidToDate"))
    closed = od_bool(row.get("IsClosed"))
    due = od_money(row.get("PayPlanDue"))
    status = (
        "completed"
        if closed and paid >= total
        else "cancelled"
        if closed
        else "past_due"
        if due > 0
        else "active"
    )
    charges = row.get("PayPlanCharges") or []
    installments = od_int(row.get("NumberOfPayments") or len(charges))
    freq = str(row.get("ChargeFrequency") or "Monthly").replace(" ", "").lower()
    return PaymentPlan(
        plan_id=od_id(row["PayPlanNum"]),
        guarantor_id=od_id(row.get("Guarantor")) or od_id(row.get("PatNum")),
        status=status,  # type: ignore[arg-type]
        total=total,
        installment_amount=od_money(row.get("PayAmt")),
        installments=installments,
        frequency=FREQUENCY.get(freq, "monthly"),  # type: ignore[arg-type]
        first_due=od_date(row.get("DatePayPlanStart")) or od_date(row.get("PayPlanDate")) or today,
        down_payment=od_money(row.get("DownPayment")),
        paid_to_date=paid,
        note=str(row.get("Note") or ""),
    )


def appointment(row: dict[str, Any], tz: ZoneInfo) -> Appointment | None:
    start = od_datetime(row.get("AptDateTime"), tz)
    if start is None:
        return None
    status = APT_STATUS.get(str(row.get("AptStatus") or "").strip().lower(), "cancelled")
    return Appointment(od_id(row["AptNum"]), od_id(row.get("PatNum")), start, status)  # type: ignore[arg-type]


def comm(row: dict[str, Any], tz: ZoneInfo) -> CommEntry | None:
    at = od_datetime(row.get("CommDateTime"), tz)
    if at is None:
        return None
    mode = COMM_MODE.get(str(row.get("Mode_") or "").strip().lower(), "none")
    direction = str(row.get("SentOrReceived") or "Neither").strip().lower()
    return CommEntry(
        comm_id=od_id(row["CommlogNum"]),
        patient_id=od_id(row.get("PatNum")),
        at=at,
        mode=mode,  # type: ignore[arg-type]
        direction=direction if direction in ("sent", "received") else "neither",  # type: ignore[arg-type]
        note=str(row.get("Note") or ""),
    )


def promise_note(amount: Decimal, due_on: Any, note: str) -> str:
    """The comm-log text of a payment promise (read back by `promise`)."""
    text = f"{PROMISE_PREFIX} ${amount:.2f} by {due_on.isoformat()}."
    return f"{text} {note}".strip() if note else text


def promise(entry: CommEntry, guarantor_id: str, today: Any) -> Promise | None:
    """A promise comm log ("Payment promise: $50.00 by 2026-11-06. …") → Promise; others → None."""
    if not entry.note.startswith(PROMISE_PREFIX):
        return None
    try:
        head = entry.note[len(PROMISE_PREFIX) :].strip()
        amount_text, _, rest = head.partition(" by ")
        amount = od_money(amount_text.lstrip("$"))
        due = od_date(rest[:10])
    except ValueError:
        return None
    if due is None:
        return None
    return Promise(entry.comm_id, guarantor_id, amount, due, "open", entry.at, entry.note)
