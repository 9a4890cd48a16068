"""The reports page in a real browser (Debian's Chromium through Playwright); saves artifacts/reports.png."""

from __future__ import annotations

import random
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from inquiries import models as m
from inquiries import services
from inquiries.services.rollups import refresh_rollups
from tests import factories
from tests.reports.conftest import customer, reply

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"


@pytest.fixture
def browser_context_args(browser_context_args: dict) -> dict:
    return {**browser_context_args, "viewport": {"width": 1440, "height": 1000}, "timezone_id": "UTC"}


@pytest.fixture
def month(channel, team, agent, teammate, manager) -> int:
    """Four weeks of inquiries on two accounts: replies fast and slow, some never, a few solved."""
    factories.policy_with_targets(first_reply=2 * 3600, next_reply=4 * 3600, resolution=48 * 3600)
    amazon = factories.AccountFactory(
        name="Acme on Amazon US", marketplace=m.Marketplace.AMAZON, timezone="America/New_York"
    )
    team.accounts.add(amazon)
    channels = [channel, factories.ChannelFactory(account=amazon, slug="amazon-us", name="Buyer messages")]
    topics = list(m.Topic.objects.all()[:4])
    rng = random.Random(8)
    now = timezone.now().replace(microsecond=0)
    count = 0
    for day in range(28, -1, -1):
        for _ in range(rng.randint(3, 6)):
            at = now - timedelta(days=day, hours=rng.randint(0, 10), minutes=rng.randint(0, 59))
            inquiry = customer(
                channels[count % 2],
                at,
                sender=f"buyer{count}@example.com",
                subject=rng.choice(["Where is my order?", "Broken lid", "Refund please"]),
            )
            count += 1
            author = agent if count % 3 else teammate
            services.assign(inquiry=inquiry, assignee=author, actor=author, now=at + timedelta(minutes=1))
            if count % 4 == 0:
                services.change_topic(
                    inquiry=inquiry,
                    topic=topics[count % len(topics)],
                    actor=author,
                    now=at + timedelta(minutes=2),
                )
            delay = timedelta(minutes=rng.choice([15, 40, 70, 110, 150, 300]))
            if at + delay < now and count % 7:
                reply(inquiry, author, at + delay)
                if count % 2 and at + delay + timedelta(hours=20) < now:
                    services.change_status(
                        inquiry=inquiry,
                        status=m.Status.SOLVED,
                        actor=author,
                        now=at + delay + timedelta(hours=rng.choice([3, 20, 60])),
                    )
    refresh_rollups(now=now)
    return count


def test_a_manager_reads_the_reports_page(live_server, page: Page, month):
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("#id_username", "maria")
    page.fill("#id_password", "password")
    page.click("button[type=submit]")
    page.get_by_role("link", name="Reports").click()
    expect(page.get_by_role("heading", name="Reports", exact=True)).to_be_visible()
    expect(page.get_by_text("the accounts are in different time zones")).to_be_visible()
    expect(page.get_by_role("img", name="SLA compliance by day, per clock kind")).to_be_visible()
    expect(page.locator("#by-agent tbody tr")).to_have_count(2)  # Alice and Bob
    page.locator("#by-agent thead a", has_text="First-reply compliance").click()
    expect(page.locator("#by-agent th[aria-sort=ascending]")).to_have_count(1)
    page.select_option("#id_period", "7d")
    page.get_by_role("button", name="Apply").click()
    expect(page.locator("#id_period")).to_have_value("7d")
    page.select_option("#id_period", "30d")
    page.get_by_role("button", name="Apply").click()
    expect(page.locator("section[aria-busy=true]")).to_have_count(0)  # every section has loaded
    expect(page.get_by_role("img", name="Customer messages by weekday and hour")).to_be_visible()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "reports.png"), full_page=True)
    with page.expect_download() as download:
        page.get_by_role("link", name="SLA compliance", exact=True).click()
    assert download.value.suggested_filename.startswith("cstracker-sla-day-")
