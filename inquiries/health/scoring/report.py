"""`score(facts, rules)`: the health report, one metric each (late replies, response times,
open past deadline, A-to-z claims, complaint rates, open clusters) with its target, band and
the messages or clusters that drive it, plus the rescue list and the overall status.
"""

from __future__ import annotations

from datetime import timedelta

from inquiries.health.scoring.figures import band_for, late_rate_key, window_start_of, worst
from inquiries.health.scoring.model import Band, HealthFacts, HealthReport, Metric, Rules, Unit, WindowCounts
from inquiries.health.scoring.rescue import rescue

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
    basis = "first replies" if facts.first_reply_basis else "messages"
    if window.counted:
        summary = (
            f"{window.late} of {window.counted} {basis} counted were answered late or not at all"
            f" ({window.late_unanswered} still unanswered)."
        )
    else:
        summary = f"No {basis} counted yet in the last {window.days} days."
    if window.pending:
        summary += f" {window.pending} more are still within their deadline and not counted yet."
    return Metric(
        key=late_rate_key(window.days),
        label=f"Late response rate, {window.days} days",
        value=window.rate,
        unit=Unit.RATIO,
        target=rules.late_rate_target,
        status=band_for(window.rate, rules.late_rate_target, rules.at_risk_ratio),
        numerator=window.late,
        denominator=window.counted,
        summary=summary,
        messages=tuple(m for m in facts.late_messages if m.received_at >= since)[:10],
    )


def _response_times(facts: HealthFacts, rules: Rules) -> list[Metric]:
    summary = f"Over {facts.responded} messages answered in the last 30 days."
    if not facts.responded:
        summary = "No message answered in the last 30 days."
    slow = facts.slow_messages[:5]
    spec = (
        (
            "response_time_p50_seconds",
            "Median response time, 30 days",
            facts.response_p50,
            rules.p50_target_seconds,
        ),
        (
            "response_time_p90_seconds",
            "90th percentile response time, 30 days",
            facts.response_p90,
            rules.p90_target_seconds,
        ),
        (
            "response_time_mean_seconds",
            "Average response time, 30 days",
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
        label="Unanswered past the deadline",
        value=float(count),
        unit=Unit.COUNT,
        target=0.0,
        status=Band.AT_RISK if count else Band.HEALTHY,
        numerator=count,
        denominator=None,
        summary=f"{count} messages are past their deadline with no answer." if count else "None.",
        messages=facts.overdue_messages[:10],
    )


def _atoz(facts: HealthFacts, rules: Rules) -> Metric:
    assert rules.atoz_risk_hours and rules.atoz_critical_hours
    status = Band.CRITICAL if facts.atoz_critical else Band.AT_RISK if facts.atoz_risk else Band.HEALTHY
    risk_since = facts.as_of - timedelta(hours=rules.atoz_risk_hours)
    summary = (
        f"{facts.atoz_risk} order-related messages unanswered for {rules.atoz_risk_hours} h or more "
        f"(the buyer may file an A-to-z claim); {facts.atoz_critical} of them for "
        f"{rules.atoz_critical_hours} h "
        "or more (a claim can be granted)."
        if facts.atoz_risk
        else f"No order-related message has been unanswered for {rules.atoz_risk_hours} h."
    )
    return Metric(
        key="atoz_risk_count",
        label="A-to-z claim risks",
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
    basis = f"{denominator} orders" if per_orders else f"{denominator} inquiries (no order volumes imported)"
    metrics = []
    window = rules.complaint_window_days
    for topic in facts.complaint_topics:
        value = topic.complaints * 100 / denominator if denominator else None
        metrics.append(
            Metric(
                key=f"complaint_rate_{topic.key}",
                label=f"Complaints: {topic.name}, {rules.complaint_window_days} days",
                value=value,
                unit=unit,
                target=target,
                status=band_for(value, target, rules.at_risk_ratio),
                numerator=topic.complaints,
                denominator=denominator,
                summary=f"{topic.complaints} complaints in the last {window} days over {basis}.",
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
    summary = (
        ", ".join(f"{n} {label.lower()}" for label, n in by_severity.items()) or "No open complaint cluster."
    )
    return Metric(
        key="open_clusters",
        label="Open complaint clusters",
        value=float(len(clusters)),
        unit=Unit.COUNT,
        target=0.0,
        status=status,
        numerator=severe,
        denominator=len(clusters),
        summary=summary,
        clusters=clusters,
    )
