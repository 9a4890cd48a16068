"""Account-health scoring: targets, bands, status, reasons and the rescue maths (DESIGN section 6).

Pure: no Django, no clock. `inquiries.selectors.health.metrics` reads counts and a few rows from
the database into `HealthFacts`; `score(facts, rules)` turns them into metrics, each with
its target, a band (healthy, at risk, critical) and the messages or clusters that drive
it, plus the rescue list: the open messages whose answer, or lack of one, moves a metric
across a band soonest.

Bands for "lower is better" metrics: critical above the target, at risk from
`at_risk_ratio` x target, healthy below that. Rates are fractions (0.1 is 10%).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any


class Band(StrEnum):
    HEALTHY = "healthy"
    AT_RISK = "at_risk"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        return _RANK[self]

    @property
    def label(self) -> str:
        return _LABEL[self]


_RANK = {Band.HEALTHY: 0, Band.AT_RISK: 1, Band.CRITICAL: 2}
_LABEL = {Band.HEALTHY: "Healthy", Band.AT_RISK: "At risk", Band.CRITICAL: "Critical"}


class Unit(StrEnum):
    RATIO = "ratio"
    SECONDS = "seconds"
    COUNT = "count"
    PER_100_ORDERS = "per_100_orders"
    PER_100_INQUIRIES = "per_100_inquiries"


# --- rules: a marketplace preset as plain values -----------------------------------------


@dataclass(frozen=True, slots=True)
class Rules:
    marketplace: str
    name: str
    rate_name: str
    reply_target_seconds: int | None
    windows: tuple[int, ...]
    late_rate_target: float
    at_risk_ratio: float
    p50_target_seconds: int | None
    p90_target_seconds: int | None
    mean_target_seconds: int | None
    atoz_risk_hours: int | None
    atoz_critical_hours: int | None
    complaint_window_days: int
    complaint_target_per_100_orders: float | None
    complaint_target_per_100_inquiries: float | None
    cluster_at_risk_severity: int
    cluster_critical_severity: int

    @classmethod
    def from_mapping(cls, marketplace: str, values: Mapping[str, Any]) -> Rules:
        """Rules from a preset's fields (a model row's `__dict__` or a seed mapping)."""
        return cls(
            marketplace=marketplace,
            name=str(values["name"]),
            rate_name=str(values["rate_name"]),
            reply_target_seconds=values["reply_target_seconds"],
            windows=tuple(sorted({int(d) for d in values["late_rate_windows"]})),
            late_rate_target=float(values["late_rate_target_percent"]) / 100,
            at_risk_ratio=float(values["at_risk_ratio"]),
            p50_target_seconds=values["response_p50_target_seconds"],
            p90_target_seconds=values["response_p90_target_seconds"],
            mean_target_seconds=values["response_mean_target_seconds"],
            atoz_risk_hours=values["atoz_risk_hours"],
            atoz_critical_hours=values["atoz_critical_hours"],
            complaint_window_days=int(values["complaint_window_days"]),
            complaint_target_per_100_orders=values["complaint_target_per_100_orders"],
            complaint_target_per_100_inquiries=values["complaint_target_per_100_inquiries"],
            cluster_at_risk_severity=int(values["cluster_at_risk_severity"]),
            cluster_critical_severity=int(values["cluster_critical_severity"]),
        )

    @property
    def longest_window(self) -> int:
        return max((*self.windows, 30))

    @property
    def has_atoz(self) -> bool:
        return bool(self.atoz_risk_hours and self.atoz_critical_hours)


# --- facts read from the database ----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MessageRef:
    """A customer message as known at the as-of instant (`answered_at` is None if answered later)."""

    message_id: int
    inquiry_id: int | None
    subject: str
    order_id: str
    received_at: datetime
    due_at: datetime | None
    answered_at: datetime | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "message_id": self.message_id,
            "inquiry_id": self.inquiry_id,
            "subject": self.subject,
            "order_id": self.order_id,
            "received_at": self.received_at.isoformat(),
            "due_at": self.due_at.isoformat() if self.due_at else None,
            "answered_at": self.answered_at.isoformat() if self.answered_at else None,
        }


@dataclass(frozen=True, slots=True)
class ClusterRef:
    cluster_id: int
    topic_key: str
    topic_name: str
    sku: str
    kind_label: str
    severity: int
    severity_label: str
    state: str
    state_label: str
    member_count: int
    first_seen: datetime
    last_seen: datetime
    root_cause: str = ""
    corrective_action: str = ""
    preventive_measure: str = ""
    # A rate cluster's own title (product or route, what customers say, the rate); it has no topic.
    subject: str = ""

    @property
    def title(self) -> str:
        if self.subject:
            return self.subject
        what = f"SKU {self.sku}" if self.sku else "near-identical texts"
        return f"{self.topic_name or 'No topic'}: {what}"


@dataclass(frozen=True, slots=True)
class WindowCounts:
    """Messages needing a response received in [as_of - days, as_of), per DESIGN section 6."""

    days: int
    counted: int
    late: int
    late_unanswered: int
    pending: int

    @property
    def rate(self) -> float | None:
        return self.late / self.counted if self.counted else None


@dataclass(frozen=True, slots=True)
class TopicCount:
    key: str
    name: str
    complaints: int


@dataclass(frozen=True, slots=True)
class HealthFacts:
    as_of: datetime
    windows: tuple[WindowCounts, ...]
    responded: int = 0
    response_p50: float | None = None
    response_p90: float | None = None
    response_mean: float | None = None
    atoz_risk: int = 0
    atoz_critical: int = 0
    complaint_topics: tuple[TopicCount, ...] = ()
    orders: int | None = None
    inquiries: int = 0
    clusters: tuple[ClusterRef, ...] = ()
    late_messages: tuple[MessageRef, ...] = ()  # late in the longest window, newest first
    overdue_messages: tuple[MessageRef, ...] = ()  # unanswered past the deadline, oldest first
    slow_messages: tuple[MessageRef, ...] = ()  # answered in the last 30 days, slowest first
    order_messages: tuple[MessageRef, ...] = ()  # order-related, unanswered, oldest first
    pending: tuple[MessageRef, ...] = ()  # unanswered within their deadline, earliest deadline first
    first_reply_basis: bool = False  # no marketplace rule: deadlines are first-reply clocks


# --- results -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Metric:
    key: str
    label: str
    value: float | None
    unit: Unit
    target: float | None
    status: Band
    numerator: int | None
    denominator: int | None
    summary: str = ""
    messages: tuple[MessageRef, ...] = ()
    clusters: tuple[ClusterRef, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        """The stored and API form: numbers only; reasons are recomputed when shown."""
        return {
            "key": self.key,
            "value": self.value,
            "target": self.target,
            "status": self.status.value,
            "numerator": self.numerator,
            "denominator": self.denominator,
        }


@dataclass(frozen=True, slots=True)
class RescueItem:
    metric_key: str
    metric_label: str
    worsens: bool  # True: failing to answer crosses the band; False: answering improves it
    messages: tuple[MessageRef, ...]
    message_count: int  # may exceed len(messages) when the list was capped
    act_by: datetime  # the first of these messages must be answered by then
    crosses_at: datetime  # when the band changes if nothing is done (or by when it can improve)
    from_value: float | None
    to_value: float | None
    from_status: Band
    to_status: Band
    unit: Unit
    sentence: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "metric": self.metric_key,
            "worsens": self.worsens,
            "message_ids": [m.message_id for m in self.messages],
            "inquiry_ids": sorted({m.inquiry_id for m in self.messages if m.inquiry_id is not None}),
            "message_count": self.message_count,
            "act_by": self.act_by.isoformat(),
            "crosses_at": self.crosses_at.isoformat(),
            "from_value": self.from_value,
            "to_value": self.to_value,
            "from_status": self.from_status.value,
            "to_status": self.to_status.value,
            "sentence": self.sentence,
        }


@dataclass(frozen=True, slots=True)
class HealthReport:
    as_of: datetime
    status: Band
    metrics: tuple[Metric, ...]
    rescue: tuple[RescueItem, ...] = field(default=())
    upcoming: tuple[MessageRef, ...] = field(default=())  # unanswered, deadline ahead, soonest first

    def metric(self, key: str) -> Metric | None:
        return next((m for m in self.metrics if m.key == key), None)


# --- bands -----------------------------------------------------------------------------------

EPSILON = 1e-9


def band_for(value: float | None, target: float | None, at_risk_ratio: float) -> Band:
    """Lower is better: critical above the target, at risk from `at_risk_ratio` of it."""
    if value is None or target is None:
        return Band.HEALTHY
    # Rates are ratios of counts: 8 / 100 must meet an 8% threshold computed as 0.1 * 0.8.
    if value > target + EPSILON:
        return Band.CRITICAL
    if target > 0 and value >= target * at_risk_ratio - EPSILON:
        return Band.AT_RISK
    return Band.HEALTHY


def worst(bands: Iterable[Band]) -> Band:
    return max(bands, key=lambda b: b.rank, default=Band.HEALTHY)


def percentile_cont(values: Sequence[float], fraction: float) -> float | None:
    """PostgreSQL's percentile_cont: linear interpolation between the closest ranks."""
    if not values:
        return None
    ordered = sorted(values)
    position = fraction * (len(ordered) - 1)
    lower = int(position)
    upper = min(lower + 1, len(ordered) - 1)
    return ordered[lower] + (ordered[upper] - ordered[lower]) * (position - lower)


