"""Rate clusters (issue 21, point 5): complaints per unit sold of a product and delivery complaints
per shipment of a carrier, checked against a plain computation over generated orders, shipments,
returns and feedback; the threshold and its floor; one incident as one cluster."""

from __future__ import annotations

import itertools
import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext, override_settings

from inquiries import models as m
from inquiries.complaints.rates import is_carrier_return, is_complaint_return, rate_test, rate_title
from inquiries.selectors.health.metrics import account_health
from inquiries.services import cluster_rates, complaints, notifications
from tests.complaints.helpers import QUALITY_TEXT, T0, ingest

pytestmark = pytest.mark.django_db

NOW = T0
WINDOW = timedelta(days=30)
SKUS = ["MUG-12", "KETTLE-1", "LAMP-3"]
ROUTES = [("UPS", "Ground", "FC-1"), ("UPS", "Ground", "FC-2"), ("DHL", "Express", "FC-1")]
REASONS = ["DEFECTIVE", "DAMAGED_BY_CARRIER", "UNWANTED_ITEM", "NOT_AS_DESCRIBED", "FOUND_BETTER_PRICE", ""]
_numbers = itertools.count(1)


def order(
    account: m.Account,
    *,
    at: datetime,
    lines: dict[str, int],
    route: tuple[str, str, str] | None = None,
    shipped_at: datetime | None = None,
    status: str = m.OrderStatus.SHIPPED,
) -> m.Order:
    placed = m.Order.objects.create(
        account=account, marketplace_order_id=f"111-{next(_numbers):07d}", purchased_at=at, status=status
    )
    m.OrderLine.objects.bulk_create(
        m.OrderLine(order=placed, sku=sku, quantity=quantity) for sku, quantity in lines.items()
    )
    if route is not None:
        carrier, service, warehouse = route
        m.Shipment.objects.create(
            order=placed,
            shipment_id=f"S{placed.pk}",
            carrier=carrier,
            service=service,
            warehouse=warehouse,
            shipped_at=shipped_at or at + timedelta(days=1),
        )
    return placed


def complaint(
    channel: m.Channel,
    topic: m.Topic,
    *,
    at: datetime,
    sku: str = "",
    linked: m.Order | None = None,
    text: str = "It arrived broken",
) -> m.Inquiry:
    customer = m.Customer.objects.create(account=channel.account, address=f"c{next(_numbers)}@example.com")
    return m.Inquiry.objects.create(
        account=channel.account,
        channel=channel,
        customer=customer,
        subject=text,
        sku=sku,
        topic=topic,
        topic_source="rules",
        opened_at=at,
        linked_order=linked,
        order_id=linked.marketplace_order_id if linked else "",
    )


def give_back(placed: m.Order, *, at: datetime, reason: str, sku: str = "", comment: str = "") -> m.Return:
    return m.Return.objects.create(
        order=placed,
        external_id=f"R{next(_numbers)}",
        sku=sku,
        reason_code=reason,
        buyer_comment=comment,
        requested_at=at,
    )


def rate(placed: m.Order, *, at: datetime, rating: int, removed: bool = False, text: str = "") -> m.Feedback:
    return m.Feedback.objects.create(order=placed, rating=rating, left_at=at, removed=removed, text=text)


# --- the plain computation ------------------------------------------------------------------------


@dataclass
class Plain:
    units: dict[str, int] = field(default_factory=dict)
    signals: dict[str, set[object]] = field(default_factory=dict)
    shipments: dict[tuple[str, str, str], int] = field(default_factory=dict)
    delivery: dict[tuple[str, str, str], set[object]] = field(default_factory=dict)


def in_window(at: datetime | None) -> bool:
    return at is not None and NOW - WINDOW < at <= NOW


