"""Linking an inquiry to its order rewrites no index (PostgreSQL: a heap-only tuple).

`services.orders.link_inquiries` sets `linked_order` on inquiries long after they were
written (the order report arrives later). PostgreSQL writes every UPDATE as a new row
version; when no indexed column changes and the row's page has room, the new version is a
heap-only tuple (HOT) and no index gets an entry. Otherwise each of the inquiry table's
twenty indexes does, two of them GIN over the search document: linking 100,000 inquiries
spent most of its time there (docs/benchmarks.md, `orders.py`).

So `linked_order` is in no index any more (the partial index on it goes: the only readers
by order, the plan of action's annex, find an order's inquiries by their indexed order id),
and the table leaves half of each page free. A catch-up links every inquiry of an account at
once, in one transaction: each page must hold a second version of each of its rows, and no
old version can be pruned before the statement commits. The same room serves the table's
other updates (a reply, a clock change), whose new version now stays on its page.

The fillfactor applies to pages written from now on; `VACUUM FULL inquiries_inquiry` (or
pg_repack, without the long lock) applies it to a table already full. SQLite: nothing to do.
"""

from django.db import migrations

FILLFACTOR = 50


def set_fillfactor(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"ALTER TABLE inquiries_inquiry SET (fillfactor = {FILLFACTOR})", params=None)


def reset_fillfactor(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("ALTER TABLE inquiries_inquiry RESET (fillfactor)", params=None)


class Migration(migrations.Migration):
    dependencies = [
        ("inquiries", "0052_order_metric_rollup"),
    ]

    operations = [
        migrations.RemoveIndex(model_name="inquiry", name="inquiry_linked_order"),
        migrations.RunPython(set_fillfactor, reset_fillfactor, elidable=False),
    ]
