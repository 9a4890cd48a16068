"""Handing a message's words to its inquiry's search document with the inquiry's own write.

On PostgreSQL each inquiry has a search document kept by triggers (migrations 0017, 0021):
a stored message adds its body by updating its inquiry row. The bulk writers write that
row in the same transaction anyway, so they pass the body along as the row's `search_seed`
(folded in by the inquiry trigger, never stored) and store the messages inside
`words_seeded()`, where the message trigger leaves the inquiry alone: one new version of
the row instead of two. Elsewhere (SQLite) there is no document and nothing to do.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from django.db import connection
from psycopg.pq import TransactionStatus

SEED_COLUMN = "search_seed"


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
