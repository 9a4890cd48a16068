"""One message with every lookup: the engine's way for whatever the bulk ways do not take.

Dedupe, thread by the README's rules in order, customer, reopen or start over, store, the
inquiry's columns, clocks and events, in one transaction, by the rules of `rules.py`. Follow-up
work (clusters, notifications) is queued after commit; if the broker is down the message is
still stored and the periodic sweeps catch up. An agent's reply or note that finds no inquiry
but names a message or thread that may still arrive is held (`held.py`), and recorded here
(`attach`) when that parent arrives.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import datetime

from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet

from inquiries.ingestion.types import IncomingMessage, Rejected, incoming_from_json
from inquiries.models import (
    Attachment,
    Channel,
    Customer,
    Direction,
    EventKind,
    HeldMessage,
    HeldState,
    Inquiry,
    InquiryEvent,
    Message,
)
from inquiries.services import actions, clocks, queue
from inquiries.services.recording import behind, held, rules
from inquiries.services.recording.held import Held
from inquiries.services.recording.rules import Continuation

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class RecordResult:
    message: Message
    created: bool

    @property
    def inquiry_id(self) -> int | None:
        return self.message.inquiry_id


class Unthreaded(Exception):
    """An agent's reply or note that finds no inquiry but names what may still arrive: held."""


def record_one(
    *, channel: Channel, incoming: IncomingMessage, now: datetime, unseen: bool = False
) -> RecordResult | Held:
    """Store one validated message exactly once per (channel, external_id) and thread it; or
    hold it until its parent arrives (`held.py`).

    `unseen` says the caller has just looked the external id up, among stored and held
    messages, and not found it: the unique constraints still catch a writer that stored it since.
    """
    if not unseen:
        existing = _existing(channel, incoming.external_id)
        if existing is not None:
            return RecordResult(existing, created=False)
        copy = held.held_copy(channel, incoming.external_id)
        if copy is not None:
            return copy
    try:
        with transaction.atomic():
            message = _record(channel=channel, incoming=incoming, now=now)
    except Unthreaded:
        return held.hold(channel=channel, incoming=incoming, now=now)
    except IntegrityError:
        # Two requests raced on the same external id: the database kept one row.
        existing = _existing(channel, incoming.external_id)
        if existing is None:
            raise
        return RecordResult(existing, created=False)
    return RecordResult(message, created=True)


def attach(row: HeldMessage, *, now: datetime) -> Message | None:
    """Record a held message now that a message it waits for is stored, by every rule and at its
    own receipt time; mark it attached. None when it still finds no inquiry (it stays held), was
    taken by another writer meanwhile, or is refused now (discarded, with the reason)."""
    channel = row.channel
    incoming = incoming_from_json(row.incoming)
    if incoming.received_at is None:  # it counts as received when it was held
        incoming = replace(incoming, received_at=row.received_at)
    try:
        with transaction.atomic():
            # The claim: a concurrent attacher of the same row waits here, then finds it taken.
            if not HeldMessage.objects.filter(pk=row.pk, state=HeldState.HELD).update(
                state=HeldState.ATTACHED, closed_at=now
            ):
                return None
            rules.validate(channel=channel, incoming=incoming, now=now)
            message = _record(channel=channel, incoming=incoming, now=now)
            HeldMessage.objects.filter(pk=row.pk).update(message=message)
    except Unthreaded:
        return None
    except Rejected as exc:
        HeldMessage.objects.filter(pk=row.pk, state=HeldState.HELD).update(
            state=HeldState.DISCARDED,
            closed_at=now,
            reason=f"refused when its parent arrived: {exc.reason}"[:500],
        )
        logger.warning(
            "Held %s on %s refused when its parent arrived: %s", row.external_id, channel.slug, exc.reason
        )
        return None
    except IntegrityError:
        # A message with its id was stored meanwhile (a race: a copy of a held id is its
        # duplicate, never recorded): that one is it.
        stored = _existing(channel, incoming.external_id)
        if stored is None:
            raise
        HeldMessage.objects.filter(pk=row.pk, state=HeldState.HELD).update(
            state=HeldState.ATTACHED, closed_at=now, message=stored
        )
        return stored
    return message


def _existing(channel: Channel, external_id: str) -> Message | None:
    return Message.objects.filter(channel=channel, external_id=external_id).first()


