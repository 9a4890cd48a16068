"""A customer's new name or address reaches the search documents of their inquiries (PostgreSQL).

The inquiry trigger of 0017 writes the customer's words into an inquiry's document when the
inquiry is written; a customer renamed afterwards (the admin, or a first message that had no
display name followed by one that has) stayed findable only under the old words. This
trigger rebuilds the documents of that customer's inquiries when the name or the address
changes: rare, and one customer's inquiries at a time.
"""

from django.db import migrations

CAP = 20000  # as in 0017: characters of a message body that are indexed

FORWARD = f"""
CREATE OR REPLACE FUNCTION inquiries_customer_document() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.address IS DISTINCT FROM OLD.address OR NEW.name IS DISTINCT FROM OLD.name THEN
        UPDATE inquiries_inquiry i
        SET search_document = inquiries_own_document(i.subject, i.order_id, i.customer_id)
            || COALESCE((SELECT strip(to_tsvector('simple', string_agg(left(m.body_text, {CAP}), ' ')))
                         FROM inquiries_message m WHERE m.inquiry_id = i.id), ''::tsvector)
        WHERE i.customer_id = NEW.id;
    END IF;
    RETURN NULL;
END
$$;

DROP TRIGGER IF EXISTS inquiries_customer_document ON inquiries_customer;
CREATE TRIGGER inquiries_customer_document AFTER UPDATE ON inquiries_customer
    FOR EACH ROW EXECUTE FUNCTION inquiries_customer_document();
"""

BACKWARD = """
DROP TRIGGER IF EXISTS inquiries_customer_document ON inquiries_customer;
DROP FUNCTION IF EXISTS inquiries_customer_document();
"""


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        from importlib import import_module

        for statement in import_module("inquiries.migrations.0017_inquiry_search_document")._statements(
            FORWARD
        ):
            schema_editor.execute(statement, params=None)


def backward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(BACKWARD, params=None)


class Migration(migrations.Migration):
    dependencies = [
        ("inquiries", "0019_inquiry_autovacuum"),
    ]

    operations = [migrations.RunPython(forward, backward, elidable=False)]
