"""The plan of action in the shape of a marketplace appeal: the case, one block per cause, the
annex of the orders behind each cause (checked against a plain computation over generated
orders), wording per marketplace, house indicators named as ours, exports, hostile text."""

from __future__ import annotations

import csv
import io
import random
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test import Client
from django.urls import reverse

from inquiries import models as m
from inquiries.health.appeal import build_appeal
from inquiries.selectors.health import evidence
from tests.health.conftest import NOW, amazon_odr, answer, ask, client_for, days, hours

pytestmark = pytest.mark.django_db

ZONE = "America/Los_Angeles"
PERIOD = {"from": "2026-02-09", "to": "2026-03-10"}  # ends on NOW's local day: the plan is as of NOW
HOSTILE = "<img src=x onerror=alert(1)>"


@dataclass
class Plain:
    number: str
    purchased: datetime
    ship_by: datetime
    shipped: datetime | None
    tracked: bool
    cancelled_at: datetime | None
    negative: bool


def generate(account: m.Account, count: int, seed: int = 7) -> list[Plain]:
    """Seller-fulfilled orders over the last 70 days: some shipped late or never, some without
    tracking, some cancelled by the seller, some with negative feedback."""
    rnd = random.Random(seed)
    plains = []
    for n in range(count):
        purchased = NOW - timedelta(minutes=rnd.randrange(60, 70 * 24 * 60))
        ship_by = purchased + timedelta(hours=48)
        cancelled = purchased + timedelta(hours=5) if rnd.random() < 0.1 else None
        shipped = None
        if cancelled is None and rnd.random() < 0.85:
            shipped = ship_by + timedelta(hours=rnd.choice([-30, -10, -2, 6, 20]))
            if shipped >= NOW:
                shipped = None
        plain = Plain(
            number=f"111-{n:07d}",
            purchased=purchased,
            ship_by=ship_by,
            shipped=shipped,
            tracked=rnd.random() < 0.8,
            cancelled_at=cancelled,
            negative=rnd.random() < 0.15,
        )
        order = m.Order.objects.create(
            account=account,
            marketplace_order_id=plain.number,
            purchased_at=purchased,
            ship_by=ship_by,
            deliver_by=ship_by + timedelta(days=3),
            fulfilment_channel=m.FulfilmentChannel.MERCHANT,
            status=m.OrderStatus.CANCELLED if cancelled else m.OrderStatus.SHIPPED,
            buyer_name=HOSTILE if n == 0 else f"Buyer {n}",
        )
        m.OrderLine.objects.create(order=order, sku=f"KETTLE-{n % 3}", item_id=f"B0{n % 3}XYZ", quantity=1)
        if shipped is not None:
            m.Shipment.objects.create(
                order=order,
                shipment_id=f"s{n}",
                carrier="UPS" if plain.tracked else "",
                tracking_number=f"1Z{n:06d}" if plain.tracked else "",
                shipped_at=shipped,
            )
        if cancelled is not None:
            m.Cancellation.objects.create(order=order, cancelled_by=m.CancelledBy.SELLER, at=cancelled)
        if plain.negative and purchased + timedelta(days=1) < NOW:
            m.Feedback.objects.create(
                order=order,
                rating=1,
                text="<script>alert(2)</script> broken",
                left_at=purchased + timedelta(days=1),
            )
        else:
            plain.negative = False
        plains.append(plain)
    return plains


def start(days_: int) -> datetime:
    """The local midnight starting a window of `days_` local days that ends at NOW."""
    zone = ZoneInfo(ZONE)
    return datetime.combine(NOW.astimezone(zone).date() - timedelta(days=days_ - 1), time(0), zone)


def plain_failing(orders: list[Plain]) -> dict[str, set[str]]:
    """The orders behind each Amazon metric, from the published definitions (docs/health.md)."""
    return {
        "late_shipment_rate": {
            o.number
            for o in orders
            if o.cancelled_at is None
            and start(10) <= o.ship_by < NOW
            and (o.shipped is None or o.shipped > o.ship_by)
        },
        "pre_fulfilment_cancel_rate": {
            o.number for o in orders if o.cancelled_at is not None and start(7) <= o.purchased < NOW
        },
        "valid_tracking_rate": {
            o.number
            for o in orders
            if o.shipped is not None and start(30) <= o.shipped < NOW and not o.tracked
        },
        "order_defect_rate": {o.number for o in orders if o.negative and start(60) <= o.purchased < NOW},
    }