def _record(*, channel: Channel, incoming: IncomingMessage, now: datetime) -> Message:
    at = rules.received_at(incoming, now)
    key = rules.customer_key(channel, incoming)
    customer = _customer(channel, incoming, key) if key else None
    inquiry = find_thread(channel=channel, incoming=incoming, customer=customer, now=now)
    previous = None
    reopened = False
    if inquiry is not None:
        step = rules.continuation(inquiry, incoming, at)
        if step == Continuation.START_OVER:
            # The conversation may have started over already, after this message in time (it
            # arrived late): it joins that inquiry, and takes its place there (replay.py).
            later = successor(inquiry)
            if later is not None and at < later.opened_at:
                inquiry, step = later, Continuation.CONTINUE
            else:
                previous, inquiry = inquiry, None
        reopened = step == Continuation.REOPEN
    opened = inquiry is None
    if inquiry is None:
        if incoming.direction != Direction.INBOUND:
            ids, thread = rules.awaited(incoming)
            if ids or thread:
                raise Unthreaded  # its parent may still arrive: held
            raise Rejected(held.NO_INQUIRY)
        if incoming.automatic:
            # Bounces and auto-replies that match nothing are kept for audit but open nothing.
            return _store_message(channel=channel, inquiry=None, incoming=incoming, at=at)
        assert customer is not None
        inquiry = rules.new_inquiry(
            channel=channel, customer=customer, incoming=incoming, at=at, now=now, previous=previous
        )
        inquiry.sla_policy = clocks.select_policy(inquiry)
        inquiry.save(force_insert=True)

    message = _store_message(channel=channel, inquiry=inquiry, incoming=incoming, at=at)
    apply_message(
        inquiry=inquiry, message=message, now=now, opened=opened, reopened=reopened, previous=previous
    )
    if message.direction == Direction.INBOUND and not message.automatic:
        queue.enqueue_after_commit("after_customer_message", message.pk)
    return message


def apply_message(
    *,
    inquiry: Inquiry,
    message: Message,
    now: datetime,
    opened: bool,
    reopened: bool,
    previous: Inquiry | None = None,
) -> None:
    """Everything a stored message does to its inquiry: its timeline events, the inquiry's
    columns, the clocks, and the status its source gave the conversation after it. `opened`:
    the inquiry is new for it (following `previous`); `reopened`: it reopens a solved one.
    The careful way calls it for a message just stored, the replay (`replay.py`) for each
    message of a conversation again in time order."""
    if not opened:
        behind.note_if_behind(inquiry, message)
    events = _message_events(
        inquiry=inquiry, message=message, opened=opened, reopened=reopened, previous=previous
    )
    # A customer's follow-up ends with the clocks writing the inquiry's deadline copy: the
    # inquiry's own changes ride along in that UPDATE.
    follow_up = not opened and message.direction == Direction.INBOUND and not message.automatic
    changes = (
        None
        if opened
        else _apply_changes(inquiry=inquiry, message=message, reopened=reopened, now=now, write=not follow_up)
    )
    clocks.on_message(
        inquiry=inquiry,
        message=message,
        now=now,
        opened=opened,
        earlier=events,
        inquiry_changes=changes if follow_up else None,
    )
    if message.status_after:
        # History from an export or a helpdesk: the inquiry stands as the source left it, at the
        # time it says (the resolution clock met or missed then, not at the import), through
        # the one status-change service.
        changed = actions.change_status(
            inquiry=inquiry, status=message.status_after, actor=None, now=now, at=message.status_at
        )
        inquiry.status, inquiry.solved_at = changed.status, changed.solved_at  # for what follows


def _message_events(
    *, inquiry: Inquiry, message: Message, opened: bool, reopened: bool, previous: Inquiry | None
) -> list[InquiryEvent]:
    """The unsaved timeline events of a message: opened or reopened its inquiry, then the message's own."""
    at = message.received_at
    events: list[InquiryEvent] = []
    if opened:
        data = {"previous_inquiry": previous.pk} if previous else {}
        events.append(
            InquiryEvent(inquiry=inquiry, kind=EventKind.INQUIRY_OPENED, at=at, message=message, data=data)
        )
    if reopened:
        events.append(
            InquiryEvent(
                inquiry=inquiry,
                kind=EventKind.INQUIRY_REOPENED,
                at=at,
                message=message,
                data={"from_status": inquiry.status},
            )
        )
    events.append(
        InquiryEvent(inquiry=inquiry, kind=rules.message_event_kind(message), at=at, message=message)
    )
    return events


