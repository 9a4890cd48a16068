"""The aggregate queries behind every report figure: one GROUP BY per figure, never per row.

Rows come from stored facts only: clocks (state, started_at, due_at, stopped_at and the
business `elapsed_seconds` stored at the stop), messages and, for the digest, the append-only
InquiryEvent and ClusterEvent logs. Counting is done by the database (`Count(filter=...)`,
`Case`/`When` buckets). Percentiles use PostgreSQL's `percentile_cont`; on SQLite the
measured values are fetched and the same interpolation is done in Python.
"""

from __future__ import annotations

import bisect
import itertools
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, TypedDict, TypeVar, cast

from django.db import connection
from django.db.models import (
    Case,
    Count,
    DateField,
    Expression,
    F,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    When,
)
from django.db.models.functions import Coalesce, TruncDate, TruncWeek
from django.utils.translation import gettext_noop

from inquiries.models import (
    ACTIVE_CLOCK_STATES,
    OPEN_STATUSES,
    Clock,
    ClockKind,
    ClockState,
    ClusterEvent,
    ClusterEventKind,
    Direction,
    EventKind,
    HealthSnapshot,
    Inquiry,
    InquiryEvent,
    Message,
)
from inquiries.models.inquiries import InquiryQuerySet, answering
from inquiries.reports.counts import (
    DAY,
    DURATION_BUCKETS,
    DURATION_EDGES,
    HOUR,
    ComplianceCounts,
    DurationStats,
    Stats,
    percentile,
)
from inquiries.reports.expressions import LocalPart, SecondsBetween, constant
from inquiries.reports.rollup import rollup_counts, rollup_counts_by, rollup_duration_stats, rollup_heatmap
from inquiries.reports.scope import BUSINESS, CALENDAR, ReportScope

KIND_ORDER = (ClockKind.FIRST_REPLY, ClockKind.NEXT_REPLY, ClockKind.RESOLUTION, ClockKind.MARKETPLACE_REPLY)
DURATION_KINDS = (ClockKind.FIRST_REPLY, ClockKind.RESOLUTION)
MEASURED_STATES = (ClockState.MET, ClockState.MISSED)
# Upper bounds of the backlog's age buckets (now - opened_at), in seconds.
AGE_EDGES = (HOUR, 4 * HOUR, DAY, 3 * DAY, 7 * DAY)
AGE_BUCKETS = (
    gettext_noop("under 1 h"),
    gettext_noop("1-4 h"),
    gettext_noop("4-24 h"),
    gettext_noop("1-3 days"),
    gettext_noop("3-7 days"),
    gettext_noop("7 days or more"),
)

_Rows = TypeVar("_Rows", bound=QuerySet[Any])

if TYPE_CHECKING:
    from django_stubs_ext import WithAnnotations


class Waiting(TypedDict):
    """What `oldest_waiting` annotates an inquiry with."""

    waiting_since: datetime
    first_text: str  # an inquiry waiting for a reply has a customer message


# --- scoping ------------------------------------------------------------------------------


def team_expression(pairs: dict[tuple[int, int], int], prefix: str = "") -> Expression | F:
    """The inquiry's team: `inquiry.team`, else the assignee's team that works the inquiry's
    account (the lowest id when several do), else NULL ("No team"). The membership pairs are
    read once (`ReportScope.memberships`) and inlined as a CASE, so no row runs a subquery."""
    via_assignee = [
        When(
            Q(**{f"{prefix}assignee_id": user_id, f"{prefix}account_id": account_id}), then=constant(team_id)
        )
        for (user_id, account_id), team_id in sorted(pairs.items())
    ]
    if not via_assignee:
        return F(f"{prefix}team_id")
    return Coalesce(
        F(f"{prefix}team_id"), Case(*via_assignee, output_field=IntegerField()), output_field=IntegerField()
    )


