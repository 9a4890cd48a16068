"""Order ids and items in relayed buyer messages: one parser per marketplace, on message bodies
written here in the shapes the marketplaces' notices use, and the whole path from an e-mail to
an inquiry linked to its imported order."""

from __future__ import annotations

import pytest

from inquiries import models as m
from inquiries import services
from inquiries.ingestion.email import parse_email
from inquiries.ingestion.relay_mail import (
    OrderReference,
    amazon_reference,
    ebay_reference,
    find_reference,
    walmart_reference,
)
from tests.orders.conftest import data, import_file

AMAZON_BODY = """\
------------- Message from customer: -------------

Hello, the mug arrived cracked (photo attached). Can you send a new one?
Order 999-0000000-0000000 was my last one, it was fine.

------------- End message -------------

Order ID: 114-1234567-7654321
Item: Blue ceramic mug, 350 ml
ASIN: B0C1D2E3F4
Quantity: 1

Resolve this case in Seller Central.
"""

WALMART_BODY = """\
Customer Message

A customer has sent you a message about their order.

Customer Order #: 200012345678901
Purchase Order #: 1000000000003
Item: Teapot, stoneware
SKU: POT-1

Message:
Where is my teapot? Tracking has not moved since Monday. Call me at 555 010 9999.
"""

EBAY_SUBJECT = "bochen sent a message about Mug, blue #325112233445"
EBAY_BODY = """\
New message from: bochen (152)

Hi, I ordered two mugs but only one came. Order number: 12-11111-11111

Item ID: 325112233445
Transaction ID: 2000000000001

Reply to this message in My eBay.
"""


def test_an_amazon_notice_gives_the_order_and_the_asin_not_an_order_quoted_in_the_message():
    # The labelled order follows the message; the subject names it first when it does.
    assert amazon_reference(
        "Inquiry from Amazon customer Jane (Order: 114-1234567-7654321)", AMAZON_BODY
    ) == (OrderReference("114-1234567-7654321", "B0C1D2E3F4"))
    assert amazon_reference("", "See https://www.amazon.com/dp/b0c1d2e3f4 please").item == "B0C1D2E3F4"
    assert amazon_reference("", "ASIN: 0306406152").item == "0306406152"  # a book's ISBN-10


def test_a_walmart_notice_gives_the_po_before_the_customer_order_and_the_sku():
    assert walmart_reference("Customer message regarding order #200012345678901", WALMART_BODY) == (
        OrderReference("1000000000003", "POT-1")
    )
    assert walmart_reference("Message about Order #200012345678901", "Where is it?") == OrderReference(
        "200012345678901", ""
    )
    # A phone number or a PO box is no PO.
    assert walmart_reference("Hi", "PO Box 1234, call 5550109999 or 555 010 9999") == OrderReference()


def test_an_ebay_notice_gives_the_order_number_and_the_item_number():
    assert ebay_reference(EBAY_SUBJECT, EBAY_BODY) == OrderReference("12-11111-11111", "325112233445")
    # Only the subject names the item; an older order number is "item-transaction".
    assert ebay_reference(EBAY_SUBJECT, "Order number: 325112233445-2000000000001") == OrderReference(
        "325112233445-2000000000001", "325112233445"
    )


@pytest.mark.parametrize(
    ("sender", "expected"),
    [
        ("a1b2c3d4e5f6g7@marketplace.amazon.com", OrderReference("114-1234567-7654321", "B0C1D2E3F4")),
        ("a1b2c3d4e5f6g7@marketplace.amazon.co.uk", OrderReference("114-1234567-7654321", "B0C1D2E3F4")),
        ("63ae59ac280fe0fa69@relay.walmart.com", OrderReference("1000000000003", "POT-1")),
        ("63ae59ac280fe0fa69@members.ebay.com", OrderReference("12-11111-11111", "325112233445")),
        # Anyone else: an Amazon order number only, as before.
        ("jane@example.com", OrderReference("114-1234567-7654321", "")),
    ],
)
def test_the_sender_picks_the_parser(sender, expected):
    body = AMAZON_BODY + WALMART_BODY + EBAY_BODY
    assert find_reference(sender, EBAY_SUBJECT, body) == expected


def relay_mail(sender: str, subject: str, body: str) -> bytes:
    head = (
        f"From: Buyer <{sender}>\r\nTo: shop@example.com\r\nSubject: {subject}\r\nMessage-ID: <r1@relay>\r\n"
    )
    return (head + "Content-Type: text/plain; charset=utf-8\r\n\r\n" + body.replace("\n", "\r\n")).encode()


def test_a_relayed_amazon_mail_carries_its_order_and_asin():
    message = parse_email(
        relay_mail("x1y2@marketplace.amazon.com", "Inquiry from Amazon customer Jane", AMAZON_BODY)
    )

    assert (message.order_id, message.sku) == ("114-1234567-7654321", "B0C1D2E3F4")


@pytest.mark.django_db
def test_a_relayed_walmart_mail_links_its_inquiry_to_the_imported_po(account, channel):
    account.marketplace = m.Marketplace.WALMART
    account.save()
    import_file(account, data("walmart-orders"), "walmart-orders")

    recorded = services.record_message(
        channel=channel,
        incoming=parse_email(relay_mail("63ae59ac@relay.walmart.com", "Customer message", WALMART_BODY)),
    )

    inquiry = m.Inquiry.objects.get(pk=recorded.inquiry_id)
    assert (inquiry.order_id, inquiry.sku) == ("1000000000003", "POT-1")
    assert inquiry.linked_order.marketplace_order_id == "1000000000003"
    assert inquiry.linked_order.account == account
