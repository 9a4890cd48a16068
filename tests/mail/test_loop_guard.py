"""The loop guard: a sender flooding a mailbox is suspended; their mail is kept, as automatic,
for review; releasing them lets their next mail count again."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from inquiries import models as m
from inquiries.ingestion.email import parse_email
from inquiries.services import RecordResult
from inquiries.services import mailbox as service
from tests.factories import policy_with_targets
from tests.mail.helpers import customer_mail, mailbox_for

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _limit(settings) -> None:
    settings.CSTRACKER_LOOP_GUARD_MESSAGES = 3
    settings.CSTRACKER_LOOP_GUARD_WINDOW_MINUTES = 60


def deliver(
    channel: m.Channel, number: int, *, at: datetime, sender: str = "looping@marketplace.example"
) -> m.Message:
    incoming = parse_email(
        customer_mail(number, sender=sender, subject=f"Auto message {number}"), received_at=at
    )
    result = service.record_mail(channel=channel, incoming=incoming, now=at)
    assert isinstance(result, RecordResult)
    return result.message


def test_a_sender_over_the_limit_is_suspended_and_their_mail_is_kept_as_automatic(support_channel):
    policy_with_targets(first_reply=3600)
    messages = [deliver(support_channel, n, at=T0 + timedelta(minutes=n)) for n in range(5)]

    assert [msg.automatic for msg in messages] == [False, False, False, True, True]
    assert {msg.automatic_reason for msg in messages[3:]} == {service.LOOP_GUARD_REASON}
    suspension = m.SuspendedSender.objects.get()
    assert (suspension.address, suspension.messages_held) == ("looping@marketplace.example", 2)
    assert "4 messages within 60 minutes (limit 3)" in suspension.reason
    # Held mail starts no clock: only the three counted messages' inquiries have reply clocks.
    held_inquiries = {msg.inquiry_id for msg in messages[3:]} - {msg.inquiry_id for msg in messages[:3]}
    assert not m.Clock.objects.filter(inquiry_id__in=held_inquiries).exists()


def test_mail_spread_beyond_the_window_is_not_a_flood(support_channel):
    messages = [deliver(support_channel, n, at=T0 + timedelta(minutes=25 * n)) for n in range(6)]

    assert not any(msg.automatic for msg in messages)
    assert not m.SuspendedSender.objects.exists()


def test_other_senders_and_other_channels_are_not_affected(support_channel, mail_account):
    from tests.mail.helpers import email_channel

    other_channel = email_channel(mail_account, "sales", "sales@shop.example")
    for n in range(4):
        deliver(support_channel, n, at=T0 + timedelta(minutes=n))

    other_sender = deliver(
        support_channel, 10, at=T0 + timedelta(minutes=5), sender="calm@marketplace.example"
    )
    other_channel_mail = deliver(other_channel, 11, at=T0 + timedelta(minutes=5))

    assert not other_sender.automatic and not other_channel_mail.automatic


def test_a_duplicate_is_not_counted_as_held(support_channel):
    for n in range(4):
        deliver(support_channel, n, at=T0 + timedelta(minutes=n))

    deliver(support_channel, 3, at=T0 + timedelta(minutes=6))

    assert m.SuspendedSender.objects.get().messages_held == 1


def test_releasing_a_sender_lets_their_next_mail_count_again(support_channel, superuser):
    for n in range(4):
        deliver(support_channel, n, at=T0 + timedelta(minutes=n))
    suspension = m.SuspendedSender.objects.get()

    assert service.release_sender(suspension=suspension, actor=superuser, now=T0 + timedelta(minutes=10))
    assert not service.release_sender(suspension=suspension, actor=superuser)
    after = deliver(support_channel, 20, at=T0 + timedelta(minutes=11))

    assert not after.automatic
    suspension.refresh_from_db()
    assert suspension.released_by == superuser and not suspension.is_active
    assert m.Message.objects.get(external_id="customer-3@mail.example").automatic  # held mail stays as it was


def test_automatic_mail_from_the_sender_does_not_open_a_suspension_by_itself(support_channel):
    for n in range(5):
        at = T0 + timedelta(minutes=n)
        raw = customer_mail(n, extra=("Auto-Submitted: auto-replied",))
        service.record_mail(channel=support_channel, incoming=parse_email(raw, received_at=at), now=at)

    assert not m.SuspendedSender.objects.exists()


def test_a_zero_limit_turns_the_guard_off(support_channel, settings):
    settings.CSTRACKER_LOOP_GUARD_MESSAGES = 0

    messages = [deliver(support_channel, n, at=T0 + timedelta(seconds=n)) for n in range(6)]

    assert not any(msg.automatic for msg in messages)


@pytest.mark.integration
def test_a_flood_in_the_imap_mailbox_is_held_there_too(imap_server, support_channel):
    user = imap_server.new_user()
    mailbox = mailbox_for(support_channel, imap_server, user)
    for n in range(5):
        imap_server.append(user, customer_mail(n, sender="looping@marketplace.example"))

    result = service.poll_mailbox(mailbox_id=mailbox.pk)

    assert (result.imported, result.held) == (3, 2)
    assert "held=2" in result.summary()
