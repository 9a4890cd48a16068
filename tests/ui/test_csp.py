"""Every page carries a Content-Security-Policy without inline script, and the pages work under
it: a real browser opens each kind of page and no violation is reported."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from playwright.sync_api import Page
from pytest_django.live_server_helper import LiveServer

from inquiries import models as m
from tests.conftest import token_client
from tests.ui.conftest import inbound
from tests.ui.test_browser import log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def violations(page: Page) -> list[str]:
    return page.evaluate("window.__cspViolations || []")


def watch(page: Page) -> None:
    page.add_init_script(
        "window.__cspViolations = [];"
        "document.addEventListener('securitypolicyviolation',"
        " e => window.__cspViolations.push(e.violatedDirective + ' ' + (e.blockedURI || 'inline')));"
    )


def test_every_response_names_a_policy_without_inline_script(client, agent):
    client.force_login(agent)

    header = client.get("/").headers["Content-Security-Policy"]

    assert "script-src 'self'" in header and "unsafe-inline" not in header and "unsafe-eval" not in header
    assert "object-src 'none'" in header and "frame-ancestors 'none'" in header
    assert "Content-Security-Policy" in client.get("/api/docs/").headers


def test_the_api_docs_load_nothing_from_outside(agent):
    html = token_client(agent).get("/api/docs/").content.decode()

    assert "http://" not in html.replace("http://testserver", "") and "https://" not in html
    assert "<script>" not in html  # the start-up code is a script file (the split view)


def test_the_pages_work_under_the_policy_in_a_real_browser(
    page: Page,
    live_server: LiveServer,
    channel: m.Channel,
    agent: User,
    superuser: User,
    policy: m.SlaPolicy,
):
    inquiry = inbound(channel, subject="Lid broken")
    base = live_server.url
    watch(page)
    log_in(page, base)
    pages = ["/", f"/inquiries/{inquiry.pk}/", "/clusters/", "/health/", "/reports/", "/notifications/"]
    seen = {}
    for path in pages:
        page.goto(f"{base}{path}")
        page.wait_for_load_state("networkidle")
        seen[path] = violations(page)
    page.context.clear_cookies()
    log_in_admin(page, base, superuser)
    for path in ["/admin/", "/admin/inquiries/slapolicy/add/", "/admin/inquiries/inquiry/", "/api/docs/"]:
        page.goto(f"{base}{path}")
        page.wait_for_load_state("networkidle")
        seen[path] = violations(page)

    assert {path: found for path, found in seen.items() if found} == {}
    assert page.locator(".swagger-ui").count() == 1  # Swagger UI rendered from its script file


def log_in_admin(page: Page, base: str, user: User) -> None:
    page.goto(f"{base}/admin/login/")
    page.fill("#id_username", user.username)
    page.fill("#id_password", "password")
    page.click("input[type=submit]")
    page.wait_for_url(f"{base}/admin/")


def test_an_embedded_picture_shows_in_the_formatted_version(
    page: Page, live_server: LiveServer, channel: m.Channel, agent: User, policy: m.SlaPolicy
):
    from tests.ui.test_inline_images import with_picture

    inquiry = with_picture(channel)
    base = live_server.url
    watch(page)
    log_in(page, base)
    page.goto(f"{base}/inquiries/{inquiry.pk}/")
    page.get_by_text("Show the formatted (HTML) version").click()
    frame = page.frame_locator("iframe[title='Formatted version of this message']")
    picture = frame.locator("img[alt=crack]")
    picture.wait_for()
    page.wait_for_load_state("networkidle")
    assert picture.evaluate("img => img.complete && img.naturalWidth") == 1  # the 1x1 PNG, loaded
    assert violations(page) == []
