"""The scoring's data: the rules and facts that go in, the metrics and report that come out,
and the bands (healthy, at risk, critical) with their order and labels.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from inquiries.words import _, gettext_noop


class Band(StrEnum):
    HEALTHY = "healthy"
    AT_RISK = "at_risk"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        return _RANK[self]

    @property
    def label(self) -> str:
        """The band's name in English: the callers translate it (`_(band.label)`)."""
        return _LABEL[self]


_RANK = {Band.HEALTHY: 0, Band.AT_RISK: 1, Band.CRITICAL: 2}
_LABEL = {
    Band.HEALTHY: gettext_noop("Healthy"),
    Band.AT_RISK: gettext_noop("At risk"),
    Band.CRITICAL: gettext_noop("Critical"),
}


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
        what = _("SKU %(sku)s") % {"sku": self.sku} if self.sku else _("near-identical texts")
        return f"{self.topic_name or _('No topic')}: {what}"


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
