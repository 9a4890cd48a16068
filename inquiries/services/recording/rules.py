"""The recording rules, each in one place.

Every way the engine records (new conversations in bulk, customers' replies in bulk, one
message with every lookup) decides with these functions and no others: what a message must
carry, who its customer is and what name they get, which earlier messages it names, when an
order id threads it, when it reopens or starts over, what a new inquiry holds, what a message
changes on its inquiry, and what its rows and events are. The clock rules live with the clocks
(`services.clocks`: opening, follow-up, catch-up, reply).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from enum import Enum
from zoneinfo import ZoneInfo

from django.conf import settings
from django.utils import timezone

from inquiries.ingestion.types import IncomingMessage, Rejected
from inquiries.models import (
    Attachment,
    Channel,
    Customer,
    Direction,
    EventKind,
    Inquiry,
    Message,
    Priority,
    Status,
    Topic,
    normalise_address,
)
from inquiries.services.bulk import unsaved

# "[#123]" in a subject; only honoured when the sender is that inquiry's customer.
TICKET_REF_RE = re.compile(r"\[#(\d{1,12})\]")
MAX_ATTACHMENT_BYTES = 25 * 1024 * 1024
# Back-filled history may be old, but not older than this: earlier instants are typos or
# hostile input, and near datetime.min the window arithmetic and the UTC conversion overflow.
EARLIEST_TIMESTAMP = datetime(2000, 1, 1, tzinfo=UTC)
ID_LIMITS = {"external_id": 255, "thread_id": 255, "in_reply_to": 255, "order_id": 100, "sku": 100}
ADDRESS_LIMIT = 320
NAME_LIMIT = 200
SUBJECT_LIMIT = 998
# In-Reply-To and References looked up per message: a long References header is cut here.
REFERENCES_LOOKED_UP = 50


# --- what a message must carry ------------------------------------------------------------------


def validate(*, channel: Channel, incoming: IncomingMessage, now: datetime) -> None:
    """Raise `Rejected` (the reason names the field) for a message that cannot be stored."""
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
        start = history_start(channel)
        if start is not None and received_at < start:
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
    if incoming.status and incoming.status not in Status.values:
        raise Rejected(f"status: not one of {', '.join(Status.values)}: {incoming.status[:60]!r}")
    solved_at = incoming.solved_at
    if solved_at is not None:
        if timezone.is_naive(solved_at):
            raise Rejected("solved_at: must include a UTC offset")
        if incoming.status and incoming.status not in CLOSING_STATUSES:
            raise Rejected(f"solved_at: given with status {incoming.status!r}; only solved or closed has one")
        if solved_at < (received_at or now):
            raise Rejected("solved_at: before the message's received_at")
        if solved_at > now + timedelta(seconds=settings.CSTRACKER_FUTURE_TOLERANCE_SECONDS):
            raise Rejected(
                f"solved_at: more than {settings.CSTRACKER_FUTURE_TOLERANCE_SECONDS} seconds in the future"
            )


CLOSING_STATUSES = (Status.SOLVED, Status.CLOSED)


def status_after(incoming: IncomingMessage, at: datetime) -> tuple[str, datetime] | None:
    """The status a message says its inquiry has after it, and since when: `solved_at` alone
    means solved; a status without `solved_at` took effect at the message's time `at`. None:
    the message says nothing about the status."""
    if not incoming.status and incoming.solved_at is None:
        return None
    return incoming.status or Status.SOLVED, incoming.solved_at or at


def history_start(channel: Channel) -> datetime | None:
    """The first instant the account keeps history for (midnight of its start day, its time zone)."""
    start = channel.account.history_starts_on
    if start is None:
        return None
    return datetime.combine(start, datetime.min.time(), tzinfo=ZoneInfo(channel.account.timezone))


def received_at(incoming: IncomingMessage, now: datetime) -> datetime:
    """When a message counts as received: the source's time, else the moment it is recorded."""
    return incoming.received_at or now


# --- who it is from ---------------------------------------------------------------------------------


def customer_key(channel: Channel, incoming: IncomingMessage) -> tuple[int, str] | None:
    """The customer a message is from (account, normalised address), None when it is not a customer's."""
    if incoming.direction != Direction.INBOUND or not incoming.sender_address:
        return None
    return channel.account_id, normalise_address(incoming.sender_address)[:ADDRESS_LIMIT]


def customer_name(incoming: IncomingMessage) -> str:
    """The name a message gives its sender."""
    return incoming.sender_name[:NAME_LIMIT]


