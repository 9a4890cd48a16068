"""Polling IMAP mailboxes (inbox and sent folder), safe to run concurrently (beat, `manage.py
poll_mailboxes`, the admin's "poll now"): a conditional UPDATE leases the mailbox to one poller
at a time. A mailbox that fails records why, counts the failure and waits (exponential backoff)
before its next turn; the others carry on. A message that keeps failing is set aside.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import DatabaseError
from django.db.models import F, Q
from django.utils import timezone

from inquiries import secrets
from inquiries.ingestion import imap
from inquiries.ingestion.email import MAX_MESSAGE_BYTES, parse_email, sent_reply
from inquiries.ingestion.types import Rejected
from inquiries.models import (
    Channel,
    FailedTask,
    MailboxConfig,
)
from inquiries.services.mailbox.loop_guard import (
    LOOP_GUARD_REASON,
    SentMailSkipped,
    own_addresses,
    record_mail,
)
from inquiries.services.queue import enqueue
from inquiries.services.recording import Held
from inquiries.services.recording.rules import EARLIEST_TIMESTAMP

logger = logging.getLogger(__name__)

LEASE = timedelta(minutes=10)
MAX_ATTEMPTS = 2  # polls that may start on one message before it is set aside as failed
BACKOFF_BASE_SECONDS = 60
BACKOFF_MAX_SECONDS = 3600


# --- polling -------------------------------------------------------------------------------


@dataclass
class PollResult:
    mailbox_id: int
    channel: str
    ok: bool = True
    skipped: str = ""  # why nothing was done: "busy", "backing off", "disabled"
    error: str = ""
    imported: int = 0
    duplicates: int = 0
    held: int = 0  # by the loop guard: stored as automatic
    waiting: int = 0  # replies whose parent message has not arrived: held until it does
    rejected: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)  # set aside: could not be imported at all
    remaining: int = 0
    uidvalidity_changed: bool = False
    sent_folder: str = ""  # the sent folder read, or why none was
    sent_skipped: int = 0  # the seller's sent mail that threads to no stored conversation

    def summary(self) -> str:
        if self.skipped:
            return f"{self.channel}: skipped ({self.skipped})"
        if not self.ok:
            return f"{self.channel}: FAILED: {self.error}"
        text = (
            f"{self.channel}: imported={self.imported} duplicate={self.duplicates} held={self.held} "
            f"waiting={self.waiting} rejected={len(self.rejected)} failed={len(self.failed)} "
            f"remaining={self.remaining}"
        )
        if self.sent_folder:
            text += f" sent folder: {self.sent_folder}, skipped={self.sent_skipped}"
        if self.uidvalidity_changed:
            text += " (UIDVALIDITY changed: folder read again from the start)"
        return text


def backoff_seconds(failures: int) -> int:
    """1, 2, 4... minutes after consecutive failures, at most an hour."""
    return min(BACKOFF_BASE_SECONDS * 2 ** max(failures - 1, 0), BACKOFF_MAX_SECONDS)


def due_mailboxes(now: datetime) -> list[int]:
    return list(
        MailboxConfig.objects.filter(is_enabled=True, channel__is_active=True)
        .exclude(imap_host="")
        .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
        .order_by("pk")
        .values_list("pk", flat=True)
    )


def poll_due_mailboxes(*, now: datetime | None = None, force: bool = False) -> list[PollResult]:
    """Poll every enabled mailbox in this process; one's failure never stops the next."""
    now = now or timezone.now()
    ids = (
        due_mailboxes(now)
        if not force
        else list(
            MailboxConfig.objects.filter(is_enabled=True, channel__is_active=True)
            .exclude(imap_host="")
            .order_by("pk")
            .values_list("pk", flat=True)
        )
    )
    return [poll_mailbox(mailbox_id=pk, now=now, force=force) for pk in ids]


