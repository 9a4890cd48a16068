"""The recording engine: every message of every source is recorded by `record_messages()`.

`record_messages(items)` takes a list of (channel, IncomingMessage) and returns one outcome
per item, in input order: the stored message (and whether this call created it), the held
message (an agent's reply or note whose parent has not arrived, `held.py`) or the rejection.
Recording one message is a list of one (`record_message`). The result is always
that of recording the messages one at a time in input order; the engine only chooses, per
message, the cheapest of its three ways that gives that result, all deciding by the same rules
(`rules.py`, and the clock rules in `services.clocks`):

1. **new conversations in bulk** (`conversations.py`): customers' messages that name nothing
   and open an inquiry; set-based, in one transaction;
2. **customers' replies in bulk** (`replies.py`): runs of customers' follow-ups by
   In-Reply-To/References to new or open inquiries; set-based, a run per transaction;
3. **the careful way** (`careful.py`): one message with every lookup (thread ids, ticket
   references, order-id threading, reopen, automatic mail, agents' replies and notes,
   duplicates), one transaction each.

Where a message's place depends on an earlier message of the same list (a follow-up to a
conversation opened earlier in it, two messages of one order, a message named by an earlier
one), the engine holds it back to the careful way, in input order, after what it depends on.

A message some held message waits for (by its id or its thread id) goes the careful way too,
and what waits for it is attached right after it (`careful.attach`), then what waits for
those: as recording one at a time attaches them at the end of that message's call. At the end
of every call, one query looks for held messages waiting for any message the call stored (one
held by another writer meanwhile).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Value
from django.utils import timezone

from inquiries.ingestion.limits import bounded
from inquiries.ingestion.types import IncomingMessage, Rejected
from inquiries.models import Channel, Direction, HeldMessage, HeldState, HeldWait, Message, Order
from inquiries.services import clocks, orders
from inquiries.services.recording import behind, conversations, early, replay, replies, rules
from inquiries.services.recording.careful import RecordResult, attach, record_one
from inquiries.services.recording.conversations import Opening
from inquiries.services.recording.held import Awaited, Held, parent_stored, waiting_for, waiting_on

logger = logging.getLogger(__name__)

Outcome = RecordResult | Held | Rejected

# The most follow-ups sent the careful way without asking the run way after it refused several.
_MOST_SKIPPED = 32


def record_message(
    *, channel: Channel, incoming: IncomingMessage, now: datetime | None = None
) -> RecordResult | Held:
    """Record one message: `record_messages` with a list of one. Raises `Rejected`."""
    outcome = record_messages([(channel, incoming)], now=now)[0]
    if isinstance(outcome, Rejected):
        raise outcome
    return outcome


def record_messages(
    items: Sequence[tuple[Channel, IncomingMessage]], *, now: datetime | None = None
) -> list[Outcome]:
    """Record every item; the result list is in input order (a result, held, or the rejection)."""
    now = now or timezone.now()
    items = [(channel, bounded(incoming)) for channel, incoming in items]
    results = _validated(items, now)
    valid = [index for index in range(len(items)) if results[index] is None]

    # Every clock of the list is decided by the policies as they were at its start.
    with clocks.one_policy_set(), behind.collecting() as joined_behind:
        stored, awaited, answered = _known([items[index] for index in valid])
        call = _Call(items, now, results, valid, stored, awaited)
        careful, openings = _choose_ways(call)
        if openings:
            _open_conversations(call, openings, careful, _first_names(call))
        # The rest in input order; ids neither stored before nor earlier in the list need no
        # second lookup.
        attached = _record_in_order(call, sorted(careful))  # held messages attached in this call
        # Held messages another writer held while this call stored their parent.
        created = [r.message for r in results if isinstance(r, RecordResult) and r.created]
        if created:
            attached += _attach_all(waiting_for(created), now)
        moved = early.join(_answered_here(created, answered) + attached, now=now)
        for outcome_here in results:
            if isinstance(outcome_here, RecordResult) and outcome_here.message.inquiry_id in moved:
                outcome_here.message.inquiry_id = moved[outcome_here.message.inquiry_id]
        # Conversations whose messages came out of their time order are applied again in it
        # (those joined above were, with what joined them).
        if joined_behind:
            replay.replay_out_of_order(joined_behind - set(moved.values()), now=now)
        _link_orders(call)
    return [r if r is not None else Rejected("internal: not recorded") for r in results]


@dataclass
class _Call:
    """One call of `record_messages`: its items, the outcomes so far (by index, None until
    decided), the indices of the valid items, and what the first lookup found (`_known`)."""

    items: list[tuple[Channel, IncomingMessage]]
    now: datetime
    results: list[Outcome | None]
    valid: list[int]
    stored: set[tuple[int, str]]
    awaited: Awaited
    first_of_key: dict[tuple[int, str], int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # An id's first valid copy in the list is the one recorded (a copy refused above is no
        # copy); the later ones are answered as duplicates, in input order, the careful way.
        for index in self.valid:
            channel, incoming = self.items[index]
            self.first_of_key.setdefault((channel.pk, incoming.external_id), index)

    def unseen(self, index: int) -> bool:
        """Whether the item is its id's first copy in the list and that id is neither stored nor held."""
        channel, incoming = self.items[index]
        key = (channel.pk, incoming.external_id)
        return self.first_of_key[key] == index and key not in self.stored


