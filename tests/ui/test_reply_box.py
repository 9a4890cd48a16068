"""The reply box in a real browser: the macro picker by keyboard alone, and the confirmation
of Amazon's buyer-messaging warnings (issue 23 points 1 and 3)."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from playwright.sync_api import Page, expect
from pytest_django.live_server_helper import LiveServer

from inquiries import models as m
from tests.ui.conftest import inbound
from tests.ui.test_browser import dialogs, log_in  # noqa: F401  (dialogs is a fixture)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]
HOSTILE = "<img src=x onerror=alert(1)>"


def tab_to(page: Page, name: str) -> None:
    """Press Tab until the focused element is the button called `name`."""
    for _ in range(20):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.textContent.trim()") == name:
            return
    raise AssertionError(f"Tab never reached {name!r}")


def test_an_agent_inserts_a_macro_fills_its_gap_and_sends_it_by_keyboard_alone(
    page: Page,
    live_server: LiveServer,
    channel: m.Channel,
    team: m.Team,
    agent: User,
    dialogs: list[str],  # noqa: F811
) -> None:
    inquiry = inbound(channel, sender_name=f"Ana {HOSTILE}", subject="Where is my parcel?")
    m.Macro.objects.create(
        name="Refund issued",
        body="Hi {customer_name}, your refund is on its way.",
        team=team,
        set_status=m.Status.SOLVED,
    )
    m.Macro.objects.create(
        name="Delivery delayed",
        body="Hi {customer_name}, order {order_id} is delayed. {agent_name}",
        team=team,
        set_priority=m.Priority.HIGH,
    )
    log_in(page, live_server.url)
    page.goto(f"{live_server.url}/inquiries/{inquiry.pk}/")

    page.keyboard.press("m")
    expect(page.locator("#macro-search")).to_be_focused()
    page.keyboard.type("delay")
    expect(page.get_by_role("option", name="Delivery delayed")).to_be_visible()
    expect(page.get_by_role("option", name="Refund issued")).to_be_hidden()
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Enter")

    reply = page.get_by_label("Reply to the customer")
    expect(reply).to_be_focused()
    expect(reply).to_have_value(f"Hi Ana {HOSTILE}, order [[fill in: order id]] is delayed. Alice")
    expect(page.locator("#macro-status")).to_contain_text("on send: priority: High")
    page.keyboard.type("302-1234567-8912345")  # the gap is selected: typing replaces it
    tab_to(page, "Send reply")
    page.keyboard.press("Enter")

    expect(page.get_by_text("Reply queued")).to_be_visible()
    sent = m.Message.objects.get(inquiry=inquiry, direction=m.Direction.OUTBOUND)
    assert sent.body_text == f"Hi Ana {HOSTILE}, order 302-1234567-8912345 is delayed. Alice"
    assert m.Inquiry.objects.get(pk=inquiry.pk).priority == m.Priority.HIGH
    assert dialogs == []


def test_an_agent_confirms_amazon_warnings_before_the_reply_is_sent(
    page: Page,
    live_server: LiveServer,
    channel: m.Channel,
    agent: User,
    dialogs: list[str],  # noqa: F811
) -> None:
    channel.account.marketplace = m.Marketplace.AMAZON
    channel.account.save()
    inquiry = inbound(channel, subject="Broken lid")
    log_in(page, live_server.url)
    page.goto(f"{live_server.url}/inquiries/{inquiry.pk}/")

    text = "New lid sent! If you're happy, please leave us a 5-star review. Questions: help@acme.com"
    page.get_by_label("Reply to the customer").fill(text)
    page.get_by_role("button", name="Send reply").click()

    warnings = page.locator("#reply-checks")
    expect(warnings).to_contain_text("Asking for a positive review")
    expect(warnings).to_contain_text("Personal contact details")
    assert not m.Message.objects.filter(inquiry=inquiry, direction=m.Direction.OUTBOUND).exists()
    expect(page.get_by_label("Reply to the customer")).to_have_value(text)  # nothing typed is lost

    page.get_by_role("checkbox", name="Asking for a positive review").check()
    page.get_by_role("button", name="Send reply").click()
    expect(page.locator("#reply-checks")).to_contain_text("Personal contact details")
    expect(page.locator("#reply-checks")).not_to_contain_text("Asking for a positive review")

    page.get_by_role("checkbox", name="Personal contact details").check()
    page.get_by_role("button", name="Send reply").click()
    expect(page.get_by_text("Reply queued")).to_be_visible()
    event = m.InquiryEvent.objects.get(inquiry=inquiry, kind=m.EventKind.REPLY_WRITTEN)
    assert event.data == {"confirmed_checks": ["review_request", "contact_details"]}
    assert dialogs == []
