"""Every write in cstracker goes through a function here.

`record_message()` is the one write path for all sources (API, e-mail, CSV, webhook):
dedupe, thread, store, classify, run the clocks and write events, in one transaction.
Follow-up work (clusters, notifications) is queued after commit; if the broker is
down the message is still stored and the periodic sweeps catch up.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from inquiries.ingestion.limits import bounded
from inquiries.ingestion.types import IncomingMessage, Rejected
from inquiries.models import (
    Attachment,
    Channel,
    Customer,
    Direction,
    EventKind,
    Inquiry,
    InquiryEvent,
    Message,
    Status,
    normalise_address,
)
from inquiries.services import clocks, queue

logger = logging.getLogger(__name__)

# "[#123]" in a subject; only honoured when the sender is that inquiry's customer.
TICKET_REF_RE = re.compile(r"\[#(\d{1,12})\]")
MAX_ATTACHMENT_BYTES = 25 * 1024 * 1024
# Back-filled history may be old, but not older than this: earlier instants are typos or
# hostile input, and near datetime.min the window arithmetic and the UTC conversion overflow.
EARLIEST_TIMESTAMP = datetime(2000, 1, 1, tzinfo=UTC)
ID_LIMITS = {"external_id": 255, "thread_id": 255, "in_reply_to": 255, "order_id": 100, "sku": 100}


@dataclass(frozen=True, slots=True)
class RecordResult:
    message: Message
    created: bool

    @property
    def inquiry_id(self) -> int | None:
        return self.message.inquiry_id


# --- recording messages ----------------------------------------------------------------


def record_message(
    *, channel: Channel, incoming: IncomingMessage, now: datetime | None = None, unseen: bool = False
) -> RecordResult:
    """Store one message exactly once per (channel, external_id) and thread it.

    Returns the stored message and whether this call created it. Raises `Rejected`
    for input that cannot be stored (the reason names the field). `unseen` says the caller
    has just looked the external id up and not found it (the batch path): the unique
    constraint still catches a writer that stored it since.
    """
    now = now or timezone.now()
    incoming = bounded(incoming)
    _validate(channel=channel, incoming=incoming, now=now)
    existing = None if unseen else _existing(channel, incoming.external_id)
    if existing is not None:
        return RecordResult(existing, created=False)
    try:
        with transaction.atomic():
            message = _record(channel=channel, incoming=incoming, now=now)
    except IntegrityError:
        # Two requests raced on the same external id: the database kept one row.
        existing = _existing(channel, incoming.external_id)
        if existing is None:
            raise
        return RecordResult(existing, created=False)
    return RecordResult(message, created=True)


def _existing(channel: Channel, external_id: str) -> Message | None:
    return Message.objects.filter(channel=channel, external_id=external_id).first()


def _validate(*, channel: Channel, incoming: IncomingMessage, now: datetime) -> None:
    if not channel.is_active:
        raise Rejected(f"channel: {channel.slug} is inactive")
    if not incoming.external_id:
        raise Rejected("external_id: required")
    # Identifiers are matched exactly, so they are refused rather than cut to their columns
    # (PostgreSQL would fail the whole transaction on an over-long value).
    for name, limit in ID_LIMITS.items():
        if len(getattr(incoming, name)) > limit:
            raise Rejected(f"{name}: at most {limit} characters")
    received_at = incoming.received_at
    if received_at is not None:
        if timezone.is_naive(received_at):
            raise Rejected("received_at: must include a UTC offset")
        if received_at < EARLIEST_TIMESTAMP:
            raise Rejected(f"received_at: must not be before {EARLIEST_TIMESTAMP:%Y-%m-%d}")
        history_start = _history_start(channel)
        if history_start is not None and received_at < history_start:
            raise Rejected(
                f"received_at: before the account's history starts ({channel.account.history_starts_on:%Y-%m-%d}); "
                "an admin can move the start on the account"
            )
        tolerance = timedelta(seconds=settings.CSTRACKER_FUTURE_TOLERANCE_SECONDS)
        if received_at > now + tolerance:
            raise Rejected(
                f"received_at: more than {settings.CSTRACKER_FUTURE_TOLERANCE_SECONDS} seconds in the future"
            )
    if incoming.direction == Direction.INBOUND and not incoming.automatic and not incoming.sender_address:
        raise Rejected("sender: a customer message needs a sender address")


def _history_start(channel: Channel) -> datetime | None:
    start = channel.account.history_starts_on
    if start is None:
        return None
    return datetime.combine(start, datetime.min.time(), tzinfo=ZoneInfo(channel.account.timezone))


def _record(*, channel: Channel, incoming: IncomingMessage, now: datetime) -> Message:
    received_at = incoming.received_at or now
    direction = Direction(incoming.direction)
    customer = None
    if direction == Direction.INBOUND and incoming.sender_address:
        customer = _customer(channel, incoming)
    inquiry = _thread(channel=channel, incoming=incoming, customer=customer)
    opened = reopened = False
    previous = None
    if inquiry is not None and direction == Direction.INBOUND and not incoming.automatic:
        if inquiry.status == Status.CLOSED or (
            inquiry.status == Status.SOLVED
            and inquiry.solved_at is not None
            and received_at - inquiry.solved_at > timedelta(days=settings.CSTRACKER_REOPEN_WINDOW_DAYS)
        ):
            previous, inquiry = inquiry, None
        elif inquiry.status == Status.SOLVED:
            reopened = True
    if inquiry is None:
        if direction != Direction.INBOUND:
            raise Rejected(
                "in_reply_to: no inquiry to attach this reply or note to (give thread_id or in_reply_to)"
            )
        if incoming.automatic:
            # Bounces and auto-replies that match nothing are kept for audit but open nothing.
            return _store_message(channel=channel, inquiry=None, incoming=incoming, received_at=received_at)
        assert customer is not None
        inquiry = Inquiry.objects.create(
            account_id=channel.account_id,
            channel=channel,
            customer=customer,
            subject=incoming.subject[:998],
            order_id=incoming.order_id,
            sku=incoming.sku,
            thread_key=incoming.thread_id,
            previous=previous,
            opened_at=received_at,
            updated_at=now,
        )
        inquiry.account = channel.account  # already loaded with the channel: saves a query per message
        opened = True

    message = _store_message(channel=channel, inquiry=inquiry, incoming=incoming, received_at=received_at)
    events: list[InquiryEvent] = []
    if opened:
        data = {"previous_inquiry": previous.pk} if previous else {}
        events.append(
            InquiryEvent(
                inquiry=inquiry, kind=EventKind.INQUIRY_OPENED, at=received_at, message=message, data=data
            )
        )
    if reopened:
        events.append(
            InquiryEvent(
                inquiry=inquiry,
                kind=EventKind.INQUIRY_REOPENED,
                at=received_at,
                message=message,
                data={"from_status": inquiry.status},
            )
        )
    events.append(
        InquiryEvent(inquiry=inquiry, kind=_message_event_kind(message), at=received_at, message=message)
    )

    # A customer's follow-up ends with the clocks writing the inquiry's deadline copy: the
    # inquiry's own changes ride along in that UPDATE.
    follow_up = not opened and message.direction == Direction.INBOUND and not message.automatic
    changes = _update_inquiry_after_message(
        inquiry=inquiry, message=message, reopened=reopened, opened=opened, now=now, write=not follow_up
    )
    if opened:
        _classify(inquiry=inquiry, message=message)
    clocks.on_message(
        inquiry=inquiry,
        message=message,
        now=now,
        opened=opened,
        earlier=events,
        inquiry_changes=changes if follow_up else None,
    )
    if message.direction == Direction.INBOUND and not message.automatic:
        queue.enqueue_after_commit("after_customer_message", message.pk)
    return message


def _customer(channel: Channel, incoming: IncomingMessage) -> Customer:
    address = normalise_address(incoming.sender_address)[:320]
    customer, created = Customer.objects.get_or_create(
        account_id=channel.account_id, address=address, defaults={"name": incoming.sender_name[:200]}
    )
    if not created and incoming.sender_name and not customer.name:
        Customer.objects.filter(pk=customer.pk).update(name=incoming.sender_name[:200])
    return customer


def _thread(*, channel: Channel, incoming: IncomingMessage, customer: Customer | None) -> Inquiry | None:
    """Find the inquiry a message belongs to, by the rules in order; None means a new one."""
    inquiries = Inquiry.objects.select_related("customer", "account")
    # 1. An explicit conversation id from the source.
    if incoming.thread_id:
        found = (
            inquiries.filter(channel=channel, thread_key=incoming.thread_id).order_by("-opened_at").first()
        )
        if found is None:
            found = _inquiry_of_message(
                Message.objects.filter(channel=channel, thread_id=incoming.thread_id, inquiry__isnull=False)
            )
        if found is not None:
            return found
    # 2. E-mail In-Reply-To / References naming a stored message of this channel. A customer's
    # message only joins an inquiry of the same customer: a reply from another address must
    # never land in someone else's conversation.
    refs = [r for r in (incoming.in_reply_to, *reversed(incoming.references)) if r]
    if refs:
        candidates = Message.objects.filter(channel=channel, external_id__in=refs[:50], inquiry__isnull=False)
        if customer is not None:
            candidates = candidates.filter(inquiry__customer=customer)
        found = _inquiry_of_message(candidates)
        if found is not None:
            return found
    if customer is None:
        return None
    # 3. A ticket reference in the subject, honoured only from that inquiry's customer.
    match = TICKET_REF_RE.search(incoming.subject or "")
    if match:
        found = inquiries.filter(
            pk=int(match.group(1)), customer=customer, channel__account_id=channel.account_id
        ).first()
        if found is not None:
            return found
    # 4. The same order from the same customer within the threading window, measured on the
    # conversation's own time line (not updated_at, which is the wall-clock time of the last
    # write): a back-filled history must thread exactly as it would have live.
    if incoming.order_id:
        since = (incoming.received_at or timezone.now()) - timedelta(
            days=settings.CSTRACKER_ORDER_THREAD_DAYS
        )
        found = (
            inquiries.filter(customer=customer, order_id=incoming.order_id)
            .filter(Q(last_inbound_at__gte=since) | Q(last_reply_at__gte=since))
            .order_by("-opened_at")
            .first()
        )
        if found is not None:
            return found
    return None


def _inquiry_of_message(messages: object) -> Inquiry | None:
    message = (
        messages.select_related("inquiry__customer", "inquiry__account").order_by("-received_at").first()
    )  # type: ignore[attr-defined]
    return message.inquiry if message is not None else None


def _store_message(
    *, channel: Channel, inquiry: Inquiry | None, incoming: IncomingMessage, received_at: datetime
) -> Message:
    message = message_row(channel=channel, inquiry=inquiry, incoming=incoming, received_at=received_at)
    message.save(force_insert=True)
    Attachment.objects.bulk_create(attachment_rows(message, incoming))
    return message


def message_row(
    *, channel: Channel, inquiry: Inquiry | None, incoming: IncomingMessage, received_at: datetime
) -> Message:
    """The unsaved Message row for an incoming message: one place for the field rules.

    `record_message()` saves it alone, the batch path in bulk.
    """
    return Message(
        channel=channel,
        inquiry=inquiry,
        direction=Direction(incoming.direction),
        automatic=incoming.automatic,
        automatic_reason=incoming.automatic_reason[:200],
        external_id=incoming.external_id,
        thread_id=incoming.thread_id,
        in_reply_to=incoming.in_reply_to,
        references=list(incoming.references[:100]),
        sender_address=normalise_address(incoming.sender_address)[:320],
        sender_name=incoming.sender_name[:200],
        subject=incoming.subject[:998],
        body_text=incoming.body_text,
        body_html=incoming.body_html,
        sent_at=_plausible(incoming.sent_at),
        received_at=received_at,
        raw=incoming.raw,
        order_id=incoming.order_id[:100],
        sku=incoming.sku[:100],
        parse_notes=list(incoming.notes[:20]),
    )


def attachment_rows(message: Message, incoming: IncomingMessage) -> list[Attachment]:
    """Unsaved attachment rows of a stored message; content over the size cap is not kept."""
    return [
        Attachment(
            message=message,
            filename=a.filename[:255],
            content_type=a.content_type[:255],
            size=a.size,
            content_id=a.content_id[:255],
            inline=a.inline,
            content=a.content if a.content is not None and len(a.content) <= MAX_ATTACHMENT_BYTES else None,
        )
        for a in incoming.attachments
    ]


def _plausible(claimed: datetime | None) -> datetime | None:
    """The sender's claimed date is informative only: a naive or absurd one is dropped, not fatal."""
    if claimed is None or timezone.is_naive(claimed) or claimed < EARLIEST_TIMESTAMP:
        return None
    return claimed


