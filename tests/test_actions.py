"""Agent actions (services.actions): reply, note, claim, no response needed, priority change."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connections

from inquiries import models as m
from inquiries.services import (
    Conflict,
    DomainError,
    RecordResult,
    assign,
    change_priority,
    claim,
    mark_no_response_needed,
    record_message,
    reply,
)
from tests.factories import delivered_reply, incoming, policy_with_targets

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


def open_inquiry(channel: m.Channel, at: datetime = T0, **overrides: object) -> m.Inquiry:
    result = record_message(channel=channel, incoming=incoming(received_at=at, **overrides), now=at)
    assert isinstance(result, RecordResult) and result.inquiry_id is not None
    return m.Inquiry.objects.get(pk=result.inquiry_id)


def clock(inquiry: m.Inquiry, kind: str) -> m.Clock:
    return m.Clock.objects.filter(inquiry=inquiry, kind=kind).latest("started_at", "id")


@pytest.fixture
def policy() -> m.SlaPolicy:
    return policy_with_targets(first_reply=3600, next_reply=7200, resolution=86400)


# --- reply and note ------------------------------------------------------------------------------


def test_a_reply_accepted_for_delivery_stops_the_first_reply_clock(channel, agent, policy):
    inquiry = open_inquiry(channel)

    message = delivered_reply(
        inquiry=inquiry, author=agent, body_text="On its way!", at=T0 + timedelta(minutes=30)
    )

    first_reply = clock(inquiry, m.ClockKind.FIRST_REPLY)
    assert first_reply.state == m.ClockState.MET
    assert first_reply.stopped_at == T0 + timedelta(minutes=30)
    assert first_reply.elapsed_seconds == 1800
    assert message.direction == m.Direction.OUTBOUND
    assert (
        m.Message.objects.get(inquiry=inquiry, direction=m.Direction.INBOUND).answered_at
        == message.received_at
    )
    inquiry.refresh_from_db()
    assert (inquiry.status, inquiry.last_reply_at) == (m.Status.OPEN, T0 + timedelta(minutes=30))


def test_a_late_reply_misses_the_first_reply_clock(channel, agent, policy):
    inquiry = open_inquiry(channel)

    delivered_reply(inquiry=inquiry, author=agent, body_text="Sorry for the wait", at=T0 + timedelta(hours=2))

    assert clock(inquiry, m.ClockKind.FIRST_REPLY).state == m.ClockState.MISSED


def test_a_reply_on_a_channel_without_a_sender_waits_for_the_integration_and_answers_nothing(
    channel, agent, policy
):
    inquiry = open_inquiry(channel)

    message = reply(inquiry=inquiry, author=agent, body_text="On its way!", now=T0 + timedelta(minutes=30))

    assert channel.kind == m.ChannelKind.API
    assert (message.delivery_state, message.accepted_at) == (m.Message.DeliveryState.QUEUED, None)
    first_reply = clock(inquiry, m.ClockKind.FIRST_REPLY)
    assert (first_reply.state, first_reply.stopped_at) == (m.ClockState.RUNNING, None)
    assert m.Message.objects.get(inquiry=inquiry, direction=m.Direction.INBOUND).answered_at is None
    inquiry.refresh_from_db()
    assert (inquiry.status, inquiry.last_reply_at, inquiry.reply_delivery) == (
        m.Status.OPEN,
        None,
        m.ReplyDelivery.PENDING,
    )
    assert m.InquiryEvent.objects.filter(
        inquiry=inquiry, kind=m.EventKind.REPLY_WRITTEN, actor=agent
    ).exists()
    assert not m.InquiryEvent.objects.filter(inquiry=inquiry, kind=m.EventKind.REPLY_SENT).exists()


def test_a_note_does_not_stop_the_first_reply_clock(channel, agent, policy):
    inquiry = open_inquiry(channel)

    note = reply(
        inquiry=inquiry,
        author=agent,
        body_text="Ask the warehouse",
        internal=True,
        now=T0 + timedelta(minutes=30),
    )

    assert note.direction == m.Direction.NOTE
    first_reply = clock(inquiry, m.ClockKind.FIRST_REPLY)
    assert (first_reply.state, first_reply.stopped_at) == (m.ClockState.RUNNING, None)
    assert m.Message.objects.get(inquiry=inquiry, direction=m.Direction.INBOUND).answered_at is None
    inquiry.refresh_from_db()
    assert inquiry.last_reply_at is None
    assert (
        m.InquiryEvent.objects.filter(inquiry=inquiry, kind=m.EventKind.NOTE_ADDED, actor=agent).count() == 1
    )


def test_an_empty_reply_is_refused_naming_the_field(channel, agent):
    inquiry = open_inquiry(channel)

    with pytest.raises(DomainError) as refused:
        reply(inquiry=inquiry, author=agent, body_text=" \x00 \n")

    assert refused.value.field == "body_text"
    assert not m.Message.objects.filter(direction=m.Direction.OUTBOUND).exists()


def test_a_customer_message_after_a_reply_starts_a_next_reply_clock(channel, agent, policy):
    inquiry = open_inquiry(channel, external_id="<a1@buyer.example>")
    delivered_reply(inquiry=inquiry, author=agent, body_text="On its way!", at=T0 + timedelta(minutes=30))

    record_message(
        channel=channel,
        incoming=incoming(in_reply_to="<a1@buyer.example>", received_at=T0 + timedelta(hours=1)),
        now=T0 + timedelta(hours=1),
    )

    next_reply = clock(inquiry, m.ClockKind.NEXT_REPLY)
    assert (next_reply.state, next_reply.started_at) == (m.ClockState.RUNNING, T0 + timedelta(hours=1))
    assert next_reply.due_at == T0 + timedelta(hours=3)


# --- assignment -----------------------------------------------------------------------------------


def test_nobody_is_assigned_an_inquiry_they_cannot_see(channel, manager, teammate, outsider):
    inquiry = open_inquiry(channel)

    with pytest.raises(DomainError) as refused:
        assign(inquiry=inquiry, assignee=outsider, actor=manager, now=T0)

    assert (refused.value.field, refused.value.message) == (
        "assignee",
        "charlie does not work this inquiry's account.",
    )
    assert m.Inquiry.objects.get(pk=inquiry.pk).assignee is None
    assert not m.InquiryEvent.objects.filter(inquiry=inquiry, kind=m.EventKind.ASSIGNED).exists()
    assert assign(inquiry=inquiry, assignee=teammate, actor=manager, now=T0).assignee == teammate


# --- claim ----------------------------------------------------------------------------------------


def test_a_claim_by_a_second_agent_is_a_conflict_naming_the_owner(channel, agent, teammate):
    inquiry = open_inquiry(channel)
    claim(inquiry=inquiry, user=agent)

    with pytest.raises(Conflict) as conflict:
        claim(inquiry=inquiry, user=teammate)

    assert "alice" in conflict.value.message
    assert conflict.value.field == "assignee"
    assert m.Inquiry.objects.get(pk=inquiry.pk).assignee == agent
    assert m.InquiryEvent.objects.filter(inquiry=inquiry, kind=m.EventKind.ASSIGNED).count() == 1


def test_claiming_an_inquiry_one_already_owns_is_not_a_conflict(channel, agent):
    inquiry = open_inquiry(channel)
    claim(inquiry=inquiry, user=agent)

    again = claim(inquiry=inquiry, user=agent)

    assert again.assignee == agent
    assert m.InquiryEvent.objects.filter(inquiry=inquiry, kind=m.EventKind.ASSIGNED).count() == 1


@pytest.mark.django_db(transaction=True)
def test_two_agents_claiming_at_once_leave_one_owner(channel, agent, teammate):
    inquiry = open_inquiry(channel)
    users = [agent, teammate]
    barrier = threading.Barrier(len(users))
    outcomes: list[str] = [""] * len(users)

    def take(index: int) -> None:
        try:
            barrier.wait(timeout=10)
            claim(inquiry=inquiry, user=users[index])
            outcomes[index] = "won"
        except Conflict as exc:
            outcomes[index] = exc.message
        finally:
            connections.close_all()

    threads = [threading.Thread(target=take, args=(i,)) for i in range(len(users))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    owner = m.Inquiry.objects.get(pk=inquiry.pk).assignee
    assert sorted(outcomes) == sorted(["won", f"Already claimed by {owner.username}."])
    assert outcomes[users.index(owner)] == "won"
    assert m.InquiryEvent.objects.filter(inquiry=inquiry, kind=m.EventKind.ASSIGNED).count() == 1


# --- no response needed ---------------------------------------------------------------------------


def test_no_response_needed_cancels_the_reply_clocks_only(channel, agent, policy):
    inquiry = open_inquiry(channel)

    count = mark_no_response_needed(inquiry=inquiry, actor=agent, now=T0 + timedelta(minutes=5))

    assert count == 1
    assert clock(inquiry, m.ClockKind.FIRST_REPLY).state == m.ClockState.CANCELLED
    assert clock(inquiry, m.ClockKind.RESOLUTION).state == m.ClockState.RUNNING
    assert m.Message.objects.get(inquiry=inquiry).no_response_needed is True
    assert m.InquiryEvent.objects.filter(inquiry=inquiry, kind=m.EventKind.NO_RESPONSE_NEEDED).count() == 1


def test_a_customer_message_after_no_response_needed_starts_a_new_clock(channel, agent, policy):
    inquiry = open_inquiry(channel, external_id="<a1@buyer.example>")
    mark_no_response_needed(inquiry=inquiry, actor=agent, now=T0 + timedelta(minutes=5))
    later = T0 + timedelta(hours=1)

    result = record_message(
        channel=channel, incoming=incoming(in_reply_to="<a1@buyer.example>", received_at=later), now=later
    )

    assert result.inquiry_id == inquiry.pk
    running = m.Clock.objects.filter(
        inquiry=inquiry,
        kind__in=(m.ClockKind.FIRST_REPLY, m.ClockKind.NEXT_REPLY),
        state=m.ClockState.RUNNING,
    )
    assert [(c.started_at, c.message_id) for c in running] == [(later, result.message.pk)]
    assert result.message.no_response_needed is False


# --- priority --------------------------------------------------------------------------------------


def test_a_priority_change_recomputes_due_times_from_the_start(channel, agent, policy):
    m.SlaTarget.objects.filter(policy=policy, priority=m.Priority.URGENT).update(first_reply_seconds=600)
    inquiry = open_inquiry(channel)
    assert clock(inquiry, m.ClockKind.FIRST_REPLY).due_at == T0 + timedelta(hours=1)

    change_priority(inquiry=inquiry, priority=m.Priority.URGENT, actor=agent, now=T0 + timedelta(minutes=2))

    first_reply = clock(inquiry, m.ClockKind.FIRST_REPLY)
    assert (first_reply.due_at, first_reply.target_seconds) == (T0 + timedelta(minutes=10), 600)
    assert first_reply.state == m.ClockState.RUNNING
    recomputed = m.InquiryEvent.objects.get(
        inquiry=inquiry, kind=m.EventKind.CLOCK_RECOMPUTED, clock=first_reply
    )
    assert recomputed.data["due_at"] == (T0 + timedelta(minutes=10)).isoformat()
    assert m.InquiryEvent.objects.filter(inquiry=inquiry, kind=m.EventKind.PRIORITY_CHANGED).count() == 1


def test_an_unknown_priority_is_refused(channel, agent):
    inquiry = open_inquiry(channel)

    with pytest.raises(DomainError) as refused:
        change_priority(inquiry=inquiry, priority="whenever", actor=agent)

    assert refused.value.field == "priority"
