"""Walmart's and eBay's order downloads: sample files written for these tests (tests/orders/data/,
with a byte-order mark, quoted commas, hostile text, a bad line and a second download that
changes statuses), imported by the service, the command and the API, and the marketplace
metrics computed from them checked against a plain computation over the same files."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, time
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from inquiries import models as m
from inquiries import services
from inquiries.ingestion.csv_import import open_csv
from inquiries.ingestion.order_reports import FORMATS, Record, RowRejected, parse_report
from inquiries.selectors.health.order_metrics import marketplace_figures
from inquiries.services.orders import OrderImport, import_orders
from tests import factories
from tests.conftest import token_client
from tests.orders.conftest import data, import_file, import_sample, run_import_command

pytestmark = pytest.mark.django_db

ZONE = "America/Los_Angeles"
AS_OF = datetime(2026, 3, 31, 19, 0, tzinfo=UTC)


def load(account: m.Account, name: str, fmt: str) -> tuple[OrderImport, list[tuple[int, str]]]:
    return import_file(account, data(name), fmt)


def local(day: str, pattern: str, *, end: bool = False) -> datetime:
    """A day of the sample files as the plain computation reads it: midnight, or the last second."""
    at = time(23, 59, 59) if end else time(0)
    return datetime.combine(datetime.strptime(day, pattern).date(), at, ZoneInfo(ZONE)).astimezone(UTC)


# --- Walmart ---------------------------------------------------------------------------


def test_walmart_rows_read_into_orders_lines_shipments_and_cancellations():
    with open_csv(data("walmart-orders")) as stream:
        rows = list(parse_report(stream, FORMATS["walmart-orders"], zone=ZONE))

    records = {line: item for line, item in rows if isinstance(item, Record)}
    first = records[2]
    assert first.order.order_id == "1000000000001"
    assert first.order.purchased_at == datetime(2026, 3, 1, 8, tzinfo=UTC)  # midnight in Los Angeles
    assert first.order.ship_by == datetime(2026, 3, 4, 7, 59, 59, tzinfo=UTC)  # all of Mar 3 counts
    assert (first.order.currency, first.order.fulfilment_channel) == ("USD", "merchant")
    assert (first.line.sku, first.line.quantity, first.line.price) == ("MUG-BLUE", 2, Decimal("25.98"))
    assert first.line.title == 'Mug, blue "large"'
    assert first.shipment.carrier == "UPS"
    assert first.shipment.delivered_at == datetime(2026, 3, 5, 8, tzinfo=UTC)
    assert records[6].cancellation.cancelled_by == "seller"
    assert records[7].cancellation.cancelled_by == "buyer"
    assert records[9].line.price == Decimal("1299.00")
    [(line, rejection)] = [(line, item) for line, item in rows if isinstance(item, RowRejected)]
    assert line == 8
    assert rejection.errors == (
        "PO#: required",
        "Order Date: not a timestamp this import reads (ISO 8601, RFC 2822, DD/MM/YYYY HH:MM and other "
        "common shapes, or give --date-format): 'yesterday'",
        "Qty: not a whole number of units from 0 to 1,000,000: 'two'",
        "Item Cost: not an amount: 'abc'",
    )


def test_walmart_headers_may_be_the_orders_api_names():
    text = (
        "purchaseOrderId,orderDate,estimatedShipDate,estimatedDeliveryDate,lineNumber,Line Status,sku,quantity,"
        "trackingNum,carrier\n"
        "2581154514813,2026-03-01T10:00:00Z,2026-03-03,2026-03-06,1,Shipped,SKU-1,1,1Z1,UPS\n"
    )

    [(_, record)] = list(parse_report(io.StringIO(text), FORMATS["walmart-orders"], zone=ZONE))

    assert isinstance(record, Record)
    assert record.order.order_id == "2581154514813"
    assert record.order.purchased_at == datetime(2026, 3, 1, 10, tzinfo=UTC)
    assert record.shipment.tracking_number == "1Z1"


def test_a_walmart_import_stores_each_row_once_and_a_second_download_updates_the_statuses(walmart):
    first, rejected = load(walmart, "walmart-orders", "walmart-orders")
    again, _ = load(walmart, "walmart-orders", "walmart-orders")
    update, _ = load(walmart, "walmart-orders-update", "walmart-orders")

    assert [line for line, _ in rejected] == [8]
    assert (first.imported, first.rejected) == (7, 1)
    assert {label: vars(c) for label, c in first.counts.items()} == {
        "orders": {"created": 6, "updated": 0},
        "lines": {"created": 7, "updated": 0},
        "shipments": {"created": 4, "updated": 0},
        "cancellations": {"created": 2, "updated": 0},
    }
    assert {label: c.created for label, c in again.counts.items()} == {
        "orders": 0,
        "lines": 0,
        "shipments": 0,
        "cancellations": 0,
    }
    assert update.counts["shipments"].created == 1
    orders = {o.marketplace_order_id: o for o in m.Order.objects.filter(account=walmart)}
    assert len(orders) == 6
    assert orders["1000000000003"].status == "shipped"  # was partially shipped before the update
    assert orders["1000000000004"].status == "cancelled"
    assert m.Cancellation.objects.filter(order__account=walmart).count() == 2
    lid = m.OrderLine.objects.get(order=orders["1000000000003"], sku="LID-1")
    assert lid.title == '=HYPERLINK("http://evil.example","Lid") <script>x</script>'
    assert lid.item_status == "Shipped"
    teapot = m.Shipment.objects.get(order=orders["1000000000003"], shipment_id="794600000002")
    assert teapot.delivered_at == datetime(2026, 3, 13, 7, tzinfo=UTC)


def test_a_walmart_order_with_a_shipped_and_an_unshipped_line_is_partially_shipped(walmart):
    load(walmart, "walmart-orders", "walmart-orders")

    order = m.Order.objects.get(account=walmart, marketplace_order_id="1000000000003")

    assert order.status == "partially_shipped"


def test_walmart_metrics_from_the_imported_files_match_a_plain_computation(walmart):
    load(walmart, "walmart-orders", "walmart-orders")
    load(walmart, "walmart-orders-update", "walmart-orders")

    figures = {f.key: f.counts for f in marketplace_figures(walmart, AS_OF, at_risk_ratio=0.8)}

    # The plain computation: the files' rows, the later download's rows replacing the earlier's.
    rows: dict[tuple[str, str], dict[str, str]] = {}
    for name in ("walmart-orders", "walmart-orders-update"):
        with data(name).open(encoding="utf-8-sig", newline="") as handle:
            for row in csv.DictReader(handle):
                if row["PO#"] and row["Qty"].isdigit():
                    rows[(row["PO#"], row["Line#"])] = row
    orders = {po for po, _ in rows}
    packages = {(po, row["Tracking Number"]) for (po, _), row in rows.items() if row["Tracking Number"]}
    valid = {
        (po, row["Tracking Number"])
        for (po, _), row in rows.items()
        if row["Tracking Number"] and row["Carrier"]
    }
    delivered = {po: row for (po, _), row in rows.items() if row.get("Actual Delivery Date")}
    on_time = {
        po
        for po, row in delivered.items()
        if local(row["Actual Delivery Date"], "%m/%d/%Y") <= local(row["Delivery Date"], "%m/%d/%Y", end=True)
    }
    seller_cancelled = {
        po for (po, _), row in rows.items() if row.get("Cancel Reason", "").startswith("SELLER")
    }

    assert (
        figures["walmart_valid_tracking_rate"].numerator,
        figures["walmart_valid_tracking_rate"].denominator,
    ) == (
        len(valid),
        len(packages),
    )
    assert (len(valid), len(packages)) == (4, 5)
    otd = figures["walmart_on_time_delivery_rate"]
    assert (otd.numerator, otd.denominator) == (len(on_time), len(delivered)) == (2, 3)
    cancel = figures["walmart_cancellation_rate"]
    assert (cancel.numerator, cancel.denominator) == (len(seller_cancelled), len(orders)) == (1, 6)
    assert figures["walmart_return_rate"].numerator == 0


# --- eBay ------------------------------------------------------------------------------


def test_ebay_rows_skip_the_leading_blank_line_and_the_closing_summary():
    with open_csv(data("ebay-orders")) as stream:
        rows = list(parse_report(stream, FORMATS["ebay-orders"], zone=ZONE))

    assert [line for line, _ in rows] == [3, 4, 5, 6, 7, 8]
    records = {line: item for line, item in rows if isinstance(item, Record)}
    mug = records[3]
    assert (mug.order.order_id, mug.order.merchant_order_id) == ("12-11111-11111", "1001")
    assert mug.order.purchased_at == datetime(2026, 3, 1, 8, tzinfo=UTC)
    assert (mug.line.sku, mug.line.item_id, mug.line.quantity) == ("MUG-BLUE", "325112233445", 2)
    assert (mug.line.price, mug.order.currency) == (Decimal("25.98"), "USD")  # $12.99 a unit, two units
    assert mug.order.ship_country == "US"
    assert records[4].line is None  # the order's own row of a multi-item order
    assert records[6].line.sku == "325112233447"  # no Custom Label: the item number
    assert records[7].order.buyer_name == "<script>alert(1)</script>"
    rejection = rows[-1][1]
    assert isinstance(rejection, RowRejected)
    assert rejection.errors == (
        "Quantity: not a whole number of units from 0 to 1,000,000: 'x'",
        "Sold For: not an amount: '12.99 dollars'",
        "Sale Date: not a date: 'Feb-30-26'",
    )


@pytest.mark.parametrize(
    ("written", "amount", "currency"),
    [
        ("$12.99", Decimal("12.99"), "USD"),
        ("US $1,299.00", Decimal("1299.00"), "USD"),
        ("C $15.00", Decimal("15.00"), "CAD"),
        ("AU $20.00", Decimal("20.00"), "AUD"),
        ("£8.50", Decimal("8.50"), "GBP"),
        ("EUR 12,50", Decimal("12.50"), "EUR"),
        ("12,50 €", Decimal("12.50"), "EUR"),
        ("9.99", Decimal("9.99"), ""),
    ],
)
def test_ebay_amounts_are_read_with_their_currency(written, amount, currency):
    text = f'Order Number,Sale Date,Custom Label,Quantity,Sold For\n1,Mar-01-26,A,1,"{written}"\n'

    [(_, record)] = list(parse_report(io.StringIO(text), FORMATS["ebay-orders"], zone=ZONE))

    assert isinstance(record, Record)
    assert (record.line.price, record.order.currency) == (amount, currency)


def test_an_ebay_import_merges_a_multi_item_order_and_a_second_download_ships_it(ebay):
    first, rejected = load(ebay, "ebay-orders", "ebay-orders")
    update, _ = load(ebay, "ebay-orders-update", "ebay-orders")

    assert [line for line, _ in rejected] == [8]
    assert {label: vars(c) for label, c in first.counts.items()} == {
        "orders": {"created": 3, "updated": 0},
        "lines": {"created": 4, "updated": 0},
        "shipments": {"created": 2, "updated": 0},
    }
    assert (update.counts["orders"].created, update.counts["orders"].updated) == (0, 1)
    multi = m.Order.objects.get(account=ebay, marketplace_order_id="12-22222-22222")
    # The buyer from the order's own row, the currency from its items: nothing blank wins.
    assert (multi.buyer_name, multi.currency, multi.purchased_at) == (
        "Bo Chen",
        "USD",
        datetime(2026, 3, 5, 8, tzinfo=UTC),
    )
    assert sorted(multi.lines.values_list("sku", flat=True)) == ["325112233447", "TEE-S"]
    # One package for its two items; the service named on the order's own row is kept.
    assert multi.shipments.get().service == "USPS Priority Mail"
    shipped = m.Order.objects.get(account=ebay, marketplace_order_id="12-33333-33333")
    assert shipped.status == "shipped"
    assert shipped.shipments.get().tracking_number == "LA000000001FR"


def test_ebay_metrics_from_the_imported_files_match_a_plain_computation(ebay):
    load(ebay, "ebay-orders", "ebay-orders")
    load(ebay, "ebay-orders-update", "ebay-orders")

    figures = {f.key: f.counts for f in marketplace_figures(ebay, AS_OF, at_risk_ratio=0.8)}

    # The plain computation: per order, its ship-by day and the first day one of its rows shipped.
    ship_by: dict[str, datetime] = {}
    shipped: dict[str, datetime] = {}
    for name in ("ebay-orders", "ebay-orders-update"):
        with data(name).open(encoding="utf-8-sig", newline="") as handle:
            lines = [line for line in handle if line.strip(",\n")]
        for row in csv.DictReader(lines):
            number = row["Order Number"]
            if (
                not number
                or not row["Quantity"].replace("", "0").isdigit()
                or row["Sale Date"] == "Feb-30-26"
            ):
                continue
            if row["Ship By Date"]:
                ship_by[number] = local(row["Ship By Date"], "%b-%d-%y", end=True)
            if row["Shipped On Date"]:
                day = local(row["Shipped On Date"], "%b-%d-%y")
                shipped[number] = min(day, shipped.get(number, day))
    late = {number for number, by in ship_by.items() if number not in shipped or shipped[number] > by}

    late_shipment = figures["ebay_late_shipment_rate"]
    assert (late_shipment.numerator, late_shipment.denominator) == (len(late), len(ship_by)) == (2, 3)
    assert figures["transaction_defect_rate"].numerator == 0
    assert figures["transaction_defect_rate"].denominator == 3


# --- the command and the API -------------------------------------------------------------


@pytest.mark.parametrize(("name", "summary"), [
    (
        "walmart-orders",
        "imported=7 rejected=1 orders_created=6 orders_updated=0 lines_created=7 lines_updated=0 "
        "shipments_created=4 shipments_updated=0 cancellations_created=2 cancellations_updated=0 "
        "inquiries_linked=1",
    ),
    (
        "ebay-orders",
        "imported=5 rejected=1 orders_created=3 orders_updated=0 lines_created=4 lines_updated=0 "
        "shipments_created=2 shipments_updated=0 inquiries_linked=0",
    ),
])  # fmt: skip
def test_the_command_imports_both_formats_and_links_the_inquiry_naming_a_po(account, channel, name, summary):
    recorded = services.record_message(channel=channel, incoming=factories.incoming(order_id="1000000000001"))
    inquiry = m.Inquiry.objects.get(pk=recorded.inquiry_id)

    status, out, err = run_import_command(data(name), account, name)

    assert status == 1
    assert out.strip() == summary
    assert err.startswith(f"{data(name)}:line 8: ")
    inquiry.refresh_from_db()
    assert (inquiry.linked_order is not None) == (name == "walmart-orders")


def test_the_api_upload_takes_both_formats(account, manager):
    client = token_client(manager)
    url = reverse("api:account-orders-import", args=[account.pk])

    answers = [
        client.post(
            f"{url}?format={name}&timezone={ZONE}",
            {"file": SimpleUploadedFile(f"{name}.csv", data(name).read_bytes())},
            format="multipart",
        )
        for name in ("walmart-orders", "ebay-orders")
    ]

    assert [answer.status_code for answer in answers] == [200, 200]
    assert [(a.json()["imported"], a.json()["rejected"]) for a in answers] == [(7, 1), (5, 1)]
    assert answers[0].json()["rejections"][0]["line"] == 8
    assert m.Order.objects.filter(account=account).count() == 9
    assert m.Order.objects.get(marketplace_order_id="12-11111-11111").purchased_at == datetime(
        2026, 3, 1, 8, tzinfo=UTC
    )


def test_a_dry_run_of_a_walmart_download_counts_and_writes_nothing(walmart):
    with open_csv(data("walmart-orders")) as stream:
        result = import_orders(
            account=walmart,
            fmt=FORMATS["walmart-orders"],
            rows=parse_report(stream, FORMATS["walmart-orders"], zone=ZONE),
            dry_run=True,
        )

    assert result.summary() == (
        "dry run, nothing written: imported=7 rejected=1 orders_created=6 orders_updated=0 lines_created=7 "
        "lines_updated=0 shipments_created=4 shipments_updated=0 cancellations_created=2 "
        "cancellations_updated=0 inquiries_linked=0"
    )
    assert not m.Order.objects.exists()


def test_a_report_without_promised_dates_leaves_the_stored_ones_alone(amazon):
    import_sample(amazon, "amazon-all-orders")
    promised = datetime(2026, 3, 4, 7, 59, 59, tzinfo=UTC)
    m.Order.objects.filter(account=amazon).update(ship_by=promised, deliver_by=promised)

    import_sample(amazon, "amazon-all-orders")

    assert set(m.Order.objects.filter(account=amazon).values_list("ship_by", "deliver_by")) == {
        (promised, promised)
    }


def test_a_walmart_status_we_do_not_know_is_kept_in_walmarts_words():
    text = "PO#,Order Date,Status,SKU,Qty\n1000000000009,03/01/2026,Refund Pending,SKU-1,1\n"

    [(_, record)] = list(parse_report(io.StringIO(text), FORMATS["walmart-orders"], zone=ZONE))

    assert isinstance(record, Record)
    assert (record.order.status, record.order.marketplace_status) == ("", "Refund Pending")


def test_a_download_without_the_delivery_date_column_keeps_the_delivery_dates_stored(walmart):
    load(walmart, "walmart-orders", "walmart-orders")
    without = (
        "PO#,Order Date,Ship By,Line#,Status,SKU,Qty,Carrier,Tracking Number,Ship Date\n"
        "1000000000001,03/01/2026,03/04/2026,1,Delivered,MUG-BLUE,2,UPS,1Z999AA10123456784,03/02/2026\n"
    )

    import_orders(
        account=walmart,
        fmt=FORMATS["walmart-orders"],
        rows=parse_report(io.StringIO(without), FORMATS["walmart-orders"], zone=ZONE),
    )

    order = m.Order.objects.get(account=walmart, marketplace_order_id="1000000000001")
    assert order.ship_by == datetime(2026, 3, 5, 7, 59, 59, tzinfo=UTC)  # the file's new ship-by date
    assert order.deliver_by == datetime(2026, 3, 7, 7, 59, 59, tzinfo=UTC)  # no column: as stored
    assert order.shipments.get().delivered_at == datetime(2026, 3, 5, 8, tzinfo=UTC)