@pytest.fixture
def amazon_la(account: m.Account) -> m.Account:
    account.marketplace = m.Marketplace.AMAZON
    account.timezone = ZONE
    account.save()
    return account


def facts(account: m.Account, **kwargs):
    first, last = datetime(2026, 2, 9).date(), datetime(2026, 3, 10).date()
    return evidence.appeal_facts(account, first, last, now=NOW, **kwargs)


def test_the_annex_lists_exactly_the_orders_behind_each_cause(amazon_la, channel, frozen):
    plains = generate(amazon_la, 90)
    expected = plain_failing(plains)
    assert all(expected.values()), "the generated orders fail every metric checked"
    late_order = sorted(expected["late_shipment_rate"])[0]
    question = ask(channel, datetime(2026, 3, 9, 16, 30, tzinfo=UTC), order_id=late_order)
    answer(question, datetime(2026, 3, 9, 18, 0, tzinfo=UTC))

    built = facts(amazon_la)

    for key, numbers in expected.items():
        table = built.annex[key]
        assert {row.order for row in table.rows} == numbers, key
        assert table.total == len(numbers), key
    assert built.annex["valid_tracking_rate"].rows[0].carrier == ""
    row = next(r for r in built.annex["late_shipment_rate"].rows if r.order == late_order)
    # The buyer's message about the order, received and answered, in the account's time zone.
    assert (row.received, row.answered) == ("2026-03-09 09:30 PDT", "2026-03-09 11:00 PDT")


def test_a_long_annex_shows_the_first_rows_and_the_csv_has_them_all(amazon_la, manager, frozen, monkeypatch):
    plains = generate(amazon_la, 90)
    expected = plain_failing(plains)["late_shipment_rate"]
    monkeypatch.setattr(evidence, "ANNEX_LIMIT", 2)
    client = client_for(manager)

    text = client.get(reverse("inquiries:health_plan_md", args=[amazon_la.pk]), PERIOD).content.decode()
    html = client.get(reverse("inquiries:health_plan", args=[amazon_la.pk]), PERIOD).content.decode()
    response = client.get(
        reverse("inquiries:health_plan_annex_csv", args=[amazon_la.pk, "late_shipment_rate"]), PERIOD
    )

    assert f"Behind the Late Shipment Rate (first 2 of {len(expected)})" in text
    assert "Download CSV" in html
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0][0] == "order"
    assert {row[0] for row in rows[1:]} == expected
    # Times in the account's zone, a buyer's HTML neutralised by being plain CSV text.
    assert all(row[1].endswith(("PST", "PDT")) for row in rows[1:])


def test_the_case_header_names_the_failing_metrics_as_the_marketplace_defines_them(
    amazon_la, manager, frozen
):
    generate(amazon_la, 90)
    query = PERIOD | {"notice": "Notice 123-ABC: Late Shipment Rate", "notice_date": "2026-03-08"}
    typed = PERIOD | {"skus": "KETTLE-9, B09XYZ"}

    text = (
        client_for(manager)
        .get(reverse("inquiries:health_plan_md", args=[amazon_la.pk]), query)
        .content.decode()
    )

    case = text.split("## Summary")[0]
    assert "## Appeal case" in case
    assert "Notice 123-ABC: Late Shipment Rate, 8 March 2026" in case
    assert "| Late Shipment Rate |" in case and "below 4%" in case and "10 days" in case
    assert "Amazon's definition" in case
    assert "KETTLE-0 (B00XYZ)" in case
    assert "Amazon's plan-of-action guidance" in case
    page = (
        client_for(manager).get(reverse("inquiries:health_plan", args=[amazon_la.pk]), typed).content.decode()
    )
    assert "<dd>KETTLE-9, B09XYZ</dd>" in page
    assert 'name="skus" value="KETTLE-9, B09XYZ"' in page  # the edit form keeps what was typed