def scoped(queryset: _Rows, scope: ReportScope, prefix: str = "", *, with_team: bool = False) -> _Rows:
    """`queryset` limited to the scope's accounts and inquiry filters; `prefix` leads to the inquiry.
    With `with_team` (or a team filter) rows carry `report_team`."""
    conditions = Q(**{f"{prefix}account_id__in": scope.account_ids})
    if scope.agent_ids:
        conditions &= Q(**{f"{prefix}assignee_id__in": scope.agent_ids})
    if scope.channel_ids:
        conditions &= Q(**{f"{prefix}channel_id__in": scope.channel_ids})
    if scope.topic_ids:
        conditions &= Q(**{f"{prefix}topic_id__in": scope.topic_ids})
    if scope.priorities:
        conditions &= Q(**{f"{prefix}priority__in": scope.priorities})
    if with_team or scope.team_ids:
        queryset = queryset.annotate(report_team=team_expression(scope.team_of, prefix))
    if scope.team_ids:
        conditions &= Q(report_team__in=scope.team_ids)
    return queryset.filter(conditions).order_by()


def period_clocks(scope: ReportScope, *, with_team: bool = False) -> QuerySet[Clock]:
    """Clocks that belong to the period: started_at in [start, end)."""
    clocks = Clock.objects.filter(started_at__gte=scope.start, started_at__lt=scope.end)
    return scoped(clocks, scope, "inquiry__", with_team=with_team)


def group_expression(scope: ReportScope, group_by: str) -> Expression | F:
    """The GROUP BY value of a clock: its local start day or week (Monday), or an inquiry's id."""
    if group_by == "day":
        return TruncDate("started_at", tzinfo=scope.zone)
    if group_by == "week":
        return TruncWeek("started_at", tzinfo=scope.zone, output_field=DateField())
    if group_by == "team":
        return F("report_team")
    if group_by == "total":
        return constant(0)
    field = {"agent": "assignee_id", "channel": "channel_id", "topic": "topic_id", "account": "account_id"}[
        group_by
    ]
    return F(f"inquiry__{field}")


# --- SLA compliance -----------------------------------------------------------------------


def outcome_counts(now: datetime) -> dict[str, Count]:
    """The five clock outcomes as of `now`, as aggregates over a clock queryset."""
    return {
        "met": Count("pk", filter=Q(state=ClockState.MET)),
        "missed": Count("pk", filter=Q(state=ClockState.MISSED)),
        "breached": Count("pk", filter=Q(state__in=ACTIVE_CLOCK_STATES, due_at__lte=now)),
        "cancelled": Count("pk", filter=Q(state=ClockState.CANCELLED)),
        "in_progress": Count(
            "pk", filter=Q(state=ClockState.PAUSED) | Q(state__in=ACTIVE_CLOCK_STATES, due_at__gt=now)
        ),
    }


def compliance_counts(scope: ReportScope, group_by: str) -> tuple[list[ComplianceCounts], datetime]:
    """One row per (group, clock kind) with any clock in the period, and the instant the
    states are judged at: from the rollup when it can answer (see `rollup_counts`), else live."""
    found = rollup_counts(scope, group_by)
    if found is not None:
        return found
    return live_compliance_counts(scope, group_by), scope.now


def compliance_counts_by(
    scope: ReportScope, group_bys: Sequence[str]
) -> dict[str, tuple[list[ComplianceCounts], datetime]]:
    """`compliance_counts` for several dimensions: from the rollup in one query when it can
    answer, else counted live per dimension."""
    found = rollup_counts_by(scope, group_bys)
    if found is not None:
        counts, as_of = found
        return {group_by: (counts[group_by], as_of) for group_by in group_bys}
    return {group_by: (live_compliance_counts(scope, group_by), scope.now) for group_by in group_bys}


def live_compliance_counts(
    scope: ReportScope, group_by: str, now: datetime | None = None
) -> list[ComplianceCounts]:
    """The compliance counts straight from the clocks, states judged at `now` (default scope.now).

    Breached: not stopped and past due (judged from due_at, so a breach counts before the sweep
    has marked it). In progress: paused, or not stopped and not yet due.
    """
    rows = (
        period_clocks(scope, with_team=group_by == "team")
        .annotate(g=group_expression(scope, group_by))
        .values("g", "kind")
        .annotate(**outcome_counts(now or scope.now))
    )
    return [ComplianceCounts.from_row(row) for row in rows]


