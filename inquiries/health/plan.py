"""The period's story for a plan of action: summary and evidence. Pure: no Django.

`build_plan(facts)` writes what happened in the period as a person would: a summary, the
late-response analysis (`late_analysis_points`), and the evidence (metrics at both ends, each
named with whose definition it follows; message counts; cluster timelines).
`inquiries.health.appeal` puts it in the shape of a marketplace appeal (the case, one block per
cause, the annex) and renders the Markdown; the HTML export renders the same objects through
a template, so both say exactly the same thing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from inquiries import words
from inquiries.health.marketplace_metrics import (
    POLICY_MARKETPLACES,
    MarketplaceFigure,
    Status,
    decides_status,
    percent,
)
from inquiries.health.scoring import Band, ClusterRef, HealthReport, Unit, format_value, human_duration
from inquiries.words import _, ngettext, number


def weekday_name(weekday: int) -> str:
    """Monday is 0, in the reader's language."""
    names = (
        _("Monday"),
        _("Tuesday"),
        _("Wednesday"),
        _("Thursday"),
        _("Friday"),
        _("Saturday"),
        _("Sunday"),
    )
    return names[weekday]


def month_name(month: int) -> str:
    """January is 1, in the reader's language (as it reads inside a date)."""
    names = (
        _("January"), _("February"), _("March"), _("April"), _("May"), _("June"),
        _("July"), _("August"), _("September"), _("October"), _("November"), _("December"),
    )  # fmt: skip
    return names[month - 1]


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
    marketplace: str  # its name, "Amazon"
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
    marketplace_key: str = "other"
    # The account's status (marketplace metrics and reply metric) at both ends: "no data" when
    # there was nothing to measure, which a HealthReport's bands cannot say.
    before_status: Status = Status.NO_DATA
    after_status: Status = Status.NO_DATA
    figures_before: tuple[MarketplaceFigure, ...] = ()
    figures_after: tuple[MarketplaceFigure, ...] = ()


# --- the plan -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MetricRow:
    label: str
    before: str
    after: str
    target: str
    before_status: str
    after_status: str
    by: str = ""  # whose definition: the marketplace's, our policy's, or cstracker's (a house indicator)


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
    metrics: tuple[MetricRow, ...]
    counts: tuple[tuple[str, str], ...]
    timelines: tuple[Timeline, ...] = field(default=())


def long_date(day: date) -> str:
    return _("%(day)s %(month)s %(year)s") % {
        "day": day.day,
        "month": month_name(day.month),
        "year": day.year,
    }


def _share(part: int, whole: int) -> str:
    return words.percent(part * 100 / whole if whole else 0, 0)


def build_plan(facts: PlanFacts) -> Plan:
    return Plan(
        title=_("Plan of action: %(account)s") % {"account": facts.account},
        period=_("%(first)s to %(last)s") % {"first": long_date(facts.first), "last": long_date(facts.last)},
        prepared=long_date(facts.prepared),
        summary=_summary(facts),
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
        window_words(metric.key),
        format_value(metric.value, metric.unit),
        format_value(metric.target, metric.unit),
    )


def _summary(facts: PlanFacts) -> tuple[str, ...]:
    paragraphs = [_messages_paragraph(facts)]
    rate = _rate_paragraph(facts)
    if rate:
        paragraphs.append(rate)
    if facts.clusters:
        paragraphs.append(
            ngettext(
                "In the same period buyers' complaints formed %(count)s cluster "
                "(several complaints about the same product or with the same text); each is covered below.",
                "In the same period buyers' complaints formed %(count)s clusters "
                "(several complaints about the same product or with the same text); each is covered below.",
                len(facts.clusters),
            )
            % {"count": number(len(facts.clusters))}
        )
    return tuple(paragraphs)


def _messages_paragraph(facts: PlanFacts) -> str:
    """How many messages needed a response and how they were answered."""
    counts = facts.counts
    received = ngettext(
        "Between %(first)s and %(last)s, %(account)s received %(count)s buyer message that needed a response.",
        "Between %(first)s and %(last)s, %(account)s received %(count)s buyer messages that needed a response.",
        counts.needing_response,
    ) % {
        "first": long_date(facts.first),
        "last": long_date(facts.last),
        "account": facts.account,
        "count": number(counts.needing_response),
    }
    answered = _(
        "We answered %(on_time)s within %(rule)s and %(late)s after that; "
        "%(unanswered)s had no answer when the period ended."
    ) % {
        "on_time": number(counts.on_time),
        "rule": rule_words(facts.rule_phrase),
        "late": number(counts.answered_late),
        "unanswered": number(counts.unanswered_late),
    }
    pending = ""
    if counts.pending:
        pending = " " + ngettext(
            "%(count)s more was still within its deadline.",
            "%(count)s more were still within their deadline.",
            counts.pending,
        ) % {"count": number(counts.pending)}
    return f"{received} {answered}{pending}"


