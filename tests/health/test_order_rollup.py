"""The daily rollup of the order metrics gives exactly the live computation's figures: checked
against the plain computation of `test_order_metrics` over generated orders in a non-UTC zone,
at window edges, after a late fact and a moved ship-by date imported through the one write path,
and at past instants (where the metrics whose days hold later facts are counted live)."""

from __future__ import annotations

import importlib
import random
from datetime import date, datetime, timedelta
from io import StringIO
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.apps import apps as django_apps
from django.core.management import call_command

from inquiries import models as m
from inquiries import tasks
from inquiries.health.marketplace_metrics import definitions_for
from inquiries.ingestion.order_reports import FORMATS, FeedbackFacts, OrderFacts, Record
from inquiries.selectors.health.order_metrics import marketplace_figures
from inquiries.selectors.health.order_rollup import rolled_up
from inquiries.services import order_rollup
from inquiries.services.order_deletion import delete_orders
from inquiries.services.orders import import_orders
from tests.health.test_order_metrics import NOW, ZONE, Plain, generate, local_start, plain_figure, store_facts


@pytest.fixture(autouse=True)
def _at_now():
    """The builds count back from today: today is NOW, the generated orders' present."""
    with time_machine.travel(NOW, tick=False):
        yield


def clamp(account: m.Account, plains: list[Plain], until: datetime) -> None:
    """Every fact known by `until` (a delivery after it not yet made), in the plain orders and in
    the database: as of `until` the rollup then serves every metric."""
    rnd = random.Random(3)

    def at(moment: datetime) -> datetime:
        return moment if moment <= until else until - timedelta(minutes=rnd.randrange(1, 3000))

    for plain in plains:
        plain.shipments = [
            (s, d if d is None or d <= until else None, t, c) for s, d, t, c in plain.shipments
        ]
        if plain.feedback:
            plain.feedback = (plain.feedback[0], plain.feedback[1], at(plain.feedback[2]))
        plain.claims = [(k, o, at(op), None if dec is None else at(dec)) for k, o, op, dec in plain.claims]
        plain.cancellations = [(by, at(when)) for by, when in plain.cancellations]
        plain.returns = [at(r) for r in plain.returns]
    orders = {o.pk: o for o in m.Order.objects.filter(account=account)}
    for model in (m.Shipment, m.Feedback, m.Claim, m.Cancellation, m.Return):
        model.objects.filter(order__account=account).delete()
    for plain in plains:
        store_facts(orders[plain.pk], plain)


def assert_plain(account: m.Account, plains: list[Plain], as_of: datetime) -> None:
    """Each figure's window, counts and listed orders are the plain computation's."""
    found, expected = [], []
    for figure in marketplace_figures(account, as_of, at_risk_ratio=0.8):
        c = figure.counts
        found.append(
            (figure.key, c.window_start, c.window_days, c.numerator, c.denominator, c.failing, len(c.orders))
        )
        days, num, den = plain_figure(figure.key, plains, as_of)
        bad = den - num if figure.definition.higher_is_better else num
        expected.append((figure.key, local_start(as_of, days), days, num, den, bad, min(bad, 20)))
    assert found == expected, as_of


def live_lists(account: m.Account, as_of: datetime) -> dict[str, list[str]]:
    """The failing orders listed per metric, counted live (the rollup's state taken away)."""
    state = m.OrderRollupState.objects.get(pk=account.pk)
    timezone = state.timezone
    m.OrderRollupState.objects.filter(pk=account.pk).update(timezone="")
    try:
        figures = marketplace_figures(account, as_of, at_risk_ratio=0.8)
    finally:
        m.OrderRollupState.objects.filter(pk=account.pk).update(timezone=timezone)
    return {f.key: [o.marketplace_order_id for o in f.counts.orders] for f in figures}


def rollup_rows(account: m.Account) -> list[tuple[object, ...]]:
    return list(
        m.OrderMetricDay.objects.filter(account=account)
        .order_by("measure", "anchor", "day")
        .values_list("measure", "anchor", "day", "numerator", "denominator", "anchor_until", "facts_until")
    )


