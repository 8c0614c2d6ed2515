"""Transcript scrubbing: cards (written and spoken), CVV, expiry, DOB, SSN, phones, e-mail."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from policies.redaction import contains_card_number, luhn_valid, redact


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("my card is 4242 4242 4242 4242", "my card is [card]"),
        ("4242-4242-4242-4242 exp 12/27 cvv 123", "[card] exp [exp] cvv [cvv]"),
        ("amex 3782 822463 10005", "amex [card]"),
        ("4242424242424241 is off by one", "[number] is off by one"),
        ("ref 1234567890123456789012", "ref [number]"),
        ("four two four two four two four two four two four two four two four two", "[card]"),
        (
            "it's four two four two, four two four two, four two four two, four two four two ok",
            "it's [card] ok",
        ),
        ("the security code is 4 5 6", "the security code is [cvv]"),
        ("CVV: 1234.", "CVV: [cvv]."),
        ("the cvv is one two three", "the cvv is [cvv]"),
        ("expires 03/2027", "expires [exp]"),
        ("expiration date is March 2027", "expiration date is [exp]"),
        ("born 03/14/1985", "born [dob]"),
        ("dob 3-14-85", "dob [dob]"),
        ("it's 1985-03-14", "it's [dob]"),
        ("March 14th 1985", "[dob]"),
        ("Mar. 14, 1985", "[dob]"),
        ("14 March 1985", "[dob]"),
        ("the 14th of March, 1985", "the [dob]"),
        ("march fourteenth nineteen eighty five", "[dob]"),
        ("the fourteenth of march nineteen eighty-five", "[dob]"),
        ("june twenty first two thousand three", "[dob]"),
        ("my birthday is March 14th", "my birthday is [dob]"),
        ("date of birth: 3/14", "date of birth: [dob]"),
        ("call me at (312) 555-0101", "call me at [phone …0101]"),
        ("+13125550101 or 312.555.0102 or 1-312-555-0103", "[phone …0101] or [phone …0102] or [phone …0103]"),
        ("three one two five five five zero one zero one", "[phone …0101]"),
        ("uk +44 7911 123456", "uk [phone …3456]"),
        ("ann.lee+bills@example.co.uk wrote", "[email] wrote"),
        ("ssn 123-45-6789", "ssn [ssn]"),
        ("social security number is 123 45 6789", "social security number is [ssn]"),
        ("I paid $1,234.56 yesterday", "I paid $1,234.56 yesterday"),
        ("my appointment is May 5", "my appointment is May 5"),
        ("I owe 350 dollars", "I owe 350 dollars"),
        ("claim 20240105", "claim 20240105"),
        ("I paid 100, 200, 300, 400, 500 and 600", "I paid 100, 200, 300, 400, 500 and 600"),
        ("it's 4242, 4242, 4242, 4242", "it's [card]"),
    ],
)
def test_redact_table(text: str, expected: str) -> None:
    assert redact(text) == expected


@pytest.mark.parametrize(
    ("text", "has_card"),
    [
        ("4242 4242 4242 4242", True),
        ("4242424242424242", True),
        ("4242-4242-4242-4242", True),
        ("378282246310005", True),
        ("four two four two four two four two four two four two four two four two", True),
        ("four two four two four two four two 4242 4242", True),
        ("double four double two ...", False),
        ("4242 4242 4242 4241", False),
        ("call 312 555 0101", False),
        ("my number is 312 4242 4242 4242 4242", True),
        ("", False),
    ],
)
def test_contains_card_number(text: str, has_card: bool) -> None:
    assert contains_card_number(text) is has_card


def test_luhn() -> None:
    assert luhn_valid("79927398713") and not luhn_valid("79927398710")
    assert not luhn_valid("42a2")


# --- property: a Luhn-valid PAN anywhere in any text never survives ------------------------------------


def _with_check_digit(body: str) -> str:
    for d in "0123456789":
        if luhn_valid(body + d):
            return body + d
    raise AssertionError("unreachable")


@st.composite
def pans(draw: st.DrawFn) -> str:
    length = draw(st.integers(13, 19))
    body = draw(st.text("0123456789", min_size=length - 1, max_size=length - 1))
    pan = _with_check_digit(draw(st.sampled_from("3456")) + body[1:])
    sep = draw(st.sampled_from(["", " ", "-"]))
    group = draw(st.sampled_from([4, 5, 6]))
    return sep.join(pan[i : i + group] for i in range(0, len(pan), group))


filler = st.text(alphabet=st.characters(codec="utf-8"), max_size=40)  # utf-8: no lone surrogates


@settings(max_examples=200, deadline=None)
@given(pan=pans(), before=filler, after=filler)
def test_property_embedded_pan_is_always_removed(pan: str, before: str, after: str) -> None:
    digits = re.sub(r"[^0-9]", "", pan)
    out = redact(before + pan + after)
    assert not contains_card_number(out)
    if not re.search(r"[0-9]", before + after):
        assert digits not in re.sub(r"[^0-9]", "", out)
        assert "[card]" in out or "[number]" in out
    assert contains_card_number(before + " " + pan + " " + after)
