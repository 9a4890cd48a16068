"""eBay's returns, cases and feedback: answers written for these tests in the shapes eBay
documents (tests/orders/data/*.json: the Post-Order API's return and case searches, the Trading
API's GetFeedback), with hostile text and bad entries, imported after the eBay orders download
whose Transaction IDs name the lines, by the service, the command and the API, twice."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from inquiries import models as m
from inquiries.ingestion.order_reports import FORMATS, Record, RowRejected, parse_report
from inquiries.selectors.health.order_metrics import marketplace_figures
from tests.conftest import token_client
from tests.orders.conftest import DATA, data, import_file, run_import_command

pytestmark = pytest.mark.django_db

ZONE = "America/Los_Angeles"


def answer(name: str) -> Path:
    return DATA / f"{name}.json"


def entries(name: str) -> dict[int, Record | RowRejected]:
    with answer(name).open(encoding="utf-8") as stream:
        return dict(parse_report(stream, FORMATS[name], zone=ZONE))


@pytest.fixture
def ebay_orders(ebay: m.Account) -> m.Account:
    """The eBay account with the orders download imported: its lines carry their Transaction ID."""
    import_file(ebay, data("ebay-orders"), "ebay-orders")
    return ebay


def test_the_orders_download_stores_each_lines_transaction_id(ebay_orders):
    lines = m.OrderLine.objects.filter(order__account=ebay_orders)

    assert dict(lines.values_list("item_id", "transaction_id"))["325112233445"] == "2000000000001"
    assert lines.get(transaction_id="2000000000004").order.marketplace_order_id == "12-33333-33333"


def test_a_download_without_the_transaction_id_column_keeps_the_stored_ones(ebay_orders, tmp_path):
    """The developer program's order report has no Transaction ID: importing it after the orders
    download must not blank what returns, cases and feedback find their line by."""
    import csv

    with data("ebay-orders").open(encoding="utf-8-sig", newline="") as stream:
        rows = [row for row in csv.reader(stream) if row]
    drop = rows[0].index("Transaction ID")
    without = tmp_path / "ebay-orders-no-transaction.csv"
    with without.open("w", encoding="utf-8", newline="") as stream:
        csv.writer(stream).writerows([cell for n, cell in enumerate(row) if n != drop] for row in rows)
    import_file(ebay_orders, without, "ebay-orders")

    lines = m.OrderLine.objects.filter(order__account=ebay_orders)
    assert dict(lines.values_list("item_id", "transaction_id"))["325112233445"] == "2000000000001"


# --- returns -------------------------------------------------------------------------------


def test_return_search_entries_read_into_returns_naming_their_line():
    read = entries("ebay-returns")

    first = read[1]
    assert isinstance(first, Record)
    assert (first.line_ref.item_id, first.line_ref.transaction_id) == ("325112233445", "2000000000001")
    assert first.order.order_id == ""  # the import finds it
    assert first.returned.external_id == "5000000001"
    assert first.returned.requested_at == datetime(2026, 3, 10, 15, 30, tzinfo=UTC)
    assert (first.returned.reason_code, first.returned.status) == ("DEFECTIVE_ITEM", "REFUND_ISSUED")
    assert first.returned.refund_amount == Decimal("12.99")
    # Numbers where eBay documents integers are read as the same ids.
    assert read[2].line_ref.transaction_id == "2000000000004"
    assert read[2].returned.refund_amount is None


def test_a_bad_return_entry_names_every_error_with_its_field():
    bad = entries("ebay-returns")[3]

    assert isinstance(bad, RowRejected)
    assert bad.errors == (
        "returnId: required",
        "creationInfo.item.transactionId: not a single value: '[\"2000000000002\"]'",
        "creationInfo.item.returnQuantity: not a whole number of units from 0 to 1,000,000: 'two'",
        "creationInfo.creationDate.value: not a timestamp this import reads (ISO 8601, RFC 2822, "
        "DD/MM/YYYY HH:MM and other common shapes, or give --date-format): 'last week'",
    )


def test_returns_import_once_onto_the_order_of_their_line_and_an_unknown_line_is_rejected(ebay_orders):
    first, rejected = import_file(ebay_orders, answer("ebay-returns"), "ebay-returns")
    again, _ = import_file(ebay_orders, answer("ebay-returns"), "ebay-returns")

    assert [line for line, _ in rejected] == [3, 4]
    assert rejected[1][1] == (
        "item 999999999999, transaction 1: no order line of this account has them (import the eBay "
        "orders report, with its Transaction ID column, first)"
    )
    assert (first.imported, first.rejected) == (2, 2)
    assert {label: vars(c) for label, c in first.counts.items()} == {
        "orders": {"created": 0, "updated": 0},
        "returns": {"created": 2, "updated": 0},
    }
    assert {label: vars(c) for label, c in again.counts.items()} == {
        "orders": {"created": 0, "updated": 0},
        "returns": {"created": 0, "updated": 2},
    }
    returns = {r.external_id: r for r in m.Return.objects.filter(order__account=ebay_orders)}
    assert returns["5000000001"].order.marketplace_order_id == "12-11111-11111"
    assert (returns["5000000001"].sku, returns["5000000001"].item_id) == ("MUG-BLUE", "325112233445")
    assert returns["5000000001"].buyer_comment == 'Handle broke off, "badly" <script>alert(1)</script>'
    assert returns["5000000002"].buyer_comment.startswith("=HYPERLINK(")


def test_without_the_orders_every_entry_is_rejected_and_nothing_is_created(ebay):
    result, rejected = import_file(ebay, answer("ebay-returns"), "ebay-returns")

    assert (result.imported, result.rejected) == (0, 4)
    assert len(rejected) == 4
    assert not m.Order.objects.filter(account=ebay).exists()


# --- cases ---------------------------------------------------------------------------------


def test_cases_import_once_as_claims_keyed_by_case_id(ebay_orders):
    first, rejected = import_file(ebay_orders, answer("ebay-cases"), "ebay-cases")
    again, _ = import_file(ebay_orders, answer("ebay-cases"), "ebay-cases")

    # Entries are numbered across the answer's pages.
    assert rejected == [(3, "claimAmount.value: not an amount: 'lots'")]
    assert vars(first.counts["claims"]) == {"created": 3, "updated": 0}
    assert vars(again.counts["claims"]) == {"created": 0, "updated": 3}
    claims = {c.external_id: c for c in m.Claim.objects.filter(order__account=ebay_orders)}
    assert len(claims) == 3
    decided = claims["5100000001"]
    assert (decided.kind, decided.status, decided.outcome) == ("guarantee", "CS_CLOSED", "for_buyer")
    assert decided.order.marketplace_order_id == "12-22222-22222"
    assert decided.opened_at == datetime(2026, 3, 20, 10, tzinfo=UTC)
    assert decided.decided_at == datetime(2026, 3, 25, 18, tzinfo=UTC)
    assert decided.amount == Decimal("20.00")
    assert (claims["5100000002"].outcome, claims["5100000002"].decided_at) == (
        "resolved",
        datetime(2026, 3, 29, 10, tzinfo=UTC),
    )
    assert (claims["5100000004"].outcome, claims["5100000004"].decided_at) == ("", None)


def sale_day(text: str) -> datetime | None:
    try:
        return datetime.strptime(text, "%b-%d-%y")
    except ValueError:
        return None


def test_the_ebay_metrics_count_the_imported_cases(ebay_orders):
    import_file(ebay_orders, answer("ebay-cases"), "ebay-cases")
    as_of = datetime(2026, 4, 1, tzinfo=UTC)

    # The same figures computed from the files themselves: orders purchased (all in the 12-month
    # window, fewer than 400), and those with a case closed by eBay's customer support.
    rows = list(csv.DictReader(io.StringIO(data("ebay-orders").read_text("utf-8-sig").lstrip())))
    orders = {row["Order Number"] for row in rows if sale_day(row["Sale Date"])}
    by_line = {
        (row["Item Number"], row["Transaction ID"]): row["Order Number"]
        for row in rows
        if row["Order Number"] in orders and row.get("Transaction ID")
    }
    pages = json.loads(answer("ebay-cases").read_text("utf-8"))
    defects = {
        by_line[(str(case["itemId"]), str(case["transactionId"]))]
        for page in pages
        for case in page["members"]
        if case["caseStatusEnum"] == "CS_CLOSED"
    }
    figures = {f.key: f.counts for f in marketplace_figures(ebay_orders, as_of, at_risk_ratio=0.8)}

    for key in ("transaction_defect_rate", "cases_closed_without_seller_resolution"):
        assert (figures[key].numerator, figures[key].denominator) == (len(defects), len(orders)), key
    assert (len(defects), len(orders)) == (1, 3)


# --- feedback ------------------------------------------------------------------------------


def test_feedback_is_stored_as_ebays_word_never_as_a_star_rating(ebay_orders):
    first, rejected = import_file(ebay_orders, answer("ebay-feedback"), "ebay-feedback")
    again, _ = import_file(ebay_orders, answer("ebay-feedback"), "ebay-feedback")

    assert rejected == [
        (3, "CommentType: not Positive, Neutral or Negative: 'Withdrawn'; TransactionID: required"),
        (5, "Role: feedback received as 'Buyer', not as the seller: not stored"),
    ]
    assert vars(first.counts["feedback"]) == {"created": 3, "updated": 0}
    assert vars(again.counts["feedback"]) == {"created": 0, "updated": 3}
    stored = {
        f.order.marketplace_order_id: f
        for f in m.Feedback.objects.filter(order__account=ebay_orders).select_related("order")
    }
    negative = stored["12-22222-22222"]
    assert (negative.polarity, negative.rating, negative.removed) == ("negative", None, False)
    assert negative.text == "Never arrived =cmd|' /C calc'!A0"
    assert negative.response == "We refunded you."
    assert negative.left_at == datetime(2026, 3, 21, 12, tzinfo=UTC)
    assert negative.shown_rating == "Negative"
    assert "/5" not in str(negative)
    assert (stored["12-33333-33333"].polarity, stored["12-33333-33333"].removed) == ("negative", True)
    assert stored["12-11111-11111"].text == "Great mug <b>fast</b> shipping"


def test_a_star_rating_gets_its_polarity_and_the_check_still_holds(ebay_orders):
    order = m.Order.objects.filter(account=ebay_orders).first()
    assert order is not None

    feedback = m.Feedback.objects.create(order=order, rating=2)

    assert (feedback.polarity, feedback.shown_rating) == ("negative", "2/5")


# --- the command and the API ---------------------------------------------------------------


@pytest.mark.parametrize(("name", "summary", "bad_line"), [
    (
        "ebay-returns",
        "imported=2 rejected=2 orders_created=0 orders_updated=0 returns_created=2 returns_updated=0 "
        "inquiries_linked=0",
        3,
    ),
    (
        "ebay-cases",
        "imported=3 rejected=1 orders_created=0 orders_updated=0 claims_created=3 claims_updated=0 "
        "inquiries_linked=0",
        3,
    ),
    (
        "ebay-feedback",
        "imported=3 rejected=2 orders_created=0 orders_updated=0 feedback_created=3 feedback_updated=0 "
        "inquiries_linked=0",
        3,
    ),
])  # fmt: skip
def test_the_command_imports_ebays_answers(ebay_orders, name, summary, bad_line):
    status, out, err = run_import_command(answer(name), ebay_orders, name)

    assert status == 1
    assert out.strip() == summary
    assert err.startswith(f"{answer(name)}:line {bad_line}: ")


def test_the_api_upload_takes_ebays_answers_and_refuses_a_file_that_is_not_one(ebay_orders, manager):
    client = token_client(manager)
    url = reverse("api:account-orders-import", args=[ebay_orders.pk])

    def upload(name: str, body: bytes) -> dict:
        answered = client.post(
            f"{url}?format={name}",
            {"file": SimpleUploadedFile(f"{name}.json", body)},
            format="multipart",
        )
        return {"status": answered.status_code, **answered.json()}

    answers = [
        upload(name, answer(name).read_bytes()) for name in ("ebay-returns", "ebay-cases", "ebay-feedback")
    ]
    wrong = upload("ebay-cases", b'{"total": 0}')
    broken = upload("ebay-cases", b"caseId,itemId\n1,2\n")

    assert [(a["status"], a["imported"], a["rejected"]) for a in answers] == [
        (200, 2, 2),
        (200, 3, 1),
        (200, 3, 2),
    ]
    assert [a["rejections"][0]["line"] for a in answers] == [3, 3, 3]
    assert wrong["status"] == 400
    assert "no members list" in wrong["file"][0]
    assert (broken["status"], broken["file"]) == (400, ["file: not JSON"])
    assert m.Claim.objects.filter(order__account=ebay_orders).count() == 3
