"""The marketplace's own metrics of an account, counted from its orders with aggregate SQL.

One aggregate query per metric (numerator and denominator, both of eBay's windows at once)
and, when some orders fail it, one query for the first of them: a fixed number of queries
whatever the number of orders, and no Python loop over orders. The definitions (what each
metric counts, its anchor date, window and target) are in
`inquiries.health.marketplace_metrics`, which this module turns into SQL conditions.

Windows are whole local days in the account's time zone: a window of N days starts at the
local midnight N - 1 days before the as-of day and ends at the as-of instant. Facts are as
known at that instant where their time is stored (shipments, deliveries, cancellations,
returns, feedback, claims); an order's status and a claim's outcome are as they are now.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.db.models import Count, Exists, F, OuterRef, Q, QuerySet

from inquiries.health.marketplace_metrics import (
    Counts,
    MarketplaceFigure,
    OrderRef,
    Reported,
    Status,
    account_status,
    decides_status,
    definitions_for,
    figure,
    reported_figure,
    reported_keys,
)
from inquiries.health.scoring import HealthReport, Metric, Rules, score
from inquiries.marketplaces import Anchor, Measure, MetricDefinition
from inquiries.models import (
    Account,
    Cancellation,
    CancelledBy,
    Claim,
    ClaimKind,
    ClaimOutcome,
    Feedback,
    FulfilmentChannel,
    MarketplaceMetric,
    Order,
    OrderStatus,
    Polarity,
    Return,
    Shipment,
)
from inquiries.selectors.health.metrics import health_facts, planner_settings, rules_for

FAILING_LIST = 20
ACCOUNT_HEALTH_RATING = "account_health_rating"  # MarketplaceMetric.metric of Amazon's rating

_ORDER_ANCHOR = {Anchor.PURCHASED: "purchased_at", Anchor.SHIP_BY: "ship_by", Anchor.DELIVER_BY: "deliver_by"}


def window_start(as_of: datetime, days: int, tz: str) -> datetime:
    """The local midnight starting a window of `days` local days that ends at `as_of`."""
    zone = ZoneInfo(tz)
    first = as_of.astimezone(zone).date() - timedelta(days=days - 1)
    return datetime.combine(first, time(0), zone)


@dataclass(frozen=True, slots=True)
class AccountHealth:
    """An account's health as the page and the API show it: the marketplace's metrics from
    orders, the message metrics, and the status the deciding ones give (`account_status`)."""

    marketplace: str
    report: HealthReport
    figures: tuple[MarketplaceFigure, ...]
    status: Status
    rating: Reported | None = None  # Amazon's Account Health Rating, when imported

    @property
    def deciding(self) -> tuple[Metric, ...]:
        """The message metrics that decide the status (the marketplace's reply metric)."""
        return tuple(m for m in self.report.metrics if decides_status(self.marketplace, m.key))

    @property
    def house(self) -> tuple[Metric, ...]:
        """The house indicators: early warnings that never decide the status."""
        return tuple(m for m in self.report.metrics if not decides_status(self.marketplace, m.key))


def account_health_with_orders(
    account: Account,
    as_of: datetime,
    *,
    rules: Rules | None = None,
    reasons: bool = True,
    list_limit: int = FAILING_LIST,
) -> AccountHealth:
    """The message metrics and the order metrics as of `as_of`, in one transaction (JIT off)."""
    rules = rules or rules_for(account)
    with planner_settings():
        facts = health_facts(account, as_of, rules, reasons=reasons)
        reported = _reported(account, as_of, [*reported_keys(account.marketplace), ACCOUNT_HEALTH_RATING])
        figures = marketplace_figures(
            account, as_of, at_risk_ratio=rules.at_risk_ratio, reported=reported, list_limit=list_limit
        )
    report = score(facts, rules)
    status = account_status(
        account.marketplace, figures, ((m.key, m.value, m.status.value) for m in report.metrics)
    )
    return AccountHealth(
        marketplace=account.marketplace,
        report=report,
        figures=figures,
        status=status,
        rating=reported.get(ACCOUNT_HEALTH_RATING),
    )


def marketplace_figures(
    account: Account,
    as_of: datetime,
    *,
    at_risk_ratio: float,
    list_limit: int = FAILING_LIST,
    reported: dict[str, Reported] | None = None,
) -> tuple[MarketplaceFigure, ...]:
    """Every metric the account's marketplace publishes that orders can measure, as of `as_of`,
    each with the marketplace's own figure when one was imported (read here unless given: the
    imported figures by key, `reported_figure` picks or adds up those of each metric)."""
    definitions = definitions_for(account.marketplace)
    if reported is None:
        reported = _reported(account, as_of, reported_keys(account.marketplace)) if definitions else {}
    return tuple(
        replace(
            figure(definition, _counts(account, definition, as_of, list_limit), at_risk_ratio),
            reported=reported_figure(definition, reported),
        )
        for definition in definitions
    )


REPORTED_WITHIN = timedelta(days=30)


def _reported(account: Account, as_of: datetime, keys: list[str]) -> dict[str, Reported]:
    """The marketplace's latest figure per metric known at as_of (window ended in the last 30
    days, reported by as_of): one query, a handful of rows per metric."""
    rows = MarketplaceMetric.objects.filter(
        account_id=account.pk,
        metric__in=keys,
        reported_at__lte=as_of,
        window_end__gt=as_of - REPORTED_WITHIN,
    ).order_by("metric", "-window_end", "-reported_at", "-pk")
    latest: dict[str, Reported] = {}
    for row in rows:
        latest.setdefault(
            row.metric,
            Reported(
                row.value,
                row.status,
                row.window_start,
                row.window_end,
                row.reported_at,
                row.source,
                numerator=row.numerator,
                denominator=row.denominator,
            ),
        )
    return latest


def _counts(account: Account, definition: MetricDefinition, as_of: datetime, list_limit: int) -> Counts:
    days, long_days = definition.window_days, definition.long_window_days or definition.window_days
    short_start = window_start(as_of, days, account.timezone)
    long_start = window_start(as_of, long_days, account.timezone)
    rows, anchor = _rows(account, definition)
    window = Window(account.pk, anchor, long_start, as_of)
    denominator, numerator, failing = _conditions(definition.measure, window)
    in_long = rows.filter(denominator, **{f"{anchor}__gte": long_start, f"{anchor}__lt": as_of})
    if long_days == days:
        found = in_long.aggregate(short_total=Count("pk"), short_numerator=Count("pk", filter=numerator))
    else:
        short = Q(**{f"{anchor}__gte": short_start})
        found = in_long.aggregate(
            short_total=Count("pk", filter=short),
            short_numerator=Count("pk", filter=short & numerator),
            long_total=Count("pk"),
            long_numerator=Count("pk", filter=numerator),
        )
    use_long = long_days != days and found["short_total"] < (definition.min_transactions or 0)
    prefix, start = ("long", long_start) if use_long else ("short", short_start)
    total, hits = found[f"{prefix}_total"], found[f"{prefix}_numerator"]
    bad = total - hits if definition.higher_is_better else hits
    orders: tuple[OrderRef, ...] = ()
    if bad and list_limit:
        in_window = _newest_first(in_long.filter(failing, **{f"{anchor}__gte": start}), definition, anchor)
        orders = tuple(
            OrderRef(order_id=pk, marketplace_order_id=number) for pk, number in in_window[:list_limit]
        )
    return Counts(
        window_start=start,
        window_end=as_of,
        window_days=long_days if use_long else days,
        numerator=hits,
        denominator=total,
        failing=bad,
        orders=orders,
    )


def _newest_first(rows: QuerySet, definition: MetricDefinition, anchor: str) -> QuerySet:
    """(order pk, marketplace order id) of failing rows, the latest anchor first."""
    shipped = definition.anchor == Anchor.SHIPPED
    fields = ("order_id", "order__marketplace_order_id") if shipped else ("pk", "marketplace_order_id")
    return rows.order_by(f"-{anchor}", "-pk").values_list(*fields)


def failing_orders(account: Account, definition: MetricDefinition, as_of: datetime) -> QuerySet:
    """Every (order pk, marketplace order id) failing the metric as of `as_of`, in the window the
    metric used (eBay's long one when it applies), latest first: the full list behind the
    plan's annex. A package metric lists an order once per failing package."""
    counts = _counts(account, definition, as_of, 0)
    rows, anchor = _rows(account, definition)
    denominator, _numerator, failing = _conditions(
        definition.measure, Window(account.pk, anchor, counts.window_start, as_of)
    )
    in_window = rows.filter(
        denominator, failing, **{f"{anchor}__gte": counts.window_start, f"{anchor}__lt": as_of}
    )
    return _newest_first(in_window, definition, anchor)


@dataclass(frozen=True, slots=True)
class Window:
    """The account and the widest window a metric reads: [start, as_of) of its anchor column."""

    account_id: int
    anchor: str
    start: datetime
    as_of: datetime

    def orders(self) -> QuerySet:
        """The account's orders whose anchor falls in the window (for semi-joins on facts)."""
        return Order.objects.filter(
            account_id=self.account_id,
            **{f"{self.anchor}__gte": self.start, f"{self.anchor}__lt": self.as_of},
        )


def _rows(account: Account, definition: MetricDefinition) -> tuple[QuerySet, str]:
    """The rows a metric counts (orders, or packages for tracking) and its anchor column."""
    if definition.anchor == Anchor.SHIPPED:
        packages = Shipment.objects.filter(order__account_id=account.pk).exclude(
            order__fulfilment_channel=FulfilmentChannel.MARKETPLACE
        )
        return packages, "shipped_at"
    return Order.objects.filter(account_id=account.pk), _ORDER_ANCHOR[definition.anchor]


def _conditions(measure: Measure, window: Window) -> tuple[Q, Q, Q]:
    """(in the denominator, in the numerator, failing) for one measure, as SQL conditions.

    Facts are matched by `pk IN (SELECT order_id ...)` with uncorrelated subqueries: PostgreSQL
    hashes each once (a hashed SubPlan) instead of probing an index per order of the window.
    Conditions comparing a fact with its order's own dates join the window's orders inside.
    """
    as_of = window.as_of
    everything = Q()
    seller_ships = ~Q(fulfilment_channel=FulfilmentChannel.MARKETPLACE)
    if measure == Measure.VALID_TRACKING:
        tracked = ~Q(tracking_number="") & ~Q(carrier="")
        return everything, tracked, ~tracked
    if measure == Measure.ORDER_DEFECT:
        defect = Q(pk__in=_negative_feedback(window)) | Q(pk__in=_defect_claims(window))
        return everything, defect, defect
    if measure == Measure.LATE_SHIPMENT:
        # The window holds ship-by dates before as_of: an order with no shipment by its ship-by
        # date is late at as_of whether it shipped later or not yet.
        in_time = _window_shipments(window).filter(shipped_at__lte=F("order__ship_by"))
        late = ~Q(pk__in=in_time.values("order_id"))
        return seller_ships & ~Q(status=OrderStatus.CANCELLED), late, late
    if measure == Measure.SELLER_CANCEL:
        cancelled = Q(pk__in=_seller_cancellations(window))
        return seller_ships, cancelled, cancelled
    if measure == Measure.ON_TIME_DELIVERY:
        delivered = _window_shipments(window).filter(delivered_at__lte=as_of)
        late = Q(pk__in=delivered.filter(delivered_at__gt=F("order__deliver_by")).values("order_id"))
        return seller_ships & Q(pk__in=delivered.values("order_id")), ~late, late
    if measure == Measure.RETURNED:
        returned = Q(pk__in=_returns(window))
        return everything, returned, returned
    if measure == Measure.CASE_WITHOUT_SELLER:
        case = Q(pk__in=_cases_for_buyer(window))
        return everything, case, case
    if measure == Measure.TRANSACTION_DEFECT:
        defect = Q(pk__in=_seller_cancellations(window)) | Q(pk__in=_cases_for_buyer(window))
        return everything, defect, defect
    raise ValueError(f"no SQL for {measure}")


def _known(field: str, as_of: datetime) -> Q:
    """A fact known at as_of: its time is at or before it (a fact without a time counts)."""
    return Q(**{f"{field}__isnull": True}) | Q(**{f"{field}__lte": as_of})


def _window_shipments(window: Window) -> QuerySet:
    return Shipment.objects.filter(order__in=window.orders())


def _negative_feedback(window: Window) -> QuerySet:
    return Feedback.objects.filter(
        _known("left_at", window.as_of), order__in=window.orders(), polarity=Polarity.NEGATIVE, removed=False
    ).values("order_id")


def _defect_claims(window: Window) -> QuerySet:
    """A-to-z claims and chargebacks that count as defects: open or decided for the buyer (not
    denied, not withdrawn)."""
    return Claim.objects.filter(
        _known("opened_at", window.as_of),
        order__in=window.orders(),
        kind__in=[ClaimKind.GUARANTEE, ClaimKind.CHARGEBACK],
        outcome__in=[ClaimOutcome.OPEN, ClaimOutcome.FOR_BUYER],
    ).values("order_id")


def _cases_for_buyer(window: Window) -> QuerySet:
    return Claim.objects.filter(
        _known("decided_at", window.as_of),
        order__in=window.orders(),
        kind=ClaimKind.GUARANTEE,
        outcome=ClaimOutcome.FOR_BUYER,
    ).values("order_id")


def _seller_cancellations(window: Window) -> QuerySet:
    """Seller cancellations before any package of the order shipped."""
    shipped_before = Shipment.objects.filter(order_id=OuterRef("order_id"), shipped_at__lt=OuterRef("at"))
    return Cancellation.objects.filter(
        _known("at", window.as_of),
        ~Q(Exists(shipped_before)),
        order__in=window.orders(),
        cancelled_by=CancelledBy.SELLER,
    ).values("order_id")


def _returns(window: Window) -> QuerySet:
    """Returns asked for by as_of (or, without a request date, received back by then)."""
    as_of = window.as_of
    asked = Q(requested_at__lte=as_of) | (Q(requested_at__isnull=True) & _known("received_at", as_of))
    return Return.objects.filter(asked, order__in=window.orders()).values("order_id")