def _message_event_kind(message: Message) -> str:
    if message.automatic:
        return EventKind.AUTOMATIC_RECEIVED
    return {
        Direction.INBOUND: EventKind.MESSAGE_RECEIVED,
        Direction.OUTBOUND: EventKind.REPLY_SENT,
        Direction.NOTE: EventKind.NOTE_ADDED,
    }[Direction(message.direction)]


def _update_inquiry_after_message(
    *, inquiry: Inquiry, message: Message, reopened: bool, opened: bool, now: datetime, write: bool = True
) -> dict[str, object]:
    """Set the inquiry's timestamps, status and ids after a message; returns the changes.

    With `write=False` the caller writes them (in a later UPDATE of the same transaction).
    """
    changes: dict[str, object] = {"updated_at": max(now, message.received_at)}
    if message.automatic or message.direction == Direction.NOTE:
        if write:
            Inquiry.objects.filter(pk=inquiry.pk).update(**changes)
        return changes
    at = message.received_at
    if message.direction == Direction.INBOUND:
        if inquiry.last_inbound_at is None or at > inquiry.last_inbound_at:
            changes["last_inbound_at"] = at
        if reopened or inquiry.status == Status.PENDING:
            changes["status"] = Status.OPEN
            changes["solved_at"] = None
        if not inquiry.order_id and message.order_id:
            changes["order_id"] = message.order_id
        if not inquiry.sku and message.sku:
            changes["sku"] = message.sku
    else:
        if inquiry.last_reply_at is None or at > inquiry.last_reply_at:
            changes["last_reply_at"] = at
        if inquiry.status == Status.NEW:
            changes["status"] = Status.OPEN
    if not opened and "status" in changes and changes["status"] != inquiry.status:
        InquiryEvent.objects.create(
            inquiry=inquiry,
            kind=EventKind.STATUS_CHANGED,
            at=at,
            message=message,
            data={"from": inquiry.status, "to": changes["status"]},
        )
    for field, value in changes.items():
        setattr(inquiry, field, value)
    if write:
        Inquiry.objects.filter(pk=inquiry.pk).update(**changes)
    return changes


def _classify(*, inquiry: Inquiry, message: Message) -> None:
    from inquiries.complaints import topics

    topic, source = topics.topic_for_text(f"{message.subject}\n{message.body_text}")
    if topic is not None:
        Inquiry.objects.filter(pk=inquiry.pk).update(topic=topic, topic_source=source)
        inquiry.topic = topic
        inquiry.topic_source = source