def poll_mailbox(*, mailbox_id: int, now: datetime | None = None, force: bool = False) -> PollResult:
    """Import the next batch from one mailbox; failures are recorded on it, never raised."""
    now = now or timezone.now()
    mailbox = MailboxConfig.objects.select_related("channel__account").filter(pk=mailbox_id).first()
    if mailbox is None:  # deleted since the sweep queued it
        return PollResult(mailbox_id=mailbox_id, channel="?", skipped="no such mailbox")
    result = PollResult(mailbox_id=mailbox.pk, channel=mailbox.channel.slug)
    if not mailbox.is_enabled:
        result.skipped = "disabled"
        return result
    if not mailbox.channel.is_active:
        # Its mail would be rejected and skipped for good; it waits in the mailbox instead.
        result.skipped = "channel inactive"
        return result
    if not force and mailbox.next_attempt_at is not None and mailbox.next_attempt_at > now:
        result.skipped = f"backing off until {mailbox.next_attempt_at:%Y-%m-%d %H:%M:%S} UTC"
        return result
    if not _lease(mailbox, now):
        result.skipped = "busy: another poll holds this mailbox"
        return result
    state = {
        "uidvalidity": mailbox.uidvalidity,
        "last_uid": mailbox.last_uid,
        "sent_uidvalidity": mailbox.sent_uidvalidity,
        "sent_last_uid": mailbox.sent_last_uid,
    }
    try:
        _poll(mailbox, result, state, now)
    except imap.MailboxError as exc:
        result.ok, result.error = False, str(exc)
    except secrets.SecretError as exc:
        result.ok, result.error = False, str(exc)
    except Exception as exc:  # a database or parser bug must not stop the other mailboxes
        logger.exception("Polling mailbox %s (%s) failed unexpectedly", mailbox.pk, mailbox.channel.slug)
        result.ok, result.error = False, f"unexpected {type(exc).__name__}: {str(exc)[:300]}"
    finally:
        _finish(mailbox, result, state, now)
    return result


def _lease(mailbox: MailboxConfig, now: datetime) -> bool:
    return bool(
        MailboxConfig.objects.filter(pk=mailbox.pk)
        .filter(Q(lease_until__isnull=True) | Q(lease_until__lt=now))
        .update(lease_until=now + LEASE)
    )


def imap_settings(mailbox: MailboxConfig) -> imap.ImapSettings:
    password = secrets.resolve(
        env_name=mailbox.imap_password_env, encrypted=mailbox.imap_password_encrypted, what="IMAP password"
    )
    return imap.ImapSettings(
        host=mailbox.imap_host,
        port=mailbox.imap_port,
        tls_mode=mailbox.imap_tls,
        username=mailbox.imap_username,
        password=password,
        folder=mailbox.imap_folder or "INBOX",
        timeout=settings.CSTRACKER_MAIL_TIMEOUT_SECONDS,
    )


def _poll(mailbox: MailboxConfig, result: PollResult, state: dict[str, int | None], now: datetime) -> None:
    with imap.ImapSession(imap_settings(mailbox), readonly=not mailbox.mark_seen) as session:
        _poll_folder(session, mailbox, result, state, now, folder=INBOX)
        if not mailbox.read_sent_folder:
            return
        if result.remaining:
            # The sent folder waits until the inbox is read up: a reply must find its
            # customer's message stored, or it is skipped for good.
            result.sent_folder = "waiting for the inbox"
            return
        folder = mailbox.sent_folder or session.find_sent_folder()
        if not folder:
            result.sent_folder = "none found"
            return
        if folder == session.folder:
            result.sent_folder = f"{folder} (the inbox itself: not read twice)"
            return
        result.sent_folder = folder
        session.select(folder, readonly=True)  # never any flag set on the seller's sent mail
        _poll_folder(session, mailbox, result, state, now, folder=SENT)


@dataclass(frozen=True)
class _Folder:
    """Which of the mailbox's folders is being read: its state columns have this prefix."""

    prefix: str
    sent: bool

    def field(self, name: str) -> str:
        return self.prefix + name


INBOX = _Folder("", sent=False)
SENT = _Folder("sent_", sent=True)


