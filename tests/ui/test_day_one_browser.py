"""The day-one polish of the pages in a real browser (issue 23): the phone layout, the
cluster page's columns. Playwright drives Debian's Chromium (see tests/conftest.py)."""

from __future__ import annotations

import itertools
from datetime import timedelta

import pytest
from playwright.sync_api import Page

from inquiries import models as m
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


def test_the_cluster_pages_columns_never_overlap(page: Page, live_server: object, channel, agent) -> None:
    quality = m.Topic.objects.get_or_create(key="quality", defaults={"name": "Product quality"})[0]
    cluster = make_cluster(channel, quality, sku="LONG-SKU-WITHOUT-SPACES-0123456789", members=3)
    for n, member in enumerate(cluster.members.select_related("inquiry__customer")):
        member.inquiry.customer.address = f"{n}.{LONG_ADDRESS}"
        member.inquiry.customer.save()
    base = live_server.url  # type: ignore[attr-defined]
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
    page: Page, live_server: object, channel, agent, policy
) -> None:
    inquiry = inbound(
        channel,
        sender_address=LONG_ADDRESS,
        subject="A subject long enough to wrap " * 3,
        body_text="Where-is-my-parcel-" * 20,
        order_id="113-4470123-5521113-4470123",
        ago=timedelta(hours=3),
    )
    base = live_server.url  # type: ignore[attr-defined]
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
