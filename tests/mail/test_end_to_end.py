"""The whole trip: a mail in the IMAP mailbox becomes an inquiry with running clocks, the
agent's reply leaves by SMTP with the threading headers, the customer's answer comes back
into the mailbox, threads onto the same inquiry, and the clocks follow the SLA engine."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.utils import format_datetime
from pathlib import Path

import pytest
import redis
import time_machine

from cstracker.celery import app
from inquiries import models as m
from inquiries import services
from inquiries.services import mailbox as mailbox_service
from tests.factories import policy_with_targets
from tests.integration.helpers import broker, celery_worker, require, wait_until
from tests.mail.helpers import customer_mail, mailbox_for, wait_for_sink

pytestmark = pytest.mark.integration


def clock(inquiry: m.Inquiry, kind: str) -> m.Clock:
    return m.Clock.objects.filter(inquiry=inquiry, kind=kind).latest("started_at", "id")


def answer_to(reply_mail: bytes, *, number: int, at: datetime) -> bytes:
    """The customer's mail client answering our reply: In-Reply-To and References extended."""
    ours = message_from_bytes(reply_mail, policy=policy.default)
    references = f"{ours['References']} {ours['Message-ID']}".strip()
    return customer_mail(
        number,
        subject=f"Re: {ours['Subject']}",
        extra=(
            f"In-Reply-To: {ours['Message-ID']}",
            f"References: {references}",
            f"Date: {format_datetime(at)}",
        ),
        body="Thanks, but which colour will the lid be?",
    )


@pytest.mark.django_db
def test_mail_in_reply_out_answer_threads_back_and_the_clocks_follow(
    imap_server, smtp_sink, support_channel, agent, django_capture_on_commit_callbacks
):
    policy_with_targets(first_reply=3600, next_reply=7200, resolution=86400)
    user = imap_server.new_user()
    mailbox = mailbox_for(support_channel, imap_server, user, smtp=smtp_sink)
    arrived = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=20)
    imap_server.append(user, customer_mail(1, subject="Lid broken"), msg_time=arrived)

    # 1. The mail becomes an inquiry; the first-reply clock runs from the server's receipt time.
    first_poll = mailbox_service.poll_mailbox(mailbox_id=mailbox.pk)
    assert first_poll.imported == 1, first_poll.summary()
    inquiry = m.Inquiry.objects.get(channel=support_channel)
    first_reply = clock(inquiry, m.ClockKind.FIRST_REPLY)
    assert (first_reply.state, first_reply.started_at) == (m.ClockState.RUNNING, arrived)
    assert first_reply.due_at == arrived + timedelta(hours=1)

    # 2. The agent replies from the inquiry page; the task sends it after commit, and the reply
    # answers when the relay accepted it (a moment after the click).
    accepted = arrived + timedelta(minutes=12)
    with time_machine.travel(accepted, tick=False), django_capture_on_commit_callbacks(execute=True):
        reply = services.reply(
            inquiry=inquiry,
            author=agent,
            body_text="Sorry! A new lid is on its way.",
            now=arrived + timedelta(minutes=10),
        )
    reply.refresh_from_db()
    assert (reply.delivery_state, reply.accepted_at) == (m.Message.DeliveryState.SENT, accepted)
    [sent] = smtp_sink.messages
    ours = message_from_bytes(sent.content, policy=policy.default)
    assert ours["Message-ID"] == f"<{reply.external_id}>"
    assert ours["In-Reply-To"] == "<customer-1@mail.example>"
    assert ours["References"] == "<customer-1@mail.example>"
    assert ours["Subject"] == "Re: Lid broken"
    assert sent.rcpt_tos == ["buyer@marketplace.example"]
    first_reply.refresh_from_db()
    assert (first_reply.state, first_reply.stopped_at) == (m.ClockState.MET, accepted)

    # 3. The customer answers our reply; it arrives in the mailbox and threads back.
    answered = arrived + timedelta(minutes=15)
    imap_server.append(user, answer_to(sent.content, number=2, at=answered), msg_time=answered)
    second_poll = mailbox_service.poll_mailbox(mailbox_id=mailbox.pk)
    assert second_poll.imported == 1, second_poll.summary()
    answer = m.Message.objects.get(external_id="customer-2@mail.example")
    assert answer.inquiry_id == inquiry.pk
    assert answer.in_reply_to == reply.external_id
    assert m.Inquiry.objects.filter(channel=support_channel).count() == 1
    next_reply = clock(inquiry, m.ClockKind.NEXT_REPLY)
    assert (next_reply.state, next_reply.started_at) == (m.ClockState.RUNNING, answered)
    assert next_reply.due_at == answered + timedelta(hours=2)
    assert clock(inquiry, m.ClockKind.RESOLUTION).state == m.ClockState.RUNNING

    # 4. Our own reply landing in the mailbox (a copy, a forward) changes nothing.
    imap_server.append(user, sent.content)
    third_poll = mailbox_service.poll_mailbox(mailbox_id=mailbox.pk)
    assert (third_poll.imported, third_poll.duplicates) == (0, 1)
    assert m.Message.objects.filter(inquiry=inquiry).count() == 3


def _redis_url() -> str:
    return os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/15")


def _redis_up(url: str) -> bool:
    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=1).ping())
    except redis.RedisError:
        return False


@pytest.mark.django_db(transaction=True)
def test_a_real_worker_sends_the_reply_after_commit(
    imap_server, smtp_sink, support_channel, agent, tmp_path: Path
):
    url = _redis_url()
    require(_redis_up(url), f"no Redis at {url}")
    redis.Redis.from_url(url).flushdb()
    user = imap_server.new_user()
    mailbox = mailbox_for(support_channel, imap_server, user, smtp=smtp_sink)
    imap_server.append(user, customer_mail(1, subject="Lid broken"))
    mailbox_service.poll_mailbox(mailbox_id=mailbox.pk)
    inquiry = m.Inquiry.objects.get(channel=support_channel)

    with broker(app, url), celery_worker(broker_url=url, log_path=tmp_path / "worker.log"):
        reply = services.reply(inquiry=inquiry, author=agent, body_text="Sorry! A new lid is on its way.")
        sent = wait_for_sink(smtp_sink, 1, timeout=60)
        delivered = wait_until(
            lambda: m.Message.objects.filter(pk=reply.pk, delivery_state="sent").exists(), timeout=30
        )
        log = (tmp_path / "worker.log").read_text(errors="replace")

    assert sent and delivered, log[-3000:]
    assert "inquiries.tasks.send_reply_email" in log
    reply.refresh_from_db()
    ours = message_from_bytes(smtp_sink.messages[0].content, policy=policy.default)
    assert ours["Message-ID"] == f"<{reply.external_id}>"
    assert ours["In-Reply-To"] == "<customer-1@mail.example>"