def _rate_paragraph(facts: PlanFacts) -> str | None:
    """How the late response rate and the account's health moved; None without a rate."""
    before, after = _rate(facts.before), _rate(facts.after)
    if not (before and after):
        return None
    health = _health_sentence(facts.before_status, facts.after_status)
    name = _rate_name(before[0], facts.rate_name)
    if before[1] == _("no data"):
        rate = _(
            "Our %(name)s stood at %(value)s on %(date)s (the target is at most %(target)s); "
            "there were no messages to measure before the period."
        ) % {
            "name": name,
            "value": value_word(after[1]),
            "date": long_date(facts.last),
            "target": after[2],
        }
    else:
        rate = _(
            "Our %(name)s went from %(before)s on %(first)s to %(after)s on %(last)s "
            "(the target is at most %(target)s)."
        ) % {
            "name": name,
            "before": before[1],
            "first": long_date(facts.first),
            "after": value_word(after[1]),
            "last": long_date(facts.last),
            "target": after[2],
        }
    return f"{rate} {health}"


def _health_sentence(before: Status, after: Status) -> str:
    """How the status moved; a move "from" something only when there was something to measure."""
    start, end = words.in_sentence(_(before.label)), words.in_sentence(_(after.label))
    if after == Status.NO_DATA:
        return _("There was nothing to measure the account's health on at the end of the period.")
    if before == Status.NO_DATA:
        return _(
            "There was nothing to measure the account's health on at the start of the period; "
            "at its end it was %(status)s."
        ) % {"status": end}
    if before == after:
        return _("The account's health was %(status)s at both ends of the period.") % {"status": end}
    return _("The account's health went from %(start)s to %(end)s.") % {"start": start, "end": end}


def window_words(metric_key: str) -> str:
    """ "late_response_rate_30d" -> "30 days", in the reader's language ("" without a window)."""
    digits = "".join(c for c in metric_key.rsplit("_", 1)[-1] if c.isdigit())
    if not digits:
        return ""
    return ngettext("%(days)s day", "%(days)s days", int(digits)) % {"days": digits}


def _rate_name(window: str, rate_name: str) -> str:
    """ "30 days" and "Late response rate" -> "30-day late response rate". A name the catalogue
    translates keeps the translator's capitals (German nouns keep theirs)."""
    days = window.split()[0] if window else ""
    translated = _(rate_name)
    name = rate_name.lower() if translated == rate_name else translated
    if not days.isdigit():
        return f"{window} {name}"
    return _("%(days)s-day %(rate)s") % {"days": days, "rate": name}


def value_word(value: str) -> str:
    """A metric's value as scoring formats it; its one word ("no data") in the reader's language."""
    return _("no data") if value == "no data" else value


def late_analysis_points(facts: PlanFacts) -> tuple[str, ...]:
    """How many messages were late and when they arrived, whose they were, what they were
    about: the facts a late-response root cause starts from (empty when none was late)."""
    late = facts.late
    if not late.total:
        return ()
    points = [
        ngettext(
            "%(count)s message missed the %(deadline)s deadline (%(share)s of those counted).",
            "%(count)s messages missed the %(deadline)s deadline (%(share)s of those counted).",
            late.total,
        )
        % {
            "count": number(late.total),
            "deadline": deadline_name(facts.rule_phrase),
            "share": _share(late.total, facts.counts.late + facts.counts.on_time),
        }
    ]
    if late.weekend:
        points.append(
            _("%(count)s of them (%(share)s) arrived on a Saturday or Sunday.")
            % {"count": number(late.weekend), "share": _share(late.weekend, late.total)}
        )
    if late.outside_hours:
        points.append(
            _("%(count)s (%(share)s) arrived before 08:00 or after 18:00, outside our usual working hours.")
            % {"count": number(late.outside_hours), "share": _share(late.outside_hours, late.total)}
        )
    busiest = max(range(7), key=lambda d: late.by_weekday[d])
    if late.by_weekday[busiest] and late.total >= 5:
        points.append(
            ngettext(
                "%(day)s was the worst day, with %(count)s late message.",
                "%(day)s was the worst day, with %(count)s late messages.",
                late.by_weekday[busiest],
            )
            % {"day": weekday_name(busiest), "count": number(late.by_weekday[busiest])}
        )
    if late.unassigned:
        points.append(
            _("%(count)s (%(share)s) were in conversations that no agent was assigned to.")
            % {"count": number(late.unassigned), "share": _share(late.unassigned, late.total)}
        )
    if late.by_topic:
        topics = ", ".join(f"{name.lower()} ({number(n)})" for name, n in late.by_topic[:3])
        points.append(_("By topic: %(topics)s.") % {"topics": topics})
    if late.median_late_seconds is not None:
        points.append(
            _("Late answers came a median of %(duration)s after the deadline.")
            % {"duration": human_duration(late.median_late_seconds)}
        )
    return tuple(points)


