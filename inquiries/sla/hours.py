"""Opening hours as stored in the admin (JSON) to the calendar's typed form. Pure."""

from __future__ import annotations

from datetime import time


def parse_hours(raw: object) -> dict[int, list[tuple[time, time]]]:
    """{"0": [["09:00", "17:00"]]} -> {0: [(time(9), time(17))]}; ValueError names what is wrong."""
    if not isinstance(raw, dict):
        raise ValueError('Hours must be an object like {"0": [["09:00", "17:00"]]} (0 = Monday).')
    hours: dict[int, list[tuple[time, time]]] = {}
    for weekday, intervals in raw.items():
        try:
            day = int(weekday)
        except (TypeError, ValueError):
            raise ValueError(f"Weekday {weekday!r} is not a number from 0 (Monday) to 6 (Sunday).") from None
        if not isinstance(intervals, list):
            raise ValueError(f"Weekday {day}: expected a list of [start, end] pairs.")
        pairs = []
        for interval in intervals:
            if not isinstance(interval, list | tuple) or len(interval) != 2:
                raise ValueError(f"Weekday {day}: {interval!r} is not a [start, end] pair.")
            try:
                pairs.append((time.fromisoformat(interval[0]), time.fromisoformat(interval[1])))
            except (TypeError, ValueError):
                raise ValueError(f"Weekday {day}: {interval!r} is not a pair of HH:MM times.") from None
        hours[day] = pairs
    return hours
