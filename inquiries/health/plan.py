"""The plan of action for one account and period, as Amazon's appeal asks for it. Pure: no Django.

`build_plan(facts)` writes the plan as a person would: a summary, the root causes (from
the late-response analysis and the clusters' recorded causes), the corrective actions
taken, the preventive measures, and the evidence (metrics before and after, message
counts, cluster timelines). `to_markdown(plan)` renders it; the HTML export renders the
same `Plan` through a template, so both say exactly the same thing.

Nothing is invented on the seller's behalf: actions and measures come from the clusters
and from what the seller typed; where none are recorded the plan says so.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from inquiries.health.scoring import Band, ClusterRef, HealthReport, Unit, format_value, human_duration

WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


# --- facts ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MessageCounts:
    needing_response: int
    on_time: int
    answered_late: int
    unanswered_late: int
    pending: int
    no_response_needed: int
    automatic: int

    @property
    def late(self) -> int:
        return self.answered_late + self.unanswered_late


@dataclass(frozen=True, slots=True)
class LateAnalysis:
    """Where the late messages of the period came from (account time)."""

    total: int
    weekend: int = 0
    outside_hours: int = 0  # received before 08:00 or from 18:00
    unassigned: int = 0  # in conversations with no assigned agent
    median_late_seconds: float | None = None  # how long after the deadline the late answers came
    by_weekday: tuple[int, ...] = (0, 0, 0, 0, 0, 0, 0)  # Monday first
    by_topic: tuple[tuple[str, int], ...] = ()  # most first


@dataclass(frozen=True, slots=True)
class ClusterEventLine:
    at: datetime
    text: str


@dataclass(frozen=True, slots=True)
class ClusterStory:
    cluster: ClusterRef
    owner: str
    action_date: date | None
    events: tuple[ClusterEventLine, ...]


@dataclass(frozen=True, slots=True)
class PlanFacts:
    account: str
    marketplace: str
    rate_name: str
    rule_phrase: str  # "24 hours", "3 business days"
    first: date
    last: date
    prepared: date
    before: HealthReport  # as of the start of the period
    after: HealthReport  # as of its end (or now, for a period still running)
    counts: MessageCounts
    late: LateAnalysis
    clusters: tuple[ClusterStory, ...] = ()
    seller_actions: str = ""
    seller_measures: str = ""


# --- the plan -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Cause:
    title: str
    text: str
    points: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class MetricRow:
    label: str
    before: str
    after: str
    target: str
    before_status: str
    after_status: str


@dataclass(frozen=True, slots=True)
class Timeline:
    title: str
    events: tuple[tuple[str, str], ...]  # (when, what)


@dataclass(frozen=True, slots=True)
class Plan:
    title: str
    period: str
    prepared: str
    summary: tuple[str, ...]
    causes: tuple[Cause, ...]
    actions: tuple[str, ...]
    actions_missing: bool
    measures: tuple[str, ...]
    measures_missing: bool
    metrics: tuple[MetricRow, ...]
    counts: tuple[tuple[str, str], ...]
    timelines: tuple[Timeline, ...] = field(default=())


def long_date(day: date) -> str:
    return f"{day.day} {day:%B %Y}"


def _share(part: int, whole: int) -> str:
    return f"{part * 100 / whole:.0f}%" if whole else "0%"


def _count(n: int, one: str, many: str | None = None) -> str:
    return f"{n:,} {one if n == 1 else (many or one + 's')}"


def _lines(text: str) -> tuple[str, ...]:
    """A seller's free text, one point per non-empty line (leading list marks dropped)."""
    return tuple(
        line.strip().lstrip("-*• ").strip() for line in text.splitlines() if line.strip().lstrip("-*• ")
    )


def build_plan(facts: PlanFacts) -> Plan:
    return Plan(
        title=f"Plan of action: {facts.account}",
        period=f"{long_date(facts.first)} to {long_date(facts.last)}",
        prepared=long_date(facts.prepared),
        summary=_summary(facts),
        causes=_causes(facts),
        actions=(actions := _actions(facts)),
        actions_missing=not actions,
        measures=(measures := _measures(facts)),
        measures_missing=not measures,
        metrics=_metric_rows(facts),
        counts=_count_rows(facts),
        timelines=tuple(_timeline(story) for story in facts.clusters),
    )


def _rate(report: HealthReport) -> tuple[str, str, str] | None:
    metric = report.metric("late_response_rate_30d") or next(
        (m for m in report.metrics if m.key.startswith("late_response_rate_")), None
    )
    if metric is None:
        return None
    return (
        metric.label.split(", ")[-1],
        format_value(metric.value, metric.unit),
        format_value(metric.target, metric.unit),
    )


