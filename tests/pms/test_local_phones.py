"""Pure helpers of the local PMS: phone normalisation, name folding, applying a payment to aging."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pms.local.aging import Buckets, apply_payment
from pms.local.convert import name_key
from pms.phones import to_e164

D = Decimal


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("(312) 555-0101", "+13125550101"),
        ("312.555.0101 ext 4", "+13125550101"),
        ("312-555-0101 x12", "+13125550101"),
        ("+1 312 555 0101", "+13125550101"),
        ("3125550101", "+13125550101"),
        ("13125550101", "+13125550101"),
        ("1-312-555-0101", "+13125550101"),
        ("  (808) 555 1234 ", "+18085551234"),
        ("+44 20 7946 0958", "+442079460958"),
        ("0044 20 7946 0958", "+442079460958"),
        ("555-0101", None),  # no area code
        ("000-000-0000", None),
        ("123", None),
        ("n/a", None),
        ("", None),
        (None, None),
    ],
)
def test_to_e164(raw: str | None, expected: str | None) -> None:
    assert to_e164(raw) == expected


def test_to_e164_default_region() -> None:
    assert to_e164("020 7946 0958", default_region="GB") == "+442079460958"
    assert to_e164("020 7946 0958") is None  # not a valid US number


@pytest.mark.parametrize(
    ("name", "key"),
    [
        ("  José ", "jose"),
        ("GARCÍA", "garcia"),
        ("O'Brien", "obrien"),
        ("Mary-Ann", "maryann"),
        ("Straße", "strasse"),
    ],
)
def test_name_key_folds_case_accents_and_punctuation(name: str, key: str) -> None:
    assert name_key(name) == key


def buckets(d0: str, d31: str, d61: str, d90: str, balance: str) -> Buckets:
    total = D(d0) + D(d31) + D(d61) + D(d90)
    return Buckets(D(d0), D(d31), D(d61), D(d90), total, D(balance), date(2025, 1, 1))


def test_payment_takes_oldest_bucket_first() -> None:
    after = apply_payment(buckets("100", "50", "25", "75", "250"), D("90.00"))
    assert (after.bal_over_90, after.bal_61_90, after.bal_31_60, after.bal_0_30) == (
        D(0),
        D(10),
        D(50),
        D(100),
    )
    assert (after.patient_balance, after.total, after.balance_since) == (D(160), D(160), date(2025, 1, 1))


def test_paying_in_full_clears_balance_since_and_overpaying_leaves_credit() -> None:
    paid = apply_payment(buckets("10", "0", "0", "0", "10"), D("10"))
    assert (paid.patient_balance, paid.balance_since, paid.bal_0_30) == (D(0), None, D(0))
    over = apply_payment(buckets("10", "0", "0", "0", "10"), D("25"))
    assert (over.patient_balance, over.total, over.bal_0_30) == (D(-15), D(-15), D(0))


def test_non_positive_payment_is_rejected() -> None:
    with pytest.raises(ValueError):
        apply_payment(buckets("10", "0", "0", "0", "10"), D("0"))


cents = st.integers(min_value=0, max_value=500_000).map(lambda c: D(c) / 100)


@given(cents, cents, cents, cents, st.integers(min_value=1, max_value=3_000_000).map(lambda c: D(c) / 100))
def test_payment_never_creates_negative_buckets_and_conserves_money(
    d0: Decimal, d31: Decimal, d61: Decimal, d90: Decimal, amount: Decimal
) -> None:
    before = Buckets(d0, d31, d61, d90, d0 + d31 + d61 + d90, d0 + d31 + d61 + d90, None)
    after = apply_payment(before, amount)
    parts = (after.bal_0_30, after.bal_31_60, after.bal_61_90, after.bal_over_90)
    assert all(p >= 0 for p in parts)
    assert before.total - after.total == amount
    taken = before.total - sum(parts)
    assert taken == min(amount, before.total)
    # a younger bucket is only touched once every older one is empty
    if after.bal_0_30 < d0:
        assert after.bal_31_60 == after.bal_61_90 == after.bal_over_90 == 0
