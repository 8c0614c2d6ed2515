"""Parsing what people say: dates of birth, amounts, promise dates, callback times; code names."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from tools.codes import CDT, CPT, describe
from tools.parsing import parse_amount, parse_callback_time, parse_dob, parse_promise_date

TODAY = date(2026, 5, 20)  # a Wednesday


@pytest.mark.parametrize(
    "text",
    [
        "03/14/1985",
        "3/14/1985",
        "3-14-85",
        "3.14.85",
        "1985-03-14",
        "03141985",
        "031485",
        "March 14 1985",
        "march 14, 1985",
        "Mar 14 '85",
        "14th of March, 1985",
        "the 14th of march 1985",
        "14 March 1985",
        "14/03/1985",
        "march fourteenth nineteen eighty five",
        "March fourteenth, nineteen eighty-five",
        "the fourteenth of march nineteen eighty five",
        "march fourteen eighty five",
        "three fourteen eighty five",
        "I was born on March 14th, 1985",
        "3 14 1985",
    ],
)
def test_dob_forms(text: str) -> None:
    assert parse_dob(text, TODAY) == date(1985, 3, 14)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("5/2/03", date(2003, 5, 2)),  # two-digit year: 2003 is in the past
        ("5/2/30", date(1930, 5, 2)),  # 2030 would be in the future
        ("May 5th, twenty oh five", date(2005, 5, 5)),
        ("january first two thousand", date(2000, 1, 1)),
        ("june twenty first nineteen seventy", date(1970, 6, 21)),
        ("two thousand and three, may second", None),  # year before month and day: too ambiguous
        ("February 30 1990", None),
        ("March 14 2090", None),  # in the future
        ("March 14 1850", None),  # older than anyone alive
        ("my birthday", None),
        ("", None),
        ("13/13/1990", None),
    ],
)
def test_dob_edge_cases(text: str, expected: date | None) -> None:
    assert parse_dob(text, TODAY) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("$50", "50.00"),
        ("50", "50.00"),
        ("50.5", "50.50"),
        ("$1,250.50", "1250.50"),
        ("50 bucks", "50.00"),
        ("fifty dollars", "50.00"),
        ("a hundred and twenty five", "125.00"),
        ("one hundred twenty-five dollars", "125.00"),
        ("two thousand", "2000.00"),
        ("fifty dollars and twenty five cents", "50.25"),
        ("50 dollars and 25 cents", "50.25"),
        ("0", "0.00"),
    ],
)
def test_amounts(text: str, expected: str) -> None:
    assert parse_amount(text) == Decimal(expected)


@pytest.mark.parametrize(
    "text", ["one fifty", "-50", "minus fifty", "1e9", "50.555", "fifty-ish", "lots", "", "$-5", "12 march"]
)
def test_amounts_refused(text: str) -> None:
    assert parse_amount(text) is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("today", date(2026, 5, 20)),
        ("tomorrow", date(2026, 5, 21)),
        ("friday", date(2026, 5, 22)),
        ("next friday", date(2026, 5, 22)),
        ("wednesday", date(2026, 5, 27)),  # said on a Wednesday: the next one
        ("next week monday", date(2026, 5, 25)),
        ("the 15th", date(2026, 6, 15)),  # already past this month
        ("on the 25th", date(2026, 5, 25)),
        ("the twenty fifth", date(2026, 5, 25)),
        ("12/5", date(2026, 12, 5)),
        ("6/1/2026", date(2026, 6, 1)),
        ("2026-06-01", date(2026, 6, 1)),
        ("June 5", date(2026, 6, 5)),
        ("5th of june", date(2026, 6, 5)),
        ("in 2 weeks", date(2026, 6, 3)),
        ("in ten days", date(2026, 5, 30)),
        ("end of the month", date(2026, 5, 31)),
        ("first of next month", date(2026, 6, 1)),
        ("soonish", None),
    ],
)
def test_promise_dates(text: str, expected: date | None) -> None:
    assert parse_promise_date(text, TODAY) == expected


CHI = ZoneInfo("America/Chicago")
NOW = datetime(2026, 5, 20, 16, 30, tzinfo=CHI)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("tomorrow at 3", datetime(2026, 5, 21, 15, 0, tzinfo=CHI)),
        ("3pm", datetime(2026, 5, 21, 15, 0, tzinfo=CHI)),  # 3 p.m. today has passed
        ("at 5:15 pm", datetime(2026, 5, 20, 17, 15, tzinfo=CHI)),
        ("after 5", datetime(2026, 5, 20, 17, 0, tzinfo=CHI)),
        ("monday morning", datetime(2026, 5, 25, 10, 0, tzinfo=CHI)),
        ("friday at 10:30 am", datetime(2026, 5, 22, 10, 30, tzinfo=CHI)),
        ("the 22nd at 2pm", datetime(2026, 5, 22, 14, 0, tzinfo=CHI)),
        ("in an hour", datetime(2026, 5, 20, 17, 30, tzinfo=CHI)),
        ("tomorrow at ten", datetime(2026, 5, 21, 10, 0, tzinfo=CHI)),
        ("this afternoon", None),  # already evening: ask again
        ("whenever", None),
    ],
)
def test_callback_times(text: str, expected: datetime | None) -> None:
    assert parse_callback_time(text, NOW) == expected


def test_code_table_covers_the_common_codes() -> None:
    assert len(CDT) >= 60 and len(CPT) >= 20
    for code in (
        "D0120",
        "D0210",
        "D1110",
        "D2740",
        "D2750",
        "D3310",
        "D3320",
        "D3330",
        "D4341",
        "D4342",
        "D4910",
        "D6010",
        "D7140",
        "D7210",
        "D9944",
    ):
        assert code in CDT
    assert "crown" in describe("D2740")
    assert "root canal" in describe("d3330 ")
    assert describe("99213") == "an office visit"
    assert describe("D1234") == "a dental procedure (code D1234)"
    assert describe("12345") == "a medical procedure (code 12345)"
    assert describe(None, "Broken appointment fee") == "Broken appointment fee"