def late_rate_key(days: int) -> str:
    return f"late_response_rate_{days}d"


# --- formatting (used in sentences; the templates format values themselves) ------------------


def human_duration(seconds: float) -> str:
    seconds = max(0, int(seconds))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    if days:
        return f"{days} d {hours} h" if hours else f"{days} d"
    if hours:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    return f"{minutes} min" if minutes else "under a minute"


def format_value(value: float | None, unit: Unit) -> str:
    if value is None:
        return "no data"
    if unit == Unit.RATIO:
        return f"{value * 100:.1f}%"
    if unit == Unit.SECONDS:
        return human_duration(value)
    if unit in (Unit.PER_100_ORDERS, Unit.PER_100_INQUIRIES):
        return f"{value:.2f}"
    return str(int(value))


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


def _window_start(facts: HealthFacts, days: int) -> datetime:
    return facts.as_of - timedelta(days=days)


def _late_rate(window: WindowCounts, facts: HealthFacts, rules: Rules) -> Metric:
    since = _window_start(facts, window.days)
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


# --- rescue ----------------------------------------------------------------------------------

MAX_RESCUE_MESSAGES = 200


def _first(n: int, predicate: Callable[[int], bool]) -> int | None:
    """The smallest k in 1..n with predicate(k), for a predicate that stays true once true."""
    if n < 1 or not predicate(n):
        return None
    low, high = 1, n
    while low < high:
        middle = (low + high) // 2
        if predicate(middle):
            high = middle
        else:
            low = middle + 1
    return low


