"""The inquiry page shows the order an inquiry is linked to, at one query more, however many lines."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from inquiries import models as m
from inquiries.services.orders import link_inquiries
from tests.ui.conftest import inbound
from tests.ui.test_queries import INQUIRY_QUERIES

pytestmark = pytest.mark.django_db


@pytest.fixture
def alice(agent) -> Client:
    client = Client()
    client.force_login(agent)
    return client


def order_with_lines(account: m.Account, count: int) -> m.Order:
    order = m.Order.objects.create(
        account=account,
        marketplace_order_id="111-0000001-0000001",
        status=m.OrderStatus.SHIPPED,
        marketplace_status="Shipped - Delivered to Buyer",
        fulfilment_channel=m.FulfilmentChannel.MARKETPLACE,
    )
    m.OrderLine.objects.bulk_create(
        m.OrderLine(order=order, sku=f"<b>SKU-{n:03}</b>", quantity=n + 1) for n in range(count)
    )
    return order


def test_the_inquiry_page_shows_its_order_status_and_skus(alice, channel, account):
    inquiry = inbound(channel, order_id="111-0000001-0000001")
    order_with_lines(account, 2)
    link_inquiries(inquiry_ids=[inquiry.pk])

    page = alice.get(reverse("inquiries:detail", args=[inquiry.pk])).content.decode()

    assert "Order 111-0000001-0000001" in page
    assert "Shipped - Delivered to Buyer" in page
    assert "&lt;b&gt;SKU-000&lt;/b&gt; × 1" in page
    assert "&lt;b&gt;SKU-001&lt;/b&gt; × 2" in page


def test_an_inquiry_without_an_order_shows_none(alice, channel):
    inquiry = inbound(channel, order_id="111-0000001-0000001")

    page = alice.get(reverse("inquiries:detail", args=[inquiry.pk])).content.decode()

    assert "Order 111-0000001-0000001" not in page
    assert "111-0000001-0000001" in page  # the order id the message gave


@pytest.mark.parametrize("lines", [1, 40])
def test_a_linked_order_costs_one_query_more_however_many_lines(
    alice, channel, account, lines, django_assert_num_queries
):
    inquiry = inbound(channel, order_id="111-0000001-0000001")
    order_with_lines(account, lines)
    link_inquiries(inquiry_ids=[inquiry.pk])

    # the page's queries, and the order's lines (the order itself comes with the inquiry)
    with django_assert_num_queries(INQUIRY_QUERIES + 1):
        response = alice.get(reverse("inquiries:detail", args=[inquiry.pk]))
    assert len(response.context["inquiry"].linked_order.lines.all()) == lines


def test_an_agent_sets_the_order_and_the_inquiry_finds_it(alice, channel, account):
    inquiry = inbound(channel)
    order_with_lines(account, 1)

    response = alice.post(
        reverse("inquiries:set_order", args=[inquiry.pk]),
        {"order_id": " 111-0000001-0000001 ", "sku": "MUG-1"},
    )

    assert response.status_code == 302
    inquiry.refresh_from_db()
    assert (inquiry.order_id, inquiry.sku) == ("111-0000001-0000001", "MUG-1")
    assert inquiry.linked_order.marketplace_order_id == "111-0000001-0000001"
    event = inquiry.events.get(kind=m.EventKind.ORDER_CHANGED)
    assert event.data == {
        "from": {"order_id": "", "sku": ""},
        "to": {"order_id": "111-0000001-0000001", "sku": "MUG-1"},
    }
    page = alice.get(reverse("inquiries:detail", args=[inquiry.pk])).content.decode()
    assert "Order 111-0000001-0000001" in page
    assert "Order set to 111-0000001-0000001, SKU MUG-1" in page  # the timeline


def test_correcting_the_order_moves_the_link_and_clearing_it_unlinks(alice, channel, account):
    inquiry = inbound(channel, order_id="111-0000001-0000001")
    order_with_lines(account, 1)
    link_inquiries(inquiry_ids=[inquiry.pk])
    other = m.Order.objects.create(account=account, marketplace_order_id="111-0000009-0000009")
    url = reverse("inquiries:set_order", args=[inquiry.pk])

    alice.post(url, {"order_id": "111-0000009-0000009", "sku": ""})
    inquiry.refresh_from_db()
    assert inquiry.linked_order == other

    response = alice.post(url, {"order_id": "", "sku": ""}, follow=True)
    inquiry.refresh_from_db()
    assert inquiry.order_id == "" and inquiry.linked_order is None
    assert "Order and SKU updated." in response.content.decode()


def test_an_order_not_on_file_is_kept_and_the_agent_told(alice, channel):
    inquiry = inbound(channel)

    response = alice.post(
        reverse("inquiries:set_order", args=[inquiry.pk]),
        {"order_id": "<script>x</script>", "sku": ""},
        follow=True,
    )

    inquiry.refresh_from_db()
    assert inquiry.order_id == "<script>x</script>" and inquiry.linked_order is None
    page = response.content.decode()
    assert "no order with that id is on file" in page
    assert "<script>x</script>" not in page and "&lt;script&gt;x&lt;/script&gt;" in page


def test_a_bad_order_id_changes_nothing_and_says_why(alice, channel):
    inquiry = inbound(channel, order_id="111-0000001-0000001")

    response = alice.post(
        reverse("inquiries:set_order", args=[inquiry.pk]), {"order_id": "x" * 101, "sku": ""}, follow=True
    )

    inquiry.refresh_from_db()
    assert inquiry.order_id == "111-0000001-0000001"
    assert "Nothing changed: Order id:" in response.content.decode()
    assert not inquiry.events.filter(kind=m.EventKind.ORDER_CHANGED).exists()


def test_another_teams_inquiry_cannot_be_given_an_order(channel, outsider):
    inquiry = inbound(channel)
    client = Client()
    client.force_login(outsider)

    response = client.post(reverse("inquiries:set_order", args=[inquiry.pk]), {"order_id": "1", "sku": ""})

    assert response.status_code == 404
    inquiry.refresh_from_db()
    assert inquiry.order_id == ""


def test_an_order_id_with_a_control_character_changes_nothing(alice, channel):
    inquiry = inbound(channel)

    response = alice.post(
        reverse("inquiries:set_order", args=[inquiry.pk]), {"order_id": "111\x1b[2J", "sku": ""}, follow=True
    )

    inquiry.refresh_from_db()
    assert inquiry.order_id == ""
    assert "Nothing changed: One line, without control characters." in response.content.decode()
