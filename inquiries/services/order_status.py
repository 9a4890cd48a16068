"""Order-status questions asked after the promised delivery date become delivery complaints.

"Where is my order?" is a question (topic `order_status`, not a complaint) while the order
is not yet due, and a late-delivery complaint once the date the marketplace promised the
buyer (`Order.deliver_by`) has passed: that is when the buyer may open an item-not-received
claim, and when the message should count in delivery clusters and complaint rates.

The linked order is only known once the inquiry is linked to an imported order
(`services.orders.link_inquiries`), which may be long after the message came; so the check
runs there, on the inquiries just linked, and compares the promised date with the moment
the customer asked (`opened_at`). A topic an agent set is never overruled. Each change
writes a `topic_changed` event (not a correction: nobody said the first topic was wrong),
which is also what makes the cluster sweep look at the inquiry again.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from django.db import connection, transaction
from django.db.models import F, QuerySet

from inquiries.complaints.rules import after_promised_delivery
from inquiries.models import EventKind, Inquiry, InquiryEvent, Topic

QUESTION = "order_status"
AGENT = "agent"  # the `topic_source` of a topic an agent set: never overruled
COMPLAINT = after_promised_delivery(QUESTION, overdue=True)


def file_overdue_order_questions(*, inquiries: QuerySet[Inquiry], now: datetime) -> int:
    """Among `inquiries`, re-file the order-status questions asked after their linked order's
    promised delivery date as delivery complaints; return how many changed."""
    overdue = list(
        inquiries.filter(topic__key=QUESTION, linked_order__deliver_by__lt=F("opened_at"))
        .exclude(topic_source=AGENT)
        .values_list("pk", flat=True)
    )
    return file_as_complaints(overdue, now=now)


def file_as_complaints(overdue: Sequence[int], *, now: datetime) -> int:
    """Re-file the inquiries `overdue` (found overdue by `file_overdue_order_questions()`'s rule,
    or by the linking statement that applies it on PostgreSQL, `orders._link_by_join`) that are
    still order-status questions as delivery complaints; return how many changed."""
    if not overdue:
        return 0
    complaint = Topic.objects.filter(key=COMPLAINT).first()
    if complaint is None:  # an admin deleted the topic: nothing to file them under
        return 0
    # Atomic only once there is something to write: the look-up alone runs inside every order
    # import batch, which should not pay for a savepoint each time.
    with transaction.atomic():
        overdue = _refile(overdue, complaint, now)
        changed = len(overdue)
        InquiryEvent.objects.bulk_create(
            InquiryEvent(
                inquiry_id=pk,
                kind=EventKind.TOPIC_CHANGED,
                at=now,
                data={
                    "from": QUESTION,
                    "to": COMPLAINT,
                    "correction": False,
                    "reason": "promised delivery date passed",
                },
            )
            for pk in overdue
        )
    return changed


def _refile(pks: Sequence[int], complaint: Topic, now: datetime) -> list[int]:
    """Move those of `pks` that are still order-status questions not set by an agent to
    `complaint`, in one UPDATE; the ids it changed (RETURNING: PostgreSQL, and SQLite since 3.35),
    so an event is written only for a change made, and a topic an agent set meanwhile stands."""
    table, topics = Inquiry._meta.db_table, Topic._meta.db_table
    marks = ", ".join(["%s"] * len(pks))
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET topic_id = %s, updated_at = %s WHERE id IN ({marks}) "  # noqa: S608
            f"AND topic_id IN (SELECT id FROM {topics} WHERE key = %s) AND topic_source <> %s RETURNING id",
            [complaint.pk, now, *pks, QUESTION, AGENT],
        )
        return [row[0] for row in cursor.fetchall()]
