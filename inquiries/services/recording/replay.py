"""Conversations applied in their own time order, whatever order their messages arrived in.

Exports and integrations bring a conversation's messages in any order: a file written newest
first, a reply in a later file than the follow-up after it, a closing row before the messages
it closes. Every rule of the engine reads the inquiry as it stands when a message arrives (is a
reply clock running, is the inquiry solved), so a message applied after a later one of its
conversation would be judged against a future it did not see: a late reply stopping the clock
of a follow-up sent after it, a follow-up sent before the close reopening the closed inquiry.

So the engine checks, at the end of every call, whether a message it stored landed in an
inquiry behind a later one (`out_of_order`), and for each such inquiry applies all of its
messages again in their own order (`replay`): the inquiry's columns, clocks, answered times and
recording events are put back to before its first message, then each message is applied by the
careful way's own `apply_message`, in (received_at, external id) order, the opening customer
message first. The outcome is what recording the conversation in time order gives.

Only conversations nobody has worked on are replayed: an inquiry with an action by a person
(an event with an actor: a status set, a reply sent from cstracker, "no response needed") keeps
what the incremental rules gave, since those actions happened at the time they happened and
are not messages to apply again. Such an inquiry is logged.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime

from django.db import transaction
from django.db.models import Q

from inquiries.ingestion.types import Direction as IncomingDirection
from inquiries.ingestion.types import IncomingMessage
from inquiries.models import Clock, Direction, EventKind, Inquiry, InquiryEvent, Message, Status
from inquiries.services import clocks, documents
from inquiries.services.recording import behind, careful, rules
from inquiries.services.recording.rules import Continuation

logger = logging.getLogger(__name__)

# The events recording writes for messages (besides the clocks' own, which go with the clocks).
_RECORDING_EVENTS = (
    EventKind.INQUIRY_OPENED,
    EventKind.INQUIRY_REOPENED,
    EventKind.MESSAGE_RECEIVED,
    EventKind.REPLY_SENT,
    EventKind.NOTE_ADDED,
    EventKind.AUTOMATIC_RECEIVED,
    EventKind.STATUS_CHANGED,
)


def replay_out_of_order(inquiry_ids: Iterable[int], *, now: datetime) -> int:
    """`replay` each of these inquiries whose messages were stored out of their time order.
    Returns how many were replayed."""
    replayed = 0
    for inquiry_id in behind.out_of_order(inquiry_ids):
        replayed += replay(inquiry_id, now=now)
    return replayed


@transaction.atomic
def replay(inquiry_id: int, *, now: datetime) -> bool:
    """Apply an inquiry's messages again in their time order (see the module's docstring).
    False when it was left as it is: worked on by a person, or gone."""
    inquiry = (
        Inquiry.objects.select_for_update(of=("self",))
        .select_related("account", "channel__account", "customer")
        .filter(pk=inquiry_id)
        .first()
    )
    if inquiry is None:
        return False
    if InquiryEvent.objects.filter(inquiry=inquiry, actor__isnull=False).exists():
        logger.info(
            "inquiry %s: messages arrived out of time order after a person acted on it; kept as recorded",
            inquiry_id,
        )
        return False
    messages = sorted(inquiry.messages.all(), key=behind.time_order)
    openers = [m for m in messages if m.direction == Direction.INBOUND and not m.automatic]
    if not openers:
        return False
    opener = openers[0]
    # Back to before the first message: no clocks, no recording events, nothing answered.
    Clock.objects.filter(inquiry=inquiry).delete()
    InquiryEvent.objects.filter(inquiry=inquiry).filter(
        Q(kind__in=_RECORDING_EVENTS) | Q(kind__startswith="clock_")
    ).delete()
    Message.objects.filter(inquiry=inquiry).update(answered_at=None, response_due_at=None)
    for message in messages:
        message.answered_at = None
        message.response_due_at = None
    _reset(inquiry, opener, arrived_first=min(m.pk for m in messages) == opener.pk, now=now)

    careful.apply_message(inquiry=inquiry, message=opener, now=now, opened=True, reopened=False)
    rest = [message for message in messages if message is not opener]
    for position, message in enumerate(rest):
        step = Continuation.CONTINUE
        if behind.applies(message):
            step = rules.continuation(inquiry, message, message.received_at)
        if step == Continuation.START_OVER:
            # In its own order the conversation started over here, after the close: this message
            # and the ones after it belong to the inquiry it started over in.
            _start_over(inquiry, rest[position:], now=now)
            break
        careful.apply_message(
            inquiry=inquiry, message=message, now=now, opened=False, reopened=step == Continuation.REOPEN
        )
    return True


def _start_over(inquiry: Inquiry, messages: list[Message], *, now: datetime) -> None:
    """Move `messages` (time order, a customer's first) to the inquiry the conversation started
    over in after `inquiry` (made now if there is none yet), and replay that one."""
    later = careful.successor(inquiry)
    if later is None:
        first = messages[0]
        later = rules.new_inquiry(
            channel=first.channel,
            customer=inquiry.customer,
            incoming=_as_incoming(first),
            at=first.received_at,
            now=now,
            previous=inquiry,
        )
        later.sla_policy = clocks.select_policy(later)
        later.save(force_insert=True)
    Message.objects.filter(pk__in=[message.pk for message in messages]).update(inquiry=later)
    InquiryEvent.objects.filter(inquiry=inquiry, message__in=messages).update(inquiry=later)
    replay(later.pk, now=now)
    documents.rebuild([inquiry.pk, later.pk])  # each searchable by the words it holds now


def _as_incoming(message: Message) -> IncomingMessage:
    """What a new inquiry's columns and topic are made from, from a stored message."""
    return IncomingMessage(
        external_id=message.external_id,
        direction=IncomingDirection(message.direction),
        sender_address=message.sender_address,
        sender_name=message.sender_name,
        subject=message.subject,
        body_text=message.body_text,
        thread_id=message.thread_id,
        order_id=message.order_id,
        sku=message.sku,
    )


def _reset(inquiry: Inquiry, opener: Message, *, arrived_first: bool, now: datetime) -> None:
    """The inquiry's columns as its opening message sets them (`rules.new_inquiry`), keeping
    what is not the messages' (assignee, team, tags, priority, the linked order)."""
    at = opener.received_at
    columns: dict[str, object] = {
        "subject": opener.subject[: rules.SUBJECT_LIMIT],
        "opened_at": at,
        "last_inbound_at": at,
        "last_reply_at": None,
        "solved_at": None,
        "status": Status.NEW,
        "updated_at": max(now, at),
        **clocks.urgency_of(()),
    }
    if not arrived_first:
        # Another message opened it on arrival: the topic is the real opener's.
        columns["topic"], columns["topic_source"] = rules.classify(
            _as_incoming(opener), account_id=inquiry.account_id
        )
    for field, value in columns.items():
        setattr(inquiry, field, value)
    policy = clocks.select_policy(inquiry)
    inquiry.sla_policy = policy
    Inquiry.objects.filter(pk=inquiry.pk).update(**columns, sla_policy=policy)
