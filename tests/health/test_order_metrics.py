"""The marketplace metrics computed from orders, each checked against a plain computation written
here from the published definitions (docs/health.md) over generated orders, at window edges and
across a time-zone edge."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from inquiries import models as m
from inquiries.health.marketplace_metrics import (
    DEFINITIONS,
    MarketplaceFigure,
    Status,
    definitions_for,
    judge,
    reported_text,
)
from inquiries.marketplaces import Population
from inquiries.selectors.health.order_metrics import account_health_with_orders, marketplace_figures
from tests.health.conftest import amazon_odr as odr

NOW = datetime(2026, 3, 10, 19, 30, tzinfo=UTC)
ZONE = "America/Los_Angeles"


@dataclass
class Plain:
    """An order as the plain computation sees it."""

    purchased_at: datetime
    ship_by: datetime
    deliver_by: datetime
    channel: str
    status: str
    shipments: list[tuple[datetime | None, datetime | None, str, str]] = field(default_factory=list)
    feedback: tuple[int, bool, datetime] | None = None
    claims: list[tuple[str, str, datetime, datetime | None]] = field(default_factory=list)
    cancellations: list[tuple[str, datetime]] = field(default_factory=list)
    returns: list[datetime] = field(default_factory=list)
    pk: int = 0


def generate(account: m.Account, count: int, seed: int) -> list[Plain]:
    """Orders spread over 400 days before NOW, with random shipments, feedback, claims,
    cancellations and returns; stored in the database and returned as plain values."""
    rnd = random.Random(seed)
    plains: list[Plain] = []
    for n in range(count):
        purchased = NOW - timedelta(minutes=rnd.randrange(0, 400 * 24 * 60))
        ship_by = purchased + timedelta(hours=rnd.choice([24, 48, 72]))
        deliver_by = ship_by + timedelta(days=rnd.choice([2, 3, 5]))
        plain = Plain(
            purchased_at=purchased,
            ship_by=ship_by,
            deliver_by=deliver_by,
            channel=rnd.choice(["merchant", "merchant", "marketplace", ""]),
            status=rnd.choice(["shipped"] * 8 + ["cancelled", "unshipped"]),
        )
        for _ in range(rnd.choice([0, 1, 1, 1, 2])):
            shipped = ship_by + timedelta(hours=rnd.randrange(-40, 30))
            delivered = shipped + timedelta(days=rnd.randrange(1, 8)) if rnd.random() < 0.8 else None
            plain.shipments.append(
                (shipped, delivered, rnd.choice(["1Z999", "1Z999", ""]), rnd.choice(["UPS", "UPS", ""]))
            )
        if rnd.random() < 0.3:
            plain.feedback = (
                rnd.randint(1, 5),
                rnd.random() < 0.2,
                purchased + timedelta(days=rnd.randrange(1, 30)),
            )
        if rnd.random() < 0.1:
            plain.claims.append(
                (
                    rnd.choice(["guarantee", "chargeback"]),
                    rnd.choice(["", "for_buyer", "for_seller", "withdrawn"]),
                    purchased + timedelta(days=rnd.randrange(1, 40)),
                    purchased + timedelta(days=rnd.randrange(40, 60)) if rnd.random() < 0.5 else None,
                )
            )
        if rnd.random() < 0.08:
            plain.cancellations.append(
                (rnd.choice(["seller", "buyer", "seller"]), purchased + timedelta(hours=rnd.randrange(1, 90)))
            )
        if rnd.random() < 0.1:
            plain.returns.append(purchased + timedelta(days=rnd.randrange(3, 30)))
        order = m.Order.objects.create(
            account=account,
            marketplace_order_id=f"111-{seed:03d}-{n:07d}",
            purchased_at=plain.purchased_at,
            ship_by=plain.ship_by,
            deliver_by=plain.deliver_by,
            fulfilment_channel=plain.channel,
            status=plain.status,
        )
        plain.pk = order.pk
        store_facts(order, plain)
        plains.append(plain)
    return plains


def store_facts(order: m.Order, plain: Plain) -> None:
    m.Shipment.objects.bulk_create(
        m.Shipment(
            order=order, shipment_id=f"S{i}", shipped_at=s, delivered_at=d, tracking_number=t, carrier=c
        )
        for i, (s, d, t, c) in enumerate(plain.shipments)
    )
    if plain.feedback:
        rating, removed, left = plain.feedback
        m.Feedback.objects.create(order=order, rating=rating, removed=removed, left_at=left)
    for kind, outcome, opened, decided in plain.claims:
        m.Claim.objects.create(order=order, kind=kind, outcome=outcome, opened_at=opened, decided_at=decided)
    for by, at in plain.cancellations:
        m.Cancellation.objects.create(order=order, cancelled_by=by, at=at)
    for i, requested in enumerate(plain.returns):
        m.Return.objects.create(order=order, external_id=f"R{i}", requested_at=requested)


# --- the plain computation, from the definitions in words ----------------------------------


def local_start(as_of: datetime, days: int) -> datetime:
    zone = ZoneInfo(ZONE)
    first: date = as_of.astimezone(zone).date() - timedelta(days=days - 1)
    return datetime.combine(first, time(0), zone)


def seller_cancelled(o: Plain, as_of: datetime) -> bool:
    return any(
        by == "seller" and at <= as_of and not any(s is not None and s < at for s, *_ in o.shipments)
        for by, at in o.cancellations
    )


def case_for_buyer(o: Plain, as_of: datetime) -> bool:
    return any(
        k == "guarantee" and out == "for_buyer" and (dec is None or dec <= as_of)
        for k, out, _, dec in o.claims
    )


def plain_figure(key: str, orders: list[Plain], as_of: datetime) -> tuple[int, int, int]:
    """(window days used, numerator, denominator) for one metric key."""
    definition = next(d for d in DEFINITIONS if d.key == key)
    measure = definition.measure.value

    def inside(moment: datetime, days: int) -> bool:
        return local_start(as_of, days) <= moment < as_of

    def counts(days: int) -> tuple[int, int]:
        num = den = 0
        if measure == "valid_tracking":
            for o in orders:
                if o.channel == "marketplace":
                    continue
                for shipped, _, tracking, carrier in o.shipments:
                    if shipped is not None and inside(shipped, days):
                        den += 1
                        num += bool(tracking and carrier)
            return num, den
        for o in orders:
            seller = o.channel != "marketplace"
            if measure in ("order_defect_seller", "order_defect_marketplace"):
                # Amazon's ODR per fulfilment channel: an unknown channel is the seller's.
                fulfilled_by_amazon = o.channel == "marketplace"
                if not inside(o.purchased_at, days) or fulfilled_by_amazon != (
                    measure == "order_defect_marketplace"
                ):
                    continue
                den += 1
                negative = o.feedback and o.feedback[0] <= 2 and not o.feedback[1] and o.feedback[2] <= as_of
                claim = any(out in ("", "for_buyer") and opened <= as_of for _, out, opened, _ in o.claims)
                num += bool(negative or claim)
            elif measure == "late_shipment":
                if seller and o.status != "cancelled" and inside(o.ship_by, days):
                    den += 1
                    num += not any(s is not None and s <= o.ship_by for s, *_ in o.shipments)
            elif measure == "seller_cancel":
                if seller and inside(o.purchased_at, days):
                    den += 1
                    num += seller_cancelled(o, as_of)
            elif measure == "on_time_delivery":
                delivered = [d for _, d, *_ in o.shipments if d is not None and d <= as_of]
                if seller and delivered and inside(o.deliver_by, days):
                    den += 1
                    num += all(d <= o.deliver_by for d in delivered)
            elif measure == "returned":
                if inside(o.purchased_at, days):
                    den += 1
                    num += any(r <= as_of for r in o.returns)
            elif measure == "case_without_seller":
                if inside(o.purchased_at, days):
                    den += 1
                    num += case_for_buyer(o, as_of)
            elif measure == "transaction_defect" and inside(o.purchased_at, days):
                den += 1
                num += seller_cancelled(o, as_of) or case_for_buyer(o, as_of)
        return num, den

    num, den = counts(definition.window_days)
    if definition.min_transactions and den < definition.min_transactions:
        assert definition.long_window_days
        return definition.long_window_days, *counts(definition.long_window_days)
    return definition.window_days, num, den


# --- tests -----------------------------------------------------------------------------------


@pytest.mark.parametrize("marketplace", ["amazon", "walmart", "ebay"])
def test_each_metric_equals_the_plain_computation_over_generated_orders(
    account: m.Account, marketplace: str
) -> None:
    account.marketplace, account.timezone = marketplace, ZONE
    account.save()
    orders = generate(account, 260, seed=len(marketplace))
    zone = ZoneInfo(ZONE)
    instants = [
        NOW,
        # Exactly a local midnight (a window edge), and one microsecond before it.
        datetime(2026, 3, 1, 0, 0, tzinfo=zone),
        datetime(2026, 3, 1, 0, 0, tzinfo=zone) - timedelta(microseconds=1),
        # The first local day of PDT (23 hours long).
        datetime(2026, 3, 8, 12, 0, tzinfo=zone),
        # An order's own ship-by date and purchase date as the as-of instant (edges of their windows).
        orders[0].ship_by,
        orders[1].purchased_at,
    ]
    for as_of in instants:
        figures = marketplace_figures(account, as_of, at_risk_ratio=0.8)
        assert [f.key for f in figures] == [d.key for d in definitions_for(marketplace)]
        for found in figures:
            days, numerator, denominator = plain_figure(found.key, orders, as_of)
            counts = found.counts
            assert (found.key, counts.window_days, counts.numerator, counts.denominator) == (
                found.key,
                days,
                numerator,
                denominator,
            ), as_of
            assert counts.window_start == local_start(as_of, days)
            failing = denominator - numerator if found.definition.higher_is_better else numerator
            assert counts.failing == failing
            assert len(counts.orders) == min(failing, 20)
            assert found.value == (numerator / denominator if denominator else None)
            assert found.status == judge(found.value, found.definition, 0.8)
    if marketplace == "amazon":
        # Both of Amazon's ODRs, seller-fulfilled and Fulfilled by Amazon, had defects to count.
        for key in ("order_defect_rate", "order_defect_rate_afn"):
            counted = [plain_figure(key, orders, as_of)[1:] for as_of in instants]
            assert any(0 < numerator < denominator for numerator, denominator in counted), key


def test_the_window_starts_at_local_midnight_of_the_accounts_zone(account: m.Account) -> None:
    """Sixty local days: an order at 23:59 Los Angeles time on the day before the window's first
    day (07:59 UTC the next day) is out; one at 00:00 local on its first day is in."""
    account.marketplace, account.timezone = "amazon", ZONE
    account.save()
    zone = ZoneInfo(ZONE)
    as_of = datetime(2026, 3, 10, 12, 0, tzinfo=zone)
    first_day = datetime(2026, 1, 10, 0, 0, tzinfo=zone)  # 60 local days up to March 10
    before = m.Order.objects.create(
        account=account, marketplace_order_id="A", purchased_at=first_day - timedelta(minutes=1)
    )
    inside = m.Order.objects.create(account=account, marketplace_order_id="B", purchased_at=first_day)
    m.Order.objects.create(account=account, marketplace_order_id="C", purchased_at=as_of)  # the end is open
    for order in (before, inside):
        m.Feedback.objects.create(order=order, rating=1, left_at=as_of - timedelta(days=1))
    (odr,) = [
        f for f in marketplace_figures(account, as_of, at_risk_ratio=0.8) if f.key == "order_defect_rate"
    ]
    assert (odr.counts.numerator, odr.counts.denominator) == (1, 1)
    assert [o.marketplace_order_id for o in odr.counts.orders] == ["B"]
    assert odr.counts.window_start == first_day
    assert odr.status == Status.CRITICAL

    # The same instants in UTC's days would move the edge by eight hours: order A would be in.
    account.timezone = "UTC"
    account.save()
    (odr,) = [
        f for f in marketplace_figures(account, as_of, at_risk_ratio=0.8) if f.key == "order_defect_rate"
    ]
    assert (odr.counts.numerator, odr.counts.denominator) == (2, 2)


def test_a_metric_without_orders_has_no_data_not_healthy(account: m.Account) -> None:
    account.marketplace = "amazon"
    account.save()
    figures = marketplace_figures(account, NOW, at_risk_ratio=0.8)
    assert figures and all(f.status == Status.NO_DATA and f.value is None for f in figures)


def test_higher_is_better_rates_are_judged_on_what_they_miss() -> None:
    (vtr,) = [d for d in DEFINITIONS if d.key == "valid_tracking_rate"]  # above 95%
    assert judge(0.99, vtr, 0.8) == Status.HEALTHY
    assert judge(0.96, vtr, 0.8) == Status.AT_RISK  # 4% missing of the 5% allowed
    assert judge(0.95, vtr, 0.8) == Status.AT_RISK
    assert judge(0.9499, vtr, 0.8) == Status.CRITICAL


def test_the_figures_take_a_fixed_number_of_queries(
    account: m.Account, django_assert_max_num_queries
) -> None:
    """One aggregate per metric, plus one list of failing orders when some fail, plus the
    marketplace's imported figures: never a query per order."""
    account.marketplace, account.timezone = "amazon", ZONE
    account.save()
    bound = 2 * len(definitions_for("amazon")) + 1
    generate(account, 40, seed=7)
    with django_assert_max_num_queries(bound):
        marketplace_figures(account, NOW, at_risk_ratio=0.8)
    generate(account, 200, seed=8)
    with django_assert_max_num_queries(bound):
        marketplace_figures(account, NOW, at_risk_ratio=0.8)