def successor(inquiry: Inquiry) -> Inquiry | None:
    """The inquiry the same conversation (thread id) started over in after `inquiry`, if any."""
    if not inquiry.thread_key:
        return None
    return (
        Inquiry.objects.select_related("customer", "account")
        .filter(previous=inquiry, thread_key=inquiry.thread_key, channel_id=inquiry.channel_id)
        .order_by("opened_at", "pk")
        .first()
    )


def _customer(channel: Channel, incoming: IncomingMessage, key: tuple[int, str]) -> Customer:
    """The message's customer (`key`: its `rules.customer_key`), made or given the name it lacked."""
    account_id, address = key
    customer, created = Customer.objects.get_or_create(
        account_id=account_id, address=address, defaults={"name": rules.customer_name(incoming)}
    )
    if not created and rules.fills_name(customer.name, rules.customer_name(incoming)):
        customer.name = rules.customer_name(incoming)
        Customer.objects.filter(pk=customer.pk).update(name=customer.name)
    return customer


def find_thread(
    *, channel: Channel, incoming: IncomingMessage, customer: Customer | None, now: datetime
) -> Inquiry | None:
    """Find the inquiry a message belongs to, by the rules in order; None means a new one."""
    inquiries = Inquiry.objects.select_related("customer", "account")
    # 1. An explicit conversation id from the source.
    if incoming.thread_id:
        found = rules.inquiry_at(
            list(
                inquiries.filter(channel=channel, thread_key=incoming.thread_id).order_by("opened_at", "pk")
            ),
            rules.received_at(incoming, now),
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
    refs = rules.references(incoming)
    if refs:
        candidates = Message.objects.filter(channel=channel, external_id__in=refs, inquiry__isnull=False)
        if customer is not None:
            candidates = candidates.filter(inquiry__customer=customer)
        rows = [
            (at, refs.index(external_id), inquiry_id)
            for external_id, at, inquiry_id in candidates.values_list(
                "external_id", "received_at", "inquiry_id"
            )
        ]
        if rows:
            return inquiries.get(pk=rules.newest_named(rows))
    if customer is None:
        return None
    # 3. A ticket reference in the subject, honoured only from that inquiry's customer.
    ticket = rules.ticket_reference(incoming)
    if ticket is not None:
        found = inquiries.filter(pk=ticket, customer=customer, channel__account_id=channel.account_id).first()
        if found is not None:
            return found
    # 4. The same order from the same customer within the threading window.
    if incoming.order_id:
        since = rules.order_thread_since(incoming, now)
        found = (
            inquiries.filter(customer=customer, order_id=incoming.order_id)
            .filter(Q(last_inbound_at__gte=since) | Q(last_reply_at__gte=since))
            .order_by("-opened_at")
            .first()
        )
        if found is not None:
            return found
    return None


def _inquiry_of_message(messages: QuerySet[Message]) -> Inquiry | None:
    """The inquiry of the newest of a thread id's messages (every message with a thread id is
    recorded the careful way, so their ids follow the input order whichever way the rest went)."""
    message = (
        messages.select_related("inquiry__customer", "inquiry__account")
        .order_by("-received_at", "-id")
        .first()
    )
    return message.inquiry if message is not None else None


def _store_message(
    *, channel: Channel, inquiry: Inquiry | None, incoming: IncomingMessage, at: datetime
) -> Message:
    message = rules.message_row(channel=channel, inquiry=inquiry, incoming=incoming, at=at)
    message.save(force_insert=True)
    Attachment.objects.bulk_create(rules.attachment_rows(message, incoming))
    return message


def _apply_changes(
    *, inquiry: Inquiry, message: Message, reopened: bool, now: datetime, write: bool
) -> dict[str, object]:
    """Apply a message's changes to its existing inquiry (`rules.inquiry_changes`), with the
    status-change event; with `write=False` the caller writes the columns (in a later UPDATE
    of the same transaction)."""
    changes = rules.inquiry_changes(inquiry=inquiry, message=message, reopened=reopened, now=now)
    if "status" in changes and changes["status"] != inquiry.status:
        InquiryEvent.objects.create(
            inquiry=inquiry,
            kind=EventKind.STATUS_CHANGED,
            at=message.received_at,
            message=message,
            data={"from": inquiry.status, "to": changes["status"]},
        )
    for field, value in changes.items():
        setattr(inquiry, field, value)
    if write:
        Inquiry.objects.filter(pk=inquiry.pk).update(**changes)
    return changes
