"""The marketplaces' own account-health metrics computed from orders: definitions and judging.

Pure: no Django, no clock. `inquiries.selectors.health.order_metrics` counts each metric's numerator
and denominator with aggregate SQL; this module says what each metric is (whose metric, the
date that anchors its window, the window, the target, the published page it comes from)
and judges a value against its target. docs/health.md restates the table for people.

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

EPSILON = 1e-9


class Anchor(StrEnum):
    """The date that puts an order (or package) in a metric's window."""

    PURCHASED = "purchased"  # Order.purchased_at: order-correlated metrics (ODR, cancellations)
    SHIP_BY = "ship_by"  # Order.ship_by: the latest ship date the marketplace set
    DELIVER_BY = "deliver_by"  # Order.deliver_by: the latest delivery date promised the buyer
    SHIPPED = "shipped"  # Shipment.shipped_at: the package's ship date (per package)


class Measure(StrEnum):
    """What is counted; `inquiries.selectors.health.order_metrics` has one SQL condition per measure."""

    ORDER_DEFECT = "order_defect"  # negative feedback not removed, A-to-z claim not denied, chargeback
    LATE_SHIPMENT = "late_shipment"  # first shipment after ship_by, or none yet with ship_by passed
    SELLER_CANCEL = "seller_cancel"  # cancelled by the seller before any shipment
    VALID_TRACKING = "valid_tracking"  # a package with a tracking number and a carrier
    ON_TIME_DELIVERY = "on_time_delivery"  # delivered by deliver_by, among deliveries with a scan
    RETURNED = "returned"  # at least one return
    CASE_WITHOUT_SELLER = "case_without_seller"  # a guarantee case decided for the buyer
    TRANSACTION_DEFECT = "transaction_defect"  # seller cancellation or case closed without seller


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
        return {"no_data": "No data", "healthy": "Healthy", "at_risk": "At risk", "critical": "Critical"}[
            self.value
        ]


@dataclass(frozen=True, slots=True)
class Definition:
    key: str
    marketplace: str
    label: str
    measure: Measure
    anchor: Anchor
    window_days: int
    target: float  # a fraction: 0.01 is 1%
    higher_is_better: bool
    counts: str  # what the numerator counts, in words
    over: str  # what the denominator counts, in words
    source: str  # the marketplace's published page the definition follows
    # eBay: the window widens to `long_window_days` while the short window holds fewer than
    # `min_transactions` orders (its seller standards' evaluation period).
    long_window_days: int | None = None
    min_transactions: int | None = None

    @property
    def anchor_text(self) -> str:
        return ANCHOR_TEXT[self.anchor]

    @property
    def target_text(self) -> str:
        sign = "above" if self.higher_is_better else "below"
        return f"{sign} {percent(self.target)}"


ANCHOR_TEXT = {
    Anchor.PURCHASED: "purchase date",
    Anchor.SHIP_BY: "latest ship date",
    Anchor.DELIVER_BY: "latest delivery date",
    Anchor.SHIPPED: "ship date",
}


def percent(value: float | None) -> str:
    if value is None:
        return "no data"
    text = f"{value * 100:.2f}".rstrip("0").rstrip(".")
    return f"{text}%"


AMAZON_ODR = "Seller Central help: Order Defect Rate"
AMAZON_LSR = "Seller Central help: Late Shipment Rate"
AMAZON_CR = "Seller Central help: Pre-fulfillment Cancel Rate"
AMAZON_VTR = "Seller Central help: Valid Tracking Rate"
AMAZON_OTDR = "Seller Central help: On-Time Delivery Rate"
WALMART = "Walmart Marketplace Learn: Seller Performance Standards"
EBAY = "eBay Seller Center: Seller performance standards policy"

SELLER_SHIPPED = "orders the seller ships (not fulfilled by the marketplace), cancelled ones excluded"

