"""Keeping the report rollups equal to what the clocks and messages say: the SLA counts
(`SlaRollup`), the measured durations (`DurationRollup`) and the message volume (`VolumeRollup`).

The rollups are recomputed from the clocks and messages a whole UTC day at a time, never
patched: a day is deleted from all three and its aggregate inserted again, in one transaction.
Which days? Every clock change, assignment, topic, priority or status change, every message
and every delivery writes an InquiryEvent, so the days touched since the last refresh are the
start days of the clocks and the days of the messages of inquiries with newer events; clocks
that passed their due time since then are added (a breach must show even if the sweep did not
run). Each refresh looks at events from the watermark before the last one,
so an event whose transaction committed late is still seen. Once a day (or when the rollup is
empty) everything is rebuilt, a week of days per transaction, which also picks up what writes
no event: team membership changes, deleted inquiries.

Safe to run concurrently: the state row is locked for the whole refresh.
"""

from __future__ import annotations

import functools
import operator
import time as time_module
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, TypeVar, cast

from django.db import connection, transaction
from django.db.models import Count, Max, Q, QuerySet
from django.db.models.functions import TruncDate
from django.utils import timezone

from inquiries.models import (
    Clock,
    ClockState,
    Direction,
    DurationRollup,
    InquiryEvent,
    Message,
    SlaRollup,
    SlaRollupState,
    VolumeRollup,
)
from inquiries.models.inquiries import answering
from inquiries.reports.expressions import LocalDate, LocalPart, SecondsBetween
from inquiries.reports.queries import DURATION_KINDS, MEASURED_STATES, outcome_counts, team_expression
from inquiries.reports.scope import MAX_DAYS, memberships, teams_of

# Covers the longest report period ending today (and a day of margin for local days).
HORIZON_DAYS = MAX_DAYS + 1
REBUILD_EVERY = timedelta(hours=24)
REBUILD_CHUNK_DAYS = 7
# The summary tables kept here, all recomputed for the same days.
ROLLUPS = (SlaRollup, DurationRollup, VolumeRollup)
# The grouped columns (of the inquiry, and its team) a rollup keeps, by the rollup's field names.
RENAMED = {
    "inquiry__account_id": "account_id",
    "inquiry__channel_id": "channel_id",
    "inquiry__assignee_id": "assignee_id",
    "inquiry__topic_id": "topic_id",
    "team": "team_id",
}
_Rollup = TypeVar("_Rollup", SlaRollup, VolumeRollup)


@dataclass(frozen=True, slots=True)
class RefreshResult:
    days: int
    rows: int
    rebuilt: bool  # a full rebuild finished in this call
    done: bool = True  # False: a rebuild is still under way (the caller continues later)

    def __str__(self) -> str:
        verb = "rebuilt" if self.rebuilt else "refreshed"
        return f"{verb} {self.days} days, {self.rows} rows" + ("" if self.done else " (rebuild continues)")


def refresh_rollups(
    *, now: datetime | None = None, rebuild: bool = False, budget_seconds: float | None = None
) -> RefreshResult:
    """Recompute the days that changed since the last refresh, and rebuild everything once a day.

    The refresh is one short transaction. The rebuild goes REBUILD_CHUNK_DAYS days per
    transaction from a cursor on the state row; with `budget_seconds` it stops when the budget
    is spent and the next call goes on (days not yet rebuilt keep their refreshed rows, so the
    reports stay right meanwhile; before the very first build completes they count live).
    """
    now = now or timezone.now()
    deadline = None if budget_seconds is None else time_module.monotonic() + budget_seconds
    today = now.astimezone(UTC).date()
    horizon_start = today - timedelta(days=HORIZON_DAYS)
    with transaction.atomic():
        state, _ = SlaRollupState.objects.select_for_update().get_or_create(pk=1)
        watermark = InquiryEvent.objects.aggregate(newest=Max("pk"))["newest"] or 0
        if state.rebuild_next_day is None and (
            rebuild
            or state.refreshed_at is None
            or state.rebuilt_at is None
            or (now - state.rebuilt_at >= REBUILD_EVERY)
        ):
            state.rebuild_next_day = horizon_start
            for model in ROLLUPS:
                model.objects.filter(day__lt=horizon_start).delete()
        days: list[date] = []
        if state.refreshed_at is not None:
            low = state.first_day or state.rebuild_next_day or today
            days = sorted(d for d in _changed_days(state, now) if low <= d <= today)
        rows = _replace_days(days, now, teams_of(memberships()))
        state.refreshed_at = now
        # The next refresh looks again from the last watermark (the first build has none).
        state.previous_watermark = state.event_watermark or watermark
        state.event_watermark = watermark
        state.save()
    rebuilt_days, rebuilt_rows, finished = _rebuild_steps(now, today, deadline)
    return RefreshResult(
        days=len(days) + rebuilt_days,
        rows=rows + rebuilt_rows,
        rebuilt=finished,
        done=not SlaRollupState.objects.filter(pk=1, rebuild_next_day__isnull=False).exists(),
    )