def messages_to_worsen(window: WindowCounts, pending: int, rules: Rules) -> int | None:
    """How many pending messages going late (in deadline order) first moves the rate to a worse band.

    Each pending message that passes its deadline unanswered adds one to both late and
    counted, so the rate only rises with k.
    """
    current = band_for(window.rate, rules.late_rate_target, rules.at_risk_ratio)

    def worse(k: int) -> bool:
        rate = (window.late + k) / (window.counted + k)
        return band_for(rate, rules.late_rate_target, rules.at_risk_ratio).rank > current.rank

    return _first(pending, worse)


def answers_to_improve(window: WindowCounts, pending: int, rules: Rules) -> int | None:
    """How many pending messages answered on time first move the rate to a better band."""
    current = band_for(window.rate, rules.late_rate_target, rules.at_risk_ratio)
    if current == Band.HEALTHY:
        return None

    def better(m: int) -> bool:
        rate = window.late / (window.counted + m)
        return band_for(rate, rules.late_rate_target, rules.at_risk_ratio).rank < current.rank

    return _first(pending, better)


def rescue_fetch_limit(windows: Sequence[WindowCounts], rules: Rules) -> int:
    """How many pending messages (earliest deadline first) the rescue list needs to see.

    The pending messages of a shorter window are a subset of the longest window's, so a
    window needs its own count plus the ones only the longest window holds.
    """
    if not windows:
        return 0
    longest = windows[-1].pending
    needed = 0
    for window in windows:
        k = max(
            messages_to_worsen(window, window.pending, rules) or 0,
            answers_to_improve(window, window.pending, rules) or 0,
        )
        if k:
            needed = max(needed, k + longest - window.pending)
    return min(needed, MAX_RESCUE_MESSAGES)


