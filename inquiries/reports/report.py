"""Report tables and charts from the aggregate queries.

`build_table(name, ...)` is the one function behind the page's tables, the CSV downloads
and the API, so the three always show the same figures; `build_report()` calls it for
every table of the page and draws the charts from those tables.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, cast

from django.contrib.auth import get_user_model
from django.utils.dates import WEEKDAYS_ABBR
from django.utils.formats import date_format
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from inquiries import display
from inquiries.models import Account, Channel, ClockKind, Status, Team, Topic
from inquiries.reports import charts, queries
from inquiries.reports.counts import ComplianceCounts
from inquiries.reports.queries import AGE_BUCKETS, DURATION_BUCKETS, DURATION_KINDS, KIND_ORDER, other_hours
from inquiries.reports.rollup import sections_as_of
from inquiries.reports.scope import (
    BUSINESS,
    CALENDAR,
    DIMENSIONS,
    NONE_LABELS,
    TIME_GROUPS,
    ReportChoices,
    ReportScope,
    user_label,
)
from inquiries.reports.tables import (
    DATETIME,
    KEY,
    PCT,
    SECONDS,
    TEXT,
    Column,
    Table,
    duration,
    rounded_pct,
    rounded_seconds,
)

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise

KIND_LABELS = dict(ClockKind.choices)
KIND_COLORS = dict(zip(KIND_ORDER, charts.PALETTE, strict=False))
KIND_DASHES = dict(zip(KIND_ORDER, charts.DASHES, strict=False))
# "Mon" ... "Sun" in the reader's language (Django's own catalogue translates them).
WEEKDAYS = tuple(WEEKDAYS_ABBR[day] for day in range(7))
OPEN_STATUS_ORDER = (Status.NEW, Status.OPEN, Status.PENDING)
TABLE_NAMES = ("sla", "durations", "histogram", "breakdown", "backlog", "oldest", "heatmap")
HOURS_LABELS = {BUSINESS: gettext_lazy("business hours"), CALENDAR: gettext_lazy("calendar time")}
# A business-hours median at most this share of the calendar-time one gets an explanation.
MUCH_SMALLER = 0.5
GROUP_TITLES = {
    "day": gettext_lazy("Day"),
    "week": gettext_lazy("Week (from Monday)"),
    "agent": gettext_lazy("Agent"),
    "team": gettext_lazy("Team"),
    "channel": gettext_lazy("Channel"),
    "topic": gettext_lazy("Topic"),
    "account": gettext_lazy("Account"),
}
BREAKDOWN_TITLES = {
    "agent": gettext_lazy("By agent"),
    "team": gettext_lazy("By team"),
    "channel": gettext_lazy("By channel"),
    "topic": gettext_lazy("By topic"),
    "account": gettext_lazy("By account"),
}
SLA_TABLE_TITLES = {
    "day": gettext_lazy("SLA compliance by day"),
    "week": gettext_lazy("SLA compliance by week (from Monday)"),
    "agent": gettext_lazy("SLA compliance by agent"),
    "team": gettext_lazy("SLA compliance by team"),
    "channel": gettext_lazy("SLA compliance by channel"),
    "topic": gettext_lazy("SLA compliance by topic"),
    "account": gettext_lazy("SLA compliance by account"),
}
SLA_CHART_TITLES = {
    "day": gettext_lazy("SLA compliance by day, per clock kind"),
    "week": gettext_lazy("SLA compliance by week, per clock kind"),
    "agent": gettext_lazy("SLA compliance by agent, per clock kind"),
    "team": gettext_lazy("SLA compliance by team, per clock kind"),
    "channel": gettext_lazy("SLA compliance by channel, per clock kind"),
    "topic": gettext_lazy("SLA compliance by topic, per clock kind"),
    "account": gettext_lazy("SLA compliance by account, per clock kind"),
}

# The rows whose names label the groups of the other dimensions (`str(row)` is the name).
LABELLED_MODELS: dict[str, type[Team] | type[Channel] | type[Topic] | type[Account]] = {
    "team": Team,
    "channel": Channel,
    "topic": Topic,
    "account": Account,
}


# --- labels -------------------------------------------------------------------------------


def group_labels(choices: ReportChoices, dimension: str, keys: set[object]) -> dict[object, str]:
    """Names of the groups; rows outside the filter lists (a former agent...) cost one query."""
    labels: dict[object, str] = {key: label for key, label in choices.labels(dimension).items()}
    missing = [key for key in keys if key is not None and key not in labels]
    if missing:
        if dimension == "agent":
            labels |= {u.pk: user_label(u) for u in get_user_model().objects.filter(pk__in=missing)}
        else:
            model = LABELLED_MODELS[dimension]
            labels |= {row.pk: str(row) for row in model.objects.filter(pk__in=missing)}
    labels[None] = str(NONE_LABELS[dimension])
    return labels


def time_buckets(scope: ReportScope, group_by: str) -> list[date]:
    if group_by == "day":
        return scope.days
    monday = scope.first_day - timedelta(days=scope.first_day.weekday())
    return [monday + timedelta(weeks=n) for n in range((scope.last_day - monday).days // 7 + 1)]


# --- tables -------------------------------------------------------------------------------

SLA_COLUMNS = (
    Column("group", gettext_lazy("Group"), KEY),
    Column("group_label", gettext_lazy("Group"), TEXT),
    Column("clock_kind", gettext_lazy("Clock"), KEY),
    Column("clock_label", gettext_lazy("Clock"), TEXT),
    Column("met", gettext_lazy("Met")),
    Column("missed", gettext_lazy("Missed")),
    Column("breached", gettext_lazy("Still breached")),
    Column("cancelled", gettext_lazy("Cancelled")),
    Column("in_progress", gettext_lazy("In progress")),
    Column("counted", gettext_lazy("Counted (met + missed + breached)")),
    Column("compliance_pct", gettext_lazy("Compliance"), PCT),
)


def sla_table(scope: ReportScope, choices: ReportChoices, group_by: str) -> Table:
    """SLA compliance per clock kind and group (day, week or a dimension), in the period."""
    found, as_of = queries.compliance_counts(scope, group_by)
    counts = {(row.group, row.kind): row for row in found}
    kinds = [kind for kind in KIND_ORDER if any(k == kind for _, k in counts)]
    if group_by in TIME_GROUPS:
        buckets = time_buckets(scope, group_by)
        labels: dict[object, str] = {
            bucket: date_format(bucket, "D d M Y")
            if group_by == "day"
            else _("Week of %(date)s") % {"date": date_format(bucket, "d M Y")}
            for bucket in buckets
        }
        keys: list[object] = list(buckets)
        pairs = [(key, kind) for key in keys for kind in kinds]
    else:
        labels = group_labels(choices, group_by, {g for g, _ in counts})
        keys = sorted({g for g, _ in counts}, key=lambda g: (g is None, labels[g].casefold()))
        pairs = [(key, kind) for key in keys for kind in kinds if (key, kind) in counts]
    rows = []
    for key, kind in pairs:
        row = counts.get((key, kind)) or ComplianceCounts(key, kind)
        rows.append(
            (
                key,
                labels[key],
                kind,
                str(KIND_LABELS[kind]),
                row.met,
                row.missed,
                row.breached,
                row.cancelled,
                row.in_progress,
                row.counted,
                rounded_pct(row.compliance),
            )
        )
    return Table("sla", str(SLA_TABLE_TITLES[group_by]), SLA_COLUMNS, tuple(rows), as_of)


def breakdown_table(
    scope: ReportScope,
    choices: ReportChoices,
    dimension: str,
    stats: queries.Stats | None = None,
    compliance: tuple[list[ComplianceCounts], datetime] | None = None,
) -> Table:
    """Per agent, team, channel, topic or account: first-reply and resolution compliance and
    median times, and clocks still breached (all kinds). `stats` and `compliance`: the
    dimension's duration statistics and compliance counts when already computed (the page
    computes those of every dimension at once)."""
    counts, as_of = compliance or queries.compliance_counts(scope, dimension)
    stats = stats if stats is not None else queries.duration_stats(scope, dimension)
    by_group: dict[object, dict[str, ComplianceCounts]] = defaultdict(dict)
    for row in counts:
        by_group[row.group][row.kind] = row
    labels = group_labels(choices, dimension, set(by_group))
    rows = []
    for key in sorted(by_group, key=lambda g: (g is None, labels[g].casefold())):
        kinds = by_group[key]
        figures: list[object] = [key, labels[key]]
        for kind in DURATION_KINDS:
            row = kinds.get(kind) or ComplianceCounts(key, kind)
            stat = stats.get((key, kind))
            other = stat.other if stat else None
            figures += [
                row.counted,
                rounded_pct(row.compliance),
                rounded_seconds(stat.median if stat else None),
                rounded_seconds(other.median if other else None),
            ]
        figures += [sum(r.breached for r in kinds.values()), sum(r.in_progress for r in kinds.values())]
        rows.append(tuple(figures))
    title = GROUP_TITLES[dimension]
    hours, other_mode = scope.hours, other_hours(scope.hours)
    modes = {"hours": HOURS_LABELS[hours]}, {"hours": HOURS_LABELS[other_mode]}
    columns = (
        Column("group", title, KEY),
        Column("group_label", title, TEXT),
        Column("first_reply_counted", _("First replies")),
        Column("first_reply_compliance_pct", _("First-reply compliance"), PCT),
        Column("first_reply_median_seconds", _("Median first reply (%(hours)s)") % modes[0], SECONDS),
        Column(
            f"first_reply_{other_mode}_median_seconds",
            _("Median first reply (%(hours)s)") % modes[1],
            SECONDS,
        ),
        Column("resolution_counted", _("Resolutions")),
        Column("resolution_compliance_pct", _("Resolution compliance"), PCT),
        Column("resolution_median_seconds", _("Median resolution (%(hours)s)") % modes[0], SECONDS),
        Column(
            f"resolution_{other_mode}_median_seconds", _("Median resolution (%(hours)s)") % modes[1], SECONDS
        ),
        Column("breached", _("Still breached, all clocks")),
        Column("in_progress", _("In progress, all clocks")),
    )
    return Table(f"breakdown-{dimension}", str(BREAKDOWN_TITLES[dimension]), columns, tuple(rows), as_of)


def durations_table(scope: ReportScope, stats: queries.Stats | None = None) -> Table:
    """Count, median, 90th percentile and mean per clock kind in the report's mode, each
    beside the same figure for the same clocks in the other mode (business hours and
    calendar time side by side; `<mode>_median_seconds` and so on name the other mode).
    `stats`: the scope's totals when already computed (the page reads them once for this
    table and the histogram)."""
    stats = stats if stats is not None else queries.duration_stats(scope)
    empty = queries.DurationStats(0, None, None, None)
    rows = []
    for kind in DURATION_KINDS:
        stat = stats.get((0, kind)) or empty
        other = stat.other or empty
        rows.append(
            (
                kind,
                KIND_LABELS[kind],
                stat.count,
                rounded_seconds(stat.median),
                rounded_seconds(other.median),
                rounded_seconds(stat.p90),
                rounded_seconds(other.p90),
                rounded_seconds(stat.mean),
                rounded_seconds(other.mean),
            )
        )
    other_mode = other_hours(scope.hours)
    hours, others = {"hours": HOURS_LABELS[scope.hours]}, {"hours": HOURS_LABELS[other_mode]}
    columns = (
        Column("clock_kind", _("Clock"), KEY),
        Column("clock_label", _("Clock"), TEXT),
        Column("count", _("Measured clocks")),
        Column("median_seconds", _("Median (%(hours)s)") % hours, SECONDS),
        Column(f"{other_mode}_median_seconds", _("Median (%(hours)s)") % others, SECONDS),
        Column("p90_seconds", _("90th percentile (%(hours)s)") % hours, SECONDS),
        Column(f"{other_mode}_p90_seconds", _("90th percentile (%(hours)s)") % others, SECONDS),
        Column("mean_seconds", _("Mean (%(hours)s)") % hours, SECONDS),
        Column(f"{other_mode}_mean_seconds", _("Mean (%(hours)s)") % others, SECONDS),
    )
    return Table(
        "durations",
        _("First-reply and resolution times"),
        columns,
        tuple(rows),
        sections_as_of(scope, "times"),
    )


def duration_notes(scope: ReportScope, durations: Table) -> list[str]:
    """One line per clock kind whose business-hours median is 0 or much smaller than its
    calendar-time median, saying why: business-hours clocks do not count the time the
    account's business hours are closed, so replies sent at night or on weekends measure
    little or nothing."""
    business, calendar = (
        ("median_seconds", "calendar_median_seconds")
        if scope.hours == BUSINESS
        else ("business_median_seconds", "median_seconds")
    )
    notes = []
    for row in durations.records():
        b, c = row[business], row[calendar]
        # Both are whole seconds, or None when no clock was measured (`rounded_seconds`).
        if not isinstance(b, int) or not isinstance(c, int) or not c or b > MUCH_SMALLER * c:
            continue
        figures = {"clock": row["clock_label"], "business": duration(b), "calendar": duration(c)}
        if b == 0:
            note = _(
                "%(clock)s: the median is %(business)s in business hours but %(calendar)s in calendar time: "
                "most of these clocks started and stopped while business hours were closed (nights, "
                "weekends, holidays), and closed time counts as 0 in business hours."
            )
        else:
            note = _(
                "%(clock)s: the median is %(business)s in business hours but %(calendar)s in calendar time: "
                "much of the waiting fell outside business hours, which business-hours figures do not count."
            )
        notes.append(note % figures)
    return notes


def histogram_table(scope: ReportScope, stats: queries.Stats | None = None) -> Table:
    counts = queries.duration_histogram(scope, stats)
    rows = tuple(
        (kind, KIND_LABELS[kind], index, _(bucket), counts[kind][index])
        for kind in DURATION_KINDS
        for index, bucket in enumerate(DURATION_BUCKETS)
    )
    columns = (
        Column("clock_kind", _("Clock"), KEY),
        Column("clock_label", _("Clock"), TEXT),
        Column("bucket", _("Bucket"), KEY),
        Column("bucket_label", _("Time taken"), TEXT),
        Column("count", _("Clocks")),
    )
    return Table("histogram", _("Time distribution"), columns, rows, sections_as_of(scope, "times"))


def backlog_table(scope: ReportScope) -> Table:
    counts = queries.backlog_counts(scope)
    rows = []
    for index, bucket in enumerate(AGE_BUCKETS):
        per_status = [counts.get((status, index), 0) for status in OPEN_STATUS_ORDER]
        rows.append((index, _(bucket), *per_status, sum(per_status)))
    columns = (
        Column("bucket", _("Age"), KEY),
        Column("bucket_label", _("Age (since opened)"), TEXT),
        *(Column(status.value, status.label) for status in OPEN_STATUS_ORDER),
        Column("total", _("All open")),
    )
    return Table("backlog", _("Open inquiries by age and status"), columns, tuple(rows))


def oldest_table(scope: ReportScope) -> Table:
    rows = []
    for inquiry in queries.oldest_waiting(scope):
        since = inquiry.waiting_since
        rows.append(
            (
                inquiry.pk,
                display.title(inquiry.subject, inquiry.first_text, empty=_("(no subject)")),
                inquiry.customer.address,
                inquiry.account.name,
                user_label(inquiry.assignee) if inquiry.assignee else str(NONE_LABELS["agent"]),
                Status(inquiry.status).label,
                since,
                rounded_seconds((scope.now - since).total_seconds()),
            )
        )
    columns = (
        Column("inquiry", _("Inquiry"), KEY),
        Column("subject", _("Subject"), TEXT),
        Column("customer", _("Customer"), TEXT),
        Column("account", _("Account"), TEXT),
        Column("assignee", _("Assignee"), TEXT),
        Column("status", _("Status"), TEXT),
        Column("waiting_since", _("Waiting since (UTC)"), DATETIME),
        Column("waiting_seconds", _("Waiting"), SECONDS),
    )
    return Table("oldest", _("Oldest waiting for a reply"), columns, tuple(rows))


def heatmap_table(scope: ReportScope) -> Table:
    counts = queries.heatmap_counts(scope)
    rows = tuple(
        (weekday, str(WEEKDAYS[weekday - 1]), hour, *counts.get((weekday, hour), (0, 0)))
        for weekday in range(1, 8)
        for hour in range(24)
    )
    columns = (
        Column("weekday", _("Weekday"), KEY),
        Column("weekday_label", _("Weekday"), TEXT),
        Column("hour", _("Hour"), KEY),
        Column("inbound", _("Customer messages")),
        Column("replies", _("Replies")),
    )
    return Table("heatmap", _("Volume by weekday and hour"), columns, rows, sections_as_of(scope, "volume"))


def build_table(name: str, scope: ReportScope, choices: ReportChoices, group_by: str = "day") -> Table:
    """Any report table by name; `group_by` picks the SLA grouping or the breakdown's dimension."""
    if name == "sla":
        return sla_table(scope, choices, group_by)
    if name == "breakdown":
        return breakdown_table(scope, choices, group_by if group_by in DIMENSIONS else "agent")
    by_scope: dict[str, Callable[[ReportScope], Table]] = {
        "durations": durations_table,
        "histogram": histogram_table,
        "backlog": backlog_table,
        "oldest": oldest_table,
        "heatmap": heatmap_table,
    }
    return by_scope[name](scope)


