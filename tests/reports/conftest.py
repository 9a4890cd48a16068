"""Conversations for the report tests, recorded through the one write path with explicit times."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from inquiries import models as m
from inquiries import services
from inquiries.services import RecordResult
from tests import factories

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)  # a Monday
NOW = T0 + timedelta(days=9, hours=5)
HOUR = 3600


def customer(
    channel: m.Channel, at: datetime, *, sender: str, now: datetime | None = None, **fields: object
) -> m.Inquiry:
    """A customer message at `at` (recorded at `now`, default `at`); returns its inquiry."""
    fields.setdefault("subject", "Hello")
    fields.setdefault("body_text", "Hi there")
    result = services.record_message(
        channel=channel,
        incoming=factories.incoming(received_at=at, sender_address=sender, **fields),
        now=now or at,
    )
    assert isinstance(result, RecordResult) and result.inquiry_id is not None
    return m.Inquiry.objects.get(pk=result.inquiry_id)


def reply(inquiry: m.Inquiry, author: object, at: datetime) -> None:
    """An agent's reply that the relay accepted at once: it answers at `at`."""
    factories.delivered_reply(inquiry=inquiry, author=author, at=at)


@pytest.fixture
def policy(db: None) -> m.SlaPolicy:
    """First reply 1 h, next reply 2 h, resolution 24 h, around the clock."""
    return factories.policy_with_targets(first_reply=HOUR, next_reply=2 * HOUR, resolution=24 * HOUR)


@pytest.fixture
def history(channel, other_channel, agent, teammate, outsider, manager, policy) -> dict:
    """A week of team A's inquiries in every clock outcome, and one of team B's."""
    shipping = m.Topic.objects.get_or_create(key="shipping", defaults={"name": "Shipping"})[0]
    at = T0
    met = customer(channel, at, sender="ann@example.com")
    services.assign(inquiry=met, assignee=agent, actor=agent, now=at + timedelta(minutes=1))
    reply(met, agent, at + timedelta(minutes=30))
    services.change_status(inquiry=met, status=m.Status.SOLVED, actor=agent, now=at + timedelta(hours=5))

    at = T0 + timedelta(hours=2)
    missed = customer(channel, at, sender="ben@example.com", subject='=HYPERLINK("http://x")')
    services.assign(inquiry=missed, assignee=teammate, actor=teammate, now=at + timedelta(minutes=5))
    services.change_topic(inquiry=missed, topic=shipping, actor=teammate, now=at + timedelta(minutes=6))
    services.change_priority(
        inquiry=missed, priority=m.Priority.HIGH, actor=teammate, now=at + timedelta(minutes=7)
    )
    reply(missed, teammate, at + timedelta(minutes=90))
    services.change_status(
        inquiry=missed, status=m.Status.SOLVED, actor=teammate, now=at + timedelta(hours=30)
    )

    at = T0 + timedelta(days=1)
    breached = customer(channel, at, sender="cat@example.com")  # never answered

    at = T0 + timedelta(days=1, hours=1)
    cancelled = customer(channel, at, sender="dan@example.com")
    services.assign(inquiry=cancelled, assignee=agent, actor=agent, now=at + timedelta(minutes=2))
    services.mark_no_response_needed(inquiry=cancelled, actor=agent, now=at + timedelta(minutes=10))

    at = T0 + timedelta(days=2, hours=3)
    pending = customer(channel, at, sender="eve@example.com")
    reply(pending, agent, at + timedelta(minutes=20))
    services.change_status(
        inquiry=pending, status=m.Status.PENDING, actor=agent, now=at + timedelta(minutes=21)
    )

    at = T0 + timedelta(days=3, hours=6)
    followup = customer(channel, at, sender="fay@example.com")
    reply(followup, teammate, at + timedelta(hours=3))
    first = followup.messages.order_by("received_at").first()
    assert first is not None
    customer(
        channel, at + timedelta(hours=3, minutes=30), sender="fay@example.com", in_reply_to=first.external_id
    )
    reply(followup, teammate, at + timedelta(hours=4))
    customer(
        channel,
        at + timedelta(hours=5),
        sender="fay@example.com",
        in_reply_to=first.external_id,
        automatic=True,
        automatic_reason="auto-replied",
    )

    running = customer(channel, NOW - timedelta(minutes=10), sender="gus@example.com")

    foreign = customer(other_channel, T0 + timedelta(hours=1), sender="zed@example.com")
    reply(foreign, outsider, T0 + timedelta(hours=1, minutes=10))
    return {
        "met": met,
        "missed": missed,
        "breached": breached,
        "cancelled": cancelled,
        "pending": pending,
        "followup": followup,
        "running": running,
        "foreign": foreign,
        "shipping": shipping,
    }
