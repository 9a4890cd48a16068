"""Reading order reports without a database: columns, values, every error of a row with its line."""

from __future__ import annotations

import csv as csv_module
import io
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from inquiries import models as m
from inquiries.ingestion import order_reports
from inquiries.ingestion.csv_import import decode_csv
from inquiries.ingestion.order_reports import FORMATS, Record, RowRejected, core, parse_report, report_format
from inquiries.models.orders import RATING_POLARITY

FEEDBACK = FORMATS["amazon-feedback"]
ALL_ORDERS = FORMATS["amazon-all-orders"]
ORDER_HEADER = "amazon-order-id\tpurchase-date\torder-status\tsku\tquantity\titem-price\tproduct-name\n"


def parsed(
    text: str, fmt: order_reports.ReportFormat = ALL_ORDERS, **options: Any
) -> list[tuple[int, object]]:
    return list(parse_report(io.StringIO(text), fmt, **options))


def test_a_row_reads_into_an_order_and_its_line():
    [(line, record)] = parsed(ORDER_HEADER + "1-2-3\t2026-03-01T10:00:00Z\tShipped\tSKU\t2\t19.98\tMug\n")

    assert line == 2
    assert isinstance(record, Record)
    assert record.order.order_id == "1-2-3"
    assert record.order.purchased_at == datetime(2026, 3, 1, 10, tzinfo=UTC)
    assert (record.line.sku, record.line.quantity, record.line.price, record.line.title) == (
        "SKU",
        2,
        Decimal("19.98"),
        "Mug",
    )


def test_every_error_of_a_row_is_listed_with_the_rows_line_number():
    rows = parsed(
        ORDER_HEADER
        + "1\t2026-03-01T10:00:00Z\tShipped\tA\t1\t1.00\tok\n"
        + "\n"
        + "\t31.02.2026 10:00\t\t\t-3\tabc\tbad\n"
    )

    assert [line for line, _ in rows] == [2, 4]
    rejection = rows[1][1]
    assert isinstance(rejection, RowRejected)
    assert rejection.errors == (
        "amazon-order-id: required",
        "purchase-date: not a timestamp this import reads (ISO 8601, RFC 2822, DD/MM/YYYY HH:MM and other "
        "common shapes, or give --date-format): '31.02.2026 10:00'",
        "order-status: required",
        "sku: required",
        "quantity: not a whole number of units from 0 to 1,000,000: '-3'",
        "item-price: not an amount: 'abc'",
    )


def test_a_header_without_a_required_column_is_refused_before_any_row():
    with pytest.raises(
        ValueError, match=r"missing column\(s\) sku, quantity; the header has: amazon-order-id"
    ):
        parsed("amazon-order-id\tpurchase-date\torder-status\n1\t2026-03-01T10:00:00Z\tShipped\n")
    with pytest.raises(ValueError, match="empty file"):
        parsed("")
    with pytest.raises(ValueError, match="appears more than once"):
        parsed(ORDER_HEADER.strip() + "\tSKU\n")


def test_an_unknown_format_names_the_known_ones():
    with pytest.raises(
        ValueError, match="unknown format 'ebay'; known: amazon-all-orders, amazon-fba-returns"
    ):
        report_format("ebay")


def test_quotes_are_text_in_a_tab_separated_report():
    [(_, record)] = parsed(ORDER_HEADER + '1\t2026-03-01T10:00:00Z\tShipped\tA\t1\t\t12" pan "deep\n')

    assert record.line.title == '12" pan "deep'


def test_a_stray_carriage_return_or_nul_does_not_split_or_break_a_row():
    [(_, record)] = parsed(ORDER_HEADER + "1\t2026-03-01T10:00:00Z\tShipped\tA\t1\t\tone\rtwo\x00\n")

    assert record.line.title == "one two"


def test_a_comma_separated_copy_is_read_with_csv_quoting_and_physical_line_numbers():
    text = (
        "Date,Rating,Comments,Your Response,Order ID,Rater Email\r\n"
        '2026-03-01,2,"Late, and ""broken"".\r\nSecond line",,111-1,\r\n'
        "2026-03-02,4,Fine,Thanks,111-2,r@example.com\r\n"
    )
    rows = parsed(text, FEEDBACK, zone="Europe/Berlin")

    assert [line for line, _ in rows] == [2, 4]
    first, second = (record for _, record in rows)
    assert first.feedback.text == 'Late, and "broken".\r\nSecond line'
    assert first.feedback.left_at == datetime(2026, 2, 28, 23, tzinfo=UTC)
    assert (second.feedback.rating, second.feedback.response) == (4, "Thanks")


def test_an_upload_is_decoded_like_a_file(tmp_path):
    raw = io.BytesIO(
        b"\xef\xbb\xbf" + ORDER_HEADER.encode() + b"1\t2026-03-01T10:00:00Z\tShipped\tA\t1\t\tcaf\xe9\n"
    )

    [(_, record)] = list(parse_report(decode_csv(raw), ALL_ORDERS))

    assert record.order.order_id == "1"
    assert record.line.title == "caf\ufffd"


@pytest.mark.parametrize(
    ("written", "read"),
    [
        ("19.99", Decimal("19.99")),
        ("1,299.00", Decimal("1299.00")),
        ("12,99", Decimal("12.99")),
        ("-5.00", Decimal("-5.00")),
        ("1 299.50", Decimal("1299.50")),
        ("1000", Decimal("1000")),
    ],
)
def test_amounts_are_read_with_thousands_separators_or_a_decimal_comma(written, read):
    [(_, record)] = parsed(ORDER_HEADER + f"1\t2026-03-01T10:00:00Z\tShipped\tA\t1\t{written}\tx\n")

    assert record.line.price == read


