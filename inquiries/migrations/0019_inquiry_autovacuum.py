"""Vacuum the inquiry table sooner (PostgreSQL only).

Every message, reply and clock change rewrites its inquiry's row, and the row carries a
GIN-indexed search document, so each write leaves a dead version in the search indexes until
VACUUM removes it. At the default thresholds (20% of the table dead) a million-row table
holds up to 200,000 dead versions, and a search for a common word rechecks each one against
the heap. Two per cent keeps the indexes close to the live rows; the queue's planner
statistics are refreshed as often.
"""

from django.db import migrations

TUNED = (
    "ALTER TABLE inquiries_inquiry SET (autovacuum_vacuum_scale_factor = 0.02, "
    "autovacuum_analyze_scale_factor = 0.02)"
)
DEFAULTS = (
    "ALTER TABLE inquiries_inquiry RESET (autovacuum_vacuum_scale_factor, autovacuum_analyze_scale_factor)"
)


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(TUNED, params=None)


def backward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DEFAULTS, params=None)


class Migration(migrations.Migration):
    dependencies = [
        ("inquiries", "0018_open_search_gin"),
    ]

    operations = [migrations.RunPython(forward, backward, elidable=False)]
