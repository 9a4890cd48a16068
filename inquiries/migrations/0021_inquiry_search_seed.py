"""A message's words reach its inquiry's search document with the inquiry's own write (PostgreSQL).

The triggers of 0017 add each message body to its inquiry's document by updating the
inquiry row after the message is stored. When the inquiry is written in the same
transaction anyway (a new conversation's INSERT, a follow-up's UPDATE of the inquiry's
dates and deadlines), that is a second new version of a row with two dozen indexes: the
larger part of what a bulk import costs the database.

So a writer may hand the words over with the inquiry row: `search_seed`, a column the
inquiry trigger folds into `search_document` and clears on the spot, so it is never
stored. The messages written meanwhile are marked, for their own trigger, by the setting
`cstracker.message_words = 'seeded'`, local to the transaction and set only around their
INSERT (`services/documents.py`). Every other writer is unchanged.
"""

from importlib import import_module

from django.db import migrations

CAP = 20000  # as in 0017: characters of a message body that are indexed

FORWARD = f"""
ALTER TABLE inquiries_inquiry ADD COLUMN IF NOT EXISTS search_seed text;

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
    IF NEW.search_seed IS NOT NULL THEN
        NEW.search_document := COALESCE(NEW.search_document, ''::tsvector)
                               || strip(to_tsvector('simple', left(NEW.search_seed, {CAP})));
        NEW.search_seed := NULL;
    END IF;
    RETURN NEW;
END
$$;

CREATE OR REPLACE FUNCTION inquiries_message_document() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.inquiry_id IS NOT NULL AND COALESCE(NEW.body_text, '') <> ''
       AND current_setting('cstracker.message_words', true) IS DISTINCT FROM 'seeded' THEN
        UPDATE inquiries_inquiry
        SET search_document = COALESCE(search_document, ''::tsvector)
                              || strip(to_tsvector('simple', left(NEW.body_text, {CAP})))
        WHERE id = NEW.inquiry_id;
    END IF;
    RETURN NULL;
END
$$;
"""


def _0017():
    return import_module("inquiries.migrations.0017_inquiry_search_document")


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for statement in _0017()._statements(FORWARD):
            schema_editor.execute(statement, params=None)


def backward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        # 0017's functions again (its script also recreates the triggers and refills the
        # documents, which changes nothing), then the column goes.
        for statement in _0017()._statements(_0017().FORWARD):
            schema_editor.execute(statement, params=None)
        schema_editor.execute("ALTER TABLE inquiries_inquiry DROP COLUMN IF EXISTS search_seed", params=None)


class Migration(migrations.Migration):
    dependencies = [
        ("inquiries", "0020_customer_rename_document"),
    ]

    operations = [migrations.RunPython(forward, backward, elidable=False)]
