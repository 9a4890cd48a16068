"""The daily rollup of the marketplace metrics from orders: counting local days, and reading a
window's figures back from them (docs/health.md, "The rollup").

A row (`OrderMetricDay`) holds one metric kind's numerator and denominator over the rows whose
anchor date falls on one local day of the account's zone, every stored fact counted whatever
its time, with the latest anchor (`anchor_until`) and the latest time of a fact the counts
depend on (`facts_until`). A window of N local days ending at T sums the rows of its whole days
and counts its last, partial day live unless that day's row already holds exactly what T sees
(every anchor before T, every fact known by T). A window whose whole days hold a fact later
than T (a past as-of instant) is not read from the rollup: `rolled_up` leaves that metric out
and the caller counts it live. The figures are therefore the live computation's, exactly.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.db.models import Count, Max, Q
from django.db.models.functions import TruncDate
from django.utils import timezone

from inquiries.health.marketplace_metrics import Counts, definitions_for
from inquiries.marketplaces import Anchor, Measure, MetricDefinition
from inquiries.models import Account, OrderMetricDay, OrderRollupState
from inquiries.selectors.health.order_conditions import FACT_TIMES, Window, conditions, rows_of

Kind = tuple[Measure, Anchor]


def kinds_for(marketplace: str) -> list[Kind]:
    """The distinct (measure, anchor) pairs of a marketplace's metrics, in the table's order."""
    return list(dict.fromkeys((d.measure, d.anchor) for d in definitions_for(marketplace)))


@dataclass(frozen=True, slots=True)
class DayCount:
    day: date
    numerator: int
    denominator: int
    anchor_until: datetime | None
    facts_until: datetime | None


def midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), zone)


# A run of days is counted by one query whose fact subqueries PostgreSQL hashes in memory (a
# hashed SubPlan) only while they fit in work_mem: a whole year of a large account's orders does
# not (the plan turns into a subquery per order: minutes), three days of a million orders in 90
# days (about 33,000) do.
RUN_DAYS = 3


def runs(days: Iterable[date]) -> list[tuple[date, date]]:
    """Consecutive days as (first, last) runs of at most RUN_DAYS days, in order."""
    found: list[tuple[date, date]] = []
    for day in sorted(set(days)):
        if found and found[-1][1] + timedelta(days=1) == day and (day - found[-1][0]).days < RUN_DAYS:
            found[-1] = (found[-1][0], day)
        else:
            found.append((day, day))
    return found


def day_counts(account_id: int, tz: str, kind: Kind, days: Iterable[date]) -> list[DayCount]:
    """The rollup rows of one kind for the given local days, every stored fact counted: one
    aggregate per run of consecutive days, plus one per fact time the kind depends on. Days with
    nothing to count have no row."""
    measure, anchor = kind
    zone = ZoneInfo(tz)
    found: dict[date, DayCount] = {}
    for first, last in runs(days):
        start, end = midnight(first, zone), midnight(last + timedelta(days=1), zone)
        rows, column = rows_of(account_id, anchor)
        window = Window(account_id, column, start, end, all_facts=True)
        denominator, numerator, _failing = conditions(measure, window)
        grouped = (
            rows.filter(denominator, **{f"{column}__gte": start, f"{column}__lt": end})
            .annotate(local_day=TruncDate(column, tzinfo=zone))
            .order_by()
            .values("local_day")
            .annotate(den=Count("pk"), num=Count("pk", filter=numerator), until=Max(column))
        )
        latest = _latest_facts(window, measure, zone)
        for row in grouped:
            day = row["local_day"]
            found[day] = DayCount(day, row["num"], row["den"], row["until"], latest.get(day))
    return [found[day] for day in sorted(found)]


def _latest_facts(window: Window, measure: Measure, zone: ZoneInfo) -> dict[date, datetime]:
    """Per local anchor day of the window's orders, the latest time of the facts the measure
    reads (as of an earlier instant, a day holding a later fact is counted live)."""
    latest: dict[date, datetime] = {}
    for model, field in FACT_TIMES[measure]:
        grouped = (
            window.facts(model._default_manager.filter(**{f"{field}__isnull": False}))
            .annotate(local_day=TruncDate(f"order__{window.anchor}", tzinfo=zone))
            .order_by()
            .values("local_day")
            .annotate(latest=Max(field))
        )
        for row in grouped:
            day, moment = row["local_day"], row["latest"]
            if day not in latest or moment > latest[day]:
                latest[day] = moment
    return latest


# Rows written around the import (a deletion in the admin) are only followed by the daily
# rebuild; a build older than twice that (beat stopped, rebuilds failing) is not read at all.
REBUILD_EVERY = timedelta(hours=24)
SERVED_FOR = 2 * REBUILD_EVERY


@dataclass(frozen=True, slots=True)
class Rolled:
    """A metric's counts read from the rollup, and where its failing rows' list may start and
    end: from the latest local days that hold at least the list's length of them to the end of
    the latest day that holds one (so listing them reads a few days of orders, not the window,
    nor the days after the last failing row)."""

    counts: Counts
    list_start: datetime
    list_end: datetime


def rolled_up(
    account: Account, definitions: Sequence[MetricDefinition], as_of: datetime, list_limit: int
) -> dict[str, Rolled]:
    """The metrics the rollup can give exactly as of `as_of`, by key (the others are left out:
    count them live; all of them while the rollup is not built for the account's zone and
    marketplace, or its last build is older than SERVED_FOR). Two queries (the rollup's state,
    the window's rows) plus one live count of the as-of day per metric whose day is still
    running."""
    first_day = (
        OrderRollupState.objects.filter(
            pk=account.pk,
            timezone=account.timezone,
            marketplace=account.marketplace,
            built_at__gt=timezone.now() - SERVED_FOR,
        )
        .values_list("first_day", flat=True)
        .first()
        if definitions
        else None
    )
    if first_day is None:
        return {}
    zone = ZoneInfo(account.timezone)
    today = as_of.astimezone(zone).date()
    spans = {d.key: max(d.window_days, d.long_window_days or 0) for d in definitions}
    # A window starting before the build's first day (a past as-of instant) is counted live.
    definitions = [d for d in definitions if today - timedelta(days=spans[d.key] - 1) >= first_day]
    wanted = Q()
    for d in definitions:
        wanted |= Q(measure=d.measure, anchor=d.anchor, day__gt=today - timedelta(days=spans[d.key]))
    stored: dict[Kind, dict[date, DayCount]] = {}
    for row in OrderMetricDay.objects.filter(wanted, account_id=account.pk, day__lte=today).values_list(
        "measure", "anchor", "day", "numerator", "denominator", "anchor_until", "facts_until"
    ):
        measure, anchor, day, numerator, denominator, anchor_until, facts_until = row
        count = DayCount(day, numerator, denominator, anchor_until, facts_until)
        stored.setdefault((Measure(measure), Anchor(anchor)), {})[day] = count
    found: dict[str, Rolled] = {}
    partial: dict[Kind, DayCount] = {}
    for d in definitions:
        days = stored.get((d.measure, d.anchor), {})
        if any(c.facts_until is not None and c.facts_until > as_of for c in days.values() if c.day < today):
            continue  # a past as-of instant: a whole day holds facts not known yet
        if (d.measure, d.anchor) not in partial:
            partial[(d.measure, d.anchor)] = _as_of_day(account, d, days.get(today), as_of, zone)
        found[d.key] = _summed(d, {**days, today: partial[(d.measure, d.anchor)]}, as_of, zone, list_limit)
    return found


def _as_of_day(
    account: Account, definition: MetricDefinition, row: DayCount | None, as_of: datetime, zone: ZoneInfo
) -> DayCount:
    """The as-of day's counts from its local midnight to `as_of`: its row when that is exactly
    it (no row: nothing that day), else counted live, probing each order's facts (a day of
    orders: cheaper than hashing the facts of the day's orders first)."""
    day = as_of.astimezone(zone).date()
    if row is None or (
        row.anchor_until is not None
        and row.anchor_until < as_of
        and (row.facts_until is None or row.facts_until <= as_of)
    ):
        return row or DayCount(day, 0, 0, None, None)
    start = midnight(day, zone)
    rows, column = rows_of(account.pk, definition.anchor)
    denominator, numerator, _failing = conditions(
        definition.measure, Window(account.pk, column, start, as_of, per_row=True)
    )
    found = rows.filter(denominator, **{f"{column}__gte": start, f"{column}__lt": as_of}).aggregate(
        den=Count("pk"), num=Count("pk", filter=numerator)
    )
    return DayCount(day, found["num"], found["den"], None, None)


def _summed(
    definition: MetricDefinition, days: dict[date, DayCount], as_of: datetime, zone: ZoneInfo, list_limit: int
) -> Rolled:
    """A window's counts from its days (eBay's long window while the short one is thin)."""
    today = as_of.astimezone(zone).date()

    def within(length: int) -> list[DayCount]:
        first = today - timedelta(days=length - 1)
        return [c for day, c in days.items() if first <= day <= today]

    length = definition.window_days
    short = within(length)
    if definition.long_window_days and sum(c.denominator for c in short) < (definition.min_transactions or 0):
        length = definition.long_window_days
    counted = within(length)
    numerator, denominator = sum(c.numerator for c in counted), sum(c.denominator for c in counted)
    failing = denominator - numerator if definition.higher_is_better else numerator
    # The list of failing rows starts at the latest day from which they number list_limit or
    # more, and ends with the latest day that has one.
    list_from, list_to, seen = today - timedelta(days=length - 1), today, 0
    for c in sorted(counted, key=lambda c: c.day, reverse=True):
        day_failing = c.denominator - c.numerator if definition.higher_is_better else c.numerator
        if day_failing and not seen:
            list_to = c.day
        seen += day_failing
        if seen >= list_limit:
            list_from = c.day
            break
    counts = Counts(
        window_start=midnight(today - timedelta(days=length - 1), zone),
        window_end=as_of,
        window_days=length,
        numerator=numerator,
        denominator=denominator,
        failing=failing,
    )
    return Rolled(counts, midnight(list_from, zone), min(midnight(list_to + timedelta(days=1), zone), as_of))