REPORTED = {"reported_at": NOW - timedelta(days=1), "source": "GET_V2_SELLER_PERFORMANCE_REPORT"}


def amazon_odr(
    account: m.Account, channel: str, defects: int, orders: int, *, ended: datetime | None = None
) -> None:
    odr(
        account,
        channel,
        defects,
        orders,
        ended=ended or NOW - timedelta(days=2),
        reported=NOW - timedelta(days=1),
    )


def orders_with_defects(account: m.Account, channel: str, orders: int, defects: int, prefix: str) -> None:
    for n in range(orders):
        order = m.Order.objects.create(
            account=account,
            marketplace_order_id=f"{prefix}-{n:07d}",
            purchased_at=NOW - timedelta(days=3),
            fulfilment_channel=channel,
        )
        if n < defects:
            m.Feedback.objects.create(order=order, rating=1, left_at=NOW - timedelta(days=1))


def test_the_marketplaces_imported_figure_is_shown_beside_ours_and_a_divergence_flagged(
    account: m.Account,
) -> None:
    account.marketplace, account.timezone = "amazon", ZONE
    account.save()
    orders_with_defects(account, "", 100, 2, "111")  # no channel stated: the seller's
    amazon_odr(account, "mfn", 2, 105)
    amazon_odr(account, "afn", 0, 0)
    m.MarketplaceMetric.objects.create(
        account=account,
        metric="late_shipment_rate",
        value=0.0,
        window_start=NOW - timedelta(days=62),
        window_end=NOW - timedelta(days=2),
        **REPORTED,
    )
    m.MarketplaceMetric.objects.create(  # reported after as_of: not known yet
        account=account,
        metric="valid_tracking_rate",
        value=0.5,
        window_start=NOW,
        window_end=NOW,
        reported_at=NOW + timedelta(hours=1),
        source="x",
    )
    figures = {f.key: f for f in marketplace_figures(account, NOW, at_risk_ratio=0.8)}

    odr, late = figures["order_defect_rate"], figures["late_shipment_rate"]
    assert odr.reported is not None and late.reported is not None
    assert (odr.value, round(odr.reported.value or 0, 4)) == (0.02, 0.019)
    assert not odr.diverges  # 0.1 point apart, within a quarter of the 1% target
    assert late.reported.value == 0.0
    assert not late.diverges  # ours has no data: nothing to compare
    assert figures["valid_tracking_rate"].reported is None

    m.MarketplaceMetric.objects.filter(metric="order_defect_rate").update(
        value=0.005, numerator=1, denominator=200
    )
    odr = {f.key: f for f in marketplace_figures(account, NOW, at_risk_ratio=0.8)}["order_defect_rate"]
    assert odr.diverges and odr.as_dict()["diverges"] is True


