"""The marketplaces' own account-health metrics computed from orders: definitions and judging.

Pure: no Django, no clock. `inquiries.selectors.health.order_metrics` counts each metric's numerator
and denominator with aggregate SQL; the marketplace facts table (`inquiries.marketplaces`) says
what each metric is (whose metric, the date that anchors its window, the window, the target, the
published page it comes from); this module reads it and judges a value against its target.
docs/health.md restates the table for people.

Every metric is a share of orders (or packages). "Lower is better" metrics count defects
(late, cancelled, defective); "higher is better" ones count successes (tracked, on time),
and are judged on their complement: a 95% target allows 5% missing, at risk from
`at_risk_ratio` of that allowance. A metric with an empty denominator has no value and
the state "no data", never "healthy".
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from inquiries.marketplaces import MARKETPLACES, MetricDefinition, Population
from inquiries.marketplaces import percent as percent  # re-exported: its callers format figures with it
from inquiries.words import _, gettext_noop

EPSILON = 1e-9


class Status(StrEnum):
    NO_DATA = "no_data"
    HEALTHY = "healthy"
    AT_RISK = "at_risk"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        return {"no_data": -1, "healthy": 0, "at_risk": 1, "critical": 2}[self.value]

    @property
    def label(self) -> str:
        """The status's name in English: the callers translate it (`_(status.label)`)."""
        return {
            "no_data": gettext_noop("No data"),
            "healthy": gettext_noop("Healthy"),
            "at_risk": gettext_noop("At risk"),
            "critical": gettext_noop("Critical"),
        }[self.value]


DEFINITIONS: tuple[MetricDefinition, ...] = tuple(
    definition for facts in MARKETPLACES.values() for definition in facts.metrics
)


def definitions_for(marketplace: str) -> tuple[MetricDefinition, ...]:
    facts = MARKETPLACES.get(marketplace)
    return facts.metrics if facts else ()


@dataclass(frozen=True, slots=True)
class OrderRef:
    order_id: int
    marketplace_order_id: str

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.order_id, "marketplace_order_id": self.marketplace_order_id}


@dataclass(frozen=True, slots=True)
class Counts:
    """What the SQL found for one metric: the window it used and its counts."""

    window_start: datetime
    window_end: datetime
    window_days: int
    numerator: int
    denominator: int
    failing: int  # the orders (or packages) that hurt the metric: the numerator, or its complement
    orders: tuple[OrderRef, ...] = ()  # the first of the failing ones, newest first


@dataclass(frozen=True, slots=True)
class Reported:
    """The marketplace's own figure for a metric, as imported (`MarketplaceMetric` under the
    metric's key, over the same orders: Amazon reports its Order Defect Rate per fulfilment
    channel, as ours is counted)."""

    value: float | None
    status: str  # the marketplace's verdict in its words
    window_start: datetime
    window_end: datetime
    reported_at: datetime
    source: str
    numerator: int | None = None
    denominator: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "value": self.value,
            "status": self.status,
            "window_start": self.window_start.isoformat(),
            "window_end": self.window_end.isoformat(),
            "reported_at": self.reported_at.isoformat(),
            "source": self.source,
            "numerator": self.numerator,
            "denominator": self.denominator,
        }


def population_text(population: Population) -> str:
    """The orders a figure covers, in words."""
    return {
        Population.ALL: _("all orders"),
        Population.SELLER: _("seller-fulfilled orders"),
        Population.MARKETPLACE: _("orders fulfilled by the marketplace"),
    }[population]


def reported_text(reported: Reported, population: Population) -> str:
    """The marketplace's figure in words: its value, the orders it covers (ours) and its verdict."""
    text = _("%(value)s of %(population)s") % {
        "value": percent(reported.value),
        "population": population_text(population),
    }
    return f"{text} ({reported.status})" if reported.status else text


def reported_keys(marketplace: str) -> list[str]:
    """The keys of the marketplace's own figures that stand beside its metrics (`MarketplaceMetric.metric`)."""
    return [definition.key for definition in definitions_for(marketplace)]


# Ours and the marketplace's differ beyond rounding and a few days' lag when they are more than
# a quarter of the target apart (ODR: 0.25 points), and never by less than 0.1 point.
DIVERGENCE_SHARE_OF_TARGET = 0.25
DIVERGENCE_FLOOR = 0.001