def _summary(facts: PlanFacts) -> tuple[str, ...]:
    counts = facts.counts
    paragraphs = [
        f"Between {long_date(facts.first)} and {long_date(facts.last)}, {facts.account} received "
        f"{_count(counts.needing_response, 'buyer message')} that needed a response. We answered "
        f"{counts.on_time:,} within {facts.rule_phrase} and {counts.answered_late:,} after that; "
        f"{counts.unanswered_late:,} had no answer when the period ended."
        + (
            f" {counts.pending:,} more {'was' if counts.pending == 1 else 'were'} still within "
            f"{'its' if counts.pending == 1 else 'their'} deadline."
            if counts.pending
            else ""
        )
    ]
    before, after = _rate(facts.before), _rate(facts.after)
    if before and after:
        start, end = facts.before.status.label.lower(), facts.after.status.label.lower()
        health = (
            f"The account's health was {end} at both ends of the period."
            if start == end
            else f"The account's health went from {start} to {end}."
        )
        name = f"{before[0].replace(' days', '-day')} {facts.rate_name.lower()}"
        if before[1] == "no data":
            rate = (
                f"Our {name} stood at {after[1]} on {long_date(facts.last)} "
                f"(the target is at most {after[2]}); "
                "there were no messages to measure before the period."
            )
        else:
            rate = (
                f"Our {name} went from {before[1]} on {long_date(facts.first)} to {after[1]} on "
                f"{long_date(facts.last)} (the target is at most {after[2]})."
            )
        paragraphs.append(f"{rate} {health}")
    if facts.clusters:
        paragraphs.append(
            f"In the same period buyers' complaints formed {_count(len(facts.clusters), 'cluster')} "
            "(several complaints about the same product or with the same text); each is covered below."
        )
    return tuple(paragraphs)


def _causes(facts: PlanFacts) -> tuple[Cause, ...]:
    causes = []
    late = facts.late
    if late.total:
        points = []
        if late.weekend:
            points.append(
                f"{_count(late.weekend, 'of them', 'of them')} ({_share(late.weekend, late.total)}) "
                "arrived on a Saturday or Sunday."
            )
        if late.outside_hours:
            points.append(
                f"{late.outside_hours:,} ({_share(late.outside_hours, late.total)}) arrived before "
                "08:00 or after 18:00, outside our usual working hours."
            )
        busiest = max(range(7), key=lambda d: late.by_weekday[d])
        if late.by_weekday[busiest] and late.total >= 5:
            points.append(
                f"{WEEKDAYS[busiest]} was the worst day, with {late.by_weekday[busiest]:,} late messages."
            )
        if late.unassigned:
            points.append(
                f"{late.unassigned:,} ({_share(late.unassigned, late.total)}) were in conversations "
                "that no agent was assigned to."
            )
        if late.by_topic:
            topics = ", ".join(f"{name.lower()} ({n:,})" for name, n in late.by_topic[:3])
            points.append(f"By topic: {topics}.")
        if late.median_late_seconds is not None:
            points.append(
                f"Late answers came a median of {human_duration(late.median_late_seconds)} after "
                "the deadline."
            )
        causes.append(
            Cause(
                title="Messages answered late or not at all",
                text=f"{_count(late.total, 'message')} missed the {deadline_name(facts.rule_phrase)} deadline"
                f" ({_share(late.total, facts.counts.late + facts.counts.on_time)} of those counted).",
                points=tuple(points),
            )
        )
    for story in facts.clusters:
        cluster = story.cluster
        seen = f"{long_date(cluster.first_seen.date())} and {long_date(cluster.last_seen.date())}"
        text = (
            f"{_count(cluster.member_count, 'complaint')} between {seen} "
            f"({cluster.severity_label.lower()} severity, {cluster.state_label.lower()})."
        )
        cause = (
            cluster.root_cause.strip()
            or "Not recorded yet: record it on the cluster before sending this plan."
        )
        causes.append(Cause(title=cluster.title, text=text, points=(f"Root cause: {cause}",)))
    return tuple(causes)


def deadline_name(rule_phrase: str) -> str:
    """ "24 hours" -> "24-hour", "3 business days" -> "3-business-day" (as in "the 24-hour deadline")."""
    words = rule_phrase.split()
    if len(words) >= 2 and words[0].isdigit():
        return "-".join([*words[:-1], words[-1].removesuffix("s")])
    return rule_phrase


def _actions(facts: PlanFacts) -> tuple[str, ...]:
    actions = []
    for story in facts.clusters:
        if story.cluster.corrective_action.strip():
            about = ", ".join(
                part for part in (story.cluster.title, f"owner {story.owner}" if story.owner else "") if part
            )
            when = f"{long_date(story.action_date)} " if story.action_date else ""
            actions.append(f"{when}({about}): {story.cluster.corrective_action.strip()}")
    counts = facts.counts
    if counts.answered_late and not counts.unanswered_late:
        actions.append("Every message that missed its deadline in the period has since been answered.")
    actions.extend(_lines(facts.seller_actions))
    return tuple(actions)