def rescue(facts: HealthFacts, rules: Rules) -> list[RescueItem]:
    """What to answer first (assuming nothing else changes: no new messages, no window slide).

    Windows that the same messages move (a message late in the 7-day window is late in the
    30-day one too) share one item naming every rate it moves.
    """
    moves = [move for window in facts.windows for move in _rate_moves(window, facts, rules)]
    groups: dict[tuple[bool, tuple[int, ...]], list[_RateMove]] = {}
    for move in moves:
        groups.setdefault((move.worsens, tuple(m.message_id for m in move.chosen)), []).append(move)
    items = [_rate_item(group, facts) for group in groups.values()]
    if rules.has_atoz:
        items.extend(_atoz_rescue(facts, rules))
    # Losing ground first, soonest first, shortest window first; then what would win it back.
    items.sort(key=lambda item: (not item.worsens, item.crosses_at, _window_days(item.metric_key)))
    return items


def _window_days(key: str) -> int:
    digits = "".join(c for c in key if c.isdigit())
    return int(digits) if key.startswith("late_response_rate_") and digits else 0


@dataclass(frozen=True, slots=True)
class _RateMove:
    window: WindowCounts
    worsens: bool
    chosen: tuple[MessageRef, ...]
    to_value: float
    current: Band
    to_band: Band

    def figures(self) -> str:
        return (
            f"from {format_value(self.window.rate, Unit.RATIO)} to {format_value(self.to_value, Unit.RATIO)} "
            f"({self.current.label.lower()} → {self.to_band.label.lower()})"
        )


def _rate_moves(window: WindowCounts, facts: HealthFacts, rules: Rules) -> list[_RateMove]:
    since = _window_start(facts, window.days)
    pending = [m for m in facts.pending if m.received_at >= since and m.due_at is not None]
    current = band_for(window.rate, rules.late_rate_target, rules.at_risk_ratio)
    moves = []
    k = messages_to_worsen(window, window.pending, rules)
    if k is not None and k <= len(pending):
        to_value = (window.late + k) / (window.counted + k)
        moves.append(
            _RateMove(
                window,
                True,
                tuple(pending[:k]),
                to_value,
                current,
                band_for(to_value, rules.late_rate_target, rules.at_risk_ratio),
            )
        )
    m = answers_to_improve(window, window.pending, rules)
    if m is not None and m <= len(pending):
        to_value = window.late / (window.counted + m)
        moves.append(
            _RateMove(
                window,
                False,
                tuple(pending[:m]),
                to_value,
                current,
                band_for(to_value, rules.late_rate_target, rules.at_risk_ratio),
            )
        )
    return moves


def _join(clauses: list[str]) -> str:
    return clauses[0] if len(clauses) == 1 else ", ".join(clauses[:-1]) + " and " + clauses[-1]


def _rates_clause(moves: list[_RateMove]) -> str:
    """ "the 7-day late rate goes from 8.0% to 10.7% (at risk → critical)"; windows with the same
    figures share one clause ("the 7- and 30-day late rates go from ...")."""
    same: dict[str, list[int]] = {}
    for move in moves:
        same.setdefault(move.figures(), []).append(move.window.days)
    verb = ("goes", "go") if moves[0].worsens else ("improves", "improve")
    clauses = []
    for index, (figures, days) in enumerate(same.items()):
        names = (
            _join([f"{d}-" for d in days[:-1]] + [f"{days[-1]}-day"]) if len(days) > 1 else f"{days[0]}-day"
        )
        if index == 0:
            plural = len(days) > 1
            clauses.append(f"the {names} late rate{'s' if plural else ''} {verb[plural]} {figures}")
        else:
            clauses.append(f"the {names} {figures}")
    return _join(clauses)


