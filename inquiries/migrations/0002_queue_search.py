"""GIN indexes for the queue's full-text search (PostgreSQL only).

They are expression indexes, written as SQL on purpose: the model state does not change
(the models declare no index here), and on SQLite the queue falls back to substring
matching, so nothing is created there. The expressions must stay identical to the ones
`inquiries.selectors.search` builds with SearchVector(..., config="simple"), or PostgreSQL
will not use them. CONCURRENTLY keeps the tables writable while a large index is built,
which is why this migration is not atomic.
"""

from django.db import migrations

INDEXES = {
    "inquiry_search_gin": (
        "inquiries_inquiry",
        "to_tsvector('simple'::regconfig, COALESCE(subject, '') || ' ' || COALESCE(order_id, ''))",
    ),
    "customer_search_gin": (
        "inquiries_customer",
        "to_tsvector('simple'::regconfig, COALESCE(address, '') || ' ' || COALESCE(name, ''))",
    ),
    "message_body_search_gin": (
        "inquiries_message",
        "to_tsvector('simple'::regconfig, COALESCE(body_text, ''))",
    ),
}


def create_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, (table, expression) in INDEXES.items():
        schema_editor.execute(f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {name} ON {table} USING GIN (({expression}))")


def drop_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in INDEXES:
        schema_editor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {name}")


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("inquiries", "0001_initial"),
    ]

    operations = [
        migrations.RunPython(create_indexes, drop_indexes, elidable=False),
    ]
