"""Deleting orders: every way unlinks their inquiries (the link has no database constraint,
migration 0056), in a number of queries that does not grow with the orders deleted."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.models import ProtectedError
from django.test.utils import CaptureQueriesContext

from inquiries import models as m
from inquiries import services
from inquiries.services.order_deletion import delete_orders
from inquiries.services.recording.careful import RecordResult
from tests import factories

pytestmark = pytest.mark.django_db


def make_orders(account: m.Account, count: int, prefix: str = "111") -> list[m.Order]:
    """`count` orders of the account, each with a line, a shipment and feedback."""
    orders = []
    for n in range(count):
        order = m.Order.objects.create(account=account, marketplace_order_id=f"{prefix}-0000000-{n:07d}")
        m.OrderLine.objects.create(order=order, sku=f"SKU-{n}")
        m.Shipment.objects.create(order=order, shipment_id=f"S-{prefix}-{n}")
        m.Feedback.objects.create(order=order, rating=1, text="late")
        orders.append(order)
    return orders


def inquiry_naming(channel: m.Channel, order: m.Order) -> m.Inquiry:
    """An inquiry recorded on the channel that names the order (recording links it)."""
    result = services.record_message(
        channel=channel,
        incoming=factories.incoming(
            sender_address=f"{order.marketplace_order_id}@example.com", order_id=order.marketplace_order_id
        ),
    )
    assert isinstance(result, RecordResult) and result.inquiry_id is not None
    inquiry = m.Inquiry.objects.get(pk=result.inquiry_id)
    assert inquiry.linked_order_id == order.pk
    return inquiry


def dangling_links() -> list[int]:
    """Inquiries whose link points at no stored order."""
    stored = m.Order.objects.values("pk")
    return list(
        m.Inquiry.objects.filter(linked_order__isnull=False)
        .exclude(linked_order_id__in=stored)
        .values_list("pk", flat=True)
    )


def test_the_link_has_no_database_constraint():
    # With one, PostgreSQL scans the whole inquiry table for each deleted order: the link
    # column is in no index (tests/orders/test_linking.py).
    table = m.Inquiry._meta.db_table
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, table)
    assert [
        name
        for name, found in constraints.items()
        if found["foreign_key"] and found["columns"] == ["linked_order_id"]
    ] == []


def test_deleting_orders_unlinks_their_inquiries_and_no_others(
    account, channel, other_account, other_channel
):
    gone, kept = make_orders(account, 2)
    # Another account's order with the same marketplace id, and its inquiry.
    (twin,) = make_orders(other_account, 1)
    twin.marketplace_order_id = gone.marketplace_order_id
    twin.save()
    linked_gone, linked_kept = inquiry_naming(channel, gone), inquiry_naming(channel, kept)
    linked_twin = inquiry_naming(other_channel, twin)

    assert delete_orders(orders=m.Order.objects.filter(pk=gone.pk)) == 1

    for inquiry in (linked_gone, linked_kept, linked_twin):
        inquiry.refresh_from_db()
    assert linked_gone.linked_order is None  # reads, no DoesNotExist
    assert linked_gone.order_id == gone.marketplace_order_id  # the buyer's words stay
    assert linked_kept.linked_order == kept
    assert linked_twin.linked_order == twin
    assert not m.OrderLine.objects.filter(order_id=gone.pk).exists()
    assert not m.Shipment.objects.filter(order_id=gone.pk).exists()
    assert dangling_links() == []


def test_the_inquiry_page_of_a_deleted_orders_inquiry_still_opens(client, agent, account, channel):
    (order,) = make_orders(account, 1)
    inquiry = inquiry_naming(channel, order)
    delete_orders(orders=m.Order.objects.filter(pk=order.pk))
    client.force_login(agent)

    page = client.get(f"/inquiries/{inquiry.pk}/")

    assert page.status_code == 200
    assert order.marketplace_order_id in page.content.decode()


def test_a_deleted_order_reimported_links_again(account, channel):
    (order,) = make_orders(account, 1)
    inquiry = inquiry_naming(channel, order)
    delete_orders(orders=m.Order.objects.filter(pk=order.pk))

    (again,) = make_orders(account, 1)
    services.orders.link_inquiries(account_id=account.pk)

    inquiry.refresh_from_db()
    assert inquiry.linked_order == again


@pytest.mark.parametrize("count", [1, 6])
def test_deleting_orders_takes_the_same_queries_for_one_or_many(account, channel, count):
    orders = make_orders(account, count)
    for order in orders:
        inquiry_naming(channel, order)

    with CaptureQueriesContext(connection) as captured:
        assert delete_orders(orders=m.Order.objects.filter(account=account)) == count

    # A savepoint; the orders' account and ids; the orders (Django's collector); one DELETE
    # per part model and the orders'; one unlink per account; the savepoint's release. No
    # query on the inquiries per order, and none of them scans the inquiry table.
    assert len(captured) == 14, "\n".join(query["sql"][:150] for query in captured)
    assert dangling_links() == []
    assert m.Inquiry.objects.filter(account=account, linked_order__isnull=True).count() == count


def test_the_admin_unlinks_when_a_superuser_deletes_orders(client, superuser, account, channel):
    one, two, three = make_orders(account, 3)
    inquiries = [inquiry_naming(channel, order) for order in (one, two, three)]
    client.force_login(superuser)

    page = client.post(f"/admin/inquiries/order/{one.pk}/delete/", {"post": "yes"})
    action = client.post(
        "/admin/inquiries/order/",
        {"action": "delete_selected", "_selected_action": [two.pk, three.pk], "post": "yes"},
    )

    assert (page.status_code, action.status_code) == (302, 302)
    assert not m.Order.objects.exists()
    assert dangling_links() == []
    for inquiry in inquiries:
        inquiry.refresh_from_db()
        assert inquiry.linked_order is None


def test_an_account_with_orders_and_no_inquiries_deletes_with_its_orders(client, superuser, other_account):
    make_orders(other_account, 3)
    client.force_login(superuser)

    response = client.post(f"/admin/inquiries/account/{other_account.pk}/delete/", {"post": "yes"})

    assert response.status_code == 302
    assert not m.Account.objects.filter(pk=other_account.pk).exists()
    assert not m.Order.objects.exists()
    assert not m.OrderLine.objects.exists()


def test_an_account_with_inquiries_is_protected_so_no_link_dangles(account, channel):
    # Inquiries (and so every linked one: links stay within an account) keep their account:
    # deleting it is refused before any order goes.
    (order,) = make_orders(account, 1)
    inquiry_naming(channel, order)

    with pytest.raises(ProtectedError):
        account.delete()

    assert m.Order.objects.filter(pk=order.pk).exists()
    assert dangling_links() == []


@pytest.mark.parametrize("count", [1, 6])
def test_an_accounts_deletion_looks_for_no_inquiry_by_its_link(other_account, count):
    make_orders(other_account, count)

    with CaptureQueriesContext(connection) as captured:
        other_account.delete()

    statements = [query["sql"] for query in captured]
    assert [sql for sql in statements if "linked_order_id" in sql] == []
    # One query per related model and batch, not per order: the same for 1 order and 6.
    assert len(statements) == 25, "\n".join(sql[:120] for sql in statements)
