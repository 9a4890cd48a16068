"""Recording many messages at once: the batch API and the importers.

The rules are exactly those of `record_message()`; only the cost differs. Messages that
open a new inquiry and need no lookup of an earlier message (the common case of an
import) are written set-based: one query to dedupe, one to find customers, a handful of
bulk writes (COPY on PostgreSQL) for inquiries, messages, clocks and events, all in one
transaction. Every other message then goes in input order, after the bulk part committed:
runs of customers' replies to new or open inquiries set-based as well (`follow_ups.py`),
everything else (reopens, follow-ups by order id, automatic mail, outbound) through
`record_message()` one by one.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from django.db import IntegrityError, transaction
from django.utils import timezone

from inquiries.ingestion.limits import bounded
from inquiries.ingestion.types import Direction, IncomingMessage, Rejected
from inquiries.models import (
    Attachment,
    Channel,
    Clock,
    Customer,
    EventKind,
    Inquiry,
    InquiryEvent,
    Message,
    Priority,
    Status,
    normalise_address,
)
from inquiries.services import clocks, documents, follow_ups
from inquiries.services.bulk import insert_rows, insert_values
from inquiries.services.messages import (
    TICKET_REF_RE,
    RecordResult,
    _validate,
    attachment_rows,
    message_row,
    record_message,
)
from inquiries.services.queue import enqueue_after_commit
from inquiries.sla.policies import InquiryFacts, pick

logger = logging.getLogger(__name__)

Outcome = RecordResult | Rejected


@dataclass
class _New:
    """One message of the fast path and the rows built for it."""

    index: int
    channel: Channel
    incoming: IncomingMessage
    received_at: datetime
    customer: Customer | None = None
    inquiry: Inquiry | None = None
    message: Message | None = None


def record_batch(
    *, items: Sequence[tuple[Channel, IncomingMessage]], now: datetime | None = None
) -> list[Outcome]:
    """Record every item; the result list is in input order (a result or the rejection)."""
    now = now or timezone.now()
    items = [(channel, bounded(incoming)) for channel, incoming in items]
    results: list[Outcome | None] = [None] * len(items)
    slow: list[int] = []
    fresh: list[_New] = []
    # The orders whose inquiries the careful path may open, or give that order id, before a
    # later message is threaded by it: (customer by account and address, order id); customer
    # None when the message may land in anyone's inquiry (an agent's reply, a thread id).
    touched: set[tuple[tuple[int, str] | None, str]] = set()
    # The messages the careful path will look up (channel, external id): one listed later
    # must not be stored ahead of the message that names it, which one by one finds nothing.
    named: set[tuple[int, str]] = set()
    for index, (channel, incoming) in enumerate(items):
        try:
            _validate(channel=channel, incoming=incoming, now=now)
        except Rejected as exc:
            results[index] = exc
            continue
        who = owner(channel, incoming)
        order = incoming.order_id
        # A message with an order id waits for the earlier ones that go the careful way with
        # the same order: one may open the inquiry of that order, which it must then join, as
        # one by one it would. (Inquiries stored before the batch: `_follow_ups_by_order`.)
        if (
            _needs_lookup(incoming)
            or (order and ((who, order) in touched or (None, order) in touched))
            or (channel.pk, incoming.external_id) in named
        ):
            slow.append(index)
            if order:
                touched.add((who, order))
            named.update((channel.pk, ref) for ref in (incoming.in_reply_to, *incoming.references) if ref)
        else:
            fresh.append(_New(index, channel, incoming, incoming.received_at or now))

    # Every clock of the batch is decided by the policies as they were at its start.
    with clocks.one_policy_set():
        stored = _stored_keys(
            [items[index] for index in slow] + [(item.channel, item.incoming) for item in fresh]
        )
        # An id's first occurrence in the batch is the one recorded; later ones are answered
        # as duplicates, in input order, by the careful path.
        first_of_key: dict[tuple[int, str], int] = {}
        for index, (channel, incoming) in enumerate(items):
            first_of_key.setdefault((channel.pk, incoming.external_id), index)

        def unseen(index: int) -> bool:
            channel, incoming = items[index]
            key = (channel.pk, incoming.external_id)
            return first_of_key[key] == index and key not in stored

        # Each customer's first name among the messages to store: the name a customer created
        # here, or nameless before, gets, as one by one (`messages._customer`).
        names: dict[tuple[int, str], str] = {}
        for index, (channel, incoming) in enumerate(items):
            key = customer_key(channel, incoming)
            if key is not None and incoming.sender_name and results[index] is None and unseen(index):
                names.setdefault(key, incoming.sender_name[:200])
        slow += [item.index for item in fresh if not unseen(item.index)]
        fresh = [item for item in fresh if unseen(item.index)]
        if fresh:
            try:
                with transaction.atomic():
                    _write_new_inquiries(fresh, slow, now, names)
            except IntegrityError:
                # Another writer stored one of these ids meanwhile: the careful path sorts it out.
                logger.info("batch fast path raced with another writer; recording one by one")
                slow.extend(item.index for item in fresh)
                fresh = []
            for item in fresh:
                if item.message is not None:
                    results[item.index] = RecordResult(item.message, created=True)
        # The rest in input order; ids neither stored before the batch nor earlier in it need
        # no second lookup.
        queue = sorted(slow)
        position = 0
        while position < len(queue):
            # Customers' follow-ups to open inquiries, a run at a time (follow_ups.py) ...
            run = []
            for index in queue[position:]:
                if not (unseen(index) and follow_ups.qualifies(items[index][1])):
                    break
                run.append(index)
            done = follow_ups.record(items, run, now=now) if len(run) > 1 else {}
            if done:
                for index, result in done.items():
                    results[index] = result
                position += len(done)
                continue
            # ... and whatever that path does not take, one by one: the next message, or the
            # whole run if another writer stored one of its ids meanwhile.
            one_by_one = run if done is None else queue[position : position + 1]
            for index in one_by_one:
                channel, incoming = items[index]
                try:
                    results[index] = record_message(
                        channel=channel, incoming=incoming, now=now, unseen=unseen(index)
                    )
                except Rejected as exc:
                    results[index] = exc
                position += 1
    return [r if r is not None else Rejected("internal: not recorded") for r in results]


def _needs_lookup(incoming: IncomingMessage) -> bool:
    """Whether threading this message may depend on stored messages other than by customer+order."""
    return (
        incoming.direction != Direction.INBOUND
        or incoming.automatic
        or bool(incoming.thread_id or incoming.in_reply_to or incoming.references)
        or TICKET_REF_RE.search(incoming.subject or "") is not None
    )


def customer_key(channel: Channel, incoming: IncomingMessage) -> tuple[int, str] | None:
    """The customer a message is from (account, address), None when it is not a customer's."""
    if incoming.direction != Direction.INBOUND or not incoming.sender_address:
        return None
    return channel.account_id, normalise_address(incoming.sender_address)[:320]