@pytest.mark.parametrize("marketplace", ["amazon", "walmart", "ebay"])
def test_the_rollup_gives_the_live_figures_at_edges_after_late_facts_and_in_the_past(
    account: m.Account, marketplace: str
) -> None:
    account.marketplace, account.timezone = marketplace, ZONE
    account.save()
    plains = generate(account, 260, seed=len(marketplace))
    clamp(account, plains, NOW)
    call_command("rebuild_order_rollup", account=[account.pk], stdout=StringIO())
    definitions = definitions_for(marketplace)
    zone = ZoneInfo(ZONE)
    midnight = datetime(2026, 3, 11, 0, 0, tzinfo=zone)  # the next local midnight after NOW
    for as_of in (NOW, midnight, midnight - timedelta(microseconds=1), NOW + timedelta(days=3)):
        # Every fact is known by then: the rollup serves every metric.
        assert set(rolled_up(account, definitions, as_of, 20)) == {d.key for d in definitions}
        assert_plain(account, plains, as_of)
        rolled = {
            f.key: [o.marketplace_order_id for o in f.counts.orders]
            for f in marketplace_figures(account, as_of, at_risk_ratio=0.8)
        }
        assert rolled == live_lists(account, as_of)
    # Past instants (a window edge at local midnight, the first day of PDT): days holding facts
    # known later are counted live; the figures stay the plain ones.
    for as_of in (
        datetime(2026, 3, 1, 0, 0, tzinfo=zone),
        datetime(2026, 3, 1, 0, 0, tzinfo=zone) - timedelta(microseconds=1),
        datetime(2026, 3, 8, 12, 0, tzinfo=zone),
    ):
        assert_plain(account, plains, as_of)

    # A late fact through the import: 1-star feedback today on the oldest order of the window, one
    # seller-fulfilled and one Fulfilled by Amazon (each channel's ODR is its own measure).
    if marketplace == "amazon":
        measures = {row[0] for row in rollup_rows(account)}
        assert {"order_defect_seller", "order_defect_marketplace"} <= measures
        before = {f.key: f.counts.numerator for f in marketplace_figures(account, NOW, at_risk_ratio=0.8)}
        for fba in (False, True):
            old = min(
                (
                    p
                    for p in plains
                    if p.feedback is None
                    and (p.channel == "marketplace") == fba
                    and NOW - timedelta(days=58) < p.purchased_at < NOW - timedelta(days=10)
                ),
                key=lambda p: p.purchased_at,
            )
            number = m.Order.objects.get(pk=old.pk).marketplace_order_id
            left = NOW - timedelta(hours=1)
            record = Record(
                OrderFacts(number), feedback=FeedbackFacts(rating=1, polarity="negative", left_at=left)
            )
            import_orders(account=account, fmt=FORMATS["amazon-feedback"], rows=[(2, record)], now=NOW)
            old.feedback = (1, False, left)
        assert set(rolled_up(account, definitions, NOW, 20)) == {d.key for d in definitions}
        assert_plain(account, plains, NOW)
        after = {f.key: f.counts.numerator for f in marketplace_figures(account, NOW, at_risk_ratio=0.8)}
        assert after["order_defect_rate"] == before["order_defect_rate"] + 1
        assert after["order_defect_rate_afn"] == before["order_defect_rate_afn"] + 1
    # A later orders report moves an order's date to another day (Amazon's orders report its purchase
    # date; Walmart's and eBay's the ship-by date): both days are counted again.
    field = "purchased_at" if marketplace == "amazon" else "ship_by"
    moved = next(p for p in plains if NOW - timedelta(days=8) < getattr(p, field) < NOW - timedelta(days=2))
    order = m.Order.objects.get(pk=moved.pk)
    facts = OrderFacts(
        order.marketplace_order_id,
        purchased_at=order.purchased_at,
        ship_by=order.ship_by,
        deliver_by=order.deliver_by,
        status=order.status,
        fulfilment_channel=order.fulfilment_channel,
    )
    setattr(facts, field, getattr(order, field) - timedelta(days=2))
    fmt = FORMATS["amazon-all-orders" if marketplace == "amazon" else f"{marketplace}-orders"]
    import_orders(account=account, fmt=fmt, rows=[(2, Record(facts))], now=NOW)
    order.refresh_from_db()
    assert getattr(order, field) == getattr(moved, field) - timedelta(days=2)
    setattr(moved, field, getattr(order, field))
    assert set(rolled_up(account, definitions, NOW, 20)) == {d.key for d in definitions}
    assert_plain(account, plains, NOW)
    # What the import kept current is what a rebuild counts (from the build's first day: the
    # import also refreshes older days a late fact touches, which no window reads).
    first_day = m.OrderRollupState.objects.get(pk=account.pk).first_day
    assert first_day is not None
    kept = [row for row in rollup_rows(account) if isinstance(row[2], date) and row[2] >= first_day]
    order_rollup.rebuild(account)
    assert rollup_rows(account) == kept


def test_a_rollup_built_for_another_zone_is_not_read_until_rebuilt(account: m.Account, settings) -> None:
    # Beat's task builds within a time budget: a loaded machine must not cut this build short.
    settings.CSTRACKER_BACKGROUND_BUDGET_SECONDS = 600
    account.marketplace, account.timezone = "amazon", ZONE
    account.save()
    plains = generate(account, 60, seed=11)
    clamp(account, plains, NOW)
    assert [a.pk for a in order_rollup.stale_accounts()] == [account.pk]
    assert order_rollup.build_missing().accounts == 1
    assert not order_rollup.stale_accounts().exists()
    definitions = definitions_for("amazon")
    assert rolled_up(account, definitions, NOW, 20)

    account.timezone = "Europe/Berlin"  # the days are cut elsewhere now: count live
    account.save()
    assert rolled_up(account, definitions, NOW, 20) == {}
    assert [a.pk for a in order_rollup.stale_accounts()] == [account.pk]
    assert tasks.build_order_rollups().startswith("rebuilt the order rollup of 1 accounts")  # beat's task
    assert set(rolled_up(account, definitions, NOW, 20)) == {d.key for d in definitions}


