"""Every page checked with axe-core in Debian's Chromium: no serious or critical violations (issue 23).

axe-core comes from npm (package.json at the repo root, installed by bin/test); it is injected
from node_modules, never a CDN. The browser context bypasses the pages' Content-Security-Policy
only so that the injected script may run; the pages themselves are served as in production.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page

from inquiries import models as m
from inquiries import services
from tests.complaints.helpers import make_cluster
from tests.ui.conftest import inbound
from tests.ui.test_browser import log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
# Violations of these impacts fail the test; "moderate" and "minor" are reported by axe but allowed.
BLOCKING = ("serious", "critical")
RUN_AXE = """async (blocking) => {
  const results = await axe.run(document, {resultTypes: ["violations"]});
  return results.violations
    .filter((v) => blocking.includes(v.impact))
    .map((v) => ({id: v.id, impact: v.impact, help: v.help,
                  nodes: v.nodes.slice(0, 5).map((n) => n.target.join(" "))}));
}"""


@pytest.fixture
def axe_page(browser: Browser) -> Iterator[Page]:
    assert AXE.is_file(), f"{AXE} is missing: run bin/test (it runs `npm ci`) or `npm ci` at the repo root"
    context = browser.new_context(viewport={"width": 1440, "height": 900}, timezone_id="UTC", bypass_csp=True)
    yield context.new_page()
    context.close()


@pytest.fixture
def site(channel, team, agent, superuser, policy) -> dict[str, str]:
    """One of everything a page shows, and the paths of the pages that show them."""
    team.memberships.create(user=superuser, role=m.Role.MANAGER)
    quality = m.Topic.objects.get_or_create(key="quality", defaults={"name": "Product quality"})[0]
    cluster = make_cluster(channel, quality, sku="MUG-001", members=3)
    inquiry = inbound(
        channel,
        subject="Where is my parcel?",
        body_text="It was due on Monday.",
        order_id="113-4470123-5521113",
        ago=timedelta(hours=3),
    )
    inbound(channel, sender_address="late@example.com", subject="Broken mug", ago=timedelta(hours=30))
    services.assign(inquiry=inquiry, assignee=agent, actor=agent)
    m.Notification.objects.create(
        user=superuser,
        kind=m.NotificationKind.CLOCK_BREACHED,
        title="First reply overdue",
        url="/",
        dedupe_key="1",
    )
    m.Macro.objects.create(name="Delay", body="Sorry {customer_name}, order {order_id} is late.", team=team)
    account = channel.account_id
    return {
        "queue": "/",
        "inquiry": f"/inquiries/{inquiry.pk}/",
        "clusters": "/clusters/",
        "cluster": f"/clusters/{cluster.pk}/",
        "health": "/health/",
        "health account": f"/health/{account}/",
        "health plan": f"/health/{account}/plan/",
        "reports": "/reports/",
        "notifications": "/notifications/",
        "policy editor": "/admin/inquiries/slapolicy/add/",
        "policy change": f"/admin/inquiries/slapolicy/{policy.pk}/change/",
        "macros": "/admin/inquiries/macro/",
        "macro editor": "/admin/inquiries/macro/add/",
    }


def violations(page: Page, url: str) -> list[dict]:
    page.goto(url)
    page.wait_for_load_state("networkidle")  # the reports' sections and the bell load by htmx
    page.add_script_tag(path=str(AXE))
    return page.evaluate(RUN_AXE, list(BLOCKING))


def check(page: Page, base: str, paths: dict[str, str]) -> None:
    found = {name: violations(page, base + path) for name, path in paths.items()}
    failing = {name: found for name, found in found.items() if found}
    assert not failing, json.dumps(failing, indent=1)


def test_the_login_page_has_no_serious_violations(axe_page: Page, live_server: object) -> None:
    check(axe_page, live_server.url, {"login": "/accounts/login/"})  # type: ignore[attr-defined]


def test_every_page_has_no_serious_violations(axe_page: Page, live_server: object, site, superuser) -> None:
    base = live_server.url  # type: ignore[attr-defined]
    log_in(axe_page, base, "root")
    check(axe_page, base, site)
    services.set_preferences(user=superuser, density=m.Density.COMPACT)
    check(axe_page, base, {"queue, compact": "/"})


def test_the_phone_layout_has_no_serious_violations(axe_page: Page, live_server: object, site) -> None:
    base = live_server.url  # type: ignore[attr-defined]
    log_in(axe_page, base, "root")
    axe_page.set_viewport_size({"width": 390, "height": 844})
    phone = {name: site[name] for name in ("queue", "inquiry", "health", "health account")}
    check(axe_page, base, phone)