def _poll_folder(
    session: imap.ImapSession,
    mailbox: MailboxConfig,
    result: PollResult,
    state: dict[str, int | None],
    now: datetime,
    *,
    folder: _Folder,
) -> None:
    uidvalidity_field, last_uid_field = folder.field("uidvalidity"), folder.field("last_uid")
    stored_uidvalidity = getattr(mailbox, uidvalidity_field)
    selection = session.select_new(
        uidvalidity=stored_uidvalidity,
        last_uid=getattr(mailbox, last_uid_field),
        batch_size=mailbox.batch_size,
    )
    if selection.uidvalidity_changed:
        logger.warning(
            "Mailbox %s: UIDVALIDITY %s of %s became %s; reading the folder again (duplicates skipped)",
            mailbox.channel.slug,
            stored_uidvalidity,
            session.folder,
            selection.uidvalidity,
        )
        result.uidvalidity_changed = True
    if selection.uidvalidity_changed or stored_uidvalidity is None:
        state[uidvalidity_field], state[last_uid_field] = selection.uidvalidity, 0
    result.remaining += selection.remaining
    own = own_addresses(mailbox.channel)
    done: list[int] = []
    for mail in session.fetch(selection.pending, max_bytes=MAX_MESSAGE_BYTES):
        if _start(mailbox, mail.uid, state, folder) > MAX_ATTEMPTS:
            _set_aside(mailbox, mail.uid, state, result, f"a poll stopped on it {MAX_ATTEMPTS} times", folder)
        else:
            try:
                _ingest(mailbox.channel, mail, result, now, sent=folder.sent, own=own)
            except DatabaseError:
                raise  # the database is away: the whole poll fails and this message is read again
            except Exception as exc:  # a parser or rule bug on this message must not stop the mailbox
                logger.exception("Mailbox %s: uid %s failed", mailbox.channel.slug, mail.uid)
                _set_aside(
                    mailbox, mail.uid, state, result, f"{type(exc).__name__}: {str(exc)[:300]}", folder
                )
        # Progress is saved per message, at once: a poll killed later (a hard time limit,
        # a lost worker) does not read these again.
        state[last_uid_field] = mail.uid
        _save_progress(mailbox, state, folder)
        done.append(mail.uid)
    if selection.pending:
        state[last_uid_field] = max(state[last_uid_field] or 0, selection.pending[-1])
    if mailbox.mark_seen and not folder.sent:
        session.mark_seen(done)


def _start(mailbox: MailboxConfig, uid: int, state: dict[str, int | None], folder: _Folder) -> int:
    """Note the UID about to be imported and return how many polls have started on it."""
    uid_field, attempts_field = folder.field("inflight_uid"), folder.field("inflight_attempts")
    attempts = getattr(mailbox, attempts_field) + 1 if getattr(mailbox, uid_field) == uid else 1
    setattr(mailbox, uid_field, uid)
    setattr(mailbox, attempts_field, attempts)
    uidvalidity_field = folder.field("uidvalidity")
    MailboxConfig.objects.filter(pk=mailbox.pk).update(
        **{uid_field: uid, attempts_field: attempts, uidvalidity_field: state[uidvalidity_field]}
    )
    return attempts


def _save_progress(mailbox: MailboxConfig, state: dict[str, int | None], folder: _Folder) -> None:
    uid_field, attempts_field = folder.field("inflight_uid"), folder.field("inflight_attempts")
    setattr(mailbox, uid_field, 0)
    setattr(mailbox, attempts_field, 0)
    MailboxConfig.objects.filter(pk=mailbox.pk).update(
        **{
            folder.field("last_uid"): state[folder.field("last_uid")] or 0,
            folder.field("uidvalidity"): state[folder.field("uidvalidity")],
            uid_field: 0,
            attempts_field: 0,
        }
    )


def _set_aside(
    mailbox: MailboxConfig,
    uid: int,
    state: dict[str, int | None],
    result: PollResult,
    why: str,
    folder: _Folder = INBOX,
) -> None:
    """A message that cannot be imported is listed for an admin (Failed tasks) and the mailbox
    moves on; it stays on the server, so it can be fetched again once the cause is fixed."""
    where = "sent folder " if folder.sent else ""
    result.failed.append(f"{where}uid {uid}: {why}")
    FailedTask.objects.update_or_create(
        task_id=f"mailbox {mailbox.pk} {where}uidvalidity {state[folder.field('uidvalidity')]} uid {uid}",
        defaults={
            "task_name": f"import mail from {mailbox.channel.slug}",
            "args": [mailbox.pk, uid],
            "error": f"{where}uid {uid} was set aside: {why}",
            "resolved": False,
        },
    )
    MailboxConfig.objects.filter(pk=mailbox.pk).update(failed_messages=F("failed_messages") + 1)


