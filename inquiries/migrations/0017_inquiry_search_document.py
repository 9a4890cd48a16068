"""One full-text document per inquiry, kept by triggers (PostgreSQL only).

The queue's search used to test each word against three GIN indexes (the inquiry's subject
and order id, its customer, its message bodies) through `id IN (...)` subqueries: a common
word meant hashing hundreds of thousands of matching messages before the first row. With
every searchable word of an inquiry in one `tsvector` column on the inquiry row, the search
is a plain predicate on the row: the planner can walk the queue's deadline index and test
rows as it goes (a common word), or start from this column's GIN index (a rare one), and
its column statistics tell it which.

The column is not part of the Django model (nothing reads it but the search's SQL), so
SQLite, where the queue falls back to substring matching, never sees it. Triggers keep it:
an inquiry's own words and its customer's when the inquiry is written, each message body
as the message is stored (positions stripped, bodies capped, so long threads stay small).
"""

from django.db import migrations

CAP = 20000  # characters of a message body that are indexed
OLD_INDEXES = ("inquiry_search_gin", "customer_search_gin", "message_body_search_gin")

FORWARD = f"""
ALTER TABLE inquiries_inquiry ADD COLUMN IF NOT EXISTS search_document tsvector;

CREATE OR REPLACE FUNCTION inquiries_own_document(subject text, order_id text, customer bigint)
RETURNS tsvector LANGUAGE sql STABLE AS $$
    SELECT strip(
        to_tsvector('simple', COALESCE(subject, '') || ' ' || COALESCE(order_id, ''))
        || COALESCE((SELECT to_tsvector('simple', COALESCE(c.address, '') || ' ' || COALESCE(c.name, ''))
                     FROM inquiries_customer c WHERE c.id = customer), ''::tsvector)
    )
$$;

CREATE OR REPLACE FUNCTION inquiries_inquiry_document() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        NEW.search_document := inquiries_own_document(NEW.subject, NEW.order_id, NEW.customer_id);
    ELSIF NEW.subject IS DISTINCT FROM OLD.subject OR NEW.order_id IS DISTINCT FROM OLD.order_id
          OR NEW.customer_id IS DISTINCT FROM OLD.customer_id THEN
        NEW.search_document := inquiries_own_document(NEW.subject, NEW.order_id, NEW.customer_id)
            || COALESCE((SELECT strip(to_tsvector('simple', string_agg(left(m.body_text, {CAP}), ' ')))
                         FROM inquiries_message m WHERE m.inquiry_id = NEW.id), ''::tsvector);
    END IF;
    RETURN NEW;
END
$$;

CREATE OR REPLACE FUNCTION inquiries_message_document() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.inquiry_id IS NOT NULL AND COALESCE(NEW.body_text, '') <> '' THEN
        UPDATE inquiries_inquiry
        SET search_document = COALESCE(search_document, ''::tsvector)
                              || strip(to_tsvector('simple', left(NEW.body_text, {CAP})))
        WHERE id = NEW.inquiry_id;
    END IF;
    RETURN NULL;
END
$$;

DROP TRIGGER IF EXISTS inquiries_inquiry_document ON inquiries_inquiry;
CREATE TRIGGER inquiries_inquiry_document BEFORE INSERT OR UPDATE ON inquiries_inquiry
    FOR EACH ROW EXECUTE FUNCTION inquiries_inquiry_document();
DROP TRIGGER IF EXISTS inquiries_message_document ON inquiries_message;
CREATE TRIGGER inquiries_message_document AFTER INSERT ON inquiries_message
    FOR EACH ROW EXECUTE FUNCTION inquiries_message_document();

UPDATE inquiries_inquiry i
SET search_document = inquiries_own_document(i.subject, i.order_id, i.customer_id)
    || COALESCE((SELECT strip(to_tsvector('simple', string_agg(left(m.body_text, {CAP}), ' ')))
                 FROM inquiries_message m WHERE m.inquiry_id = i.id), ''::tsvector);
"""

BACKWARD = """
DROP TRIGGER IF EXISTS inquiries_message_document ON inquiries_message;
DROP TRIGGER IF EXISTS inquiries_inquiry_document ON inquiries_inquiry;
DROP FUNCTION IF EXISTS inquiries_message_document();
DROP FUNCTION IF EXISTS inquiries_inquiry_document();
DROP FUNCTION IF EXISTS inquiries_own_document(text, text, bigint);
DROP INDEX IF EXISTS inquiry_search_document_gin;
ALTER TABLE inquiries_inquiry DROP COLUMN IF EXISTS search_document;
"""


def _statements(script: str) -> list[str]:
    """The script's statements; a function body between $$ keeps its own semicolons."""
    statements, current, quoted = [], [], False
    for line in script.strip().splitlines():
        current.append(line)
        quoted ^= line.count("$$") % 2 == 1
        if not quoted and line.rstrip().endswith(";"):
            statements.append("\n".join(current))
            current = []
    return statements


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for statement in _statements(FORWARD):
            schema_editor.execute(statement, params=None)


def backward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for statement in _statements(BACKWARD):
            schema_editor.execute(statement, params=None)


def create_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            "CREATE INDEX CONCURRENTLY IF NOT EXISTS inquiry_search_document_gin "
            "ON inquiries_inquiry USING GIN (search_document)",
            params=None,
        )
        schema_editor.execute("ANALYZE inquiries_inquiry (search_document)", params=None)
        # The three expression indexes of 0002 served the old search only; each one cost every
        # message and inquiry write a GIN update.
        for name in OLD_INDEXES:
            schema_editor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {name}", params=None)


def recreate_old_indexes(apps, schema_editor):
    from importlib import import_module

    import_module("inquiries.migrations.0002_queue_search").create_indexes(apps, schema_editor)


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("inquiries", "0016_queue_urgency"),
    ]

    operations = [
        migrations.RunPython(forward, backward, elidable=False),
        migrations.RunPython(create_index, recreate_old_indexes, elidable=False),
    ]