def test_the_case_header_says_which_orders_the_marketplaces_own_figures_cover(amazon_la, manager, frozen):
    generate(amazon_la, 90)
    amazon_odr(amazon_la, "mfn", 4, 1000, ended=NOW - days(2), reported=NOW - days(1))
    amazon_odr(amazon_la, "afn", 0, 1500, ended=NOW - days(2), reported=NOW - days(1))

    text = client_for(manager).get(reverse("inquiries:health_plan_md", args=[amazon_la.pk]), PERIOD)

    case = text.content.decode().split("## Summary")[0]
    # Only the seller-fulfilled ODR fails (no order of the account is Fulfilled by Amazon): its row
    # carries Amazon's figure for the same channel.
    odr = next(
        line for line in case.splitlines() if line.startswith("| Order Defect Rate (Seller Fulfilled) |")
    )
    assert "Amazon reports 0.4% of seller-fulfilled orders (GOOD)" in odr
    assert "Fulfilled by Amazon" not in case


def test_each_cause_is_a_block_with_its_own_action_measure_and_evidence(amazon_la, manager, frozen):
    generate(amazon_la, 90)
    query = PERIOD | {
        "late_shipment-root": "The warehouse closed for two days.",
        "late_shipment-action": "Shipped every open order; hired a second packer.",
    }

    text = (
        client_for(manager)
        .get(reverse("inquiries:health_plan_md", args=[amazon_la.pk]), query)
        .content.decode()
    )

    causes = text.split("## Root causes")[1].split("## Evidence")[0]
    late = causes.split("### ")[1]
    assert late.startswith("1. Orders shipped late")
    assert "The warehouse closed for two days." in late
    assert "Shipped every open order; hired a second packer." in late
    assert "Not recorded yet: say what stops it from happening again" in late
    assert "Late Shipment Rate (Amazon's definition)" in late
    for title in ("Orders cancelled by us before shipping", "Packages without valid tracking"):
        assert title in causes
    assert "Negative feedback and A-to-z Guarantee claims on seller-fulfilled orders" in causes
    assert "fulfilled by Amazon" not in causes  # no FBA order: that ODR has no data, no cause


def test_each_channels_odr_is_a_cause_of_its_own_named_by_its_channel(amazon_la, manager, frozen):
    """Both ODRs fail: a block per fulfilment channel, its title naming the channel, its evidence
    the channel's ODR and its annex that channel's orders only."""
    plains = generate(amazon_la, 90)
    seller = plain_failing(plains)["order_defect_rate"]
    fba = set()
    for n in range(10):
        order = m.Order.objects.create(
            account=amazon_la,
            marketplace_order_id=f"FBA-{n}",
            purchased_at=NOW - days(5),
            fulfilment_channel=m.FulfilmentChannel.MARKETPLACE,
        )
        if n < 2:
            m.Claim.objects.create(order=order, kind=m.ClaimKind.GUARANTEE, opened_at=NOW - days(2))
            fba.add(order.marketplace_order_id)

    built = facts(amazon_la)
    appeal = build_appeal(built)
    blocks = {block.key: block for block in appeal.blocks}

    assert {row.order for row in built.annex["order_defect_rate"].rows} == seller
    assert {row.order for row in built.annex["order_defect_rate_afn"].rows} == fba
    mfn, afn = blocks["seller_defects"], blocks["marketplace_defects"]
    assert mfn.title == "Negative feedback and A-to-z Guarantee claims on seller-fulfilled orders"
    assert afn.title == "Negative feedback and A-to-z Guarantee claims on orders fulfilled by Amazon"
    assert [view.key for view in mfn.annex] == ["order_defect_rate"]
    assert [view.key for view in afn.annex] == ["order_defect_rate_afn"]
    assert afn.annex[0].title == "Behind the Order Defect Rate (Fulfilled by Amazon)"
    assert afn.evidence[0].startswith(
        "Order Defect Rate (Fulfilled by Amazon) (Amazon's definition): 20%, 2 of 10"
    )
    assert all("A-to-z" in row.note for row in afn.annex[0].rows)  # the claim behind each defect
    labels = [issue.label for issue in appeal.case.issues]
    assert (
        "Order Defect Rate (Seller Fulfilled)" in labels
        and "Order Defect Rate (Fulfilled by Amazon)" in labels
    )


