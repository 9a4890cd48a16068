"""`score(facts, rules)`: the health report, one metric each (late replies, response times,
open past deadline, A-to-z claims, complaint rates, open clusters) with its target, band and
the messages or clusters that drive it, plus the rescue list and the overall status.
"""

from __future__ import annotations

from datetime import timedelta

from inquiries.health.scoring.figures import band_for, late_rate_key, window_start_of, worst
from inquiries.health.scoring.model import Band, HealthFacts, HealthReport, Metric, Rules, Unit, WindowCounts
from inquiries.health.scoring.rescue import rescue
from inquiries.words import _, in_sentence, ngettext

# --- scoring ---------------------------------------------------------------------------------


def score(facts: HealthFacts, rules: Rules) -> HealthReport:
    metrics: list[Metric] = [_late_rate(window, facts, rules) for window in facts.windows]
    metrics.extend(_response_times(facts, rules))
    metrics.append(_open_past_deadline(facts))
    if rules.has_atoz:
        metrics.append(_atoz(facts, rules))
    metrics.extend(_complaint_rates(facts, rules))
    metrics.append(_open_clusters(facts, rules))
    return HealthReport(
        as_of=facts.as_of,
        status=worst(m.status for m in metrics),
        metrics=tuple(metrics),
        rescue=tuple(rescue(facts, rules)),
        upcoming=facts.pending,
    )


def _late_rate(window: WindowCounts, facts: HealthFacts, rules: Rules) -> Metric:
    since = window_start_of(facts, window.days)
    return Metric(
        key=late_rate_key(window.days),
        label=_("Late response rate, %(days)s days") % {"days": window.days},
        value=window.rate,
        unit=Unit.RATIO,
        target=rules.late_rate_target,
        status=band_for(window.rate, rules.late_rate_target, rules.at_risk_ratio),
        numerator=window.late,
        denominator=window.counted,
        summary=_late_rate_summary(window, first_replies=facts.first_reply_basis),
        messages=tuple(m for m in facts.late_messages if m.received_at >= since)[:10],
    )


def _late_rate_summary(window: WindowCounts, *, first_replies: bool) -> str:
    """Why the late rate reads what it does: its counts, and what is not counted yet."""
    counts = {"late": window.late, "counted": window.counted, "unanswered": window.late_unanswered}
    if window.counted and first_replies:
        summary = _(
            "%(late)s of %(counted)s first replies counted were answered late or not at all "
            "(%(unanswered)s still unanswered)."
        )
    elif window.counted:
        summary = _(
            "%(late)s of %(counted)s messages counted were answered late or not at all "
            "(%(unanswered)s still unanswered)."
        )
    elif first_replies:
        summary = _("No first replies counted yet in the last %(days)s days.")
    else:
        summary = _("No messages counted yet in the last %(days)s days.")
    summary %= {**counts, "days": window.days}
    if window.pending:
        summary += " " + ngettext(
            "%(count)s more is still within its deadline and not counted yet.",
            "%(count)s more are still within their deadline and not counted yet.",
            window.pending,
        ) % {"count": window.pending}
    return summary


def _response_times(facts: HealthFacts, rules: Rules) -> list[Metric]:
    summary = ngettext(
        "Over %(count)s message answered in the last 30 days.",
        "Over %(count)s messages answered in the last 30 days.",
        facts.responded,
    ) % {"count": facts.responded}
    if not facts.responded:
        summary = _("No message answered in the last 30 days.")
    slow = facts.slow_messages[:5]
    spec = (
        (
            "response_time_p50_seconds",
            _("Median response time, 30 days"),
            facts.response_p50,
            rules.p50_target_seconds,
        ),
        (
            "response_time_p90_seconds",
            _("90th percentile response time, 30 days"),
            facts.response_p90,
            rules.p90_target_seconds,
        ),
        (
            "response_time_mean_seconds",
            _("Average response time, 30 days"),
            facts.response_mean,
            rules.mean_target_seconds,
        ),
    )
    return [
        Metric(
            key=key,
            label=label,
            value=value,
            unit=Unit.SECONDS,
            target=float(target) if target else None,
            status=band_for(value, target, rules.at_risk_ratio),
            numerator=None,
            denominator=facts.responded,
            summary=summary,
            messages=slow,
        )
        for key, label, value, target in spec
    ]