# --- the page -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class KindSummary:
    kind: str
    label: StrOrPromise
    met: int
    missed: int
    breached: int
    cancelled: int
    in_progress: int
    compliance: float | None


# The page's parts: "summary" is drawn with the page (SLA compliance, backlog: fast), the others
# load by themselves once it shows (times and breakdown medians sort every measured clock).
SECTIONS = ("summary", "times", "breakdowns", "volume")
LAZY_SECTIONS = SECTIONS[1:]


@dataclass(slots=True)
class Report:
    """The tables and charts of the sections that were built; the others stay empty."""

    scope: ReportScope
    group_by: str
    sla: Table | None = None
    summary: list[KindSummary] = field(default_factory=list)
    backlog: Table | None = None
    oldest: Table | None = None
    durations: Table | None = None
    # Why business-hours and calendar-time medians differ, where they differ much.
    duration_notes: list[str] = field(default_factory=list)
    histogram: Table | None = None
    breakdowns: dict[str, Table] = field(default_factory=dict)
    heatmap: Table | None = None
    charts: dict[str, SafeString] = field(default_factory=dict)


def summarise_sla(table: Table) -> list[KindSummary]:
    """Period totals per clock kind, added up from the SLA table's rows."""
    sums: dict[object, list[int]] = {}
    for row in table.records():
        figures = sums.setdefault(row["clock_kind"], [0, 0, 0, 0, 0])
        for i, key in enumerate(("met", "missed", "breached", "cancelled", "in_progress")):
            figures[i] += cast(int, row[key])  # a count column of `sla_table`: an int
    summary = []
    for kind in KIND_ORDER:
        if kind in sums:
            met, missed, breached, cancelled, in_progress = sums[kind]
            counted = met + missed + breached
            summary.append(
                KindSummary(
                    kind,
                    KIND_LABELS[kind],
                    met,
                    missed,
                    breached,
                    cancelled,
                    in_progress,
                    rounded_pct(100 * met / counted) if counted else None,
                )
            )
    return summary


