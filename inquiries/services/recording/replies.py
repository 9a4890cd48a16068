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
    Channel,
    Clock,
    ClockKind,
    ClockState,
    Customer,
    Inquiry,
    InquiryEvent,
    Message,
    SlaPolicy,
    Status,
)
from inquiries.services import clocks, documents
from inquiries.services.bulk import insert_rows, insert_values, update_rows
from inquiries.services.queue import enqueue_after_commit
from inquiries.services.recording import rules
from inquiries.services.recording.careful import RecordResult
from inquiries.services.recording.conversations import write_messages

# The inquiry columns a follow-up sets, in one UPDATE for the whole run.
_INQUIRY_FIELDS = (*rules.CHANGED_BY_CUSTOMER, *clocks.URGENCY_FIELDS)


@dataclass
class _FollowUp:
    index: int
    channel: Channel
    incoming: IncomingMessage
    at: datetime
    inquiry: Inquiry
    policy: SlaPolicy
    clocks: list[Clock]
    started: list[Clock] = field(default_factory=list)
    caught_up: list[dict[str, object]] = field(default_factory=list)


# A stored message a follow-up names: (channel id, external id, inquiry id, the inquiry's
# customer id, received at, id).
_Named = tuple[int, str, int, int, datetime, int]
_Entry = tuple[int, Channel, IncomingMessage]


def record(
    items: Sequence[tuple[Channel, IncomingMessage]], run: Sequence[int], *, now: datetime
) -> dict[int, RecordResult] | None:
    """Record the longest leading part of `run` (indices into `items`, in input order, each
    qualifying and not stored yet) that this path can take; the results by index.

    Empty when the first one must go the careful way; None when another writer stored one of
    these ids meanwhile (nothing was written: record them one by one).
    """
    messages: list[Message] = []
    try:
        with transaction.atomic():  # what is decided is written in the same transaction
            follow_ups = _leading_follow_ups(items, run, now=now)
            if follow_ups:
                messages = _write(follow_ups, now=now)
    except IntegrityError:
        return None
    return {
        f.index: RecordResult(message, created=True) for f, message in zip(follow_ups, messages, strict=True)
    }


def _leading_follow_ups(
    items: Sequence[tuple[Channel, IncomingMessage]], run: Sequence[int], *, now: datetime
) -> list[_FollowUp]:
    entries = [(index, *items[index]) for index in run]
    # The leading part whose threads are known from the messages they name; the inquiries and
    # clocks are then read for that part only (the rest is read again by the next run).
    targets = _leading_targets(entries)
    inquiries, clocks_of = _inquiries_with_clocks(set(targets.values()))

    policy_set = clocks.active_policy_set()
    taken: list[_FollowUp] = []
    for index, channel, incoming in entries:
        if index not in targets:
            break
        inquiry = inquiries[targets[index]]
        at = incoming.received_at or now
        existing = clocks_of[inquiry.pk]
        policy = policy_set.policies.get(inquiry.sla_policy_id) if inquiry.sla_policy_id is not None else None
        if (
            inquiry.status not in (Status.NEW, Status.OPEN)
            or policy is None
            or all(c.kind != ClockKind.RESOLUTION for c in existing)
            or clocks.resolution_stands_still(existing)
            or (inquiry.last_reply_at is not None and inquiry.last_reply_at >= at)  # back-filled
            or (inquiry.last_inbound_at is not None and inquiry.last_inbound_at >= at)  # out of order
            or rules.fills_name(inquiry.customer.name, rules.customer_name(incoming))
        ):
            break
        taken.append(_FollowUp(index, channel, incoming, at, inquiry, policy, existing))
    return taken


def _leading_targets(entries: list[_Entry]) -> dict[int, int]:
    """The inquiry each of the leading entries threads to (by index), as far as the stored
    messages they name tell it: up to the first that names none of its customer's, names a
    message of this run, or threads to an inquiry an earlier one of the run threads to."""
    customers = _customer_ids(entries)
    references = {index: rules.references(incoming) for index, _, incoming in entries}
    by_reference = _named_messages(entries, references)
    targets: dict[int, int] = {}
    threads: set[int] = set()
    pending_ids: set[tuple[int, str]] = set()
    for index, channel, incoming in entries:
        key = rules.customer_key(channel, incoming)
        customer = customers.get(key) if key is not None else None
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
    return targets