# --- durations ----------------------------------------------------------------------------


def other_hours(hours: str) -> str:
    return CALENDAR if hours == BUSINESS else BUSINESS


def duration_expression(scope: ReportScope, hours: str | None = None) -> Expression | F:
    """Business mode: the business seconds stored at the stop (pauses excluded). Calendar
    mode: stopped_at - started_at, nothing subtracted. `hours` overrides the scope's mode."""
    if (hours or scope.hours) == BUSINESS:
        return F("elapsed_seconds")
    return SecondsBetween("stopped_at", "started_at")


def measured_clocks(scope: ReportScope, *, with_team: bool = False) -> QuerySet[Clock]:
    """First-reply and resolution clocks of the period that stopped with a measurement."""
    clocks = period_clocks(scope, with_team=with_team).filter(
        kind__in=DURATION_KINDS, state__in=MEASURED_STATES, stopped_at__isnull=False
    )
    if scope.hours == BUSINESS:
        clocks = clocks.filter(elapsed_seconds__isnull=False)
    return clocks


def duration_stats(scope: ReportScope, group_by: str = "total") -> Stats:
    """Count, mean, median and 90th percentile (linear interpolation) per (group, kind)."""
    return duration_stats_by(scope, (group_by,))[group_by]


def duration_stats_by(scope: ReportScope, group_bys: Sequence[str]) -> dict[str, Stats]:
    """`duration_stats` for several groupings in one pass over the measured clocks
    (GROUPING SETS on PostgreSQL): the page needs the totals and five breakdowns. Each
    statistic carries in `other` the same clocks measured in the other mode (a clock with no
    stored business measurement has no business figure). From the rollup when it can answer."""
    from_rollup = rollup_duration_stats(scope, group_bys)
    if from_rollup is not None:
        return from_rollup
    columns = {f"g_{name}": group_expression(scope, name) for name in group_bys}
    values = (
        measured_clocks(scope, with_team="team" in group_bys)
        .annotate(
            **columns,
            k=F("kind"),
            d=duration_expression(scope),
            d2=duration_expression(scope, other_hours(scope.hours)),
        )
        .values(*columns, "k", "d", "d2")
    )
    if connection.vendor == "postgresql":
        return _postgresql_stats(values, list(columns), list(group_bys))
    grouped: dict[str, dict[tuple[object, str], tuple[list[float], list[float]]]] = {
        name: defaultdict(lambda: ([], [])) for name in group_bys
    }
    for row in values:
        for name in group_bys:
            found, other = grouped[name][(row[f"g_{name}"], row["k"])]
            found.append(float(row["d"]))
            if row["d2"] is not None:
                other.append(float(row["d2"]))
    return {
        name: {key: summarise(found, other) for key, (found, other) in groups.items()}
        for name, groups in grouped.items()
    }


def _postgresql_stats(values: QuerySet, columns: list[str], group_bys: list[str]) -> dict[str, Stats]:
    sql, params = values.query.sql_with_params()
    # GROUPING(c) is 0 in the rows of the set that groups by c (even where c is NULL).
    grouping = ", ".join(f"GROUPING({c})" for c in columns)
    sets = ", ".join(f"({c}, k)" for c in columns)
    found: dict[str, Stats] = {name: {} for name in group_bys}
    # The histogram of the totals is counted in the same pass (the page's times section).
    counted = _aggregates("d", buckets=group_bys == ["total"])
    with connection.cursor() as cursor:
        # `sql` is the ORM's own compiled query; every value in it is a bound parameter.
        cursor.execute(
            f"SELECT {grouping}, {', '.join(columns)}, k, {counted}, {_aggregates('d2')} "  # noqa: S608
            f"FROM ({sql}) AS measured GROUP BY GROUPING SETS ({sets})",
            params,
        )
        width = len(columns)
        for row in cursor.fetchall():
            which = row[:width].index(0)
            kind, count, mean, p50, p90, *rest = row[2 * width :]
            other, buckets = rest[-4:], rest[:-4]
            found[group_bys[which]][(row[width + which], kind)] = DurationStats(
                count, mean, p50, p90, DurationStats(*other), tuple(buckets) or None
            )
    return found


