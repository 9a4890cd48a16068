"""Issue 19, point 1: the same messages in any order and any batch sizes give the same inquiries
and the same clocks.

Seeded conversations as exports bring them (a thread id per conversation; customers' messages,
agents' replies, a status and solved time on some rows: solved, then reopened by the customer
within the reopen window; closed, or solved longer ago than the window, then started over in a
new inquiry; solved, closed or pending at the end) are recorded once in their own time
order, one at a time (the reference), and again in seeded shuffles cut into random batch sizes.
Each time every inquiry (its messages, status, times, topic, subject), every clock (kind, start,
stop, state, deadline, breach) and every customer message's answered time and marketplace
deadline is read back; all runs must read the same.
"""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from django.conf import settings
from django.db import transaction

from inquiries import models as m
from inquiries.ingestion.types import Direction, IncomingMessage
from inquiries.services import record_messages
from tests.factories import policy_with_targets

pytestmark = pytest.mark.django_db

START = datetime(2026, 5, 4, 8, 0, tzinfo=UTC)
NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
QUESTIONS = (
    ("Where is my order?", "My parcel has not arrived yet."),
    ("Broken on arrival", "The glass was cracked when I opened the box."),
    ("Wrong size", "I ordered a large and got a small."),
    ("Invoice", "Could you send me an invoice please?"),
)


def conversations(seed: int, count: int = 10, *, by_reply: bool = False) -> list[IncomingMessage]:
    """`count` conversations, their messages in time order (ties broken by external id).
    `by_reply`: threaded as tweets are, each message naming the one before it by In-Reply-To (no
    thread id, no status: a customer's message whose parent has not arrived opens an inquiry of
    its own, joined to its parent's when that comes, `recording/early.py`)."""
    rng = random.Random(seed)
    messages: list[IncomingMessage] = []
    for n in range(count):
        thread = f"T{seed}-{n}"
        customer = f"buyer{n % 9}@example.com"  # some customers have several conversations
        subject, body = rng.choice(QUESTIONS)
        at = START + timedelta(hours=rng.randrange(0, 400), minutes=rng.randrange(60))
        fate = rng.choice(("open", "answered", "solved", "closed", "reopened", "restarted", "pending"))
        if by_reply:
            fate = "open"
        steps = rng.randint(1, 6)
        rows: list[IncomingMessage] = []
        for step in range(steps):
            # The customer writes first; after that customers and agents in any pattern (a
            # customer writing twice before an answer, two replies in a row).
            inbound = step == 0 or rng.random() < 0.5
            rows.append(
                IncomingMessage(
                    external_id=f"{thread}-{step}",
                    direction=Direction.INBOUND if inbound else Direction.OUTBOUND,
                    sender_address=customer if inbound else "",
                    sender_name=f"Buyer {n % 9}" if inbound else "",
                    subject=subject if step == 0 else f"Re: {subject}",
                    body_text=body if step == 0 else rng.choice(("Any news?", "Thanks.", "On its way.")),
                    received_at=at,
                    thread_id="" if by_reply else thread,
                    in_reply_to=rows[-1].external_id if by_reply and rows else "",
                )
            )
            at += timedelta(minutes=rng.choice((1, 5, 45, 180, 600, 1500, 3000)))
        last = len(rows) - 1
        times = [row.received_at or START for row in rows]
        if fate in ("solved", "closed") and last:
            rows[last] = _status(rows[last], fate, times[last] + timedelta(minutes=30))
        elif fate == "pending" and last:
            rows[last] = _status(rows[last], "pending", None)
        elif fate == "reopened" and last >= 2:
            # Solved with a reply, then the customer writes again within the reopen window.
            middle = rng.randrange(1, last)
            rows[middle] = _status(rows[middle], "solved", times[middle] + timedelta(minutes=10))
            if rows[middle + 1].direction != Direction.INBOUND:
                rows[middle + 1] = _as_customer(rows[middle + 1], customer)
        if fate == "restarted" and last >= 2:
            # Closed (or solved longer ago than the reopen window) with a reply, then the customer
            # writes again: the conversation starts over in a new inquiry linked to the first.
            middle = rng.randrange(1, last)
            closed = rng.choice(("closed", "solved"))
            rows[middle] = _status(rows[middle], closed, times[middle] + timedelta(minutes=10))
            if closed == "solved":
                gap = timedelta(days=settings.CSTRACKER_REOPEN_WINDOW_DAYS + 1)
                rows[middle + 1 :] = [
                    replace(row, received_at=(row.received_at or START) + gap) for row in rows[middle + 1 :]
                ]
            if rows[middle + 1].direction != Direction.INBOUND:
                rows[middle + 1] = _as_customer(rows[middle + 1], customer)
        messages += rows
    return sorted(messages, key=lambda i: (i.received_at or START, i.external_id))


