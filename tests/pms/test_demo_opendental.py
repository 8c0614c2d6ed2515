"""The Open Dental-shaped export of the demo practice follows the API's data conventions."""

from __future__ import annotations

import json
import re
from decimal import Decimal
from functools import cache
from typing import Any

from pms.demo import PERSONAS, generate, to_opendental_json
from pms.phones import to_e164
from pms.snapshot import PracticeSnapshot

MONEY = re.compile(r"^-?\d+\.\d{2}$")
DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
LOCAL_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$")  # office-local, no offset


@cache
def data() -> tuple[PracticeSnapshot, dict[str, Any]]:
    snap = generate(patients=400)
    return snap, json.loads(json.dumps(to_opendental_json(snap)))  # plain JSON all the way down


def test_patients_follow_open_dental_conventions() -> None:
    snap, od = data()
    assert len(od["patients"]) == len(snap.patients)
    by_num = {p["PatNum"]: p for p in od["patients"]}
    for p in snap.patients:
        row = by_num[int(p.patient_id)]
        assert row["Guarantor"] == int(p.guarantor_id)
        assert DATE.match(row["Birthdate"]) and LOCAL_DATETIME.match(row["DateTStamp"])
        assert row["TxtMsgOk"] in ("Yes", "No", "Unknown")
        assert row["PreferContactMethod"] in (
            "None", "DoNotCall", "HmPhone", "WkPhone", "WirelessPh", "Email", "Mail", "TextMessage",
        )  # fmt: skip
        assert row["PatStatus"] in ("Patient", "Inactive", "Deceased")
        mobile = next((c for c in p.phones if c.kind == "mobile"), None)
        assert row["WirelessPhone"] == (mobile.raw if mobile else "")
        if mobile:
            assert to_e164(row["WirelessPhone"]) == mobile.value
        assert MONEY.match(row["BalTotal"]) and MONEY.match(row["EstBalance"])
    opted_out = by_num[int(PERSONAS["sms_opted_out"].patient_id)]
    assert opted_out["TxtMsgOk"] == "No" and opted_out["PreferContactMethod"] == "WirelessPh"
    assert by_num[int(PERSONAS["deceased"].patient_id)]["PatStatus"] == "Deceased"
    assert by_num[int(PERSONAS["spanish_speaker"].patient_id)]["Language"] == "spa"
    assert "attorney / bankruptcy" in by_num[int(PERSONAS["attorney"].patient_id)]["FamFinUrgNote"]
    landline = by_num[int(PERSONAS["landline_only"].patient_id)]
    assert landline["WirelessPhone"] == "" and landline["HmPhone"]


def test_aging_rows_are_string_money_that_adds_up() -> None:
    snap, od = data()
    accounts = {int(a.patient_id): a for a in snap.accounts}
    assert len(od["aging"]) == len(accounts)
    for row in od["aging"]:
        money = {k: Decimal(v) for k, v in row.items() if isinstance(v, str) and MONEY.match(v)}
        assert {"Bal_0_30", "Bal_31_60", "Bal_61_90", "BalOver90", "InsEst", "BalTotal", "PayPlanDue"} <= set(
            money
        )
        assert (
            money["Bal_0_30"] + money["Bal_31_60"] + money["Bal_61_90"] + money["BalOver90"]
            == money["BalTotal"]
        )
        assert money["EstBal"] == money["BalTotal"] - money["InsEst"] - money["InsWoEst"]
        assert money["BalTotal"] == accounts[row["PatNum"]].aging.total
        assert DATE.match(row["DateLastPay"]) and DATE.match(row["DateLastStatement"])
    no_statement = [r for r in od["aging"] if accounts[r["PatNum"]].last_statement_date is None]
    assert no_statement and all(r["DateLastStatement"] == "0001-01-01" for r in no_statement)


def test_service_date_view_rows_are_strings_and_total_to_the_balance() -> None:
    snap, od = data()
    totals = {a.patient_id: a.aging.total for a in snap.accounts}
    assert od["ledger"]
    for gid, rows in od["ledger"].items():
        assert all(isinstance(v, str) for r in rows for v in r.values())
        items = [r for r in rows if r["Type"] not in ("Day Total", "Overall Total")]
        assert {r["Type"] for r in items} <= {
            "Proc",
            "PatPay Att.",
            "InsPay-Att.",
            "WriteOff-Att.",
            "Adj-Att.",
        }
        charge = sum((Decimal(r["Charge"]) for r in items if r["Charge"]), Decimal(0))
        credit = sum((Decimal(r["Credit"]) for r in items if r["Credit"]), Decimal(0))
        assert charge - credit == totals[gid]
        assert rows[-1]["Type"] == "Overall Total" and Decimal(rows[-1]["AcctBal"]) == totals[gid]
        assert any(r["Type"] == "Day Total" for r in rows)
        procs = [r for r in items if r["Type"] == "Proc"]
        assert all(re.match(r"^D\d{4}(:#\w+(-[A-Z]+)?)?$", r["Reference"]) for r in procs)


def test_claims_payments_plans_appointments_commlogs() -> None:
    snap, od = data()
    statuses = {c["ClaimStatus"] for c in od["claims"]}
    assert statuses <= set("UHWSRI") and {"S", "R"} <= statuses
    for c in od["claims"]:
        assert all(MONEY.match(c[k]) for k in ("ClaimFee", "InsPayEst", "InsPayAmt", "WriteOff"))
        if c["ClaimStatus"] in "UH":
            assert c["DateSent"] == "0001-01-01"
    denied = {c.claim_id for c in snap.claims if c.status == "denied"}
    for c in od["claims"]:
        if str(c["ClaimNum"]) in denied:
            assert c["ClaimStatus"] == "R" and c["InsPayAmt"] == "0.00" and c["ReasonUnderPaid"]
    just_paid = PERSONAS["payment_just_posted"]
    last = max(
        (p for p in od["payments"] if str(p["PatNum"]) == just_paid.guarantor_id), key=lambda p: p["PayNum"]
    )
    assert (
        last["SecDateTEdit"] == f"{snap.as_of.isoformat()} 09:52:00"
        and last["PayDate"] == snap.as_of.isoformat()
    )
    assert all(MONEY.match(p["PayAmt"]) and p["PayType"] for p in od["payments"])
    for plan in od["payplans"]:
        assert plan["IsClosed"] in ("true", "false") and plan["ChargeFrequency"] == "Monthly"
        assert len(plan["PayPlanCharges"]) == plan["NumberOfPayments"]
        charged = sum(Decimal(c["Principal"]) for c in plan["PayPlanCharges"])
        assert charged + Decimal(plan["DownPayment"]) == Decimal(plan["CompletedAmt"])
    assert {a["AptStatus"] for a in od["appointments"]} <= {"Scheduled", "Complete", "Broken", "UnschedList"}
    assert all(LOCAL_DATETIME.match(a["AptDateTime"]) and a["IsNewPatient"] in ("true", "false")
               for a in od["appointments"])  # fmt: skip
    assert {c["Mode_"] for c in od["commlogs"]} <= {"None", "Email", "Mail", "Phone", "In Person", "Text"}
    assert {c["SentOrReceived"] for c in od["commlogs"]} <= {"Neither", "Sent", "Received"}
    assert all(c["Note"] and LOCAL_DATETIME.match(c["CommDateTime"]) for c in od["commlogs"])