def both_channels(
    account: m.Account,
    *,
    seller: tuple[int, int],
    fba: tuple[int, int],
    reported: tuple[tuple[int, int], tuple[int, int]],
) -> dict[str, MarketplaceFigure]:
    """An Amazon account with (orders, defects) seller-fulfilled and Fulfilled by Amazon, and
    Amazon's own figures per channel as (defects, orders): the figures as of NOW, by key."""
    account.marketplace, account.timezone = "amazon", ZONE
    account.save()
    orders_with_defects(account, "merchant", *seller, "MFN")
    orders_with_defects(account, "marketplace", *fba, "AFN")
    amazon_odr(account, "mfn", *reported[0])
    amazon_odr(account, "afn", *reported[1])
    return {f.key: f for f in marketplace_figures(account, NOW, at_risk_ratio=0.8)}


def test_amazons_odr_per_channel_stands_beside_amazons_figure_for_the_same_channel(
    account: m.Account,
) -> None:
    """Amazon reports its ODR for seller-fulfilled and Amazon-fulfilled orders apart, and so does
    cstracker: each of ours stands beside Amazon's figure over the same orders."""
    figures = both_channels(account, seller=(50, 3), fba=(150, 0), reported=((3, 50), (0, 150)))
    seller, fba = figures["order_defect_rate"], figures["order_defect_rate_afn"]

    assert (seller.counts.numerator, seller.counts.denominator, seller.value) == (3, 50, 0.06)
    assert (fba.counts.numerator, fba.counts.denominator, fba.value) == (0, 150, 0.0)
    assert (seller.status, fba.status) == (Status.CRITICAL, Status.HEALTHY)
    assert [o.marketplace_order_id for o in seller.counts.orders] == [
        "MFN-0000002",
        "MFN-0000001",
        "MFN-0000000",
    ]
    assert fba.counts.orders == ()
    assert seller.definition.population == Population.SELLER
    assert fba.definition.population == Population.MARKETPLACE
    assert seller.reported is not None and fba.reported is not None
    assert (seller.reported.value, seller.reported.numerator, seller.reported.denominator) == (0.06, 3, 50)
    assert (fba.reported.value, fba.reported.numerator, fba.reported.denominator) == (0.0, 0, 150)
    assert not seller.diverges and not fba.diverges
    assert (
        reported_text(seller.reported, seller.definition.population) == "6% of seller-fulfilled orders (GOOD)"
    )
    assert reported_text(fba.reported, fba.definition.population) == (
        "0% of orders fulfilled by the marketplace (GOOD)"
    )
    shown = fba.as_dict()
    assert (shown["label"], shown["population"], shown["diverges"]) == (
        "Order Defect Rate (Fulfilled by Amazon)",
        "marketplace",
        False,
    )
    assert shown["reported"]["denominator"] == 150


