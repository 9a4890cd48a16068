"""Linking inquiries to their orders writes no index entry: the link column stays out of every
index (on PostgreSQL each linked row is then a heap-only tuple, bench/orders.py), and an
order's inquiries are found by their indexed order id instead."""

from __future__ import annotations

import pytest
from django.db import connection

from inquiries import models as m

pytestmark = pytest.mark.django_db

LINK = "linked_order_id"


def index_definitions(table: str) -> dict[str, str]:
    """Each index of `table` (name -> its SQL, or its columns where the database keeps no SQL)."""
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, table)
        if connection.vendor == "postgresql":
            cursor.execute("SELECT indexname, indexdef FROM pg_indexes WHERE tablename = %s", [table])
        else:
            cursor.execute(
                "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = %s", [table]
            )
        sql = {name: definition or "" for name, definition in cursor.fetchall()}
    return {
        name: sql.get(name) or " ".join(column or "" for column in found["columns"] or [])
        for name, found in constraints.items()
        if found["index"]
    }


def test_no_index_of_the_inquiry_table_names_the_order_link():
    # Not even as a partial index's condition: a changed column in any index's definition
    # makes PostgreSQL write an entry in every index for each linked row.
    definitions = index_definitions(m.Inquiry._meta.db_table)

    assert "inquiry_order_id" in definitions  # what an order's inquiries are found by
    assert [name for name, definition in definitions.items() if LINK in definition] == []
