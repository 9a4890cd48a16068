"""Handing a message's words to its inquiry's search document with the inquiry's own write.

On PostgreSQL each inquiry has a search document kept by triggers (migrations 0017, 0021):
a stored message adds its body by updating its inquiry row. The bulk writers write that
row in the same transaction anyway, so they pass the body along as the row's `search_seed`
(folded in by the inquiry trigger, never stored) and store the messages inside
`words_seeded()`, where the message trigger leaves the inquiry alone: one new version of
the row instead of two. Elsewhere (SQLite) there is no document and nothing to do.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager

from django.db import connection
from psycopg.pq import TransactionStatus

SEED_COLUMN = "search_seed"
BODY_CAP = 20000  # characters of a message body that are indexed (as in the triggers, migration 0017)


def seed_columns(bodies: Sequence[str]) -> dict[str, list[str | None]] | None:
    """The extra column for `bulk.insert_rows()` / `update_rows()`, one body per row; None
    where there is no document to seed."""
    if connection.vendor != "postgresql":
        return None
    return {SEED_COLUMN: [body or None for body in bodies]}


@contextmanager
def words_seeded() -> Iterator[None]:
    """Messages stored inside leave their words to the seed of their inquiry's row.

    Set for this transaction only, and reset on the way out. Only for messages whose
    inquiry rows are written with their seeds in the same transaction.
    """
    if connection.vendor != "postgresql":
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT set_config('cstracker.message_words', 'seeded', true)")
    try:
        yield
    finally:
        # After a database error the transaction can only be rolled back, which undoes the
        # setting anyway; otherwise (even if the caller goes on after an exception) reset it.
        if connection.connection.info.transaction_status != TransactionStatus.INERROR:
            with connection.cursor() as cursor:
                cursor.execute("SELECT set_config('cstracker.message_words', '', true)")


def rebuild(inquiry_ids: Iterable[int]) -> None:
    """Write these inquiries' search documents again from their own columns and the messages
    they hold now: after messages moved from one inquiry to another (the triggers only add the
    words of a message as it is stored). One UPDATE; nothing where there is no document."""
    ids = sorted(set(inquiry_ids))
    if connection.vendor != "postgresql" or not ids:
        return
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE inquiries_inquiry i SET search_document ="
            " inquiries_own_document(i.subject, i.order_id, i.customer_id)"
            " || COALESCE((SELECT strip(to_tsvector('simple', string_agg(left(m.body_text, %s), ' ')))"
            " FROM inquiries_message m WHERE m.inquiry_id = i.id), ''::tsvector)"
            " WHERE i.id = ANY(%s)",
            [BODY_CAP, ids],
        )