def _measures(facts: PlanFacts) -> tuple[str, ...]:
    measures = [
        f"{story.cluster.title} — {story.cluster.preventive_measure.strip()}"
        for story in facts.clusters
        if story.cluster.preventive_measure.strip()
    ]
    measures.extend(_lines(facts.seller_measures))
    return tuple(measures)


def _metric_rows(facts: PlanFacts) -> tuple[MetricRow, ...]:
    rows = []
    for before in facts.before.metrics:
        after = facts.after.metric(before.key)
        if after is None or (
            before.unit != Unit.RATIO
            and not before.key.startswith("response_time")
            and before.key not in ("atoz_risk_count", "open_past_deadline", "open_clusters")
        ):
            continue
        rows.append(
            MetricRow(
                label=before.label,
                before=format_value(before.value, before.unit),
                after=format_value(after.value, after.unit),
                target="none high or critical"
                if before.key == "open_clusters"
                else _target(after.target, after.unit),
                before_status=before.status.label,
                after_status=after.status.label,
            )
        )
    return tuple(rows)


def _target(target: float | None, unit: Unit) -> str:
    if target is None:
        return "none"
    return f"at most {format_value(target, unit)}" if target else "0"


def _count_rows(facts: PlanFacts) -> tuple[tuple[str, str], ...]:
    c = facts.counts
    return (
        ("Buyer messages needing a response", f"{c.needing_response:,}"),
        (f"Answered within {facts.rule_phrase}", f"{c.on_time:,}"),
        ("Answered after the deadline", f"{c.answered_late:,}"),
        ("Unanswered past the deadline at the end of the period", f"{c.unanswered_late:,}"),
        ("Still within the deadline at the end of the period", f"{c.pending:,}"),
        ("Marked 'no response needed' (not counted)", f"{c.no_response_needed:,}"),
        ("Automatic messages (not counted)", f"{c.automatic:,}"),
    )


def _timeline(story: ClusterStory) -> Timeline:
    return Timeline(
        title=story.cluster.title,
        events=tuple((f"{event.at:%d %b %Y %H:%M}", event.text) for event in story.events),
    )


def status_word(band: Band) -> str:
    return band.label


# --- Markdown -------------------------------------------------------------------------------


def md(text: str) -> str:
    """Text made inert in Markdown: HTML is escaped and line-leading markup is defused."""
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    for mark in ("*", "_", "`", "[", "]", "|"):
        text = text.replace(mark, "\\" + mark)
    return " ".join(text.split())


def to_markdown(plan: Plan) -> str:
    out = [f"# {md(plan.title)}", "", f"Period: {plan.period}  ", f"Prepared: {plan.prepared}", ""]
    out += ["## Summary", ""]
    for paragraph in plan.summary:
        out += [md(paragraph), ""]
    out += ["## Root causes", ""]
    if not plan.causes:
        out += ["No message was answered late and no complaint cluster was open in this period.", ""]
    for number, cause in enumerate(plan.causes, start=1):
        out += [f"### {number}. {md(cause.title)}", "", md(cause.text), ""]
        out += [f"- {md(point)}" for point in cause.points]
        out += [""] if cause.points else []
    out += ["## Corrective actions taken", ""]
    if plan.actions_missing:
        out += [
            "No corrective action is recorded yet. Record it on each cluster, or add it to this plan, "
            "before sending it.",
            "",
        ]
    out += [f"- {md(action)}" for action in plan.actions] + ([""] if plan.actions else [])
    out += ["## Preventive measures", ""]
    if plan.measures_missing:
        out += [
            "No preventive measure is recorded yet. Describe what will stop this from happening again "
            "before sending this plan.",
            "",
        ]
    out += [f"- {md(measure)}" for measure in plan.measures] + ([""] if plan.measures else [])
    out += ["## Evidence", "", "### Metrics at the start and the end of the period", ""]
    out += ["| Metric | Start | End | Target |", "| --- | --- | --- | --- |"]
    out += [
        f"| {md(r.label)} | {r.before} ({r.before_status.lower()}) | "
        f"{r.after} ({r.after_status.lower()}) | {r.target} |"
        for r in plan.metrics
    ]
    out += ["", "### Messages in the period", "", "| | Messages |", "| --- | ---: |"]
    out += [f"| {md(label)} | {value} |" for label, value in plan.counts]
    out += [""]
    if plan.timelines:
        out += ["### Complaint clusters", ""]
        for timeline in plan.timelines:
            out += [f"#### {md(timeline.title)}", ""]
            out += [f"- {when}: {md(what)}" for when, what in timeline.events] or ["- No recorded events."]
            out += [""]
    return "\n".join(out).rstrip() + "\n"
