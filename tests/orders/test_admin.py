"""The orders admin: read-only, scoped to the staff user's accounts, searched by order id, and its
lists run a fixed number of queries."""

from __future__ import annotations

import pytest

from inquiries import models as m
from tests.orders.conftest import import_sample

pytestmark = pytest.mark.django_db

HIDDEN_ID = "999-0000000-0000000"
PAGES = ["order", "orderline", "shipment", "return", "feedback", "cancellation", "claim", "marketplacemetric"]


@pytest.fixture
def hidden(other_account) -> m.Account:
    """Team B's orders, with every part, each carrying the word Zorblax."""
    other_account.name = "Zorblax shop"
    other_account.save()
    order = m.Order.objects.create(
        account=other_account, marketplace_order_id=HIDDEN_ID, buyer_name="Zorblax"
    )
    m.OrderLine.objects.create(order=order, sku="Zorblax-SKU", title="Zorblax")
    m.Shipment.objects.create(order=order, shipment_id="Zorblax-S", carrier="Zorblax")
    m.Cancellation.objects.create(order=order, reason="Zorblax")
    m.Return.objects.create(order=order, external_id="Zorblax-R", buyer_comment="Zorblax")
    m.Feedback.objects.create(order=order, rating=1, text="Zorblax")
    m.Claim.objects.create(order=order, kind=m.ClaimKind.GUARANTEE)
    m.MarketplaceMetric.objects.create(
        account=other_account,
        metric="Zorblax",
        window_start="2026-01-01T00:00Z",
        window_end="2026-03-01T00:00Z",
        reported_at="2026-03-01T00:00Z",
        source="Zorblax",
    )
    return other_account


def test_no_orders_page_shows_another_teams_rows(staff, amazon, hidden):
    import_sample(amazon, "amazon-all-orders")
    for page in PAGES:
        response = staff.get(f"/admin/inquiries/{page}/")
        assert response.status_code == 200, page
        assert "zorblax" not in response.content.decode().lower(), page
        searched = staff.get(f"/admin/inquiries/{page}/", {"q": HIDDEN_ID})
        assert searched.context["cl"].result_count == 0, page
    hidden_order = m.Order.objects.get(account=hidden)
    page = staff.get(f"/admin/inquiries/order/{hidden_order.pk}/change/", follow=True)
    assert "zorblax" not in page.content.decode().lower()


def test_a_superuser_finds_an_order_by_its_id_and_sees_its_parts(client, superuser, amazon, hidden):
    import_sample(amazon, "amazon-all-orders")
    import_sample(amazon, "amazon-fba-shipments")
    client.force_login(superuser)

    found = client.get("/admin/inquiries/order/", {"q": " 111-0000001-0000001 "})
    lines = client.get("/admin/inquiries/orderline/", {"q": "111-0000001-0000001"})
    order = m.Order.objects.get(account=amazon, marketplace_order_id="111-0000001-0000001")
    page = client.get(f"/admin/inquiries/order/{order.pk}/change/")

    assert list(found.context["cl"].result_list) == [order]
    assert {line.sku for line in lines.context["cl"].result_list} == {"LAMP-1", "BULB-2"}
    assert page.status_code == 200
    text = page.content.decode()
    assert "TBA000000000001" in text
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in text  # the product name, escaped
    assert "Zorblax" in client.get("/admin/inquiries/order/").content.decode()


def test_orders_cannot_be_added_or_changed_in_the_admin(staff, amazon):
    import_sample(amazon, "amazon-all-orders")
    order = m.Order.objects.filter(account=amazon).first()

    assert staff.get("/admin/inquiries/order/add/").status_code == 403
    staff.post(f"/admin/inquiries/order/{order.pk}/change/", {"status": "cancelled"})
    order.refresh_from_db()
    assert order.status != "cancelled"


# session, user, the user's and their groups' permissions, the account filter's choices (for a
# scoped user the accounts among the rows, or the user's accounts), the count of rows and of
# all rows in scope, the rows with their account or order; and one query for each filter on a
# plain column, which lists the values found (a return's reason code, a metric's name and source)
LIST_QUERIES = {
    "order": 8,
    "orderline": 8,
    "shipment": 8,
    "return": 9,
    "feedback": 8,
    "cancellation": 8,
    "claim": 8,
    "marketplacemetric": 10,
}


@pytest.mark.parametrize("count", [5, 50])
def test_every_orders_list_runs_the_same_queries_for_5_and_50_rows(
    staff, amazon, count, django_assert_num_queries
):
    for n in range(count):
        order = m.Order.objects.create(account=amazon, marketplace_order_id=f"111-{n}")
        m.OrderLine.objects.create(order=order, sku="A")
        m.Shipment.objects.create(order=order, shipment_id=f"S{n}")
        m.Return.objects.create(order=order, external_id=f"R{n}", reason_code="DEFECTIVE")
        m.Feedback.objects.create(order=order, rating=5)
        m.Cancellation.objects.create(order=order)
        m.Claim.objects.create(order=order, kind=m.ClaimKind.CHARGEBACK)
        m.MarketplaceMetric.objects.create(
            account=amazon,
            metric="order_defect_rate",
            window_start=f"2026-01-01T00:{n:02}Z",
            window_end="2026-03-01T00:00Z",
            reported_at="2026-03-01T00:00Z",
            source="GET_V2_SELLER_PERFORMANCE_REPORT",
        )

    for page, queries in LIST_QUERIES.items():
        with django_assert_num_queries(queries):
            response = staff.get(f"/admin/inquiries/{page}/")
        assert len(response.context["cl"].result_list) == count, page