def _rebuild_steps(now: datetime, today: date, deadline: float | None) -> tuple[int, int, bool]:
    """Rebuild from the cursor, a chunk of days per transaction, until done or out of budget."""
    days = rows = 0
    pairs = teams_of(memberships())  # read once for every chunk of this call
    # At least one chunk per call, so that a continuation always moves on.
    while days == 0 or deadline is None or time_module.monotonic() < deadline:
        with transaction.atomic():
            state = SlaRollupState.objects.select_for_update().get(pk=1)
            if state.rebuild_next_day is None:
                return days, rows, False
            first = state.rebuild_next_day
            chunk = [
                first + timedelta(days=n)
                for n in range(REBUILD_CHUNK_DAYS)
                if first + timedelta(days=n) <= today
            ]
            rows += _replace_days(chunk, now, pairs)
            days += len(chunk)
            following = first + timedelta(days=REBUILD_CHUNK_DAYS)
            if following > today:
                state.rebuild_next_day = None
                state.rebuilt_at = now
                state.first_day = today - timedelta(days=HORIZON_DAYS)
                state.save(update_fields=["rebuild_next_day", "rebuilt_at", "first_day"])
                _analyse()
                return days, rows, True
            state.rebuild_next_day = following
            state.save(update_fields=["rebuild_next_day"])
    return days, rows, False


def _analyse() -> None:
    """Fresh planner statistics once every row has been replaced. Until autovacuum comes round
    (long on a busy server; never before the first report on a new install) PostgreSQL plans the
    report's GROUP BYs for a few dozen rows and sorts on disk: at a million inquiries a 30-day
    breakdown's counts took 374 ms before and 118 ms after."""
    with connection.cursor() as cursor:
        for model in ROLLUPS:
            cursor.execute(f"ANALYZE {model._meta.db_table}")


def _replace_days(days: list[date], now: datetime, pairs: dict[tuple[int, int], int]) -> int:
    """Delete these days' rows and insert their aggregate again (inside the caller's transaction):
    the SLA counts, the measured durations and the message volume. `pairs`: who works which
    account in which team (`teams_of`). Returns the SLA rows written."""
    if not days:
        return 0
    for model in ROLLUPS:
        model.objects.filter(day__in=days).delete()
    DurationRollup.objects.bulk_create(_measured(days, pairs), batch_size=100)
    VolumeRollup.objects.bulk_create(_volume(days, pairs), batch_size=2000)
    return len(SlaRollup.objects.bulk_create(_aggregate(days, now, pairs), batch_size=2000))


def _changed_days(state: SlaRollupState, now: datetime) -> set[date]:
    """UTC start days of the clocks of inquiries with new events, and of clocks that fell due."""
    touched = InquiryEvent.objects.filter(pk__gt=state.previous_watermark).values("inquiry_id")
    changed: list[QuerySet[Clock] | QuerySet[Message]] = [Clock.objects.filter(inquiry_id__in=touched)]
    if state.refreshed_at is not None:
        changed.append(
            Clock.objects.filter(
                state__in=(ClockState.RUNNING, ClockState.AT_RISK),
                due_at__gt=state.refreshed_at,
                due_at__lte=now,
            )
        )
    # The volume counts messages by their own day: a reply, a delivery or a reassignment
    # changes the days of the inquiry's messages too.
    messages = Message.objects.filter(inquiry_id__in=touched, received_at__isnull=False)
    # Separate queries rather than one with OR: each can use its own index.
    return {
        day
        for rows, field in [*((clocks, "started_at") for clocks in changed), (messages, "received_at")]
        for day in rows.annotate(day=TruncDate(field, tzinfo=UTC))
        .values_list("day", flat=True)
        .distinct()
        .order_by()
    }


def _aggregate(days: list[date], now: datetime, pairs: dict[tuple[int, int], int]) -> list[SlaRollup]:
    """The rollup rows of whole UTC days, from the clocks (one GROUP BY); `pairs`: who works
    which account in which team (`teams_of`)."""
    clocks = Clock.objects.filter(_in_days(days, "started_at"))
    rows = (
        clocks.annotate(
            day=TruncDate("started_at", tzinfo=UTC),
            local_day=LocalDate("started_at", "inquiry__account__timezone"),
            team=team_expression(pairs, "inquiry__"),
        )
        .values(
            "day",
            "local_day",
            "kind",
            "inquiry__account_id",
            "inquiry__channel_id",
            "inquiry__assignee_id",
            "inquiry__topic_id",
            "team",
        )
        .annotate(**outcome_counts(now))
        .order_by()
    )
    return _instances(SlaRollup, rows)