def test_the_migration_to_an_odr_per_channel_has_amazon_rollups_counted_live_until_rebuilt(
    account: m.Account,
) -> None:
    """0060: the rows of the all-channel ODR go and Amazon rollups are marked unbuilt, so the two
    ODR measures, without rows yet, are never read as empty; the next build counts them."""
    account.marketplace, account.timezone = "amazon", ZONE
    account.save()
    plains = generate(account, 60, seed=11)
    clamp(account, plains, NOW)
    order_rollup.rebuild(account)
    # As the rollup stood before: one ODR over every channel, no rows of the two per channel.
    m.OrderMetricDay.objects.filter(account=account, measure="order_defect_marketplace").delete()
    m.OrderMetricDay.objects.filter(account=account, measure="order_defect_seller").update(
        measure="order_defect"
    )
    # A rebuild under way at the migration: restarted, not finished from its cursor (the days
    # before it would have no rows of the new measures).
    m.OrderRollupState.objects.filter(pk=account.pk).update(rebuild_next_day=NOW.date())
    migration = importlib.import_module("inquiries.migrations.0060_order_defect_rate_per_channel")
    migration.count_the_new_measures(django_apps, None)

    assert not m.OrderMetricDay.objects.filter(measure="order_defect").exists()
    state = m.OrderRollupState.objects.get(pk=account.pk)
    assert (state.built_at, state.rebuild_next_day) == (None, None)
    assert rolled_up(account, definitions_for("amazon"), NOW, 20) == {}
    assert_plain(account, plains, NOW)  # counted live
    assert [a.pk for a in order_rollup.stale_accounts()] == [account.pk]
    order_rollup.build_missing()
    assert set(rolled_up(account, definitions_for("amazon"), NOW, 20)) == {
        d.key for d in definitions_for("amazon")
    }
    assert_plain(account, plains, NOW)

    migration.count_the_old_measure(django_apps, None)  # backwards: the per-channel rows go too
    assert not m.OrderMetricDay.objects.filter(
        measure__in=["order_defect_seller", "order_defect_marketplace"]
    ).exists()
    assert m.OrderRollupState.objects.get(pk=account.pk).built_at is None


def test_the_rollup_takes_a_fixed_number_of_queries(
    account: m.Account, django_assert_max_num_queries
) -> None:
    """The state, the window's rows, a live count of the as-of day for each kind whose day is
    still running, a list of failing orders per metric that some fail, and the imported figures:
    never a query per order or per day."""
    account.marketplace, account.timezone = "amazon", ZONE
    account.save()
    bound = 2 + 2 * len(definitions_for("amazon")) + 1
    for count, seed in ((40, 7), (200, 8)):
        clamp(account, generate(account, count, seed=seed), NOW)
        order_rollup.rebuild(account)
        with django_assert_max_num_queries(bound):
            figures = marketplace_figures(account, NOW, at_risk_ratio=0.8)
        assert set(rolled_up(account, definitions_for("amazon"), NOW, 20)) == {f.key for f in figures}


