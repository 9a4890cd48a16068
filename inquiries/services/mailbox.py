"""Mail coming in: polling IMAP mailboxes, provider webhooks, and the loop guard.

Every message ends in the recording engine (`record_message()`, a list of one) through
`record_mail()`, which adds the loop guard: a sender who floods a mailbox is suspended, and
their further mail is stored as automatic ("loop guard: sender suspended") so it starts no
clock, kept for review.

Polling is safe to run concurrently (beat, `manage.py poll_mailboxes`, the admin's "poll
now"): a conditional UPDATE leases the mailbox to one poller at a time. A mailbox that
fails records why, counts the failure and waits (exponential backoff) before its next
turn; the others carry on.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from django.conf import settings
from django.db import DatabaseError, IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from inquiries import secrets
from inquiries.ingestion import imap
from inquiries.ingestion.email import MAX_MESSAGE_BYTES, parse_email, recipients, sent_reply
from inquiries.ingestion.types import Direction, IncomingMessage, Rejected
from inquiries.ingestion.webhooks import Delivery
from inquiries.models import (
    Channel,
    ChannelKind,
    FailedTask,
    MailboxConfig,
    MailWebhook,
    MailWebhookToken,
    Message,
    SuspendedSender,
    normalise_address,
)
from inquiries.services.queue import enqueue
from inquiries.services.recording import Held, RecordResult, record_message, rules
from inquiries.services.recording.rules import EARLIEST_TIMESTAMP

logger = logging.getLogger(__name__)

LOOP_GUARD_REASON = "loop guard: sender suspended"
LEASE = timedelta(minutes=10)
MAX_ATTEMPTS = 2  # polls that may start on one message before it is set aside as failed
BACKOFF_BASE_SECONDS = 60
BACKOFF_MAX_SECONDS = 3600


# --- the loop guard ------------------------------------------------------------------------


class SentMailSkipped(Rejected):
    """The seller's own sent mail that threads to no stored conversation: not recorded (it is
    no reply to a customer we track, and opens no inquiry)."""


def own_addresses(channel: Channel) -> frozenset[str]:
    """The seller's own addresses on a channel: its address and its mailbox's From address."""
    mailbox = getattr(channel, "mailbox", None) if channel.kind == ChannelKind.EMAIL else None
    found = {channel.address, mailbox.from_address if mailbox is not None else ""}
    return frozenset(normalise_address(address) for address in found if address)


def is_bcc_copy(channel: Channel, incoming: IncomingMessage, own: frozenset[str]) -> bool:
    """A copy of the seller's own mail BCC'd to the channel's reply BCC address: from one of the
    seller's addresses, delivered (envelope) or written (To, Cc) to the BCC address."""
    bcc = normalise_address(channel.reply_bcc_address)
    if not bcc or incoming.direction != Direction.INBOUND or incoming.raw is None:
        return False
    if normalise_address(incoming.sender_address) not in own:
        return False
    return bcc in recipients(incoming.raw) or normalise_address(incoming.recipient_address) == bcc


def _threads_to_conversation(channel: Channel, incoming: IncomingMessage) -> bool:
    """Whether sent mail is stored already (a duplicate: cstracker's own reply found again by its
    Message-ID) or names a stored message of a conversation (In-Reply-To, References)."""
    refs = rules.references(incoming)
    return Message.objects.filter(
        Q(external_id=incoming.external_id) | Q(external_id__in=refs, inquiry__isnull=False), channel=channel
    ).exists()


def record_mail(
    *,
    channel: Channel,
    incoming: IncomingMessage,
    now: datetime | None = None,
    own: frozenset[str] | None = None,
) -> RecordResult | Held:
    """`record_message()` behind the loop guard; raises `Rejected` like it.

    The seller's own sent mail (outbound: from the sent folder, or a copy to the channel's reply
    BCC address) is recorded as a reply when it threads to a stored conversation, and raises
    `SentMailSkipped` when it does not. `own`: the seller's addresses (`own_addresses`).
    """
    now = now or timezone.now()
    if channel.reply_bcc_address and is_bcc_copy(
        channel, incoming, own if own is not None else own_addresses(channel)
    ):
        incoming = sent_reply(incoming, now=now)
    if incoming.direction == Direction.OUTBOUND and not _threads_to_conversation(channel, incoming):
        raise SentMailSkipped(f"sent mail {incoming.external_id[:80]!r} threads to no stored conversation")
    suspension = None
    if incoming.direction == Direction.INBOUND and incoming.sender_address and not incoming.automatic:
        suspension = _suspension_for(channel=channel, incoming=incoming, now=now)
        if suspension is not None:
            incoming = replace(incoming, automatic=True, automatic_reason=LOOP_GUARD_REASON)
    with transaction.atomic():
        result = record_message(channel=channel, incoming=incoming, now=now)
        if isinstance(result, RecordResult) and result.created and incoming.automatic:
            # Maybe a delivery report about one of our replies, which may bounce it.
            from inquiries.services.delivery import record_delivery_report

            record_delivery_report(report=result.message, raw=incoming.raw, now=now)
    if suspension is not None and result.created:
        SuspendedSender.objects.filter(pk=suspension.pk).update(messages_held=F("messages_held") + 1)
    return result