def test_the_wording_follows_the_accounts_marketplace(account, manager, frozen):
    account.marketplace = m.Marketplace.WALMART
    account.save()
    generate(account, 40)

    text = (
        client_for(manager)
        .get(reverse("inquiries:health_plan_md", args=[account.pk]), PERIOD)
        .content.decode()
    )

    assert "Amazon" not in text
    assert "A-to-z" not in text
    assert "Walmart's appeal guidance" in text
    assert "Walmart's definition" in text


def test_a_house_indicator_is_never_labelled_as_the_marketplaces(account, channel, manager, frozen):
    account.marketplace = m.Marketplace.EBAY
    account.save()
    # Return requests (eBay's three business days apply to them) answered late: eBay publishes no
    # late response *rate*, so the rate is our indicator, not one of eBay's metrics.
    for index in range(6):
        message = ask(channel, NOW - days(10 + index), subject=f"Return request 51234{index} for order 12-3")
        answer(message, message.received_at + days(6))

    text = (
        client_for(manager)
        .get(reverse("inquiries:health_plan_md", args=[account.pk]), PERIOD)
        .content.decode()
    )

    assert "Amazon" not in text
    late = text.split("Buyer messages answered late or not at all")[1].split("###")[0]
    assert "cstracker's indicator, not one of eBay's metrics" in late
    assert "eBay's definition" not in late
    for line in text.splitlines():
        if line.startswith(("| Response time", "| Late response rate", "| Complaints")):
            assert "cstracker's indicator" in line, line


def test_the_summary_says_there_was_nothing_to_measure_before_rather_than_a_move(
    amazon_la, channel, manager, frozen
):
    message = ask(channel, NOW - days(3))
    answer(message, message.received_at + hours(40))

    text = (
        client_for(manager)
        .get(reverse("inquiries:health_plan_md", args=[amazon_la.pk]), PERIOD)
        .content.decode()
    )

    assert "went from" not in text.split("## Root causes")[0].replace("went from 0", "")
    assert "nothing to measure the account's health on at the start of the period" in text


def test_hostile_buyer_names_and_comments_are_inert_in_every_export(amazon_la, manager, frozen):
    generate(amazon_la, 90)
    m.Order.objects.update(buyer_name=HOSTILE)
    client = client_for(manager)

    html = client.get(reverse("inquiries:health_plan", args=[amazon_la.pk]), PERIOD).content.decode()
    text = client.get(reverse("inquiries:health_plan_md", args=[amazon_la.pk]), PERIOD).content.decode()
    edited = client.get(
        reverse("inquiries:health_plan", args=[amazon_la.pk]), PERIOD | {"late_shipment-root": "<b>x</b>"}
    ).content.decode()

    assert HOSTILE not in html and "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "<script>alert(2)</script>" not in html
    assert "<img" not in text and "&lt;img src=x onerror=alert(1)&gt;" in text
    assert "<b>x</b>" not in edited and "&lt;b&gt;x&lt;/b&gt;" in edited


def test_the_exports_carry_the_new_shape(amazon_la, manager, frozen):
    generate(amazon_la, 30)
    client = client_for(manager)

    html = client.get(reverse("inquiries:health_plan", args=[amazon_la.pk]), PERIOD).content.decode()

    for heading in ("Appeal case", "Root causes", "Evidence", "Annex", "Corrective actions taken"):
        assert heading in html
    assert 'name="late_shipment-root"' in html  # the seller edits each block on the page
    pytest.importorskip("weasyprint")
    pdf = client.get(reverse("inquiries:health_plan_pdf", args=[amazon_la.pk]), PERIOD)
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")


