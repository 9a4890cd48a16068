"""Keeping the order metrics' daily rollup (`OrderMetricDay`) equal to what the orders say.

The rollup is recomputed a whole local day at a time, never patched: a day's rows are deleted
and counted again (`selectors.health.order_rollup.day_counts`). Which days? The import writes
orders, and every part of an order (shipment, feedback, claim, cancellation, return) in the
batch that names the order, so `kept_current` around a batch's writes takes the anchor days of
the batch's orders before the writes and after them (a late fact on an old order refreshes the
day of its purchase; a ship-by date moved by a later report refreshes both days).

An account's rollup is built by `rebuild` / `build_missing` (the command `rebuild_order_rollup`,
and the beat task `build_order_rollups` with a time budget and a continuation) for every account
with orders whose rollup is missing, under way, was built for another time zone or marketplace,
or is a day old: from the first day of the longest window its metrics read to its last anchor,
only days holding anchors, STEP_DAYS of them per transaction. Until it is built, and whenever
the state does not match the account, the health computation counts live. Each step and each
batch's refresh lock the state row, so the two never miss each other's rows (a batch refreshes
its days whenever the rows are kept for the account's zone and marketplace, built or under way);
a step finding the row locked leaves the account to the next run instead of waiting.
"""

from __future__ import annotations

import time
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from django.db import connection, transaction
from django.db.models import Exists, Min, OuterRef, QuerySet
from django.utils import timezone

from inquiries.health.marketplace_metrics import definitions_for
from inquiries.marketplaces import Anchor
from inquiries.models import Account, Order, OrderMetricDay, OrderRollupState, Shipment
from inquiries.selectors.health.order_conditions import ORDER_ANCHOR
from inquiries.selectors.health.order_rollup import (
    REBUILD_EVERY,
    RUN_DAYS,
    Kind,
    day_counts,
    kinds_for,
    midnight,
)

AnchorDays = dict[Anchor, set[date]]


@contextmanager
def kept_current(account: Account, order_ids: Collection[str]) -> Iterator[None]:
    """Around writes of the account's orders (by marketplace order id) and their parts, inside
    the caller's transaction: refresh the rollup's days those orders were on before the writes
    and are on after them. While the account's rows are not kept (never built, or cut for
    another zone or marketplace), one query (the lock)."""
    if not order_ids:
        yield
        return
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("kept_current() runs inside the transaction of the writes it follows")
    kept = _lock_state(account)  # the zone and marketplace the rows were cut for, not the caller's copy
    before = _anchor_days(kept, order_ids) if kept else {}
    yield
    if kept:
        after = _anchor_days(kept, order_ids)
        refresh_days(kept, {a: before.get(a, set()) | after.get(a, set()) for a in {*before, *after}})


def _lock_state(account: Account) -> Account | None:
    """Lock the account's rollup state until the transaction ends (made, not built, when
    missing: there is always a row to lock), in one statement that also clears it when it was
    cut for another zone or marketplace than the Account row's (only a rebuild validates it
    again: a zone changed and changed back must not bring back rows the batches in between did
    not keep). The zone and marketplace its rows are kept for (built or under way), as an
    unsaved Account, or None."""
    table, accounts = OrderRollupState._meta.db_table, Account._meta.db_table
    kept = (
        f"EXISTS (SELECT 1 FROM {accounts} a WHERE a.id = {table}.account_id "  # noqa: S608
        f"AND a.timezone = {table}.timezone AND a.marketplace = {table}.marketplace)"
    )
    cleared = ", ".join(
        f"{column} = CASE WHEN {kept} THEN {table}.{column} ELSE {empty} END"
        for column, empty in (("timezone", "''"), ("marketplace", "''"), ("built_at", "NULL"))
    )
    with connection.cursor() as cursor:
        # ON CONFLICT DO UPDATE locks the existing row (PostgreSQL); SQLite locks the database.
        cursor.execute(
            f"INSERT INTO {table} (account_id, timezone, marketplace) VALUES (%s, '', '') "  # noqa: S608
            f"ON CONFLICT (account_id) DO UPDATE SET {cleared}, "
            f"rebuild_next_day = CASE WHEN {kept} THEN {table}.rebuild_next_day ELSE NULL END "
            "RETURNING timezone, marketplace",
            [account.pk],
        )
        zone, marketplace = cursor.fetchone()
    return Account(pk=account.pk, timezone=zone, marketplace=marketplace) if zone else None


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
    done: bool = True  # False: the time budget ran out with rebuilds still under way

    def __str__(self) -> str:
        tail = "" if self.done else " (rebuild continues)"
        return f"rebuilt the order rollup of {self.accounts} accounts, {self.rows} rows{tail}"


# A rebuild counts the local days from the longest window the account's metrics read (eBay's 365
# days) back from today, to its last anchor (future ship-by dates included), STEP_DAYS days with
# anchors per transaction: each step holds the state row for seconds, not the whole rebuild.
STEP_DAYS = RUN_DAYS


def horizon_days(marketplace: str) -> int:
    """How many local days before today a build counts: the longest window, plus today."""
    return (
        max((max(d.window_days, d.long_window_days or 0) for d in definitions_for(marketplace)), default=0)
        + 1
    )


def rebuild(account: Account, *, now: datetime | None = None) -> int:
    """Count the account's days again from the start, step after step (the command and the
    tests; beat's task goes through `build_missing` with a time budget); the rows written."""
    return build_missing(now=now, account_ids=[account.pk]).rows


