"""Reading the "as of" instant and export periods people type. Pure: no Django.

The messages are for the person who typed the date, in the language active when they are raised
(`inquiries.words`): the page's or the API request's."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from inquiries.words import _

MAX_PERIOD_DAYS = 366


class BadDate(ValueError):
    """Input that is not a date or instant we can use; the message is for people."""


def parse_as_of(text: str, tz: str, now: datetime) -> datetime:
    """An instant from a date (the end of that day in `tz`), a local date-time or an ISO instant.

    Empty means now; instants after now are refused (health is computed from facts).
    """
    text = (text or "").strip()
    if not text:
        return now
    zone = ZoneInfo(tz)
    try:
        day = date.fromisoformat(text) if len(text) == 10 else None
        instant = datetime.fromisoformat(text.replace("Z", "+00:00")) if day is None else None
    except ValueError:
        raise BadDate(
            _("%(text)r is not a date (YYYY-MM-DD) or a date and time (ISO 8601).") % {"text": text[:40]}
        ) from None
    if day is not None:
        if day > now.astimezone(zone).date():
            raise BadDate(
                _("%(date)s is in the future; health can only be computed up to now.") % {"date": text}
            )
        instant = min(datetime.combine(day + timedelta(days=1), time(0), zone), now)
    assert instant is not None
    if instant.tzinfo is None:
        instant = instant.replace(tzinfo=zone)
    if instant > now:
        raise BadDate(
            _("%(date)s is in the future; health can only be computed up to now.") % {"date": text[:40]}
        )
    if instant.year < 1970:
        raise BadDate(_("Give a date after 1970."))
    return instant.astimezone(UTC)


def parse_period(
    first: str, last: str, tz: str, now: datetime, *, default_days: int = 30
) -> tuple[date, date]:
    """Two local dates, inclusive; by default the last `default_days` days up to today."""
    today = now.astimezone(ZoneInfo(tz)).date()
    try:
        end = date.fromisoformat(last.strip()) if last and last.strip() else today
        start = (
            date.fromisoformat(first.strip())
            if first and first.strip()
            else end - timedelta(days=default_days - 1)
        )
    except ValueError:
        raise BadDate(_("Give the period as two dates, YYYY-MM-DD.")) from None
    if start > end:
        raise BadDate(_("The period starts after it ends."))
    if end > today:
        raise BadDate(_("The period cannot end after today."))
    if (end - start).days >= MAX_PERIOD_DAYS:
        raise BadDate(_("The period can be at most %(days)s days long.") % {"days": MAX_PERIOD_DAYS})
    return start, end


def local_date(instant: datetime, tz: str) -> date:
    return instant.astimezone(ZoneInfo(tz)).date()


def day_bounds(day: date, tz: str) -> tuple[datetime, datetime]:
    """The instants a local day starts and ends (the end is the next day's start)."""
    zone = ZoneInfo(tz)
    return (datetime.combine(day, time(0), zone), datetime.combine(day + timedelta(days=1), time(0), zone))
