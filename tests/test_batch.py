"""The batch path (batch API, importers) records exactly what one-by-one recording records."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from inquiries import services
from inquiries.ingestion.types import Direction, IncomingAttachment, Rejected
from inquiries.models import Attachment, Calendar, Clock, Inquiry, InquiryEvent, Marketplace, Message
from inquiries.services.batch import record_batch
from tests.factories import ChannelFactory, incoming, policy_with_targets

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 3, 6, 15, 0, tzinfo=UTC)


def conversation(prefix: str) -> list:
    at = lambda minutes: T0 + timedelta(minutes=minutes)  # noqa: E731
    return [
        incoming(
            external_id=f"{prefix}1",
            received_at=at(0),
            sender_address="a@example.com",
            subject="Lamp arrived broken",
            order_id="111-1111111-1111111",
            sku="LAMP",
            attachments=(IncomingAttachment("photo.jpg", "image/jpeg", 3, b"abc"),),
        ),
        incoming(
            external_id=f"{prefix}2", received_at=at(5), sender_address="b@example.com", subject="Where?"
        ),
        incoming(
            external_id=f"{prefix}3",
            received_at=at(10),
            sender_address="a@example.com",
            subject="Also",
            order_id="111-1111111-1111111",
        ),  # same order: a follow-up
        incoming(
            external_id=f"{prefix}4",
            received_at=at(20),
            direction=Direction.OUTBOUND,
            sender_address="agent@shop.example",
            in_reply_to=f"{prefix}2",
        ),
        incoming(
            external_id=f"{prefix}5",
            received_at=at(30),
            sender_address="b@example.com",
            in_reply_to=f"{prefix}4",
        ),
        incoming(
            external_id=f"{prefix}6",
            received_at=at(40),
            automatic=True,
            sender_address="mailer@x.example",
            automatic_reason="bounce",
        ),
        incoming(external_id=f"{prefix}1", received_at=at(0), sender_address="a@example.com"),  # duplicate
        incoming(
            external_id=f"{prefix}7", received_at=at(60 * 24 * 30), sender_address="c@example.com"
        ),  # future
        incoming(
            external_id=f"{prefix}8", received_at=at(50), sender_address="d@example.com", subject="Hello"
        ),
    ]


def facts(channel) -> list:
    rows = []
    for inquiry in Inquiry.objects.filter(channel=channel).order_by("opened_at", "id"):
        messages = [
            (m.external_id[1:], m.direction, m.answered_at, m.response_due_at, m.automatic)
            for m in Message.objects.filter(inquiry=inquiry).order_by("received_at", "id")
        ]
        clocks = [
            (c.kind, c.state, c.started_at, c.due_at, c.warn_at, c.stopped_at, c.target_seconds)
            for c in Clock.objects.filter(inquiry=inquiry).order_by("kind", "started_at")
        ]
        events = sorted(
            (e.kind, e.at, e.data.get("clock_kind", "")) for e in InquiryEvent.objects.filter(inquiry=inquiry)
        )
        rows.append(
            (
                inquiry.status,
                inquiry.subject,
                inquiry.order_id,
                inquiry.topic_id,
                inquiry.sla_policy_id,
                messages,
                clocks,
                events,
            )
        )
    return rows


def test_a_batch_records_the_same_facts_as_one_by_one(db):
    from tests.factories import AccountFactory

    calendar = Calendar.objects.create(
        name="Weekdays", timezone="Europe/Berlin", hours={str(d): [["09:00", "17:00"]] for d in range(5)}
    )
    policy_with_targets(first_reply=2 * 3600, calendar=calendar)
    # Two accounts, so that customers (and the order-id rule) do not cross between the two runs.
    one_by_one = ChannelFactory(account=AccountFactory(marketplace=Marketplace.AMAZON), slug="one")
    batched = ChannelFactory(account=AccountFactory(marketplace=Marketplace.AMAZON), slug="batch")
    now = T0 + timedelta(hours=2)
    expected = []
    for item in conversation("x"):
        try:
            expected.append(services.record_message(channel=one_by_one, incoming=item, now=now))
        except Rejected as exc:
            expected.append(exc)
    outcomes = record_batch(items=[(batched, item) for item in conversation("y")], now=now)
    assert [type(o).__name__ for o in outcomes] == [type(o).__name__ for o in expected]
    assert [getattr(o, "created", None) for o in outcomes] == [getattr(o, "created", None) for o in expected]
    assert facts(batched) == facts(one_by_one)
    assert Attachment.objects.filter(message__channel=batched).count() == 1
    assert outcomes[6].message.pk == outcomes[0].message.pk  # the duplicate answers with the first


def test_a_batch_of_new_conversations_takes_a_fixed_number_of_queries(channel):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    policy_with_targets()

    def batch(size: int, prefix: str) -> int:
        items = [
            (channel, incoming(received_at=T0, sender_address=f"{prefix}{n}@example.com"))
            for n in range(size)
        ]
        with CaptureQueriesContext(connection) as queries:
            outcomes = record_batch(items=items, now=T0)
        assert all(o.created for o in outcomes)
        return len(queries)

    batch(1, "warm")  # loads the cached rules and policies once
    # 30 rows stay within one INSERT even on SQLite (at most 999 parameters a statement). On
    # PostgreSQL the rows go by COPY, which the query log does not list: 10 queries there, 11 on SQLite.
    assert batch(10, "a") == batch(30, "b") == (10 if connection.vendor == "postgresql" else 11)
