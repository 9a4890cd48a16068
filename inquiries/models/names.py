"""Pieces of the rows' own names (`__str__`), which the admin shows in titles, breadcrumbs, select
boxes, delete confirmations and the history: dates and instants written the reader's way.

A name is built when it is shown, so it reads in the language (and time zone) active then: the
request's in the admin, English outside any request.
"""

from __future__ import annotations

from datetime import date, datetime

from django.utils import timezone
from django.utils.formats import date_format


def day(value: date | None) -> str:
    """A calendar day in the reader's language: "March 2, 2026", "2. März 2026", "2 de marzo de 2026"."""
    if not isinstance(value, date):  # None, or a row built with a text not yet saved and read back
        return "" if value is None else str(value)
    return date_format(value, "DATE_FORMAT")


def moment(value: datetime | None) -> str:
    """An instant in the active time zone, the reader's way: "March 2, 2026, 3:20 p.m.",
    "2. März 2026 15:20"."""
    if not isinstance(value, datetime):
        return "" if value is None else str(value)
    return date_format(timezone.localtime(value) if timezone.is_aware(value) else value, "DATETIME_FORMAT")