def build_report(
    scope: ReportScope, choices: ReportChoices, group_by: str = "day", sections: tuple[str, ...] = SECTIONS
) -> Report:
    """The tables and charts of the page's `sections`. The tables are those `build_table` returns;
    the duration statistics are read once for the times tables and once for all breakdowns."""
    report = Report(scope=scope, group_by=group_by)
    drawn: dict[str, str] = {}
    if "summary" in sections:
        report.sla = build_table("sla", scope, choices, group_by)
        report.summary = summarise_sla(report.sla)
        report.backlog = build_table("backlog", scope, choices)
        report.oldest = build_table("oldest", scope, choices)
        drawn["compliance"] = _compliance_chart(scope, group_by, report.sla)
        drawn["backlog"] = _backlog_chart(report.backlog)
    if "times" in sections:
        # One pass over the measured clocks for both tables.
        totals = queries.duration_stats(scope)
        report.durations = durations_table(scope, totals)
        report.duration_notes = duration_notes(scope, report.durations)
        report.histogram = histogram_table(scope, totals)
        drawn |= _histograms(report.histogram)
    if "breakdowns" in sections:
        stats = queries.duration_stats_by(scope, DIMENSIONS)
        compliance = queries.compliance_counts_by(scope, DIMENSIONS)
        report.breakdowns = {
            d: breakdown_table(scope, choices, d, stats[d], compliance[d]) for d in DIMENSIONS
        }
    if "volume" in sections:
        report.heatmap = build_table("heatmap", scope, choices)
        drawn |= _heatmaps(report.heatmap)
    # charts.py escapes every text it draws.
    report.charts = {name: mark_safe(svg) for name, svg in drawn.items()}
    return report