def _aggregates(column: str, *, buckets: bool = False) -> str:
    # Aggregates skip NULLs: a clock without a business measurement counts in calendar time only.
    found = (
        f"COUNT({column}), AVG({column})::double precision, "
        f"percentile_cont(0.5) WITHIN GROUP (ORDER BY {column}), "
        f"percentile_cont(0.9) WITHIN GROUP (ORDER BY {column})"
    )
    if not buckets:
        return found
    # The histogram in the same pass: lower bound included, upper bound excluded.
    conditions = [
        f"{column} < {DURATION_EDGES[0]}",
        *(f"{column} >= {low} AND {column} < {high}" for low, high in itertools.pairwise(DURATION_EDGES)),
        f"{column} >= {DURATION_EDGES[-1]}",
    ]
    return ", ".join([found, *(f"COUNT(*) FILTER (WHERE {c})" for c in conditions)])


def summarise(values: Sequence[float], other: Sequence[float] | None = None) -> DurationStats:
    """The statistics `duration_stats` computes in SQL, for a list of numbers (and `other`,
    the same clocks in the other mode)."""
    alternative = summarise(other) if other is not None else None
    if not values:
        return DurationStats(0, None, None, None, alternative)
    ordered = sorted(values)
    buckets = [0] * len(DURATION_BUCKETS)
    for value in ordered:
        buckets[bisect.bisect_right(DURATION_EDGES, value)] += 1
    return DurationStats(
        len(ordered),
        sum(ordered) / len(ordered),
        percentile(ordered, 0.5),
        percentile(ordered, 0.9),
        alternative,
        tuple(buckets),
    )


def duration_histogram(scope: ReportScope, stats: Stats | None = None) -> dict[str, list[int]]:
    """Per kind, how many measured clocks fall in each of DURATION_BUCKETS; counted in the
    same pass as the statistics (`stats`: the scope's totals, when already computed)."""
    stats = stats if stats is not None else duration_stats(scope)
    return {
        kind: list(stats[(0, kind)].buckets or ()) if (0, kind) in stats else [0] * len(DURATION_BUCKETS)
        for kind in DURATION_KINDS
    }


# --- backlog ------------------------------------------------------------------------------


def open_inquiries(scope: ReportScope) -> InquiryQuerySet:
    """Open inquiries (new, open, pending) as of now, whatever the period."""
    return scoped(Inquiry.objects.filter(status__in=OPEN_STATUSES, opened_at__lte=scope.now), scope)


def backlog_counts(scope: ReportScope) -> dict[tuple[str, int], int]:
    """(status, age bucket) -> open inquiries; age = now - opened_at, see AGE_BUCKETS."""
    now = scope.now
    ages = Case(
        *(
            When(opened_at__gt=now - timedelta(seconds=edge), then=constant(i))
            for i, edge in enumerate(AGE_EDGES)
        ),
        default=constant(len(AGE_EDGES)),
        output_field=IntegerField(),
    )
    rows = open_inquiries(scope).annotate(age=ages).values("status", "age").annotate(n=Count("pk"))
    return {(row["status"], row["age"]): row["n"] for row in rows}


def unanswered_messages() -> QuerySet[Message]:
    """Customer messages that need a response and have none yet."""
    return Message.objects.filter(
        direction=Direction.INBOUND, automatic=False, no_response_needed=False, answered_at__isnull=True
    )


