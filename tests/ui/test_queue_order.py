"""The queue's order, page after page, against an order worked out from the clocks themselves.

On PostgreSQL a page is assembled from one index-ordered branch per urgency; elsewhere from
one ORDER BY. Either way the pages must add up to the one true order, with no row twice.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from inquiries import models as m
from inquiries import services
from inquiries.selectors.queue import QueueCursor, QueueFilters, Urgency, queue_page
from tests.factories import delivered_reply, policy_with_targets
from tests.ui.conftest import inbound

pytestmark = pytest.mark.django_db


def expected_order(now, inquiries: list[m.Inquiry]) -> list[int]:
    """Breached (most overdue first), at risk, running (soonest due first), then no clock
    (newest first); ties by newest, then by id, from the clock rows, not the inquiry's copy."""

    def key(inquiry: m.Inquiry) -> tuple:
        active = list(inquiry.clocks.filter(state__in=m.ACTIVE_CLOCK_STATES).order_by("due_at", "id"))
        if not active:
            urgency, due = Urgency.NO_CLOCK, None
        elif active[0].due_at <= now:
            urgency, due = Urgency.BREACHED, active[0].due_at
        elif min(clock.warn_at for clock in active) <= now:
            urgency, due = Urgency.AT_RISK, active[0].due_at
        else:
            urgency, due = Urgency.RUNNING, active[0].due_at
        return (urgency, due.timestamp() if due else 0, -inquiry.opened_at.timestamp(), -inquiry.pk)

    return [inquiry.pk for inquiry in sorted(inquiries, key=key)]


@pytest.fixture
def mixed(channel, agent) -> tuple:
    """Inquiries of every urgency, with equal deadlines and equal opening times among them."""
    policy_with_targets(first_reply=3600, next_reply=3600, resolution=None, warn_ratio=0.75)
    now = timezone.now()
    made = []
    for n, minutes in enumerate([150, 150, 120, 61, 50, 50, 47, 30, 5, 5, 1, 200, 40]):
        made.append(
            inbound(channel, sender_address=f"b{n}@example.com", ago=timedelta(minutes=minutes), now=now)
        )
    # No active clock: answered or marked "no response needed".
    delivered_reply(inquiry=made[-2], author=agent, body_text="Sorted.", at=now)
    services.mark_no_response_needed(inquiry=made[-1], actor=agent, now=now)
    return now, [m.Inquiry.objects.get(pk=inquiry.pk) for inquiry in made]


@pytest.mark.parametrize("size", [1, 2, 3, 5, 50])
def test_pages_add_up_to_the_order_of_the_clocks(agent, mixed, size):
    now, made = mixed
    seen: list[int] = []
    after = None
    while True:
        page = queue_page(agent, QueueFilters(), now=now, after=after, size=size)
        seen += [row.pk for row in page.rows]
        if page.next_cursor is None:
            break
        # The cursor survives its round trip through the URL.
        after = QueueCursor.decode(page.next_cursor.encode())
    assert seen == expected_order(now, made)
    urgencies = [row.urgency for row in queue_page(agent, QueueFilters(), now=now, size=50).rows]
    assert set(urgencies) == set(Urgency)


@pytest.mark.parametrize("urgency", [Urgency.BREACHED, Urgency.AT_RISK])
def test_the_clock_filter_keeps_one_urgency_in_the_same_order(agent, mixed, urgency):
    now, made = mixed
    page = queue_page(agent, QueueFilters(urgency=urgency), now=now, size=50)
    assert page.rows and all(row.urgency == urgency for row in page.rows)
    assert [row.pk for row in page.rows] == [
        pk for pk in expected_order(now, made) if pk in {row.pk for row in page.rows}
    ]


def test_time_alone_moves_an_inquiry_up_the_queue(agent, mixed):
    """No write happens between the two reads: urgency is judged from the deadlines at `now`."""
    now, made = mixed
    later = now + timedelta(minutes=20)
    first = queue_page(agent, QueueFilters(), now=now, size=50).rows
    second = queue_page(agent, QueueFilters(), now=later, size=50).rows
    assert [row.pk for row in second] == expected_order(later, made)
    urgency_now = {row.pk: row.urgency for row in first}
    moved_up = [row.pk for row in second if row.urgency < urgency_now[row.pk]]
    assert moved_up  # e.g. running to at risk, at risk to breached, without the sweep


def test_another_teams_inquiries_never_enter_any_branch(agent, outsider, mixed, other_channel):
    now, _ = mixed
    theirs = inbound(other_channel, sender_address="x@example.com", ago=timedelta(minutes=500), now=now)
    rows = queue_page(agent, QueueFilters(), now=now, size=50).rows
    assert theirs.pk not in {row.pk for row in rows}
    assert [row.pk for row in queue_page(outsider, QueueFilters(), now=now).rows] == [theirs.pk]


def test_recompute_sla_rewrites_copies_changed_behind_the_services_back(agent, mixed):
    from io import StringIO

    from django.core.management import call_command

    from inquiries.services.clocks import URGENCY_FIELDS, urgency_of

    now, made = mixed
    m.Inquiry.objects.update(next_due_at=None, next_warn_at=None, next_clock_kind="", market_due_at=None)
    m.Inquiry.objects.filter(pk=made[-1].pk).update(next_due_at=now)  # a deadline with no clock
    out = StringIO()
    call_command("recompute_sla", stdout=out)
    assert "queue_fields=" in out.getvalue()
    for inquiry in m.Inquiry.objects.all():
        copy = {field: getattr(inquiry, field) for field in URGENCY_FIELDS}
        assert copy == urgency_of(inquiry.clocks.order_by("id")), inquiry.pk
