"""The marketplace's own metrics of an account, counted from its orders with aggregate SQL.

Read from the daily rollup where it holds the figure exactly (`order_rollup.rolled_up`), else
one aggregate query per metric (numerator and denominator, both of eBay's windows at once);
and, when some orders fail it, one query for the first of them: a fixed number of queries
whatever the number of orders, and no Python loop over orders. The definitions (what each
metric counts, its anchor date, window and target) are in
`inquiries.health.marketplace_metrics`; `order_conditions` turns them into SQL conditions.

Windows are whole local days in the account's time zone: a window of N days starts at the
local midnight N - 1 days before the as-of day and ends at the as-of instant. Facts are as
known at that instant where their time is stored (shipments, deliveries, cancellations,
returns, feedback, claims); an order's status and a claim's outcome are as they are now.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from django.db.models import Count, Q, QuerySet

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
    reported_keys,
)
from inquiries.health.scoring import HealthReport, Metric, Rules, score
from inquiries.marketplaces import Anchor, MetricDefinition
from inquiries.models import Account, MarketplaceMetric
from inquiries.selectors.health.metrics import health_facts, planner_settings, rules_for
from inquiries.selectors.health.order_conditions import Window, conditions, rows_of, window_start
from inquiries.selectors.health.order_rollup import rolled_up

FAILING_LIST = 20
ACCOUNT_HEALTH_RATING = "account_health_rating"  # MarketplaceMetric.metric of Amazon's rating


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
    each with the marketplace's own figure under its key when one was imported (read here unless
    given)."""
    definitions = definitions_for(account.marketplace)
    if reported is None:
        reported = _reported(account, as_of, reported_keys(account.marketplace)) if definitions else {}
    rolled = rolled_up(account, definitions, as_of, list_limit)
    figures = []
    for definition in definitions:
        found = rolled.get(definition.key)
        counts = found.counts if found else _counts(account, definition, as_of)
        if counts.failing and list_limit:
            # The rollup knows the latest days that hold list_limit failing rows: the list reads
            # those days only, probing each order's facts from the latest on.
            start, end = (found.list_start, found.list_end) if found else (counts.window_start, as_of)
            listed = _failing_rows(account, definition, start, as_of, end=end, per_row=True)[:list_limit]
            counts = replace(counts, orders=tuple(OrderRef(pk, number) for pk, number in listed))
        figures.append(
            replace(figure(definition, counts, at_risk_ratio), reported=reported.get(definition.key))
        )
    return tuple(figures)


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


def _counts(account: Account, definition: MetricDefinition, as_of: datetime) -> Counts:
    """A metric's counts as of `as_of`, counted live over its window's orders: one aggregate."""
    days, long_days = definition.window_days, definition.long_window_days or definition.window_days
    short_start = window_start(as_of, days, account.timezone)
    long_start = window_start(as_of, long_days, account.timezone)
    rows, anchor = rows_of(account.pk, definition.anchor)
    window = Window(account.pk, anchor, long_start, as_of)
    denominator, numerator, _failing = conditions(definition.measure, window)
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
    return Counts(
        window_start=start,
        window_end=as_of,
        window_days=long_days if use_long else days,
        numerator=hits,
        denominator=total,
        failing=total - hits if definition.higher_is_better else hits,
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
    return _failing_rows(account, definition, _counts(account, definition, as_of).window_start, as_of)


def _failing_rows(
    account: Account,
    definition: MetricDefinition,
    start: datetime,
    as_of: datetime,
    *,
    end: datetime | None = None,
    per_row: bool = False,
) -> QuerySet:
    """(order pk, marketplace order id) of the rows failing the metric as of `as_of` with their
    anchor in [start, end) (end: as_of), latest first. `per_row` for the first few (`Window`)."""
    rows, anchor = rows_of(account.pk, definition.anchor)
    denominator, _numerator, failing = conditions(
        definition.measure, Window(account.pk, anchor, start, as_of, per_row=per_row)
    )
    in_window = rows.filter(denominator, failing, **{f"{anchor}__gte": start, f"{anchor}__lt": end or as_of})
    return _newest_first(in_window, definition, anchor)
