"""Replies by e-mail through a real SMTP sink (aiosmtpd): threading headers, states shown on
the message, retries with backoff, permanent failures, idempotency, Auto-Submitted."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage

import pytest

from inquiries import models as m
from inquiries import services, tasks
from inquiries.ingestion.email import parse_email
from inquiries.services import mail as mail_service
from inquiries.services import mailbox as mailbox_service
from tests.mail.helpers import customer_mail, mailbox_for

pytestmark = [pytest.mark.integration, pytest.mark.django_db]

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


@pytest.fixture
def smtp_mailbox(support_channel, smtp_sink) -> m.MailboxConfig:
    return mailbox_for(support_channel, None, smtp=smtp_sink)


@pytest.fixture
def inquiry(support_channel, smtp_mailbox) -> m.Inquiry:
    first = parse_email(customer_mail(1, subject="Lid broken"), received_at=T0)
    result = mailbox_service.record_mail(channel=support_channel, incoming=first, now=T0)
    second = parse_email(
        customer_mail(
            2,
            subject="Re: Lid broken",
            extra=("In-Reply-To: <customer-1@mail.example>", "References: <customer-1@mail.example>"),
        ),
        received_at=T0 + timedelta(minutes=5),
    )
    mailbox_service.record_mail(channel=support_channel, incoming=second, now=T0 + timedelta(minutes=5))
    return result.message.inquiry


def reply(inquiry: m.Inquiry, agent, django_capture_on_commit_callbacks, **kwargs: object) -> m.Message:
    with django_capture_on_commit_callbacks(execute=kwargs.pop("execute", True)) as callbacks:
        message = services.reply(
            inquiry=inquiry,
            author=agent,
            body_text="Sorry! A new lid is on its way.",
            now=T0 + timedelta(minutes=30),
            **kwargs,
        )
    message.refresh_from_db()
    message.callbacks = callbacks  # type: ignore[attr-defined]
    return message


def parsed(raw: bytes) -> EmailMessage:
    return message_from_bytes(raw, policy=policy.default)


def test_an_agent_reply_leaves_by_smtp_threaded_on_the_customers_last_message(
    inquiry, agent, smtp_sink, django_capture_on_commit_callbacks
):
    message = reply(inquiry, agent, django_capture_on_commit_callbacks)

    assert message.delivery_state == m.Message.DeliveryState.SENT and message.delivery_error == ""
    [received] = smtp_sink.messages
    assert received.rcpt_tos == ["buyer@marketplace.example"]
    assert received.mail_from == "support@shop.example"
    email = parsed(received.content)
    assert email["Message-ID"] == f"<{message.external_id}>"
    assert message.external_id.startswith("cstracker-") and message.external_id.endswith("@shop.example")
    assert email["In-Reply-To"] == "<customer-2@mail.example>"
    assert email["References"].split() == ["<customer-1@mail.example>", "<customer-2@mail.example>"]
    assert email["Subject"] == "Re: Lid broken"
    assert email["From"].addresses[0].addr_spec == "support@shop.example"
    assert email["From"].addresses[0].display_name == "Acme Shop"
    assert email["To"].addresses[0].addr_spec == "buyer@marketplace.example"
    assert email["X-Cstracker-Loop"]
    assert email["Auto-Submitted"] is None  # a person wrote it
    assert email.get_content().strip() == "Sorry! A new lid is on its way."
    outgoing = m.OutgoingMail.objects.get(message=message)
    assert (outgoing.state, outgoing.attempts, outgoing.recipients) == (
        "sent",
        1,
        ["buyer@marketplace.example"],
    )


def test_the_reply_is_only_queued_inside_the_transaction_and_sent_after_commit(
    inquiry, agent, smtp_sink, django_capture_on_commit_callbacks
):
    message = reply(inquiry, agent, django_capture_on_commit_callbacks, execute=False)

    assert message.delivery_state == m.Message.DeliveryState.QUEUED
    assert smtp_sink.messages == []
    assert len(message.callbacks) == 1


def test_a_note_is_never_sent(inquiry, agent, smtp_sink, django_capture_on_commit_callbacks):
    note = reply(inquiry, agent, django_capture_on_commit_callbacks, internal=True)

    assert note.delivery_state == "" and smtp_sink.messages == []
    assert not m.OutgoingMail.objects.exists()


def test_sending_twice_sends_once(inquiry, agent, smtp_sink, django_capture_on_commit_callbacks):
    message = reply(inquiry, agent, django_capture_on_commit_callbacks)

    again = mail_service.send_reply_email(message_id=message.pk)
    tasks.send_reply_email.apply(args=[message.pk])

    assert again.state == "skipped"
    assert len(smtp_sink.messages) == 1


def test_a_reply_claimed_by_another_worker_is_left_to_it(
    inquiry, agent, smtp_sink, django_capture_on_commit_callbacks
):
    message = reply(inquiry, agent, django_capture_on_commit_callbacks, execute=False)
    m.OutgoingMail.objects.create(
        message=message,
        state=m.OutgoingMail.State.SENDING,
        lease_until=datetime.now(UTC) + timedelta(minutes=5),
    )

    outcome = mail_service.send_reply_email(message_id=message.pk)

    assert outcome.state == "skipped" and smtp_sink.messages == []


def test_a_worker_that_died_mid_send_is_replaced_once_its_lease_expired(
    inquiry, agent, smtp_sink, django_capture_on_commit_callbacks
):
    message = reply(inquiry, agent, django_capture_on_commit_callbacks, execute=False)
    now = datetime.now(UTC)
    m.OutgoingMail.objects.create(
        message=message,
        state=m.OutgoingMail.State.SENDING,
        attempts=1,
        lease_until=now - timedelta(seconds=1),
    )

    assert mail_service.stalled_replies(now) == [message.pk]
    outcome = mail_service.send_reply_email(message_id=message.pk, now=now)

    assert outcome.state == "sent" and len(smtp_sink.messages) == 1
    assert m.OutgoingMail.objects.get(message=message).attempts == 2


def test_a_temporary_failure_keeps_the_reply_queued_with_the_reason_then_it_is_sent(
    inquiry, agent, smtp_sink, django_capture_on_commit_callbacks
):
    message = reply(inquiry, agent, django_capture_on_commit_callbacks, execute=False)
    smtp_sink.refuse_next.append("451 4.3.0 Mailbox busy, try later")
    now = datetime.now(UTC)

    with pytest.raises(mail_service.TemporaryDeliveryError, match="451"):
        mail_service.send_reply_email(message_id=message.pk, now=now)

    message.refresh_from_db()
    assert message.delivery_state == m.Message.DeliveryState.QUEUED
    assert "attempt 1 failed, retrying" in message.delivery_error and "451" in message.delivery_error
    outgoing = m.OutgoingMail.objects.get(message=message)
    assert (outgoing.state, outgoing.next_attempt_at) == ("queued", now + timedelta(seconds=30))

    assert mail_service.send_reply_email(message_id=message.pk).state == "sent"
    message.refresh_from_db()
    assert (message.delivery_state, message.delivery_error) == ("sent", "")
    assert len(smtp_sink.messages) == 1


def test_a_permanent_refusal_marks_the_reply_failed_with_the_reason(
    inquiry, agent, smtp_sink, django_capture_on_commit_callbacks
):
    smtp_sink.refuse_always = "550 5.7.1 Relaying denied"

    message = reply(inquiry, agent, django_capture_on_commit_callbacks)

    assert message.delivery_state == m.Message.DeliveryState.FAILED
    assert "550" in message.delivery_error and "Relaying denied" in message.delivery_error
    assert m.OutgoingMail.objects.get(message=message).attempts == 1


def test_the_task_retries_temporary_failures_then_gives_up_with_the_reason(
    inquiry, agent, smtp_sink, django_capture_on_commit_callbacks
):
    smtp_sink.refuse_always = "421 4.7.0 Try again later"

    # Eager: the retries run at once instead of after their backoff.
    message = reply(inquiry, agent, django_capture_on_commit_callbacks)

    assert message.delivery_state == m.Message.DeliveryState.FAILED
    assert message.delivery_error.startswith("gave up after repeated temporary failures")
    assert m.OutgoingMail.objects.get(message=message).attempts == tasks.SEND_RETRIES + 1


def test_the_send_task_retries_with_bounded_exponential_backoff():
    task = tasks.send_reply_email

    assert task.autoretry_for == (mail_service.TemporaryDeliveryError,)
    assert (task.retry_backoff, task.retry_backoff_max, task.max_retries) == (30, 1800, tasks.SEND_RETRIES)
    assert task.acks_late


def test_a_channel_without_smtp_fails_the_reply_with_a_clear_reason(
    support_channel, agent, django_capture_on_commit_callbacks
):
    first = parse_email(customer_mail(1), received_at=T0)
    inquiry = mailbox_service.record_mail(channel=support_channel, incoming=first, now=T0).message.inquiry

    message = reply(inquiry, agent, django_capture_on_commit_callbacks)

    assert message.delivery_state == m.Message.DeliveryState.FAILED
    assert message.delivery_error == "channel support has no SMTP server configured"


def test_an_unreachable_smtp_server_is_a_temporary_failure(
    inquiry, agent, smtp_mailbox, django_capture_on_commit_callbacks
):
    m.MailboxConfig.objects.filter(pk=smtp_mailbox.pk).update(smtp_port=1)
    message = reply(inquiry, agent, django_capture_on_commit_callbacks, execute=False)

    with pytest.raises(mail_service.TemporaryDeliveryError, match=r"cannot send through 127\.0\.0\.1:1"):
        mail_service.send_reply_email(message_id=message.pk)


def test_failed_replies_can_be_sent_again_after_the_fix(
    inquiry, agent, smtp_sink, django_capture_on_commit_callbacks
):
    smtp_sink.refuse_always = "550 5.1.1 No such user"
    message = reply(inquiry, agent, django_capture_on_commit_callbacks)
    smtp_sink.refuse_always = ""

    with django_capture_on_commit_callbacks(execute=True):
        assert mail_service.retry_failed(message=message)

    message.refresh_from_db()
    assert message.delivery_state == "sent" and len(smtp_sink.messages) == 1


def test_automatic_outgoing_mail_says_so(inquiry, smtp_mailbox):
    message = m.Message.objects.create(
        channel=inquiry.channel,
        inquiry=inquiry,
        direction=m.Direction.OUTBOUND,
        automatic=True,
        automatic_reason="acknowledgement",
        external_id="cstracker-ack@shop.example",
        subject="Re: Lid broken",
        body_text="We got your message.",
        received_at=T0 + timedelta(minutes=6),
    )

    email = mail_service.build_reply(message, mailbox=smtp_mailbox, now=T0)

    assert email["Auto-Submitted"] == "auto-replied"
    assert email["X-Auto-Response-Suppress"] == "All"


def test_our_mail_coming_back_is_automatic_and_not_stored_twice(
    inquiry, agent, smtp_sink, django_capture_on_commit_callbacks
):
    message = reply(inquiry, agent, django_capture_on_commit_callbacks)
    echoed = parse_email(smtp_sink.messages[0].content, received_at=T0 + timedelta(hours=1))

    result = mailbox_service.record_mail(
        channel=inquiry.channel, incoming=echoed, now=T0 + timedelta(hours=1)
    )

    assert echoed.automatic and echoed.automatic_reason == "loop"
    assert (result.created, result.message.pk) == (False, message.pk)


def test_an_html_reply_carries_a_text_and_an_html_part(
    inquiry, agent, smtp_sink, django_capture_on_commit_callbacks
):
    reply(
        inquiry,
        agent,
        django_capture_on_commit_callbacks,
        body_html="<p>Sorry! <b>A new lid</b> is on its way.</p>",
    )

    email = parsed(smtp_sink.messages[0].content)

    assert email.get_content_type() == "multipart/alternative"
    assert "<b>A new lid</b>" in email.get_body(("html",)).get_content()
    assert "Sorry!" in email.get_body(("plain",)).get_content()