DEFINITIONS: tuple[Definition, ...] = (
    # --- Amazon -------------------------------------------------------------------------
    Definition(
        "order_defect_rate", "amazon", "Order Defect Rate", Measure.ORDER_DEFECT, Anchor.PURCHASED, 60,
        0.01, False,
        "orders with negative feedback (1-2 stars, not removed), an A-to-z Guarantee claim not decided "
        "for the seller or withdrawn, or a chargeback not decided for the seller",
        "orders purchased in the window (all fulfilment channels)", AMAZON_ODR,
    ),
    Definition(
        "late_shipment_rate", "amazon", "Late Shipment Rate", Measure.LATE_SHIPMENT, Anchor.SHIP_BY, 10,
        0.04, False,
        "orders first shipped after their latest ship date, or not shipped and past it",
        f"{SELLER_SHIPPED}, whose latest ship date falls in the window", AMAZON_LSR,
    ),
    Definition(
        "pre_fulfilment_cancel_rate", "amazon", "Pre-fulfilment Cancel Rate", Measure.SELLER_CANCEL,
        Anchor.PURCHASED, 7, 0.025, False,
        "orders the seller cancelled before shipping any of them",
        "orders the seller ships (not fulfilled by the marketplace), purchased in the window", AMAZON_CR,
    ),
    Definition(
        "valid_tracking_rate", "amazon", "Valid Tracking Rate", Measure.VALID_TRACKING, Anchor.SHIPPED, 30,
        0.95, True,
        "packages with a tracking number and a carrier",
        "packages of orders the seller ships, shipped in the window", AMAZON_VTR,
    ),
    Definition(
        "on_time_delivery_rate", "amazon", "On-Time Delivery Rate", Measure.ON_TIME_DELIVERY,
        Anchor.DELIVER_BY, 14, 0.97, True,
        "orders delivered (first delivery scan) by their latest delivery date",
        "orders the seller ships with a delivery scan, whose latest delivery date falls in the window",
        AMAZON_OTDR,
    ),
    # --- Walmart -------------------------------------------------------------------------
    Definition(
        "walmart_on_time_delivery_rate", "walmart", "On-Time Delivery Rate", Measure.ON_TIME_DELIVERY,
        Anchor.DELIVER_BY, 90, 0.90, True,
        "orders delivered (first delivery scan) by their promised delivery date",
        "orders the seller ships with a delivery scan, whose promised delivery date falls in the window",
        WALMART,
    ),
    Definition(
        "walmart_valid_tracking_rate", "walmart", "Valid Tracking Rate", Measure.VALID_TRACKING,
        Anchor.SHIPPED, 90, 0.99, True,
        "packages with a tracking number and a carrier",
        "packages of orders the seller ships, shipped in the window", WALMART,
    ),
    Definition(
        "walmart_cancellation_rate", "walmart", "Cancellation Rate", Measure.SELLER_CANCEL, Anchor.PURCHASED,
        90, 0.02, False,
        "orders the seller cancelled before shipping any of them",
        "orders the seller ships (not fulfilled by the marketplace), purchased in the window", WALMART,
    ),
    Definition(
        "walmart_return_rate", "walmart", "Return Rate", Measure.RETURNED, Anchor.PURCHASED, 90, 0.06, False,
        "orders with at least one return",
        "orders purchased in the window (all fulfilment channels)", WALMART,
    ),
    # --- eBay ----------------------------------------------------------------------------
    Definition(
        "transaction_defect_rate", "ebay", "Transaction Defect Rate", Measure.TRANSACTION_DEFECT,
        Anchor.PURCHASED, 90, 0.02, False,
        "orders the seller cancelled, or with a case closed without seller resolution",
        "orders purchased in the window (12 months while the 3 months hold fewer than 400)", EBAY,
        long_window_days=365, min_transactions=400,
    ),
    Definition(
        "ebay_late_shipment_rate", "ebay", "Late Shipment Rate", Measure.LATE_SHIPMENT, Anchor.SHIP_BY, 90,
        0.07, False,
        "orders first shipped after their handling-time ship date, or not shipped and past it",
        f"{SELLER_SHIPPED}, whose ship date falls in the window (12 months while the 3 months hold "
        "fewer than 400)",
        EBAY, long_window_days=365, min_transactions=400,
    ),
    Definition(
        "cases_closed_without_seller_resolution", "ebay", "Cases closed without seller resolution",
        Measure.CASE_WITHOUT_SELLER, Anchor.PURCHASED, 90, 0.003, False,
        "orders with a Money Back Guarantee case decided for the buyer (the seller did not resolve it)",
        "orders purchased in the window (12 months while the 3 months hold fewer than 400)", EBAY,
        long_window_days=365, min_transactions=400,
    ),
)  # fmt: skip