def test_a_bad_notice_date_is_a_clear_error(amazon_la, manager, frozen):
    response = client_for(manager).get(
        reverse("inquiries:health_plan_md", args=[amazon_la.pk]), PERIOD | {"notice_date": "8 March"}
    )

    assert response.status_code == 400
    assert "notice_date" in response.content.decode()


def test_the_annex_csv_of_another_teams_account_is_a_404(amazon_la, outsider, frozen):
    url = reverse("inquiries:health_plan_annex_csv", args=[amazon_la.pk, "late_shipment_rate"])

    assert client_for(outsider).get(url).status_code == 404


# The plan page: session, user, account, preset; the message counts, late analysis (slots,
# unassigned, topics, lateness); two health computations (start and end: messages and one
# aggregate per Amazon metric (six), failing lists at the end, imported figures); the annex (orders,
# lines, shipments, feedback, claims, cancellations, returns, messages); the late messages;
# the clusters with their events. Each health computation asks whether the account's order
# rollup is built (one query each).
PLAN_PAGE_QUERIES = 63
# On PostgreSQL each health computation runs in a transaction with JIT off: SAVEPOINT, SET LOCAL
# jit = off, RELEASE SAVEPOINT, twice.
POSTGRES_EXTRA = 6 if connection.vendor == "postgresql" else 0


@pytest.mark.parametrize("count", [90, 200])
def test_the_plan_page_runs_the_same_queries_for_90_and_200_orders(
    amazon_la, channel, manager, count, frozen, django_assert_num_queries
):
    assert all(plain_failing(generate(amazon_la, count)).values())  # every list query runs in both
    for index in range(count // 10):
        message = ask(channel, NOW - days(1 + index % 6), order_id=f"111-{index:07d}")
        answer(message, message.received_at + hours(30))
    client = client_for(manager)
    client.get(reverse("inquiries:health_plan", args=[amazon_la.pk]), PERIOD)  # warm caches

    with django_assert_num_queries(PLAN_PAGE_QUERIES + POSTGRES_EXTRA):
        response = client.get(reverse("inquiries:health_plan", args=[amazon_la.pk]), PERIOD)
    assert response.status_code == 200


def test_the_late_messages_annex_is_bounded_and_its_csv_lists_them_all(
    amazon_la, channel, manager, frozen, monkeypatch
):
    for index in range(5):
        message = ask(channel, NOW - days(2 + index), subject=f"=HYPERLINK(evil) {index}")
        answer(message, message.received_at + hours(30))
    monkeypatch.setattr(evidence, "ANNEX_LIMIT", 2)
    client = client_for(manager)

    text = client.get(reverse("inquiries:health_plan_md", args=[amazon_la.pk]), PERIOD).content.decode()
    response = client.get(
        reverse("inquiries:health_plan_annex_csv", args=[amazon_la.pk, "late_responses"]), PERIOD
    )

    assert "in the period (first 2 of 5)" in text
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0] == ["received", "answered", "order", "note"]
    assert len(rows) == 6
    assert all(row[3].startswith("'=HYPERLINK") for row in rows[1:])  # a formula is text in a spreadsheet
    assert all(row[0].endswith(("PST", "PDT")) and row[1].endswith(("PST", "PDT")) for row in rows[1:])


def test_the_edits_are_posted_so_long_texts_fit_and_the_downloads_carry_them(amazon_la, manager, frozen):
    generate(amazon_la, 90)
    client = Client(enforce_csrf_checks=True)
    client.force_login(manager)
    page = client.get(reverse("inquiries:health_plan", args=[amazon_la.pk]), PERIOD).content.decode()
    token = page.split('name="csrfmiddlewaretoken" value="')[1].split('"')[0]
    long_text = "We moved to a second carrier. " * 150  # 4,500 characters: too long for a URL
    form = PERIOD | {"csrfmiddlewaretoken": token, "late_shipment-action": long_text}

    html = client.post(reverse("inquiries:health_plan", args=[amazon_la.pk]), form).content.decode()
    text = client.post(reverse("inquiries:health_plan_md", args=[amazon_la.pk]), form).content.decode()

    assert long_text.strip() in html
    assert long_text.strip() in text
    assert 'form="plan-edit"' in html  # the toolbar's downloads submit the edit form
