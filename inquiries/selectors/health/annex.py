"""The annex of a plan of action: the orders (and messages) behind each failing metric.

Reads a fixed number of queries whatever the account's size: the failing orders come listed
(the first `ANNEX_LIMIT`, latest first) with the marketplace figures; this module reads those
orders with their lines, shipments, feedback, claims, cancellations and returns (one query
each), and the buyers' messages about them (one query). `annex_csv_rows` streams the full list
of one metric in chunks for the CSV download.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from datetime import datetime
from zoneinfo import ZoneInfo

from django.db.models import QuerySet
from django.utils.translation import gettext

from inquiries.health.appeal import (
    CAUSE_OF_METRIC,
    DEFECT_CAUSES,
    ORDER_COLUMNS,
    AnnexRow,
    AnnexTable,
    CauseKind,
    failing,
    local_time,
)
from inquiries.health.marketplace_metrics import MarketplaceFigure
from inquiries.marketplaces import MetricDefinition
from inquiries.models import Account, ClaimOutcome, Direction, Inquiry, Message, Order, Polarity
from inquiries.selectors.health.order_metrics import failing_orders

CSV_CHUNK = 500
MESSAGES_PER_ORDER = 3


def order_annex(account: Account, figures: Iterable[MarketplaceFigure]) -> dict[str, AnnexTable]:
    """Per failing metric (by key), the orders it lists, as annex rows."""
    listed = [f for f in figures if failing(f.status) and f.key in CAUSE_OF_METRIC and f.counts.orders]
    ids = {ref.order_id for f in listed for ref in f.counts.orders}
    if not ids:
        return {}
    zone = ZoneInfo(account.timezone)
    orders = {order.pk: order for order in _orders(ids)}
    messages = _messages(account, orders.values(), zone)
    tables = {}
    for f in listed:
        kind = CAUSE_OF_METRIC[f.key]
        seen: list[int] = []
        for ref in f.counts.orders:
            if ref.order_id in orders and ref.order_id not in seen:
                seen.append(ref.order_id)
        chosen = [orders[pk] for pk in seen]
        tables[f.key] = AnnexTable(
            key=f.key,
            rows=tuple(annex_row(order, kind, zone, messages.get(order.pk, ())) for order in chosen),
            total=f.counts.failing,
            items=tuple(item for item, _n in _items(chosen).most_common()),
        )
    return tables


def _orders(ids: Iterable[int]) -> QuerySet[Order]:
    return (
        Order.objects.filter(pk__in=list(ids))
        .prefetch_related("lines", "shipments", "feedback", "claims", "cancellations", "returns")
        .order_by()
    )


def _messages(account: Account, orders: Iterable[Order], zone: ZoneInfo) -> dict[int, list[tuple[str, str]]]:
    """The buyers' messages about each order (in the account's inquiries naming its order id,
    which includes those linked to it: an inquiry is linked to the order its order id names):
    received and answered. The inquiries are found by their indexed order id (the link itself
    is not indexed, so that linking writes no index entry), the messages by inquiry; a
    message's own order id is not indexed and not read."""
    by_number = {order.marketplace_order_id: order.pk for order in orders}
    inquiries = Inquiry.objects.filter(order_id__in=list(by_number), account_id=account.pk)
    rows = (
        Message.objects.filter(inquiry__in=inquiries, direction=Direction.INBOUND, automatic=False)
        .order_by("received_at", "pk")
        .values_list("received_at", "answered_at", "inquiry__order_id")
    )
    found: dict[int, list[tuple[str, str]]] = defaultdict(list)
    for received, answered, number in rows:
        pk = by_number.get(number)
        if pk is not None and len(found[pk]) < MESSAGES_PER_ORDER:
            found[pk].append(
                (local_time(received, zone), local_time(answered, zone) or gettext("not answered"))
            )
    return found


def _item(sku: str, item_id: str) -> str:
    return f"{sku} ({item_id})" if item_id else sku


def _items(orders: Iterable[Order]) -> Counter[str]:
    return Counter(_item(line.sku, line.item_id) for order in orders for line in order.lines.all())


def annex_row(order: Order, kind: CauseKind, zone: ZoneInfo, messages: Iterable[tuple[str, str]]) -> AnnexRow:
    """One order as the annex shows it; `order` comes with its related rows prefetched."""
    shipments = sorted(order.shipments.all(), key=lambda s: (s.shipped_at is None, s.shipped_at or 0, s.pk))
    shipped = [s.shipped_at for s in shipments if s.shipped_at]
    delivered = [s.delivered_at for s in shipments if s.delivered_at]
    messages = list(messages)
    return AnnexRow(
        order=order.marketplace_order_id,
        purchased=local_time(order.purchased_at, zone),
        buyer=order.buyer_name,
        items=", ".join(f"{_item(line.sku, line.item_id)} x {line.quantity}" for line in order.lines.all()),
        ship_by=local_time(order.ship_by, zone),
        shipped=local_time(min(shipped), zone) if shipped else "",
        carrier="; ".join(dict.fromkeys(s.carrier for s in shipments if s.carrier)),
        tracking="; ".join(s.tracking_number for s in shipments if s.tracking_number),
        deliver_by=local_time(order.deliver_by, zone),
        delivered=local_time(max(delivered), zone) if delivered else "",
        received="; ".join(received for received, _a in messages),
        answered="; ".join(answered for _r, answered in messages),
        note=_note(order, kind),
    )


def _note(order: Order, kind: CauseKind) -> str:
    """The buyer's or marketplace's words behind the defect, cancellation or return."""
    if kind in DEFECT_CAUSES:
        parts = [
            f"{f.shown_rating}: {f.text}".strip()
            for f in order.feedback.all()
            if f.polarity == Polarity.NEGATIVE and not f.removed
        ]
        parts += [
            f"{claim.get_kind_display()} ({ClaimOutcome(claim.outcome).label})"
            for claim in order.claims.all()
            if claim.outcome in (ClaimOutcome.OPEN, ClaimOutcome.FOR_BUYER)
        ]
        return "; ".join(parts)
    if kind == CauseKind.CANCELLATIONS:
        return "; ".join(
            ": ".join(p for p in (c.get_cancelled_by_display(), c.reason) if p)
            for c in order.cancellations.all()
        )
    if kind == CauseKind.RETURNS:
        return "; ".join(
            " ".join(p for p in (r.reason_code, r.buyer_comment) if p) for r in order.returns.all()
        )
    return ""


def annex_csv_rows(account: Account, definition: MetricDefinition, as_of: datetime) -> Iterator[list[object]]:
    """Every order failing one metric at `as_of`, latest first, as CSV rows (a header first);
    read in chunks, so memory stays flat however long the list."""
    kind = CAUSE_OF_METRIC[definition.key]
    zone = ZoneInfo(account.timezone)
    yield [name for name, _title in ORDER_COLUMNS]
    ids = list(dict.fromkeys(pk for pk, _number in failing_orders(account, definition, as_of).iterator()))
    for start in range(0, len(ids), CSV_CHUNK):
        chunk = ids[start : start + CSV_CHUNK]
        orders = {order.pk: order for order in _orders(chunk)}
        messages = _messages(account, orders.values(), zone)
        for pk in chunk:
            row = annex_row(orders[pk], kind, zone, messages.get(pk, ()))
            yield [getattr(row, name) for name, _title in ORDER_COLUMNS]
