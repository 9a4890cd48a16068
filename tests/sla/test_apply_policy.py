"""Applying a saved policy to open inquiries recomputes them whole: running clocks move, clocks the
policy now measures and an inquiry lacks start where they would have started, clocks for targets
the policy dropped are cancelled."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.test import Client

from inquiries import models as m
from inquiries.ingestion.types import Direction
from inquiries.services import config, record_message
from tests.factories import incoming, policy_with_targets

pytestmark = pytest.mark.django_db

HOUR = 3600
MONDAY_9 = datetime(2026, 3, 2, 9, tzinfo=UTC)


def kinds(inquiry: m.Inquiry) -> dict[str, str]:
    return dict(inquiry.clocks.values_list("kind", "state"))


def test_a_policy_that_adds_a_resolution_target_starts_it_at_the_opening_and_one_that_drops_a_target_cancels_it(
    account, channel, django_capture_on_commit_callbacks
):
    policy = policy_with_targets(first_reply=HOUR, next_reply=None, resolution=None)
    inquiry = record_message(
        channel=channel, incoming=incoming(received_at=MONDAY_9), now=MONDAY_9
    ).message.inquiry
    assert kinds(inquiry) == {m.ClockKind.FIRST_REPLY: m.ClockState.RUNNING}

    m.SlaTarget.objects.filter(policy=policy).update(first_reply_seconds=None, resolution_seconds=1000 * HOUR)
    with django_capture_on_commit_callbacks(execute=True):
        assert config.save_policy(policy=policy) == 1

    resolution = inquiry.clocks.get(kind=m.ClockKind.RESOLUTION)
    assert (resolution.started_at, resolution.due_at, resolution.target_seconds) == (
        MONDAY_9,
        MONDAY_9 + timedelta(hours=1000),
        1000 * HOUR,
    )
    assert resolution.policy_id == policy.pk
    assert resolution.state == m.ClockState.BREACHED  # 1,000 hours after 2 March 2026 is long past
    assert inquiry.events.filter(kind=m.EventKind.CLOCK_STARTED, clock=resolution, at=MONDAY_9).exists()
    assert inquiry.events.filter(kind=m.EventKind.CLOCK_BREACHED, clock=resolution).exists()
    first = inquiry.clocks.get(kind=m.ClockKind.FIRST_REPLY)
    assert first.state == m.ClockState.CANCELLED
    assert (
        inquiry.events.get(kind=m.EventKind.CLOCK_CANCELLED, clock=first).data["reason"] == "policy removed"
    )
    inquiry.refresh_from_db()
    assert inquiry.next_clock_kind == m.ClockKind.RESOLUTION

    # Applying again starts nothing twice.
    with django_capture_on_commit_callbacks(execute=True):
        config.save_policy(policy=policy)
    assert inquiry.clocks.filter(kind=m.ClockKind.RESOLUTION).count() == 1


def test_the_first_policy_gives_open_inquiries_without_clocks_the_clocks_they_would_have_had(
    account, channel, django_capture_on_commit_callbacks
):
    quiet = record_message(
        channel=channel,
        incoming=incoming(sender_address="ann@example.com", received_at=MONDAY_9),
        now=None,
    ).message.inquiry
    answered = record_message(
        channel=channel,
        incoming=incoming(sender_address="ben@example.com", received_at=MONDAY_9),
        now=None,
    ).message
    record_message(
        channel=channel,
        incoming=incoming(
            direction=Direction.OUTBOUND,
            in_reply_to=answered.external_id,
            received_at=MONDAY_9 + timedelta(hours=1),
        ),
        now=None,
    )
    follow_up = record_message(
        channel=channel,
        incoming=incoming(
            sender_address="ben@example.com",
            in_reply_to=answered.external_id,
            received_at=MONDAY_9 + timedelta(hours=2),
        ),
        now=None,
    ).message
    closed = record_message(
        channel=channel,
        incoming=incoming(sender_address="cid@example.com", received_at=MONDAY_9, status="closed"),
        now=None,
    ).message.inquiry
    assert not m.Clock.objects.exclude(kind=m.ClockKind.MARKETPLACE_REPLY).exists()  # no policy yet

    policy = policy_with_targets(first_reply=HOUR, next_reply=2 * HOUR, resolution=10_000 * HOUR)
    with django_capture_on_commit_callbacks(execute=True):
        assert config.save_policy(policy=policy) == 2  # the closed inquiry is not open

    first = quiet.clocks.get(kind=m.ClockKind.FIRST_REPLY)
    assert (first.started_at, first.due_at, first.state) == (
        MONDAY_9,
        MONDAY_9 + timedelta(hours=1),
        m.ClockState.BREACHED,
    )
    assert quiet.clocks.get(kind=m.ClockKind.RESOLUTION).state == m.ClockState.RUNNING
    ben = follow_up.inquiry
    assert set(kinds(ben)) >= {m.ClockKind.NEXT_REPLY, m.ClockKind.RESOLUTION}
    assert m.ClockKind.FIRST_REPLY not in kinds(ben)  # somebody had replied already
    waiting = ben.clocks.get(kind=m.ClockKind.NEXT_REPLY)
    assert (waiting.started_at, waiting.message_id) == (follow_up.received_at, follow_up.pk)
    assert not closed.clocks.exclude(kind=m.ClockKind.MARKETPLACE_REPLY).exists()


def test_a_recompute_sent_to_the_background_shows_its_progress_on_the_admins_policy_page(
    superuser, account, channel, monkeypatch, django_capture_on_commit_callbacks
):
    from inquiries import tasks
    from inquiries.services import clocks, queue

    for n in range(3):
        record_message(channel=channel, incoming=incoming(sender_address=f"c{n}@example.com"), now=None)
    published = []
    monkeypatch.setattr(
        queue, "safe_delay", lambda task, *args, **kw: published.append((task.name, args, kw))
    )
    monkeypatch.setattr(config, "RECOMPUTE_IN_FOREGROUND_MOST", 2)
    monkeypatch.setattr(clocks.recompute, "RECOMPUTE_PROGRESS_EVERY", 2)
    policy = policy_with_targets(first_reply=HOUR, name="Fast replies")
    admin = Client()
    admin.force_login(superuser)

    with django_capture_on_commit_callbacks(execute=True):
        assert config.save_policy(policy=policy) == 3
    (name, (ids, run_id), options), *_ = published
    assert (name, options) == ("inquiries.tasks.recompute_clocks", {"queue": "background"})
    page = admin.get("/admin/inquiries/slapolicy/").content.decode()
    assert f"after an SLA policy change (policy {policy.pk}): 0 of 3 open inquiries done" in page

    seen_midway = []

    def ids_watched():
        for position, inquiry_id in enumerate(ids):
            if position == 2:  # two done: the worker has stored them
                seen_midway.append(m.RecomputeRun.objects.get(pk=run_id).done)
                seen_midway.append(admin.get("/admin/inquiries/slapolicy/").content.decode())
            yield inquiry_id

    tasks.recompute_clocks(ids_watched(), run_id)  # what the worker runs

    assert seen_midway[0] == 2 and "2 of 3 open inquiries done" in seen_midway[1]
    run = m.RecomputeRun.objects.get(pk=run_id)
    assert (run.done, run.total, run.finished_at is not None) == (3, 3, True)
    assert (
        f"Recomputed clocks after an SLA policy change (policy {policy.pk}): 3 of 3"
        in admin.get("/admin/inquiries/slapolicy/").content.decode()
    )
    assert m.Clock.objects.filter(kind=m.ClockKind.FIRST_REPLY).count() == 3