def _ingest(
    channel: Channel,
    mail: imap.FetchedMail,
    result: PollResult,
    now: datetime,
    *,
    sent: bool = False,
    own: frozenset[str] = frozenset(),
) -> None:
    if mail.raw is None:
        result.rejected.append(f"uid {mail.uid}: {mail.size} bytes, over the {MAX_MESSAGE_BYTES}-byte limit")
        return
    received_at = mail.internal_date or now
    # The server's receipt time is the customer's sending time for the SLA; a clock that is
    # ahead of ours or absurdly old is not trusted.
    if received_at > now or received_at < EARLIEST_TIMESTAMP:
        received_at = now
    try:
        incoming = parse_email(mail.raw, received_at=received_at)
        if sent:
            incoming = sent_reply(incoming, now=now)
        recorded = record_mail(channel=channel, incoming=incoming, now=now, own=own)
    except SentMailSkipped as exc:
        logger.info("Mailbox %s: uid %s skipped: %s", channel.slug, mail.uid, exc.reason)
        result.sent_skipped += 1
        return
    except Rejected as exc:
        logger.info("Mailbox %s: uid %s rejected: %s", channel.slug, mail.uid, exc.reason)
        result.rejected.append(f"uid {mail.uid}: {exc.reason}")
        return
    if isinstance(recorded, Held):
        if recorded.created:
            logger.info("Mailbox %s: uid %s held until its parent message arrives", channel.slug, mail.uid)
            result.waiting += 1
        else:
            result.duplicates += 1
    elif not recorded.created:
        result.duplicates += 1
    elif recorded.message.automatic_reason == LOOP_GUARD_REASON:
        result.held += 1
    else:
        result.imported += 1


def _finish(mailbox: MailboxConfig, result: PollResult, state: dict[str, int | None], now: datetime) -> None:
    changes: dict[str, object] = {
        "lease_until": None,
        "last_polled_at": now,
        "uidvalidity": state["uidvalidity"],
        "last_uid": state["last_uid"] or 0,
        "sent_uidvalidity": state["sent_uidvalidity"],
        "sent_last_uid": state["sent_last_uid"] or 0,
        # A poll that got here was not killed: whatever stopped it does not count against
        # the message it was on (a killed poll never gets here, and its attempt stays counted).
        "inflight_uid": 0,
        "inflight_attempts": 0,
        "sent_inflight_uid": 0,
        "sent_inflight_attempts": 0,
    }
    if result.ok:
        summary = result.summary()
        if result.rejected or result.failed:
            summary += "\n" + "\n".join((result.failed + result.rejected)[:20])
        changes.update(
            last_success_at=now, last_error="", failures=0, next_attempt_at=None, last_summary=summary
        )
    else:
        failures = mailbox.failures + 1
        wait = backoff_seconds(failures)
        changes.update(
            failures=failures,
            next_attempt_at=now + timedelta(seconds=wait),
            last_error=f"{now:%Y-%m-%d %H:%M:%S} UTC: {result.error} (failure {failures} in a row; "
            f"next attempt in {wait // 60 or 1} min)",
        )
        logger.warning("Mailbox %s (%s): %s", mailbox.pk, mailbox.channel.slug, result.error)
    MailboxConfig.objects.filter(pk=mailbox.pk).update(**changes)


def wait_for_mail(*, mailbox_id: int, timeout: float) -> bool:
    """IMAP IDLE on the mailbox until new mail is announced or `timeout` passes."""
    mailbox = MailboxConfig.objects.select_related("channel").get(pk=mailbox_id)
    with imap.ImapSession(imap_settings(mailbox)) as session:
        return session.wait_for_mail(timeout)


# --- the periodic task ---------------------------------------------------------------------


def sweep(*, now: datetime | None = None) -> str:
    """Beat's entry point: queue one poll task per due mailbox, and re-queue replies whose
    send task was lost (broker down at the time, worker killed mid-send)."""
    from inquiries.services.mail import stalled_replies

    now = now or timezone.now()
    polls = due_mailboxes(now)
    for pk in polls:
        enqueue("poll_mailbox", pk)
    stalled = stalled_replies(now)
    for pk in stalled:
        enqueue("send_reply_email", pk)
    return f"polls={len(polls)} replies={len(stalled)}"
