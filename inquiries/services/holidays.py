"""Importing public holidays into a calendar from the `holidays` package."""

from __future__ import annotations

import holidays as holiday_data
from django.db import transaction
from django.utils.translation import gettext as _

from inquiries.models import Calendar, Holiday
from inquiries.services.errors import DomainError


@transaction.atomic
def import_holidays(*, calendar: Calendar, country: str, year: int, subdivision: str = "") -> int:
    """Add the country's (and subdivision's) public holidays of `year`; returns how many were new.

    Existing dates are kept as they are, so running it twice adds nothing.
    """
    try:
        days = holiday_data.country_holidays(country.upper(), subdiv=subdivision or None, years=[year])
    except (NotImplementedError, KeyError):
        raise DomainError(
            _("The holidays package knows no country %(country)r.") % {"country": country}, field="country"
        ) from None
    except ValueError as exc:
        raise DomainError(str(exc), field="subdivision") from None
    existing = set(calendar.holidays.values_list("date", flat=True))
    new = [
        Holiday(calendar=calendar, date=day, name=name[:200])
        for day, name in sorted(days.items())
        if day not in existing
    ]
    Holiday.objects.bulk_create(new)
    if new:
        from inquiries.services.config import calendar_changed

        calendar_changed(calendar=calendar)
    return len(new)
