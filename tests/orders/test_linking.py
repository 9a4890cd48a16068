"""Linking inquiries to their orders writes no index entry: the link column stays out of every
index (on PostgreSQL each linked row is then a heap-only tuple, bench/orders.py), and an
order's inquiries are found by their indexed order id instead."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection

from inquiries import models as m
from inquiries.services.orders import link_inquiries
from tests.complaints.helpers import T0, ingest

pytestmark = pytest.mark.django_db

LINK = "linked_order_id"
ORDER, OTHER, THIRD = "111-2223334-5556667", "111-2223334-5556668", "111-2223334-5556669"


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


def test_a_batch_links_its_inquiries_and_looks_for_overdue_questions_in_one_statement(
    channel, django_assert_num_queries
):
    """An import batch's linking (`link_inquiries(account_id=..., order_ids=...)`): on PostgreSQL
    the link UPDATE also finds the order-status questions now past their promised delivery date
    (one statement; two before: the UPDATE, then a look-up of the same inquiries); elsewhere the
    UPDATE and the look-up. What it files is tested in tests/complaints/test_order_status.py."""
    asked = ingest(channel, subject="Order", body="Where is my order?", order_id=ORDER).inquiry
    before = ingest(channel, subject="Order", body="Where is my order?", order_id=OTHER).inquiry
    m.Order.objects.create(account=channel.account, marketplace_order_id=OTHER)
    link_inquiries(account_id=channel.account_id, order_ids=[OTHER])
    m.Order.objects.create(account=channel.account, marketplace_order_id=ORDER, deliver_by=T0 + timedelta(1))

    with django_assert_num_queries(1 if connection.vendor == "postgresql" else 2):
        assert link_inquiries(account_id=channel.account_id, order_ids=[ORDER, OTHER]) == 1

    asked.refresh_from_db()
    before.refresh_from_db()
    assert (asked.linked_order.marketplace_order_id, before.linked_order.marketplace_order_id) == (
        ORDER,
        OTHER,
    )
    assert (asked.topic.key, before.topic.key) == ("order_status", "order_status")


def test_the_one_statement_files_both_newly_and_earlier_linked_overdue_questions(channel):
    """Overdue questions found by the linking statement: one linked by it, one linked before
    whose order's promised date came later; a question on time stays."""
    late = ingest(channel, subject="Order", body="Where is my order?", order_id=ORDER).inquiry
    earlier = ingest(channel, subject="Order", body="Where is my order?", order_id=OTHER).inquiry
    on_time = ingest(channel, subject="Order", body="Where is my order?", order_id=THIRD).inquiry
    m.Order.objects.create(account=channel.account, marketplace_order_id=OTHER)
    link_inquiries(account_id=channel.account_id, order_ids=[OTHER])
    m.Order.objects.filter(marketplace_order_id=OTHER).update(deliver_by=T0 - timedelta(1))
    m.Order.objects.create(account=channel.account, marketplace_order_id=ORDER, deliver_by=T0 - timedelta(1))
    m.Order.objects.create(account=channel.account, marketplace_order_id=THIRD, deliver_by=T0 + timedelta(1))

    assert link_inquiries(account_id=channel.account_id, order_ids=[ORDER, OTHER, THIRD]) == 2

    topics = dict(
        m.Inquiry.objects.filter(pk__in=[late.pk, earlier.pk, on_time.pk]).values_list("pk", "topic__key")
    )
    assert topics == {late.pk: "delivery", earlier.pk: "delivery", on_time.pk: "order_status"}
    assert (
        m.InquiryEvent.objects.filter(kind=m.EventKind.TOPIC_CHANGED, inquiry__in=[late, earlier]).count()
        == 2
    )
