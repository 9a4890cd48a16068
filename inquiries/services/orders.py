"""Writes for orders: importing marketplace reports, and linking inquiries to their orders.

`import_orders()` stores what `ingestion.order_reports.parse_report()` reads, a batch at a
time (one transaction each, bulk upserts keyed by the marketplace's ids), so memory stays
flat however long the report and re-importing a report updates what it stored before and
never duplicates it. A report overwrites only what it is the source of
(`ReportFormat.owns`): the All Orders report an order's fields and its lines, the shipments
report shipments, and so on; an order or line another report names is created from what
that report says when it is not stored yet, and otherwise left as it is.

Each batch then links the inquiries that name its orders (`link_inquiries()`), so an
inquiry recorded before its order arrived finds it.
"""

from __future__ import annotations

import gc
import sys
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager, nullcontext, suppress
from dataclasses import dataclass, field, fields
from datetime import datetime
from operator import attrgetter
from typing import Any, cast

from django.db import connection, transaction
from django.db.models import Exists, Model, OuterRef, QuerySet, Subquery
from django.utils import timezone

from inquiries.ingestion.order_reports import (
    CancellationFacts,
    ClaimFacts,
    FeedbackFacts,
    LineFacts,
    LineRef,
    OrderFacts,
    Record,
    ReportFormat,
    ReturnFacts,
    RowRejected,
    ShipmentFacts,
)
from inquiries.ingestion.order_reports.amazon_performance import SOURCE as PERFORMANCE_SOURCE
from inquiries.ingestion.order_reports.core import SOMETIMES_CARRIED, MetricFacts, ParsedReport
from inquiries.ingestion.order_reports.merging import ORDER_COLUMNS, merged_orders, merged_parts
from inquiries.ingestion.read_ahead import ReadAhead
from inquiries.models import (
    Account,
    Cancellation,
    Claim,
    Feedback,
    Inquiry,
    MarketplaceMetric,
    Order,
    OrderLine,
    Return,
    Shipment,
    Topic,
)
from inquiries.services import order_rollup, order_status
from inquiries.services.bulk import (
    PlannerStatistics,
    check_constraints_now,
    commit_without_waiting,
    flush_commits,
    insert_new,
    upsert_count,
    upsert_rows,
)

BATCH_SIZE = 5000
READ_AHEAD_CHUNK = 100  # rows the parsing thread hands over at a time


@dataclass(frozen=True)
class _Part:
    """One kind of row a record may carry beside its order."""

    attr: str  # the Record attribute
    model: type[Model]
    key: str | None  # the field that, with the order, identifies a row (None: one per order)
    label: str  # in the counts
    columns: tuple[str, ...]  # the facts' fields, which are the model's


def _names(facts: type) -> tuple[str, ...]:
    return tuple(f.name for f in fields(facts))


PARTS = (
    _Part("line", OrderLine, "sku", "lines", _names(LineFacts)),
    _Part("shipment", Shipment, "shipment_id", "shipments", _names(ShipmentFacts)),
    _Part("cancellation", Cancellation, "external_id", "cancellations", _names(CancellationFacts)),
    _Part("returned", Return, "external_id", "returns", _names(ReturnFacts)),
    _Part("feedback", Feedback, None, "feedback", _names(FeedbackFacts)),
    _Part("claim", Claim, "external_id", "claims", _names(ClaimFacts)),
)


@dataclass
class Counts:
    created: int = 0
    updated: int = 0


@dataclass
class OrderImport:
    """What an import did (or, for a dry run, would do): rows read, stored and rejected, rows
    created and updated per kind, inquiries newly linked to their order."""

    format: str
    dry_run: bool = False
    rows: int = 0
    imported: int = 0
    rejected: int = 0
    counts: dict[str, Counts] = field(default_factory=dict)
    inquiries_linked: int = 0

    def count(self, label: str) -> Counts:
        return self.counts.setdefault(label, Counts())

    def summary(self) -> str:
        """One line of key=value counts, as the other import commands print them."""
        parts = [f"imported={self.imported}", f"rejected={self.rejected}"]
        for label, counts in self.counts.items():
            parts += [f"{label}_created={counts.created}", f"{label}_updated={counts.updated}"]
        parts.append(f"inquiries_linked={self.inquiries_linked}")
        return ("dry run, nothing written: " if self.dry_run else "") + " ".join(parts)

    def as_dict(self) -> dict[str, Any]:
        return {
            "format": self.format,
            "dry_run": self.dry_run,
            "rows": self.rows,
            "imported": self.imported,
            "rejected": self.rejected,
            "counts": {label: vars(counts) for label, counts in self.counts.items()},
            "inquiries_linked": self.inquiries_linked,
        }


