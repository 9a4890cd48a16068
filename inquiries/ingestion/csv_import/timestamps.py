"""Reading a timestamp cell: ISO 8601, the formats exports use (`_AUTO_FORMATS`), slash dates
(day-first or month-first, as `Reading` says), date-only values at the configured time of day,
and local times placed in the file's zone (an ambiguous or missing DST time as `Reading` says).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from zoneinfo import ZoneInfo

from inquiries.ingestion.csv_import.mapping import Reading, shown

_HAS_TIME_RE = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}")
# Timestamp shapes tried, in order, when no --date-format is given (after ISO 8601 and RFC 2822).
_AUTO_FORMATS = (
    "%a %b %d %H:%M:%S %z %Y",  # Twitter: Tue Oct 31 22:10:47 +0000 2017
    "%Y-%m-%d %H:%M:%S %Z",  # 2024-03-01 10:00:00 UTC
    "%Y/%m/%d %H:%M:%S",
    "%Y/%m/%d %H:%M",
    "%d.%m.%Y %H:%M:%S",  # German exports
    "%d.%m.%Y %H:%M",
)
_SLASH_DATE_RE = re.compile(
    r"^(?P<a>\d{1,2})/(?P<b>\d{1,2})/(?P<year>\d{4})(?:[ T,]+(?P<time>\d{1,2}:\d{2}(?::\d{2})?(?:\s*[AaPp][Mm])?))?$"
)
_DATE_ONLY_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def read_timestamp(value: str, zone: ZoneInfo, reading: Reading | None = None) -> datetime:
    """A timestamp cell as aware UTC; `ValueError` saying what is wrong and which option helps.

    With `reading.date_formats` only those patterns are tried; otherwise ISO 8601, RFC 2822,
    the Twitter shape and a few common others, slash dates (month first unless
    `reading.dayfirst`) and date-only ISO dates (with `reading.default_time`). A value without
    a UTC offset is a wall-clock time in `zone`; one that a DST change repeats or skips is an
    error unless `reading.fold` says which side it is on.
    """
    reading = reading or Reading()
    if not value:
        raise ValueError("empty (a timestamp is required)")
    parsed = _parsed(value, reading)
    if parsed.tzinfo is None:
        parsed = _in_zone(parsed, zone, reading.fold, value)
    try:
        return parsed.astimezone(UTC)
    except OverflowError:
        raise ValueError(f"out of range: {shown(value)}") from None


def _parsed(value: str, reading: Reading) -> datetime:
    if reading.date_formats:
        for pattern in reading.date_formats:
            try:
                return datetime.strptime(value, pattern)
            except ValueError:
                continue
        raise ValueError(
            f"does not match --date-format {' or '.join(map(repr, reading.date_formats))}: {shown(value)}"
        )
    if _DATE_ONLY_RE.match(value):
        try:
            day = datetime.fromisoformat(value)
        except ValueError:
            raise ValueError(f"not a valid date: {shown(value)}") from None
        if reading.default_time is None:
            raise ValueError(
                f"a date without a time of day (give --default-time, e.g. 12:00): {shown(value)}"
            )
        return datetime.combine(day.date(), reading.default_time)
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        pass
    else:
        if not _HAS_TIME_RE.match(value):
            raise ValueError(f"a time of day is required: {shown(value)}")
        return parsed
    slash = _SLASH_DATE_RE.match(value)
    if slash:
        return _slash_date(slash, reading, value)
    for pattern in _AUTO_FORMATS:
        try:
            return datetime.strptime(value, pattern)
        except ValueError:
            continue
    try:
        return parsedate_to_datetime(value)  # RFC 2822: Tue, 31 Oct 2017 22:10:47 +0000
    except (TypeError, ValueError, IndexError):
        pass
    raise ValueError(
        f"not a timestamp this import reads (ISO 8601, RFC 2822, DD/MM/YYYY HH:MM and other common "
        f"shapes, or give --date-format): {shown(value)}"
    )


def _slash_date(match: re.Match[str], reading: Reading, value: str) -> datetime:
    first, second = int(match["a"]), int(match["b"])
    day, month = (first, second) if reading.dayfirst else (second, first)
    if month > 12:
        other = "without --dayfirst" if reading.dayfirst else "with --dayfirst"
        raise ValueError(f"month {month} does not exist: read the dates {other}? {shown(value)}")
    clock = match["time"]
    if clock is None:
        if reading.default_time is None:
            raise ValueError(
                f"a date without a time of day (give --default-time, e.g. 12:00): {shown(value)}"
            )
        at = reading.default_time
    else:
        text = clock.replace(" ", "").upper()
        pattern = (
            ("%I:%M:%S%p" if text.count(":") == 2 else "%I:%M%p")
            if text[-1] == "M"
            else ("%H:%M:%S" if text.count(":") == 2 else "%H:%M")
        )
        try:
            at = datetime.strptime(text, pattern).time()
        except ValueError:
            raise ValueError(f"not a time of day: {shown(value)}") from None
    try:
        return datetime.combine(datetime(int(match["year"]), month, day).date(), at)
    except ValueError:
        raise ValueError(f"not a valid date: {shown(value)}") from None


def _in_zone(naive: datetime, zone: ZoneInfo, fold: str | None, value: str) -> datetime:
    """`naive` as a wall-clock time in `zone`, refusing one a DST change repeats or skips."""
    earlier, later = naive.replace(tzinfo=zone, fold=0), naive.replace(tzinfo=zone, fold=1)
    if earlier.utcoffset() == later.utcoffset():
        return earlier
    # The offsets differ: either the hour happens twice (autumn) or never (spring).
    repeated = earlier.astimezone(UTC).astimezone(zone).replace(tzinfo=None) == naive
    if fold is None:
        what = (
            "happens twice (the clocks went back)" if repeated else "does not exist (the clocks went forward)"
        )
        raise ValueError(
            f"{shown(value)} in {zone.key} {what}: say which with --fold earlier or --fold later"
        )
    chosen = earlier if fold == "earlier" else later
    if not repeated:
        # In a gap, fold=0 reads the time with the offset before the change, fold=1 after it;
        # "earlier" is the earlier instant, which is the one read with the later offset.
        chosen = later if fold == "earlier" else earlier
    return chosen