def _validated(items: Sequence[tuple[Channel, IncomingMessage]], now: datetime) -> list[Outcome | None]:
    """The rejection of each item `rules.validate` refuses, None for the others."""
    results: list[Outcome | None] = [None] * len(items)
    for index, (channel, incoming) in enumerate(items):
        try:
            rules.validate(channel=channel, incoming=incoming, now=now)
        except Rejected as exc:
            results[index] = exc
    return results


def _choose_ways(call: _Call) -> tuple[list[int], list[Opening]]:
    """The valid items the careful way records (indices), and those that open a conversation
    in bulk (`conversations.py`); the careful way later offers runs of its customers' follow-ups
    to the run way (`replies.py`)."""
    careful: list[int] = []
    openings: list[Opening] = []
    # The orders whose inquiries the careful way may open, or give that order id, before a
    # later message is threaded by it: (customer by account and address, order id); customer
    # None when the message may land in anyone's inquiry (an agent's reply, a thread id).
    touched: set[tuple[tuple[int, str] | None, str]] = set()
    # The messages the careful way will look up (channel, external id): one listed later
    # must not be stored ahead of the message that names it, which one by one finds nothing.
    named: set[tuple[int, str]] = set()
    # Customers with a later copy of an id waiting for the careful way (recorded only if the
    # first copy is refused there): their later messages wait too, for the customer's name.
    held: set[tuple[int, str]] = set()
    for index in call.valid:
        channel, incoming = call.items[index]
        who = rules.owner(channel, incoming)
        customer = rules.customer_key(channel, incoming)
        order = incoming.order_id
        # A message with an order id waits for the earlier ones that go the careful way with
        # the same order: one may open the inquiry of that order, which it must then join, as
        # one by one it would. (Inquiries stored before: `conversations._without_order_follow_ups`.)
        if (
            len(call.items) == 1  # alone, the careful way costs fewer round trips
            or not call.unseen(index)
            or rules.needs_lookup(incoming)
            or (order and ((who, order) in touched or (None, order) in touched))
            or (channel.pk, incoming.external_id) in named
            or customer in held
            or call.awaited.names(channel, incoming)  # what waits for it is attached right after it
        ):
            careful.append(index)
            if order:
                touched.add((who, order))
            named.update((channel.pk, ref) for ref in rules.named_ids(incoming))
            if customer is not None and not call.unseen(index):
                held.add(customer)
        else:
            openings.append(Opening(index, channel, incoming, rules.received_at(incoming, call.now)))
    return careful, openings


def _first_names(call: _Call) -> dict[tuple[int, str], str]:
    """Each customer's first name among the messages to store: the name a customer created
    here, or nameless before, gets, as one by one (`rules.fills_name`)."""
    names: dict[tuple[int, str], str] = {}
    for index in call.valid:
        channel, incoming = call.items[index]
        key = rules.customer_key(channel, incoming)
        if key is not None and incoming.sender_name and call.unseen(index):
            names.setdefault(key, rules.customer_name(incoming))
    return names


