"""The day-one polish of the pages in a real browser (issue 23): the phone layout, the
cluster page's columns. Playwright drives Debian's Chromium (see tests/conftest.py)."""

from __future__ import annotations

import itertools
from datetime import timedelta

import pytest
from playwright.sync_api import Page, expect
from pytest_django.live_server_helper import LiveServer

from inquiries import models as m
from tests import factories
from tests.complaints.helpers import make_cluster
from tests.ui.conftest import inbound
from tests.ui.test_browser import log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

LONG_ADDRESS = "a.very.long.customer.address.without.any.break@subdomain.example-marketplace.com"

# For each column of a table, the box its cells' contents take (Range rectangles, so a text
# that spills out of its cell counts where it is drawn, not where its cell is).
COLUMN_BOXES = """(table) => {
  const columns = [];
  for (const row of table.querySelectorAll("tbody tr")) {
    [...row.children].forEach((cell, i) => {
      const range = document.createRange();
      range.selectNodeContents(cell);
      const box = range.getBoundingClientRect();
      if (!box.width) return;
      const c = columns[i] || (columns[i] = {left: Infinity, right: -Infinity});
      c.left = Math.min(c.left, box.left);
      c.right = Math.max(c.right, box.right);
    });
  }
  return columns;
}"""


# The elements that stick out past the viewport, for the failure message.
WIDEST = """() => [...document.querySelectorAll("body *")]
  .filter((el) => el.getBoundingClientRect().right > window.innerWidth + 0.5)
  .filter((el) => !el.closest(".table-wrap") || el.classList.contains("table-wrap"))
  .slice(0, 8).map((el) => el.tagName + "." + el.className + " " + Math.round(el.getBoundingClientRect().right))"""


def test_the_cluster_pages_columns_never_overlap(page: Page, live_server: LiveServer, channel, agent) -> None:
    quality = m.Topic.objects.get_or_create(key="quality", defaults={"name": "Product quality"})[0]
    cluster = make_cluster(channel, quality, sku="LONG-SKU-WITHOUT-SPACES-0123456789", members=3)
    for n, member in enumerate(cluster.members.select_related("inquiry__customer")):
        member.inquiry.customer.address = f"{n}.{LONG_ADDRESS}"
        member.inquiry.customer.save()
    base = live_server.url
    log_in(page, base)

    for width in (1440, 1024, 390):
        page.set_viewport_size({"width": width, "height": 900})
        for url in (f"{base}/clusters/{cluster.pk}/", f"{base}/clusters/"):
            page.goto(url)
            for table in page.locator("main table.queue:visible").element_handles():
                columns = table.evaluate(COLUMN_BOXES)
                for left, right in itertools.pairwise(columns):
                    if left and right:
                        assert left["right"] <= right["left"] + 0.5, (url, width, columns)


def test_queue_inquiry_and_health_fit_a_390_px_phone(
    page: Page, live_server: LiveServer, channel, agent, policy
) -> None:
    inquiry = inbound(
        channel,
        sender_address=LONG_ADDRESS,
        subject="A subject long enough to wrap " * 3,
        body_text="Where-is-my-parcel-" * 20,
        order_id="113-4470123-5521113-4470123",
        ago=timedelta(hours=3),
    )
    base = live_server.url
    log_in(page, base)
    page.set_viewport_size({"width": 390, "height": 844})

    for path in (
        "/",
        f"/inquiries/{inquiry.pk}/",
        "/health/",
        f"/health/{channel.account_id}/",
        "/clusters/",
    ):
        page.goto(f"{base}{path}")
        width = page.evaluate("document.documentElement.scrollWidth")
        wide = page.evaluate(WIDEST)
        assert width <= 390, (path, width, wide)
        # Every link of the main navigation can be reached: on screen, not cut off.
        for link in page.locator("nav.mainnav a").all():
            box = link.bounding_box()
            assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 390, (path, box)