def _status(row: IncomingMessage, status: str, solved_at: datetime | None) -> IncomingMessage:
    return replace(row, status=status, solved_at=solved_at)


def _as_customer(row: IncomingMessage, customer: str) -> IncomingMessage:
    return replace(row, direction=Direction.INBOUND, sender_address=customer, sender_name="")


def outcome() -> dict[tuple[str, str], dict[str, object]]:
    """Everything the order must not change, keyed by what the conversations name."""
    inquiries = {}
    for inquiry in m.Inquiry.objects.select_related("topic").prefetch_related("messages", "clocks"):
        messages = sorted(inquiry.messages.all(), key=lambda x: (x.received_at, x.external_id))
        key = (inquiry.thread_key, messages[0].external_id)
        inquiries[key] = {
            "messages": [x.external_id for x in messages],
            "status": inquiry.status,
            "opened_at": inquiry.opened_at,
            "solved_at": inquiry.solved_at,
            "last_inbound_at": inquiry.last_inbound_at,
            "last_reply_at": inquiry.last_reply_at,
            "subject": inquiry.subject,
            "topic": inquiry.topic.key if inquiry.topic else None,
            "next_due_at": inquiry.next_due_at,
            "previous": inquiry.previous.thread_key if inquiry.previous else None,
            "answered": [(x.external_id, x.answered_at, x.response_due_at) for x in messages],
            "clocks": sorted(
                (
                    c.kind,
                    c.started_at,
                    c.stopped_at,
                    c.state,
                    c.due_at,
                    c.breached_at,
                    c.paused_business_seconds,
                    c.message.external_id if c.message is not None else None,
                )
                for c in inquiry.clocks.all()
                if c.state != m.ClockState.CANCELLED
            ),
        }
    return inquiries


def recorded(
    channel: m.Channel, batches: list[list[IncomingMessage]]
) -> dict[tuple[str, str], dict[str, object]]:
    """Record the batches, read the outcome, and undo it all."""
    with transaction.atomic():
        for batch in batches:
            for result in record_messages([(channel, item) for item in batch], now=NOW):
                assert not isinstance(result, Exception), result
        seen = outcome()
        assert m.HeldMessage.objects.filter(state=m.HeldState.HELD).count() == 0
        transaction.set_rollback(True)
    return seen


def shuffled(messages: list[IncomingMessage], rng: random.Random) -> list[list[IncomingMessage]]:
    order = list(messages)
    rng.shuffle(order)
    batches = []
    while order:
        size = rng.choice((1, 1, 2, 3, 7, 20))
        batches.append(order[:size])
        order = order[size:]
    return batches


@pytest.mark.parametrize("seed", range(4))
def test_the_same_messages_in_any_order_and_batch_sizes_give_the_same_inquiries_and_clocks(channel, seed):
    policy_with_targets(first_reply=4 * 3600, next_reply=8 * 3600, resolution=3 * 86400)
    messages = conversations(seed)
    reference = recorded(channel, [[item] for item in messages])
    assert len(reference) >= 10  # a conversation that started over is two
    rng = random.Random(1000 + seed)
    for attempt in range(3):
        again = recorded(channel, shuffled(messages, rng))
        assert again == reference, f"seed {seed}, shuffle {attempt}: {_difference(reference, again)}"
    # Newest first, in one batch: an export written backwards.
    assert recorded(channel, [list(reversed(messages))]) == reference


@pytest.mark.parametrize("seed", range(3))
def test_conversations_threaded_by_in_reply_to_alone_come_out_the_same_in_any_order(channel, seed):
    """Tweets: a customer's message before the one it answers opens an inquiry, joined later."""
    policy_with_targets(first_reply=4 * 3600, next_reply=8 * 3600, resolution=3 * 86400)
    messages = conversations(100 + seed, by_reply=True)
    reference = recorded(channel, [[item] for item in messages])
    assert len(reference) == 10
    rng = random.Random(2000 + seed)
    for attempt in range(3):
        again = recorded(channel, shuffled(messages, rng))
        assert again == reference, f"seed {seed}, shuffle {attempt}: {_difference(reference, again)}"
    assert recorded(channel, [list(reversed(messages))]) == reference
    assert recorded(channel, [[item] for item in reversed(messages)]) == reference


