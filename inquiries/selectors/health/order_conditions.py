"""What each marketplace metric from orders counts, as SQL conditions over one window.

Read by `order_metrics` (counting a window live) and `order_rollup` (counting local days for the
daily rollup, every stored fact counted whatever its time: `Window.all_facts`). The definitions
in words are in `inquiries.marketplaces` and docs/health.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.db.models import Exists, F, Model, OuterRef, Q, QuerySet

from inquiries.marketplaces import Anchor, Measure
from inquiries.models import (
    Cancellation,
    CancelledBy,
    Claim,
    ClaimKind,
    ClaimOutcome,
    Feedback,
    FulfilmentChannel,
    Order,
    OrderStatus,
    Polarity,
    Return,
    Shipment,
)

ORDER_ANCHOR = {Anchor.PURCHASED: "purchased_at", Anchor.SHIP_BY: "ship_by", Anchor.DELIVER_BY: "deliver_by"}


def window_start(as_of: datetime, days: int, tz: str) -> datetime:
    """The local midnight starting a window of `days` local days that ends at `as_of`."""
    zone = ZoneInfo(tz)
    first = as_of.astimezone(zone).date() - timedelta(days=days - 1)
    return datetime.combine(first, time(0), zone)


@dataclass(frozen=True, slots=True)
class Window:
    """The account and the widest window a metric reads: [start, as_of) of its anchor column.

    Facts count when known at `as_of` (their time at or before it, or no time), or, for the
    rollup (`all_facts`), whatever their time.

    How an order's facts are matched: by default the facts of the window's orders are joined
    with those orders and hashed once (a hashed SubPlan), which suits counting every order of a
    window. `per_row` probes each order's facts by its id instead (a correlated EXISTS, an index
    lookup per order), which suits reading the latest failing orders newest first: the scan stops
    at the first rows it needs and never reads the facts of the rest of the window."""

    account_id: int
    anchor: str
    start: datetime
    as_of: datetime
    all_facts: bool = False
    per_row: bool = False

    def facts(self, facts: QuerySet) -> QuerySet:
        """`facts` (rows with an `order`) of the orders counted: of the window's orders, joined
        once (a condition on the order's own dates reads the same join: `order_field`), or of
        the order the outer query is on."""
        if self.per_row:
            return facts.filter(order_id=OuterRef("pk"))
        return facts.filter(
            **{
                "order__account_id": self.account_id,
                f"order__{self.anchor}__gte": self.start,
                f"order__{self.anchor}__lt": self.as_of,
            }
        )

    def order_field(self, field: str) -> F | OuterRef:
        """A field of the fact's order, inside `facts(...)`."""
        return OuterRef(field) if self.per_row else F(f"order__{field}")

    def has(self, facts: QuerySet) -> Q:
        """The order has one of `facts` (built with `facts(...)`)."""
        if self.per_row:
            return Q(Exists(facts))
        return Q(pk__in=facts.values("order_id"))

    def known(self, field: str) -> Q:
        """A fact known at as_of: its time is at or before it (a fact without a time counts)."""
        if self.all_facts:
            return Q()
        return Q(**{f"{field}__isnull": True}) | Q(**{f"{field}__lte": self.as_of})


def rows_of(account_id: int, anchor: Anchor) -> tuple[QuerySet, str]:
    """The rows a metric counts (orders, or packages for tracking) and its anchor column."""
    if anchor == Anchor.SHIPPED:
        packages = Shipment.objects.filter(order__account_id=account_id).exclude(
            order__fulfilment_channel=FulfilmentChannel.MARKETPLACE
        )
        return packages, "shipped_at"
    return Order.objects.filter(account_id=account_id), ORDER_ANCHOR[anchor]


def conditions(measure: Measure, window: Window) -> tuple[Q, Q, Q]:
    """(in the denominator, in the numerator, failing) for one measure, as SQL conditions.

    Facts are matched by `pk IN (SELECT order_id ...)` with uncorrelated subqueries over the
    window's orders: PostgreSQL hashes each once (a hashed SubPlan) instead of probing an index
    per order of the window; or, with `window.per_row`, by a probe per order (`Window`).
    """
    everything = Q()
    marketplace_ships = Q(fulfilment_channel=FulfilmentChannel.MARKETPLACE)
    seller_ships = ~marketplace_ships
    if measure == Measure.VALID_TRACKING:
        tracked = ~Q(tracking_number="") & ~Q(carrier="")
        return everything, tracked, ~tracked
    if measure in (Measure.ORDER_DEFECT_SELLER, Measure.ORDER_DEFECT_MARKETPLACE):
        channel = seller_ships if measure == Measure.ORDER_DEFECT_SELLER else marketplace_ships
        defect = window.has(_negative_feedback(window)) | window.has(_defect_claims(window))
        return channel, defect, defect
    if measure == Measure.LATE_SHIPMENT:
        # The window holds ship-by dates before as_of: an order with no shipment by its ship-by
        # date is late at as_of whether it shipped later or not yet.
        in_time = window.facts(Shipment.objects.all()).filter(shipped_at__lte=window.order_field("ship_by"))
        late = ~window.has(in_time)
        return seller_ships & ~Q(status=OrderStatus.CANCELLED), late, late
    if measure == Measure.SELLER_CANCEL:
        cancelled = window.has(_seller_cancellations(window))
        return seller_ships, cancelled, cancelled
    if measure == Measure.ON_TIME_DELIVERY:
        by_then = Q(delivered_at__isnull=False) if window.all_facts else Q(delivered_at__lte=window.as_of)
        delivered = window.facts(Shipment.objects.filter(by_then))
        late = window.has(delivered.filter(delivered_at__gt=window.order_field("deliver_by")))
        return seller_ships & window.has(delivered), ~late, late
    if measure == Measure.RETURNED:
        returned = window.has(_returns(window))
        return everything, returned, returned
    if measure == Measure.CASE_WITHOUT_SELLER:
        case = window.has(_cases_for_buyer(window))
        return everything, case, case
    if measure == Measure.TRANSACTION_DEFECT:
        defect = window.has(_seller_cancellations(window)) | window.has(_cases_for_buyer(window))
        return everything, defect, defect
    raise ValueError(f"no SQL for {measure}")


# The facts whose time decides whether a measure counts them as of an instant: the rollup keeps
# the latest of them per day (`OrderMetricDay.facts_until`), and a day whose latest fact is after
# the as-of instant is counted live. Late shipment compares shipments with the ship-by date
# (before as_of in any window) and valid tracking reads the package itself: no such facts.
FACT_TIMES: dict[Measure, tuple[tuple[type[Model], str], ...]] = {
    Measure.ORDER_DEFECT_SELLER: ((Feedback, "left_at"), (Claim, "opened_at")),
    Measure.ORDER_DEFECT_MARKETPLACE: ((Feedback, "left_at"), (Claim, "opened_at")),
    Measure.LATE_SHIPMENT: (),
    Measure.SELLER_CANCEL: ((Cancellation, "at"),),
    Measure.VALID_TRACKING: (),
    Measure.ON_TIME_DELIVERY: ((Shipment, "delivered_at"),),
    Measure.RETURNED: ((Return, "requested_at"), (Return, "received_at")),
    Measure.CASE_WITHOUT_SELLER: ((Claim, "decided_at"),),
    Measure.TRANSACTION_DEFECT: ((Cancellation, "at"), (Claim, "decided_at")),
}


def _negative_feedback(window: Window) -> QuerySet:
    return window.facts(
        Feedback.objects.filter(window.known("left_at"), polarity=Polarity.NEGATIVE, removed=False)
    )


def _defect_claims(window: Window) -> QuerySet:
    """A-to-z claims and chargebacks that count as defects: open or decided for the buyer (not
    denied, not withdrawn)."""
    return window.facts(
        Claim.objects.filter(
            window.known("opened_at"),
            kind__in=[ClaimKind.GUARANTEE, ClaimKind.CHARGEBACK],
            outcome__in=[ClaimOutcome.OPEN, ClaimOutcome.FOR_BUYER],
        )
    )


def _cases_for_buyer(window: Window) -> QuerySet:
    return window.facts(
        Claim.objects.filter(
            window.known("decided_at"), kind=ClaimKind.GUARANTEE, outcome=ClaimOutcome.FOR_BUYER
        )
    )


def _seller_cancellations(window: Window) -> QuerySet:
    """Seller cancellations before any package of the order shipped."""
    shipped_before = Shipment.objects.filter(order_id=OuterRef("order_id"), shipped_at__lt=OuterRef("at"))
    return window.facts(
        Cancellation.objects.filter(
            window.known("at"), ~Q(Exists(shipped_before)), cancelled_by=CancelledBy.SELLER
        )
    )


def _returns(window: Window) -> QuerySet:
    """Returns asked for by as_of (or, without a request date, received back by then)."""
    if window.all_facts:
        asked = Q()  # every return: asked for, or received back (or neither date stored)
    else:
        as_of = window.as_of
        asked = Q(requested_at__lte=as_of) | (Q(requested_at__isnull=True) & window.known("received_at"))
    return window.facts(Return.objects.filter(asked))