def plain_rates(account: m.Account) -> Plain:
    """The definitions of docs/health.md, row by row in Python."""
    plain = Plain()
    orders = list(m.Order.objects.filter(account=account).prefetch_related("lines", "shipments"))
    skus_of = {o.pk: {line.sku for line in o.lines.all()} for o in orders}
    routes_of = {o.pk: {(s.carrier, s.service, s.warehouse) for s in o.shipments.all()} for o in orders}
    for o in orders:
        if in_window(o.purchased_at) and o.status != m.OrderStatus.CANCELLED:
            for line in o.lines.all():
                plain.units[line.sku] = plain.units.get(line.sku, 0) + line.quantity
        for s in o.shipments.all():
            if in_window(s.shipped_at):
                route = (s.carrier, s.service, s.warehouse)
                plain.shipments[route] = plain.shipments.get(route, 0) + 1
    for inquiry in m.Inquiry.objects.filter(account=account).select_related("topic"):
        if inquiry.topic is None or not inquiry.topic.is_complaint or not in_window(inquiry.opened_at):
            continue
        key = inquiry.linked_order_id if inquiry.linked_order_id else f"inquiry {inquiry.pk}"
        skus = {inquiry.sku} if inquiry.sku else skus_of.get(inquiry.linked_order_id or 0, set())
        for sku in skus:
            plain.signals.setdefault(sku, set()).add(key)
        if inquiry.topic.health_category == "delivery" and inquiry.linked_order_id:
            for route in routes_of[inquiry.linked_order_id]:
                plain.delivery.setdefault(route, set()).add(key)
    for r in m.Return.objects.filter(order__account=account):
        if not in_window(r.requested_at or r.received_at):
            continue
        if is_complaint_return(r.reason_code):
            for sku in {r.sku} if r.sku else skus_of[r.order_id]:
                plain.signals.setdefault(sku, set()).add(r.order_id)
        if is_carrier_return(r.reason_code):
            for route in routes_of[r.order_id]:
                plain.delivery.setdefault(route, set()).add(r.order_id)
    for f in m.Feedback.objects.filter(order__account=account):
        if f.rating is not None and f.rating <= 2 and not f.removed and in_window(f.left_at):
            for sku in skus_of[f.order_id]:
                plain.signals.setdefault(sku, set()).add(f.order_id)
    return plain


def generate(channel: m.Channel, topics: dict[str, m.Topic], *, seed: int, orders: int = 80) -> None:
    """Orders of 1-2 SKUs over 45 days (some cancelled, some around the window's edges), with
    shipments, complaints of every kind (linked or not, with a SKU or not), returns and feedback."""
    rng = random.Random(seed)
    account = channel.account
    edges = [NOW - WINDOW, NOW - WINDOW + timedelta(microseconds=1), NOW, NOW + timedelta(microseconds=1)]
    for n in range(orders):
        at = rng.choice(edges) if n % 10 == 0 else NOW - timedelta(hours=rng.uniform(0, 45 * 24))
        lines = {sku: rng.randint(1, 4) for sku in rng.sample(SKUS, rng.randint(1, 2))}
        status = m.OrderStatus.CANCELLED if rng.random() < 0.1 else m.OrderStatus.SHIPPED
        placed = order(account, at=at, lines=lines, route=rng.choice([*ROUTES, None]), status=status)
        when = NOW - timedelta(hours=rng.uniform(-24, 40 * 24))
        roll = rng.random()
        if roll < 0.35:
            topic = topics[rng.choice(["quality", "damaged", "delivery", "question", "billing"])]
            sku = rng.choice(["", "", next(iter(lines)), "OTHER-9"])
            complaint(channel, topic, at=when, sku=sku, linked=placed)
            if rng.random() < 0.3:  # a second message about the same order
                complaint(channel, topics["quality"], at=when + timedelta(hours=1), linked=placed)
        if rng.random() < 0.2:
            give_back(placed, at=when, reason=rng.choice(REASONS), sku=rng.choice(["", next(iter(lines))]))
        if rng.random() < 0.25:
            rate(placed, at=when, rating=rng.randint(1, 5), removed=rng.random() < 0.2)
    for _ in range(6):  # complaints naming a SKU without any order
        complaint(
            channel, topics["quality"], at=NOW - timedelta(days=rng.uniform(0, 40)), sku=rng.choice(SKUS)
        )


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_sku_and_carrier_rates_match_a_plain_computation(channel, topics, seed):
    generate(channel, topics, seed=seed)
    plain = plain_rates(channel.account)

    skus = cluster_rates.sku_rates(account=channel.account, now=NOW, window=WINDOW)
    routes = cluster_rates.carrier_rates(account=channel.account, now=NOW, window=WINDOW)

    assert {sku: r.numerator for sku, r in skus.items() if r.numerator} == {
        sku: len(keys) for sku, keys in plain.signals.items()
    }
    assert {sku: r.denominator for sku, r in skus.items() if r.denominator} == plain.units
    assert {route: r.numerator for route, r in routes.items() if r.numerator} == {
        route: len(keys) for route, keys in plain.delivery.items()
    }
    assert {route: r.denominator for route, r in routes.items() if r.denominator} == plain.shipments
    assert plain.units and plain.signals and plain.shipments and plain.delivery  # the data has each


