"""The inquiry's search-document trigger fires only for updates that set a column it reads.

`inquiries_inquiry_document()` (0017, 0021) recomputes the document when the subject, order
id or customer changed, and adds `search_seed`'s words; for any other update it returns the
row as it is. Firing it anyway cost a PL/pgSQL call per row: linking 100,000 inquiries to
their orders (an UPDATE of `linked_order_id` alone) spent 0.3 to 0.7 s in it. `UPDATE OF`
skips the call when the statement's SET list names none of those columns, where the function
would have done nothing (no other trigger changes them). PostgreSQL only, as the trigger.
"""

from django.db import migrations

FORWARD = """
DROP TRIGGER IF EXISTS inquiries_inquiry_document ON inquiries_inquiry;
CREATE TRIGGER inquiries_inquiry_document
    BEFORE INSERT OR UPDATE OF subject, order_id, customer_id, search_seed ON inquiries_inquiry
    FOR EACH ROW EXECUTE FUNCTION inquiries_inquiry_document();
"""

BACKWARD = """
DROP TRIGGER IF EXISTS inquiries_inquiry_document ON inquiries_inquiry;
CREATE TRIGGER inquiries_inquiry_document BEFORE INSERT OR UPDATE ON inquiries_inquiry
    FOR EACH ROW EXECUTE FUNCTION inquiries_inquiry_document();
"""


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(FORWARD, params=None)


def backward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(BACKWARD, params=None)


class Migration(migrations.Migration):
    dependencies = [("inquiries", "0034_default_sla_policies")]

    operations = [migrations.RunPython(forward, backward)]
