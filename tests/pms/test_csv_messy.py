"""Real-world export mess: each bad row is rejected with a reason and the good rows still import."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from pms.csv_import import CsvFormatError, ImportResult, parse_aging
from pms.csv_import.values import parse_date, parse_money, split_name
from pms.types import Flag, PracticeInfo

DATA = Path(__file__).parent / "data"
AS_OF = date(2026, 11, 2)
PRACTICE = PracticeInfo("maple-grove", "Maple Grove Family Dental", "America/Chicago")
D = Decimal


def _od(path: Path = DATA / "od_aging_messy.csv", contacts: Path | None = None) -> ImportResult:
    return parse_aging(path, "opendental", as_of=AS_OF, contacts_path=contacts, practice=PRACTICE)


def _reasons(result: ImportResult) -> dict[int, str]:
    return {r.row_number: r.reason for r in result.rejected if r.file == "aging"}


def test_bad_rows_are_rejected_with_reasons_and_good_rows_import() -> None:
    result = _od()
    reasons = _reasons(result)
    assert "bad amount in '0-30  Days': '12.3.4'" in reasons[7]
    assert reasons[8] == "missing guarantor name"
    assert "aging buckets add up to 2000.00, more than the Total 1375.00" in reasons[9]
    assert reasons[10] == "blank row"
    assert "does not equal Total − Ins Est − W/O Est = 265.00" in reasons[14]
    assert "bad amount" in reasons[15] and "row has 12 fields but the header has 11" in reasons[15]
    assert set(reasons) == {7, 8, 9, 10, 14, 15}
    assert result.rejected[0].raw["GUARANTOR"] == "Nguyen, Grace"  # the raw row, keyed by the file's header
    accounts = {a.patient_id: a for a in result.snapshot.accounts}
    assert set(accounts) == {"101", "102", "106", "107", "108", "111", "112"}
    assert result.counts == {
        "rows": 13, "imported": 7, "rejected": 6, "total_rows_skipped": 1, "derived_ids": 0,
        "zero_balance_accounts": 0, "credit_balances": 2, "insurance_pending": 1, "contacts": 0,
        "contacts_rejected": 0,
    }  # fmt: skip
    assert any("report total row skipped ('Totals')" in w for w in result.warnings)
    assert any("blank line(s) at the end" in w for w in result.warnings)
    bell = accounts["102"].aging
    assert (bell.bal_0_30, bell.bal_31_60, bell.total, bell.patient_balance) == (
        D("1200"),
        D("650"),
        D("1850"),
        D("1850"),
    )
    assert accounts["101"].last_payment_date == date(2026, 10, 15)
    assert accounts["107"].last_payment_date == date(2026, 10, 24)  # ISO dates too


def test_credits_trailing_minus_insurance_pending_and_tolerance() -> None:
    accounts = {a.patient_id: a for a in _od().snapshot.accounts}
    fischer, lund, patel, price = accounts["106"], accounts["108"], accounts["107"], accounts["112"]
    assert fischer.aging.total == D("-85.00") and Flag.CREDIT_BALANCE.value in fischer.flags
    assert (
        lund.aging.total == lund.aging.patient_balance == D("-30.00")
        and Flag.CREDIT_BALANCE.value in lund.flags
    )
    assert patel.aging.patient_balance == 0 and Flag.INSURANCE_PENDING.value in patel.flags
    assert (patel.aging.insurance_estimate, patel.aging.writeoff_estimate) == (D("556.87"), D("371.25"))
    assert price.aging.patient_balance == D("960.00")  # the file's 960.01 is within a cent or two
    assert (price.guarantor.first_name, price.guarantor.last_name) == ("Steven", "Price")  # "(Steve)" dropped
    for a in accounts.values():
        ag = a.aging
        assert ag.patient_balance == ag.total - ag.insurance_estimate - ag.writeoff_estimate
        assert ag.as_of == AS_OF


def test_bom_and_windows_line_endings_give_the_same_result(tmp_path: Path) -> None:
    text = (DATA / "od_aging_messy.csv").read_text(encoding="utf-8")
    crlf = tmp_path / "od_bom_crlf.csv"
    crlf.write_bytes(b"\xef\xbb\xbf" + text.replace("\n", "\r\n").encode("utf-8"))
    plain, windows = _od(), _od(crlf)
    assert windows.snapshot == plain.snapshot
    assert _reasons(windows) == _reasons(plain)
    assert windows.counts == plain.counts


def test_windows_1252_file_is_read_with_a_warning(tmp_path: Path) -> None:
    path = tmp_path / "cp1252.csv"
    path.write_bytes(
        "Guarantor,0-30 Days,31-60 Days,61-90 Days,> 90 Days,Total,-Ins Est,Patient\r\n"
        '"Hernández, María",$10.00,$0.00,$0.00,$0.00,$10.00,$0.00,$10.00\r\n'.encode("cp1252")
    )
    result = _od(path)
    (account,) = result.snapshot.accounts
    assert account.guarantor.last_name == "Hernández" and account.patient_id.startswith("csv-")
    assert any("Windows-1252" in w for w in result.warnings)


def test_dentrix_file_passed_as_open_dental_names_the_missing_columns() -> None:
    with pytest.raises(CsvFormatError) as err:
        _od(DATA / "dentrix_aging.csv")
    assert err.value.missing == ["> 90 Days", "-Ins Est", "Patient"]
    assert err.value.suggested == "dentrix"
    assert "'> 90 Days'" in str(err.value) and "--format dentrix" in str(err.value)


def test_open_dental_file_passed_as_dentrix_is_refused_too() -> None:
    with pytest.raises(CsvFormatError) as err:
        parse_aging(DATA / "od_aging_messy.csv", "dentrix", as_of=AS_OF, practice=PRACTICE)
    assert "91+" in err.value.missing and "INSR Estimate" in err.value.missing
    assert err.value.suggested == "opendental"


def test_a_file_that_is_not_an_aging_report() -> None:
    with pytest.raises(CsvFormatError) as err:
        parse_aging(DATA / "contacts_messy.csv", "generic", as_of=AS_OF, practice=PRACTICE)
    assert "Total" in err.value.missing


def test_dentrix_export() -> None:
    result = parse_aging(DATA / "dentrix_aging.csv", "dentrix", as_of=AS_OF, practice=PRACTICE)
    assert result.rejected == []
    accounts = {a.patient_id: a for a in result.snapshot.accounts}
    okafor = accounts["11"]
    assert okafor.aging.bal_over_90 == okafor.aging.patient_balance == D("1250.00")
    assert (okafor.last_payment_date, okafor.last_payment_amount) == (date(2026, 10, 8), D("150.00"))
    assert okafor.last_statement_date == date(2026, 10, 31)
    assert result.agreed_payments == {"11": D("150.00")}
    assert [c.value for c in okafor.guarantor.phones] == ["+17635550111"]
    assert okafor.guarantor.phones[0].raw == "(763) 555-0111"
    patel = accounts["9"]
    assert Flag.INSURANCE_PENDING.value in patel.flags and patel.aging.insurance_estimate == D("928.12")
    fischer = accounts["8"]
    assert fischer.last_payment_date == date(2026, 8, 18) and fischer.last_payment_amount is None
    assert fischer.guarantor.phones == ()


def test_generic_export_derives_stable_ids_from_name_phone_and_birthday() -> None:
    first = parse_aging(DATA / "generic_aging.csv", "generic", as_of=AS_OF, practice=PRACTICE)
    again = parse_aging(DATA / "generic_aging.csv", "generic", as_of=AS_OF, practice=PRACTICE)
    assert first.snapshot == again.snapshot
    ids = [a.patient_id for a in first.snapshot.accounts]
    assert ids[2] == "A-77" and ids[0] != ids[1] and all(i.startswith("csv-") for i in ids[:2])
    assert first.counts["derived_ids"] == 3
    smiths = {a.patient_id: a for a in first.snapshot.accounts if a.guarantor.last_name == "Smith"}
    assert {a.guarantor.date_of_birth for a in smiths.values()} == {date(1970, 3, 4), date(1985, 11, 30)}
    (dup,) = first.rejected
    assert (
        dup.row_number == 5
        and f"duplicate account {ids[0]}" in dup.reason
        and "add an id column" in dup.reason
    )


def test_contacts_merge_with_messy_values() -> None:
    result = _od(contacts=DATA / "contacts_messy.csv")
    contacts_rejects = {r.row_number: r.reason for r in result.rejected if r.file == "contacts"}
    assert contacts_rejects == {7: "duplicate patient_id 107 (first seen on line 6)", 8: "missing last name"}
    patients = {p.patient_id: p for p in result.snapshot.patients}
    carter = patients["101"]
    assert [(c.kind, c.value, c.sms_consent, c.is_preferred) for c in carter.contacts] == [
        ("mobile", "+17635550101", "yes", True),
        ("email", "emily.carter@example.com", "unknown", False),
    ]
    assert carter.emails[0].raw == "Emily.Carter@Example.com" and carter.preferred_contact == "text"
    assert carter.timezone == "America/Chicago" and carter.language == "en"
    tanya = patients["104"]
    assert tanya.guarantor_id == "102" and tanya.preferred_contact == "home"
    assert [c.sms_consent for c in tanya.phones if c.kind == "mobile"] == ["no"]
    assert patients["106"].date_of_birth is None  # 13/45/1962 is reported, not guessed
    patel = patients["107"]
    assert [(c.kind, c.value, c.raw) for c in patel.phones] == [
        ("work", "+16125550144", "(612) 555-0144 x12")
    ]
    assert (
        patel.timezone == "Pacific/Honolulu" and patel.language == "en" and patel.preferred_contact == "none"
    )
    assert patients["111"].language == "es" and patients["112"].date_of_birth == date(1981, 2, 14)
    assert patients["112"].preferred_contact == "do_not_call"
    assert patients["120"].timezone == "America/Phoenix"
    for fragment in ("13/45/1962", "'555-1234' is not a valid number", "'Fax'", "'Klingon'", "blank line"):
        assert any(fragment in w for w in result.warnings), fragment

    accounts = {a.patient_id: a for a in result.snapshot.accounts}
    assert accounts["101"].guarantor is carter
    assert Flag.ATTORNEY.value in accounts["111"].flags and Flag.ATTORNEY.value in patients["111"].flags
    assert Flag.DISPUTE.value in accounts["112"].flags
    assert accounts["120"].aging.total == 0  # on file, not on the report: nothing owed
    assert Flag.DECEASED.value in accounts["121"].flags and patients["121"].status == "deceased"
    assert "105" not in accounts  # its aging row was rejected; it is not in the contacts file either
    assert result.counts["zero_balance_accounts"] == 2 and result.counts["contacts_rejected"] == 2


def test_no_zero_account_is_invented_for_a_guarantor_whose_row_was_rejected(tmp_path: Path) -> None:
    contacts = tmp_path / "contacts.csv"
    contacts.write_text(
        "patient_id,guarantor_id,first,last\n103,103,Grace,Nguyen\n109,109,Dorothy,Hansen\n130,130,Al,Dahl\n"
    )
    result = _od(contacts=contacts)
    accounts = {a.patient_id for a in result.snapshot.accounts}
    assert "103" not in accounts and "109" not in accounts and "130" in accounts
    assert any("no account created for 103" in w for w in result.warnings)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("$1,234.56", D("1234.56")), ("(12.00)", D("-12.00")), ("12.00-", D("-12.00")), ("-$5", D("-5.00")),
        ("$-5.50", D("-5.50")), ("0", D("0.00")), ("  $7.5 ", D("7.50")), ("12.00 CR", D("-12.00")),
        ("($1,000.00)", D("-1000.00")), (".99", D("0.99")), ("", None),
    ],
)  # fmt: skip
def test_parse_money(text: str, value: Decimal | None) -> None:
    assert parse_money(text) == value


@pytest.mark.parametrize("text", ["12.3.4", "abc", "1,23.45", "$12.345", "12,00", "--5"])
def test_parse_money_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        parse_money(text)


def test_parse_date_and_names() -> None:
    assert parse_date("11/02/2026", pivot_year=2026) == date(2026, 11, 2)
    assert parse_date("2026-11-02 09:52:00", pivot_year=2026) == date(2026, 11, 2)
    assert parse_date("3/4/70", pivot_year=2026) == date(1970, 3, 4)
    assert parse_date("3/4/19", pivot_year=2026) == date(2019, 3, 4)
    assert parse_date("0001-01-01", pivot_year=2026) is None
    with pytest.raises(ValueError):
        parse_date("13/45/1962", pivot_year=2026)
    assert split_name("Carter, Emily J") == ("Emily J", "Carter")
    assert split_name("Emily Carter") == ("Emily", "Carter")
    assert split_name("  ,  ") is None


def test_extra_fields_from_an_unquoted_comma_are_rejected(tmp_path: Path) -> None:
    path = tmp_path / "shifted.csv"
    path.write_text(
        "PatNum,Guarantor,0-30 Days,31-60 Days,61-90 Days,> 90 Days,Total,-Ins Est,Patient,Last Pay Date\n"
        "7,Jensen, Robert,$5.00,$0.00,$0.00,$0.00,$5.00,$0.00,$5.00,10/15/2026\n"
        '8,"Berg, Ann",$5.00,$0.00,$0.00,$0.00,$5.00,$0.00,$5.00,10/15/2026,,\n'
    )
    result = _od(path)
    assert [a.patient_id for a in result.snapshot.accounts] == ["8"]  # empty trailing fields are harmless
    (rejected,) = result.rejected
    assert rejected.row_number == 2 and rejected.reason.startswith("row has 11 fields but the header has 10")
    assert rejected.raw["column 11"] == "10/15/2026"
