"""Replies sent elsewhere count (issue 18, point 3), against a real Dovecot.

The seller answers some buyers from a mail client, not from cstracker. Polling reads the
mailbox's sent folder too (found by its RFC 6154 `\\Sent` flag: the test server names it
"Gesendet", which no name-guessing fallback knows) and records the seller's sent mail that
threads to a stored conversation as a reply at its Date. A copy BCC'd to the channel's BCC
address does the same. However many routes one reply takes (cstracker's relay, the sent
folder, a BCC copy), it is recorded once and answers the customer once.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from inquiries import models as m
from inquiries import services, tasks
from inquiries.services import mailbox as service
from tests.factories import policy_with_targets
from tests.mail.helpers import customer_mail, mailbox_for, raw_mail

pytestmark = [pytest.mark.integration, pytest.mark.django_db]

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
MINUTE = timedelta(minutes=1)
SENT = "Gesendet"  # flagged \Sent in the test server's configuration (tests/mail/conftest.py)
BCC = "sent-copies@shop.example"


@pytest.fixture
def policy(db: None) -> m.SlaPolicy:
    return policy_with_targets(first_reply=3600, next_reply=7200, resolution=86400)


def poll(mailbox: m.MailboxConfig, at: datetime) -> service.PollResult:
    with time_machine.travel(at, tick=False):
        result = service.poll_mailbox(mailbox_id=mailbox.pk, now=at)
    mailbox.refresh_from_db()
    assert result.ok, result.summary()
    return result


def client_reply(number: int, *, sent: datetime, in_reply_to: str = "customer-1@mail.example") -> bytes:
    """A reply the seller wrote in a mail client, as it keeps it in its sent folder."""
    headers = [
        "From: Acme Shop <support@shop.example>",
        "To: Buyer <buyer@marketplace.example>",
        "Subject: Re: Where is my order?",
        f"Message-ID: <client-reply-{number}@shop.example>",
        f"Date: {sent:%a, %d %b %Y %H:%M:%S} +0000",
    ]
    if in_reply_to:
        headers += [f"In-Reply-To: <{in_reply_to}>", f"References: <{in_reply_to}>"]
    return raw_mail(*headers, body="Your parcel left our warehouse this morning.")


def bcc_copy(raw: bytes) -> bytes:
    """The copy the BCC address receives: the delivering server names it as the envelope recipient."""
    return f"Delivered-To: {BCC}\r\n".encode() + raw


def replies(inquiry_id: int) -> list[m.Message]:
    return list(m.Message.objects.filter(inquiry_id=inquiry_id, direction=m.Direction.OUTBOUND))


def question_of(channel: m.Channel) -> m.Message:
    return m.Message.objects.get(channel=channel, external_id="customer-1@mail.example")


def test_a_reply_from_a_mail_client_is_found_in_the_sent_folder_by_its_flag_and_answers_at_its_date(
    imap_server, user, support_channel, policy
):
    mailbox = mailbox_for(support_channel, imap_server, user)
    imap_server.append(user, customer_mail(1), msg_time=T0)
    imap_server.append(user, client_reply(1, sent=T0 + 30 * MINUTE), folder=SENT, msg_time=T0 + 31 * MINUTE)

    result = poll(mailbox, T0 + 2 * 60 * MINUTE)

    assert (result.imported, result.sent_folder, result.sent_skipped) == (2, SENT, 0), result.summary()
    question = question_of(support_channel)
    [reply] = replies(question.inquiry_id)
    assert (reply.external_id, reply.received_at, reply.sender_address) == (
        "client-reply-1@shop.example",
        T0 + 30 * MINUTE,  # its Date, not when the sent folder got it
        "support@shop.example",
    )
    assert reply.delivery_state == ""  # not sent by us: answers at its own time
    assert question.answered_at == T0 + 30 * MINUTE
    first = m.Clock.objects.get(inquiry=question.inquiry, kind=m.ClockKind.FIRST_REPLY)
    assert (first.state, first.stopped_at) == (m.ClockState.MET, T0 + 30 * MINUTE)
    assert m.Customer.objects.filter(address="support@shop.example").count() == 0
    assert (mailbox.sent_last_uid, mailbox.last_uid) == (1, 1)
    assert f"sent folder: {SENT}, skipped=0" in mailbox.last_summary

    again = poll(mailbox, T0 + 3 * 60 * MINUTE)
    assert (again.imported, again.duplicates) == (0, 0)


def test_a_reply_sent_through_cstracker_and_found_again_in_the_sent_folder_and_bcc_answers_once(
    imap_server, user, support_channel, policy, agent, smtp_sink, django_capture_on_commit_callbacks
):
    m.Channel.objects.filter(pk=support_channel.pk).update(reply_bcc_address=BCC)
    mailbox = mailbox_for(support_channel, imap_server, user, smtp=smtp_sink)
    imap_server.append(user, customer_mail(1), msg_time=T0)
    poll(mailbox, T0 + 5 * MINUTE)
    question = question_of(support_channel)
    with time_machine.travel(T0 + 20 * MINUTE, tick=False):
        reply = services.reply(
            inquiry=question.inquiry, author=agent, body_text="A new lid is on its way.", now=T0 + 20 * MINUTE
        )
        with django_capture_on_commit_callbacks(execute=True):
            tasks.send_reply_email.apply(args=[reply.pk])
    reply.refresh_from_db()
    assert (reply.delivery_state, reply.accepted_at) == ("sent", T0 + 20 * MINUTE)
    [sent] = smtp_sink.messages
    # The provider keeps what was sent in the sent folder (as Gmail does), and the BCC address
    # gets its copy too.
    imap_server.append(user, sent.content, folder=SENT, msg_time=T0 + 21 * MINUTE)
    imap_server.append(user, bcc_copy(sent.content), msg_time=T0 + 21 * MINUTE)

    result = poll(mailbox, T0 + 60 * MINUTE)

    assert (result.imported, result.duplicates, result.sent_skipped) == (0, 2, 0), result.summary()
    assert [r.pk for r in replies(question.inquiry_id)] == [reply.pk]
    question.refresh_from_db()
    assert question.answered_at == T0 + 20 * MINUTE
    assert m.Clock.objects.get(inquiry=question.inquiry, kind=m.ClockKind.FIRST_REPLY).stopped_at == (
        T0 + 20 * MINUTE
    )
    kinds = (m.EventKind.REPLY_SENT, m.EventKind.REPLY_WRITTEN, m.EventKind.REPLY_ACCEPTED)
    events = m.InquiryEvent.objects.filter(inquiry=question.inquiry, kind__in=kinds)
    assert sorted(events.values_list("kind", flat=True)) == [
        m.EventKind.REPLY_ACCEPTED,
        m.EventKind.REPLY_WRITTEN,
    ]


def test_a_client_reply_in_the_sent_folder_and_bcc_copied_is_recorded_once(
    imap_server, user, support_channel, policy
):
    m.Channel.objects.filter(pk=support_channel.pk).update(reply_bcc_address=BCC)
    mailbox = mailbox_for(support_channel, imap_server, user)
    imap_server.append(user, customer_mail(1), msg_time=T0)
    reply = client_reply(1, sent=T0 + 40 * MINUTE)
    imap_server.append(user, bcc_copy(reply), msg_time=T0 + 41 * MINUTE)
    imap_server.append(user, reply, folder=SENT, msg_time=T0 + 40 * MINUTE)

    result = poll(mailbox, T0 + 2 * 60 * MINUTE)

    # The BCC copy in the inbox is the reply; the sent folder's copy is its duplicate.
    assert (result.imported, result.duplicates) == (2, 1), result.summary()
    question = question_of(support_channel)
    [recorded] = replies(question.inquiry_id)
    assert (recorded.external_id, recorded.received_at) == ("client-reply-1@shop.example", T0 + 40 * MINUTE)
    assert question.answered_at == T0 + 40 * MINUTE
    assert m.Inquiry.objects.filter(channel=support_channel).count() == 1


def test_a_bcc_copy_alone_answers_the_customer_and_mail_to_that_address_from_others_stays_a_customer_message(
    imap_server, user, support_channel, policy
):
    m.Channel.objects.filter(pk=support_channel.pk).update(reply_bcc_address=BCC)
    mailbox = mailbox_for(support_channel, imap_server, user, read_sent_folder=False)
    imap_server.append(user, customer_mail(1), msg_time=T0)
    imap_server.append(user, bcc_copy(client_reply(1, sent=T0 + 10 * MINUTE)), msg_time=T0 + 11 * MINUTE)
    stranger = customer_mail(2, sender="someone@else.example", extra=(f"Delivered-To: {BCC}",))
    imap_server.append(user, stranger, msg_time=T0 + 12 * MINUTE)

    result = poll(mailbox, T0 + 60 * MINUTE)

    assert (result.imported, result.sent_folder) == (3, ""), result.summary()
    question = question_of(support_channel)
    assert question.answered_at == T0 + 10 * MINUTE
    other = m.Message.objects.get(external_id="customer-2@mail.example")
    assert (other.direction, other.inquiry_id != question.inquiry_id) == (m.Direction.INBOUND, True)


def test_sent_mail_that_threads_to_nothing_is_skipped_and_opens_no_inquiry(
    imap_server, user, support_channel, policy
):
    mailbox = mailbox_for(support_channel, imap_server, user)
    imap_server.append(user, customer_mail(1), msg_time=T0)
    imap_server.append(user, client_reply(7, sent=T0, in_reply_to=""), folder=SENT)  # a new mail to a friend
    imap_server.append(
        user, client_reply(8, sent=T0, in_reply_to="private-thread@friend.example"), folder=SENT
    )

    result = poll(mailbox, T0 + 60 * MINUTE)

    assert (result.imported, result.sent_skipped, result.rejected) == (1, 2, []), result.summary()
    assert m.Message.objects.filter(direction=m.Direction.OUTBOUND).count() == 0
    assert m.HeldMessage.objects.count() == 0  # not kept waiting either: the seller's private mail
    assert m.Inquiry.objects.count() == 1
    assert mailbox.sent_last_uid == 2
    assert "skipped=2" in mailbox.last_summary


def test_a_named_sent_folder_is_read_instead_of_the_flagged_one_and_none_when_turned_off(
    imap_server, user, support_channel, policy
):
    mailbox = mailbox_for(support_channel, imap_server, user, sent_folder="Outbox copies")
    imap_server.append(user, customer_mail(1), msg_time=T0)
    imap_server.append(user, client_reply(1, sent=T0 + 5 * MINUTE), folder="Outbox copies")
    imap_server.append(user, client_reply(2, sent=T0 + 9 * MINUTE), folder=SENT)

    result = poll(mailbox, T0 + 60 * MINUTE)

    assert (result.imported, result.sent_folder) == (2, "Outbox copies"), result.summary()
    assert [r.external_id for r in replies(question_of(support_channel).inquiry_id)] == [
        "client-reply-1@shop.example"
    ]
    m.MailboxConfig.objects.filter(pk=mailbox.pk).update(read_sent_folder=False, sent_folder="")
    imap_server.append(user, client_reply(3, sent=T0 + 20 * MINUTE), folder="Outbox copies")
    off = poll(mailbox, T0 + 2 * 60 * MINUTE)
    assert (off.imported, off.sent_folder) == (0, "")


def test_the_sent_folder_waits_until_the_inbox_is_read_up(imap_server, user, support_channel, policy):
    mailbox = mailbox_for(support_channel, imap_server, user, batch_size=1)
    imap_server.append(user, customer_mail(0, sender="first@marketplace.example"), msg_time=T0)
    imap_server.append(user, customer_mail(1), msg_time=T0)
    imap_server.append(user, client_reply(1, sent=T0 + 30 * MINUTE), folder=SENT)

    first = poll(mailbox, T0 + 60 * MINUTE)
    assert (first.imported, first.remaining, first.sent_folder) == (1, 1, "waiting for the inbox")
    second = poll(mailbox, T0 + 61 * MINUTE)
    # The customer's message is stored before the reply to it is read: the reply is not lost.
    assert (second.imported, second.sent_folder, second.sent_skipped) == (2, SENT, 0), second.summary()
    assert question_of(support_channel).answered_at == T0 + 30 * MINUTE