def _open_past_deadline(facts: HealthFacts) -> Metric:
    count = facts.windows[-1].late_unanswered if facts.windows else 0
    return Metric(
        key="open_past_deadline",
        label=_("Unanswered past the deadline"),
        value=float(count),
        unit=Unit.COUNT,
        target=0.0,
        status=Band.AT_RISK if count else Band.HEALTHY,
        numerator=count,
        denominator=None,
        summary=ngettext(
            "%(count)s message is past its deadline with no answer.",
            "%(count)s messages are past their deadline with no answer.",
            count,
        )
        % {"count": count}
        if count
        else _("None."),
        messages=facts.overdue_messages[:10],
    )


def _atoz(facts: HealthFacts, rules: Rules) -> Metric:
    assert rules.atoz_risk_hours and rules.atoz_critical_hours
    status = Band.CRITICAL if facts.atoz_critical else Band.AT_RISK if facts.atoz_risk else Band.HEALTHY
    risk_since = facts.as_of - timedelta(hours=rules.atoz_risk_hours)
    summary = (
        ngettext(
            "%(risk)s order-related message unanswered for %(risk_hours)s h or more (the buyer may file "
            "an A-to-z claim); %(critical)s of them for %(critical_hours)s h or more (a claim can be granted).",
            "%(risk)s order-related messages unanswered for %(risk_hours)s h or more (the buyer may file "
            "an A-to-z claim); %(critical)s of them for %(critical_hours)s h or more (a claim can be granted).",
            facts.atoz_risk,
        )
        if facts.atoz_risk
        else _("No order-related message has been unanswered for %(risk_hours)s h.")
    ) % {
        "risk": facts.atoz_risk,
        "risk_hours": rules.atoz_risk_hours,
        "critical": facts.atoz_critical,
        "critical_hours": rules.atoz_critical_hours,
    }
    return Metric(
        key="atoz_risk_count",
        label=_("A-to-z claim risks"),
        value=float(facts.atoz_risk),
        unit=Unit.COUNT,
        target=0.0,
        status=status,
        numerator=facts.atoz_risk,
        denominator=None,
        summary=summary,
        messages=tuple(m for m in facts.order_messages if m.received_at <= risk_since)[:10],
    )


def _complaint_rates(facts: HealthFacts, rules: Rules) -> list[Metric]:
    per_orders = bool(facts.orders)
    denominator = facts.orders if per_orders else facts.inquiries
    unit = Unit.PER_100_ORDERS if per_orders else Unit.PER_100_INQUIRIES
    target = rules.complaint_target_per_100_orders if per_orders else rules.complaint_target_per_100_inquiries
    summary = (
        _("%(complaints)s complaints in the last %(days)s days over %(total)s orders.")
        if per_orders
        else _(
            "%(complaints)s complaints in the last %(days)s days over %(total)s inquiries "
            "(no order volumes imported)."
        )
    )
    metrics = []
    window = rules.complaint_window_days
    for topic in facts.complaint_topics:
        value = topic.complaints * 100 / denominator if denominator else None
        metrics.append(
            Metric(
                key=f"complaint_rate_{topic.key}",
                label=_("Complaints: %(topic)s, %(days)s days") % {"topic": topic.name, "days": window},
                value=value,
                unit=unit,
                target=target,
                status=band_for(value, target, rules.at_risk_ratio),
                numerator=topic.complaints,
                denominator=denominator,
                summary=summary % {"complaints": topic.complaints, "days": window, "total": denominator},
                clusters=tuple(c for c in facts.clusters if c.topic_key == topic.key),
            )
        )
    return metrics


def _open_clusters(facts: HealthFacts, rules: Rules) -> Metric:
    clusters = tuple(sorted(facts.clusters, key=lambda c: (-c.severity, c.first_seen)))
    top = clusters[0].severity if clusters else 0
    severe = sum(1 for c in clusters if c.severity >= rules.cluster_at_risk_severity)
    status = (
        Band.CRITICAL
        if top >= rules.cluster_critical_severity
        else Band.AT_RISK
        if top >= rules.cluster_at_risk_severity
        else Band.HEALTHY
    )
    by_severity: dict[str, int] = {}
    for cluster in clusters:
        by_severity[cluster.severity_label] = by_severity.get(cluster.severity_label, 0) + 1
    summary = ", ".join(f"{n} {in_sentence(label)}" for label, n in by_severity.items()) or _(
        "No open complaint cluster."
    )
    return Metric(
        key="open_clusters",
        label=_("Open complaint clusters"),
        value=float(len(clusters)),
        unit=Unit.COUNT,
        target=0.0,
        status=status,
        numerator=severe,
        denominator=len(clusters),
        summary=summary,
        clusters=clusters,
    )
