"""Customers' replies in bulk: the engine's way for follow-ups that thread by In-Reply-To.

A customer's reply to an inquiry that is still new or open is the commonest message of an
import after a new conversation, and one by one it costs a dozen queries. Here a run of them
is recorded with a handful of statements for the whole run, by the rules of `rules.py`: the
same thread (the newest stored message the references name, of the same customer), the same
clock transitions (`clocks.CatchUp`), the same clocks started (`clocks.follow_up_clocks`), the
same events and inquiry columns (`rules.inquiry_changes`).

Only what comes down to "append to this new or open inquiry and run its reply clocks" is
taken: a reopen, a pending inquiry, a reply that names no stored message of its customer, an
inquiry without its policy or resolution clock, back-filled history with a later agent
reply, a customer whose name is still to be filled in... go the careful way (`careful.py`),
as does anything after them in input order until the next run starts (`record()` takes the
longest leading part of a run that qualifies, so the order of effects is that of the input).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from django.db import IntegrityError, transaction

from inquiries.ingestion.types import IncomingMessage
from inquiries.models import (
    Attachment,
    Channel,
    Clock,
    ClockKind,
    ClockState,
    Customer,
    Inquiry,
    InquiryEvent,
    Message,
    Status,
)
from inquiries.services import clocks, documents
from inquiries.services.bulk import insert_rows, insert_values, update_rows
from inquiries.services.queue import enqueue_after_commit
from inquiries.services.recording import rules
from inquiries.services.recording.careful import RecordResult

# The inquiry columns a follow-up sets, in one UPDATE for the whole run.
_INQUIRY_FIELDS = (*rules.CHANGED_BY_CUSTOMER, *clocks.URGENCY_FIELDS)


@dataclass
class _FollowUp:
    index: int
    channel: Channel
    incoming: IncomingMessage
    at: datetime
    inquiry: Inquiry
    clocks: list[Clock]
    message: Message | None = None
    started: list[Clock] = field(default_factory=list)
    caught_up: list[dict[str, object]] = field(default_factory=list)


def record(
    items: Sequence[tuple[Channel, IncomingMessage]], run: Sequence[int], *, now: datetime
) -> dict[int, RecordResult] | None:
    """Record the longest leading part of `run` (indices into `items`, in input order, each
    qualifying and not stored yet) that this path can take; the results by index.

    Empty when the first one must go the careful way; None when another writer stored one of
    these ids meanwhile (nothing was written: record them one by one).
    """
    try:
        with transaction.atomic():  # what is decided is written in the same transaction
            follow_ups = _leading_follow_ups(items, run, now=now)
            if follow_ups:
                _write(follow_ups, now=now)
    except IntegrityError:
        return None
    return {f.index: RecordResult(f.message, created=True) for f in follow_ups}  # type: ignore[arg-type]


def _leading_follow_ups(
    items: Sequence[tuple[Channel, IncomingMessage]], run: Sequence[int], *, now: datetime
) -> list[_FollowUp]:
    entries = [(index, *items[index]) for index in run]
    customers = _customer_ids(entries)
    references = {index: rules.references(incoming) for index, _, incoming in entries}
    # Every stored message any of them names, with its inquiry's customer: one query.
    named = Message.objects.filter(
        channel_id__any={channel.pk for _, channel, _ in entries},
        external_id__any={ref for refs in references.values() for ref in refs},
        inquiry__isnull=False,
    ).values_list("channel_id", "external_id", "inquiry_id", "inquiry__customer_id", "received_at", "id")
    by_reference: dict[tuple[int, str], list[tuple]] = {}
    for row in named:
        by_reference.setdefault((row[0], row[1]), []).append(row)
    # The leading part whose threads are known from these rows alone; the inquiries and
    # clocks are then read for that part only (the rest is read again by the next run).
    targets: dict[int, int] = {}
    threads: set[int] = set()
    pending_ids: set[tuple[int, str]] = set()
    for index, channel, incoming in entries:
        customer = customers.get(rules.customer_key(channel, incoming))  # type: ignore[arg-type]
        if customer is None:
            break  # a new customer: nothing of theirs to thread to
        if any((channel.pk, ref) in pending_ids for ref in references[index]):
            break  # names a message of this run, not stored yet
        candidates = [
            (row[4], position, row[2])
            for position, ref in enumerate(references[index])
            for row in by_reference.get((channel.pk, ref), ())
            if row[3] == customer
        ]
        if not candidates:
            break
        target = rules.newest_named(candidates)
        if target in threads:
            break  # each waits for the one before it on the same inquiry
        targets[index] = target
        threads.add(target)
        pending_ids.add((channel.pk, incoming.external_id))
    inquiries = {
        inquiry.pk: inquiry
        for inquiry in Inquiry.objects.select_related("account", "customer").filter(
            pk__any=set(targets.values())
        )
    }
    clocks_of: dict[int, list[Clock]] = {pk: [] for pk in inquiries}
    for clock in (
        Clock.objects.filter(inquiry_id__any=inquiries).exclude(state=ClockState.CANCELLED).order_by("id")
    ):
        clocks_of[clock.inquiry_id].append(clock)

    policy_set = clocks.active_policy_set()
    taken: list[_FollowUp] = []
    for index, channel, incoming in entries:
        if index not in targets:
            break
        inquiry = inquiries[targets[index]]
        at = incoming.received_at or now
        existing = clocks_of[inquiry.pk]
        if (
            inquiry.status not in (Status.NEW, Status.OPEN)
            or policy_set.policies.get(inquiry.sla_policy_id) is None  # type: ignore[arg-type]
            or all(c.kind != ClockKind.RESOLUTION for c in existing)
            or clocks.resolution_stands_still(existing)
            or (inquiry.last_reply_at is not None and inquiry.last_reply_at >= at)  # back-filled
            or (inquiry.last_inbound_at is not None and inquiry.last_inbound_at >= at)  # out of order
            or rules.fills_name(inquiry.customer.name, rules.customer_name(incoming))
        ):
            break
        taken.append(_FollowUp(index, channel, incoming, at, inquiry, existing))
    return taken


def _customer_ids(entries: list[tuple[int, Channel, IncomingMessage]]) -> dict[tuple[int, str], int]:
    keys = {rules.customer_key(channel, incoming) for _, channel, incoming in entries}
    accounts = {account for account, _ in keys}  # type: ignore[misc]
    addresses = {address for _, address in keys}  # type: ignore[misc]
    return {
        (account, address): pk
        for account, address, pk in Customer.objects.filter(account_id__any=accounts, address__any=addresses)
        .order_by()
        .values_list("account_id", "address", "id")
    }


def _write(follow_ups: list[_FollowUp], *, now: datetime) -> None:
    policy_set = clocks.active_policy_set()
    catch_up = clocks.CatchUp()
    for f in follow_ups:
        inquiry = f.inquiry
        f.message = rules.message_row(channel=f.channel, inquiry=inquiry, incoming=f.incoming, at=f.at)
        f.caught_up = catch_up.apply(f.clocks, f.at)
        policy = policy_set.policies[inquiry.sla_policy_id]  # type: ignore[index]
        # Also stamps the marketplace deadline on the message before it is written.
        f.started = clocks.follow_up_clocks(
            inquiry=inquiry,
            message=f.message,
            policy=policy,
            policy_set=policy_set,
            existing=f.clocks,
            at=f.at,
        )
        changes = rules.inquiry_changes(inquiry=inquiry, message=f.message, reopened=False, now=now)
        assert "status" not in changes  # a new or open inquiry keeps its status
        for name, value in changes.items():
            setattr(inquiry, name, value)
        clocks.apply_urgency(inquiry, [*f.clocks, *f.started])
    # Each message's words reach its inquiry's document with the inquiry's UPDATE below.
    with documents.words_seeded():
        insert_rows(Message, [f.message for f in follow_ups])  # type: ignore[misc]
    insert_rows(Attachment, [row for f in follow_ups for row in rules.attachment_rows(f.message, f.incoming)])  # type: ignore[arg-type]
    catch_up.write()
    insert_rows(Clock, [clock for f in follow_ups for clock in f.started])
    events: list[dict[str, object]] = []
    for f in follow_ups:  # in the order the careful way writes them
        events.append(
            {
                "inquiry_id": f.inquiry.pk,
                "message_id": f.message.pk,
                "at": f.at,
                "kind": rules.message_event_kind(f.message),
            }
        )
        events += f.caught_up
        events += clocks.started_event_values(f.started)
    insert_values(InquiryEvent, events)
    seeds = documents.seed_columns([f.incoming.body_text for f in follow_ups])
    update_rows(Inquiry, [f.inquiry for f in follow_ups], _INQUIRY_FIELDS, extra=seeds)
    enqueue_after_commit("after_customer_messages", [f.message.pk for f in follow_ups])  # type: ignore[union-attr]
