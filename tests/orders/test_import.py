"""Importing order reports: what each format stores, re-imports, and inquiries finding their order."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from inquiries import models as m
from inquiries import services
from inquiries.services.orders import link_inquiries
from tests import factories
from tests.orders.conftest import import_sample

pytestmark = pytest.mark.django_db

LAMP_TITLE = 'Lamp "Aurora" 12" <script>alert(\'x\')</script> — café ☕ \u202eRTL\u202c'


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def test_the_all_orders_report_stores_orders_and_lines_as_written(amazon):
    result, rejected = import_sample(amazon, "amazon-all-orders")

    assert rejected == [
        (
            5,
            "amazon-order-id: required; purchase-date: not a timestamp this import reads (ISO 8601, RFC 2822, "
            "DD/MM/YYYY HH:MM and other common shapes, or give --date-format): 'yesterday'; "
            "fulfillment-channel: expected Amazon or Merchant (AFN or MFN): 'Drone'; quantity: not a whole "
            "number of units from 0 to 1,000,000: 'two'; currency: not a 3-letter code: 'US Dollars'; "
            "item-price: more than two decimals: '9.999'",
        ),
        (8, "expected 32 fields, found 33 (a tab or delimiter inside a value?)"),
    ]
    assert result.summary() == (
        "imported=5 rejected=2 orders_created=4 orders_updated=0 lines_created=5 lines_updated=0 "
        "inquiries_linked=0"
    )
    first = m.Order.objects.get(marketplace_order_id="111-0000001-0000001")
    assert first.account == amazon
    assert (first.status, first.marketplace_status) == ("shipped", "Shipped - Delivered to Buyer")
    assert first.fulfilment_channel == m.FulfilmentChannel.MARKETPLACE
    assert first.purchased_at == at("2026-03-01T10:15:00+00:00")
    assert first.marketplace_updated_at == at("2026-03-03T08:00:00+00:00")
    assert (first.currency, first.ship_city, first.ship_country) == ("USD", "Seattle", "US")
    lines = {line.sku: line for line in first.lines.all()}
    assert lines["LAMP-1"].title == LAMP_TITLE
    assert (lines["LAMP-1"].item_id, lines["LAMP-1"].quantity, lines["LAMP-1"].price) == (
        "B000000001",
        1,
        Decimal("39.99"),
    )
    assert lines["BULB-2"].title == '=HYPERLINK("http://evil.example","click") bulb'
    pending = m.Order.objects.get(marketplace_order_id="111-0000002-0000002")
    assert pending.merchant_order_id == "Robert'); DROP TABLE inquiries_order;--"
    assert pending.purchased_at == at("2026-03-03T07:30:00+00:00")
    assert (pending.status, pending.fulfilment_channel) == ("pending", "merchant")
    assert pending.lines.get().price is None
    assert m.Order.objects.get(marketplace_order_id="111-0000003-0000003").status == "cancelled"
    tv = m.OrderLine.objects.get(order__marketplace_order_id="111-0000005-0000005")
    assert (tv.title, tv.price) == ('电视 55" 📺 Téléviseur', Decimal("1299.00"))


def test_reimporting_a_report_updates_what_it_stored_and_duplicates_nothing(amazon):
    import_sample(amazon, "amazon-all-orders")
    m.Order.objects.filter(marketplace_order_id="111-0000002-0000002").update(status="shipped", currency="")
    m.OrderLine.objects.filter(sku="LAMP-1").update(quantity=7)

    result, rejected = import_sample(amazon, "amazon-all-orders")

    assert len(rejected) == 2
    assert result.summary() == (
        "imported=5 rejected=2 orders_created=0 orders_updated=4 lines_created=0 lines_updated=5 "
        "inquiries_linked=0"
    )
    assert m.Order.objects.count() == 4
    assert m.OrderLine.objects.count() == 5
    assert m.Order.objects.get(marketplace_order_id="111-0000002-0000002").status == "pending"
    assert m.OrderLine.objects.get(sku="LAMP-1").quantity == 1


def test_small_batches_store_what_one_batch_stores(amazon, other_account):
    import_sample(amazon, "amazon-all-orders", batch_size=1000)
    import_sample(other_account, "amazon-all-orders", batch_size=1)

    def stored(account: m.Account) -> list[tuple[object, ...]]:
        return list(
            m.OrderLine.objects.filter(order__account=account)
            .order_by("order__marketplace_order_id", "sku")
            .values_list("order__marketplace_order_id", "order__status", "sku", "quantity", "price", "title")
        )

    assert stored(amazon) == stored(other_account)
    assert len(stored(amazon)) == 5


def test_the_same_order_id_in_two_accounts_is_two_orders(amazon, other_account):
    import_sample(amazon, "amazon-all-orders")
    import_sample(other_account, "amazon-all-orders")

    assert m.Order.objects.filter(marketplace_order_id="111-0000001-0000001").count() == 2


def test_shipments_are_stored_and_create_missing_orders_without_overwriting_the_order_report(amazon):
    import_sample(amazon, "amazon-all-orders")

    result, rejected = import_sample(amazon, "amazon-fba-shipments")

    assert rejected == [
        (
            5,
            "shipment-id: required; shipment-date: month 31 does not exist: read the dates with --dayfirst? "
            "'31/02/2026 10:00'; buyer-email: an e-mail address has no spaces, quotes, angle brackets or line "
            "breaks (give only name@example.com): 'not an email <x@y>'; tracking-number: longer than 100 "
            "characters (101)",
        )
    ]
    assert result.summary() == (
        "imported=3 rejected=1 orders_created=1 orders_updated=0 lines_created=1 lines_updated=0 "
        "shipments_created=2 shipments_updated=0 inquiries_linked=0"
    )
    first = m.Order.objects.get(marketplace_order_id="111-0000001-0000001")
    shipment = first.shipments.get()
    assert (shipment.shipment_id, shipment.carrier, shipment.tracking_number, shipment.warehouse) == (
        "DkQ7zYb1N",
        "AMZN_US",
        "TBA000000000001",
        "SEA8",
    )
    assert shipment.shipped_at == at("2026-03-01T22:05:00+00:00")
    assert shipment.estimated_arrival_at == at("2026-03-03T20:00:00+00:00")
    # The order report's facts stand: the shipment report only fills an order it has not brought.
    assert first.buyer_name == ""
    assert first.lines.get(sku="LAMP-1").title == LAMP_TITLE
    chair = m.Order.objects.get(marketplace_order_id="111-0000009-0000009")
    assert (chair.status, chair.fulfilment_channel, chair.currency) == ("shipped", "marketplace", "EUR")
    assert chair.buyer_name == "Ω <script>x</script>"
    line = chair.lines.get()
    assert (line.sku, line.title, line.quantity, line.price) == (
        "CHAIR-7",
        'Chair; "ergonomic" 🪑',
        1,
        Decimal("149.90"),
    )

    again, _ = import_sample(amazon, "amazon-fba-shipments")

    assert again.summary() == (
        "imported=3 rejected=1 orders_created=0 orders_updated=0 lines_created=0 lines_updated=0 "
        "shipments_created=0 shipments_updated=2 inquiries_linked=0"
    )
    assert m.Shipment.objects.count() == 2


def test_returns_are_stored_faithfully_and_once(amazon):
    import_sample(amazon, "amazon-all-orders")

    result, rejected = import_sample(amazon, "amazon-fba-returns")
    again, _ = import_sample(amazon, "amazon-fba-returns")

    assert rejected == [
        (4, "return-date: required; quantity: not a whole number of units from 0 to 1,000,000: '-1'")
    ]
    assert result.summary() == (
        "imported=2 rejected=1 orders_created=1 orders_updated=0 returns_created=2 returns_updated=0 "
        "inquiries_linked=0"
    )
    assert again.summary() == (
        "imported=2 rejected=1 orders_created=0 orders_updated=0 returns_created=0 returns_updated=2 "
        "inquiries_linked=0"
    )
    cracked = m.Return.objects.get(order__marketplace_order_id="111-0000001-0000001")
    assert cracked.buyer_comment == 'Arrived cracked; "very" disappointed <img src=x onerror=alert(1)> 😡'
    assert (cracked.external_id, cracked.reason_code, cracked.disposition, cracked.warehouse) == (
        "LPNRR000001",
        "DEFECTIVE",
        "CUSTOMER_DAMAGED",
        "SEA8",
    )
    assert cracked.received_at == at("2026-03-10T12:00:00+00:00")
    unwanted = m.Return.objects.get(order__marketplace_order_id="111-0000011-0000011")
    assert (unwanted.external_id, unwanted.quantity) == ("SKU-X@2026-03-11T09:00:00+00:00", 2)
    assert unwanted.buyer_comment == "=cmd|' /C calc'!A0"
    assert unwanted.order.fulfilment_channel == "marketplace"
    assert m.Return.objects.count() == 2


def test_feedback_is_stored_once_per_order_with_its_day_in_the_accounts_zone(amazon):
    result, rejected = import_sample(amazon, "amazon-feedback")
    import_sample(amazon, "amazon-feedback")

    assert rejected == [
        (
            4,
            "Date: month 13 does not exist: read the dates with --dayfirst? '13/45/2026'; Rating: not a rating "
            "from 1 to 5: '6'; Order ID: required",
        )
    ]
    assert result.count("feedback").created == 2
    negative = m.Feedback.objects.get(order__marketplace_order_id="111-0000001-0000001")
    assert negative.rating == 1
    assert negative.text == 'Item broke after 2 days!!! "Terrible" — never again <script>alert(1)</script>'
    assert negative.rater_email == "abc123xyz@marketplace.amazon.com"
    # 12 March, midnight in Los Angeles (daylight saving time since 8 March).
    assert negative.left_at == at("2026-03-12T07:00:00+00:00")
    positive = m.Feedback.objects.get(order__marketplace_order_id="111-0000002-0000002")
    assert (positive.rating, positive.text, positive.response) == (
        5,
        "Great seller 👍 ' OR 1=1 --",
        "Thank you!",
    )
    assert m.Feedback.objects.count() == 2


def test_an_inquiry_recorded_before_its_order_is_linked_when_the_order_arrives(amazon, channel):
    early = services.record_message(
        channel=channel, incoming=factories.incoming(order_id="111-0000001-0000001")
    )
    other = services.record_message(
        channel=channel, incoming=factories.incoming(sender_address="b@example.com", order_id="999-1")
    )
    inquiry = m.Inquiry.objects.get(pk=early.inquiry_id)
    assert inquiry.linked_order is None

    result, _ = import_sample(amazon, "amazon-all-orders")

    inquiry.refresh_from_db()
    assert inquiry.linked_order.marketplace_order_id == "111-0000001-0000001"
    assert inquiry.linked_order.account == amazon
    assert m.Inquiry.objects.get(pk=other.inquiry_id).linked_order is None
    assert result.inquiries_linked == 1
    again, _ = import_sample(amazon, "amazon-all-orders")
    assert again.inquiries_linked == 0


def test_an_inquiry_is_never_linked_to_another_accounts_order(amazon, other_channel):
    recorded = services.record_message(
        channel=other_channel, incoming=factories.incoming(order_id="111-0000001-0000001")
    )

    import_sample(amazon, "amazon-all-orders")

    assert m.Inquiry.objects.get(pk=recorded.inquiry_id).linked_order is None


def test_feedback_or_returns_alone_create_the_order_an_inquiry_names(amazon, channel):
    recorded = services.record_message(
        channel=channel, incoming=factories.incoming(order_id="111-0000011-0000011")
    )

    result, _ = import_sample(amazon, "amazon-fba-returns")

    assert (
        m.Inquiry.objects.get(pk=recorded.inquiry_id).linked_order.marketplace_order_id
        == "111-0000011-0000011"
    )
    assert result.inquiries_linked == 1


def test_the_recording_engine_links_the_inquiries_it_writes_to_their_orders(amazon, channel):
    import_sample(amazon, "amazon-all-orders")
    recorded = services.record_message(
        channel=channel, incoming=factories.incoming(order_id="111-0000002-0000002")
    )
    inquiry = m.Inquiry.objects.get(pk=recorded.inquiry_id)
    assert inquiry.linked_order.marketplace_order_id == "111-0000002-0000002"
    assert link_inquiries(inquiry_ids=[inquiry.pk]) == 0  # nothing left to change

    m.Inquiry.objects.filter(pk=inquiry.pk).update(order_id="no-such-order")
    link_inquiries(inquiry_ids=[inquiry.pk])
    inquiry.refresh_from_db()
    assert inquiry.linked_order is None


def test_a_batch_links_each_new_inquiry_to_the_order_it_names_and_no_other(amazon, channel):
    import_sample(amazon, "amazon-all-orders")
    outcomes = services.record_messages(
        [
            (channel, factories.incoming(order_id="111-0000002-0000002", sender_address="a@example.com")),
            (channel, factories.incoming(order_id="999-9999999-9999999", sender_address="b@example.com")),
            (channel, factories.incoming(sender_address="c@example.com")),
        ]
    )
    stored = m.Inquiry.objects.filter(pk__in=[o.message.inquiry_id for o in outcomes]).select_related(
        "linked_order"
    )
    linked = {inquiry.order_id: inquiry.linked_order for inquiry in stored}
    assert linked["111-0000002-0000002"].marketplace_order_id == "111-0000002-0000002"
    assert linked["999-9999999-9999999"] is None
    assert linked[""] is None


def test_a_catch_up_links_every_unlinked_inquiry_of_an_account(amazon, channel):
    # Recorded before their orders arrive (recording links what is on file already).
    ids = [
        services.record_message(
            channel=channel,
            incoming=factories.incoming(sender_address=f"c{n}@example.com", order_id=order_id),
        ).inquiry_id
        for n, order_id in enumerate(["111-0000001-0000001", "111-0000003-0000003", "unknown"])
    ]
    import_sample(amazon, "amazon-all-orders")  # its batches link the inquiries naming them
    m.Inquiry.objects.filter(pk__in=ids).update(linked_order=None)  # as if stored before

    assert link_inquiries(account_id=amazon.pk) == 2
    assert link_inquiries(account_id=amazon.pk) == 0
    linked = dict(
        m.Inquiry.objects.filter(pk__in=ids).values_list("order_id", "linked_order__marketplace_order_id")
    )
    assert linked == {
        "111-0000001-0000001": "111-0000001-0000001",
        "111-0000003-0000003": "111-0000003-0000003",
        "unknown": None,
    }


def test_a_dry_run_counts_what_an_import_would_do_and_writes_nothing(amazon, channel):
    services.record_message(channel=channel, incoming=factories.incoming(order_id="111-0000009-0000009"))
    import_sample(amazon, "amazon-all-orders")

    result, rejected = import_sample(amazon, "amazon-fba-shipments", dry_run=True)

    assert len(rejected) == 1
    assert result.summary() == (
        "dry run, nothing written: imported=3 rejected=1 orders_created=1 orders_updated=0 lines_created=1 "
        "lines_updated=0 shipments_created=2 shipments_updated=0 inquiries_linked=1"
    )
    assert m.Shipment.objects.count() == 0
    assert not m.Order.objects.filter(marketplace_order_id="111-0000009-0000009").exists()
    assert not m.Inquiry.objects.filter(linked_order__isnull=False).exists()


def test_the_database_refuses_a_rating_outside_1_to_5(amazon):
    from django.db import IntegrityError, transaction

    order = m.Order.objects.create(account=amazon, marketplace_order_id="1")
    with pytest.raises(IntegrityError), transaction.atomic():
        m.Feedback.objects.create(order=order, rating=6)
