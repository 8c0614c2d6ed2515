"""The demo practice as Open Dental API data, for a loopback Open Dental server in tests.

Conventions follow the Open Dental API: enums as text, booleans as "true"/"false", dates
"yyyy-MM-dd" with "0001-01-01" for none, datetimes office-local "yyyy-MM-dd HH:mm:ss" without an
offset, money as strings ("1234.50"), phones exactly as the front desk typed them.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from dateutil.relativedelta import relativedelta

from pms.demo.catalog import PROCEDURES
from pms.snapshot import PracticeSnapshot
from pms.types import ContactPoint, LedgerLine, Patient

NO_DATE = "0001-01-01"
PAY_TYPES = {"check": "69", "cash": "70", "card": "71", "portal": "72", "ach": "73", "other": "74"}
PAY_TYPE_NAMES = {
    "69": "Check",
    "70": "Cash",
    "71": "Credit Card",
    "72": "Patient Portal",
    "73": "ACH",
    "74": "Other",
}
CLAIM_STATUS = {
    "unsent": "U",
    "hold": "H",
    "waiting": "W",
    "sent": "S",
    "received": "R",
    "in_process": "I",
    "denied": "R",
}
PREFER = {
    "none": "None",
    "do_not_call": "DoNotCall",
    "home": "HmPhone",
    "work": "WkPhone",
    "mobile": "WirelessPh",
    "email": "Email",
    "mail": "Mail",
    "text": "TextMessage",
}
TXT_OK = {"yes": "Yes", "no": "No", "unknown": "Unknown"}
PAT_STATUS = {"active": "Patient", "inactive": "Inactive", "deceased": "Deceased"}
APT_STATUS = {
    "scheduled": "Scheduled",
    "complete": "Complete",
    "broken": "Broken",
    "cancelled": "UnschedList",
}
COMM_MODE = {
    "phone": "Phone",
    "text": "Text",
    "email": "Email",
    "mail": "Mail",
    "in_person": "In Person",
    "none": "None",
}
COMM_DIR = {"sent": "Sent", "received": "Received", "neither": "Neither"}
LANG3 = {"en": "eng", "es": "spa", "vi": "vie", "so": "som", "ru": "rus", "hmn": "hmn", "ar": "ara"}
_ROW_TYPE = {
    "charge": ("Procedure", "Proc"),
    "patient_payment": ("PaySplit", "PatPay Att."),
    "insurance_payment": ("ClaimProc", "InsPay-Att."),
    "writeoff": ("ClaimProc", "WriteOff-Att."),
    "adjustment": ("Adjustment", "Adj-Att."),
    "payplan_charge": ("PayPlanCharge", "PayPlan Charge"),
    "refund": ("PaySplit", "PatPay Att."),
}


def od_money(amount: Decimal | None) -> str:
    return f"{amount:.2f}" if amount is not None else "0.00"


def od_date(d: date | None) -> str:
    return d.isoformat() if d else NO_DATE


def od_bool(b: bool) -> str:
    return "true" if b else "false"


def od_num(key: str) -> int | str:
    """Primary keys are integers in Open Dental; ids from other sources pass through unchanged."""
    return int(key) if key.isdigit() else key


def _phone(p: Patient, kind: str) -> ContactPoint | None:
    return next((c for c in p.phones if c.kind == kind), None)


def to_opendental_json(snapshot: PracticeSnapshot) -> dict[str, Any]:
    """Patients, aging, family ledgers (ServiceDateView rows), claims, payments, pay plans,
    appointments and commlogs keyed the way Open Dental's API names them."""
    tz = ZoneInfo(snapshot.practice.timezone)

    def local(dt: datetime | None) -> str:
        return dt.astimezone(tz).strftime("%Y-%m-%d %H:%M:%S") if dt else f"{NO_DATE} 00:00:00"

    latest: dict[str, str] = {}

    def touch(pid: str, stamp: str) -> None:
        if stamp > latest.get(pid, ""):
            latest[pid] = stamp

    for line in snapshot.ledger:
        touch(line.patient_id, f"{line.posted_date.isoformat()} 17:30:00")
    for c in snapshot.comms:
        touch(c.patient_id, local(c.at))
    accounts = {a.patient_id: a for a in snapshot.accounts}

    patients = []
    for p in snapshot.patients:
        mobile, home, work = (
            _phone(p, "mobile"),
            _phone(p, "home") or _phone(p, "landline"),
            _phone(p, "work"),
        )
        acct = accounts.get(p.patient_id)
        email = p.emails[0] if p.emails else None
        patients.append(
            {
                "PatNum": od_num(p.patient_id),
                "Guarantor": od_num(p.guarantor_id),
                "LName": p.last_name,
                "FName": p.first_name,
                "MiddleI": "",
                "Preferred": "",
                "Birthdate": od_date(p.date_of_birth),
                "PatStatus": PAT_STATUS[p.status],
                "WirelessPhone": mobile.raw or mobile.value if mobile else "",
                "HmPhone": home.raw or home.value if home else "",
                "WkPhone": work.raw or work.value if work else "",
                "Email": (email.raw or email.value) if email else "",
                "TxtMsgOk": TXT_OK[mobile.sms_consent] if mobile else "Unknown",
                "PreferContactMethod": PREFER[p.preferred_contact],
                "Language": LANG3.get(p.language, p.language),
                "State": p.state or "",
                "Zip": p.postal_code or "",
                "ClinicNum": 0,
                "BillingType": "Collections" if acct and "agency" in acct.flags else "Standard Account",
                "FamFinUrgNote": p.note if p.patient_id == p.guarantor_id else "",
                "BalTotal": od_money(acct.aging.total) if acct else "0.00",
                "EstBalance": od_money(acct.aging.patient_balance) if acct else "0.00",
                "DateTStamp": latest.get(
                    p.patient_id, f"{(snapshot.as_of - relativedelta(years=2)).isoformat()} 08:00:00"
                ),
            }
        )

    aging = []
    for a in snapshot.accounts:
        ag = a.aging
        aging.append(
            {
                "PatNum": od_num(a.patient_id),
                "Guarantor": od_num(a.patient_id),
                "Bal_0_30": od_money(ag.bal_0_30),
                "Bal_31_60": od_money(ag.bal_31_60),
                "Bal_61_90": od_money(ag.bal_61_90),
                "BalOver90": od_money(ag.bal_over_90),
                "BalTotal": od_money(ag.total),
                "Total": od_money(ag.total),
                "InsEst": od_money(ag.insurance_estimate),
                "InsWoEst": od_money(ag.writeoff_estimate),
                "EstBal": od_money(ag.patient_balance),
                "PatEstBal": od_money(ag.patient_balance),
                "PayPlanDue": od_money(ag.payplan_due),
                "Unearned": "0.00",
                "DateLastPay": od_date(a.last_payment_date),
                "DateLastStatement": od_date(a.last_statement_date),
            }
        )

    guarantor_of = {p.patient_id: p.guarantor_id for p in snapshot.patients}
    claims_by_id = {c.claim_id: c for c in snapshot.claims}
    family_lines: dict[str, list[LedgerLine]] = defaultdict(list)
    for line in snapshot.ledger:
        family_lines[guarantor_of[line.patient_id]].append(line)
    ledger = {gid: _service_date_view(lines, claims_by_id) for gid, lines in family_lines.items()}

    received = {
        x.claim_id: x.posted_date for x in snapshot.ledger if x.kind == "insurance_payment" and x.claim_id
    }
    claims = [
        {
            "ClaimNum": od_num(c.claim_id),
            "PatNum": od_num(c.patient_id),
            "ClaimStatus": CLAIM_STATUS[c.status],
            "ClaimType": "P",
            "CarrierName": c.carrier,
            "DateService": od_date(c.service_date),
            "DateSent": od_date(c.date_sent),
            "DateReceived": od_date(received.get(c.claim_id))
            if c.status in ("received", "denied")
            else NO_DATE,
            "ClaimFee": od_money(c.fee),
            "InsPayEst": od_money(c.ins_pay_estimate),
            "InsPayAmt": od_money(c.ins_paid),
            "WriteOff": od_money(c.writeoff),
            "ReasonUnderPaid": c.reason_underpaid,
        }
        for c in snapshot.claims
    ]

    payments = [
        {
            "PayNum": od_num(p.payment_id),
            "PatNum": od_num(p.guarantor_id),
            "PayAmt": od_money(p.amount),
            "PayDate": od_date(p.paid_on),
            "PayType": PAY_TYPES[p.method],
            "payType": PAY_TYPE_NAMES[PAY_TYPES[p.method]],
            "PayNote": p.note + (f" [ref {p.processor_ref}]" if p.processor_ref else ""),
            "CheckNum": p.note.split("check #")[1].rstrip(")") if "check #" in p.note else "",
            "DateEntry": od_date(p.posted_at.astimezone(tz).date() if p.posted_at else p.paid_on),
            "SecDateTEdit": local(p.posted_at),
        }
        for p in snapshot.payments
    ]

    payplans = [
        {
            "PayPlanNum": od_num(pl.plan_id),
            "PatNum": od_num(pl.guarantor_id),
            "Guarantor": od_num(pl.guarantor_id),
            "PayPlanDate": od_date(pl.first_due - relativedelta(months=1)),
            "APR": "0",
            "Note": pl.note,
            "CompletedAmt": od_money(pl.total),
            "PayAmt": od_money(pl.installment_amount),
            "NumberOfPayments": pl.installments,
            "DownPayment": od_money(pl.down_payment),
            "ChargeFrequency": {
                "weekly": "Weekly",
                "every_other_week": "EveryOtherWeek",
                "monthly": "Monthly",
                "quarterly": "Quarterly",
            }[pl.frequency],
            "DatePayPlanStart": od_date(pl.first_due),
            "IsClosed": od_bool(pl.status in ("completed", "cancelled")),
            "IsDynamic": "true",
            "PaidToDate": od_money(pl.paid_to_date),
            "PayPlanDue": od_money(accounts[pl.guarantor_id].aging.payplan_due)
            if pl.guarantor_id in accounts
            else "0.00",
            "PayPlanCharges": [
                {
                    "ChargeDate": od_date(pl.first_due + relativedelta(months=k)),
                    "Principal": od_money(
                        min(pl.installment_amount, pl.total - pl.down_payment - pl.installment_amount * k)
                    ),
                }
                for k in range(pl.installments)
            ],
        }
        for pl in snapshot.plans
    ]

    appointments = [
        {
            "AptNum": od_num(a.appointment_id),
            "PatNum": od_num(a.patient_id),
            "AptStatus": APT_STATUS[a.status],
            "AptDateTime": local(a.start),
            "Pattern": "//XXXXXX//",
            "Op": 1,
            "ProvNum": 1,
            "IsNewPatient": "false",
            "IsHygiene": od_bool(a.status == "scheduled"),
            "DateTStamp": local(a.start),
        }
        for a in snapshot.appointments
    ]

    commlogs = [
        {
            "CommlogNum": od_num(c.comm_id),
            "PatNum": od_num(c.patient_id),
            "CommDateTime": local(c.at),
            "commType": "Statement"
            if "statement" in c.note.lower() and c.mode in ("mail", "email")
            else "ApptRelated"
            if "ppointment" in c.note
            else "Collections",
            "Note": c.note,
            "Mode_": COMM_MODE[c.mode],
            "SentOrReceived": COMM_DIR[c.direction],
            "DateTStamp": local(c.at),
        }
        for c in snapshot.comms
    ]

    return {
        "practice": {
            "PracticeTitle": snapshot.practice.name,
            "PracticePhone": (snapshot.practice.phone or "")[2:],
            "TimeZone": snapshot.practice.timezone,
            "AsOf": od_date(snapshot.as_of),
        },
        "definitions": {
            "PaymentTypes": [{"DefNum": int(k), "ItemName": v} for k, v in PAY_TYPE_NAMES.items()]
        },
        "patients": patients,
        "aging": aging,
        "ledger": ledger,
        "claims": claims,
        "payments": payments,
        "payplans": payplans,
        "appointments": appointments,
        "commlogs": commlogs,
    }