def _compliance_chart(scope: ReportScope, group_by: str, sla: Table) -> str:
    buckets = time_buckets(scope, group_by)
    # `rounded_pct` of each row: a percentage, or None where no clock was counted.
    compliance = {
        (row["group"], row["clock_kind"]): cast("float | None", row["compliance_pct"])
        for row in sla.records()
    }
    kinds = [kind for kind in KIND_ORDER if any(k == kind for _, k in compliance)]
    if group_by == "day":
        x_labels = [date_format(b, "d M") for b in buckets]
        description = _(
            "Compliance is met / (met + missed + still breached) of the clocks that started in each day; "
            "a gap means no clock was counted. The table below has the numbers."
        )
    else:
        x_labels = [_("w/c %(date)s") % {"date": date_format(b, "d M")} for b in buckets]
        description = _(
            "Compliance is met / (met + missed + still breached) of the clocks that started in each week; "
            "a gap means no clock was counted. The table below has the numbers."
        )
    return charts.line_chart(
        chart_id="chart-compliance",
        unit="%",
        y_max=100,
        width=1100,
        height=300,
        title=str(SLA_CHART_TITLES[group_by]),
        description=description,
        x_labels=x_labels,
        series=[
            charts.Series(
                str(KIND_LABELS[k]),
                [compliance.get((b.isoformat(), k)) for b in buckets],
                KIND_COLORS[k],
                KIND_DASHES[k],
            )
            for k in kinds
        ],
    )