@pytest.mark.parametrize(
    ("word", "status"),
    [
        ("Pending", "pending"),
        ("Pending - Waiting for Pick Up", "pending"),
        ("Unshipped", "unshipped"),
        ("PartiallyShipped", "partially_shipped"),
        ("Shipped", "shipped"),
        ("Shipped - Delivered to Buyer", "shipped"),
        ("Shipping", "shipped"),
        ("Cancelled", "cancelled"),
        ("Canceled", "cancelled"),
        ("Unfulfillable", "unfulfillable"),
        ("Something new", ""),
    ],
)
def test_amazon_order_statuses_map_to_ours(word, status):
    assert order_reports.amazon_order_status(word) == status


def test_a_timestamp_without_an_offset_is_local_time_in_the_zone_given():
    [(_, record)] = parsed(
        ORDER_HEADER + "1\t2026-07-01 09:00:00\tShipped\tA\t1\t\tx\n", zone="Europe/Berlin"
    )

    assert record.order.purchased_at == datetime(2026, 7, 1, 7, tzinfo=UTC)


def test_the_parsers_limits_and_values_match_the_database():
    widths = {
        "order_id": m.Order._meta.get_field("marketplace_order_id").max_length,
        "merchant_order_id": m.Order._meta.get_field("merchant_order_id").max_length,
        "marketplace_status": m.Order._meta.get_field("marketplace_status").max_length,
        "sales_channel": m.Order._meta.get_field("sales_channel").max_length,
        "ship_service_level": m.Order._meta.get_field("ship_service_level").max_length,
        "buyer_email": m.Order._meta.get_field("buyer_email").max_length,
        "buyer_name": m.Order._meta.get_field("buyer_name").max_length,
        "ship_city": m.Order._meta.get_field("ship_city").max_length,
        "ship_state": m.Order._meta.get_field("ship_state").max_length,
        "ship_postal_code": m.Order._meta.get_field("ship_postal_code").max_length,
        "sku": m.OrderLine._meta.get_field("sku").max_length,
        "item_id": m.OrderLine._meta.get_field("item_id").max_length,
        "item_status": m.OrderLine._meta.get_field("item_status").max_length,
        "shipment_id": m.Shipment._meta.get_field("shipment_id").max_length,
        "carrier": m.Shipment._meta.get_field("carrier").max_length,
        "tracking_number": m.Shipment._meta.get_field("tracking_number").max_length,
        "warehouse": m.Shipment._meta.get_field("warehouse").max_length,
        "return_id": m.Return._meta.get_field("external_id").max_length,
        "reason_code": m.Return._meta.get_field("reason_code").max_length,
        "disposition": m.Return._meta.get_field("disposition").max_length,
        "return_status": m.Return._meta.get_field("status").max_length,
        "rater_email": m.Feedback._meta.get_field("rater_email").max_length,
        "cancellation_id": m.Cancellation._meta.get_field("external_id").max_length,
        "transaction_id": m.OrderLine._meta.get_field("transaction_id").max_length,
        "claim_id": m.Claim._meta.get_field("external_id").max_length,
        "claim_status": m.Claim._meta.get_field("status").max_length,
    }

    assert widths == order_reports.MAX_LENGTHS
    assert m.Inquiry._meta.get_field("order_id").max_length == widths["order_id"]
    assert m.Return._meta.get_field("warehouse").max_length == widths["warehouse"]
    statuses = {
        order_reports.PENDING,
        order_reports.UNSHIPPED,
        order_reports.PARTIALLY_SHIPPED,
        order_reports.SHIPPED,
        order_reports.CANCELLED,
        order_reports.UNFULFILLABLE,
    }
    assert statuses | {""} == set(m.OrderStatus.values)
    assert {order_reports.MERCHANT, order_reports.MARKETPLACE, ""} == set(m.FulfilmentChannel.values)
    assert {order_reports.BUYER, order_reports.SELLER, order_reports.MARKETPLACE, ""} == set(
        m.CancelledBy.values
    )
    assert {core.POSITIVE, core.NEUTRAL, core.NEGATIVE} == set(m.Polarity.values)
    assert {rating: core.polarity_of_rating(rating) for rating in range(1, 6)} == RATING_POLARITY
    assert core.GUARANTEE in m.ClaimKind.values
    assert {core.OPEN, core.FOR_BUYER, core.RESOLVED} <= set(m.ClaimOutcome.values)


def test_a_tab_separated_field_over_the_size_limit_rejects_its_line_only(monkeypatch):
    monkeypatch.setattr(csv_module, "field_size_limit", lambda *limit: 50)
    huge = "x" * 51
    rows = parsed(
        ORDER_HEADER
        + f"1\t2026-03-01T10:00:00Z\tShipped\tA\t1\t1.00\t{huge}\n"
        + "2\t2026-03-01T10:00:00Z\tShipped\tB\t1\t1.00\tMug\r\n"
    )

    assert [line for line, _ in rows] == [2, 3]
    assert isinstance(rows[0][1], RowRejected)
    assert rows[0][1].errors == ("not valid CSV: field larger than field limit (50)",)
    assert isinstance(rows[1][1], Record)
    assert rows[1][1].line.title == "Mug"


def test_quote_characters_and_spaces_in_a_tab_separated_file_are_text():
    [(_, record)] = parsed(ORDER_HEADER + '1\t2026-03-01T10:00:00Z\tShipped\tA\t1\t1.00\t 12" "deluxe\n')

    assert isinstance(record, Record)
    assert record.line.title == '12" "deluxe'
