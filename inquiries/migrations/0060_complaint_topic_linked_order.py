"""The complaint rates' index carries the inquiry's linked order (health page, issue 21).

`inquiry_complaint_topic` (account, topic, opened_at; migration 0004, raw SQL outside the models'
state) gains `INCLUDE (linked_order_id)` on PostgreSQL: the health computation's complaint count
per topic (with the "where is my order" questions, which look up the linked order) is then an
index-only scan of the window's complaint inquiries instead of a scan of the whole table. The
key columns are unchanged, so the queries that used the index still do. SQLite has no INCLUDE:
its index stays as it was.
"""

from django.db import migrations

OLD = "CREATE INDEX inquiry_complaint_topic ON inquiries_inquiry (account_id, topic_id, opened_at)"
NEW = OLD + " INCLUDE (linked_order_id)"


def rebuild(sql):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor != "postgresql":
            return
        schema_editor.execute("DROP INDEX IF EXISTS inquiry_complaint_topic")
        schema_editor.execute(sql)

    return run


class Migration(migrations.Migration):
    dependencies = [
        ("inquiries", "0059_translatable_model_texts"),
    ]

    operations = [
        migrations.RunPython(rebuild(NEW), rebuild(OLD)),
    ]