def _open_conversations(
    call: _Call, openings: list[Opening], careful: list[int], names: dict[tuple[int, str], str]
) -> None:
    """Write the new conversations in bulk, in one transaction; what that way leaves, or all of
    them when another writer raced it, joins `careful`."""
    try:
        with transaction.atomic():
            conversations.write(openings, careful, call.now, names)
    except IntegrityError:
        # Another writer stored one of these ids meanwhile: the careful way sorts it out.
        logger.info("bulk openings raced with another writer; recording them one by one")
        careful.extend(o.index for o in openings)
        return
    for o in openings:
        if o.message is not None:
            call.results[o.index] = RecordResult(o.message, created=True)


def _record_in_order(call: _Call, queue: list[int]) -> list[Message]:
    """Record the items of `queue` (indices, in input order): runs of customers' follow-ups the
    run way (`replies.py`), everything else the careful way, one by one. Returns the held
    messages attached on the way."""
    attached: list[Message] = []
    position = 0
    # Follow-ups the run way refused at the head: each miss costs a look at the whole run, so
    # after consecutive misses the next ones go the careful way without asking (1, 2, 4... up
    # to 32 of them); a run taken starts over. Without it a list of follow-ups the run way
    # never takes (no SLA policy, say) costs a look per message at every message after it.
    misses = 0
    ask_from = 0
    while position < len(queue):
        # Customers' follow-ups to open inquiries, a run at a time (replies.py) ...
        run = _run_at(call, queue[position:]) if position >= ask_from else []
        done = replies.record(call.items, run, now=call.now) if len(run) > 1 else {}
        if done:
            for index, result in done.items():
                call.results[index] = result
            position += len(done)
            misses = 0
            continue
        if len(run) > 1 and done == {}:
            misses += 1
            ask_from = position + min(2 ** (misses - 1), _MOST_SKIPPED)
        # ... and whatever that way does not take, the careful way: the next message, or
        # the whole run if another writer stored one of its ids meanwhile.
        one_by_one = run if done is None else queue[position : position + 1]
        for index in one_by_one:
            attached += _record_carefully(call, index)
            position += 1
    return attached


def _run_at(call: _Call, rest: list[int]) -> list[int]:
    """The leading items of `rest` the run way may take: customers' follow-ups by reference,
    not stored, that no held message waits for."""
    run = []
    for index in rest:
        channel, incoming = call.items[index]
        if not (
            call.unseen(index)
            and rules.threads_by_reference_only(incoming)
            and not call.awaited.names(channel, incoming)
        ):
            break
        run.append(index)
    return run


def _record_carefully(call: _Call, index: int) -> list[Message]:
    """Record one item the careful way, with what waits for it (`_attach_all`); the held
    messages attached."""
    channel, incoming = call.items[index]
    try:
        outcome: Outcome = record_one(
            channel=channel, incoming=incoming, now=call.now, unseen=call.unseen(index)
        )
    except Rejected as exc:
        outcome = exc
    call.results[index] = outcome
    if isinstance(outcome, Held) and outcome.created:
        call.awaited.add(outcome)
        if parent_stored(outcome):  # stored by another writer while it was being held
            return _attach_all([outcome.held], call.now)
    elif isinstance(outcome, RecordResult) and outcome.created and call.awaited.names(channel, incoming):
        return _attach_all(waiting_for([outcome.message]), call.now)
    return []


def _answered_here(created: list[Message], answered: set[tuple[int, str]]) -> list[Message]:
    """Of the messages created, those a customer's message that came before them answers
    (`early.py`): stored before this call (`answered`: the first lookup found them) or earlier
    in it (stored before it: a lower id; one stored after it found it, or was kept apart by the
    rules, as one by one)."""
    answered = set(answered)
    stored_here = {(m.channel_id, m.external_id): m for m in created}
    for m in created:
        parent = stored_here.get((m.channel_id, m.in_reply_to))
        from_customer = m.direction == Direction.INBOUND and not m.automatic
        if from_customer and parent is not None and m.pk < parent.pk and parent.inquiry_id != m.inquiry_id:
            answered.add((m.channel_id, m.in_reply_to))
    return [m for m in created if (m.channel_id, m.external_id) in answered]