def _service_date_view(lines: list[LedgerLine], claims: dict[str, Any]) -> list[dict[str, str]]:
    """One family's ledger as ServiceDateView rows, with Day Total rows and a final Overall Total."""
    rows: list[dict[str, str]] = []
    bal = ins_bal = Decimal("0.00")
    day_charge = day_credit = Decimal("0.00")
    counted: set[str] = set()
    ordered = sorted(lines, key=lambda x: (x.posted_date, x.kind != "charge", od_num(x.line_id)))
    for i, x in enumerate(ordered):
        obj, typ = _ROW_TYPE[x.kind]
        bal += x.amount
        if x.insurance_pending and x.claim_id and x.claim_id not in counted:
            counted.add(x.claim_id)
            ins_bal += claims[x.claim_id].ins_pay_estimate
        charge, credit = (x.amount, Decimal("0.00")) if x.amount > 0 else (Decimal("0.00"), -x.amount)
        day_charge += charge
        day_credit += credit
        ref = x.description
        if x.code:
            proc = PROCEDURES.get(x.code)
            surf = f"-{proc.surfaces}" if proc and proc.surfaces and x.tooth else ""
            ref = f"{x.code}:#{x.tooth}{surf}" if x.tooth else x.code
        rows.append(
            {
                "ObjectType": obj,
                "PrimaryKey": x.line_id,
                "Type": typ,
                "PatNum": x.patient_id,
                "ServiceDate": od_date(x.service_date or x.posted_date),
                "TransDate": od_date(x.posted_date),
                "Reference": ref,
                "Description": x.description,
                "Charge": od_money(charge) if charge else "",
                "Credit": od_money(credit) if credit else "",
                "InsBal": od_money(ins_bal),
                "AcctBal": od_money(bal),
            }
        )
        nxt = ordered[i + 1] if i + 1 < len(ordered) else None
        if nxt is None or nxt.posted_date != x.posted_date:
            rows.append(
                {
                    "ObjectType": "",
                    "PrimaryKey": "0",
                    "Type": "Day Total",
                    "PatNum": "0",
                    "ServiceDate": od_date(x.posted_date),
                    "TransDate": od_date(x.posted_date),
                    "Reference": "",
                    "Description": "",
                    "Charge": od_money(day_charge),
                    "Credit": od_money(day_credit),
                    "InsBal": od_money(ins_bal),
                    "AcctBal": od_money(bal),
                }
            )
            day_charge = day_credit = Decimal("0.00")
    rows.append(
        {
            "ObjectType": "",
            "PrimaryKey": "0",
            "Type": "Overall Total",
            "PatNum": "0",
            "ServiceDate": NO_DATE,
            "TransDate": NO_DATE,
            "Reference": "",
            "Description": "",
            "Charge": od_money(sum((x.amount for x in lines if x.amount > 0), Decimal("0.00"))),
            "Credit": od_money(-sum((x.amount for x in lines if x.amount < 0), Decimal("0.00"))),
            "InsBal": od_money(ins_bal),
            "AcctBal": od_money(bal),
        }
    )
    return rows
