"""The health page in a real browser (Debian's Chromium through Playwright): reasons and the rescue
list are visible, the trend charts render, the plan of action opens; screenshots in artifacts/."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.utils import timezone
from playwright.sync_api import Page, expect
from pytest_django.live_server_helper import LiveServer

from inquiries import models as m
from inquiries.services import complaints
from inquiries.services.health import save_order_volumes, write_snapshot
from tests.health.conftest import answer, ask

# Transactional: the live server reads what the test wrote; serialized_rollback restores the
# rows the migrations seed (topics, marketplace presets) for the tests that follow.
pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"


@pytest.fixture
def seller(amazon: m.Account, channel: m.Channel, agent: User, manager: User) -> m.Account:
    """Six weeks of an Amazon seller: mostly quick answers, a bad patch of weekend backlogs, a
    kettle complaint cluster with its corrective action, and a few messages still open now."""
    amazon.name = "Acme on Amazon US"
    amazon.save()
    now = timezone.now().replace(microsecond=0)
    customers = ["Jane Miller", "Li Wei", "Sam Ortiz", "Ana Costa", "Tom Berg", "Eva Novak"]
    for day in range(42, 0, -1):
        for slot in range(6):
            received = now - timedelta(days=day, hours=slot * 3 + 1)
            weekend = received.weekday() >= 5
            message = ask(
                channel,
                received,
                now=now,
                sender_name=customers[slot],
                subject=[
                    "Where is my parcel?",
                    "Invoice please",
                    "Change my address",
                    "Size exchange",
                    "Kettle lid loose",
                    "Gift wrap?",
                ][slot],
                order_id=f"113-{day:02d}{slot}4470-552" if slot % 2 == 0 else "",
            )
            late = weekend and slot < 4 and day < 20
            answer(message, received + timedelta(hours=31 if late else 2 + slot), now=now)
    ask(
        channel,
        now - timedelta(hours=50),
        now=now,
        subject="Refund for the broken kettle",
        order_id="113-9981234-1177",
        sender_name="Olga Petrova",
    )
    for hours_ago, subject in (
        (21, "Where is my order?"),
        (17, "Wrong colour delivered"),
        (9, "Can I cancel?"),
    ):
        ask(channel, now - timedelta(hours=hours_ago), now=now, subject=subject, sender_name="Buyer")
    quality = m.Topic.objects.get(key="quality")
    cluster = m.Cluster.objects.create(
        account=amazon,
        topic=quality,
        sku="KET-200",
        kind=m.ClusterKind.BURST,
        first_seen=now - timedelta(days=9),
        last_seen=now - timedelta(days=1),
        member_count=14,
        customer_count=13,
        severity=m.Severity.HIGH,
    )
    complaints.record_action(
        cluster=cluster,
        actor=manager,
        root_cause="A batch of KET-200 kettles shipped with loose lids.",
        corrective_action="Pulled the batch from sale and refunded every affected buyer.",
        preventive_measure="Lids are checked on every unit before packing.",
    )
    save_order_volumes(
        account=amazon, volumes=[((now - timedelta(days=d)).date(), 180) for d in range(1, 61)]
    )
    for day in range(40, 0, -1):
        write_snapshot(account=amazon, day=(now - timedelta(days=day)).date(), now=now)
    return amazon


def log_in(page: Page, base_url: str, username: str) -> None:
    page.goto(f"{base_url}/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill("password")
    page.get_by_role("button", name="Log in").click()


def test_the_health_page_shows_reasons_and_a_working_rescue_list(
    page: Page, live_server: LiveServer, seller
) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    base = live_server.url
    log_in(page, base, "maria")
    page.get_by_role("link", name="Health", exact=True).click()
    page.get_by_role("link", name="Acme on Amazon US").click()

    expect(page.get_by_role("heading", name="Answer first")).to_be_visible()
    expect(page.locator(".rescue-item").first).to_contain_text("Answer")
    # Which messages are overdue depends on the weekday the test runs (the marketplace's clock
    # skips weekends), but the newest question (9 hours old) is always inside its deadline.
    running = page.locator(".rescue .countdown:not(.is-overdue)").first
    expect(running).to_contain_text("left")  # app.js counts down live
    expect(page.locator(".rescue")).to_contain_text("Refund for the broken kettle")  # the A-to-z risk
    week = page.locator("article.metric").filter(
        has=page.get_by_role("heading", name="Late response rate, 7 days")
    )
    expect(week.locator("svg.trend")).to_be_visible()
    atoz = page.locator("article.metric").filter(has=page.get_by_role("heading", name="A-to-z claim risks"))
    expect(atoz).to_contain_text("113-9981234-1177")  # the reason names the message
    clusters = page.locator("article.metric").filter(
        has=page.get_by_role("heading", name="Open complaint clusters")
    )
    expect(clusters).to_contain_text("Product quality: SKU KET-200")
    page.screenshot(path=str(ARTIFACTS / "health.png"), full_page=True)

    # The rescue list links to the inquiry to answer.
    page.locator(".rescue").get_by_role("link", name="Refund for the broken kettle").click()
    expect(page.get_by_role("heading", name="Refund for the broken kettle")).to_be_visible()

    page.go_back()
    page.get_by_role("button", name="Open printable plan").click()
    expect(page.get_by_role("heading", name="Plan of action: Acme on Amazon US")).to_be_visible()
    expect(page.get_by_role("heading", name="Appeal case")).to_be_visible()
    expect(page.get_by_role("heading", name="Corrective actions taken").first).to_be_visible()
    expect(page.locator("body")).to_contain_text(
        "Pulled the batch from sale and refunded every affected buyer."
    )
    # The seller edits a cause's block on the page; the plan (and its export links) carry it.
    page.get_by_text("Edit this plan before exporting it").click()
    page.locator("textarea[name$='-measure']").first.fill("A second agent covers Saturdays and Sundays.")
    page.get_by_role("button", name="Update the plan").click()
    expect(page.locator("main section.cause").first).to_contain_text(
        "A second agent covers Saturdays and Sundays."
    )
    page.screenshot(path=str(ARTIFACTS / "health-plan.png"), full_page=True)


def test_the_page_shows_marketplace_metrics_and_house_indicators_apart_and_no_data_as_a_state(
    page: Page, live_server: LiveServer, amazon: m.Account, channel: m.Channel, agent: object
) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    base = live_server.url
    log_in(page, base, agent.username)  # type: ignore[attr-defined]

    # A new account: nothing to measure, no snapshot yet. The overview computes it now.
    page.get_by_role("link", name="Health", exact=True).click()
    row = page.get_by_role("row").filter(has_text=amazon.name)
    expect(row).to_contain_text("No data")
    expect(row).to_contain_text("computed now")
    expect(row).not_to_contain_text("Healthy")
    page.get_by_role("link", name=amazon.name).click()
    marketplace = page.locator('section[data-group="marketplace"]')
    house = page.locator('section[data-group="house"]')
    odr = marketplace.locator("article.metric").filter(
        has=page.get_by_role("heading", name="Order Defect Rate (Seller Fulfilled)")
    )
    fba = marketplace.locator("article.metric").filter(
        has=page.get_by_role("heading", name="Order Defect Rate (Fulfilled by Amazon)")
    )
    expect(odr).to_contain_text("No data")
    expect(fba).to_contain_text("No data")
    expect(page.locator(".health-head")).to_contain_text("No data")

    # Two seller-fulfilled orders in the window, one with 1-star feedback: the seller-fulfilled ODR
    # is 50%, critical, and names it.
    now = timezone.now()
    for number, rating in (("114-0000001-0000001", 1), ("114-0000002-0000002", 5)):
        order = m.Order.objects.create(
            account=amazon, marketplace_order_id=number, purchased_at=now - timedelta(days=5)
        )
        m.Feedback.objects.create(order=order, rating=rating, left_at=now - timedelta(days=1))
    ask(
        channel,
        now - timedelta(days=2),
        now=now,
        subject="Kettle arrived broken",
        body_text="It arrived broken.",
    )
    page.reload()
    expect(odr).to_contain_text("50%")
    expect(odr).to_contain_text("Critical")
    expect(odr).to_contain_text("1 of 2 orders")
    # A critical metric's details are open: the orders behind it are shown.
    expect(odr).to_contain_text("114-0000001-0000001")
    expect(odr).to_contain_text("Seller Central help: Order Defect Rate")
    expect(fba).to_contain_text("No data")  # no order Fulfilled by Amazon: no data, not healthy
    expect(house.get_by_role("heading", name="House indicators: early warnings")).to_be_visible()
    expect(house.locator("article.metric").filter(has_text="Complaints: Product quality")).to_be_visible()
    expect(marketplace).not_to_contain_text("Complaints:")
    expect(house).not_to_contain_text("Order Defect Rate")
    expect(page.locator(".health-head")).to_contain_text("Critical")
    page.screenshot(path=str(ARTIFACTS / "health-groups.png"), full_page=True)
