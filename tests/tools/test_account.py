"""lookup_balance and explain_charges read the PMS, and only the PMS."""

from __future__ import annotations

from decimal import Decimal

from tests.tools.conftest import JOSE, MARIA, World
from tools.account import open_charges


async def test_lookup_balance_is_the_pms_balance(world: World) -> None:
    box = world.box()
    state = await world.verified(box, JOSE)
    result = await box.invoke(state, "lookup_balance", {})
    assert result.ok
    assert result.data["patient_balance"] == "550.00"
    assert state.disclosed_balance == Decimal("550.00")
    assert "$550.00" in result.message
    assert "$80.00" in result.message and "insurance" in result.message  # the pending part, not included
    assert "$50.00" in result.message  # last payment
    assert result.data["aging"]["bal_61_90"] == "390.00"
    assert "crown" not in result.message.lower()  # minimum necessary: no procedures unless asked
    assert any(a["kind"] == "balance.disclosed" for a in await world.records.list_audit())


async def test_lookup_matches_demo_accounts(world: World) -> None:
    page = await world.pms.list_accounts(has_balance=True, limit=12)
    checked = 0
    for account in page.items:
        p = account.guarantor
        if (
            p.patient_id.startswith("t-")
            or p.date_of_birth is None
            or p.status != "active"
            or "deceased" in p.flags
        ):
            continue
        box = world.box()
        state = world.state(contact=None, candidates=[p.patient_id])
        verified = await box.invoke(
            state,
            "verify_identity",
            {
                "first_name": p.first_name,
                "last_name": p.last_name,
                "date_of_birth": p.date_of_birth.isoformat(),
            },
        )
        assert verified.ok, verified.message
        result = await box.invoke(state, "lookup_balance", {})
        fresh = await world.pms.get_account(p.patient_id)
        assert fresh is not None
        assert Decimal(result.data["patient_balance"]) == fresh.aging.patient_balance
        checked += 1
    assert checked >= 5


async def test_explain_charges_itemises_the_open_charges(world: World) -> None:
    box = world.box()
    state = await world.verified(box, JOSE)
    result = await box.invoke(state, "explain_charges", {})
    assert result.ok
    items = {i["code"]: i for i in result.data["charges"]}
    assert set(items) == {"D2740", "D0120", "D1110"}
    crown, exam, cleaning = items["D2740"], items["D0120"], items["D1110"]
    assert (
        "crown" in crown["procedure"]
        and crown["insurance_paid"] == "500.00"
        and crown["adjusted"] == "200.00"
    )
    assert crown["patient_paid"] == "50.00" and crown["you_owe"] == "450.00"  # the payment went to the oldest
    assert exam["you_owe"] == "60.00" and "checkup" in exam["procedure"]
    assert cleaning["insurance_pending"] == "80.00" and cleaning["you_owe"] == "40.00"
    assert sum(Decimal(i["you_owe"]) for i in items.values()) == Decimal("550.00")
    assert [i["code"] for i in result.data["charges"]] == ["D1110", "D0120", "D2740"]  # newest first
    assert len(result.data["pending_claims"]) == 1
    assert "insurance paid $500.00" in result.message and "still being processed" in result.message
    limited = await box.invoke(state, "explain_charges", {"limit": 1})
    assert len(limited.data["charges"]) == 1 and limited.data["more"] == 2


async def test_explain_charges_names_the_family_member(world: World) -> None:
    box = world.box()
    state = await world.verified(box, MARIA)
    result = await box.invoke(state, "explain_charges", {})
    (item,) = result.data["charges"]
    assert item["for"] == "Sofia" and item["procedure"] == "an unspecified dental procedure"
    assert "for Sofia" in result.message


async def test_open_charges_add_up_to_the_pms_balance_for_demo_accounts(world: World) -> None:
    """The FIFO itemisation agrees with the PMS aging, cent for cent, on every demo ledger."""
    page = await world.pms.list_accounts(has_balance=False, limit=200)
    checked = 0
    for account in page.items:
        ledger = await world.pms.get_ledger(account.patient_id)
        if not ledger or account.aging.patient_balance < 0:  # credit balances owe nothing
            continue
        charges = open_charges(ledger, await world.pms.get_claims(account.patient_id))
        assert all(Decimal("0") <= c.owes <= c.fee for c in charges)
        assert sum((c.owes for c in charges), Decimal("0")) == account.aging.patient_balance, (
            account.patient_id
        )
        checked += 1
    assert checked >= 20