def test_a_rebuild_counts_the_longest_window_and_the_future_a_few_days_a_step(
    account: m.Account, settings
) -> None:
    """An order dated 1970 is outside every window (not counted); one dated 2099 is counted
    without stepping through the 73 years between; the beat task works in steps of its budget
    on the background queue, continuing itself until the rollup is built."""
    account.marketplace, account.timezone = "amazon", ZONE
    account.save()
    plains = generate(account, 60, seed=12)
    clamp(account, plains, NOW)
    order = m.Order.objects.filter(account=account).first()
    assert order is not None
    for number, moment in (("OLD-1970", datetime(1970, 1, 2, tzinfo=ZoneInfo(ZONE))), ("FAR-2099", None)):
        m.Order.objects.create(
            account=account,
            marketplace_order_id=number,
            purchased_at=moment or datetime(2099, 6, 1, 12, tzinfo=ZoneInfo(ZONE)),
            ship_by=order.ship_by,
            status=order.status,
        )
    steps = 0
    while not order_rollup.build_missing(budget_seconds=0).done:
        steps += 1
    horizon = order_rollup.horizon_days("amazon")
    assert steps <= -(-horizon // order_rollup.STEP_DAYS) + 2
    days = set(m.OrderMetricDay.objects.filter(account=account).values_list("day", flat=True))
    assert min(days) >= NOW.astimezone(ZoneInfo(ZONE)).date() - timedelta(days=horizon)
    assert datetime(2099, 6, 1).date() in days
    state = m.OrderRollupState.objects.get(pk=account.pk)
    assert state.built_at == NOW and state.rebuild_next_day is None

    settings.CSTRACKER_BACKGROUND_BUDGET_SECONDS = 0
    account.timezone = "Europe/Berlin"
    account.save()
    tasks.build_order_rollups.apply().get()  # eager: each continuation runs at once
    state.refresh_from_db()
    assert (state.timezone, state.rebuild_next_day) == ("Europe/Berlin", None)
    assert set(rolled_up(account, definitions_for("amazon"), NOW, 20)) == {
        d.key for d in definitions_for("amazon")
    }
    assert settings.CELERY_TASK_ROUTES["inquiries.tasks.build_order_rollups"] == {"queue": "background"}


def test_rows_of_deleted_orders_go_and_an_old_build_is_not_read(account: m.Account) -> None:
    """Orders deleted around the import (a superuser in the admin): the account is still
    rebuilt once a day, which drops its rows; a build older than two days is never read."""
    account.marketplace, account.timezone = "amazon", ZONE
    account.save()
    clamp(account, generate(account, 40, seed=13), NOW)
    order_rollup.rebuild(account)
    definitions = definitions_for("amazon")
    assert rolled_up(account, definitions, NOW, 20)
    with time_machine.travel(NOW + timedelta(hours=49), tick=False):
        assert rolled_up(account, definitions, NOW, 20) == {}  # beat stopped: count live

    m.Order.objects.filter(account=account).delete()
    assert not order_rollup.stale_accounts().exists()  # built less than a day ago
    assert m.OrderMetricDay.objects.filter(account=account).exists()
    with time_machine.travel(NOW + timedelta(hours=25), tick=False):
        assert [a.pk for a in order_rollup.stale_accounts()] == [account.pk]
        assert order_rollup.build_missing().accounts == 1
        assert not m.OrderMetricDay.objects.filter(account=account).exists()
        assert not order_rollup.stale_accounts().exists()


def test_orders_deleted_through_the_service_leave_the_rollup_as_a_rebuild_counts_it(
    account: m.Account,
) -> None:
    """`delete_orders` (the admin's delete) counts the deleted orders' days again at once."""
    account.marketplace, account.timezone = "amazon", ZONE
    account.save()
    clamp(account, generate(account, 40, seed=17), NOW)
    order_rollup.rebuild(account)
    doomed = list(m.Order.objects.filter(account=account).order_by("pk").values_list("pk", flat=True)[::3])

    delete_orders(orders=m.Order.objects.filter(pk__in=doomed))

    first_day = m.OrderRollupState.objects.get(pk=account.pk).first_day
    assert first_day is not None
    kept = [row for row in rollup_rows(account) if isinstance(row[2], date) and row[2] >= first_day]
    order_rollup.rebuild(account)
    assert rollup_rows(account) == kept


def test_a_zone_changed_and_changed_back_is_not_read_until_rebuilt(account: m.Account) -> None:
    """A batch imported while the zone differs does not keep the rows: it clears the state in
    the statement that locks it (reading the Account row, not the caller's copy), so changing
    the zone back does not bring back rows that miss the batch."""
    account.marketplace, account.timezone = "amazon", ZONE
    account.save()
    plains = generate(account, 40, seed=14)
    clamp(account, plains, NOW)
    order_rollup.rebuild(account)
    definitions = definitions_for("amazon")
    assert rolled_up(account, definitions, NOW, 20)

    m.Account.objects.filter(pk=account.pk).update(timezone="Europe/Berlin")  # the caller's copy is stale
    facts = OrderFacts("LATE-1", purchased_at=NOW - timedelta(hours=3), ship_by=NOW + timedelta(days=1))
    import_orders(account=account, fmt=FORMATS["amazon-all-orders"], rows=[(2, Record(facts))], now=NOW)
    state = m.OrderRollupState.objects.get(pk=account.pk)
    assert (state.timezone, state.marketplace, state.built_at, state.rebuild_next_day) == ("", "", None, None)

    m.Account.objects.filter(pk=account.pk).update(timezone=ZONE)  # changed back
    assert rolled_up(account, definitions, NOW, 20) == {}
    assert [a.pk for a in order_rollup.stale_accounts()] == [account.pk]
    order_rollup.build_missing()
    assert set(rolled_up(account, definitions, NOW, 20)) == {d.key for d in definitions}
    assert m.OrderMetricDay.objects.filter(
        account=account, day=(NOW - timedelta(hours=3)).astimezone(ZoneInfo(ZONE)).date()
    ).exists()
