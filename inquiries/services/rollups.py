"""Keeping the SLA rollup (`SlaRollup`) equal to what the clocks say.

The rollup is recomputed from the clocks a whole UTC day at a time, never patched: a day is
deleted and its aggregate inserted again, in one transaction. Which days? Every clock
change, assignment, topic, priority or status change writes an InquiryEvent, so the days
touched since the last refresh are the start days of the clocks of inquiries with newer
events; clocks that passed their due time since then are added (a breach must show even if
the sweep did not run). Each refresh looks at events from the watermark before the last one,
so an event whose transaction committed late is still seen. Once a day (or when the rollup is
empty) everything is rebuilt, which also picks up what writes no event: team membership
changes, deleted inquiries.

Safe to run concurrently: the state row is locked for the whole refresh.
"""

from __future__ import annotations

import functools
import operator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from django.db import transaction
from django.db.models import Max, Q
from django.db.models.functions import TruncDate
from django.utils import timezone

from inquiries.models import (
    Clock,
    ClockState,
    InquiryEvent,
    SlaRollup,
    SlaRollupState,
)
from inquiries.reports.expressions import LocalDate
from inquiries.reports.queries import outcome_counts, team_expression
from inquiries.reports.scope import MAX_DAYS, memberships, teams_of

# Covers the longest report period ending today (and a day of margin for local days).
HORIZON_DAYS = MAX_DAYS + 1
REBUILD_EVERY = timedelta(hours=24)


@dataclass(frozen=True, slots=True)
class RefreshResult:
    days: int
    rows: int
    rebuilt: bool

    def __str__(self) -> str:
        return f"{'rebuilt' if self.rebuilt else 'refreshed'} {self.days} days, {self.rows} rows"


def refresh_rollups(*, now: datetime | None = None, rebuild: bool = False) -> RefreshResult:
    """Recompute the days that changed since the last refresh, or everything once a day."""
    now = now or timezone.now()
    today = now.astimezone(UTC).date()
    with transaction.atomic():
        state, _ = SlaRollupState.objects.select_for_update().get_or_create(pk=1)
        watermark = InquiryEvent.objects.aggregate(newest=Max("pk"))["newest"] or 0
        rebuild = (
            rebuild
            or state.refreshed_at is None
            or state.rebuilt_at is None
            or (now - state.rebuilt_at >= REBUILD_EVERY)
        )
        if rebuild:
            first_day = today - timedelta(days=HORIZON_DAYS)
            days = [first_day + timedelta(days=n) for n in range(HORIZON_DAYS + 1)]
            SlaRollup.objects.all().delete()
        else:
            first_day = state.first_day or today
            days = sorted(d for d in _changed_days(state, now) if first_day <= d <= today)
            SlaRollup.objects.filter(day__in=days).delete()
        rows = SlaRollup.objects.bulk_create(_aggregate(days, now), batch_size=2000) if days else []
        state.first_day = first_day
        state.refreshed_at = now
        # The next refresh looks again from the last watermark (the first build has none).
        state.previous_watermark = state.event_watermark or watermark
        state.event_watermark = watermark
        if rebuild:
            state.rebuilt_at = now
        state.save()
    return RefreshResult(days=len(days), rows=len(rows), rebuilt=rebuild)


def _changed_days(state: SlaRollupState, now: datetime) -> set[date]:
    """UTC start days of the clocks of inquiries with new events, and of clocks that fell due."""
    touched = InquiryEvent.objects.filter(pk__gt=state.previous_watermark).values("inquiry_id")
    changed = [Clock.objects.filter(inquiry_id__in=touched)]
    if state.refreshed_at is not None:
        changed.append(
            Clock.objects.filter(
                state__in=(ClockState.RUNNING, ClockState.AT_RISK),
                due_at__gt=state.refreshed_at,
                due_at__lte=now,
            )
        )
    # Two queries rather than one with OR: each can use its own index.
    return {
        day
        for clocks in changed
        for day in clocks.annotate(day=TruncDate("started_at", tzinfo=UTC))
        .values_list("day", flat=True)
        .distinct()
        .order_by()
    }


def _aggregate(days: list[date], now: datetime) -> list[SlaRollup]:
    """The rollup rows of whole UTC days, from the clocks (one GROUP BY)."""
    ranges = _day_ranges(days)
    clocks = Clock.objects.filter(
        functools.reduce(
            operator.or_,
            (
                Q(
                    started_at__gte=datetime.combine(first, time(0), tzinfo=UTC),
                    started_at__lt=datetime.combine(last + timedelta(days=1), time(0), tzinfo=UTC),
                )
                for first, last in ranges
            ),
        )
    )
    pairs = teams_of(memberships())
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
    return [
        SlaRollup(
            day=row["day"],
            local_day=row["local_day"],
            kind=row["kind"],
            account_id=row["inquiry__account_id"],
            channel_id=row["inquiry__channel_id"],
            assignee_id=row["inquiry__assignee_id"],
            topic_id=row["inquiry__topic_id"],
            team_id=row["team"],
            met=row["met"],
            missed=row["missed"],
            breached=row["breached"],
            cancelled=row["cancelled"],
            in_progress=row["in_progress"],
        )
        for row in rows
    ]


def _day_ranges(days: list[date]) -> list[tuple[date, date]]:
    """Sorted days as runs of consecutive days: [(first, last), ...]."""
    ranges: list[tuple[date, date]] = []
    for day in sorted(days):
        if ranges and ranges[-1][1] + timedelta(days=1) == day:
            ranges[-1] = (ranges[-1][0], day)
        else:
            ranges.append((day, day))
    return ranges