def _step(account_id: int, now: datetime, *, restart: bool) -> tuple[int, bool] | None:
    """One transaction of an account's rebuild: start it (`restart`, or none under way for the
    account's zone and marketplace), then count the next STEP_DAYS days from the cursor that
    hold anchors. (rows written, finished), or None when the state row is locked (a batch or
    another step holds it: this run leaves the account alone instead of waiting)."""
    OrderRollupState.objects.get_or_create(pk=account_id, defaults={"timezone": "", "marketplace": ""})
    with transaction.atomic():
        state = OrderRollupState.objects.select_for_update(skip_locked=True).filter(pk=account_id).first()
        if state is None:
            return None
        account = Account.objects.get(pk=account_id)
        if restart or state.rebuild_next_day is None or _cut_for(state) != _cut_for(account):
            _start(state, account, now)
        cursor = state.rebuild_next_day
        assert cursor is not None  # set by _start
        first = _next_day(account, cursor)
        if first is None:
            OrderMetricDay.objects.filter(account_id=account_id, day__gte=cursor).delete()
            OrderMetricDay.objects.filter(account_id=account_id, day__lt=state.first_day).delete()
            state.built_at, state.rebuild_next_day = now, None
            state.save(update_fields=["built_at", "rebuild_next_day"])
            return 0, True
        last = first + timedelta(days=STEP_DAYS - 1)
        # Days between the cursor and the next anchor have no rows to keep (orders deleted).
        OrderMetricDay.objects.filter(account_id=account_id, day__gte=cursor, day__lt=first).delete()
        days = [first + timedelta(days=n) for n in range(STEP_DAYS)]
        written = sum(_replace(account, kind, days) for kind in kinds_for(account.marketplace))
        state.rebuild_next_day = last + timedelta(days=1)
        state.save(update_fields=["rebuild_next_day"])
        return written, False


def _cut_for(row: Account | OrderRollupState) -> tuple[str, str]:
    return row.timezone, row.marketplace


def _start(state: OrderRollupState, account: Account, now: datetime) -> None:
    """Start a rebuild from the horizon. A rollup built for the account's zone and marketplace
    keeps serving meanwhile (the import keeps its rows current); any other is dropped."""
    if _cut_for(state) != _cut_for(account) or state.built_at is None:
        OrderMetricDay.objects.filter(account_id=account.pk).delete()
        state.built_at = None
    today = now.astimezone(ZoneInfo(account.timezone)).date()
    state.timezone, state.marketplace = _cut_for(account)
    state.first_day = today - timedelta(days=horizon_days(account.marketplace) - 1)
    state.rebuild_next_day = state.first_day
    state.save()


def _next_day(account: Account, cursor: date) -> date | None:
    """The first local day at or after `cursor` holding an anchor of the account's metrics: one
    query per anchor (an index probe)."""
    zone = ZoneInfo(account.timezone)
    start = midnight(cursor, zone)
    found: list[datetime] = []
    for anchor in {kind[1] for kind in kinds_for(account.marketplace)}:
        if anchor == Anchor.SHIPPED:
            shipments = Shipment.objects.filter(order__account_id=account.pk, shipped_at__gte=start)
            moment = shipments.aggregate(first=Min("shipped_at"))["first"]
        else:
            column = ORDER_ANCHOR[anchor]
            orders = Order.objects.filter(account_id=account.pk, **{f"{column}__gte": start})
            moment = orders.aggregate(first=Min(column))["first"]
        if moment is not None:
            found.append(moment)
    return min(found).astimezone(zone).date() if found else None


def stale_accounts(now: datetime | None = None) -> QuerySet[Account]:
    """Accounts with orders or a rollup state (their orders may all have been deleted: their
    rows must go) whose rollup is missing, under way, was built for another zone or
    marketplace, or was built whole more than REBUILD_EVERY ago (deletions in the admin and
    rows written around the import are not followed day by day)."""
    built = OrderRollupState.objects.filter(
        pk=OuterRef("pk"),
        timezone=OuterRef("timezone"),
        marketplace=OuterRef("marketplace"),
        built_at__gt=(now or timezone.now()) - REBUILD_EVERY,
        first_day__isnull=False,
        rebuild_next_day__isnull=True,
    )
    with_orders = Exists(Order.objects.filter(account_id=OuterRef("pk")))
    with_state = Exists(OrderRollupState.objects.filter(pk=OuterRef("pk")))
    return Account.objects.filter(with_orders | with_state).exclude(Exists(built))


def build_missing(
    *,
    now: datetime | None = None,
    account_ids: Collection[int] | None = None,
    budget_seconds: float | None = None,
) -> Rebuilt:
    """Build the rollup of every stale account (`stale_accounts`), a step per transaction; with
    `account_ids`, rebuild those accounts from the start whatever their state. With
    `budget_seconds` it stops after the step that used it up (at least one step per call, so a
    continuation always moves on) and says it is not done; an account whose state row is locked
    is left for the next call."""
    now = now or timezone.now()
    deadline = None if budget_seconds is None else time.monotonic() + budget_seconds
    chosen = Account.objects.filter(pk__in=account_ids) if account_ids is not None else stale_accounts(now)
    count = rows = steps = 0
    done = True
    for account_id in chosen.order_by("pk").values_list("pk", flat=True):
        outcome: tuple[int, bool] | None = (0, False)
        restart = account_ids is not None
        while outcome is not None and not outcome[1]:
            if steps and deadline is not None and time.monotonic() >= deadline:
                return Rebuilt(count, rows, done=False)
            outcome = _step(account_id, now, restart=restart)
            restart, steps = False, steps + 1
            rows += outcome[0] if outcome else 0
        if outcome is None:
            done = False
        else:
            count += 1
    return Rebuilt(count, rows, done)
