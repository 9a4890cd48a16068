"""Issue 19, point 1: a customer's message stored before the message it answers (by In-Reply-To
alone) opens an inquiry of its own, which joins the inquiry of the message it answers when that
arrives (`services/recording/early.py`), as recording in time order would have put it there."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection

from inquiries import models as m
from inquiries.ingestion.types import Direction, IncomingMessage
from inquiries.services import actions, record_messages
from tests.factories import policy_with_targets

pytestmark = pytest.mark.django_db

START = datetime(2026, 5, 4, 8, 0, tzinfo=UTC)
NOW = datetime(2026, 5, 6, 12, 0, tzinfo=UTC)


def tweet(
    external_id: str, minutes: int, *, by: str = "ann@example.com", answers: str = "", **fields
) -> IncomingMessage:
    return IncomingMessage(
        external_id=external_id,
        direction=Direction.INBOUND if by else Direction.OUTBOUND,
        sender_address=by,
        body_text=fields.pop("body_text", f"words of {external_id}"),
        received_at=START + timedelta(minutes=minutes),
        in_reply_to=answers,
        **fields,
    )


def record(channel: m.Channel, *items: IncomingMessage) -> None:
    for item in items:
        (result,) = record_messages([(channel, item)], now=NOW)
        assert not isinstance(result, Exception), result


def test_a_customer_answer_before_the_question_it_answers_joins_its_inquiry(channel):
    policy_with_targets(first_reply=3600, next_reply=3600, resolution=None)
    c1 = tweet("c1", 0, subject="Where is it?")
    r1 = tweet("r1", 30, by="", answers="c1")
    c2 = tweet("c2", 60, answers="r1", body_text="tracking says lost")
    record(channel, c2, r1, c1)  # newest first: c2 opens its own; r1 held; c1 brings both
    inquiry = m.Inquiry.objects.get()
    assert [x.external_id for x in inquiry.messages.order_by("received_at")] == ["c1", "r1", "c2"]
    assert inquiry.opened_at == START and inquiry.subject == "Where is it?"
    clocks = {(c.kind, c.message.external_id): c for c in inquiry.clocks.all()}
    assert clocks[(m.ClockKind.FIRST_REPLY, "c1")].stopped_at == START + timedelta(minutes=30)
    assert clocks[(m.ClockKind.NEXT_REPLY, "c2")].started_at == START + timedelta(minutes=60)
    assert clocks[(m.ClockKind.NEXT_REPLY, "c2")].stopped_at is None
    opened = inquiry.events.filter(kind=m.EventKind.INQUIRY_OPENED)
    assert [e.message.external_id for e in opened] == ["c1"]
    if connection.vendor == "postgresql":  # the search document holds the joined words
        with connection.cursor() as cursor:
            cursor.execute("SELECT search_document::text FROM inquiries_inquiry WHERE id = %s", [inquiry.pk])
            assert "'lost'" in cursor.fetchone()[0]


def test_the_same_in_one_batch_in_any_order(channel):
    policy_with_targets(first_reply=3600, next_reply=3600, resolution=None)
    items = [tweet("c2", 60, answers="r1"), tweet("c1", 0), tweet("r1", 30, by="", answers="c1")]
    record_messages([(channel, item) for item in items], now=NOW)
    assert m.Inquiry.objects.count() == 1
    assert m.Inquiry.objects.get().messages.count() == 3


def test_another_customers_answer_stays_in_its_own_inquiry(channel):
    """A customer's message never joins another customer's conversation, early or not."""
    record(channel, tweet("b1", 10, by="bob@example.com", answers="a1"), tweet("a1", 0))
    assert m.Inquiry.objects.count() == 2


def test_a_message_written_before_what_it_names_stays_where_it_is(channel):
    """Clocks skewed: the answer is older than the message it answers; in time order it opened
    its inquiry before that message existed."""
    record(channel, tweet("c2", 0, answers="c1"), tweet("c1", 10))
    assert m.Inquiry.objects.count() == 2


def test_an_inquiry_a_person_worked_on_is_not_joined(channel, agent, caplog):
    policy_with_targets()
    record(channel, tweet("c2", 60, answers="c1"))
    early = m.Inquiry.objects.get()
    actions.change_status(inquiry=early, status=m.Status.PENDING, actor=agent, now=NOW)
    with caplog.at_level(logging.INFO, logger="inquiries.services.recording.early"):
        record(channel, tweet("c1", 0))
    assert m.Inquiry.objects.count() == 2
    assert "a person acted on one of them" in caplog.text


def test_what_pointed_at_the_early_inquiry_follows_it(channel, manager):
    policy_with_targets()
    record(channel, tweet("c2", 60, answers="c1", body_text="broken again"))
    early = m.Inquiry.objects.get()
    cluster = m.Cluster.objects.create(
        account=channel.account,
        kind=m.ClusterKind.NEAR_DUPLICATE,
        first_seen=START,
        last_seen=START,
        member_count=1,
    )
    m.ClusterMember.objects.create(cluster=cluster, inquiry=early, opened_at=early.opened_at)
    m.Notification.objects.create(
        user=manager, kind=m.NotificationKind.CLOCK_BREACHED, title="t", inquiry=early, dedupe_key="k"
    )
    record(channel, tweet("c1", 0))
    inquiry = m.Inquiry.objects.get()
    assert inquiry.pk != early.pk
    member = m.ClusterMember.objects.get()
    assert (member.inquiry_id, member.opened_at) == (inquiry.pk, START)
    assert m.Notification.objects.get().inquiry_id == inquiry.pk


def test_an_answer_after_the_close_starts_over_as_in_time_order(channel, manager):
    """The parent's inquiry was closed before the answer: in time order the answer starts the
    conversation over in a new inquiry following the closed one; arriving first, it ends so too,
    and what pointed at its early inquiry follows it there."""
    policy_with_targets(first_reply=3600, next_reply=3600, resolution=86400)
    c1 = tweet("c1", 0, subject="Broken")
    r1 = tweet("r1", 30, by="", answers="c1", status="closed", solved_at=START + timedelta(minutes=30))
    c2 = tweet("c2", 24 * 60, answers="r1", body_text="It broke again")

    def shape() -> list[tuple[list[str], str, str | None]]:
        def opener(inquiry: m.Inquiry | None) -> str | None:
            return None if inquiry is None else inquiry.messages.order_by("received_at")[0].external_id

        return sorted(
            ([x.external_id for x in i.messages.order_by("received_at")], i.status, opener(i.previous))
            for i in m.Inquiry.objects.all()
        )

    record(channel, c1, r1, c2)
    in_time_order = shape()
    assert in_time_order == [(["c1", "r1"], m.Status.CLOSED, None), (["c2"], m.Status.NEW, "c1")]
    m.Inquiry.objects.all().delete()
    m.Message.objects.all().delete()
    m.HeldMessage.objects.all().delete()

    record(channel, c2)
    early = m.Inquiry.objects.get()
    m.Notification.objects.create(
        user=manager, kind=m.NotificationKind.CLOCK_BREACHED, title="t", inquiry=early, dedupe_key="k"
    )
    record(channel, r1, c1)  # r1 held, then attached when c1 comes: c2's inquiry joins, starts over
    assert shape() == in_time_order
    assert m.Notification.objects.get().inquiry.messages.get().external_id == "c2"
