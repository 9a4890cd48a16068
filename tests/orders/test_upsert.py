"""bulk.upsert_rows and upsert_count: one upsert per batch, the same rows on PostgreSQL (COPY) and
SQLite (bulk_create)."""

from __future__ import annotations

import pytest
from django.db import transaction

from inquiries import models as m
from inquiries.services.bulk import upsert_count, upsert_rows

pytestmark = pytest.mark.django_db


def test_it_inserts_new_rows_updates_existing_ones_and_returns_both(amazon):
    order = m.Order.objects.create(account=amazon, marketplace_order_id="1", currency="USD")
    fields = ["account_id", "marketplace_order_id", "currency"]

    with transaction.atomic():
        written = upsert_rows(
            m.Order,
            fields,
            [(amazon.pk, "1", "EUR"), (amazon.pk, "2", "GBP")],
            unique=["account", "marketplace_order_id"],
            update=["currency"],
            returning=["marketplace_order_id", "pk"],
        )

    stored = dict(m.Order.objects.values_list("marketplace_order_id", "pk"))
    assert sorted(written) == [("1", order.pk, False), ("2", stored["2"], True)]
    assert dict(m.Order.objects.values_list("marketplace_order_id", "currency")) == {"1": "EUR", "2": "GBP"}
    # Fields left out took their defaults in the new row.
    assert m.Order.objects.get(marketplace_order_id="2").status == ""


def test_with_nothing_to_update_existing_rows_are_left_as_they_are(amazon):
    order = m.Order.objects.create(account=amazon, marketplace_order_id="1")
    m.Feedback.objects.create(order=order, rating=2, text="slow")
    other = m.Order.objects.create(account=amazon, marketplace_order_id="2")

    with transaction.atomic():
        upsert_rows(
            m.Feedback,
            ["order_id", "rating", "polarity", "text"],
            [(order.pk, 5, "positive", "changed"), (other.pk, 4, "positive", "new")],
            unique=["order"],
            update=[],
        )

    assert dict(m.Feedback.objects.values_list("order_id", "text")) == {order.pk: "slow", other.pk: "new"}
    assert m.Feedback.objects.get(order=other).removed is False


@pytest.mark.parametrize("portable", [False, True])
def test_with_nothing_to_update_upsert_count_inserts_only_the_rows_not_stored_and_counts_them(
    amazon, portable
):
    order = m.Order.objects.create(account=amazon, marketplace_order_id="1")
    m.OrderLine.objects.create(order=order, sku="A", title="kept")
    fields = ["order_id", "sku", "title", "quantity"]

    with transaction.atomic():
        inserted = upsert_count(
            m.OrderLine,
            fields,
            [(order.pk, "A", "changed", 2), (order.pk, "B", "new", 1), (order.pk, "C", "new too", 3)],
            unique=["order", "sku"],
            update=[],
            portable=portable,
        )
        assert (
            upsert_count(m.OrderLine, fields, [], unique=["order", "sku"], update=[], portable=portable) == 0
        )

    assert inserted == 2
    assert dict(m.OrderLine.objects.values_list("sku", "title")) == {"A": "kept", "B": "new", "C": "new too"}


@pytest.mark.parametrize("portable", [False, True])
def test_upsert_count_updates_the_rows_stored_and_counts_those_it_inserted(amazon, portable):
    order = m.Order.objects.create(account=amazon, marketplace_order_id="1")
    m.OrderLine.objects.create(order=order, sku="A", title="old", quantity=1)
    fields = ["order_id", "sku", "title", "quantity"]

    with transaction.atomic():
        inserted = upsert_count(
            m.OrderLine,
            fields,
            [(order.pk, "A", "changed", 2), (order.pk, "B", "new", 1)],
            unique=["order", "sku"],
            update=["title", "quantity"],
            portable=portable,
        )

    assert inserted == 1
    assert sorted(m.OrderLine.objects.values_list("sku", "title", "quantity")) == [
        ("A", "changed", 2),
        ("B", "new", 1),
    ]
