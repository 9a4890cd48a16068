"""Reading the SLA rollup: the compliance counts of a scope from `SlaRollup` instead of the clocks.

The rollup answers when the report's days are stored days (UTC, or the accounts' own zone),
there is no priority filter (the one column it lacks), the period lies inside the days it
covers, and it was refreshed recently; otherwise the caller counts the clocks live.
Its figures are the clocks' states as of its last refresh, which the report states.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db.models import Expression, F, Sum
from django.db.models.functions import TruncWeek

from inquiries.models import SlaRollup
from inquiries.reports.counts import ComplianceCounts
from inquiries.reports.expressions import constant
from inquiries.reports.scope import ReportScope

# Older than this, the rollup is not used: the figures are counted live instead (beat is down).
MAX_AGE = timedelta(minutes=10)
COLUMNS = {
    "agent": "assignee_id",
    "team": "team_id",
    "channel": "channel_id",
    "topic": "topic_id",
    "account": "account_id",
}


def usable(scope: ReportScope, group_by: str) -> bool:
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
    day = "day" if scope.day_field == "utc" else "local_day"
    rows = SlaRollup.objects.filter(
        account_id__in=scope.account_ids, **{f"{day}__gte": scope.first_day, f"{day}__lte": scope.last_day}
    )
    if scope.agent_ids:
        rows = rows.filter(assignee_id__in=scope.agent_ids)
    if scope.channel_ids:
        rows = rows.filter(channel_id__in=scope.channel_ids)
    if scope.team_ids:
        rows = rows.filter(team_id__in=scope.team_ids)
    if scope.topic_ids:
        rows = rows.filter(topic_id__in=scope.topic_ids)
    grouped = (
        rows.annotate(g=_group(day, group_by))
        .values("g", "kind")
        .annotate(**{name: Sum(name) for name in ComplianceCounts.OUTCOMES})
        .order_by()
    )
    counts = [ComplianceCounts.from_row(row) for row in grouped]
    return counts, scope.rollup_as_of


def _group(day: str, group_by: str) -> Expression | F:
    if group_by == "day":
        return F(day)
    if group_by == "week":
        return TruncWeek(day)
    if group_by == "total":
        return constant(0)
    return F(COLUMNS[group_by])