def _suspension_for(*, channel: Channel, incoming: IncomingMessage, now: datetime) -> SuspendedSender | None:
    """The sender's active suspension, or a new one if this message is over the limit."""
    address = normalise_address(incoming.sender_address)
    active = SuspendedSender.objects.filter(
        channel=channel, address=address, released_at__isnull=True
    ).first()
    limit = settings.CSTRACKER_LOOP_GUARD_MESSAGES
    if active is not None or limit <= 0:
        return active
    if Message.objects.filter(channel=channel, external_id=incoming.external_id).exists():
        return None  # a duplicate: record_message returns the stored one and counts nothing
    # Counted on the mail's own time line, so a back-filled flood is recognised like a live
    # one; messages before the sender's last release do not count again.
    at = incoming.received_at or now
    since = at - timedelta(minutes=settings.CSTRACKER_LOOP_GUARD_WINDOW_MINUTES)
    released = (
        SuspendedSender.objects.filter(channel=channel, address=address, released_at__isnull=False)
        .order_by("-released_at")
        .values_list("released_at", flat=True)
        .first()
    )
    if released is not None:
        since = max(since, released)
    recent = Message.objects.filter(
        channel=channel,
        sender_address=address,
        direction=Direction.INBOUND,
        received_at__gt=since,
        received_at__lte=at,
    ).count()
    if recent < limit:
        return None
    reason = (
        f"{recent + 1} messages within {settings.CSTRACKER_LOOP_GUARD_WINDOW_MINUTES} minutes (limit {limit})"
    )
    try:
        with transaction.atomic():
            suspension = SuspendedSender.objects.create(
                channel=channel, address=address, reason=reason, suspended_at=now
            )
    except IntegrityError:  # another poller or webhook suspended them at the same moment
        return SuspendedSender.objects.filter(
            channel=channel, address=address, released_at__isnull=True
        ).first()
    logger.warning("Loop guard: suspended %s on channel %s: %s", address, channel.slug, reason)
    return suspension


def release_sender(*, suspension: SuspendedSender, actor: object = None, now: datetime | None = None) -> bool:
    """Lift a suspension: the sender's next mail counts again. False if it was already lifted."""
    return bool(
        SuspendedSender.objects.filter(pk=suspension.pk, released_at__isnull=True).update(
            released_at=now or timezone.now(), released_by=actor
        )
    )


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


# --- webhooks ------------------------------------------------------------------------------


def webhook_secret(hook: MailWebhook) -> str:
    return secrets.resolve(env_name=hook.secret_env, encrypted=hook.secret_encrypted, what="webhook secret")


def record_webhook(
    *, hook: MailWebhook, delivery: Delivery, now: datetime | None = None
) -> RecordResult | Held:
    """Store a verified delivery. A Mailgun token seen before with another body is refused.

    Raises `Rejected` (bad content) or `ReplayError`.
    """
    now = now or timezone.now()
    if delivery.replay_key:
        _remember_token(hook, delivery, now)
    result = record_mail(channel=hook.channel, incoming=delivery.incoming, now=now)
    MailWebhook.objects.filter(pk=hook.pk).update(last_received_at=now)
    return result


class ReplayError(Exception):
    pass


def _remember_token(hook: MailWebhook, delivery: Delivery, now: datetime) -> None:
    # Tokens older than a day are past any signature tolerance: forgetting them is safe.
    MailWebhookToken.objects.filter(webhook=hook, received_at__lt=now - timedelta(days=1)).delete()
    try:
        with transaction.atomic():
            MailWebhookToken.objects.create(
                webhook=hook, token=delivery.replay_key, body_sha256=delivery.body_sha256, received_at=now
            )
    except IntegrityError:
        seen = MailWebhookToken.objects.filter(webhook=hook, token=delivery.replay_key).first()
        if seen is not None and seen.body_sha256 != delivery.body_sha256:
            raise ReplayError("this signed token was already used with another body") from None


def note_webhook_refusal(*, hook: MailWebhook, reason: str, now: datetime | None = None) -> None:
    now = now or timezone.now()
    MailWebhook.objects.filter(pk=hook.pk).update(last_error=f"{now:%Y-%m-%d %H:%M:%S} UTC: {reason}"[:1000])


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