def fills_name(stored: str, given: str) -> bool:
    """A customer keeps the first name they were given; a nameless one takes the next one given."""
    return not stored and bool(given)


def owner(channel: Channel, incoming: IncomingMessage) -> tuple[int, str] | None:
    """The customer whose earlier messages alone decide where a message goes, or None.

    A customer's message threads only with that customer's inquiries: In-Reply-To, a ticket
    reference and an order id all count only from the same customer (`find_thread` in
    `careful.py`). Not so for a message with an explicit thread id (which names a conversation
    whoever wrote it), one without a sender address or one that is not inbound: None.
    """
    return None if incoming.thread_id else customer_key(channel, incoming)


# --- what it names --------------------------------------------------------------------------------


def references(incoming: IncomingMessage) -> list[str]:
    """The message ids a message names, in the order they are tried: In-Reply-To first, then
    References from the newest; at most REFERENCES_LOOKED_UP."""
    return [r for r in (incoming.in_reply_to, *reversed(incoming.references)) if r][:REFERENCES_LOOKED_UP]


def newest_named(rows: list[tuple[datetime, int, int]]) -> int:
    """Of the stored messages a message names, as (received_at, position in `references()`,
    inquiry id) rows, the inquiry of the newest; on equal times the one named first (In-Reply-To
    before References). Never by row id: the engine's ways store messages in different orders."""
    return max(rows, key=lambda row: (row[0], -row[1]))[2]


def named_ids(incoming: IncomingMessage) -> list[str]:
    """Every message id a message names (to hold back a message named by an earlier one)."""
    return [r for r in (incoming.in_reply_to, *incoming.references) if r]


def awaited(incoming: IncomingMessage) -> tuple[list[str], str]:
    """What an agent's reply or note that finds no inquiry waits for (`held.py`): the message ids it
    names, as `references()` tries them, and its thread id ("" for none). A customer's message
    waits for nothing: it opens an inquiry."""
    if incoming.direction == Direction.INBOUND:
        return [], ""
    return list(dict.fromkeys(references(incoming))), incoming.thread_id


def ticket_reference(incoming: IncomingMessage) -> int | None:
    """The inquiry id a subject's "[#123]" names, if any."""
    match = TICKET_REF_RE.search(incoming.subject or "")
    return int(match.group(1)) if match else None


def order_thread_since(incoming: IncomingMessage, now: datetime) -> datetime:
    """A message with an order id joins its customer's inquiry about that order when the
    conversation was active after this instant (measured on the conversation's own time line,
    not the wall clock, so back-filled history threads exactly as it would have live)."""
    return received_at(incoming, now) - timedelta(days=settings.CSTRACKER_ORDER_THREAD_DAYS)


def needs_lookup(incoming: IncomingMessage) -> bool:
    """Whether threading a message may depend on stored messages other than by customer and order."""
    return (
        incoming.direction != Direction.INBOUND
        or incoming.automatic
        or bool(incoming.thread_id or incoming.in_reply_to or incoming.references)
        or ticket_reference(incoming) is not None
        # A status to apply after the message: the careful way applies it (`careful._record`).
        or bool(incoming.status or incoming.solved_at)
    )


def threads_by_reference_only(incoming: IncomingMessage) -> bool:
    """A customer's message that can only thread by the ids it names (In-Reply-To, References)."""
    return (
        incoming.direction == Direction.INBOUND
        and not incoming.automatic
        and not incoming.thread_id
        and bool(incoming.in_reply_to or incoming.references)
        and ticket_reference(incoming) is None
        and not (incoming.status or incoming.solved_at)
    )


# --- reopen or start over -----------------------------------------------------------------------


class Continuation(Enum):
    CONTINUE = "continue"
    REOPEN = "reopen"
    START_OVER = "start over"


def inquiry_at(inquiries: list[Inquiry], at: datetime) -> Inquiry | None:
    """Of one conversation's inquiries (oldest first: it started over after a close), the one a
    message of time `at` belongs to: the newest opened by then; the oldest for a message older
    than all of them (it arrived late, and opens the conversation when it is replayed)."""
    opened = [inquiry for inquiry in inquiries if inquiry.opened_at <= at]
    if opened:
        return opened[-1]
    return inquiries[0] if inquiries else None


