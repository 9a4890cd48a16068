"""Reading the report rollups: compliance counts (`SlaRollup`), duration statistics
(`DurationRollup`) and the volume heatmap (`VolumeRollup`) instead of the clocks and messages.

The rollups answer when the report's days are stored days (UTC, or the accounts' own zone),
there is no priority filter (the one column they lack), the period lies inside the days they
cover, and they were refreshed recently; the volume also needs no agent or topic filter (it is
counted per account, channel and team only). Otherwise the caller computes live. Their figures
are as of the last refresh, which the report states.
"""

from __future__ import annotations

import importlib.util
import operator
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, TypeVar, cast

from django.db import connection
from django.db.models import Expression, F, QuerySet, Sum
from django.db.models.functions import TruncWeek

from inquiries.models import DurationRollup, SlaRollup, VolumeRollup
from inquiries.reports.counts import ComplianceCounts, Stats
from inquiries.reports.expressions import constant
from inquiries.reports.scope import BUSINESS, ReportScope

# Older than this, the rollup is not used: the figures are counted live instead (beat is down).
MAX_AGE = timedelta(minutes=10)
# The scope's filters, by the rollup column each filters.
FILTERS = {
    "agent_ids": "assignee_id",
    "channel_ids": "channel_id",
    "team_ids": "team_id",
    "topic_ids": "topic_id",
}
_Rollup = TypeVar("_Rollup", SlaRollup, DurationRollup, VolumeRollup)
COLUMNS = {
    "agent": "assignee_id",
    "team": "team_id",
    "channel": "channel_id",
    "topic": "topic_id",
    "account": "account_id",
}


def usable(scope: ReportScope, group_by: str = "total") -> bool:
    return bool(
        scope.rollup_as_of is not None
        and scope.rollup_first_day is not None
        and scope.day_field
        and not scope.priorities
        # A local day may start on the UTC day before it: keep one day of margin.
        and scope.first_day > scope.rollup_first_day
        and scope.now - scope.rollup_as_of <= MAX_AGE
    )


def rollup_counts(scope: ReportScope, group_by: str) -> tuple[list[ComplianceCounts], datetime] | None:
    """Compliance counts per (group, kind) from the rollup, with the instant they are as of;
    None when the rollup cannot answer this scope."""
    if not usable(scope, group_by) or scope.rollup_as_of is None:  # usable() implies a rollup instant
        return None
    day = _day_field(scope)
    rows = _period_rows(SlaRollup, scope, FILTERS)
    grouped = (
        rows.annotate(g=_group(day, group_by))
        .values("g", "kind")
        .annotate(**{name: Sum(name) for name in ComplianceCounts.OUTCOMES})
        .order_by()
    )
    counts = [ComplianceCounts.from_row(row) for row in grouped]
    return counts, scope.rollup_as_of


def rollup_counts_by(
    scope: ReportScope, group_bys: Sequence[str]
) -> tuple[dict[str, list[ComplianceCounts]], datetime] | None:
    """`rollup_counts` for several groupings among agent, team, channel, topic and account in
    one query (the breakdowns need five): the rollup rows of the period summed per combination
    of the groupings' columns, then added up per grouping here (a few thousand rows where five
    queries would each read the whole period). None when the rollup cannot answer this scope."""
    if not usable(scope) or scope.rollup_as_of is None or not set(group_bys) <= set(COLUMNS):
        return None
    columns = [COLUMNS[group_by] for group_by in group_bys]
    rows = (
        _period_rows(SlaRollup, scope, FILTERS)
        .values_list(*columns, "kind")
        .annotate(*(Sum(name) for name in ComplianceCounts.OUTCOMES))
        .order_by()
    )
    width = len(columns)
    sums: list[dict[tuple[object, str], tuple[int, ...]]] = [{} for _ in group_bys]
    for row in _fetch(rows):
        kind, outcomes = row[width], row[width + 1 :]
        for found, group in zip(sums, row[:width], strict=True):
            before = found.get((group, kind))
            found[(group, kind)] = outcomes if before is None else tuple(map(operator.add, before, outcomes))
    counts = {
        group_by: [ComplianceCounts(group, kind, *outcomes) for (group, kind), outcomes in found.items()]
        for group_by, found in zip(group_bys, sums, strict=True)
    }
    return counts, scope.rollup_as_of