def _named_messages(
    entries: list[_Entry], references: dict[int, list[str]]
) -> dict[tuple[int, str], list[_Named]]:
    """Every stored message any of the entries names, with its inquiry's customer, by (channel
    id, external id): one query."""
    named = Message.objects.filter(
        channel_id__any={channel.pk for _, channel, _ in entries},
        external_id__any={ref for refs in references.values() for ref in refs},
        inquiry__isnull=False,
    ).values_list("channel_id", "external_id", "inquiry_id", "inquiry__customer_id", "received_at", "id")
    by_reference: dict[tuple[int, str], list[_Named]] = {}
    for row in named:
        by_reference.setdefault((row[0], row[1]), []).append(row)
    return by_reference


def _inquiries_with_clocks(pks: set[int]) -> tuple[dict[int, Inquiry], dict[int, list[Clock]]]:
    """The inquiries (with account and customer) and their clocks that are not cancelled, in id order."""
    inquiries = {
        inquiry.pk: inquiry
        for inquiry in Inquiry.objects.select_related("account", "customer").filter(pk__any=pks)
    }
    clocks_of: dict[int, list[Clock]] = {pk: [] for pk in inquiries}
    for clock in (
        Clock.objects.filter(inquiry_id__any=inquiries).exclude(state=ClockState.CANCELLED).order_by("id")
    ):
        clocks_of[clock.inquiry_id].append(clock)
    return inquiries, clocks_of


def _customer_ids(entries: list[_Entry]) -> dict[tuple[int, str], int]:
    keys = {
        key for _, channel, incoming in entries if (key := rules.customer_key(channel, incoming)) is not None
    }
    accounts = {account for account, _ in keys}
    addresses = {address for _, address in keys}
    return {
        (account, address): pk
        for account, address, pk in Customer.objects.filter(account_id__any=accounts, address__any=addresses)
        .order_by()
        .values_list("account_id", "address", "id")
    }


def _write(follow_ups: list[_FollowUp], *, now: datetime) -> list[Message]:
    """Write the follow-ups (inside the caller's transaction); their messages, in order."""
    policy_set = clocks.active_policy_set()
    catch_up = clocks.CatchUp()
    messages: list[Message] = []
    for f in follow_ups:
        inquiry = f.inquiry
        message = rules.message_row(channel=f.channel, inquiry=inquiry, incoming=f.incoming, at=f.at)
        f.caught_up = catch_up.apply(f.clocks, f.at)
        # Also stamps the marketplace deadline on the message before it is written.
        f.started = clocks.follow_up_clocks(
            inquiry=inquiry,
            message=message,
            policy=f.policy,
            policy_set=policy_set,
            existing=f.clocks,
            at=f.at,
        )
        changes = rules.inquiry_changes(inquiry=inquiry, message=message, reopened=False, now=now)
        assert "status" not in changes  # a new or open inquiry keeps its status
        for name, value in changes.items():
            setattr(inquiry, name, value)
        clocks.apply_urgency(inquiry, [*f.clocks, *f.started])
        messages.append(message)
    # Each message's words reach its inquiry's document with the inquiry's UPDATE below.
    write_messages(messages, [f.incoming for f in follow_ups])
    catch_up.write()
    insert_rows(Clock, [clock for f in follow_ups for clock in f.started])
    events: list[dict[str, object]] = []
    for f, message in zip(follow_ups, messages, strict=True):  # in the order the careful way writes them
        events.append(
            {
                "inquiry_id": f.inquiry.pk,
                "message_id": message.pk,
                "at": f.at,
                "kind": rules.message_event_kind(message),
            }
        )
        events += f.caught_up
        events += clocks.started_event_values(f.started)
    insert_values(InquiryEvent, events)
    seeds = documents.seed_columns([f.incoming.body_text for f in follow_ups])
    update_rows(Inquiry, [f.inquiry for f in follow_ups], _INQUIRY_FIELDS, extra=seeds)
    enqueue_after_commit("after_customer_messages", [message.pk for message in messages])
    return messages
