"""Polling a real Dovecot mailbox: by UID, nothing re-imported, UIDVALIDITY, batches, flags,
failures with backoff, one mailbox's failure isolated, the real-world pitfall corpus, IDLE."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from django.core.management import call_command
from django.utils import timezone

from inquiries import models as m
from inquiries.ingestion import imap
from inquiries.services import mailbox as service
from tests.factories import policy_with_targets
from tests.mail.helpers import customer_mail, email_channel, mailbox_for, raw_mail
from tests.shared_data import SHARED_DATA, shared_file

pytestmark = [pytest.mark.integration, pytest.mark.django_db]

FLANKER = ("email-flanker-fixtures", "messages")
MAILPARSER = ("email-mailparser-realworld", "mails")


def poll(mailbox: m.MailboxConfig, **kwargs: object) -> service.PollResult:
    result = service.poll_mailbox(mailbox_id=mailbox.pk, **kwargs)
    mailbox.refresh_from_db()
    return result


def test_a_mail_in_the_mailbox_becomes_an_inquiry_received_at_the_servers_time(imap_server, user, mailbox):
    policy_with_targets(first_reply=3600)
    arrived = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
    imap_server.append(user, customer_mail(1, subject="Lid broken"), msg_time=arrived)

    result = poll(mailbox)

    assert (result.ok, result.imported) == (True, 1), result.summary()
    message = m.Message.objects.get(channel=mailbox.channel)
    assert (message.external_id, message.sender_address) == (
        "customer-1@mail.example",
        "buyer@marketplace.example",
    )
    assert message.received_at == arrived
    assert message.inquiry.subject == "Lid broken"
    clock = m.Clock.objects.get(inquiry=message.inquiry, kind=m.ClockKind.FIRST_REPLY)
    assert (clock.state, clock.started_at) in {
        (m.ClockState.RUNNING, arrived),
        (m.ClockState.BREACHED, arrived),
    }
    assert (
        mailbox.last_uid == 1 and mailbox.uidvalidity and mailbox.failures == 0 and mailbox.last_error == ""
    )


def test_a_second_poll_imports_nothing_again_and_only_what_is_new(imap_server, user, mailbox):
    imap_server.append(user, customer_mail(1))
    imap_server.append(user, customer_mail(2, sender="other@marketplace.example"))
    first = poll(mailbox)

    again = poll(mailbox)
    imap_server.append(user, customer_mail(3, sender="third@marketplace.example"))
    third = poll(mailbox)

    assert first.imported == 2
    assert (again.imported, again.duplicates) == (0, 0)
    assert (third.imported, third.duplicates, mailbox.last_uid) == (1, 0, 3)
    assert m.Message.objects.filter(channel=mailbox.channel).count() == 3


def test_polling_leaves_flags_and_messages_alone_unless_configured(imap_server, user, mailbox):
    imap_server.append(user, customer_mail(1))
    imap_server.append(user, customer_mail(2), flags=(b"\\Flagged",))

    poll(mailbox)

    assert imap_server.count(user) == 2
    flags = imap_server.flags(user)
    assert b"\\Seen" not in flags[1] and b"\\Seen" not in flags[2]
    assert b"\\Flagged" in flags[2]


def test_mark_seen_sets_only_the_seen_flag_on_imported_mail(imap_server, user, support_channel):
    mailbox = mailbox_for(support_channel, imap_server, user, mark_seen=True)
    imap_server.append(user, customer_mail(1), flags=(b"\\Flagged",))

    poll(mailbox)

    assert set(imap_server.flags(user)[1]) == {b"\\Seen", b"\\Flagged"}
    assert imap_server.count(user) == 1


def test_each_poll_takes_at_most_a_batch_and_the_next_continues(imap_server, user, support_channel):
    mailbox = mailbox_for(support_channel, imap_server, user, batch_size=2)
    for number in range(5):
        imap_server.append(user, customer_mail(number, sender=f"b{number}@marketplace.example"))

    results = [poll(mailbox) for _ in range(3)]

    assert [r.imported for r in results] == [2, 2, 1]
    assert [r.remaining for r in results] == [3, 1, 0]
    assert mailbox.last_uid == 5


def test_a_changed_uidvalidity_rereads_the_folder_without_importing_twice(imap_server, user, support_channel):
    mailbox = mailbox_for(support_channel, imap_server, user, imap_folder="Support")
    imap_server.append(user, customer_mail(1), folder="Support")
    imap_server.append(user, customer_mail(2, sender="b2@marketplace.example"), folder="Support")
    poll(mailbox)
    old_validity = mailbox.uidvalidity
    # The folder is re-created (a server migration, a restore): UIDs start again at 1.
    client = imap_server.client(user)
    client.delete_folder("Support")
    client.logout()
    imap_server.append(user, customer_mail(1), folder="Support")
    imap_server.append(user, customer_mail(2, sender="b2@marketplace.example"), folder="Support")
    imap_server.append(user, customer_mail(3, sender="b3@marketplace.example"), folder="Support")

    result = poll(mailbox)

    assert result.uidvalidity_changed and "UIDVALIDITY changed" in result.summary()
    assert mailbox.uidvalidity != old_validity
    assert (result.imported, result.duplicates) == (1, 2)
    assert (mailbox.last_uid, m.Message.objects.filter(channel=support_channel).count()) == (3, 3)


def test_a_wrong_password_is_reported_clearly_and_backs_off(imap_server, user, support_channel):
    from inquiries import secrets

    mailbox = mailbox_for(
        support_channel, imap_server, user, imap_password_encrypted=secrets.encrypt("wrong")
    )
    now = timezone.now()

    first = poll(mailbox, now=now)

    assert not first.ok
    assert f"login failed for user {user!r}" in first.error
    assert mailbox.failures == 1 and "login failed" in mailbox.last_error
    assert mailbox.next_attempt_at == now + timedelta(seconds=60)
    skipped = poll(mailbox, now=now + timedelta(seconds=30))
    assert skipped.skipped.startswith("backing off") and mailbox.failures == 1
    second = poll(mailbox, now=now + timedelta(seconds=61))
    assert not second.ok and mailbox.failures == 2
    assert mailbox.next_attempt_at == now + timedelta(seconds=61 + 120)
    assert service.due_mailboxes(now + timedelta(seconds=62)) == []


def test_a_success_after_failures_clears_the_error_and_the_backoff(imap_server, user, support_channel):
    mailbox = mailbox_for(
        support_channel, imap_server, user, imap_password_env="CSTRACKER_TEST_IMAP_PASSWORD"
    )
    poll(mailbox)
    assert "CSTRACKER_TEST_IMAP_PASSWORD is not set" in mailbox.last_error

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CSTRACKER_TEST_IMAP_PASSWORD", "secret")
        result = poll(mailbox, force=True)

    assert result.ok
    assert (mailbox.failures, mailbox.last_error, mailbox.next_attempt_at) == (0, "", None)


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"imap_host": "no-such-host.invalid"}, "cannot resolve IMAP host 'no-such-host.invalid'"),
        ({"imap_port": 1}, "connection refused by 127.0.0.1:1"),
        ({"imap_folder": "Nope"}, "cannot open folder 'Nope'"),
    ],
)
def test_connection_errors_have_a_clear_message(imap_server, user, support_channel, overrides, expected):
    mailbox = mailbox_for(support_channel, imap_server, user, **overrides)

    result = poll(mailbox)

    assert not result.ok and expected in result.error
    assert expected in mailbox.last_error and mailbox.failures == 1


def test_one_failing_mailbox_does_not_stop_the_others(imap_server, mail_account):
    users = [imap_server.new_user() for _ in range(3)]
    mailboxes = []
    for index, user in enumerate(users):
        channel = email_channel(mail_account, f"box-{index}", f"box{index}@shop.example")
        mailboxes.append(mailbox_for(channel, imap_server, user))
        imap_server.append(user, customer_mail(f"box{index}", sender=f"c{index}@marketplace.example"))
    m.MailboxConfig.objects.filter(pk=mailboxes[1].pk).update(imap_port=1)  # nothing listens there

    results = service.poll_due_mailboxes()

    assert [r.ok for r in results] == [True, False, True]
    assert [r.imported for r in results] == [1, 0, 1]
    assert m.Message.objects.count() == 2


def test_the_command_polls_once_and_exits_1_when_a_mailbox_failed(
    imap_server, user, mailbox, mail_account, capsys
):
    imap_server.append(user, customer_mail(1))
    broken = email_channel(mail_account, "broken", "broken@shop.example")
    mailbox_for(broken, imap_server, "someone", imap_port=1)

    with pytest.raises(SystemExit) as exit_info:
        call_command("poll_mailboxes")

    out, err = capsys.readouterr()
    assert exit_info.value.code == 1
    assert "support: imported=1" in out
    assert "broken: FAILED: connection refused" in err


def test_a_mailbox_held_by_another_poll_is_skipped(imap_server, user, mailbox):
    m.MailboxConfig.objects.filter(pk=mailbox.pk).update(lease_until=timezone.now() + timedelta(minutes=5))

    result = poll(mailbox)

    assert result.skipped.startswith("busy")
    assert m.MailboxConfig.objects.get(pk=mailbox.pk).last_polled_at is None


def test_mail_that_cannot_be_a_message_is_skipped_with_a_reason_and_left_in_the_mailbox(
    imap_server, user, mailbox
):
    imap_server.append(user, b"this is not an e-mail at all\r\n")
    imap_server.append(user, customer_mail(2))

    result = poll(mailbox)

    assert result.ok and result.imported == 1
    assert len(result.rejected) == 1 and result.rejected[0].startswith("uid 1: not an e-mail")
    assert "uid 1: not an e-mail" in mailbox.last_summary
    assert imap_server.count(user) == 2
    assert mailbox.last_uid == 2


def _fixtures() -> list[Path]:
    files: list[Path] = []
    for parts in (FLANKER, MAILPARSER):
        folder = SHARED_DATA.joinpath(*parts)
        if folder.is_dir():
            files.extend(sorted(p for p in folder.rglob("*.eml") if p.is_file()))
    return files


def test_the_real_world_corpus_imports_through_imap_and_nothing_twice(imap_server, user, support_channel):
    shared_file(*FLANKER)
    shared_file(*MAILPARSER)
    mailbox = mailbox_for(support_channel, imap_server, user, batch_size=1000)
    appended = 0
    for path in _fixtures():
        try:
            imap_server.append(user, path.read_bytes())
            appended += 1
        except Exception as exc:  # Dovecot may refuse a byte sequence; the test says which
            pytest.fail(f"Dovecot refused {path.name}: {exc}")

    first = poll(mailbox)
    second = poll(mailbox)

    assert first.ok, first.error
    assert appended >= 60
    stored = m.Message.objects.filter(channel=support_channel).count()
    # Every message is stored, or is a duplicate of one (copies share a Message-ID), or was
    # rejected with a reason; none is lost silently.
    assert first.imported + first.held + first.duplicates + len(first.rejected) == appended
    assert stored == first.imported + first.held
    assert all(": " in reason for reason in first.rejected)
    assert (second.imported, second.duplicates, second.rejected) == (0, 0, [])
    bounces = m.Message.objects.filter(channel=support_channel, automatic=True, automatic_reason="bounce")
    assert (
        bounces.exists()
        and not bounces.filter(inquiry__isnull=False, inquiry__messages__automatic=False).exists()
    )
    # mail_test_18: an encoded display name with a comma keeps the real address.
    assert m.Message.objects.filter(channel=support_channel, sender_address="comma.name@example.com").exists()
    # mail_test_12: GB2312 encoded words are decoded on the way through IMAP too.
    assert not m.Message.objects.filter(channel=support_channel, subject__contains="=?").exists()


def test_a_message_over_the_size_limit_is_skipped_with_a_reason(imap_server, user, mailbox, monkeypatch):
    monkeypatch.setattr(service.polling, "MAX_MESSAGE_BYTES", 400)
    imap_server.append(user, customer_mail(1, body="x" * 500))
    imap_server.append(user, customer_mail(2))

    result = poll(mailbox)

    assert result.imported == 1
    assert result.rejected[0].startswith("uid 1: ") and "over the 400-byte limit" in result.rejected[0]


def test_idle_returns_when_new_mail_arrives(imap_server, user, mailbox):
    settings = service.imap_settings(mailbox)
    woke: list[bool] = []
    with imap.ImapSession(settings) as session:
        timer = threading.Timer(0.5, lambda: imap_server.append(user, customer_mail(1)))
        timer.start()
        woke.append(session.wait_for_mail(timeout=20))
        timer.join()

    assert woke == [True]


def test_idle_times_out_quietly_without_mail(imap_server, user, mailbox):
    with imap.ImapSession(service.imap_settings(mailbox)) as session:
        assert session.wait_for_mail(timeout=0.5) is False


def test_raw_mail_helper_gives_a_parsable_message():
    from inquiries.ingestion.email import parse_email

    message = parse_email(raw_mail("From: a@example.com", "Message-ID: <x@example.com>"))

    assert message.external_id == "x@example.com"


def test_an_inactive_channels_mail_waits_in_the_mailbox_until_it_is_active_again(imap_server, user, mailbox):
    imap_server.append(user, customer_mail(1))
    m.Channel.objects.filter(pk=mailbox.channel_id).update(is_active=False)

    waiting = poll(mailbox)
    m.Channel.objects.filter(pk=mailbox.channel_id).update(is_active=True)
    later = poll(mailbox)

    assert (waiting.skipped, later.imported) == ("channel inactive", 1)
