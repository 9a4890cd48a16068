"""Each order and each part of an import batch once, from the batch's rows (pure: no Django).

A report lists an order's rows together and repeats the order's facts on each (Amazon's All
Orders gives them on every line of the order); a later row's value wins where it has one (an
eBay order's own row names the buyer, its item rows may not). The facts given are never
changed: rows that differ are merged into a copy, and rows that repeat the same facts cost one
comparison (most of them: no copy for them).
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import fields, replace
from typing import Any, TypeVar

from inquiries.ingestion.order_reports.core import (
    CANCELLED,
    PARTIALLY_SHIPPED,
    PENDING,
    SHIPPED,
    UNFULFILLABLE,
    UNSHIPPED,
    OrderFacts,
)

# The order's facts an import writes, beside its id.
ORDER_COLUMNS = tuple(field.name for field in fields(OrderFacts) if field.name != "order_id")

K = TypeVar("K", bound=Hashable)  # what names an order: its primary key, or its id in a dry run


def merged_orders(facts: list[OrderFacts]) -> dict[str, OrderFacts]:
    """Each order of the batch once, from its rows: a later row's value wins where it has one (an
    eBay order's own row names the buyer, its item rows may not). Rows that disagree on the
    status (a Walmart order with a shipped and an unshipped line) give the order's status.

    The facts given are not changed: an order whose rows differ is merged into a copy. Most
    orders' rows repeat the same facts (a report gives them on each line): those cost one
    comparison and no copy."""
    orders: dict[str, OrderFacts] = {}
    copied: set[str] = set()
    # Only orders whose rows disagree on the status; all rows so far said the stored one.
    statuses: dict[str, set[str]] = {}
    for order in facts:
        key = order.order_id
        stored = orders.get(key)
        if stored is None:
            orders[key] = order
            continue
        if order.status != stored.status or key in statuses:
            statuses.setdefault(key, {stored.status}).add(order.status)
        if order == stored:
            continue
        if key not in copied:
            stored = orders[key] = replace(stored)
            copied.add(key)
        fill(stored, order, ORDER_COLUMNS)
    for order_id, seen in statuses.items():
        if len(seen) > 1:
            status = status_of_lines(seen)
            if order_id not in copied:
                orders[order_id] = replace(orders[order_id])
                copied.add(order_id)
            orders[order_id].status = status
    return orders


def fill(stored: Any, later: Any, names: Sequence[str]) -> None:
    """Copy onto `stored` each of `later`'s values that is not blank (a later row of the same
    order or part wins where it says something)."""
    for name in names:
        value = getattr(later, name)
        if value not in ("", None):
            setattr(stored, name, value)


def status_of_lines(statuses: set[str]) -> str:
    """An order's status from its lines' (Walmart gives a status per line): cancelled lines aside,
    shipped beside unshipped is partially shipped."""
    live = statuses - {CANCELLED, ""}
    if not live:
        return CANCELLED if CANCELLED in statuses else ""
    if SHIPPED in live and live & {UNSHIPPED, PARTIALLY_SHIPPED}:
        return PARTIALLY_SHIPPED
    return SHIPPED if live == {SHIPPED} else max(live, key=PROGRESS.index)


PROGRESS = [PENDING, UNSHIPPED, PARTIALLY_SHIPPED, SHIPPED, UNFULFILLABLE]


def merged_parts(
    carried: Sequence[tuple[K, Any]], key: str | None, names: Sequence[str]
) -> dict[tuple[K, str | None], tuple[K, Any]]:
    """Rows of one part (lines, shipments...) merged as an order's rows are: `carried` is
    (the order, the facts) per row, `key` the facts' field that tells an order's rows of this
    part apart (None: one per order), `names` the fields merged. (order, key) -> (order, facts)."""
    latest: dict[tuple[K, str | None], tuple[K, Any]] = {}
    copied: set[tuple[K, str | None]] = set()
    for order, facts in carried:
        found_key = (order, getattr(facts, key) if key else None)
        found = latest.get(found_key)
        if found is None:
            latest[found_key] = (order, facts)
        elif facts != found[1]:
            if found_key not in copied:
                found = latest[found_key] = (order, replace(found[1]))
                copied.add(found_key)
            fill(found[1], facts, names)
    return latest
