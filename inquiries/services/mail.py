"""Replies leaving by e-mail: build the message with its threading headers, send it by SMTP.

Runs from the `send_reply_email` task after the reply's transaction committed. The claim
(a conditional UPDATE on `OutgoingMail`) lets exactly one worker send; a temporary failure
(connection, 4xx, login) releases the claim and raises `TemporaryDeliveryError` so the task
retries with backoff; a permanent one (5xx, no SMTP configured), or the last retry, marks
the reply failed with the reason, shown on the message. The relay's acceptance and the
failure are reported to `services.delivery` in the same transaction as this bookkeeping:
acceptance is when the reply starts answering the customer.

Threading: the reply's Message-ID is its `external_id` ("cstracker-<uuid>@<our domain>"),
fixed when it is first claimed. The customer's answer names it in In-Reply-To/References,
and `record_message` threads it back onto the inquiry by that id.
"""

from __future__ import annotations

import hashlib
import logging
import re
import smtplib
import socket
import ssl
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, formataddr

from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from inquiries import outbound, secrets
from inquiries.models import ChannelKind, Direction, MailboxConfig, Message, OutgoingMail, TlsMode
from inquiries.services import delivery

logger = logging.getLogger(__name__)

LEASE = timedelta(minutes=10)
MAX_REFERENCES = 20
RETRY_BACKOFF_SECONDS = 30  # the task's retry_backoff: 30 s, 60 s, 120 s... capped below
RETRY_BACKOFF_MAX_SECONDS = 1800
STALLED_AFTER = timedelta(minutes=10)
LOOP_HEADER = "X-Cstracker-Loop"
_NON_MAIL_ID = re.compile(r"^(?:sha256:|id-sha256:|cstracker-[0-9a-f-]+$)")


class TemporaryDeliveryError(Exception):
    """Worth another try later; the task retries with backoff."""


class PermanentDeliveryError(Exception):
    """Will not work by retrying; the reply is marked failed with this reason."""


@dataclass(frozen=True, slots=True)
class Outcome:
    state: str  # "sent", "failed", "skipped"
    detail: str = ""


def send_reply_email(*, message_id: int, final_attempt: bool = False, now: datetime | None = None) -> Outcome:
    """Send one queued reply. Idempotent: a reply that is sent, failed or being sent is left alone.

    Raises `TemporaryDeliveryError` after a temporary failure unless `final_attempt`, in
    which case the reply is marked failed instead.
    """
    started = now or timezone.now()
    message = (
        Message.objects.select_related("channel__account", "inquiry__customer").filter(pk=message_id).first()
    )
    if message is None or message.delivery_state != Message.DeliveryState.QUEUED:
        return Outcome("skipped", "not queued")
    if message.channel.kind != ChannelKind.EMAIL:
        return Outcome("skipped", "waiting for the integration")
    message = _claim(message, started)
    if message is None:
        return Outcome("skipped", "another worker holds it")
    try:
        mailbox = MailboxConfig.objects.filter(channel_id=message.channel_id).first()
        if mailbox is None or not mailbox.smtp_host:
            raise PermanentDeliveryError(f"channel {message.channel.slug} has no SMTP server configured")
        try:
            email = build_reply(message, mailbox=mailbox, now=started)
        except (ValueError, TypeError) as exc:  # e.g. a header value the e-mail policy refuses
            raise PermanentDeliveryError(f"cannot build the e-mail: {exc}") from None
        inquiry = message.inquiry
        recipients = [inquiry.customer.address] if inquiry is not None else []
        if not recipients or "@" not in recipients[0]:
            raise PermanentDeliveryError("the customer has no e-mail address to reply to")
        _send(mailbox, email, recipients)
    except PermanentDeliveryError as exc:
        _fail(message, str(exc), now or timezone.now())
        return Outcome("failed", str(exc))
    except TemporaryDeliveryError as exc:
        if final_attempt:
            _fail(message, f"gave up after repeated temporary failures; last: {exc}", now or timezone.now())
            return Outcome("failed", str(exc))
        _release(message, str(exc), now or timezone.now())
        raise
    # The relay has the message from this instant: the reply answers the customer from now on.
    _sent(message, recipients, now or timezone.now())
    return Outcome("sent", message.external_id)


def _claim(message: Message, now: datetime) -> Message | None:
    """Take the reply for this worker; on the first claim, fix its Message-ID."""
    with transaction.atomic():
        outgoing, _ = OutgoingMail.objects.get_or_create(message=message)
        claimed = (
            OutgoingMail.objects.filter(pk=outgoing.pk)
            .filter(
                Q(state=OutgoingMail.State.QUEUED) | Q(state=OutgoingMail.State.SENDING, lease_until__lt=now)
            )
            .update(
                state=OutgoingMail.State.SENDING,
                lease_until=now + LEASE,
                attempts=F("attempts") + 1,
                updated_at=now,
            )
        )
        if not claimed:
            return None
        if "@" not in message.external_id:
            message_id = f"{message.external_id}@{_domain(message)}"
            Message.objects.filter(pk=message.pk).update(external_id=message_id)
            message.external_id = message_id
    return message


