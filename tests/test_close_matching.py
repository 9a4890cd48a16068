"""Closing in bulk: `close_matching` (set-based, the same rows as one by one), the
`close_inquiries` command (count first, --dry-run) and the queue's "close all matching"."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from inquiries import models as m
from inquiries.services import actions, record_messages
from tests.factories import incoming, policy_with_targets
from tests.test_import_commands import run

pytestmark = pytest.mark.django_db

START = datetime(2026, 3, 2, 10, tzinfo=UTC)
NOW = datetime(2026, 3, 4, 10, tzinfo=UTC)


def open_inquiries(
    channel: m.Channel, count: int, prefix: str = "x", step: timedelta = timedelta(minutes=20)
) -> list[int]:
    """`count` inquiries `step` apart; every third waits on the customer (pending)."""
    record_messages(
        [
            (
                channel,
                incoming(
                    external_id=f"{prefix}{n}",
                    sender_address=f"{prefix}{n}@example.com",
                    order_id="",
                    received_at=START + n * step,
                ),
            )
            for n in range(count)
        ],
        now=NOW,
    )
    inquiries = list(m.Inquiry.objects.filter(channel=channel).order_by("pk"))
    for n, inquiry in enumerate(inquiries):
        if n % 3 == 2:
            actions.change_status(inquiry=inquiry, status=m.Status.PENDING, actor=None, now=START + n * step)
    return [inquiry.pk for inquiry in inquiries]


def outcome(channel: m.Channel) -> list[tuple]:
    """Every inquiry's status, clocks and events, without ids, in the inquiries' order."""
    rows = []
    for inquiry in m.Inquiry.objects.filter(channel=channel).order_by("pk"):
        clocks = sorted(
            (c.kind, c.state, c.stopped_at, c.elapsed_seconds, c.due_at, c.paused_business_seconds)
            for c in inquiry.clocks.all()
        )
        events = sorted((e.kind, e.at, sorted(e.data.items())) for e in inquiry.events.all())
        rows.append((inquiry.status, inquiry.solved_at, inquiry.next_due_at, clocks, events))
    return rows


def test_closing_in_bulk_writes_what_closing_one_by_one_writes(channel, other_channel):
    policy_with_targets(first_reply=3600, resolution=86400)
    open_inquiries(channel, 12)
    open_inquiries(other_channel, 12, prefix="y")

    closed = actions.close_matching(inquiries=m.Inquiry.objects.filter(channel=channel), actor=None, now=NOW)
    for inquiry in m.Inquiry.objects.filter(channel=other_channel).order_by("pk"):
        actions.change_status(inquiry=inquiry, status=m.Status.CLOSED, actor=None, now=NOW)

    assert closed == 12
    assert outcome(channel) == outcome(other_channel)
    states = {c.state for c in m.Clock.objects.filter(inquiry__channel=channel, kind=m.ClockKind.RESOLUTION)}
    assert states == {m.ClockState.MET, m.ClockState.MISSED}  # judged at the close, against 24 h


def test_closing_in_bulk_costs_a_bounded_number_of_statements_not_some_per_inquiry(channel):
    policy_with_targets(resolution=86400)
    open_inquiries(channel, 110)

    with CaptureQueriesContext(connection) as queries:
        assert actions.close_matching(inquiries=m.Inquiry.objects.all(), actor=None, now=NOW) == 110

    # Ids, savepoint, lock, UPDATE, status events, clocks, catch-up (2), clock UPDATE, clock
    # events (SQLite splits a large INSERT in a few), the queue's deadline copy, release.
    assert len(queries) <= 16, "\n".join(q["sql"][:120] for q in queries.captured_queries)


def test_the_command_prints_the_count_first_and_its_dry_run_count_is_what_it_closes(channel, other_channel):
    policy_with_targets(resolution=86400)
    open_inquiries(channel, 30, step=timedelta(hours=1))
    open_inquiries(other_channel, 5, prefix="y")  # another account: never touched
    account = str(channel.account_id)
    filters = ("--account", account, "--before", "2026-03-03", "--channel", channel.slug)

    code, dry, _ = run("close_inquiries", *filters, "--dry-run")
    assert code == 0
    assert m.Inquiry.objects.filter(status=m.Status.CLOSED).count() == 0
    code, out, _ = run("close_inquiries", *filters)

    # Opened 10:00 on 2 March and hourly after: 14 of them before midnight UTC on the 3rd.
    assert dry.splitlines()[0].startswith("matching=14 ")
    assert "dry run: nothing changed" in dry
    assert out.splitlines()[0].startswith("matching=14 ") and "closed=14" in out
    assert m.Inquiry.objects.filter(status=m.Status.CLOSED).count() == 14
    assert not m.Inquiry.objects.filter(channel=other_channel, status=m.Status.CLOSED).exists()
    code, again, _ = run("close_inquiries", *filters, "--status", "pending", "--dry-run")
    assert again.startswith("matching=0 ")


def test_the_command_names_a_bad_account_or_channel(channel):
    with pytest.raises(Exception, match="no account with id 999"):
        run("close_inquiries", "--account", "999")
    with pytest.raises(Exception, match="no channel 'nope'"):
        run("close_inquiries", "--account", str(channel.account_id), "--channel", "nope")


# --- the queue's "close all matching this filter" ------------------------------------------


def test_the_queue_closes_every_page_matching_its_filter_after_showing_the_count(
    client, agent, channel, other_channel
):
    policy_with_targets(resolution=86400)
    open_inquiries(channel, 120, step=timedelta(minutes=10))  # more than two pages of 50
    open_inquiries(other_channel, 3, prefix="y")  # another team's: never counted, never closed
    client.force_login(agent)
    query = f"account={channel.account_id}"

    shown = client.get(f"/close-matching/?{query}")
    assert shown.status_code == 200
    assert shown.context["count"] == 120
    assert "<strong>120</strong> inquiries match" in shown.content.decode()
    assert m.Inquiry.objects.filter(status=m.Status.CLOSED).count() == 0  # nothing before the POST
    done = client.post("/close-matching/", {"query": query, "confirm": "120", "to": "closed"}, follow=True)

    assert done.redirect_chain[-1][0] == f"/?{query}"
    assert "Closed: 120 inquiries." in done.content.decode()
    assert m.Inquiry.objects.filter(channel=channel).exclude(status=m.Status.CLOSED).count() == 0
    assert not m.Inquiry.objects.filter(channel=other_channel, status=m.Status.CLOSED).exists()
    assert (
        m.InquiryEvent.objects.filter(kind=m.EventKind.STATUS_CHANGED, data__to="closed", actor=agent).count()
        == 120
    )


def test_a_confirmation_for_another_count_closes_nothing_and_shows_the_new_count(client, agent, channel):
    policy_with_targets(resolution=86400)
    open_inquiries(channel, 4)
    client.force_login(agent)

    response = client.post("/close-matching/", {"query": "", "confirm": "3"})

    assert response.status_code == 200 and response.context["count"] == 4
    assert "changed while you confirmed: 4 now" in response.content.decode()
    assert not m.Inquiry.objects.filter(status=m.Status.CLOSED).exists()


def test_the_count_page_costs_the_same_queries_for_few_or_many(client, agent, channel):
    policy_with_targets(resolution=86400)
    open_inquiries(channel, 3)
    client.force_login(agent)
    with CaptureQueriesContext(connection) as few:
        client.get("/close-matching/")
    open_inquiries(channel, 60, prefix="z", step=timedelta(minutes=5))
    with CaptureQueriesContext(connection) as many:
        assert client.get("/close-matching/").context["count"] == 63

    assert len(many) == len(few)


def test_closing_all_matching_needs_a_login_and_csrf(client, agent, channel):
    assert client.get("/close-matching/").status_code == 302
    guarded = type(client)(enforce_csrf_checks=True)
    guarded.force_login(agent)
    assert guarded.post("/close-matching/", {"query": "", "confirm": "0"}).status_code == 403


def test_the_count_page_shows_a_hostile_search_inert(client, agent, channel):
    client.force_login(agent)

    page = client.get("/close-matching/", {"q": "<script>alert(1)</script>"}).content.decode()

    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
