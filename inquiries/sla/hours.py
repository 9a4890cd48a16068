"""Opening hours as stored in the admin (JSON) to the calendar's typed form. Pure.

Its messages are for the admin who typed the hours: in the language active when they are raised
(`inquiries.words`), English outside a request."""

from __future__ import annotations

from datetime import time

from inquiries.words import _


def parse_hours(raw: object) -> dict[int, list[tuple[time, time]]]:
    """{"0": [["09:00", "17:00"]]} -> {0: [(time(9), time(17))]}; ValueError names what is wrong."""
    if not isinstance(raw, dict):
        raise ValueError(_('Hours must be an object like {"0": [["09:00", "17:00"]]} (0 = Monday).'))
    hours: dict[int, list[tuple[time, time]]] = {}
    for weekday, intervals in raw.items():
        try:
            day = int(weekday)
        except (TypeError, ValueError):
            raise ValueError(
                _("Weekday %(weekday)r is not a number from 0 (Monday) to 6 (Sunday).") % {"weekday": weekday}
            ) from None
        if not isinstance(intervals, list):
            raise ValueError(
                _("Weekday %(weekday)s: expected a list of [start, end] pairs.") % {"weekday": day}
            )
        pairs = []
        for interval in intervals:
            if not isinstance(interval, list | tuple) or len(interval) != 2:
                raise ValueError(
                    _("Weekday %(weekday)s: %(interval)r is not a [start, end] pair.")
                    % {"weekday": day, "interval": interval}
                )
            try:
                pairs.append((time.fromisoformat(interval[0]), time.fromisoformat(interval[1])))
            except (TypeError, ValueError):
                raise ValueError(
                    _("Weekday %(weekday)s: %(interval)r is not a pair of HH:MM times.")
                    % {"weekday": day, "interval": interval}
                ) from None
        hours[day] = pairs
    return hours