def rollup_duration_stats(scope: ReportScope, group_bys: Sequence[str]) -> dict[str, Stats] | None:
    """`queries.duration_stats_by` from the measured clocks the rollup keeps (one query; the
    same figures, as of the last refresh); None when the rollup cannot answer this scope."""
    if not usable(scope) or not set(group_bys) <= {"total", *COLUMNS}:
        return None
    from inquiries.reports import measured  # numpy: imported when a report needs it

    rows = _period_rows(DurationRollup, scope, {})
    clocks = measured.Measured.unpack(_fetch(rows.values_list("account_id", "kind", "clocks")))
    for field, ids in (
        ("assignee", scope.agent_ids),
        ("channel", scope.channel_ids),
        ("team", scope.team_ids),
        ("topic", scope.topic_ids),
    ):
        if ids:
            clocks = clocks.only(field, ids)
    return measured.duration_stats(clocks, group_bys, business=scope.hours == BUSINESS)


def _fetch(rows: QuerySet) -> list[tuple]:
    """The rows of a values_list() query as the database driver returns them (no per-value
    conversion: ids, strings, integers and bytes need none). With psycopg 3 they are fetched in
    PostgreSQL's binary format: packed clocks arrive as stored, where text would hex-encode them
    on the server and decode them here (a month at a million inquiries is 15 MB). Through
    Django's cursor wrapper all the same: logged and counted like any query."""
    sql, params = rows.query.sql_with_params()
    if connection.vendor != "postgresql" or importlib.util.find_spec("psycopg") is None:
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.fetchall()
    import psycopg  # Django uses psycopg 3 whenever it is installed

    class BinaryCursor(psycopg.Cursor):
        # Server-side binding: the client-side cursor Django uses cannot return binary results.
        # Never prepared (a connection pooler may not keep prepared statements).
        def execute(self, query, params=None, **options):
            return super().execute(query, params, binary=True, prepare=False, **options)

    connection.ensure_connection()
    raw = cast(Any, BinaryCursor(connection.connection))
    with (
        connection.make_debug_cursor(raw)
        if connection.queries_logged
        else connection.make_cursor(raw) as cursor
    ):
        cursor.execute(sql, params)
        return cursor.fetchall()


def sections_as_of(scope: ReportScope, section: str) -> datetime | None:
    """The instant the times or volume figures of `scope` are as of when the rollup gives
    them (its last refresh); None when they are computed live, as of the request."""
    answers = volume_usable(scope) if section == "volume" else usable(scope)
    return scope.rollup_as_of if answers else None


def volume_usable(scope: ReportScope) -> bool:
    """The volume rollup counts per account, channel and team: no agent or topic filter."""
    return usable(scope) and not scope.agent_ids and not scope.topic_ids


def rollup_heatmap(scope: ReportScope) -> dict[tuple[int, int], tuple[int, int]] | None:
    """`queries.heatmap_counts` from the volume rollup (one query, as of the last refresh);
    None when the rollup cannot answer this scope."""
    if not volume_usable(scope):
        return None
    rows = _period_rows(VolumeRollup, scope, {"channel_ids": "channel_id", "team_ids": "team_id"})
    cells = rows.values("weekday", "hour").annotate(inbound=Sum("inbound"), replies=Sum("replies")).order_by()
    return {(row["weekday"], row["hour"]): (row["inbound"], row["replies"]) for row in cells}


def _period_rows(model: type[_Rollup], scope: ReportScope, filters: dict[str, str]) -> QuerySet[_Rollup]:
    """The rollup rows of the scope's accounts and days, limited by the scope's filters among
    `filters` (a scope attribute, by the rollup column it filters)."""
    day = _day_field(scope)
    rows = model.objects.filter(
        account_id__in=scope.account_ids, **{f"{day}__gte": scope.first_day, f"{day}__lte": scope.last_day}
    )
    for attribute, column in filters.items():
        if ids := getattr(scope, attribute):
            rows = rows.filter(**{f"{column}__in": ids})
    return rows.order_by()


def _day_field(scope: ReportScope) -> str:
    """The stored day that matches the report's days (`usable` requires one)."""
    return "day" if scope.day_field == "utc" else "local_day"


def _group(day: str, group_by: str) -> Expression | F:
    if group_by == "day":
        return F(day)
    if group_by == "week":
        return TruncWeek(day)
    if group_by == "total":
        return constant(0)
    return F(COLUMNS[group_by])