def oldest_waiting(scope: ReportScope, limit: int = 10) -> list[WithAnnotations[Inquiry, Waiting]]:
    """Open inquiries whose oldest unanswered customer message is oldest, annotated `waiting_since`
    and the customer's first words (`first_text`, the title of a subjectless inquiry)."""
    first_unanswered = (
        unanswered_messages()
        .filter(inquiry=OuterRef("pk"), received_at__lte=scope.now)
        .order_by("received_at")
        .values("received_at")[:1]
    )
    inquiries = (
        open_inquiries(scope)
        .with_texts()
        .annotate(waiting_since=Subquery(first_unanswered))
        .filter(waiting_since__isnull=False)
        .select_related("account", "assignee", "customer")
        .order_by("waiting_since", "pk")[:limit]
    )
    # The plugin sees this query's annotation, not the `first_text` of `with_texts()`.
    return cast("list[WithAnnotations[Inquiry, Waiting]]", list(inquiries))


# --- volume -------------------------------------------------------------------------------


def heatmap_counts(scope: ReportScope) -> dict[tuple[int, int], tuple[int, int]]:
    """(ISO weekday 1-7, hour 0-23) -> (customer messages, replies) received in the period,
    each message placed in its own account's time zone. Automatic mail is left out; replies
    are those that answer (`Message.objects.answers()`), at the time they were written.
    From the rollup when it can answer."""
    found = rollup_heatmap(scope)
    if found is not None:
        return found
    zone = "inquiry__account__timezone"
    rows = (
        scoped(
            Message.objects.filter(received_at__gte=scope.start, received_at__lt=scope.end),
            scope,
            "inquiry__",
        )
        .filter(automatic=False, direction__in=(Direction.INBOUND, Direction.OUTBOUND))
        .annotate(
            weekday=LocalPart("received_at", zone, "iso_week_day"),
            hour=LocalPart("received_at", zone, "hour"),
        )
        .values("weekday", "hour")
        .annotate(
            inbound=Count("pk", filter=Q(direction=Direction.INBOUND)),
            replies=Count("pk", filter=answering()),
        )
    )
    return {(row["weekday"], row["hour"]): (row["inbound"], row["replies"]) for row in rows}


# --- facts for the digest -----------------------------------------------------------------


def breaches_by_kind(scope: ReportScope) -> dict[str, int]:
    """Clock breaches that happened in the period, from the event log (clock kind -> count)."""
    rows = (
        scoped(
            InquiryEvent.objects.filter(kind=EventKind.CLOCK_BREACHED, at__gte=scope.start, at__lt=scope.end),
            scope,
            "inquiry__",
        )
        .values("data__clock_kind")
        .annotate(n=Count("pk"))
    )
    return {row["data__clock_kind"]: row["n"] for row in rows}


def clusters_opened(scope: ReportScope) -> list[ClusterEvent]:
    """Complaint clusters flagged in the period on the scope's accounts."""
    return list(
        ClusterEvent.objects.filter(
            kind=ClusterEventKind.OPENED,
            at__gte=scope.start,
            at__lt=scope.end,
            cluster__account_id__in=scope.account_ids,
        )
        .select_related("cluster__account", "cluster__topic")
        .order_by("at", "pk")
    )


@dataclass(frozen=True, slots=True)
class HealthChange:
    account_id: int
    before: str
    after: str


def health_changes(account_ids: Sequence[int], start: datetime, end: datetime) -> list[HealthChange]:
    """Accounts whose health status (the daily snapshots) at `end` differs from the one at `start`."""
    snapshots = (
        HealthSnapshot.objects.filter(
            account_id__in=account_ids, as_of__lte=end, date__gte=(start - timedelta(days=3)).date()
        )
        .order_by("account_id", "as_of")
        .values_list("account_id", "as_of", "status")
    )
    before: dict[int, str] = {}
    after: dict[int, str] = {}
    for account_id, as_of, status in snapshots:
        if as_of <= start:
            before[account_id] = status
        after[account_id] = status
    return [
        HealthChange(a, before[a], after[a]) for a in sorted(after) if a in before and before[a] != after[a]
    ]