def _in_days(days: list[date], field: str) -> Q:
    """`field` (an instant) falls on one of these UTC days."""
    return functools.reduce(
        operator.or_,
        (
            Q(
                **{
                    f"{field}__gte": datetime.combine(first, time(0), tzinfo=UTC),
                    f"{field}__lt": datetime.combine(last + timedelta(days=1), time(0), tzinfo=UTC),
                }
            )
            for first, last in _day_ranges(days)
        ),
    )


def _measured(days: list[date], pairs: dict[tuple[int, int], int]) -> list[DurationRollup]:
    """The measured first-reply and resolution clocks of whole UTC days, one row per account,
    clock kind and (UTC, local) start day, the clocks packed (`inquiries.reports.measured`).
    The clocks are those `queries.measured_clocks` reads, with the same columns."""
    from inquiries.reports import measured  # numpy: imported when a refresh needs it

    clocks = (
        Clock.objects.filter(
            _in_days(days, "started_at"),
            kind__in=DURATION_KINDS,
            state__in=MEASURED_STATES,
            stopped_at__isnull=False,
        )
        .annotate(
            day=TruncDate("started_at", tzinfo=UTC),
            local_day=LocalDate("started_at", "inquiry__account__timezone"),
            team=team_expression(pairs, "inquiry__"),
            calendar_seconds=SecondsBetween("stopped_at", "started_at"),
        )
        .values_list(
            "day",
            "local_day",
            "inquiry__account_id",
            "kind",
            "inquiry__channel_id",
            "inquiry__assignee_id",
            "team",
            "inquiry__topic_id",
            "elapsed_seconds",
            "calendar_seconds",
        )
        .order_by("pk")
    )
    grouped: dict[tuple[date, date, int, str], list[measured.ClockValues]] = defaultdict(list)
    # Fetched at once (a week of measured clocks: about 140,000 rows at a million inquiries):
    # a server-side cursor would cost every chunk of a rebuild, most of them empty, two more
    # round trips.
    for day, local_day, account_id, kind, *values in clocks:
        grouped[(day, local_day, account_id, kind)].append(cast("measured.ClockValues", tuple(values)))
    return [
        DurationRollup(
            day=day, local_day=local_day, account_id=account_id, kind=kind, clocks=measured.pack(values)
        )
        for (day, local_day, account_id, kind), values in grouped.items()
    ]


def _volume(days: list[date], pairs: dict[tuple[int, int], int]) -> list[VolumeRollup]:
    """Messages of whole UTC days per account, channel, team, UTC day and local day and hour:
    those `queries.heatmap_counts` counts, with the same conditions (one GROUP BY)."""
    zone = "inquiry__account__timezone"
    rows = (
        Message.objects.filter(
            _in_days(days, "received_at"),
            automatic=False,
            direction__in=(Direction.INBOUND, Direction.OUTBOUND),
        )
        .annotate(
            day=TruncDate("received_at", tzinfo=UTC),
            local_day=LocalDate("received_at", zone),
            weekday=LocalPart("received_at", zone, "iso_week_day"),
            hour=LocalPart("received_at", zone, "hour"),
            team=team_expression(pairs, "inquiry__"),
        )
        .values("day", "local_day", "weekday", "hour", "inquiry__account_id", "inquiry__channel_id", "team")
        .annotate(
            inbound=Count("pk", filter=Q(direction=Direction.INBOUND)),
            replies=Count("pk", filter=answering()),
        )
        .order_by()
    )
    return _instances(VolumeRollup, rows)


def _instances(model: type[_Rollup], rows: Iterable[dict[str, Any]]) -> list[_Rollup]:
    """Rollup rows from grouped values() rows: the inquiry's columns by the rollup's field names."""
    return [model(**{RENAMED.get(key, key): value for key, value in row.items()}) for row in rows]


def _day_ranges(days: list[date]) -> list[tuple[date, date]]:
    """Sorted days as runs of consecutive days: [(first, last), ...]."""
    ranges: list[tuple[date, date]] = []
    for day in sorted(days):
        if ranges and ranges[-1][1] + timedelta(days=1) == day:
            ranges[-1] = (ranges[-1][0], day)
        else:
            ranges.append((day, day))
    return ranges