def test_the_bell_menu_marks_items_read_and_shows_the_zero_state(
    page: Page, live_server: LiveServer, agent
) -> None:
    for n in range(2):
        m.Notification.objects.create(
            user=agent,
            kind=m.NotificationKind.CLOCK_BREACHED,
            title=f"Breach <b>{n}</b>",
            url="/",
            dedupe_key=str(n),
        )
    base = live_server.url
    log_in(page, base)
    bell = page.locator("summary.bell")
    expect(bell).to_have_attribute("aria-label", "Notifications: 2 unread")

    bell.click()
    menu = page.locator(".bell-panel")
    expect(menu).to_be_visible()
    expect(menu.locator("li.unread")).to_have_count(2)
    expect(menu).to_contain_text("Breach <b>1</b>")  # as text, not markup
    menu.get_by_role("button", name="Mark “Breach <b>1</b>” as read").click()
    expect(page.locator("summary.bell")).to_have_attribute("aria-label", "Notifications: 1 unread")
    expect(page.locator(".bell-panel")).to_be_visible()  # still open after the swap

    page.locator(".bell-panel").get_by_role("button", name="Mark all as read").click()
    expect(page.locator("summary.bell")).to_have_attribute("aria-label", "Notifications: 0 unread")
    zero = page.locator(".bell-zero")
    expect(zero).to_have_text("0")
    # Visible: the digit's colour differs from the badge's background and from the bar's.
    colours = zero.evaluate(
        "(el) => [getComputedStyle(el).color, getComputedStyle(el).backgroundColor,"
        " getComputedStyle(el).borderTopColor]"
    )
    assert colours[0] != colours[1] and colours[2] != "rgba(0, 0, 0, 0)", colours

    page.keyboard.press("Escape")
    expect(page.locator(".bell-panel")).to_be_hidden()

    # On a phone the open menu lies wholly on the screen.
    page.set_viewport_size({"width": 390, "height": 844})
    page.locator("summary.bell").click()
    box = page.locator(".bell-panel").bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 390, box


def test_compact_rows_are_one_line_and_comfortable_rows_show_the_preview(
    page: Page, live_server: LiveServer, channel, agent, policy
) -> None:
    for n in range(5):
        inbound(
            channel,
            subject=f"Question {n}",
            body_text=f"Customer words number {n} " * 8,
            ago=timedelta(minutes=n),
        )
    base = live_server.url
    log_in(page, base)
    rows = page.locator("#rows tr")
    expect(rows.first.locator(".preview")).to_be_visible()
    comfortable = rows.first.bounding_box()["height"]  # type: ignore[index]

    page.get_by_role("button", name="Compact").click()
    expect(page.get_by_role("button", name="Compact")).to_have_attribute("aria-pressed", "true")
    expect(rows.first.locator(".preview")).to_be_hidden()
    compact = rows.first.bounding_box()["height"]  # type: ignore[index]
    assert compact < 48 < comfortable, (compact, comfortable)

    page.reload()  # remembered
    expect(page.get_by_role("button", name="Compact")).to_have_attribute("aria-pressed", "true")


def test_the_policy_editor_takes_hours_minutes_and_ticked_priorities(
    page: Page, live_server: LiveServer, superuser
) -> None:
    policy = factories.policy_with_targets(first_reply=8 * 3600, next_reply=None, resolution=None)
    base = live_server.url
    log_in(page, base, username="root")
    page.goto(f"{base}/admin/inquiries/slapolicy/{policy.pk}/change/")

    expect(page.get_by_text("is due:")).to_be_visible()  # the deadline preview
    page.get_by_label("Urgent").check()
    page.get_by_label("High").check()
    hours = page.locator('input[name="targets-0-first_reply_seconds_0"]')
    expect(hours).to_have_value("8")
    hours.fill("4")
    page.locator('input[name="targets-0-first_reply_seconds_1"]').fill("30")
    page.get_by_role("button", name="Save and continue editing").click()

    expect(page.locator(".messagelist")).to_contain_text("was changed successfully")
    policy.refresh_from_db()
    assert policy.priorities == ["high", "urgent"]
    targets = sorted(policy.targets.values_list("first_reply_seconds", flat=True))
    assert targets == [4 * 3600 + 30 * 60, 8 * 3600, 8 * 3600, 8 * 3600]  # the first row changed
    expect(page.locator(".deadline-preview")).to_contain_text("4h 30m")
