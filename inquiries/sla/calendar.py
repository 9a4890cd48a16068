"""Business-time arithmetic: when is a deadline, and how much business time has passed.

Pure Python (no Django): the SLA services pass datetimes in and get datetimes or seconds back.
The messages about opening hours are for the admin who typed them: in the language active when
they are raised (`inquiries.words`), English outside a request.

Definition. An instant is business time iff its local wall-clock time (``instant.astimezone(tz)``)
falls on a date that is not a holiday, inside one of that weekday's ``[start, end)`` intervals.
Defining it on the wall clock settles DST without special cases: a 00:00-24:00 day lasts 23 real
hours on a spring-forward day (the skipped hour does not exist) and 25 on a fall-back day (both
real hours that show the repeated wall-clock time are business time).

How it is computed. Real time is cut into fixed blocks of ``_BLOCK_DAYS`` UTC days. For each block
we find the UTC offset changes (probing, then bisecting to the second), turn every stretch of
constant offset into wall-clock time, intersect it with the opening hours of the local days it
covers and map the result back to UTC: a sorted list of business segments in epoch seconds, with
running totals. A block is built once per calendar (LRU-cached), one pass over its days and never
minute by minute; afterwards ``add`` and ``elapsed`` are two ``bisect`` calls, and whole blocks in
between are skipped by their cached totals.

Precision. Opening hours and UTC offsets are whole seconds, so every segment boundary is a whole
second. ``elapsed`` returns the floor of the real business duration in seconds; ``add`` returns
the exact instant, keeping the microseconds of ``start`` when ``start`` is inside business time.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime, time
from functools import lru_cache
from typing import NamedTuple
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from inquiries.words import _, gettext_noop

__all__ = ["BusinessCalendar", "twenty_four_seven"]

_DAY = 86_400
_MICRO = 1_000_000
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
# 1970-01-01 was a Thursday: weekday of epoch day n is (n + 3) % 7, with 0 = Monday.
_EPOCH_WEEKDAY = 3
# Named in the messages about opening hours, which an admin reads (`_()` when raised).
_WEEKDAY_NAMES = (
    gettext_noop("Monday"),
    gettext_noop("Tuesday"),
    gettext_noop("Wednesday"),
    gettext_noop("Thursday"),
    gettext_noop("Friday"),
    gettext_noop("Saturday"),
    gettext_noop("Sunday"),
)

_BLOCK_DAYS = 91
_BLOCK = _BLOCK_DAYS * _DAY
# tzdata never puts two UTC offset changes closer than about four days apart, so probing every six
# hours cannot step over a change and its reversal; bisection then finds the exact second.
_PROBE = 6 * 3600
# Offsets are only looked up inside the datetime range (with a day of slack for the local side).
_FIRST_INSTANT = int((datetime(1, 1, 2, tzinfo=UTC) - _EPOCH).total_seconds())
_LAST_INSTANT = int((datetime(9999, 12, 30, tzinfo=UTC) - _EPOCH).total_seconds())
_LAST_BLOCK = _LAST_INSTANT // _BLOCK

_Intervals = tuple[tuple[int, int], ...]


class _Block(NamedTuple):
    """Business segments of one block: ``[starts[i], ends[i])`` in epoch seconds, sorted, disjoint.

    ``running[i]`` is the business seconds from the block start to ``ends[i]``; ``total`` is the
    block's business seconds.
    """

    starts: list[int]
    ends: list[int]
    running: list[int]
    total: int


class BusinessCalendar:
    """Opening hours in one time zone, minus holidays.

    ``hours`` maps a weekday (0 = Monday) to ``(start, end)`` wall-clock pairs; ``end == time(0)``
    means midnight ending that day. A weekday that is missing or has an empty list is closed.
    ``None`` means open all day, every day (holidays still close). Holidays are local dates.

    The constructor raises ``ValueError`` with a message fit for an admin form for an unknown time
    zone, a weekday outside 0..6, an interval that does not start before it ends, overlapping
    intervals on one weekday, and hours that never open.

    Build a calendar once and reuse it: the computed business segments are cached on the instance.
    """

    def __init__(
        self,
        timezone: str,
        hours: Mapping[int, Sequence[tuple[time, time]]] | None = None,
        holidays: Iterable[date] = (),
    ) -> None:
        self.timezone = timezone
        self._tz = _zone(timezone)
        self._hours = _normalise_hours(hours)
        self._holidays = frozenset(_epoch_day(day) for day in holidays)
        # Cached per instance, so a calendar's segments go away with it; 64 blocks are 16 years.
        self._block = lru_cache(maxsize=64)(self._build_block)

    def add(self, start: datetime, seconds: int) -> datetime:
        """Return the earliest instant ``t >= start`` with ``elapsed(start, t) == seconds``.

        ``seconds == 0`` returns ``start`` unchanged, even outside business hours. The result is an
        aware datetime in ``start``'s tzinfo (with ``fold`` set inside a repeated hour). Python
        compares datetimes that share a ZoneInfo by wall clock, ignoring ``fold``; pass and compare
        UTC datetimes, as Django does, to compare instants. Raises ``ValueError`` for a naive
        ``start`` or negative ``seconds``, ``OverflowError`` past the end of the datetime range.
        """
        if isinstance(seconds, bool) or not isinstance(seconds, int):
            raise TypeError(f"seconds must be an int, got {seconds!r}")
        if seconds < 0:
            raise ValueError(f"seconds must not be negative, got {seconds}")
        instant, micro = _split(start)
        if seconds == 0:
            return start
        block_index = instant // _BLOCK
        starts, ends, running, total = self._block(block_index)
        i = bisect_right(starts, instant) - 1
        if i >= 0 and instant < ends[i]:
            # Inside a segment: the microseconds of start are business time too, so the answer
            # carries them (it is ``seconds`` whole business seconds later).
            target = running[i] - (ends[i] - instant) + seconds
        else:
            # Outside business time the clock only starts at a whole-second segment start.
            target = (running[i] if i >= 0 else 0) + seconds
            micro = 0
        # The answer is where the running total reaches target seconds plus micro microseconds;
        # with a fraction, the whole second holding it must be business time too.
        needed = target + 1 if micro else target
        while needed > total:
            target -= total
            needed -= total
            block_index += 1
            if block_index > _LAST_BLOCK:
                raise OverflowError("the result is past the end of the datetime range")
            starts, ends, running, total = self._block(block_index)
        i = bisect_left(running, needed)
        try:
            result = datetime.fromtimestamp(ends[i] - (running[i] - target), start.tzinfo)
        except (OverflowError, ValueError) as error:
            raise OverflowError("the result is past the end of the datetime range") from error
        return result.replace(microsecond=micro) if micro else result

    def elapsed(self, start: datetime, end: datetime) -> int:
        """Return the business seconds in ``[start, end)``, rounded down; 0 if ``end <= start``.

        Raises ``ValueError`` if either datetime is naive.
        """
        start_instant, start_micro = _split(start)
        end_instant, end_micro = _split(end)
        if (end_instant, end_micro) <= (start_instant, start_micro):
            return 0
        first = start_instant // _BLOCK
        last = end_instant // _BLOCK
        micros = self._micros_into_block(last, end_instant, end_micro) - self._micros_into_block(
            first, start_instant, start_micro
        )
        for block_index in range(first, last):
            micros += self._block(block_index).total * _MICRO
        return micros // _MICRO

    def _micros_into_block(self, block_index: int, instant: int, micro: int) -> int:
        """Business microseconds from the start of the block to ``instant`` + ``micro``."""
        starts, ends, running, _total = self._block(block_index)
        i = bisect_right(starts, instant) - 1
        if i < 0:
            return 0
        if instant < ends[i]:
            return (running[i] - (ends[i] - instant)) * _MICRO + micro
        return running[i] * _MICRO

    def _build_block(self, block_index: int) -> _Block:
        """Compute the business segments of one block of real time."""
        starts: list[int] = []
        ends: list[int] = []
        running: list[int] = []
        total = 0
        block_start = block_index * _BLOCK
        for period_start, period_end, offset in self._offset_periods(block_start, block_start + _BLOCK):
            # Within a period of constant offset, wall clock = instant + offset, so the period's
            # wall-clock range can be intersected with the opening hours day by day. Periods come
            # in real-time order, which keeps the segments sorted even when a fall-back switch
            # walks the wall clock back over midnight.
            wall_start = period_start + offset
            wall_end = period_end + offset
            for day in range(wall_start // _DAY, (wall_end - 1) // _DAY + 1):
                if day in self._holidays:
                    continue
                midnight = day * _DAY
                for opens, closes in self._hours[(day + _EPOCH_WEEKDAY) % 7]:
                    segment_start = max(midnight + opens, wall_start) - offset
                    segment_end = min(midnight + closes, wall_end) - offset
                    if segment_start >= segment_end:
                        continue
                    total += segment_end - segment_start
                    if ends and ends[-1] == segment_start:
                        # Touching segments (midnight, a switch inside opening hours) merge into one.
                        ends[-1] = segment_end
                        running[-1] = total
                    else:
                        starts.append(segment_start)
                        ends.append(segment_end)
                        running.append(total)
        return _Block(starts, ends, running, total)

    def _offset_periods(self, first: int, last: int) -> list[tuple[int, int, int]]:
        """Split ``[first, last)`` into ``(start, end, utc_offset)`` periods of constant offset."""
        periods = []
        period_start = previous = first
        offset = self._utc_offset(first)
        # Blocks are a whole number of probe steps, so the last probe lands on ``last``.
        for probe in range(first + _PROBE, last + 1, _PROBE):
            probe_offset = self._utc_offset(probe)
            if probe_offset != offset:
                # Bisect for the first second that has the new offset.
                low, high = previous, probe
                while high - low > 1:
                    middle = (low + high) // 2
                    if self._utc_offset(middle) == offset:
                        low = middle
                    else:
                        high = middle
                periods.append((period_start, high, offset))
                period_start, offset = high, probe_offset
            previous = probe
        if period_start < last:
            periods.append((period_start, last, offset))
        return periods

    def _utc_offset(self, instant: int) -> int:
        """UTC offset in seconds at an epoch instant (clamped to the datetime range)."""
        instant = min(max(instant, _FIRST_INSTANT), _LAST_INSTANT)
        offset = datetime.fromtimestamp(instant, self._tz).utcoffset()
        assert offset is not None  # a ZoneInfo always has an offset
        return offset.days * _DAY + offset.seconds


def twenty_four_seven(timezone: str = "UTC") -> BusinessCalendar:
    """A calendar that is always open (every real second counts, no holidays)."""
    return BusinessCalendar(timezone)


def _split(moment: datetime) -> tuple[int, int]:
    """Whole epoch seconds and microseconds of an aware datetime, exactly (no float rounding)."""
    try:
        delta = moment - _EPOCH
    except TypeError:
        raise ValueError(f"expected an aware datetime, got {moment!r}") from None
    return delta.days * _DAY + delta.seconds, delta.microseconds


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        raise ValueError(_("unknown time zone %(zone)r") % {"zone": name}) from None


def _epoch_day(day: date) -> int:
    if not isinstance(day, date):
        raise ValueError(f"holidays must be dates, got {day!r}")
    return day.toordinal() - _EPOCH_ORDINAL


def _normalise_hours(hours: Mapping[int, Sequence[tuple[time, time]]] | None) -> tuple[_Intervals, ...]:
    """Validate opening hours; return per weekday sorted, merged ``(start, end)`` day-seconds."""
    if hours is None:
        return (((0, _DAY),),) * 7
    week: list[_Intervals] = [()] * 7
    for weekday, intervals in hours.items():
        if isinstance(weekday, bool) or not isinstance(weekday, int) or not 0 <= weekday <= 6:
            raise ValueError(
                _("weekday must be an integer from 0 (Monday) to 6 (Sunday), got %(weekday)r")
                % {"weekday": weekday}
            )
        name = _WEEKDAY_NAMES[weekday]  # translated only when a message needs it
        day: list[tuple[int, int]] = []
        for interval in intervals:
            day.append(_interval(name, interval))
        day.sort()
        merged: list[tuple[int, int]] = []
        for opens, closes in day:
            if merged and opens < merged[-1][1]:
                raise ValueError(
                    _("%(weekday)s: intervals %(first)s and %(second)s overlap")
                    % {
                        "weekday": _(name),
                        "first": f"{_clock(merged[-1][0])}-{_clock(merged[-1][1])}",
                        "second": f"{_clock(opens)}-{_clock(closes)}",
                    }
                )
            if merged and opens == merged[-1][1]:
                merged[-1] = (merged[-1][0], closes)
            else:
                merged.append((opens, closes))
        week[weekday] = tuple(merged)
    if not any(week):
        raise ValueError(_("the calendar is never open: give at least one opening interval"))
    return tuple(week)


def _interval(name: str, interval: Sequence[time]) -> tuple[int, int]:
    """One ``(start, end)`` pair as day-seconds; ``end == time(0)`` is midnight ending the day."""
    if len(interval) != 2 or not all(isinstance(moment, time) for moment in interval):
        raise ValueError(
            _("%(weekday)s: each interval must be a (start, end) pair of times, got %(interval)r")
            % {"weekday": _(name), "interval": interval}
        )
    start, end = interval
    for moment in (start, end):
        if moment.tzinfo is not None:
            raise ValueError(
                _("%(weekday)s: opening hours are local wall-clock times, without a time zone")
                % {"weekday": _(name)}
            )
        if moment.microsecond:
            raise ValueError(
                _("%(weekday)s: opening hours must be whole seconds, got %(time)s")
                % {"weekday": _(name), "time": moment}
            )
    opens = start.hour * 3600 + start.minute * 60 + start.second
    closes = end.hour * 3600 + end.minute * 60 + end.second or _DAY
    if opens >= closes:
        raise ValueError(
            _(
                "%(weekday)s: interval %(interval)s must start before it ends (use 00:00 as the end for midnight)"
            )
            % {"weekday": _(name), "interval": f"{_clock(opens)}-{_clock(closes)}"}
        )
    return opens, closes


def _clock(day_seconds: int) -> str:
    """Format day-seconds as HH:MM, or HH:MM:SS when there are seconds; 86400 is 24:00."""
    hours, rest = divmod(day_seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{hours:02d}:{minutes:02d}:{seconds:02d}" if seconds else f"{hours:02d}:{minutes:02d}"
