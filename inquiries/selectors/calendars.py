"""Business calendars: the pure `BusinessCalendar` of a `Calendar` row (its hours and holidays),
cached per process by the row's id and version (the admin bumps the version on every edit).

Read by the clocks (`services/clocks/`), the marketplace reply rules
(`selectors/marketplace_rules.py`), automatic assignment (an agent's working hours) and the
policy editor.
"""

from __future__ import annotations

import functools

from inquiries.models import Calendar
from inquiries.sla.calendar import BusinessCalendar
from inquiries.sla.hours import parse_hours

TWENTY_FOUR_SEVEN_UTC = BusinessCalendar("UTC")


@functools.lru_cache(maxsize=256)
def _build_calendar(calendar_id: int, version: int) -> BusinessCalendar:
    calendar = Calendar.objects.get(pk=calendar_id)
    holidays = list(calendar.holidays.values_list("date", flat=True))
    hours = None if calendar.is_24x7 else parse_hours(calendar.hours)
    return BusinessCalendar(calendar.timezone, hours, holidays)


def business_calendar(calendar: Calendar | None) -> BusinessCalendar:
    """The pure calendar for a row; cached per (id, version), the version is bumped on edits."""
    if calendar is None:
        return TWENTY_FOUR_SEVEN_UTC
    return _build_calendar(calendar.pk, calendar.version)


def clear_cache() -> None:
    """Forget the built calendars (tests: a fresh database reuses ids and versions)."""
    _build_calendar.cache_clear()
