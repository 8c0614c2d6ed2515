"""Text normalisation for TTS: money, dates, phone numbers, digit strings, abbreviations, percent."""

from __future__ import annotations

import pytest

from telephony.text_normalise import digits_spoken, money_words, number_words, speakable


@pytest.mark.parametrize(
    ("text", "spoken"),
    [
        # money
        ("$1,234.56", "one thousand two hundred thirty-four dollars and fifty-six cents"),
        ("Your balance is $120.50.", "Your balance is one hundred twenty dollars and fifty cents."),
        ("$1", "one dollar"),
        ("$1.01", "one dollar and one cent"),
        ("$0.05", "five cents"),
        ("$0", "zero dollars"),
        ("$5.5", "five dollars and fifty cents"),
        ("$2,000,000", "two million dollars"),
        ("$100 and $101", "one hundred dollars and one hundred one dollars"),
        # dates
        ("due 11/02", "due November second"),
        ("due 2026-11-02", "due November second"),
        ("on 3/1.", "on March first."),
        ("on 11/02/2026", "on November second, twenty twenty-six"),
        ("on 12/31/25", "on December thirty-first, twenty twenty-five"),
        ("13/45", "thirteen/forty-five"),  # not a date: read as numbers
        # phone numbers, digit by digit in groups
        ("Call (555) 123-4567.", "Call five five five, one two three, four five six seven."),
        ("555-123-4567", "five five five, one two three, four five six seven"),
        ("555.123.4567", "five five five, one two three, four five six seven"),
        ("+1 555 123 4567", "one, five five five, one two three, four five six seven"),
        # digit strings and numbers
        ("account 00123456", "account zero zero one two, three four five six"),
        ("claim 987654321", "claim nine eight seven, six five four, three two one"),
        ("zip 02139", "zip zero two one, three nine"),
        ("1,500 patients", "one thousand five hundred patients"),
        ("42 days", "forty-two days"),
        ("a 2.5 ratio", "a two point five ratio"),
        ("your 2nd visit", "your second visit"),
        ("the 21st", "the twenty-first"),
        # percent
        ("4.5% interest", "four point five percent interest"),
        ("10 %", "ten percent"),
        # times
        ("at 3:30 pm", "at three thirty p m"),
        ("at 10:05", "at ten oh five"),
        ("by 9:00 a.m.", "by nine a m"),
        # abbreviations
        ("Dr. Patel", "Doctor Patel"),
        ("12 Main St., Suite 4", "twelve Main Street, Suite four"),
        ("St. Mary's clinic", "Saint Mary's clinic"),
        ("your appt. tomorrow", "your appointment tomorrow"),
        ("two appts today", "two appointments today"),
        ("acct. balance", "account balance"),
        ("approx. $20", "approximately twenty dollars"),
        ("No. 7", "number seven"),
        ("invoice #12", "invoice number twelve"),
        ("Smith & Jones", "Smith and Jones"),
        # untouched text
        ("Hello, how can I help?", "Hello, how can I help?"),
        ("", ""),
    ],
)
def test_speakable(text: str, spoken: str) -> None:
    assert speakable(text) == spoken


def test_helpers() -> None:
    assert number_words(1234) == "one thousand two hundred thirty-four"
    assert number_words(101) == "one hundred one"
    assert money_words(1234, 56) == "one thousand two hundred thirty-four dollars and fifty-six cents"
    assert digits_spoken("5551234567", (3, 3, 4)) == "five five five, one two three, four five six seven"
    assert digits_spoken("4242") == "four two four two"
    assert digits_spoken("12345678") == "one two three four, five six seven eight"