def owner(channel: Channel, incoming: IncomingMessage) -> tuple[int, str] | None:
    """The customer whose earlier messages alone decide where a message goes, or None.

    A customer's message threads only with that customer's inquiries: In-Reply-To, a ticket
    reference and an order id all count only from the same customer (`messages._thread`).
    Not so for a message with an explicit thread id (which names a conversation whoever
    wrote it), one without a sender address or one that is not inbound: None.
    """
    return None if incoming.thread_id else customer_key(channel, incoming)


def _stored_keys(items: Sequence[tuple[Channel, IncomingMessage]]) -> set[tuple[int, str]]:
    """The (channel id, external id) pairs among `items` already stored: one query."""
    if not items:
        return set()
    return set(
        Message.objects.filter(
            channel_id__any={channel.pk for channel, _ in items},
            external_id__any={incoming.external_id for _, incoming in items},
        ).values_list("channel_id", "external_id")
    )


def _attach_customers(fresh: list[_New], names: dict[tuple[int, str], str]) -> None:
    """Each message's customer, created (or given a name it lacked) with `names`."""
    keys = [customer_key(item.channel, item.incoming) for item in fresh]  # all inbound, with a sender
    wanted = set(keys)
    accounts = {account for account, _ in wanted}
    addresses = {address for _, address in wanted}

    def load() -> dict[tuple[int, str], Customer]:
        return {
            (c.account_id, c.address): c
            for c in Customer.objects.filter(account_id__any=accounts, address__any=addresses).order_by()
        }

    known = load()
    missing = [
        Customer(account_id=account, address=address, name=names.get((account, address), ""))
        for account, address in wanted
        if (account, address) not in known
    ]
    if missing:
        Customer.objects.bulk_create(missing, ignore_conflicts=True)
        known = load()
    for key, customer in known.items():
        if not customer.name and names.get(key):
            customer.name = names[key]
            Customer.objects.filter(pk=customer.pk, name="").update(name=customer.name)
    for item, key in zip(fresh, keys, strict=True):
        item.customer = known[key]  # type: ignore[index]