def test_an_inquiry_a_return_and_feedback_about_one_order_count_once(channel, topics):
    placed = order(channel.account, at=NOW - timedelta(days=3), lines={"MUG-12": 2})
    complaint(channel, topics["quality"], at=NOW - timedelta(days=2), linked=placed)
    give_back(placed, at=NOW - timedelta(days=1), reason="DEFECTIVE", comment="handle snapped")
    rate(placed, at=NOW - timedelta(days=1), rating=1, text="broken mug")
    complaint(channel, topics["quality"], at=NOW - timedelta(days=1), sku="MUG-12")  # no order: its own

    mug = cluster_rates.sku_rates(account=channel.account, now=NOW, window=WINDOW)["MUG-12"]

    assert (mug.numerator, mug.denominator) == (2, 2)
    assert mug.signals == {"inquiries": 2, "returns": 1, "feedback": 1}


def test_a_buyers_own_return_reason_and_removed_or_good_feedback_are_not_complaints(channel, topics):
    placed = order(channel.account, at=NOW - timedelta(days=3), lines={"MUG-12": 1})
    give_back(placed, at=NOW - timedelta(days=1), reason="UNWANTED_ITEM")
    other = order(channel.account, at=NOW - timedelta(days=3), lines={"MUG-12": 1})
    rate(other, at=NOW - timedelta(days=1), rating=2, removed=True)
    third = order(channel.account, at=NOW - timedelta(days=3), lines={"MUG-12": 1})
    rate(third, at=NOW - timedelta(days=1), rating=3, text="ok")

    mug = cluster_rates.sku_rates(account=channel.account, now=NOW, window=WINDOW)["MUG-12"]

    assert (mug.numerator, mug.denominator) == (0, 3)


def test_return_reason_codes_of_each_marketplace_are_read_as_complaints_or_not():
    assert is_complaint_return("DEFECTIVE") and is_complaint_return("Item arrived damaged")
    assert is_complaint_return("Doesn't work") and is_complaint_return("QUALITY_UNACCEPTABLE")
    assert not is_complaint_return("UNWANTED_ITEM") and not is_complaint_return("Found better price")
    assert is_carrier_return("DAMAGED_BY_CARRIER") and not is_carrier_return("DEFECTIVE")


def test_the_rate_test_needs_the_threshold_the_units_and_the_complaints():
    def flagged(numerator: int, denominator: int) -> bool:
        return rate_test(numerator, denominator, threshold=0.05, min_units=50, min_complaints=3).flagged

    assert flagged(3, 60) and not flagged(2, 40)  # 5% on 60 units; too few units
    assert not flagged(1, 2)  # 50%, but one complaint on two units
    assert not flagged(2, 20) and not flagged(5, 101)  # too few complaints; under 5%
    assert rate_test(0, 0, threshold=0.05, min_units=1, min_complaints=1).rate is None  # no data
    assert rate_test(20, 100, threshold=0.05, min_units=1, min_complaints=1).severity == "critical"


def test_the_title_names_the_product_what_customers_say_and_the_rate():
    title = rate_title(
        subject="SKU MUG-12", said="broken, arrived", numerator=14, denominator=230, unit="units"
    )

    assert title == "SKU MUG-12: broken, arrived (14 of 230 units, 6.1%)"