def import_orders(
    *,
    account: Account,
    fmt: ReportFormat,
    rows: Iterable[tuple[int, Record | RowRejected]],
    dry_run: bool = False,
    on_rejected: Callable[[int, RowRejected], None] | None = None,
    batch_size: int = BATCH_SIZE,
    now: datetime | None = None,
    into: OrderImport | None = None,
    between_batches: Callable[[OrderImport], None] | None = None,
    own_process: bool = False,
) -> OrderImport:
    """Store the parsed rows of one report for `account`, in batches of `batch_size` rows (up to
    twice that, to end a batch between two orders), one transaction each.

    `between_batches(result)` is called after each batch but the last is stored, in the caller's
    thread and outside any batch transaction (the SP-API sync renews its lease there: the rows
    themselves are read by a thread of their own, so work that needs the database must not be
    done while reading them).

    `own_process`: the import has its process to itself (the management command and the Celery
    task, not the API upload: a web worker's thread beside other requests), so it may change two
    settings of the whole process while it runs (`_tuned_process`): Python's cycle collector is
    paused and run between its batches, and threads hand the interpreter over sooner.

    Each rejected row goes to `on_rejected(line, rejection)` as it comes (in file order) and
    is counted; the rest are stored. With `dry_run` the same batches are looked up and
    counted, and nothing is written. A batch that fails raises: the batches before it stay
    stored (counted in `into`, when the caller passes one), and importing the same report
    again completes it.
    """
    now = now or timezone.now()
    result = into or OrderImport(format=fmt.name, dry_run=dry_run)
    if "metric" in fmt.carries:
        return _import_metrics(account, rows, result, on_rejected, dry_run=dry_run)
    for label in ("orders", *(part.label for part in PARTS if part.attr in fmt.carries)):
        result.count(label)
    statistics = None if dry_run else _planner_statistics(fmt)
    # Dates only some reports carry are overwritten only by a file that has their column.
    filled = rows.filled if isinstance(rows, ParsedReport) else frozenset(name for name, _ in fmt.fills)
    batch: list[tuple[int, Record]] = []
    unflushed = False  # a batch committed without waiting for the disk
    collector = _tuned_process() if own_process else nullcontext(_no_collection)
    # The rows are parsed by a thread of their own while the batches are written: up to two
    # batches ahead while a statement runs (the next batch is ready when this one is stored), a
    # couple of chunks while this thread has Python to run (`ReadAhead`).
    ahead = ReadAhead(rows, chunk=READ_AHEAD_CHUNK, depth=max(2, 2 * batch_size // READ_AHEAD_CHUNK + 1))
    try:
        with ahead, collector as collect, connection.execute_wrapper(_waiting_for_the_database(ahead)):
            for line, item in ahead:
                result.rows += 1
                if isinstance(item, RowRejected):
                    _reject(result, on_rejected, line, item)
                    continue
                # A batch ends between two orders (a report lists an order's rows together), so that
                # an order is written once, or at twice the size at the latest.
                if len(batch) >= batch_size and (
                    item.order.order_id != batch[-1][1].order.order_id or len(batch) >= 2 * batch_size
                ):
                    stored = _resolve_lines(account, batch, result, on_rejected)
                    unflushed |= _store(account, fmt, stored, result, dry_run=dry_run, now=now, filled=filled)
                    if statistics is not None:
                        statistics.add(len(stored))
                    batch, stored = [], []  # the batch's rows are freed before the collector may run
                    collect()
                    if between_batches is not None:
                        between_batches(result)
                batch.append((line, item))
        if batch:
            stored = _resolve_lines(account, batch, result, on_rejected)
            unflushed |= _store(account, fmt, stored, result, dry_run=dry_run, now=now, filled=filled)
    except BaseException:
        # The batches committed before the failure are kept: make them durable too, as the
        # caller may already have reported them; a second error must not hide the first.
        if unflushed:
            with suppress(Exception):
                flush_commits()
        raise
    if unflushed:
        flush_commits()  # every batch is on disk when the import returns
    return result


def _waiting_for_the_database(ahead: ReadAhead[Any]) -> Callable[..., Any]:
    """An execute wrapper (`connection.execute_wrapper`): the parsing thread may read far ahead
    while a statement runs."""

    def wrapper(execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any) -> Any:
        with ahead.waiting():
            return execute(sql, params, many, context)

    return wrapper


@contextmanager
def _tuned_process() -> Iterator[Callable[[], object]]:
    """The process tuned for an import that has it to itself: Python's cycle collector paused
    while it runs, and run between its batches, every `COLLECT_EVERY` batches; and the
    interpreter handed from thread to thread every `SWITCH_INTERVAL` seconds instead of 5 ms.

    The switch interval: the importer's thread waits for the database many times a batch, and
    the parsing thread (`ReadAhead`) takes the interpreter meanwhile; when the database answers,
    the importer waits for the interpreter until the parsing thread lets go of it, which it does
    only when the interval has passed. At 5 ms that was up to 5 ms a statement for a thread that
    has nothing to do but go on; at 0.2 ms it is at most that. The price is more hand-overs while
    both have Python to run, which `ReadAhead` keeps rare.

    The collector: a batch holds thousands of parsed rows; run on its own, the collector walks them again and
    again while they are made (a quarter of the importer's CPU). Paused, it runs between batches
    over what was made since and is still alive (`gc.collect(1)`): the rows read ahead, which it
    then leaves alone. A batch leaves a couple of objects in cycles at most (2 per batch of 5,000
    rows in bench/orders.py), so it runs seldom: each run walks the rows read ahead again (4 ms a
    batch when it ran after each). Cycles are still freed, memory stays flat. It runs on its own
    again afterwards, unless it was paused before."""
    global _tuned, _untuned
    batches = 0

    def between_batches() -> None:
        nonlocal batches
        batches += 1
        if batches % COLLECT_EVERY == 0:
            gc.collect(1)

    with _tuning_lock:
        if _tuned == 0:  # the first import under way saves the settings, the last puts them back
            _untuned = (gc.isenabled(), sys.getswitchinterval())
            gc.disable()
            sys.setswitchinterval(SWITCH_INTERVAL)
        _tuned += 1
    try:
        yield between_batches
    finally:
        with _tuning_lock:
            _tuned -= 1
            if _tuned == 0:
                enabled, interval = _untuned
                sys.setswitchinterval(interval)
                if enabled:
                    gc.enable()


# Imports under way in this process with its settings tuned, and the settings from before the first
# (imports that overlap, in a Celery worker of the threads pool, must not put back each other's).
_tuning_lock = threading.Lock()
_tuned = 0
_untuned: tuple[bool, float] = (True, 0.005)


COLLECT_EVERY = 10
SWITCH_INTERVAL = 0.0002


def _no_collection() -> None:
    """Between batches when the collector is not paused: it runs on its own."""


def _reject(
    result: OrderImport,
    on_rejected: Callable[[int, RowRejected], None] | None,
    line: int,
    rejection: RowRejected,
) -> None:
    result.rejected += 1
    if on_rejected is not None:
        on_rejected(line, rejection)


def _resolve_lines(
    account: Account,
    batch: list[tuple[int, Record]],
    result: OrderImport,
    on_rejected: Callable[[int, RowRejected], None] | None,
) -> list[Record]:
    """The batch's records, each naming its order: a record that names its line instead (eBay's
    returns, cases and feedback: `line_ref`, item id and transaction id) gets the order of the
    account's line with those ids, or is rejected naming them (a return, claim or feedback
    cannot be stored without its order). One query per batch. The SKU and item id of a return
    that does not give them are its line's."""
    refs = {record.line_ref for _, record in batch if record.line_ref is not None}
    if not refs:
        return [record for _, record in batch]
    lines: dict[LineRef, tuple[str, str]] = {}
    found = (
        OrderLine.objects.filter(
            order__account=account,
            # Both columns, as the partial index on (item id, transaction id) is made.
            item_id__any=sorted({ref.item_id for ref in refs}),
            transaction_id__any=sorted({ref.transaction_id for ref in refs}),
        )
        .exclude(transaction_id="")
        .order_by()
        .values_list("item_id", "transaction_id", "order__marketplace_order_id", "sku")
    )
    for item_id, transaction_id, order_id, sku in found:
        lines[LineRef(item_id, transaction_id)] = (order_id, sku)
    records = []
    for line, record in batch:
        ref = record.line_ref
        if ref is None:
            records.append(record)
            continue
        if ref not in lines:
            rejection = RowRejected(
                [
                    f"item {ref.item_id}, transaction {ref.transaction_id}: no order line of this account "
                    "has them (import the eBay orders report, with its Transaction ID column, first)"
                ]
            )
            _reject(result, on_rejected, line, rejection)
            continue
        order_id, sku = lines[ref]
        record.order.order_id = order_id
        if record.returned is not None:
            record.returned.sku = record.returned.sku or sku
        records.append(record)
    return records


def _planner_statistics(fmt: ReportFormat) -> PlannerStatistics:
    """What the batches look rows up by, the report's own kind first (its growth counts): a
    table that grew from nothing during the import is analysed again as it grows, or its
    lookups turn into scans of the whole table (see `bulk.PlannerStatistics`)."""
    lookups: dict[type[Model], Sequence[str]] = {
        part.model: _key_fields(part) for part in PARTS if part.attr in fmt.owns
    }
    lookups[Order] = ("account", "marketplace_order_id")
    for part in PARTS:
        if part.attr in fmt.carries:
            lookups.setdefault(part.model, _key_fields(part))
    return PlannerStatistics(lookups, sample=ANALYZE_SAMPLE)


# The statistics target of the ANALYZEs during an import: 3,000 rows sampled per table instead of
# 30,000 (1.6-2.0 s -> 0.08-0.18 s for 1.4 million order lines): enough for row counts and keys.
ANALYZE_SAMPLE = 10


def _key_fields(part: _Part) -> tuple[str, ...]:
    return ("order", *([part.key] if part.key else []))


def _store(
    account: Account,
    fmt: ReportFormat,
    batch: list[Record],
    result: OrderImport,
    *,
    dry_run: bool,
    now: datetime,
    filled: frozenset[str],
) -> bool:
    """Store one batch in a transaction of its own (unless the caller's is under way); whether
    it committed without waiting for the disk (`bulk.commit_without_waiting`: the batch is stored
    again by importing the report again, should the server crash before it reached the disk;
    `import_orders` waits for every batch before it returns)."""
    if not batch:  # every record of the batch named a line not on file
        return False
    # The health rollup's days of the batch's orders, before and after the writes, are counted
    # again at the end of the block (services/order_rollup.py).
    named = [] if dry_run else [record.order.order_id for record in batch]
    with transaction.atomic(), order_rollup.kept_current(account, named):
        unflushed = not dry_run and commit_without_waiting()
        orders, created = _store_orders(
            account, fmt, [record.order for record in batch], result, dry_run, now, filled
        )
        for part in PARTS:
            if part.attr not in fmt.carries:  # no row of this format has one
                continue
            carried = [
                (orders[record.order.order_id], facts)
                for record in batch
                if (facts := getattr(record, part.attr)) is not None
            ]
            if carried:
                _store_part(
                    part,
                    carried,
                    result.count(part.label),
                    fmt=fmt,
                    dry_run=dry_run,
                    filled=filled,
                    created_orders=created,
                )
        if dry_run:
            result.inquiries_linked += _unlinked(
                account_id=account.pk, order_ids=list(orders), stored=False
            ).count()
        else:
            result.inquiries_linked += link_inquiries(account_id=account.pk, order_ids=list(orders))
            check_constraints_now()  # while the parsing thread reads on, not in the commit
    result.imported += len(batch)
    return unflushed


def _store_orders(
    account: Account,
    fmt: ReportFormat,
    facts: list[OrderFacts],
    result: OrderImport,
    dry_run: bool,
    now: datetime,
    filled: frozenset[str],
) -> tuple[dict[str, int | str], frozenset[int | str]]:
    """Upsert the batch's orders (or, when the report does not own them, insert the missing);
    each order id -> its primary key (dry run: the id itself for an order not stored yet), and
    the primary keys of the orders inserted (none in a dry run)."""
    owns = "order" in fmt.owns
    counts = result.count("orders")
    existing: dict[str, int] = {}
    if dry_run or not owns:
        # Looked up first: the orders stored already are neither merged nor sent (a report that
        # does not own them names mostly orders the one that does brought before).
        named = list(dict.fromkeys(order.order_id for order in facts))
        existing = dict(
            Order.objects.filter(account=account, marketplace_order_id__any=named)
            .order_by()
            .values_list("marketplace_order_id", "pk")
        )
        if dry_run:
            counts.created += len(named) - len(existing)
            counts.updated += len(existing) if owns else 0
            return {order_id: existing.get(order_id, order_id) for order_id in named}, frozenset()
        facts = [order for order in facts if order.order_id not in existing]
        if not facts:
            return dict(existing), frozenset()
    latest = merged_orders(facts)
    values = attrgetter(*ORDER_COLUMNS)
    account_id = account.pk
    written = upsert_rows(
        Order,
        ["account_id", "marketplace_order_id", *ORDER_COLUMNS, "updated_at"],
        [(account_id, order_id, *values(order), now) for order_id, order in latest.items()],
        unique=["account", "marketplace_order_id"],
        # An order this report does not own is created when missing and otherwise left as it is.
        update=[*_written(ORDER_COLUMNS, filled), "updated_at"] if owns else [],
        returning=["marketplace_order_id", "pk"],
    )
    created = frozenset(cast(int, pk) for _, pk, inserted in written if inserted)
    counts.created += len(created)
    counts.updated += (len(written) - len(created)) if owns else 0
    # `upsert_rows` returns the `returning` columns as stored: the order id (text) and the pk.
    return {**existing, **{cast(str, order_id): cast(int, pk) for order_id, pk, _ in written}}, created


def _written(columns: Sequence[str], filled: frozenset[str]) -> list[str]:
    """The columns a report overwrites in a stored row: all but the facts only some reports carry
    (ship-by, deliver-by, delivery dates) that this file does not."""
    return [name for name in columns if name not in SOMETIMES_CARRIED or name in filled]


def _store_part(
    part: _Part,
    carried: list[tuple[int | str, Any]],
    counts: Counts,
    *,
    fmt: ReportFormat,
    dry_run: bool,
    filled: frozenset[str],
    created_orders: frozenset[int | str] = frozenset(),
) -> None:
    """Upsert (or, when the report does not own them, insert the missing) rows of one kind.
    `carried`: (order's primary key, or its id for an order a dry run would create; facts);
    `created_orders`: the primary keys of the orders this batch inserted."""
    owns = part.attr in fmt.owns
    if dry_run or not owns:
        # Looked up first, as the orders are: the rows stored already are neither merged nor sent.
        existing = _stored_keys(
            part, {order for order, _ in carried if isinstance(order, int) and order not in created_orders}
        )
        if dry_run:
            latest = merged_parts(carried, part.key, part.columns)
            new = sum(1 for key in latest if key not in existing)
            counts.created += new
            counts.updated += (len(latest) - new) if owns else 0
            return
        key = attrgetter(part.key) if part.key else _no_key
        carried = [(order, facts) for order, facts in carried if (order, key(facts)) not in existing]
        if not carried:
            return
    latest = merged_parts(carried, part.key, part.columns)
    values = attrgetter(*part.columns)
    fields = ["order_id", *part.columns]
    # The rows of an order this batch created cannot be stored yet (nor by another transaction:
    # the order is not committed): they go into the table as they are, with no conflict to look for.
    fresh = [(order, *values(facts)) for order, facts in latest.values() if order in created_orders]
    insert_new(part.model, fields, fresh)
    rows = [(order, *values(facts)) for order, facts in latest.values() if order not in created_orders]
    created = upsert_count(
        part.model,
        fields,
        rows,
        unique=list(_key_fields(part)),
        # Rows this report does not own are created when missing, otherwise left as they are.
        update=[name for name in _written(part.columns, filled) if name != part.key] if owns else [],
    )
    counts.created += len(fresh) + created
    counts.updated += (len(rows) - created) if owns else 0


def _stored_keys(part: _Part, orders: set[int | str]) -> set[tuple[int | str, str | None]]:
    """The (order, key) of the stored rows of one kind of the given orders (one query)."""
    if not orders:
        return set()
    stored = part.model._default_manager.filter(order_id__any=list(orders)).order_by()
    if not part.key:
        return {(order, None) for order in stored.values_list("order_id", flat=True)}
    # Django's SQL, run on a plain cursor: the rows come back as tuples without Django's per-row
    # iteration (a batch's thousands of lines; neither column has a converter).
    sql, params = stored.values_list("order_id", part.key).query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return set(cursor.fetchall())


def _no_key(facts: object) -> None:
    """The key of a kind of row that is one per order."""


def _unlinked(
    *, account_id: int | None = None, order_ids: Sequence[str] | None = None, stored: bool = True
) -> QuerySet[Inquiry]:
    """Inquiries without a linked order whose order id names an order of their account (with
    `stored=False`, one of `order_ids` whether stored or not: what a dry run would link)."""
    inquiries = Inquiry.objects.filter(linked_order__isnull=True).exclude(order_id="")
    if account_id is not None:
        inquiries = inquiries.filter(account_id=account_id)
    if order_ids is not None:
        inquiries = inquiries.filter(order_id__any=list(order_ids))
    return inquiries.filter(Exists(_order_named_by_inquiry())) if stored else inquiries


def _order_named_by_inquiry() -> Any:
    named = Order.objects.filter(account=OuterRef("account"), marketplace_order_id=OuterRef("order_id"))
    return named.order_by().values("pk")[:1]


def link_inquiries(
    *,
    account_id: int | None = None,
    order_ids: Sequence[str] | None = None,
    inquiry_ids: Sequence[int] | None = None,
) -> int:
    """Point inquiries at the order of their own account whose marketplace order id is their
    order id, in one UPDATE; the number of inquiries changed.

    - After an import batch (`account_id`, `order_ids`): the account's unlinked inquiries
      naming one of those orders, so an inquiry that arrived before its order finds it.
    - `account_id` alone: every unlinked inquiry of the account (a catch-up).
    - For the recording engine and the inquiry page, after they stored or changed inquiries
      (`inquiry_ids`): each of those inquiries is set to the order its order id names now, or
      to none. Only the rows whose link changes are written (most messages name no stored
      order: then nothing is).

    Then the order-status questions among the inquiries of those orders that were asked after
    their order's promised delivery date become delivery complaints (`services.order_status`);
    with `order_ids` that includes inquiries linked before, whose order's date may just have
    been imported.
    """
    if inquiry_ids is not None:
        inquiries = Inquiry.objects.filter(pk__any=list(inquiry_ids))
        concerned = inquiries
        named = _order_named_by_inquiry()
        # Linked (or moved) where a stored order is named; unlinked where none is any more.
        linked = (
            inquiries.filter(Exists(named))
            .exclude(linked_order=Subquery(named))
            .update(linked_order=Subquery(named))
        )
        inquiries.filter(linked_order__isnull=False).exclude(Exists(named)).update(linked_order=None)
        if not linked:
            return 0
    else:
        if connection.vendor == "postgresql":
            # One statement links and finds the overdue questions (each import batch runs it).
            linked, overdue = _link_by_join(account_id=account_id, order_ids=order_ids)
            order_status.file_as_complaints(overdue, now=timezone.now())
            return linked
        concerned = (
            Inquiry.objects.filter(account_id=account_id) if account_id is not None else Inquiry.objects.all()
        )
        if order_ids is not None:
            concerned = concerned.filter(order_id__any=list(order_ids))
        unlinked = _unlinked(account_id=account_id, order_ids=order_ids)
        linked = unlinked.update(linked_order=Subquery(_order_named_by_inquiry()))
    order_status.file_overdue_order_questions(inquiries=concerned, now=timezone.now())
    return linked


def _link_by_join(*, account_id: int | None, order_ids: Sequence[str] | None) -> tuple[int, list[int]]:
    """`link_inquiries()` for unlinked inquiries on PostgreSQL, with its overdue look-up in the
    same statement: the number of inquiries linked, and the inquiries concerned (of the account,
    naming one of `order_ids`) that `order_status.file_overdue_order_questions()` would file as
    delivery complaints once linked (sorted).

    UPDATE ... FROM a join with the orders reads each order once (a hash join for a whole
    account), where Django's UPDATE evaluates a subquery per inquiry (a third of the catch-up's
    time for 100,000). Its RETURNING gives the inquiries it linked with their new order's
    promised date; the statement's own SELECT, which sees the table as it was before the UPDATE,
    adds those linked before (their order's date may just have been imported): so each import
    batch reads the inquiries of its orders once, not a second time to look for overdue ones.

    It writes `linked_order_id` alone, and only where it changes: that column is in no index
    and the inquiry table keeps half of each page free (migration 0054), so each row's new
    version is a heap-only tuple and none of the table's indexes is written (100,000 rows:
    about 2 s where rewriting their index entries took 12 to 20 s, docs/benchmarks.md). Keep
    it so: a column written here that an index covers sends every row through all of them."""
    inquiry, order, topic = Inquiry._meta.db_table, Order._meta.db_table, Topic._meta.db_table
    conditions: list[str] = []
    params: list[int | str | list[str]] = []
    if account_id is not None:
        conditions.append("i.account_id = %s")
        params.append(account_id)
    if order_ids is not None:
        conditions.append("i.order_id = ANY(%s)")
        params.append(list(order_ids))
    where = "".join(f" AND {condition}" for condition in conditions)
    # `file_overdue_order_questions()`'s rule, on the row as linked: an order-status question
    # asked after the promised delivery date, whose topic no agent set.
    overdue = (
        f"JOIN {topic} AS t ON t.id = {{row}}.topic_id AND t.key = %s "
        f"WHERE {{order}}.deliver_by < {{row}}.opened_at AND {{row}}.topic_source <> %s"
    )
    # Table names from the models; every value is a parameter.
    sql = (
        f"WITH linked AS (UPDATE {inquiry} AS i SET linked_order_id = o.id FROM {order} AS o "  # noqa: S608
        "WHERE i.linked_order_id IS NULL AND i.order_id <> '' "
        f"AND o.account_id = i.account_id AND o.marketplace_order_id = i.order_id{where} "
        "RETURNING i.id, i.topic_id, i.topic_source, i.opened_at, o.deliver_by) "
        "SELECT (SELECT count(*) FROM linked), ARRAY("
        f"SELECT l.id FROM linked AS l {overdue.format(row='l', order='l')} "
        f"UNION ALL SELECT i.id FROM {inquiry} AS i JOIN {order} AS o ON o.id = i.linked_order_id "
        f"{overdue.format(row='i', order='o')}{where} ORDER BY 1)"
    )
    rule = [order_status.QUESTION, order_status.AGENT]
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, *rule, *rule, *params])
        linked, found = cursor.fetchone()
        return linked, found