def divergence_tolerance(definition: MetricDefinition) -> float:
    allowance = 1 - definition.target if definition.higher_is_better else definition.target
    return max(DIVERGENCE_FLOOR, DIVERGENCE_SHARE_OF_TARGET * allowance)


@dataclass(frozen=True, slots=True)
class MarketplaceFigure:
    definition: MetricDefinition
    counts: Counts
    value: float | None
    status: Status
    reported: Reported | None = None

    @property
    def diverges(self) -> bool:
        """Whether the marketplace's figure (over the same orders) and ours differ beyond the tolerance."""
        if self.reported is None or self.reported.value is None or self.value is None:
            return False
        return abs(self.reported.value - self.value) > divergence_tolerance(self.definition) + EPSILON

    @property
    def key(self) -> str:
        return self.definition.key

    def as_dict(self) -> dict[str, Any]:
        d, c = self.definition, self.counts
        return {
            "key": d.key,
            "label": d.label,
            "group": "marketplace",
            "definition_by": d.marketplace,
            "value": self.value,
            "target": d.target,
            "higher_is_better": d.higher_is_better,
            "status": self.status.value,
            "numerator": c.numerator,
            "denominator": c.denominator,
            "counts": d.counts,
            "over": d.over,
            "window_days": c.window_days,
            "window_start": c.window_start.isoformat(),
            "window_end": c.window_end.isoformat(),
            "source": d.source,
            "failing_count": c.failing,
            "failing_orders": [o.as_dict() for o in c.orders],
            "population": d.population.value,
            "reported": self.reported.as_dict() if self.reported else None,
            "diverges": self.diverges,
            "divergence_tolerance": divergence_tolerance(d),
        }


def judge(value: float | None, definition: MetricDefinition, at_risk_ratio: float) -> Status:
    """The band of a value against the definition's target (see the module docstring)."""
    if value is None:
        return Status.NO_DATA
    if definition.higher_is_better:
        value, target = 1 - value, 1 - definition.target
    else:
        target = definition.target
    if value > target + EPSILON:
        return Status.CRITICAL
    if target > 0 and value >= target * at_risk_ratio - EPSILON:
        return Status.AT_RISK
    return Status.HEALTHY


def figure(definition: MetricDefinition, counts: Counts, at_risk_ratio: float) -> MarketplaceFigure:
    value = counts.numerator / counts.denominator if counts.denominator else None
    return MarketplaceFigure(definition, counts, value, judge(value, definition, at_risk_ratio))


def overall(statuses: Iterable[Status]) -> Status:
    """The worst status; "no data" only when nothing has data."""
    return max(statuses, key=lambda s: s.rank, default=Status.NO_DATA)


# --- which figures decide the account's status ----------------------------------------------

# The marketplaces whose own published reply metric is our late response rate (DESIGN section
# 4), and the accounts without a marketplace, whose own SLA policy decides: the facts table's
# `reply_metric_is_its_own` and `own_policy`.
POLICY_MARKETPLACES = frozenset(key for key, facts in MARKETPLACES.items() if facts.own_policy)
LATE_RATE_PREFIX = "late_response_rate_"


def decides_status(marketplace: str, metric_key: str) -> bool:
    """Whether a message metric (by key) is one of the figures that decide the account's status:
    the marketplace's own reply metric, or for accounts without a marketplace their own policy's
    first-reply compliance. Every other message metric is a house indicator: an early warning."""
    if not metric_key.startswith(LATE_RATE_PREFIX):
        return False
    facts = MARKETPLACES.get(marketplace)
    return facts is not None and (facts.reply_metric_is_its_own or facts.own_policy)


def message_status(value: float | None, band: str) -> Status:
    """A message metric's band as a status: without a value it has no data."""
    return Status.NO_DATA if value is None else Status(band)


def account_status(
    marketplace: str,
    figures: Iterable[MarketplaceFigure],
    message_metrics: Iterable[tuple[str, float | None, str]],
) -> Status:
    """The account's status: the worst of the figures that decide it (marketplace metrics from
    orders, and the reply metric of `decides_status`), given message metrics as (key, value,
    band). House indicators never decide it; with no data anywhere the status is "no data"."""
    statuses = [f.status for f in figures]
    statuses += [
        message_status(v, band) for key, v, band in message_metrics if decides_status(marketplace, key)
    ]
    return overall(statuses)