def steady_bad_product(channel, topics, *, complaints_count: int = 14, units: int = 230) -> None:
    """A product with as many complaints every week as ever (no burst), over `units` units sold."""
    orders = [
        order(channel.account, at=NOW - timedelta(days=25 * n / units), lines={"MUG-12": 1})
        for n in range(units)
    ]
    for n in range(complaints_count):
        complaint(
            channel,
            topics["damaged"],
            at=NOW - timedelta(days=28 * n / complaints_count),
            linked=orders[n * 7],
            text="Arrived broken, in pieces",
        )


def test_a_product_that_is_always_bad_opens_a_rate_cluster_that_names_its_figures(channel, topics):
    steady_bad_product(channel, topics)

    result = complaints.sweep_clusters(now=NOW)

    cluster = m.Cluster.objects.get(kind=m.ClusterKind.SKU_RATE)
    assert result.opened == 1
    assert (cluster.sku, cluster.topic_id, cluster.state) == ("MUG-12", None, m.ClusterState.OPEN)
    assert (cluster.rate_numerator, cluster.rate_denominator) == (14, 230)
    assert (cluster.rate_threshold, cluster.rate_window_days) == (0.05, 30)
    assert cluster.member_count == 14 and cluster.said == "arrived, broken"
    assert cluster.signals == {"inquiries": 14, "returns": 0, "feedback": 0}
    opened = cluster.events.get(kind=m.ClusterEventKind.OPENED)
    assert opened.data["numerator"] == 14 and opened.data["denominator"] == 230
    assert not m.Cluster.objects.filter(kind=m.ClusterKind.BURST).exists()  # never a burst


def test_managers_are_told_the_rate_and_that_it_is_a_house_indicator(channel, topics, manager):
    steady_bad_product(channel, topics)
    complaints.sweep_clusters(now=NOW)
    opened = m.ClusterEvent.objects.get(kind=m.ClusterEventKind.OPENED)

    notifications.notify_for_cluster_events(event_ids=[opened.pk], now=NOW)

    told = m.Notification.objects.get(user=manager)
    assert told.title == f"Cluster opened: SKU MUG-12 ({channel.account.name})"
    assert told.body == (
        "SKU MUG-12: arrived, broken (14 of 230 units, 6.1%) over the last 30 days; threshold 5.00%. "
        "A house indicator (cstracker's definition), not a marketplace metric."
    )


def test_the_health_page_names_a_rate_cluster_by_its_product_and_rate_not_a_topic(channel, topics):
    steady_bad_product(channel, topics)
    complaints.sweep_clusters(now=NOW)

    open_clusters = account_health(channel.account, NOW).metric("open_clusters")

    assert open_clusters is not None
    assert [c.title for c in open_clusters.clusters] == [
        "SKU MUG-12: arrived, broken (14 of 230 units, 6.1%)"
    ]


def test_one_complaint_on_two_units_opens_nothing_and_the_floor_is_per_account(channel, topics):
    placed = order(channel.account, at=NOW - timedelta(days=2), lines={"MUG-12": 2})
    complaint(channel, topics["quality"], at=NOW - timedelta(days=1), linked=placed)
    complaints.sweep_clusters(now=NOW)
    assert not m.Cluster.objects.exists()

    steady_bad_product(channel, topics, complaints_count=4, units=100)  # 5 of 102 units: 4.9%
    complaints.sweep_clusters(now=NOW)
    assert not m.Cluster.objects.exists()

    channel.account.cluster_rate_percent = Decimal("4.5")
    channel.account.save()
    complaints.sweep_clusters(now=NOW)
    cluster = m.Cluster.objects.get()
    assert (cluster.rate_numerator, cluster.rate_denominator, cluster.rate_threshold) == (5, 102, 0.045)


