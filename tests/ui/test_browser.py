"""The agent's pages in a real browser: Playwright driving Debian's Chromium (see conftest)."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect
from pytest_django.live_server_helper import LiveServer

from inquiries import models as m
from inquiries import services
from inquiries.ingestion.email import parse_email
from inquiries.ingestion.types import IncomingAttachment
from inquiries.services import delivery
from tests import factories
from tests.ui.conftest import inbound

# Transactional: the live server reads what the test wrote. serialized_rollback puts the
# data the migrations seed (topics and their rules) back for the tests that follow.
pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"
HOSTILE_SUBJECTS = ("<img src=x onerror=alert(1)>", "<script>alert(1)</script>")


@pytest.fixture
def dialogs(page: Page) -> list[str]:
    """Every dialog any script managed to open; the tests assert there are none."""
    opened: list[str] = []

    def record(dialog: object) -> None:
        opened.append(dialog.message)  # type: ignore[attr-defined]
        dialog.dismiss()  # type: ignore[attr-defined]

    page.on("dialog", record)
    return opened


def log_in(page: Page, base_url: str, username: str = "alice") -> None:
    page.goto(f"{base_url}/")
    expect(page.get_by_role("heading", name="Log in to cstracker")).to_be_visible()
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill("password")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Queue")).to_be_visible()


def queue_row(page: Page, subject: str) -> object:
    return page.locator("#rows tr").filter(has=page.get_by_role("link", name=subject, exact=True))


@pytest.fixture
def demo(channel: m.Channel, team: m.Team, agent: object, teammate: object, policy: m.SlaPolicy) -> dict:
    """A small realistic queue: a breached, an at-risk and a fresh inquiry, one on Amazon."""
    amazon = factories.AccountFactory(
        name="Acme on Amazon US", marketplace=m.Marketplace.AMAZON, timezone="America/New_York"
    )
    team.accounts.add(amazon)
    amazon_channel = factories.ChannelFactory(account=amazon, slug="amazon-us", name="Buyer messages")
    channel.name = "support@acme.example"
    channel.save()
    channel.account.timezone = "Europe/Berlin"
    channel.account.save()
    quality = m.Topic.objects.get_or_create(key="quality", defaults={"name": "Product quality"})[0]
    made = {
        "kettle": inbound(
            channel,
            sender_address="jane@example.net",
            sender_name="Jane Miller",
            subject="Kettle arrived broken",
            body_text="The lid is cracked.\nPlease advise.",
            order_id="A-10023",
            sku="KET-200",
            ago=timedelta(hours=2),
        ),
        "parcel": inbound(
            amazon_channel,
            sender_address="buyer-7f3k@marketplace.amazon.com",
            subject="Where is my parcel?",
            body_text="It has been a week.",
            order_id="113-4470123-5521",
            ago=timedelta(minutes=50),
        ),
        "invoice": inbound(
            channel,
            sender_address="li.wei@example.org",
            sender_name="Li Wei",
            subject="Invoice for order A-10031",
            body_text="Could you send the invoice?",
            ago=timedelta(minutes=12),
        ),
        "bobs": inbound(
            amazon_channel,
            sender_address="buyer-9x2@marketplace.amazon.com",
            subject="Size exchange",
            body_text="Can I swap for a larger size?",
            ago=timedelta(minutes=25),
        ),
    }
    services.change_topic(inquiry=made["kettle"], topic=quality, actor=agent)
    services.change_priority(inquiry=made["kettle"], priority=m.Priority.HIGH, actor=agent)
    services.assign(inquiry=made["bobs"], assignee=teammate, actor=teammate)
    return made


def test_an_agent_filters_opens_and_replies_and_the_first_reply_clock_stops_once_delivered(
    page: Page, live_server: LiveServer, demo: dict, dialogs: list[str]
) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    base = live_server.url
    log_in(page, base)
    assert page.evaluate("typeof htmx") == "object"  # served by the app, not a CDN

    # Most urgent first: the breached kettle, then the at-risk parcel.
    subjects = page.locator("#rows .row-link").all_inner_texts()
    assert subjects[:2] == ["Kettle arrived broken", "Where is my parcel?"]
    expect(queue_row(page, "Kettle arrived broken")).to_contain_text("Breached")
    expect(queue_row(page, "Where is my parcel?")).to_contain_text("At risk")
    expect(queue_row(page, "Where is my parcel?").locator(".countdown").last).to_contain_text("left")
    page.screenshot(path=str(ARTIFACTS / "queue.png"), full_page=True)

    # Filter: unassigned only hides Bob's inquiry and lands in the URL (a bookmarkable view).
    page.get_by_label("Assignee").select_option("none")
    page.get_by_role("button", name="Apply", exact=True).click()
    expect(page).to_have_url(re.compile(r"[?&]assignee=none(&|$)"))
    expect(page.locator("#rows tr")).to_have_count(3)

    # "/" searches; j and Enter open the first result.
    page.keyboard.press("/")
    page.keyboard.type("invoice")
    page.keyboard.press("Enter")
    expect(page.locator("#rows tr")).to_have_count(1)
    page.keyboard.press("j")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Invoice for order A-10031")).to_be_visible()

    first_reply = page.locator(".clock").filter(has_text="First reply")
    expect(first_reply).to_contain_text("Running")
    page.get_by_label("Reply to the customer").fill("Attached, and sorry for the wait.")
    page.get_by_role("button", name="Send reply").click()
    expect(page.get_by_text("Reply queued: it answers the customer once it is delivered.")).to_be_visible()
    expect(page.locator(".thread")).to_contain_text("Attached, and sorry for the wait.")
    # An API channel: nothing sends it, so nothing claims it was sent and the clock runs on.
    expect(page.locator(".thread")).to_contain_text("Not delivered yet: waiting for the integration")
    expect(page.get_by_role("status").filter(has_text="Reply not delivered yet")).to_be_visible()
    expect(first_reply).to_contain_text("Running")
    # The integration reports it delivered: the clock stops at that moment.
    reply = m.Message.objects.get(body_text="Attached, and sorry for the wait.")
    delivery.accept_reply(message_id=reply.pk, at=timezone.now())
    page.reload()
    expect(page.locator(".clock").filter(has_text="First reply")).to_contain_text("Met")
    expect(page.locator(".thread")).to_contain_text("Accepted for delivery")
    assert dialogs == []


def test_the_inquiry_page_shows_clocks_in_two_zones_and_marks_no_response_needed(
    page: Page, live_server: LiveServer, demo: dict, agent: object, dialogs: list[str]
) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    base = live_server.url
    kettle = demo["kettle"]
    now = timezone.now()
    factories.delivered_reply(
        inquiry=kettle,
        author=agent,
        body_text="Sorry to hear that! Could you send a photo of the lid?",
        at=now - timedelta(minutes=40),
    )
    services.reply(
        inquiry=kettle,
        author=agent,
        body_text="Photo requested; replacement in stock.",
        internal=True,
        now=now - timedelta(minutes=39),
    )
    # The same order from the same customer threads into the same inquiry.
    inbound(
        kettle.channel,
        sender_address="jane@example.net",
        sender_name="Jane Miller",
        subject="Re: Kettle arrived broken",
        body_text="Here is the photo.",
        order_id="A-10023",
        ago=timedelta(minutes=20),
        now=now,
        attachments=(IncomingAttachment("lid.jpg", "image/jpeg", 4, b"JPEG"),),
    )
    log_in(page, base)
    page.goto(f"{base}/inquiries/{kettle.pk}/")
    expect(page.get_by_role("heading", name="Kettle arrived broken")).to_be_visible()
    clocks = page.locator(".clocks")
    expect(clocks).to_contain_text("First reply")
    expect(clocks).to_contain_text("Missed")  # answered after its one-hour target
    expect(clocks).to_contain_text("Next reply")
    expect(clocks).to_contain_text(" UTC")
    expect(page.get_by_role("link", name="lid.jpg")).to_be_visible()
    expect(page.get_by_text("A-10023").first).to_be_visible()
    page.screenshot(path=str(ARTIFACTS / "inquiry.png"), full_page=True)

    page.get_by_role("button", name="No response needed").click()
    expect(page.locator(".flash")).to_contain_text("Marked no response needed: 1 message excluded")
    next_reply = page.locator(".clock").filter(has_text="Next reply")
    expect(next_reply).to_contain_text("Cancelled")
    expect(page.locator(".thread")).to_contain_text("No response needed")
    expect(page.get_by_role("button", name="No response needed")).to_have_count(0)
    assert dialogs == []


HOSTILE_EMAIL = b"""From: Mallory <mallory@example.com>
To: support@acme.example
Subject: =?utf-8?q?=3Cimg_src=3Dx_onerror=3Dalert=281=29=3E?=
Message-ID: <hostile-1@example.com>
Date: Thu, 26 Nov 2026 09:00:00 +0000
MIME-Version: 1.0
Content-Type: multipart/alternative; boundary="b"

