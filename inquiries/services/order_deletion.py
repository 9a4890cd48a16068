"""Deleting orders: the one way to, because it also unlinks their inquiries.

`Inquiry.linked_order` has no database constraint and does nothing on delete (migration
0056): with one, PostgreSQL would look for the inquiries still pointing at each deleted order
with a scan of the whole inquiry table, the link column being in no index (migration 0054
keeps linking a heap-only update). An inquiry is linked only to the order of its own account
whose marketplace order id is its order id (`services.orders.link_inquiries`), so the
inquiries of deleted orders are found by the indexed (account, order_id) instead.
"""

from __future__ import annotations

from collections import defaultdict
from contextlib import ExitStack

from django.db import transaction
from django.db.models import QuerySet

from inquiries.models import Account, Inquiry, Order
from inquiries.services import order_rollup

# Order ids per UPDATE: under SQLite's limit on query parameters (PostgreSQL sends one array).
UNLINK_BATCH = 500


@transaction.atomic
def delete_orders(*, orders: QuerySet[Order]) -> int:
    """Delete `orders` with their lines, shipments and other parts, and set `linked_order` to
    none on every inquiry linked to one of them, in one transaction; the number of orders
    deleted. The order rollup's days those orders were on are counted again (where an account's
    rollup is kept), so the health figures lose them at once.

    The orders go first, so an inquiry that a concurrent import linked to one of them before
    the unlink ran is unlinked too (the UPDATE waits for that row and rereads it). A link
    written between the unlink and the commit is not: the constraint's lock used to stop it;
    the next `link_inquiries(inquiry_ids=...)` of that inquiry clears it."""
    # The orders are read once, and exactly those are deleted: an order a concurrent import adds
    # that the queryset would match too is left alone (its inquiries would not be unlinked).
    named: dict[int, list[str]] = defaultdict(list)
    pks: list[int] = []
    for pk, account_id, order_id in orders.order_by().values_list("pk", "account_id", "marketplace_order_id"):
        pks.append(pk)
        named[account_id].append(order_id)
    if not named:
        return 0
    accounts = Account.objects.in_bulk(list(named))
    with ExitStack() as rollups:
        for account_id, order_ids in named.items():
            rollups.enter_context(order_rollup.kept_current(accounts[account_id], order_ids))
        deleted = 0
        for start in range(0, len(pks), UNLINK_BATCH):  # SQLite's limit on parameters again
            _, per_model = Order.objects.filter(pk__in=pks[start : start + UNLINK_BATCH]).delete()
            deleted += per_model.get(Order._meta.label, 0)
    for account_id, order_ids in named.items():
        for start in range(0, len(order_ids), UNLINK_BATCH):
            Inquiry.objects.filter(
                account_id=account_id,
                order_id__any=order_ids[start : start + UNLINK_BATCH],
                linked_order__isnull=False,
            ).update(linked_order=None)
    return deleted