def test_each_channels_odr_is_compared_with_amazons_figure_for_that_channel_alone(account: m.Account) -> None:
    """Amazon's FBA figure of 0.5% beside our 0% of the same orders differs by more than the
    0.25-point tolerance; the seller-fulfilled pair agrees: only the FBA ODR is flagged."""
    figures = both_channels(account, seller=(100, 1), fba=(200, 0), reported=((1, 100), (1, 200)))

    assert not figures["order_defect_rate"].diverges
    assert figures["order_defect_rate_afn"].diverges
    assert figures["order_defect_rate_afn"].as_dict()["diverges"] is True


def test_a_seller_fulfilled_odr_above_one_percent_turns_the_status_red_among_clean_fba_orders(
    account: m.Account,
) -> None:
    """One defect in 20 seller-fulfilled orders (5%) among 980 clean FBA orders: over every order
    the ODR would be 0.1%, healthy; Amazon judges the seller-fulfilled 5% alone, and so do we."""
    account.marketplace, account.timezone = "amazon", ZONE
    account.save()
    orders_with_defects(account, "merchant", 20, 1, "MFN")
    orders_with_defects(account, "marketplace", 980, 0, "AFN")

    health = account_health_with_orders(account, NOW)

    figures = {f.key: f for f in health.figures}
    assert (figures["order_defect_rate"].value, figures["order_defect_rate"].status) == (
        0.05,
        Status.CRITICAL,
    )
    assert (figures["order_defect_rate_afn"].value, figures["order_defect_rate_afn"].status) == (
        0.0,
        Status.HEALTHY,
    )
    assert health.status == Status.CRITICAL


def test_an_account_without_fba_orders_has_no_fba_odr_not_a_healthy_one(account: m.Account) -> None:
    account.marketplace, account.timezone = "amazon", ZONE
    account.save()
    orders_with_defects(account, "merchant", 200, 1, "MFN")

    figures = {f.key: f for f in marketplace_figures(account, NOW, at_risk_ratio=0.8)}

    assert (figures["order_defect_rate"].value, figures["order_defect_rate"].status) == (
        0.005,
        Status.HEALTHY,
    )
    fba = figures["order_defect_rate_afn"]
    assert (fba.counts.denominator, fba.value, fba.status) == (0, None, Status.NO_DATA)
