"""Automatic assignment in a real browser (issue 23 point 2): an admin sets up a team's rota in
the admin, new messages are dealt to its agents as they arrive, each agent finds theirs under
"Mine", and the queue says who can take one. Playwright drives Debian's Chromium (see
tests/conftest.py)."""

from __future__ import annotations

from datetime import UTC

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect
from pytest_django.live_server_helper import LiveServer

from inquiries import models as m
from inquiries.services.recording import record_messages
from tests.factories import incoming
from tests.ui.test_browser import log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def log_out(page: Page) -> None:
    page.context.clear_cookies()


def test_an_admin_sets_up_the_rota_and_arrivals_are_dealt_to_its_agents(
    page: Page, live_server: LiveServer, channel, team, agent, teammate, superuser, policy
) -> None:
    base = live_server.url
    log_in(page, base, username="root")

    # The rota, made in the admin: round robin between Alice and Bob.
    page.goto(f"{base}/admin/inquiries/rota/add/")
    page.locator("#id_team").select_option(label=str(team))
    page.locator("#id_mode").select_option(m.AssignmentMode.ROUND_ROBIN.value)
    page.locator("#id_members-0-user").fill(str(agent.pk))
    page.locator("#members-group").get_by_text("Add another Rota member").click()
    page.locator("#id_members-1-user").fill(str(teammate.pk))
    page.get_by_role("button", name="Save and continue editing").click()
    expect(page.locator(".messagelist")).to_contain_text("was added successfully")
    expect(page.locator(".field-available_now")).to_contain_text("2 agents can take an inquiry.")
    rota = m.Rota.objects.get(team=team)
    assert sorted(rota.members.values_list("user__username", flat=True)) == ["alice", "bob"]

    # Four messages from four customers arrive; the recording engine deals them after commit.
    now = timezone.now()
    subjects = [f"Parcel question {i}" for i in range(4)]
    record_messages(
        [
            (channel, incoming(sender_address=f"buyer{i}@example.com", subject=subject, received_at=now))
            for i, subject in enumerate(subjects)
        ],
        now=now,
    )
    held = dict(m.Inquiry.objects.filter(subject__in=subjects).values_list("subject", "assignee__username"))
    assert sorted(held.values()) == ["alice", "alice", "bob", "bob"]

    # Alice sees the rota on her queue and exactly her two under "Mine".
    log_out(page)
    log_in(page, base, username="alice")
    expect(
        page.get_by_text("Automatic assignment, Team A (round robin): 2 agents available.")
    ).to_be_visible()
    page.goto(f"{base}/?assignee=me")
    for subject, who in sorted(held.items()):
        link = page.locator("#rows").get_by_role("link", name=subject, exact=True)
        if who == "alice":
            expect(link).to_be_visible()
        else:
            expect(link).to_have_count(0)

    # The admin marks Alice out of office from today: the queue counts one agent left.
    log_out(page)
    log_in(page, base, username="root")
    page.goto(f"{base}/admin/inquiries/rota/{rota.pk}/change/")
    # The engine reads a calendar-less rota's days in UTC.
    today = timezone.now().astimezone(UTC).date().isoformat()
    alice_row = next(
        i for i in range(2) if page.locator(f"#id_members-{i}-user").input_value() == str(agent.pk)
    )
    page.locator(f"#id_members-{alice_row}-away_from").fill(today)
    page.get_by_role("button", name="Save and continue editing").click()
    expect(page.locator(".messagelist")).to_contain_text("was changed successfully")
    expect(page.locator(".field-available_now")).to_contain_text("1 agent can take an inquiry.")

    # The next arrival goes to Bob, whatever the turn.
    later = timezone.now()
    record_messages(
        [
            (
                channel,
                incoming(sender_address="late@example.com", subject="Parcel question 9", received_at=later),
            )
        ],
        now=later,
    )
    assert m.Inquiry.objects.get(subject="Parcel question 9").assignee == teammate