def _customer(external_id: str, minutes: int, **fields: object) -> IncomingMessage:
    return IncomingMessage(
        external_id=external_id,
        direction=Direction.INBOUND,
        sender_address="ann@example.com",
        received_at=START + timedelta(minutes=minutes),
        thread_id="T",
        **fields,  # type: ignore[arg-type]
    )


def _reply(external_id: str, minutes: int, **fields: object) -> IncomingMessage:
    return IncomingMessage(
        external_id=external_id,
        direction=Direction.OUTBOUND,
        sender_address="",
        received_at=START + timedelta(minutes=minutes),
        thread_id="T",
        **fields,  # type: ignore[arg-type]
    )


def test_a_reply_that_arrives_after_a_later_follow_up_leaves_that_follow_up_waiting(channel):
    """The case that failed: the reply answers what came before it, not the follow-up after it."""
    policy_with_targets(first_reply=3600, next_reply=3600, resolution=None)
    c1 = _customer("c1", 0, subject="Where is it?")
    c2 = _customer("c2", 120, body_text="It is not here.")
    r1 = _reply("r1", 30, body_text="On its way.")
    for item in (c1, c2, r1):
        record_messages([(channel, item)], now=NOW)
    inquiry = m.Inquiry.objects.get()
    clocks = {c.kind: c for c in inquiry.clocks.all()}
    assert clocks[m.ClockKind.FIRST_REPLY].stopped_at == START + timedelta(minutes=30)
    waiting = clocks[m.ClockKind.NEXT_REPLY]
    assert (waiting.started_at, waiting.stopped_at) == (START + timedelta(hours=2), None)
    assert waiting.state in (m.ClockState.RUNNING, m.ClockState.AT_RISK, m.ClockState.BREACHED)
    assert inquiry.messages.get(external_id="c2").answered_at is None


def test_a_follow_up_sent_before_the_close_does_not_reopen_it(channel):
    policy_with_targets(first_reply=3600, next_reply=3600, resolution=86400)
    closed_at = START + timedelta(hours=1)
    c1 = _customer("c1", 0, subject="Broken")
    c2 = _customer("c2", 20, body_text="Photo attached.")
    r1 = _reply("r1", 60, body_text="Refunded.", status="closed", solved_at=closed_at)
    for item in (c1, r1, c2):
        record_messages([(channel, item)], now=NOW)
    inquiry = m.Inquiry.objects.get()
    assert (inquiry.status, inquiry.solved_at) == (m.Status.CLOSED, closed_at)
    assert not inquiry.clocks.filter(state__in=(m.ClockState.RUNNING, m.ClockState.BREACHED)).exists()


def test_a_late_message_after_the_close_joins_the_inquiry_the_conversation_started_over_in(channel):
    policy_with_targets(first_reply=3600, next_reply=3600, resolution=86400)
    c1 = _customer("c1", 0, subject="Broken")
    r1 = _reply("r1", 60, status="closed", solved_at=START + timedelta(hours=1))
    c2 = _customer("c2", 180, body_text="It broke again.")
    c3 = _customer("c3", 240, body_text="Hello?")
    for item in (c1, r1, c3, c2):
        record_messages([(channel, item)], now=NOW)
    first, second = m.Inquiry.objects.order_by("opened_at")
    assert [x.external_id for x in first.messages.order_by("received_at")] == ["c1", "r1"]
    assert [x.external_id for x in second.messages.order_by("received_at")] == ["c2", "c3"]
    assert (second.previous_id, second.opened_at) == (first.pk, START + timedelta(hours=3))


def test_a_conversation_a_person_worked_on_is_not_replayed(channel, agent):
    """Actions by people happened when they happened: a late message is applied as it comes."""
    from inquiries.services import actions

    policy_with_targets()
    record_messages([(channel, _customer("c1", 60))], now=NOW)
    inquiry = m.Inquiry.objects.get()
    actions.change_status(inquiry=inquiry, status=m.Status.PENDING, actor=agent, now=NOW)
    record_messages([(channel, _customer("c0", 0))], now=NOW)
    inquiry.refresh_from_db()
    assert inquiry.opened_at == START + timedelta(hours=1)  # kept as recorded
    assert inquiry.messages.count() == 2


def _difference(reference: dict, again: dict) -> str:
    for key in sorted(set(reference) | set(again), key=str):
        want, got = reference.get(key), again.get(key)
        if want != got:
            if not (isinstance(want, dict) and isinstance(got, dict)):
                return f"{key}: expected {want}, got {got}"
            fields = {f: (want.get(f), got.get(f)) for f in want if want.get(f) != got.get(f)}
            return f"{key} ({want['messages']}): " + "; ".join(
                f"{f}: expected {w}, got {g}" for f, (w, g) in fields.items()
            )
    return "?"