def definitions_for(marketplace: str) -> tuple[Definition, ...]:
    return tuple(d for d in DEFINITIONS if d.marketplace == marketplace)


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
    """The marketplace's own figure for a metric, as imported (`MarketplaceMetric`)."""

    value: float | None
    status: str  # the marketplace's verdict in its words
    window_start: datetime
    window_end: datetime
    reported_at: datetime
    source: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "value": self.value,
            "status": self.status,
            "window_start": self.window_start.isoformat(),
            "window_end": self.window_end.isoformat(),
            "reported_at": self.reported_at.isoformat(),
            "source": self.source,
        }


# Ours and the marketplace's differ beyond rounding and a few days' lag when they are more than
# a quarter of the target apart (ODR: 0.25 points), and never by less than 0.1 point.
DIVERGENCE_SHARE_OF_TARGET = 0.25
DIVERGENCE_FLOOR = 0.001


def divergence_tolerance(definition: Definition) -> float:
    allowance = 1 - definition.target if definition.higher_is_better else definition.target
    return max(DIVERGENCE_FLOOR, DIVERGENCE_SHARE_OF_TARGET * allowance)


@dataclass(frozen=True, slots=True)
class MarketplaceFigure:
    definition: Definition
    counts: Counts
    value: float | None
    status: Status
    reported: Reported | None = None

    @property
    def diverges(self) -> bool:
        """Whether the marketplace's imported figure and ours differ beyond the tolerance."""
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
            "reported": self.reported.as_dict() if self.reported else None,
            "diverges": self.diverges,
            "divergence_tolerance": divergence_tolerance(d),
        }


def judge(value: float | None, definition: Definition, at_risk_ratio: float) -> Status:
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


def figure(definition: Definition, counts: Counts, at_risk_ratio: float) -> MarketplaceFigure:
    value = counts.numerator / counts.denominator if counts.denominator else None
    return MarketplaceFigure(definition, counts, value, judge(value, definition, at_risk_ratio))


def overall(statuses: Iterable[Status]) -> Status:
    """The worst status; "no data" only when nothing has data."""
    return max(statuses, key=lambda s: s.rank, default=Status.NO_DATA)


# --- which figures decide the account's status ----------------------------------------------

# The marketplaces whose own published reply metric is our late response rate (DESIGN section
# 4): Amazon's Late Response Rate, Walmart's Seller Response Rate. eBay's target is a house
# default; own shops and others have no marketplace, their own SLA policy decides.
REPLY_METRIC_MARKETPLACES = frozenset({"amazon", "walmart"})
POLICY_MARKETPLACES = frozenset({"shop", "other"})
LATE_RATE_PREFIX = "late_response_rate_"


def decides_status(marketplace: str, metric_key: str) -> bool:
    """Whether a message metric (by key) is one of the figures that decide the account's status:
    the marketplace's own reply metric, or for accounts without a marketplace their own policy's
    first-reply compliance. Every other message metric is a house indicator: an early warning."""
    if not metric_key.startswith(LATE_RATE_PREFIX):
        return False
    return marketplace in REPLY_METRIC_MARKETPLACES or marketplace in POLICY_MARKETPLACES


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
