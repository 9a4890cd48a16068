"""Numbers inside sentences and tables are written the reader's way (issue 23 point 11: "dates and
numbers localised"): the decimal mark, the thousands separator and the space before a percent sign
of German, Spanish and French; English unchanged."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import pytest
from django.conf import settings
from django.utils import translation

from inquiries import words
from inquiries.health.scoring import Unit, format_value
from inquiries.marketplaces import percent
from inquiries.reports import charts, tables

NBSP = "\u00a0"


@pytest.fixture(autouse=True)
def english_after_each_test() -> Iterator[None]:
    yield
    translation.activate(settings.LANGUAGE_CODE)


@pytest.mark.parametrize(
    ("language", "rate", "share", "count", "axis"),
    [
        ("en", "8.7%", "12.5%", "12,345", "1,234.5"),
        ("de", f"8,7{NBSP}%", f"12,5{NBSP}%", "12.345", "1.234,5"),
        ("es", f"8,7{NBSP}%", f"12,5{NBSP}%", f"12{NBSP}345", f"1{NBSP}234,5"),
        ("fr", f"8,7{NBSP}%", f"12,5{NBSP}%", f"12{NBSP}345", f"1{NBSP}234,5"),
    ],
)
def test_rates_counts_and_axis_numbers_are_written_the_readers_way(
    language, rate, share, count, axis
) -> None:
    with translation.override(language):
        # 4 late of 46: 8.69565...%, rounded as Python rounds (Django's number_format alone cuts it to 8.6).
        assert format_value(4 / 46, Unit.RATIO) == rate
        assert percent(0.125) == share  # a marketplace figure: at most two decimals, trailing zeros dropped
        assert tables.format_value(12345, tables.COUNT) == count
        assert charts._number(1234.5).replace("\u202f", NBSP) == axis
        assert words.percent(99.96, 1) in {"100.0%", f"100,0{NBSP}%"}


def test_a_report_date_names_the_weekday_and_month_in_the_readers_language() -> None:
    day = date(2026, 3, 2)
    with translation.override("en"):
        assert tables.format_value(day, tables.DATE) == "Mon 02 Mar 2026"
    with translation.override("de"):
        assert tables.format_value(day, tables.DATE) == "Mo 02 Mär 2026"


def test_the_decimal_mark_keeps_pythons_rounding() -> None:
    with translation.override("de"):
        assert words.decimal(2.675, 2) == "2,67"  # as f"{2.675:.2f}": the float is just under 2.675
        assert words.decimal(0.05, 1) == "0,1"


def test_a_status_inside_a_sentence_keeps_the_capitals_of_german_nouns() -> None:
    assert words.in_sentence("Keine Daten") == "keine Daten"
    assert words.in_sentence("At risk") == "at risk"
    assert words.in_sentence("") == ""