def _rule_parts(rule_phrase: str) -> tuple[int, str] | None:
    """ "24 hours" -> (24, "hour"), "3 business days" -> (3, "business day"); None if not a count."""
    words = rule_phrase.split()
    if len(words) >= 2 and words[0].isdigit():
        return int(words[0]), " ".join([*words[1:-1], words[-1].removesuffix("s")])
    return None


def rule_words(rule_phrase: str) -> str:
    """ "24 hours" (the selector's English phrase) in the reader's language."""
    parts = _rule_parts(rule_phrase)
    if parts is None:
        return _(rule_phrase)
    count, unit = parts
    phrases = {
        "hour": ngettext("%(count)s hour", "%(count)s hours", count),
        "business day": ngettext("%(count)s business day", "%(count)s business days", count),
        "minute": ngettext("%(count)s minute", "%(count)s minutes", count),
    }
    return phrases[unit] % {"count": count} if unit in phrases else rule_phrase


def deadline_name(rule_phrase: str) -> str:
    """ "24 hours" -> "24-hour", "3 business days" -> "3-business-day" (as in "the 24-hour deadline"),
    in the reader's language."""
    parts = _rule_parts(rule_phrase)
    if parts is None:
        return _(rule_phrase)
    count, unit = parts
    names = {
        "hour": _("%(count)s-hour"),
        "business day": _("%(count)s-business-day"),
        "minute": _("%(count)s-minute"),
    }
    return names[unit] % {"count": count} if unit in names else "-".join([str(count), *unit.split()])


def _metric_rows(facts: PlanFacts) -> tuple[MetricRow, ...]:
    """The marketplace's metrics from orders, then the message metrics, each named with whose
    definition it is: the marketplace's, or cstracker's for a house indicator."""
    marketplace = _("%(marketplace)s's definition") % {"marketplace": facts.marketplace}
    policy = _("our service policy's definition")
    house = _("cstracker's indicator")
    rows = []
    after_figures = {f.key: f for f in facts.figures_after}
    for before_figure in facts.figures_before:
        after_figure = after_figures.get(before_figure.key)
        if after_figure is None:
            continue
        rows.append(
            MetricRow(
                label=_(before_figure.definition.label),
                before=value_word(percent(before_figure.value)),
                after=value_word(percent(after_figure.value)),
                target=after_figure.definition.target_text,
                before_status=_(before_figure.status.label),
                after_status=_(after_figure.status.label),
                by=marketplace,
            )
        )
    own = facts.marketplace_key in POLICY_MARKETPLACES
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
                before=value_word(format_value(before.value, before.unit)),
                after=value_word(format_value(after.value, after.unit)),
                target=_("none high or critical")
                if before.key == "open_clusters"
                else _target(after.target, after.unit),
                before_status=_(before.status.label) if before.value is not None else _("No data"),
                after_status=_(after.status.label) if after.value is not None else _("No data"),
                by=(policy if own else marketplace)
                if decides_status(facts.marketplace_key, before.key)
                else house,
            )
        )
    return tuple(rows)


def _target(target: float | None, unit: Unit) -> str:
    if target is None:
        return _("none")
    return _("at most %(value)s") % {"value": format_value(target, unit)} if target else "0"


def _count_rows(facts: PlanFacts) -> tuple[tuple[str, str], ...]:
    c = facts.counts
    return (
        (_("Buyer messages needing a response"), number(c.needing_response)),
        (_("Answered within %(rule)s") % {"rule": rule_words(facts.rule_phrase)}, number(c.on_time)),
        (_("Answered after the deadline"), number(c.answered_late)),
        (_("Unanswered past the deadline at the end of the period"), number(c.unanswered_late)),
        (_("Still within the deadline at the end of the period"), number(c.pending)),
        (_("Marked 'no response needed' (not counted)"), number(c.no_response_needed)),
        (_("Automatic messages (not counted)"), number(c.automatic)),
    )


def _timeline(story: ClusterStory) -> Timeline:
    return Timeline(
        title=story.cluster.title,
        events=tuple(
            (f"{long_date(event.at.date())} {event.at:%H:%M}", event.text) for event in story.events
        ),
    )


def status_word(band: Band) -> str:
    return _(band.label)


# --- Markdown -------------------------------------------------------------------------------


def md(text: str) -> str:
    """Text made inert in Markdown: HTML is escaped and line-leading markup is defused."""
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    for mark in ("*", "_", "`", "[", "]", "|"):
        text = text.replace(mark, "\\" + mark)
    return " ".join(text.split())