def _link_orders(call: _Call) -> None:
    """Inquiries that name an order find it (and, through it, its SKUs and dates)."""
    naming = {
        result.message.inquiry_id: channel.account_id
        for result, (channel, incoming) in zip(call.results, call.items, strict=True)
        if isinstance(result, RecordResult)
        and result.created
        and incoming.order_id
        and result.message.inquiry_id is not None
    }
    # An account without orders on file has none to link to, nor any linked before: one small
    # query saves the two UPDATEs.
    if naming and Order.objects.filter(account_id__in=set(naming.values())).exists():
        orders.link_inquiries(inquiry_ids=sorted(naming))


def _attach_all(rows: Sequence[HeldMessage], now: datetime) -> list[Message]:
    """Attach held messages (in the order given), then those waiting for them, and so on.
    Returns the messages attached."""
    done: list[Message] = []
    while rows:
        attached = [message for row in rows if (message := attach(row, now=now)) is not None]
        done += attached
        rows = waiting_for(attached) if attached else []
    return done


def retry_held(*, held_ids: Sequence[int], now: datetime | None = None) -> int:
    """Try held, expired or discarded messages again now (the admin's retry): each whose parent
    is stored is attached, with what waits for it; the others wait again, for a whole expiry
    time. Returns how many were attached."""
    now = now or timezone.now()
    attached = 0
    rows = (
        HeldMessage.objects.filter(pk__in=held_ids)
        .exclude(state=HeldState.ATTACHED)
        .select_related("channel__account")
        .order_by("received_at", "id")
    )
    with clocks.one_policy_set():
        for row in rows:
            HeldMessage.objects.filter(pk=row.pk).exclude(state=HeldState.ATTACHED).update(
                state=HeldState.HELD,
                closed_at=None,
                reason="",
                expires_at=now + timedelta(days=settings.CSTRACKER_HELD_EXPIRY_DAYS),
            )
            message = attach(row, now=now)
            if message is None:
                HeldMessage.objects.filter(pk=row.pk, state=HeldState.HELD).update(
                    reason=f"retried {now:%Y-%m-%d %H:%M} UTC: its parent has still not arrived"
                )
                continue
            attached += 1
            early.join([message, *_attach_all(waiting_for([message]), now)], now=now)
    return attached


def _known(
    items: Sequence[tuple[Channel, IncomingMessage]],
) -> tuple[set[tuple[int, str]], Awaited, set[tuple[int, str]]]:
    """Of `items`' (channel id, external id) pairs, those already stored or held (a copy of one is
    a duplicate); what held messages wait for among them (by id or thread id); and those a stored
    customer's message answers (`early.py`). One query."""
    awaited = Awaited()
    if not items:
        return set(), awaited, set()
    channels = {channel.pk for channel, _ in items}
    ids = {incoming.external_id for _, incoming in items}
    columns = ("channel_id", "external_id", "what")
    rows = (
        Message.objects.filter(channel_id__any=channels, external_id__any=ids)
        .order_by()
        .annotate(what=Value("stored"))
        .values_list(*columns)
        .union(
            HeldMessage.objects.filter(channel_id__any=channels, external_id__any=ids)
            .order_by()
            .annotate(what=Value("held"))
            .values_list(*columns),
            HeldWait.objects.filter(
                waiting_on((channel.pk, m.external_id, m.thread_id) for channel, m in items),
                held__state=HeldState.HELD,
            )
            .order_by()
            .annotate(what=F("kind"))
            .values_list(*columns),
            early.answering(channels, ids)
            .order_by()
            .annotate(what=Value("answered"))
            .values_list("channel_id", "in_reply_to", "what"),
            all=True,
        )
    )
    known, answered = set(), set()
    for channel_id, value, what in rows:
        if what in ("stored", "held"):
            known.add((channel_id, value))
        elif what == "answered":
            answered.add((channel_id, value))
        else:
            awaited.found(channel_id, what, value)
    return known, awaited, answered