def _follow_ups_by_order(fresh: list[_New], slow: list[int]) -> list[_New]:
    """Same customer and order id as a stored inquiry: the careful path decides (by the threading
    window, which a message earlier in the batch may move) whether it is a follow-up."""
    with_order = [item for item in fresh if item.incoming.order_id]
    if not with_order:
        return fresh
    existing = set(
        Inquiry.objects.filter(
            customer_id__any={item.customer.pk for item in with_order},  # type: ignore[union-attr]
            order_id__any={item.incoming.order_id for item in with_order},
        ).values_list("customer_id", "order_id")
    )
    keep, opened = [], set()
    for item in fresh:
        key = (item.customer.pk, item.incoming.order_id)  # type: ignore[union-attr]
        if item.incoming.order_id and (key in existing or key in opened):
            slow.append(item.index)
            continue
        if item.incoming.order_id:
            opened.add(key)
        keep.append(item)
    return keep


def _write_new_inquiries(
    fresh: list[_New], slow: list[int], now: datetime, names: dict[tuple[int, str], str]
) -> None:
    from inquiries.complaints import topics

    _attach_customers(fresh, names)
    fresh[:] = _follow_ups_by_order(fresh, slow)
    if not fresh:
        return
    policy_set = clocks._policy_set()
    new_clocks: list[Clock] = []
    for item in fresh:
        incoming = item.incoming
        topic, source = topics.topic_for_text(incoming.topic_text(), hint=incoming.topic_hint)
        inquiry = Inquiry(
            account_id=item.channel.account_id,
            channel=item.channel,
            customer=item.customer,
            subject=incoming.subject[:998],
            order_id=incoming.order_id[:100],
            sku=incoming.sku[:100],
            opened_at=item.received_at,
            last_inbound_at=item.received_at,
            updated_at=max(now, item.received_at),
            topic=topic,
            topic_source=source if topic else "",
            status=Status.NEW,
            priority=Priority.NORMAL,
        )
        policy_id = pick(
            policy_set.rules,
            InquiryFacts(
                account_id=inquiry.account_id,
                channel_id=item.channel.pk,
                topic_id=topic.pk if topic else None,
                priority=inquiry.priority,
                customer_tags=item.customer.tags or (),  # type: ignore[union-attr]
            ),
        )
        inquiry.sla_policy = policy_set.policies.get(policy_id) if policy_id else None
        inquiry.account = item.channel.account
        item.inquiry = inquiry
        item.message = message_row(
            channel=item.channel, inquiry=inquiry, incoming=item.incoming, received_at=item.received_at
        )
        opening = clocks.opening_clocks(
            inquiry=inquiry, message=item.message, policy_set=policy_set, at=item.received_at
        )
        clocks.apply_urgency(inquiry, opening)  # the inquiry's INSERT carries its nearest deadline
        new_clocks += opening
    # Each inquiry's row carries its message's words for the search document (documents.py).
    seeds = documents.seed_columns([item.incoming.body_text for item in fresh])
    insert_rows(Inquiry, [item.inquiry for item in fresh], extra=seeds)  # type: ignore[misc]
    # The messages and clocks above were built on unsaved inquiries: their foreign keys are
    # read from the related objects at INSERT time, after these got their ids.
    with documents.words_seeded():
        insert_rows(Message, [item.message for item in fresh])  # type: ignore[misc]
    insert_rows(
        Attachment,
        [
            row
            for item in fresh
            for row in attachment_rows(item.message, item.incoming)  # type: ignore[arg-type]
        ],
    )
    # Each clock's message and inquiry got their ids in the INSERTs above.
    insert_rows(Clock, new_clocks)

    # Events are only written, never read back here: column values, no model instances.
    events: list[dict[str, object]] = []
    for item in fresh:
        row = {"inquiry_id": item.inquiry.pk, "message_id": item.message.pk, "at": item.received_at}  # type: ignore[union-attr]
        events.append({**row, "kind": EventKind.INQUIRY_OPENED})
        events.append({**row, "kind": EventKind.MESSAGE_RECEIVED})
    events += clocks.started_event_values(new_clocks)
    insert_values(InquiryEvent, events)
    enqueue_after_commit("after_customer_messages", [item.message.pk for item in fresh])  # type: ignore[union-attr]
