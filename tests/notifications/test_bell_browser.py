"""The bell in a real browser (Debian's Chromium through Playwright)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from inquiries import services
from inquiries.services.sweep import sweep
from tests.factories import incoming, policy_with_targets

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"


def test_an_agent_sees_breaches_under_the_bell(live_server, page, channel, agent):
    policy_with_targets(first_reply=3600, next_reply=None, resolution=None)
    start = timezone.now() - timedelta(hours=2)
    inquiry = services.record_message(
        channel=channel, incoming=incoming(received_at=start, subject="Kettle <b>cracked</b>"), now=start
    ).message.inquiry
    services.assign(inquiry=inquiry, assignee=agent, actor=agent, now=start)
    sweep()  # at risk and breached: two notifications for alice

    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("#id_username", "alice")
    page.fill("#id_password", "password")
    page.click("button[type=submit]")
    # The bell is loaded by htmx after the page: wait for the real one, not the placeholder link.
    bell = page.locator('.bell[aria-label^="Notifications:"]')
    bell.wait_for()
    assert bell.get_attribute("aria-label") == "Notifications: 2 unread"
    bell.click()  # the menu opens with the latest items; its last link is the page
    page.get_by_role("link", name="All notifications and settings").click()
    page.wait_for_url("**/notifications/")
    assert page.locator(".notification-list li.unread").count() == 2
    assert "Kettle <b>cracked</b>" in page.text_content(".notification-list")  # shown as text, not markup
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "notifications.png"), full_page=True)
    page.locator("main").get_by_role("button", name="Mark all as read").click()
    page.wait_for_url("**/notifications/")
    page.locator('.bell[aria-label="Notifications: 0 unread"]').wait_for()