_METRIC_FIELDS = ("value", "target", "status", "numerator", "denominator")


def _import_metrics(
    account: Account,
    rows: Iterable[tuple[int, Record | RowRejected]],
    result: OrderImport,
    on_rejected: Callable[[int, RowRejected], None] | None,
    *,
    dry_run: bool,
) -> OrderImport:
    """Store a seller performance report's figures (`MarketplaceMetric`), one transaction: a
    figure is one per account, source, metric and window, so importing the report again
    updates the figures it stored and duplicates none. The window's end is when the figure
    was known (`reported_at`): the report states no time of its own."""
    counts = result.count("metrics")
    facts: dict[tuple[str, datetime, datetime], MetricFacts] = {}
    for line, item in rows:
        result.rows += 1
        if isinstance(item, RowRejected):
            _reject(result, on_rejected, line, item)
            continue
        assert item.metric is not None
        result.imported += 1
        # A report naming several marketplaces for one account: the first figure of a window counts.
        facts.setdefault((item.metric.metric, item.metric.window_start, item.metric.window_end), item.metric)
    if not facts:
        return result
    with transaction.atomic():
        stored = {
            (row.metric, row.window_start, row.window_end): row
            for row in MarketplaceMetric.objects.select_for_update().filter(
                account_id=account.pk,
                source=PERFORMANCE_SOURCE,
                metric__in={key[0] for key in facts},
            )
        }
        new, changed = [], []
        for key, figure in facts.items():
            row = stored.get(key)
            if row is None:
                new.append(
                    MarketplaceMetric(
                        account_id=account.pk,
                        metric=figure.metric,
                        window_start=figure.window_start,
                        window_end=figure.window_end,
                        reported_at=figure.window_end,
                        source=PERFORMANCE_SOURCE,
                        **{name: getattr(figure, name) for name in _METRIC_FIELDS},
                    )
                )
            elif any(getattr(row, name) != getattr(figure, name) for name in _METRIC_FIELDS):
                for name in _METRIC_FIELDS:
                    setattr(row, name, getattr(figure, name))
                changed.append(row)
        counts.created, counts.updated = len(new), len(changed)
        if not dry_run:
            MarketplaceMetric.objects.bulk_create(new)
            MarketplaceMetric.objects.bulk_update(changed, _METRIC_FIELDS)
    return result
