"""Keeping the order metrics' daily rollup (`OrderMetricDay`) equal to what the orders say.

The rollup is recomputed a whole local day at a time, never patched: a day's rows are deleted
and counted again (`selectors.health.order_rollup.day_counts`). Which days? The import writes
orders, and every part of an order (shipment, feedback, claim, cancellation, return) in the
batch that names the order, so `kept_current` around a batch's writes takes the anchor days of
the batch's orders before the writes and after them (a late fact on an old order refreshes the
day of its purchase; a ship-by date moved by a later report refreshes both days).

An account's rollup is built whole by `rebuild` (the command `rebuild_order_rollup`, and the
beat task `build_order_rollups` for every account with orders whose rollup is missing, was
built for another time zone or marketplace, or is a day old); until it is built, and whenever
the state does not match the account, the health computation counts live. The state row is locked by a batch's
refresh and by a rebuild, so the two never miss each other's rows: a rebuild waits for a batch
in flight and then reads it, and a batch waiting for a rebuild refreshes its days after it.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from django.db import connection, transaction
from django.db.models import Exists, Max, Min, OuterRef, QuerySet
from django.utils import timezone

from inquiries.marketplaces import Anchor
from inquiries.models import Account, Order, OrderMetricDay, OrderRollupState, Shipment
from inquiries.selectors.health.order_conditions import ORDER_ANCHOR
from inquiries.selectors.health.order_rollup import Kind, day_counts, kinds_for

AnchorDays = dict[Anchor, set[date]]


@contextmanager
def kept_current(account: Account, order_ids: Collection[str]) -> Iterator[None]:
    """Around writes of the account's orders (by marketplace order id) and their parts, inside
    the caller's transaction: refresh the rollup's days those orders were on before the writes
    and are on after them. While the account's rollup is not built, one query (the lock)."""
    if not order_ids:
        yield
        return
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("kept_current() runs inside the transaction of the writes it follows")
    built = _lock_state(account)
    before = _anchor_days(account, order_ids) if built else {}
    yield
    if built:
        after = _anchor_days(account, order_ids)
        refresh_days(account, {a: before.get(a, set()) | after.get(a, set()) for a in {*before, *after}})


def _lock_state(account: Account) -> bool:
    """Lock the account's rollup state until the transaction ends (made, not built, when
    missing: there is always a row to lock), in one statement; whether the rollup is built for
    the account's zone and marketplace."""
    table = OrderRollupState._meta.db_table
    with connection.cursor() as cursor:
        # ON CONFLICT DO UPDATE locks the existing row (PostgreSQL); SQLite locks the database.
        cursor.execute(
            f"INSERT INTO {table} (account_id, timezone, marketplace, built_at) VALUES (%s, '', '', %s) "  # noqa: S608
            "ON CONFLICT (account_id) DO UPDATE SET account_id = excluded.account_id "
            "RETURNING timezone, marketplace",
            [account.pk, timezone.now()],
        )
        zone, marketplace = cursor.fetchone()
    return (zone, marketplace) == (account.timezone, account.marketplace)


def _anchor_days(account: Account, order_ids: Collection[str]) -> AnchorDays:
    """The local days of the anchors of the named orders and of their packages' ship dates:
    one query."""
    zone = ZoneInfo(account.timezone)
    days: AnchorDays = {anchor: set() for anchor in Anchor}
    orders = Order.objects.filter(account_id=account.pk, marketplace_order_id__any=list(order_ids))
    anchors = [*ORDER_ANCHOR, Anchor.SHIPPED]
    columns = [*ORDER_ANCHOR.values(), "shipments__shipped_at"]
    for values in orders.order_by().values_list(*columns):
        for anchor, moment in zip(anchors, values, strict=True):
            if moment is not None:
                days[anchor].add(moment.astimezone(zone).date())
    return days


def refresh_days(account: Account, days: AnchorDays) -> int:
    """Count the given local days again, per anchor, for each metric kind of the account's
    marketplace; the number of rows written."""
    written = 0
    for kind in kinds_for(account.marketplace):
        wanted = days.get(kind[1])
        if wanted:
            written += _replace(account, kind, wanted)
    return written


def _replace(account: Account, kind: Kind, days: Collection[date]) -> int:
    measure, anchor = kind
    counted = day_counts(account.pk, account.timezone, kind, days)
    OrderMetricDay.objects.filter(
        account_id=account.pk, measure=measure, anchor=anchor, day__in=list(days)
    ).delete()
    OrderMetricDay.objects.bulk_create(
        OrderMetricDay(
            account_id=account.pk,
            measure=measure,
            anchor=anchor,
            day=row.day,
            numerator=row.numerator,
            denominator=row.denominator,
            anchor_until=row.anchor_until,
            facts_until=row.facts_until,
        )
        for row in counted
    )
    return len(counted)


@dataclass(frozen=True, slots=True)
class Rebuilt:
    accounts: int
    rows: int

    def __str__(self) -> str:
        return f"rebuilt the order rollup of {self.accounts} accounts, {self.rows} rows"


def rebuild(account: Account, *, now: datetime | None = None) -> int:
    """Count every day of the account's orders again, in one transaction, and mark the rollup
    built for its time zone and marketplace; the number of rows written."""
    with transaction.atomic():
        _lock_state(account)
        OrderMetricDay.objects.filter(account_id=account.pk).delete()
        written = 0
        for kind in kinds_for(account.marketplace):
            written += _replace(account, kind, _every_day(account, kind[1]))
        OrderRollupState.objects.filter(pk=account.pk).update(
            timezone=account.timezone, marketplace=account.marketplace, built_at=now or timezone.now()
        )
    return written


def _every_day(account: Account, anchor: Anchor) -> list[date]:
    """Every local day from the account's first anchor date to its last."""
    if anchor == Anchor.SHIPPED:
        span = Shipment.objects.filter(order__account_id=account.pk).aggregate(
            first=Min("shipped_at"), last=Max("shipped_at")
        )
    else:
        column = ORDER_ANCHOR[anchor]
        span = Order.objects.filter(account_id=account.pk).aggregate(first=Min(column), last=Max(column))
    if span["first"] is None:
        return []
    zone = ZoneInfo(account.timezone)
    first, last = span["first"].astimezone(zone).date(), span["last"].astimezone(zone).date()
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


# Deletions in the admin (superusers may delete orders and their parts) and rows written around
# the import are not followed day by day: a rollup is rebuilt whole once a day.
REBUILD_EVERY = timedelta(hours=24)


def stale_accounts(now: datetime | None = None) -> QuerySet[Account]:
    """Accounts with orders whose rollup is missing, was built for another zone or marketplace,
    or was built whole more than REBUILD_EVERY ago."""
    built = OrderRollupState.objects.filter(
        pk=OuterRef("pk"),
        timezone=OuterRef("timezone"),
        marketplace=OuterRef("marketplace"),
        built_at__gt=(now or timezone.now()) - REBUILD_EVERY,
    )
    return Account.objects.filter(Exists(Order.objects.filter(account_id=OuterRef("pk")))).exclude(
        Exists(built)
    )


def build_missing(*, now: datetime | None = None, account_ids: Collection[int] | None = None) -> Rebuilt:
    """Build the rollup of every stale account (`stale_accounts`), one transaction each; with
    `account_ids`, rebuild those accounts whatever their state."""
    accounts = Account.objects.filter(pk__in=account_ids) if account_ids is not None else stale_accounts(now)
    count = rows = 0
    for account in accounts.order_by("pk"):
        rows += rebuild(account, now=now)
        count += 1
    return Rebuilt(count, rows)