def continuation(inquiry: Inquiry, incoming: IncomingMessage | Message, at: datetime) -> Continuation:
    """What a message found to belong to `inquiry` does to it.

    A customer's own message to a closed inquiry, or to one solved longer ago than the reopen
    window, starts a new inquiry (linked to it); one to an inquiry solved within the window
    reopens it; one written before the inquiry was solved joins it as it stands. Replies, notes
    and automatic mail just join.
    """
    if incoming.direction != Direction.INBOUND or incoming.automatic:
        return Continuation.CONTINUE
    if inquiry.solved_at is not None and at < inquiry.solved_at:
        # Written before it was solved (history arriving out of order): its place is before
        # the close, where the replay puts it (replay.py); it reopens nothing.
        return Continuation.CONTINUE
    if inquiry.status == Status.CLOSED:
        return Continuation.START_OVER
    if inquiry.status == Status.SOLVED:
        window = timedelta(days=settings.CSTRACKER_REOPEN_WINDOW_DAYS)
        if inquiry.solved_at is not None and at - inquiry.solved_at > window:
            return Continuation.START_OVER
        return Continuation.REOPEN
    return Continuation.CONTINUE


# --- the rows ---------------------------------------------------------------------------------------


def classify(incoming: IncomingMessage, *, account_id: int) -> tuple[Topic | None, str]:
    """A new inquiry's topic (by the account's model, if it has one) and where it came from
    ("" without a topic)."""
    from inquiries.selectors import topics

    topic, source = topics.topic_for_text(
        incoming.topic_text(), hint=incoming.topic_hint, account_id=account_id
    )
    return topic, source if topic is not None else ""


def new_inquiry(
    *,
    channel: Channel,
    customer: Customer,
    incoming: IncomingMessage,
    at: datetime,
    now: datetime,
    previous: Inquiry | None = None,
) -> Inquiry:
    """The unsaved inquiry a customer's message opens, classified; its policy and clocks follow."""
    topic, source = classify(incoming, account_id=channel.account_id)
    inquiry = unsaved(
        Inquiry,
        account_id=channel.account_id,
        channel=channel,
        customer=customer,
        subject=incoming.subject[:SUBJECT_LIMIT],
        order_id=incoming.order_id,
        sku=incoming.sku,
        thread_key=incoming.thread_id,
        previous=previous,
        opened_at=at,
        last_inbound_at=at,
        updated_at=max(now, at),
        topic=topic,
        topic_source=source,
        status=Status.NEW,
        priority=Priority.NORMAL,
    )
    inquiry.account = channel.account  # already loaded with the channel: saves a query per message
    return inquiry


# Every column `inquiry_changes` may set for a customer's message.
CHANGED_BY_CUSTOMER = ("updated_at", "last_inbound_at", "status", "solved_at", "order_id", "sku")


def inquiry_changes(
    *, inquiry: Inquiry, message: Message, reopened: bool, now: datetime
) -> dict[str, object]:
    """The columns a message stored on an existing inquiry changes, with their new values."""
    changes: dict[str, object] = {"updated_at": max(now, message.received_at)}
    if message.automatic or message.direction == Direction.NOTE:
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
    return changes


def message_row(
    *, channel: Channel, inquiry: Inquiry | None, incoming: IncomingMessage, at: datetime
) -> Message:
    """The unsaved Message row for an incoming message."""
    return unsaved(
        Message,
        channel=channel,
        inquiry=inquiry,
        direction=Direction(incoming.direction),
        automatic=incoming.automatic,
        automatic_reason=incoming.automatic_reason[:200],
        external_id=incoming.external_id,
        thread_id=incoming.thread_id,
        in_reply_to=incoming.in_reply_to,
        references=list(incoming.references[:100]),
        sender_address=normalise_address(incoming.sender_address)[:ADDRESS_LIMIT],
        sender_name=customer_name(incoming),
        subject=incoming.subject[:SUBJECT_LIMIT],
        body_text=incoming.body_text,
        body_html=incoming.body_html,
        sent_at=_plausible(incoming.sent_at),
        received_at=at,
        raw=incoming.raw,
        order_id=incoming.order_id,
        sku=incoming.sku,
        parse_notes=list(incoming.notes[:20]),
        **_status_columns(incoming, at),
    )


def _status_columns(incoming: IncomingMessage, at: datetime) -> dict[str, object]:
    after = status_after(incoming, at)
    return {"status_after": after[0], "status_at": after[1]} if after else {}


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


def message_event_kind(message: Message) -> str:
    """The timeline event a stored message writes."""
    if message.automatic:
        return EventKind.AUTOMATIC_RECEIVED
    return {
        Direction.INBOUND: EventKind.MESSAGE_RECEIVED,
        Direction.OUTBOUND: EventKind.REPLY_SENT,
        Direction.NOTE: EventKind.NOTE_ADDED,
    }[Direction(message.direction)]