--b
Content-Type: text/plain; charset=utf-8

<script>alert(1)</script> plain text
--b
Content-Type: text/html; charset=utf-8

<p onclick="alert(2)">Hello <b>there</b></p><script>alert(3)</script><img src=x onerror=alert(4)>
<a href="javascript:alert(5)">click</a><iframe src="javascript:alert(6)"></iframe>
--b--
"""


def test_hostile_subjects_and_html_render_as_inert_text(
    page: Page,
    live_server: LiveServer,
    channel: m.Channel,
    agent: object,
    policy: m.SlaPolicy,
    dialogs: list[str],
) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    base = live_server.url
    from_email = services.record_message(
        channel=channel,
        incoming=parse_email(HOSTILE_EMAIL, received_at=timezone.now() - timedelta(minutes=5)),
    ).message.inquiry
    scripted = inbound(
        channel,
        sender_address="eve@example.com",
        subject=HOSTILE_SUBJECTS[1],
        body_text="<img src=x onerror=alert(7)>",
        # Defence in depth: even HTML that skipped the sanitiser stays in the sandbox.
        body_html="<script>alert(8)</script><img src=x onerror=alert(9)>",
    )
    log_in(page, base)
    for subject in HOSTILE_SUBJECTS:
        expect(page.get_by_role("link", name=subject, exact=True)).to_be_visible()
    page.wait_for_timeout(300)
    assert page.locator("#rows img, #rows script").count() == 0

    page.goto(f"{base}/inquiries/{from_email.pk}/")
    expect(page.get_by_role("heading", name=HOSTILE_SUBJECTS[0])).to_be_visible()
    expect(page.locator(".msg-body")).to_have_text("<script>alert(1)</script> plain text")
    page.get_by_text("Show the formatted (HTML) version").click()
    frame = page.frame_locator(".msg-html iframe")
    expect(frame.locator("b")).to_have_text("there")

    page.screenshot(path=str(ARTIFACTS / "hostile.png"), full_page=True)

    page.goto(f"{base}/inquiries/{scripted.pk}/")
    expect(page.get_by_role("heading", name=HOSTILE_SUBJECTS[1])).to_be_visible()
    expect(page.locator(".msg-body")).to_have_text("<img src=x onerror=alert(7)>")
    page.get_by_text("Show the formatted (HTML) version").click()
    page.wait_for_timeout(500)
    assert page.locator("main img, main script").count() == 0
    assert dialogs == []


def test_the_refresh_keeps_filters_selection_and_scroll(
    page: Page,
    live_server: LiveServer,
    channel: m.Channel,
    agent: object,
    policy: m.SlaPolicy,
    dialogs: list[str],
) -> None:
    base = live_server.url
    for i in range(12):
        inbound(
            channel,
            sender_address=f"c{i}@example.com",
            subject=f"Question {i:02}",
            ago=timedelta(minutes=i + 1),
        )
    page.set_viewport_size({"width": 1280, "height": 500})
    page.clock.install()
    log_in(page, base)
    page.goto(f"{base}/?assignee=none")
    page.get_by_label("Select inquiry", exact=False).nth(2).check()
    third = page.locator("#rows tr").nth(2).get_attribute("data-id")
    page.evaluate("window.scrollTo(0, 300)")
    scrolled = page.evaluate("window.scrollY")
    assert scrolled == 300

    # A new, more urgent inquiry arrives; the poll brings it in at the top.
    inbound(
        channel, sender_address="late@example.com", subject="Urgent: wrong colour", ago=timedelta(hours=3)
    )
    with page.expect_response(
        lambda r: "assignee=none" in r.url and r.request.headers.get("hx-request") == "true"
    ):
        page.clock.run_for(16_000)
    expect(page.locator("#rows .row-link").first).to_have_text("Urgent: wrong colour")
    expect(page.locator(f'#rows tr[data-id="{third}"] input[name="ids"]')).to_be_checked()
    expect(page.locator("#rows input[name='ids']:checked")).to_have_count(1)
    expect(page.locator("#selected-count")).to_have_text("1 selected")
    assert page.evaluate("window.scrollY") == scrolled
    assert page.get_by_label("Assignee").input_value() == "none"
    assert dialogs == []


def test_a_claims_the_current_row_from_the_keyboard(
    page: Page, live_server: LiveServer, channel: m.Channel, agent: object, policy: m.SlaPolicy
) -> None:
    base = live_server.url
    first = inbound(channel, sender_address="a@example.com", subject="First", ago=timedelta(minutes=30))
    inbound(channel, sender_address="b@example.com", subject="Second", ago=timedelta(minutes=5))
    log_in(page, base)
    page.keyboard.press("j")
    expect(page.locator("#rows tr.is-current .row-link")).to_have_text("First")
    page.keyboard.press("a")
    expect(page.get_by_text(f"#{first.pk} is yours.")).to_be_visible()
    expect(queue_row(page, "First")).to_contain_text("alice")
    assert m.Inquiry.objects.get(pk=first.pk).assignee == agent


def test_a_poll_after_the_session_expired_goes_to_the_login_page(
    page: Page, live_server: LiveServer, channel: m.Channel, agent: object, policy: m.SlaPolicy
) -> None:
    base = live_server.url
    inbound(channel, subject="Anything")
    page.clock.install()
    log_in(page, base)
    page.context.clear_cookies()
    page.clock.run_for(16_000)
    expect(page.get_by_role("heading", name="Log in to cstracker")).to_be_visible()
    expect(page.locator("#rows")).to_have_count(0)
