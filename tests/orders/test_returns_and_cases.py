"""Walmart's returns download and cancellation report: sample files written for these tests
(tests/orders/data/, with a byte-order mark, quoted commas, hostile text and a bad line), read by
the parser and imported by the service, the command and the API, twice (nothing is stored twice)."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from inquiries import models as m
from inquiries.ingestion.csv_import import open_csv
from inquiries.ingestion.order_reports import FORMATS, Record, RowRejected, parse_report
from inquiries.selectors.health.order_metrics import marketplace_figures
from inquiries.services.orders import import_orders
from tests.conftest import token_client
from tests.orders.conftest import data, import_file, run_import_command

pytestmark = pytest.mark.django_db

ZONE = "America/Los_Angeles"
AS_OF = datetime(2026, 3, 31, 19, 0, tzinfo=UTC)


def rows(name: str, fmt: str) -> dict[int, Record | RowRejected]:
    with open_csv(data(name)) as stream:
        return dict(parse_report(stream, FORMATS[fmt], zone=ZONE))


# --- Walmart returns -----------------------------------------------------------------------


def test_walmart_return_rows_read_into_returns_of_their_po():
    read = rows("walmart-returns", "walmart-returns")

    first = read[2]
    assert isinstance(first, Record)
    assert first.order.order_id == "1000000000001"
    assert first.returned.external_id == "RO-1001 line 1"
    assert first.returned.requested_at == datetime(2026, 3, 8, 8, tzinfo=UTC)  # midnight in Los Angeles
    assert first.returned.received_at is None
    assert first.returned.buyer_comment == 'Arrived cracked, "badly"'
    assert read[3].returned.external_id == "RO-1001 line 2"
    assert read[3].returned.buyer_comment == (
        '=HYPERLINK("http://evil.example","x") <script>alert(1)</script>'
    )
    completed = read[4].returned
    assert (completed.quantity, completed.status, completed.refund_amount) == (
        2,
        "COMPLETED",
        Decimal("60.00"),
    )
    assert read[6].returned.external_id == "TOWEL-1@03/11/2026"  # no return order number


def test_a_bad_walmart_return_line_names_every_error_with_its_column():
    bad = rows("walmart-returns", "walmart-returns")[5]

    assert isinstance(bad, RowRejected)
    assert [error.split(":")[0] for error in bad.errors] == ["PO #", "SKU", "Return Qty", "Return Date"]


def test_a_walmart_returns_import_stores_each_return_once_and_a_later_download_updates_it(walmart):
    first, rejected = import_file(walmart, data("walmart-returns"), "walmart-returns")
    again, _ = import_file(walmart, data("walmart-returns"), "walmart-returns")
    update, _ = import_file(walmart, data("walmart-returns-update"), "walmart-returns")

    assert [line for line, _ in rejected] == [5]
    assert (first.imported, first.rejected) == (4, 1)
    assert {label: vars(c) for label, c in first.counts.items()} == {
        "orders": {"created": 3, "updated": 0},
        "returns": {"created": 4, "updated": 0},
    }
    assert {label: c.created for label, c in again.counts.items()} == {"orders": 0, "returns": 0}
    assert vars(update.counts["returns"]) == {"created": 0, "updated": 1}
    returns = {r.external_id: r for r in m.Return.objects.filter(order__account=walmart)}
    assert len(returns) == 4
    done = returns["RO-1001 line 1"]
    assert (done.status, done.refund_amount) == ("COMPLETED", Decimal("12.99"))
    assert done.received_at == datetime(2026, 3, 12, 7, tzinfo=UTC)  # after the switch to PDT
    assert done.requested_at == datetime(2026, 3, 8, 8, tzinfo=UTC)
    assert returns["RO-1001 line 2"].buyer_comment.startswith("=HYPERLINK(")
    # A return names an order not imported yet: the order is created, its own facts left to the
    # orders download.
    created = m.Order.objects.get(account=walmart, marketplace_order_id="1000000000009")
    assert created.purchased_at is None


def test_a_returns_download_without_the_refund_column_keeps_the_stored_refund(walmart):
    import_file(walmart, data("walmart-returns-update"), "walmart-returns")
    text = "PO #,SKU,Return Date,Return Order #,Return Order Line #,Return Status\n"
    text += "1000000000001,MUG-BLUE,03/08/2026,RO-1001,1,REFUNDED\n"

    import_orders(
        account=walmart,
        fmt=FORMATS["walmart-returns"],
        rows=parse_report(io.StringIO(text), FORMATS["walmart-returns"], zone=ZONE),
    )

    stored = m.Return.objects.get(order__account=walmart, external_id="RO-1001 line 1")
    assert (stored.status, stored.refund_amount) == ("REFUNDED", Decimal("12.99"))
    assert stored.received_at == datetime(2026, 3, 12, 7, tzinfo=UTC)


# --- Walmart cancellations -----------------------------------------------------------------


def test_the_walmart_cancellation_report_names_who_cancelled(walmart):
    result, rejected = import_file(walmart, data("walmart-cancellations"), "walmart-cancellations")
    again, _ = import_file(walmart, data("walmart-cancellations"), "walmart-cancellations")

    assert rejected == [(4, "poNum: required; cancelDate: required")]
    assert {label: vars(c) for label, c in result.counts.items()} == {
        "orders": {"created": 3, "updated": 0},
        "cancellations": {"created": 3, "updated": 0},
    }
    assert {label: c.created for label, c in again.counts.items()} == {"orders": 0, "cancellations": 0}
    by_order = {
        c.order.marketplace_order_id: c
        for c in m.Cancellation.objects.filter(order__account=walmart).select_related("order")
    }
    assert {po: c.cancelled_by for po, c in by_order.items()} == {
        "1000000000004": "seller",
        "1000000000005": "buyer",
        "1000000000006": "",  # a reason that is not one of Walmart's codes names nobody
    }
    assert by_order["1000000000004"].external_id == "item 333 2026-03-02"
    assert by_order["1000000000004"].at == datetime(2026, 3, 2, 8, tzinfo=UTC)
    assert by_order["1000000000006"].reason == 'Price wrong <b>"oops"</b>'
    assert by_order["1000000000004"].order.purchased_at == datetime(2026, 3, 1, 8, tzinfo=UTC)


def test_a_cancellation_report_naming_the_po_line_updates_the_orders_downloads_cancellation(walmart):
    import_file(walmart, data("walmart-orders"), "walmart-orders")
    before = m.Cancellation.objects.filter(order__account=walmart).count()
    text = "poNum,lineNumber,cancelDate,cancelReason\n1000000000004,1,2026-03-02,SELLER_CANCEL_OUT_OF_STOCK\n"

    result = import_orders(
        account=walmart,
        fmt=FORMATS["walmart-cancellations"],
        rows=parse_report(io.StringIO(text), FORMATS["walmart-cancellations"], zone=ZONE),
    )

    assert vars(result.counts["cancellations"]) == {"created": 0, "updated": 1}
    assert m.Cancellation.objects.filter(order__account=walmart).count() == before


def stored_cancellations(account: m.Account) -> dict[str, list[tuple[str | None, str]]]:
    found: dict[str, list[tuple[str | None, str]]] = {}
    for c in m.Cancellation.objects.filter(order__account=account).order_by(
        "order__marketplace_order_id", "external_id"
    ):
        found.setdefault(c.order.marketplace_order_id, []).append((c.external_id, c.cancelled_by))
    return found


@pytest.mark.parametrize("report_first", [False, True])
def test_a_cancelled_line_of_two_of_one_sku_and_whole_cancelled_orders_are_stored_once_by_both_imports(
    walmart, report_first
):
    """PO ...01: two lines of one SKU, one shipped and one cancelled by the seller; ...02: a whole
    order the buyer cancelled (two lines of one SKU and another item); ...03: two lines of one SKU,
    one cancelled by the buyer, the other by the seller the next day. The orders download names
    the lines, the cancellation report the items: both key a cancellation by its item and day."""
    files = [
        (data("walmart-orders-cancelled-lines"), "walmart-orders"),
        (data("walmart-cancellations-lines"), "walmart-cancellations"),
    ]
    results = [import_file(walmart, path, fmt) for path, fmt in (files[::-1] if report_first else files)]

    assert [rejected for _, rejected in results] == [[], []]
    assert stored_cancellations(walmart) == {
        "2000000000001": [("item 333 2026-03-02", "seller")],
        "2000000000002": [("item 333 2026-03-04", "buyer"), ("item 444 2026-03-04", "buyer")],
        "2000000000003": [("item 555 2026-03-05", "buyer"), ("item 555 2026-03-06", "seller")],
    }
    assert results[1][0].counts["cancellations"].created == 0  # the second import finds every one
    statuses = dict(m.Order.objects.filter(account=walmart).values_list("marketplace_order_id", "status"))
    assert statuses == {
        "2000000000001": "shipped",
        "2000000000002": "cancelled",
        "2000000000003": "cancelled",
    }
    (rate,) = [
        f
        for f in marketplace_figures(walmart, AS_OF, at_risk_ratio=0.8)
        if f.key == "walmart_cancellation_rate"
    ]
    # ...01 (its line cancelled before the other shipped) and ...03; the buyer cancelled ...02.
    assert (rate.counts.numerator, rate.counts.denominator) == (2, 3)


def test_a_download_keys_a_cancelled_line_by_its_line_or_else_by_its_sku_and_day():
    with_lines = (
        "PO#,Order Date,Line#,Status,SKU,Qty,Cancel Date\nP1,03/01/2026,2,Cancelled,MUG,1,03/02/2026\n"
    )
    without = (
        "PO#,Order Date,Status,SKU,Qty,Cancel Reason,Cancel Date\n"
        "P2,03/01/2026,Cancelled,MUG,1,CUSTOMER_REQUESTED_SELLER_TO_CANCEL,03/02/2026\n"
        "P2,03/01/2026,Cancelled,MUG,1,SELLER_CANCEL_OUT_OF_STOCK,03/05/2026\n"
        "P3,03/01/2026,Cancelled,MUG,1,,\n"
    )

    keys = [
        record.cancellation.external_id
        for text in (with_lines, without)
        for _, record in parse_report(io.StringIO(text), FORMATS["walmart-orders"], zone=ZONE)
        if isinstance(record, Record) and record.cancellation
    ]

    assert keys == ["line 2", "sku MUG 2026-03-02", "sku MUG 2026-03-05", "sku MUG undated"]


# --- the command and the API ---------------------------------------------------------------


@pytest.mark.parametrize(("name", "summary", "bad_line"), [
    (
        "walmart-returns",
        "imported=4 rejected=1 orders_created=3 orders_updated=0 returns_created=4 returns_updated=0 "
        "inquiries_linked=0",
        5,
    ),
    (
        "walmart-cancellations",
        "imported=3 rejected=1 orders_created=3 orders_updated=0 cancellations_created=3 "
        "cancellations_updated=0 inquiries_linked=0",
        4,
    ),
])  # fmt: skip
def test_the_command_imports_walmarts_returns_and_cancellations(walmart, name, summary, bad_line):
    status, out, err = run_import_command(data(name), walmart, name)

    assert status == 1
    assert out.strip() == summary
    assert err.startswith(f"{data(name)}:line {bad_line}: ")


def test_the_api_upload_takes_walmarts_returns_and_cancellations(walmart, manager):
    client = token_client(manager)
    url = reverse("api:account-orders-import", args=[walmart.pk])

    answers = [
        client.post(
            f"{url}?format={name}&timezone={ZONE}",
            {"file": SimpleUploadedFile(f"{name}.csv", data(name).read_bytes())},
            format="multipart",
        )
        for name in ("walmart-returns", "walmart-cancellations")
    ]

    assert [answer.status_code for answer in answers] == [200, 200]
    assert [(a.json()["imported"], a.json()["rejected"]) for a in answers] == [(4, 1), (3, 1)]
    assert [a.json()["rejections"][0]["line"] for a in answers] == [5, 4]
    assert m.Return.objects.filter(order__account=walmart).count() == 4