def _rate_item(moves: list[_RateMove], facts: HealthFacts) -> RescueItem:
    first = moves[0]
    chosen = first.chosen
    count = len(chosen)
    what = "this message" if count == 1 else f"these {count}"
    rates = _rates_clause(moves)
    act_by, crosses_at = chosen[0].due_at, chosen[-1].due_at
    assert act_by is not None and crosses_at is not None
    if first.worsens:
        within = human_duration((crosses_at - facts.as_of).total_seconds())
        sentence = f"Answer {what} in the next {within} or {rates}."
    else:
        due = human_duration((act_by - facts.as_of).total_seconds())
        sentence = (
            f"Answer {what} on time ({'due' if count == 1 else 'the first is due'} in {due}) and {rates}."
        )
    return RescueItem(
        metric_key=late_rate_key(first.window.days),
        metric_label=", ".join(f"{move.window.days}-day late rate" for move in moves),
        worsens=first.worsens,
        messages=chosen,
        message_count=count,
        act_by=act_by,
        crosses_at=crosses_at,
        from_value=first.window.rate,
        to_value=first.to_value,
        from_status=first.current,
        to_status=first.to_band,
        unit=Unit.RATIO,
        sentence=sentence,
    )


def _atoz_rescue(facts: HealthFacts, rules: Rules) -> list[RescueItem]:
    assert rules.atoz_risk_hours and rules.atoz_critical_hours
    risk = timedelta(hours=rules.atoz_risk_hours)
    critical = timedelta(hours=rules.atoz_critical_hours)
    current = Band.CRITICAL if facts.atoz_critical else Band.AT_RISK if facts.atoz_risk else Band.HEALTHY
    label = "A-to-z claim risks"
    messages = facts.order_messages
    if current == Band.CRITICAL:
        chosen = tuple(m for m in messages if m.received_at + critical <= facts.as_of)
        what = (
            "this order message"
            if facts.atoz_critical == 1
            else f"these {facts.atoz_critical} order messages"
        )
        sentence = (
            f"Answer {what} now: each has been unanswered for {rules.atoz_critical_hours} h or more, "
            "so an A-to-z claim on it can be granted."
        )
        return [
            RescueItem(
                metric_key="atoz_risk_count",
                metric_label=label,
                worsens=False,
                messages=chosen,
                message_count=facts.atoz_critical,
                act_by=facts.as_of,
                crosses_at=facts.as_of,
                from_value=float(facts.atoz_risk),
                to_value=float(facts.atoz_risk - facts.atoz_critical),
                from_status=current,
                to_status=Band.AT_RISK if facts.atoz_risk > facts.atoz_critical else Band.HEALTHY,
                unit=Unit.COUNT,
                sentence=sentence,
            )
        ]
    if current == Band.AT_RISK:
        upcoming = [m for m in messages if m.received_at + critical > facts.as_of]
        hours, to_band, consequence = (
            rules.atoz_critical_hours,
            Band.CRITICAL,
            "an A-to-z claim on it can be granted",
        )
        to_value = float(facts.atoz_risk)
        crossing = critical
    else:
        upcoming = [m for m in messages if m.received_at + risk > facts.as_of]
        hours, to_band, consequence = (
            rules.atoz_risk_hours,
            Band.AT_RISK,
            "the buyer may file an A-to-z claim",
        )
        to_value = 1.0
        crossing = risk
    if not upcoming:
        return []
    first = upcoming[0]
    crosses_at = first.received_at + crossing
    order = f" (order {first.order_id})" if first.order_id else ""
    sentence = (
        f"Answer this order message{order} in the next "
        f"{human_duration((crosses_at - facts.as_of).total_seconds())}: "
        f"at {hours} h unanswered {consequence} ({current.label.lower()} → {to_band.label.lower()})."
    )
    return [
        RescueItem(
            metric_key="atoz_risk_count",
            metric_label=label,
            worsens=True,
            messages=(first,),
            message_count=1,
            act_by=crosses_at,
            crosses_at=crosses_at,
            from_value=float(facts.atoz_risk),
            to_value=to_value,
            from_status=current,
            to_status=to_band,
            unit=Unit.COUNT,
            sentence=sentence,
        )
    ]


def rescue_inquiry_ids(items: Iterable[RescueItem]) -> list[int]:
    """The inquiries behind a rescue list, in the order they first appear."""
    seen: dict[int, None] = {}
    for item in items:
        for message in item.messages:
            if message.inquiry_id is not None:
                seen.setdefault(message.inquiry_id, None)
    return list(seen)
