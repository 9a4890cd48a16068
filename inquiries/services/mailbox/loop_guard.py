"""Recording incoming mail through the loop guard: `record_mail()` hands each message to the
recording engine (`record_message()`, a list of one); a sender who floods a mailbox is suspended,
and their further mail is stored as automatic ("loop guard: sender suspended") so it starts no
clock, kept for review. Copies of our own sent mail are told apart (`SentMailSkipped`).
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from inquiries.ingestion.email import recipients, sent_reply
from inquiries.ingestion.types import Direction, IncomingMessage, Rejected
from inquiries.models import (
    Channel,
    ChannelKind,
    Message,
    SuspendedSender,
    normalise_address,
)
from inquiries.services.recording import Held, RecordResult, record_message, rules

logger = logging.getLogger(__name__)

LOOP_GUARD_REASON = "loop guard: sender suspended"


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