@override_settings(CSTRACKER_CLUSTER_RATE_PERCENT=2)
def test_a_carrier_with_many_delivery_complaints_opens_a_cluster_of_its_route(channel, topics):
    for n in range(100):
        placed = order(
            channel.account,
            at=NOW - timedelta(days=20),
            lines={f"SKU-{n % 7}": 1},
            route=ROUTES[0] if n < 60 else ROUTES[2],
            shipped_at=NOW - timedelta(days=19),
        )
        if n < 4:
            complaint(
                channel, topics["delivery"], at=NOW - timedelta(days=5), linked=placed, text="Parcel lost"
            )
        elif n < 6:
            give_back(placed, at=NOW - timedelta(days=4), reason="DAMAGED_BY_CARRIER", comment="box crushed")

    complaints.sweep_clusters(now=NOW)

    cluster = m.Cluster.objects.get()
    assert cluster.kind == m.ClusterKind.CARRIER_RATE
    assert (cluster.carrier, cluster.service, cluster.warehouse) == ROUTES[0]
    assert (cluster.rate_numerator, cluster.rate_denominator) == (6, 60)
    assert cluster.signals == {"inquiries": 4, "returns": 2, "feedback": 0}


def test_the_rate_sweep_makes_the_same_number_of_queries_for_more_orders(channel, topics):
    def sweep_queries() -> int:
        with CaptureQueriesContext(connection) as queries:
            cluster_rates.sweep_rates(now=NOW)
        return len(queries)

    steady_bad_product(channel, topics, complaints_count=14, units=100)
    for n in range(30):
        order(channel.account, at=NOW - timedelta(days=3), lines={"LAMP-3": 2}, route=ROUTES[n % 3])
    sweep_queries()  # opens the product's cluster
    few = sweep_queries()
    for n in range(90):
        placed = order(channel.account, at=NOW - timedelta(days=3), lines={"LAMP-3": 2}, route=ROUTES[n % 3])
        if n % 30 == 0:
            complaint(channel, topics["question"], at=NOW - timedelta(days=2), linked=placed)
            complaint(channel, topics["quality"], at=NOW - timedelta(days=2), linked=placed)
            give_back(placed, at=NOW - timedelta(days=1), reason="DEFECTIVE")
            rate(placed, at=NOW - timedelta(days=1), rating=1)

    assert sweep_queries() == few


SNAPPED = QUALITY_TEXT


def same_words_burst(channel: m.Channel, count: int = 6) -> None:
    for n in range(count):
        ingest(
            channel,
            at=T0 + timedelta(hours=2 * n),
            sku="KETTLE-1",
            customer=f"b{n}@example.com",
            body=SNAPPED,
        )


def test_a_burst_and_a_text_cluster_sharing_complaints_are_one_incident(channel, topics, manager):
    # Six complaints about one product in half a day, all in the same words: a burst and a text cluster.
    same_words_burst(channel)
    kinds = set(m.Cluster.objects.values_list("kind", flat=True))
    assert kinds == {m.ClusterKind.BURST, m.ClusterKind.NEAR_DUPLICATE}

    # Merged as the complaint that put them both on one complaint arrived; the sweep keeps it so.
    product = m.Cluster.objects.get(kind=m.ClusterKind.BURST)
    assert m.Cluster.objects.get(kind=m.ClusterKind.NEAR_DUPLICATE).merged_into == product
    complaints.sweep_clusters(now=T0 + timedelta(days=1))

    text = m.Cluster.objects.get(kind=m.ClusterKind.NEAR_DUPLICATE)
    assert text.merged_into == product
    assert text.events.filter(kind=m.ClusterEventKind.MERGED).exists()
    assert list(m.Cluster.objects.filter(merged_into__isnull=True)) == [product]

    complaints.resolve(cluster=product, actor=manager, note="supplier changed")

    text.refresh_from_db()
    assert text.state == m.ClusterState.RESOLVED


def test_a_later_complaint_still_joins_the_merged_text_cluster(channel, topics):
    same_words_burst(channel)
    complaints.sweep_clusters(now=T0 + timedelta(days=1))
    text = m.Cluster.objects.get(kind=m.ClusterKind.NEAR_DUPLICATE)

    ingest(
        channel,
        at=T0 + timedelta(days=1, hours=1),
        customer="late@example.com",
        body=SNAPPED,
    )

    text.refresh_from_db()
    assert text.member_count == 7 and text.merged_into is not None