def _histograms(histogram: Table) -> dict[str, str]:
    drawn = {}
    for kind in DURATION_KINDS:
        values = [cast(int, row["count"]) for row in histogram.records() if row["clock_kind"] == kind]
        drawn[f"histogram_{kind}"] = charts.bar_chart(
            chart_id=f"chart-histogram-{kind}",
            title=_("%(clock)s times") % {"clock": KIND_LABELS[kind]},
            description=_("How many %(clock)s clocks stopped within each time range.")
            % {"clock": str(KIND_LABELS[kind]).lower()},
            categories=[_(bucket) for bucket in DURATION_BUCKETS],
            series=[charts.Series(_("Clocks"), values, KIND_COLORS[kind])],
            height=200,
        )
    return drawn


def _backlog_chart(backlog: Table) -> str:
    records = backlog.records()
    return charts.bar_chart(
        chart_id="chart-backlog",
        title=_("Open inquiries by age"),
        description=_("Open inquiries stacked by status (new, open, pending) in each age range."),
        categories=[_(bucket) for bucket in AGE_BUCKETS],
        series=[
            # Counts of open inquiries per age bucket (`backlog_table`).
            charts.Series(
                str(status.label), [cast(int, row[status.value]) for row in records], charts.PALETTE[i]
            )
            for i, status in enumerate(OPEN_STATUS_ORDER)
        ],
        width=1100,
        height=260,
    )


def _heatmaps(heatmap: Table) -> dict[str, str]:
    grid = {(row["weekday"], row["hour"]): row for row in heatmap.records()}
    drawn = {}
    for key, title, description, color in (
        (
            "inbound",
            _("Customer messages by weekday and hour"),
            _(
                "Customer messages received in the period, by weekday and hour in each account's time zone; "
                "darker cells are busier."
            ),
            charts.PALETTE[0],
        ),
        (
            "replies",
            _("Replies by weekday and hour"),
            _(
                "Replies received in the period, by weekday and hour in each account's time zone; "
                "darker cells are busier."
            ),
            charts.PALETTE[2],
        ),
    ):
        drawn[f"heatmap_{key}"] = charts.heatmap(
            chart_id=f"chart-heatmap-{key}",
            title=title,
            description=description,
            row_labels=[str(day) for day in WEEKDAYS],
            column_labels=[f"{h:02d}" for h in range(24)],
            color=color,
            # Message counts per weekday and hour (`heatmap_table`).
            values=[[cast(int, grid[(d, h)][key]) for h in range(24)] for d in range(1, 8)],
        )
    return drawn
