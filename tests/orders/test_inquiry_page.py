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