def _domain(message: Message) -> str:
    mailbox = MailboxConfig.objects.filter(channel_id=message.channel_id).first()
    address = (mailbox.sender_address if mailbox else "") or message.channel.address
    return address.rpartition("@")[2].lower() or "cstracker.invalid"


def _sent(message: Message, recipients: list[str], now: datetime) -> None:
    with transaction.atomic():
        OutgoingMail.objects.filter(message=message).update(
            state=OutgoingMail.State.SENT,
            sent_at=now,
            lease_until=None,
            next_attempt_at=None,
            last_error="",
            recipients=recipients,
            updated_at=now,
        )
        delivery.accept_reply(message_id=message.pk, at=now)
    logger.info("Reply %s sent to %s as <%s>", message.pk, ", ".join(recipients), message.external_id)


def _fail(message: Message, reason: str, now: datetime) -> None:
    with transaction.atomic():
        OutgoingMail.objects.filter(message=message).update(
            state=OutgoingMail.State.FAILED,
            lease_until=None,
            next_attempt_at=None,
            last_error=reason,
            updated_at=now,
        )
        delivery.reply_not_delivered(message_id=message.pk, reason=reason, now=now)
    logger.warning("Reply %s failed: %s", message.pk, reason)


def _release(message: Message, reason: str, now: datetime) -> None:
    outgoing = OutgoingMail.objects.get(message=message)
    wait = min(RETRY_BACKOFF_SECONDS * 2 ** max(outgoing.attempts - 1, 0), RETRY_BACKOFF_MAX_SECONDS)
    with transaction.atomic():
        OutgoingMail.objects.filter(pk=outgoing.pk).update(
            state=OutgoingMail.State.QUEUED,
            lease_until=None,
            next_attempt_at=now + timedelta(seconds=wait),
            last_error=reason,
            updated_at=now,
        )
        # Still queued for the agent, with the reason it has not left yet.
        Message.objects.filter(pk=message.pk).update(
            delivery_error=f"attempt {outgoing.attempts} failed, retrying: {reason}"
        )
    logger.info("Reply %s: temporary failure, retrying: %s", message.pk, reason)


def retry_failed(*, message: Message, actor: User | None = None) -> bool:
    """Put a failed or bounced reply back in the queue, unchanged (after an admin fixed the SMTP
    settings, or when the agent tries again); it answers once the relay accepts it."""
    with transaction.atomic():
        if not delivery.retry_reply(message_id=message.pk, actor=actor):
            return False
        OutgoingMail.objects.filter(message=message).update(
            state=OutgoingMail.State.QUEUED,
            attempts=0,
            last_error="",
            lease_until=None,
            next_attempt_at=None,
            updated_at=timezone.now(),
        )
        from inquiries.services.queue import enqueue_after_commit

        enqueue_after_commit("send_reply_email", message.pk)
    return True


def stalled_replies(now: datetime) -> list[int]:
    """Queued replies whose task is gone: never queued (broker down), a retry that never came,
    or a worker that died while sending (lease expired)."""
    cutoff = now - STALLED_AFTER
    never_started = Message.objects.filter(
        delivery_state=Message.DeliveryState.QUEUED,
        outgoing_mail__isnull=True,
        created_at__lt=cutoff,
        channel__kind=ChannelKind.EMAIL,  # replies on other channels wait for their integration
    ).values_list("pk", flat=True)
    lost = (
        OutgoingMail.objects.filter(message__delivery_state=Message.DeliveryState.QUEUED)
        .filter(
            Q(state=OutgoingMail.State.QUEUED, next_attempt_at__lt=cutoff)
            | Q(state=OutgoingMail.State.SENDING, lease_until__lt=now)
        )
        .values_list("message_id", flat=True)
    )
    return sorted({*never_started[:500], *lost[:500]})


# --- building the message ------------------------------------------------------------------


def build_reply(message: Message, *, mailbox: MailboxConfig, now: datetime) -> EmailMessage:
    """The RFC 5322 reply: From the channel, To the customer, threaded on the conversation."""
    sender = mailbox.sender_address
    if not sender:
        raise PermanentDeliveryError("no From address: set one on the mailbox or the channel")
    inquiry = message.inquiry
    email = EmailMessage()
    email["From"] = formataddr((_one_line(message.channel.account.name), sender))
    customer = inquiry.customer if inquiry is not None else None
    if customer is not None:
        email["To"] = formataddr((_one_line(customer.name), customer.address))
    email["Subject"] = _one_line(message.subject) or "Re: your message"
    email["Date"] = format_datetime(now)
    email["Message-ID"] = f"<{message.external_id}>"
    parent, references = _thread_headers(message)
    if parent:
        email["In-Reply-To"] = f"<{parent}>"
    if references:
        email["References"] = " ".join(f"<{ref}>" for ref in references)
    if message.automatic:
        # RFC 3834: machine-made mail says so, and asks others not to answer it automatically.
        email["Auto-Submitted"] = "auto-replied" if parent else "auto-generated"
        email["X-Auto-Response-Suppress"] = "All"
    email[LOOP_HEADER] = loop_token(sender)
    email.set_content(message.body_text or "", charset="utf-8")
    if message.body_html:
        email.add_alternative(message.body_html, subtype="html", charset="utf-8")
    return email


