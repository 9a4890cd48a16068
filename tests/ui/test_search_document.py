"""The queue's search finds words wherever they arrive: later messages, agents' replies and
notes, imported batches. On PostgreSQL that is the per-inquiry document the triggers keep."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from inquiries import services
from inquiries.selectors.queue import QueueFilters, queue_page
from inquiries.services.recording import record_messages
from tests import factories
from tests.ui.conftest import inbound

pytestmark = pytest.mark.django_db


def found(user, text: str) -> list[int]:
    return [row.pk for row in queue_page(user, QueueFilters(q=text), now=timezone.now()).rows]


def test_a_later_customer_message_and_an_agents_reply_and_note_are_searchable(agent, channel, policy):
    inquiry = inbound(channel, subject="Hello", body_text="First words", sender_address="a@example.com")
    assert found(agent, "zanzibar") == []
    services.record_message(
        channel=channel,
        incoming=factories.incoming(
            sender_address="a@example.com",
            subject="Re: Hello",
            body_text="The zanzibar lamp flickers",
            in_reply_to="",
            received_at=timezone.now() - timedelta(minutes=1),
        ),
        now=timezone.now(),
    )
    # Threaded by sender and subject or opened anew: either way the word is found.
    assert found(agent, "zanzibar")
    services.reply(inquiry=inquiry, author=agent, body_text="We will send a quokka replacement")
    assert inquiry.pk in found(agent, "quokka")
    services.reply(inquiry=inquiry, author=agent, body_text="Warehouse code wombat7", internal=True)
    assert found(agent, "wombat7") == [inquiry.pk]


def test_messages_recorded_in_bulk_are_searchable(agent, channel, policy):
    items = [
        (channel, factories.incoming(sender_address=f"bulk{n}@example.com", body_text=f"Batch word kiwi{n}"))
        for n in range(3)
    ]
    outcomes = record_messages(items)
    assert found(agent, "kiwi1") == [outcomes[1].message.inquiry_id]
    assert len(found(agent, "kiwi")) == 3  # every word is a prefix


def test_every_word_must_match_and_case_does_not_matter(agent, channel, policy):
    both = inbound(channel, sender_address="b@example.com", subject="Blue Teapot", body_text="lid CRACKED")
    inbound(channel, sender_address="c@example.com", subject="Blue Teapot", body_text="fine")
    assert found(agent, "teapot cracked") == [both.pk]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the document is PostgreSQL's")
def test_the_document_column_stays_out_of_the_model_and_holds_every_part(agent, channel, policy):
    inquiry = inbound(
        channel,
        sender_address="jane@example.net",
        sender_name="Jane Dupont",
        subject="Kettle",
        body_text="Spout leaks",
        order_id="402-1234567-7654321",
    )
    assert "search_document" not in {field.name for field in type(inquiry)._meta.get_fields()}
    with connection.cursor() as cursor:
        cursor.execute("SELECT search_document::text FROM inquiries_inquiry WHERE id = %s", [inquiry.pk])
        document = cursor.fetchone()[0]
    # The 'simple' parser splits an order id at its hyphens; the search splits the query alike.
    for word in ("kettle", "spout", "leaks", "jane@example.net", "dupont", "402", "-7654321"):
        assert f"'{word}'" in document, (word, document)
    assert found(agent, "402-1234567-7654321") == [inquiry.pk]
    assert found(agent, "1234567") == []  # a prefix of a word, not a substring


def test_a_renamed_customer_is_found_under_the_new_name_only(agent, channel, policy):
    inquiry = inbound(channel, sender_address="d@example.com", sender_name="", subject="Where is my parcel")
    customer = inquiry.customer
    assert found(agent, "Philippa") == []
    customer.name = "Philippa Quartermaine"
    customer.save()
    assert found(agent, "Quartermaine") == [inquiry.pk]
    customer.name = "Philippa Brandt"
    customer.save()
    assert found(agent, "Quartermaine") == []
    assert found(agent, "brandt") == [inquiry.pk]
    assert found(agent, "parcel") == [inquiry.pk]  # the rest of the document is rebuilt with it


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the document is PostgreSQL's")
def test_words_handed_over_with_the_inquiry_row_make_the_document_a_full_rebuild_would(
    agent, channel, policy
):
    # New conversations and replies threading into them, recorded in bulk: the words reach
    # each document with the inquiry's own write, not by a second update per message.
    first = record_messages(
        [
            (
                channel,
                factories.incoming(sender_address=f"s{n}@example.com", body_text=f"Opening words ibis{n}"),
            )
            for n in range(4)
        ]
    )
    replies = record_messages(
        [
            (
                channel,
                factories.incoming(
                    sender_address=f"s{n}@example.com",
                    subject="Re: Hello",
                    body_text=f"Reply words heron{n}",
                    in_reply_to=first[n].message.external_id,
                ),
            )
            for n in range(4)
        ]
    )
    assert {r.message.inquiry_id for r in replies} == {r.message.inquiry_id for r in first}
    cap = 20000
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            SELECT i.id, i.search_document::text, (inquiries_own_document(i.subject, i.order_id, i.customer_id)
                   || strip(to_tsvector('simple', string_agg(left(m.body_text, {cap}), ' '))))::text,
                   i.search_seed
            FROM inquiries_inquiry i JOIN inquiries_message m ON m.inquiry_id = i.id
            GROUP BY i.id
            """
        )
        rows = cursor.fetchall()
    assert len(rows) == 4
    for _, stored, rebuilt, seed in rows:
        assert stored == rebuilt
        assert seed is None  # handed over, never kept
    assert found(agent, "heron2 ibis2") == [first[2].message.inquiry_id]
    # Outside the bulk writers the message trigger still does the work.
    services.reply(inquiry=first[0].message.inquiry, author=agent, body_text="Answer with egret")
    assert found(agent, "egret") == [first[0].message.inquiry_id]


def test_messages_stored_after_a_seeded_block_that_failed_still_index_their_words(agent, channel, policy):
    from inquiries.services import documents

    with pytest.raises(ValueError), documents.words_seeded():
        raise ValueError("a failure that the caller goes on after")
    inquiry = inbound(channel, sender_address="after@example.com", subject="Later", body_text="Word puffin")
    assert found(agent, "puffin") == [inquiry.pk]
