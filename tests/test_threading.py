"""record_message(): dedupe, then threading by the rules in order, reopening, automatic mail."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.db import IntegrityError, transaction

from inquiries import models as m
from inquiries.ingestion.types import Direction, Rejected
from inquiries.services import RecordResult, change_status, record_message
from tests.factories import ChannelFactory, incoming, policy_with_targets

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


def record(channel: m.Channel, *, at: datetime = T0, **overrides: object) -> m.Message:
    """Record one message as if it arrived live at `at`; returns the stored message."""
    result = record_message(channel=channel, incoming=incoming(received_at=at, **overrides), now=at)
    assert isinstance(result, RecordResult)
    return result.message


def counts() -> dict[str, int]:
    return {
        model.__name__: model.objects.count()
        for model in (m.Message, m.Inquiry, m.InquiryEvent, m.Clock, m.Customer, m.Attachment)
    }


def kinds(inquiry_id: int) -> list[str]:
    return list(m.InquiryEvent.objects.filter(inquiry_id=inquiry_id).values_list("kind", flat=True))


# --- rule 1: an explicit thread id ----------------------------------------------------------


def test_an_explicit_thread_id_joins_its_inquiry(channel):
    first = record(channel, thread_id="conv-1", subject="Broken lid")
    second = record(
        channel, at=T0 + timedelta(hours=1), thread_id="conv-1", subject="Something else entirely"
    )

    assert second.inquiry_id == first.inquiry_id


def test_another_thread_id_opens_another_inquiry(channel):
    first = record(channel, thread_id="conv-1")
    second = record(channel, at=T0 + timedelta(hours=1), thread_id="conv-2")

    assert second.inquiry_id != first.inquiry_id


def test_a_thread_id_outranks_a_matching_order(channel):
    by_order = record(channel, order_id="111-222")
    by_thread = record(channel, at=T0 + timedelta(hours=1), thread_id="conv-9")
    joined = record(channel, at=T0 + timedelta(hours=2), thread_id="conv-9", order_id="111-222")

    assert joined.inquiry_id == by_thread.inquiry_id != by_order.inquiry_id


# --- rule 2: In-Reply-To / References ---------------------------------------------------------


def test_in_reply_to_a_stored_message_joins_its_inquiry(channel):
    first = record(channel, external_id="<a1@buyer.example>")
    reply = record(channel, at=T0 + timedelta(hours=1), in_reply_to="<a1@buyer.example>", subject="Hello?")

    assert reply.inquiry_id == first.inquiry_id


def test_references_to_a_stored_message_join_its_inquiry(channel):
    first = record(channel, external_id="<a1@buyer.example>")
    reply = record(
        channel,
        at=T0 + timedelta(hours=1),
        references=("<unknown@elsewhere>", "<a1@buyer.example>"),
        subject="?",
    )

    assert reply.inquiry_id == first.inquiry_id


def test_a_reply_from_another_address_never_joins_the_inquiry(channel):
    first = record(channel, external_id="<a1@buyer.example>", sender_address="buyer@example.com")
    intruder = record(
        channel,
        at=T0 + timedelta(hours=1),
        sender_address="someone.else@example.com",
        in_reply_to="<a1@buyer.example>",
        references=("<a1@buyer.example>",),
    )

    assert intruder.inquiry_id != first.inquiry_id
    assert intruder.inquiry.customer.address == "someone.else@example.com"
    assert m.Message.objects.filter(inquiry_id=first.inquiry_id).count() == 1


def test_a_reference_to_a_message_of_another_channel_does_not_join(channel, account):
    mailbox = ChannelFactory(account=account, slug="shop-a-mail", kind=m.ChannelKind.EMAIL)
    first = record(channel, external_id="<a1@buyer.example>")
    other = record(mailbox, at=T0 + timedelta(hours=1), in_reply_to="<a1@buyer.example>")

    assert other.inquiry_id != first.inquiry_id


def test_the_sender_address_is_matched_case_insensitively(channel):
    first = record(channel, external_id="<a1@buyer.example>", sender_address="buyer@example.com")
    reply = record(
        channel,
        at=T0 + timedelta(hours=1),
        sender_address="  Buyer@EXAMPLE.com ",
        in_reply_to="<a1@buyer.example>",
    )

    assert reply.inquiry_id == first.inquiry_id


# --- rule 3: a ticket reference in the subject ------------------------------------------------


def test_a_ticket_reference_from_the_inquirys_customer_joins_it(channel):
    first = record(channel)
    again = record(channel, at=T0 + timedelta(hours=1), subject=f"Re: [#{first.inquiry_id}] still waiting")

    assert again.inquiry_id == first.inquiry_id


def test_a_ticket_reference_from_another_sender_is_ignored(channel):
    first = record(channel, sender_address="buyer@example.com")
    other = record(
        channel,
        at=T0 + timedelta(hours=1),
        sender_address="mallory@example.com",
        subject=f"[#{first.inquiry_id}]",
    )

    assert other.inquiry_id != first.inquiry_id


def test_a_ticket_reference_to_a_missing_inquiry_opens_a_new_one(channel):
    first = record(channel)
    other = record(channel, at=T0 + timedelta(hours=1), subject="[#999999999999] where is it")

    assert other.inquiry_id not in (None, first.inquiry_id)


# --- rule 4: the same order from the same customer ---------------------------------------------


def test_the_same_order_from_the_same_customer_within_30_days_joins(channel):
    first = record(channel, order_id="111-222")
    later = record(channel, at=T0 + timedelta(days=29), order_id="111-222", subject="New subject")

    assert later.inquiry_id == first.inquiry_id


def test_the_same_order_after_30_days_opens_a_new_inquiry(channel):
    first = record(channel, order_id="111-222")
    later = record(channel, at=T0 + timedelta(days=31), order_id="111-222")

    assert later.inquiry_id != first.inquiry_id


def test_the_order_window_counts_from_the_last_message_not_the_first(channel):
    first = record(channel, order_id="111-222")
    record(channel, at=T0 + timedelta(days=20), order_id="111-222")
    third = record(channel, at=T0 + timedelta(days=45), order_id="111-222")

    assert third.inquiry_id == first.inquiry_id


def test_back_filled_messages_of_one_order_two_months_apart_open_two_inquiries(channel):
    # Imported today: the window is measured on the conversation's time line, not on when we wrote the rows.
    now = T0 + timedelta(days=200)
    first = record_message(channel=channel, incoming=incoming(order_id="111-222", received_at=T0), now=now)
    later = record_message(
        channel=channel, incoming=incoming(order_id="111-222", received_at=T0 + timedelta(days=60)), now=now
    )

    assert later.inquiry_id != first.inquiry_id


def test_the_same_order_from_another_customer_opens_a_new_inquiry(channel):
    first = record(channel, order_id="111-222", sender_address="buyer@example.com")
    other = record(
        channel, at=T0 + timedelta(hours=1), order_id="111-222", sender_address="other@example.com"
    )

    assert other.inquiry_id != first.inquiry_id


def test_a_message_without_any_clue_opens_a_new_inquiry(channel):
    first = record(channel)
    second = record(channel, at=T0 + timedelta(hours=1))

    assert second.inquiry_id != first.inquiry_id
    assert m.Inquiry.objects.get(pk=second.inquiry_id).status == m.Status.NEW
    assert kinds(second.inquiry_id) == [m.EventKind.INQUIRY_OPENED, m.EventKind.MESSAGE_RECEIVED]


# --- reopening ----------------------------------------------------------------------------------


def test_a_customer_message_on_a_solved_inquiry_reopens_it(channel, agent):
    first = record(channel, external_id="<a1@buyer.example>")
    change_status(inquiry=first.inquiry, status=m.Status.SOLVED, actor=agent, now=T0 + timedelta(hours=2))

    again = record(channel, at=T0 + timedelta(days=3), in_reply_to="<a1@buyer.example>")

    inquiry = m.Inquiry.objects.get(pk=first.inquiry_id)
    assert again.inquiry_id == inquiry.pk
    assert inquiry.status == m.Status.OPEN
    assert inquiry.solved_at is None
    assert m.EventKind.INQUIRY_REOPENED in kinds(inquiry.pk)


def test_a_customer_message_after_the_reopen_window_opens_a_linked_new_inquiry(channel, agent):
    first = record(channel, external_id="<a1@buyer.example>")
    change_status(inquiry=first.inquiry, status=m.Status.SOLVED, actor=agent, now=T0 + timedelta(hours=2))

    again = record(channel, at=T0 + timedelta(days=15), in_reply_to="<a1@buyer.example>")

    assert again.inquiry_id != first.inquiry_id
    new = m.Inquiry.objects.get(pk=again.inquiry_id)
    assert new.previous_id == first.inquiry_id
    assert m.Inquiry.objects.get(pk=first.inquiry_id).status == m.Status.SOLVED
    opened = m.InquiryEvent.objects.get(inquiry=new, kind=m.EventKind.INQUIRY_OPENED)
    assert opened.data == {"previous_inquiry": first.inquiry_id}


def test_the_reopen_window_is_a_setting(channel, agent, settings):
    settings.CSTRACKER_REOPEN_WINDOW_DAYS = 2
    first = record(channel, external_id="<a1@buyer.example>")
    change_status(inquiry=first.inquiry, status=m.Status.SOLVED, actor=agent, now=T0 + timedelta(hours=2))

    again = record(channel, at=T0 + timedelta(days=3), in_reply_to="<a1@buyer.example>")

    assert m.Inquiry.objects.get(pk=again.inquiry_id).previous_id == first.inquiry_id


# --- outbound, notes and automatic messages -------------------------------------------------------


@pytest.mark.parametrize("direction", [Direction.OUTBOUND, Direction.NOTE])
def test_a_reply_or_note_naming_no_message_is_rejected_with_a_field_error(channel, direction):
    """One that names a message not stored yet is held instead (tests/test_held.py)."""
    before = counts()

    with pytest.raises(Rejected) as rejected:
        record(channel, direction=direction, sender_address="agent@shop.example")

    assert rejected.value.reason.startswith("in_reply_to: ")
    assert counts() == before


def test_an_outbound_reply_joins_the_inquiry_of_the_message_it_answers(channel):
    first = record(channel, external_id="<a1@buyer.example>")
    answer = record(
        channel,
        at=T0 + timedelta(hours=1),
        direction=Direction.OUTBOUND,
        sender_address="agent@shop.example",
        in_reply_to="<a1@buyer.example>",
    )

    assert answer.inquiry_id == first.inquiry_id
    assert m.Inquiry.objects.get(pk=first.inquiry_id).last_reply_at == T0 + timedelta(hours=1)


def test_an_automatic_message_matching_nothing_is_stored_without_an_inquiry(channel):
    before = counts()

    bounce = record(
        channel, sender_address="mailer-daemon@mx.example", automatic=True, automatic_reason="bounce"
    )

    assert bounce.inquiry_id is None
    after = counts()
    assert after["Message"] == before["Message"] + 1
    assert (after["Inquiry"], after["InquiryEvent"], after["Clock"]) == (
        before["Inquiry"],
        before["InquiryEvent"],
        before["Clock"],
    )


def test_automatic_messages_never_start_or_stop_a_clock(channel):
    policy_with_targets()
    first = record(channel, external_id="<a1@buyer.example>")
    clocks_before = list(m.Clock.objects.values_list("kind", "state", "stopped_at").order_by("id"))
    assert (m.ClockKind.FIRST_REPLY, m.ClockState.RUNNING, None) in clocks_before

    acknowledgement = record(
        channel,
        at=T0 + timedelta(minutes=1),
        direction=Direction.OUTBOUND,
        sender_address="noreply@shop.example",
        in_reply_to="<a1@buyer.example>",
        automatic=True,
    )
    out_of_office = record(
        channel, at=T0 + timedelta(minutes=2), in_reply_to="<a1@buyer.example>", automatic=True
    )

    assert acknowledgement.inquiry_id == out_of_office.inquiry_id == first.inquiry_id
    assert list(m.Clock.objects.values_list("kind", "state", "stopped_at").order_by("id")) == clocks_before
    assert m.Inquiry.objects.get(pk=first.inquiry_id).last_reply_at is None


def test_an_automatic_message_does_not_reopen_a_solved_inquiry(channel, agent):
    first = record(channel, external_id="<a1@buyer.example>")
    change_status(inquiry=first.inquiry, status=m.Status.SOLVED, actor=agent, now=T0 + timedelta(hours=2))

    auto = record(channel, at=T0 + timedelta(days=1), in_reply_to="<a1@buyer.example>", automatic=True)

    assert auto.inquiry_id == first.inquiry_id
    assert m.Inquiry.objects.get(pk=first.inquiry_id).status == m.Status.SOLVED
    assert kinds(first.inquiry_id)[-1] == m.EventKind.AUTOMATIC_RECEIVED


# --- dedupe ----------------------------------------------------------------------------------------


def test_the_same_external_id_again_returns_the_stored_message_and_changes_nothing(channel):
    policy_with_targets()
    message = incoming(external_id="<a1@buyer.example>", order_id="111-222", received_at=T0)
    first = record_message(channel=channel, incoming=message, now=T0)
    before = counts()

    again = record_message(channel=channel, incoming=message, now=T0 + timedelta(hours=1))

    assert first.created is True
    assert again.created is False
    assert again.message.pk == first.message.pk
    assert again.inquiry_id == first.inquiry_id
    assert counts() == before


def test_a_repeat_with_different_content_still_changes_nothing(channel):
    first = record(channel, external_id="m-1", subject="Original")
    before = counts()

    again = record_message(
        channel=channel,
        incoming=incoming(external_id="m-1", subject="Edited", sender_address="x@example.com"),
    )

    assert (again.created, again.message.pk) == (False, first.pk)
    assert m.Message.objects.get(pk=first.pk).subject == "Original"
    assert counts() == before


def test_the_same_external_id_on_another_channel_is_another_message(channel, other_channel):
    first = record(channel, external_id="m-1")
    other = record(other_channel, external_id="m-1")

    assert other.pk != first.pk
    assert other.inquiry_id != first.inquiry_id


def test_the_database_refuses_a_duplicate_external_id_on_one_channel(channel):
    first = record(channel, external_id="m-1")

    with pytest.raises(IntegrityError), transaction.atomic():
        m.Message.objects.create(
            channel=channel,
            inquiry=first.inquiry,
            direction=m.Direction.INBOUND,
            external_id="m-1",
            received_at=T0,
        )


# --- input the service refuses or tidies ---------------------------------------------------------


def test_a_received_at_before_1970_is_rejected(channel):
    with pytest.raises(Rejected) as rejected:
        record(channel, at=datetime(1, 1, 1, 0, 30, tzinfo=UTC))

    assert rejected.value.reason.startswith("received_at: ")


@pytest.mark.parametrize(("field", "limit"), [("external_id", 255), ("in_reply_to", 255), ("order_id", 100)])
def test_an_over_long_identifier_is_rejected_naming_the_limit(channel, field, limit):
    with pytest.raises(Rejected) as rejected:
        record(channel, **{field: "x" * (limit + 1)})

    assert rejected.value.reason == f"{field}: at most {limit} characters"


def test_a_sender_date_out_of_range_is_dropped_not_fatal(channel):
    message = record(channel, sent_at=datetime(1, 1, 1, tzinfo=UTC))

    assert message.sent_at is None