def loop_token(address: str) -> str:
    """Marks mail we sent; ours coming back (forwards, copies) is then recognised as automatic."""
    return hashlib.sha256(f"cstracker:{address.lower()}:{settings.SECRET_KEY}".encode()).hexdigest()[:16]


def _thread_headers(message: Message) -> tuple[str, list[str]]:
    """(In-Reply-To, References) for a reply: the latest customer message before it is the
    parent; References are the parent's References plus the parent (RFC 5322 section 3.6.4)."""
    if message.inquiry_id is None:
        return "", []
    earlier = list(
        Message.objects.filter(inquiry_id=message.inquiry_id, received_at__lte=message.received_at)
        .exclude(pk=message.pk)
        .exclude(direction=Direction.NOTE)
        .order_by("received_at", "id")
        .only("external_id", "references", "direction", "automatic")
    )
    customer = [m for m in earlier if m.direction == Direction.INBOUND and _is_mail_id(m.external_id)]
    people = [m for m in customer if not m.automatic]
    parents = people or customer
    if not parents:
        chain = [m.external_id for m in earlier if _is_mail_id(m.external_id)]
        return "", _trim(chain)
    parent = parents[-1]
    chain = [ref for ref in parent.references if isinstance(ref, str) and _is_mail_id(ref)] + [
        parent.external_id
    ]
    return parent.external_id, _trim(list(dict.fromkeys(chain)))


def _trim(chain: list[str]) -> list[str]:
    # Keep the first (the conversation's root) and the latest ones; long chains only grow headers.
    if len(chain) <= MAX_REFERENCES:
        return chain
    return [chain[0], *chain[-(MAX_REFERENCES - 1) :]]


def _is_mail_id(value: str) -> bool:
    return "@" in value and not _NON_MAIL_ID.match(value) and not re.search(r"[\s<>]", value)


def _one_line(text: str) -> str:
    return " ".join(text.split())


# --- SMTP ----------------------------------------------------------------------------------


def _send(mailbox: MailboxConfig, email: EmailMessage, recipients: list[str]) -> None:
    try:
        password = (
            secrets.resolve(
                env_name=mailbox.smtp_password_env,
                encrypted=mailbox.smtp_password_encrypted,
                what="SMTP password",
            )
            if mailbox.smtp_username
            else ""
        )
    except secrets.SecretError as exc:
        raise PermanentDeliveryError(str(exc)) from None
    where = f"{mailbox.smtp_host}:{mailbox.smtp_port}"
    timeout = settings.CSTRACKER_MAIL_TIMEOUT_SECONDS
    context = ssl.create_default_context()
    try:
        if mailbox.smtp_tls == TlsMode.SSL:
            server: smtplib.SMTP = outbound.SMTP_SSL(
                mailbox.smtp_host, mailbox.smtp_port, timeout=timeout, context=context
            )
        else:
            server = outbound.SMTP(mailbox.smtp_host, mailbox.smtp_port, timeout=timeout)
        with server:
            if mailbox.smtp_tls == TlsMode.STARTTLS:
                server.starttls(context=context)
            if mailbox.smtp_username:
                server.login(mailbox.smtp_username, password)
            refused = server.send_message(email, from_addr=mailbox.sender_address, to_addrs=recipients)
    except smtplib.SMTPRecipientsRefused as exc:
        codes = [code for code, _ in exc.recipients.values()]
        reason = "; ".join(f"{rcpt}: {code} {_text(text)}" for rcpt, (code, text) in exc.recipients.items())
        if all(code >= 500 for code in codes):
            raise PermanentDeliveryError(f"recipient refused by {where}: {reason}") from None
        raise TemporaryDeliveryError(f"recipient deferred by {where}: {reason}") from None
    except smtplib.SMTPAuthenticationError as exc:
        # A wrong password is fixed by an admin; the retries give them that time.
        raise TemporaryDeliveryError(
            f"SMTP login failed on {where}: {exc.smtp_code} {_text(exc.smtp_error)}"
        ) from None
    except smtplib.SMTPResponseException as exc:
        message = f"{where} answered {exc.smtp_code} {_text(exc.smtp_error)}"
        if exc.smtp_code >= 500:
            raise PermanentDeliveryError(message) from None
        raise TemporaryDeliveryError(message) from None
    except outbound.BlockedDestination as exc:
        raise PermanentDeliveryError(f"SMTP server refused by the outbound policy: {exc}") from None
    except socket.gaierror:
        raise TemporaryDeliveryError(f"cannot resolve SMTP host {mailbox.smtp_host!r}") from None
    except (smtplib.SMTPException, OSError) as exc:
        raise TemporaryDeliveryError(f"cannot send through {where}: {type(exc).__name__}: {exc}") from None
    if refused:
        logger.warning("SMTP %s refused some recipients: %s", where, refused)


def _text(value: bytes | str) -> str:
    return (value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)).strip()[:300]
