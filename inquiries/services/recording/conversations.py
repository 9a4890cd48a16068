"""New conversations in bulk: the engine's way for messages that open an inquiry.

A customer's message that names nothing (no thread id, In-Reply-To, References or ticket
reference) opens a new inquiry unless its order id threads it to one of the customer's: the
common case of an import. Here a group of them is written set-based: one query to find the
customers, a handful of bulk writes (COPY on PostgreSQL) for inquiries, messages, clocks and
events, by the rules of `rules.py` and the clock rules of `services.clocks`. A message whose
customer already has an inquiry about its order goes the careful way (`careful.py`), which
measures the order-threading window.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from inquiries.ingestion.types import IncomingMessage
from inquiries.models import Attachment, Channel, Clock, Customer, EventKind, Inquiry, InquiryEvent, Message
from inquiries.services import clocks, documents
from inquiries.services.bulk import insert_rows, insert_values
from inquiries.services.queue import enqueue_after_commit
from inquiries.services.recording import rules


@dataclass
class Opening:
    """One message that opens an inquiry, and the rows built for it."""

    index: int
    channel: Channel
    incoming: IncomingMessage
    at: datetime
    customer: Customer | None = None  # set by `write`
    message: Message | None = None  # set by `write` when it writes the opening


def write(
    openings: list[Opening], careful: list[int], now: datetime, names: dict[tuple[int, str], str]
) -> None:
    """Write the openings (inside the caller's transaction); those that must go the careful way
    are moved to `careful` (by index) and dropped from `openings`."""
    _attach_customers(openings, names)
    openings[:] = _without_order_follow_ups(openings, careful)
    if not openings:
        return
    policy_set = clocks.active_policy_set()
    inquiries: list[Inquiry] = []
    messages: list[Message] = []
    new_clocks: list[Clock] = []
    for item in openings:
        inquiry = rules.new_inquiry(
            channel=item.channel,
            customer=_customer_of(item),
            incoming=item.incoming,
            at=item.at,
            now=now,
        )
        inquiry.sla_policy = clocks.select_policy(inquiry, policy_set)
        message = rules.message_row(channel=item.channel, inquiry=inquiry, incoming=item.incoming, at=item.at)
        item.message = message
        opening = clocks.opening_clocks(inquiry=inquiry, message=message, policy_set=policy_set, at=item.at)
        clocks.apply_urgency(inquiry, opening)  # the inquiry's INSERT carries its nearest deadline
        inquiries.append(inquiry)
        messages.append(message)
        new_clocks += opening
    # Each inquiry's row carries its message's words for the search document (documents.py).
    seeds = documents.seed_columns([item.incoming.body_text for item in openings])
    insert_rows(Inquiry, inquiries, extra=seeds)
    # The messages and clocks above were built on unsaved inquiries: their foreign keys are
    # read from the related objects at INSERT time, after these got their ids.
    write_messages(messages, [item.incoming for item in openings])
    insert_rows(Clock, new_clocks)

    # Events are only written, never read back here: column values, no model instances.
    events: list[dict[str, object]] = []
    for item, inquiry, message in zip(openings, inquiries, messages, strict=True):
        row = {"inquiry_id": inquiry.pk, "message_id": message.pk, "at": item.at}
        events.append({**row, "kind": EventKind.INQUIRY_OPENED})
        events.append({**row, "kind": rules.message_event_kind(message)})
    events += clocks.started_event_values(new_clocks)
    insert_values(InquiryEvent, events)
    enqueue_after_commit("after_customer_messages", [message.pk for message in messages])


def write_messages(messages: list[Message], incomings: list[IncomingMessage]) -> None:
    """INSERT the messages a bulk way built (each with its words seeded for its inquiry's search
    document, `documents.py`) and their attachments; `incomings`: what each was built from."""
    with documents.words_seeded():
        insert_rows(Message, messages)
    insert_rows(
        Attachment,
        [
            row
            for message, incoming in zip(messages, incomings, strict=True)
            for row in rules.attachment_rows(message, incoming)
        ],
    )


def _customer_key(item: Opening) -> tuple[int, str]:
    key = rules.customer_key(item.channel, item.incoming)
    # The engine sends only customers' messages this way, and `rules.validate` makes each carry
    # its sender's address: every one has a customer.
    assert key is not None
    return key


def _customer_of(item: Opening) -> Customer:
    assert item.customer is not None  # set by `_attach_customers` for every opening
    return item.customer


def _attach_customers(openings: list[Opening], names: dict[tuple[int, str], str]) -> None:
    """Each message's customer, created (or given a name it lacked) with `names`."""
    keys = [_customer_key(item) for item in openings]
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
        if rules.fills_name(customer.name, names.get(key, "")):
            customer.name = names[key]
            Customer.objects.filter(pk=customer.pk, name="").update(name=customer.name)
    for item, key in zip(openings, keys, strict=True):
        item.customer = known[key]


def _without_order_follow_ups(openings: list[Opening], careful: list[int]) -> list[Opening]:
    """Same customer and order id as a stored inquiry: the careful way decides (by the threading
    window, which a message earlier in the batch may move) whether it is a follow-up."""
    with_order = [item for item in openings if item.incoming.order_id]
    if not with_order:
        return openings
    existing = set(
        Inquiry.objects.filter(
            customer_id__any={_customer_of(item).pk for item in with_order},
            order_id__any={item.incoming.order_id for item in with_order},
        ).values_list("customer_id", "order_id")
    )
    keep, opened = [], set()
    for item in openings:
        key = (_customer_of(item).pk, item.incoming.order_id)
        if item.incoming.order_id and (key in existing or key in opened):
            careful.append(item.index)
            continue
        if item.incoming.order_id:
            opened.add(key)
        keep.append(item)
    return keep
