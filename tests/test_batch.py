"""The batch path (batch API, importers) records exactly what one-by-one recording records."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from inquiries import services
from inquiries.ingestion.types import Direction, IncomingAttachment, Rejected
from inquiries.models import Attachment, Calendar, Clock, Inquiry, InquiryEvent, Marketplace, Message
from inquiries.services.recording import record_messages
from tests.factories import ChannelFactory, incoming, policy_with_targets

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 3, 6, 15, 0, tzinfo=UTC)


def agent_reply(external_id: str, at: datetime, *, in_reply_to: str):
    return incoming(
        external_id=external_id,
        received_at=at,
        direction=Direction.OUTBOUND,
        sender_address="agent@shop.example",
        in_reply_to=in_reply_to,
    )


def conversation(prefix: str) -> list:
    at = lambda minutes: T0 + timedelta(minutes=minutes)  # noqa: E731
    return [
        incoming(
            external_id=f"{prefix}1",
            received_at=at(0),
            sender_address="a@example.com",
            subject="Lamp arrived broken",
            order_id="111-1111111-1111111",
            sku="LAMP",
            attachments=(IncomingAttachment("photo.jpg", "image/jpeg", 3, b"abc"),),
        ),
        incoming(
            external_id=f"{prefix}2", received_at=at(5), sender_address="b@example.com", subject="Where?"
        ),
        incoming(
            external_id=f"{prefix}3",
            received_at=at(10),
            sender_address="a@example.com",
            subject="Also",
            order_id="111-1111111-1111111",
        ),  # same order: a follow-up
        agent_reply(f"{prefix}4", at(20), in_reply_to=f"{prefix}2"),
        incoming(
            external_id=f"{prefix}5",
            received_at=at(30),
            sender_address="b@example.com",
            in_reply_to=f"{prefix}4",
        ),
        incoming(
            external_id=f"{prefix}6",
            received_at=at(40),
            automatic=True,
            sender_address="mailer@x.example",
            automatic_reason="bounce",
        ),
        incoming(external_id=f"{prefix}1", received_at=at(0), sender_address="a@example.com"),  # duplicate
        incoming(
            external_id=f"{prefix}7", received_at=at(60 * 24 * 30), sender_address="c@example.com"
        ),  # future
        incoming(
            external_id=f"{prefix}8", received_at=at(50), sender_address="d@example.com", subject="Hello"
        ),
    ]


def facts(channel) -> list:
    """What was stored, independent of row ids (the engine's ways store in different orders):
    inquiries by opening time and their first message's id in the input."""
    rows = []
    for inquiry in Inquiry.objects.filter(channel=channel):
        messages = [
            (m.external_id[1:], m.direction, m.answered_at, m.response_due_at, m.automatic)
            for m in Message.objects.filter(inquiry=inquiry).order_by("received_at", "id")
        ]
        clocks = [
            (c.kind, c.state, c.started_at, c.due_at, c.warn_at, c.stopped_at, c.target_seconds)
            for c in Clock.objects.filter(inquiry=inquiry).order_by("kind", "started_at")
        ]
        events = sorted(
            (e.kind, e.at, e.data.get("clock_kind", "")) for e in InquiryEvent.objects.filter(inquiry=inquiry)
        )
        rows.append(
            (
                inquiry.opened_at,
                min(m[0] for m in messages),
                inquiry.status,
                inquiry.subject,
                inquiry.order_id,
                inquiry.topic_id,
                inquiry.sla_policy_id,
                messages,
                clocks,
                events,
            )
        )
    return sorted(rows, key=lambda row: row[:2])


def test_a_batch_records_the_same_facts_as_one_by_one(db):
    from tests.factories import AccountFactory

    calendar = Calendar.objects.create(
        name="Weekdays", timezone="Europe/Berlin", hours={str(d): [["09:00", "17:00"]] for d in range(5)}
    )
    policy_with_targets(first_reply=2 * 3600, calendar=calendar)
    # Two accounts, so that customers (and the order-id rule) do not cross between the two runs.
    one_by_one = ChannelFactory(account=AccountFactory(marketplace=Marketplace.AMAZON), slug="one")
    batched = ChannelFactory(account=AccountFactory(marketplace=Marketplace.AMAZON), slug="batch")
    now = T0 + timedelta(hours=2)
    expected = []
    for item in conversation("x"):
        try:
            expected.append(services.record_message(channel=one_by_one, incoming=item, now=now))
        except Rejected as exc:
            expected.append(exc)
    outcomes = record_messages([(batched, item) for item in conversation("y")], now=now)
    assert [type(o).__name__ for o in outcomes] == [type(o).__name__ for o in expected]
    assert [getattr(o, "created", None) for o in outcomes] == [getattr(o, "created", None) for o in expected]
    assert facts(batched) == facts(one_by_one)
    assert Attachment.objects.filter(message__channel=batched).count() == 1
    assert outcomes[6].message.pk == outcomes[0].message.pk  # the duplicate answers with the first


def test_a_batch_of_new_conversations_takes_a_fixed_number_of_queries(channel):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    policy_with_targets()

    def batch(size: int, prefix: str) -> int:
        items = [
            (channel, incoming(received_at=T0, sender_address=f"{prefix}{n}@example.com"))
            for n in range(size)
        ]
        with CaptureQueriesContext(connection) as queries:
            outcomes = record_messages(items, now=T0)
        assert all(not isinstance(o, Rejected) and o.created for o in outcomes)
        return len(queries)

    batch(1, "warm")  # loads the cached rules and policies once
    # 20 conversations (their clocks are the widest rows: up to 60 of them) stay within one INSERT
    # even on SQLite (at most 999 parameters a statement). On
    # PostgreSQL the rows go by COPY, which the query log does not list, and two statements mark
    # the messages whose words their inquiry rows carry (documents.py); the last query looks for
    # held replies waiting for what the batch stored (held.py): 13 queries there, 12 on SQLite.
    assert batch(10, "a") == batch(20, "b") == (13 if connection.vendor == "postgresql" else 12)


def history(prefix: str) -> list:
    """Eight conversations opened a day before the follow-ups, in several states."""
    at = lambda hours: T0 - timedelta(days=1) + timedelta(hours=hours)  # noqa: E731
    first = [
        incoming(
            external_id=f"{prefix}-o{n}",
            received_at=at(n),
            sender_address=f"c{n}@example.com",
            subject=f"Order {n}",
        )
        for n in range(8)
    ]
    first[5] = incoming(
        external_id=f"{prefix}-o5",
        received_at=at(5),
        sender_address="c5@example.com",
        sender_name="",
        subject="Hi",
    )
    agent = [  # agents answered conversations 1 and 3, the second one late in the day
        agent_reply(f"{prefix}-a1", at(2), in_reply_to=f"{prefix}-o1"),
        agent_reply(f"{prefix}-a3", T0 + timedelta(minutes=45), in_reply_to=f"{prefix}-o3"),
    ]
    return first + agent


def follow_ups(prefix: str) -> list:
    at = lambda minutes: T0 + timedelta(minutes=minutes)  # noqa: E731

    def reply(n: int, ref: str, minutes: int, **fields: object):
        fields.setdefault("sender_address", f"c{n}@example.com")
        fields.setdefault("in_reply_to", f"{prefix}-{ref}")
        return incoming(
            external_id=f"{prefix}-f{n}-{minutes}", received_at=at(minutes), subject="Re: Order", **fields
        )

    return [
        reply(0, "o0", 1),  # a new inquiry: its first reply clock still runs
        reply(1, "a1", 2, order_id="222-2222222-2222222"),  # answered: a next reply clock; fills the order id
        reply(2, "o2", 3),  # pending: the careful path
        reply(4, "o4", 4),  # solved: reopened by the careful path
        reply(6, "o6", 5),
        reply(6, "o6", 6),  # the same inquiry again: waits for the one before
        reply(7, "o7", 7),
        reply(7, "f7-7", 8),  # names a message of this batch
        reply(3, "o3", 9),  # older than the agent's reply on record: back-filled history
        reply(5, "o5", 10, sender_name="Named Later"),  # the customer's name is still to be filled in
        reply(0, "o1", 11),  # names another customer's message: never joins it
        reply(9, "o0", 12),  # an unknown customer
        reply(0, "o0", 13, references=(f"{prefix}-o0", f"{prefix}-zz"), in_reply_to=""),  # References only
    ]


def test_customers_follow_ups_in_a_batch_record_the_same_facts_as_one_by_one(db, monkeypatch):
    from inquiries.services.recording import replies as path
    from tests.factories import AccountFactory

    taken: list[list[str]] = []
    write = path._write

    def spy(items, **kwargs):
        taken.append([f.incoming.external_id.removeprefix("y-") for f in items])
        return write(items, **kwargs)

    monkeypatch.setattr(path, "_write", spy)

    policy_with_targets(first_reply=2 * 3600)
    one_by_one = ChannelFactory(account=AccountFactory(marketplace=Marketplace.AMAZON), slug="one")
    batched = ChannelFactory(account=AccountFactory(marketplace=Marketplace.AMAZON), slug="batch")
    for channel, prefix in ((one_by_one, "x"), (batched, "y")):
        for item in history(prefix):
            services.record_message(channel=channel, incoming=item, now=T0 + timedelta(hours=1))
        for n, status in ((2, "pending"), (4, "solved")):
            inquiry = Message.objects.get(channel=channel, external_id=f"{prefix}-o{n}").inquiry
            services.change_status(inquiry=inquiry, status=status, actor=None, now=T0 - timedelta(hours=2))
    now = T0 + timedelta(hours=3)  # long enough for some clocks to be caught up as breached
    expected = [
        services.record_message(channel=one_by_one, incoming=item, now=now) for item in follow_ups("x")
    ]
    outcomes = record_messages([(batched, item) for item in follow_ups("y")], now=now)
    assert [o.created for o in outcomes] == [o.created for o in expected] == [True] * len(expected)

    def columns(channel) -> list:
        return [
            (
                i.status,
                i.order_id,
                i.last_inbound_at,
                i.updated_at,
                i.next_due_at,
                i.next_clock_kind,
                i.customer.name,
            )
            for i in Inquiry.objects.filter(channel=channel)
            .select_related("customer")
            .order_by("opened_at", "id")
        ]

    def threads(outcomes: list, prefix: str) -> list:
        """Each message's inquiry, named by the inquiry's first message."""
        return [
            Message.objects.filter(inquiry_id=o.message.inquiry_id)
            .order_by("id")[0]
            .external_id.removeprefix(prefix)
            for o in outcomes
        ]

    assert facts(batched) == facts(one_by_one)
    assert columns(batched) == columns(one_by_one)
    assert threads(outcomes, "y") == threads(expected, "x")
    # The set-based path took the follow-ups it is for, and left the rest to record_message().
    # After it refused f2 and f4 in a row, f6-5 goes the careful way without asking (the engine
    # backs off after consecutive refusals; see the next test).
    assert taken == [["f0-1", "f1-2"], ["f6-6", "f7-7"], ["f7-8"]], taken


def test_follow_ups_the_run_way_refuses_cost_it_a_few_looks_not_one_per_message(db, monkeypatch):
    """Without an SLA policy no follow-up can go the run way; asking it at every message would
    look at the whole rest of the list each time (quadratic in the list). The engine backs off
    after consecutive refusals: a few dozen looks for 200 follow-ups, and the same result."""
    from inquiries.services.recording import replies as path

    looks: list[int] = []
    leading = path._leading_follow_ups

    def spy(items, run, **kwargs):
        looks.append(len(run))
        return leading(items, run, **kwargs)

    monkeypatch.setattr(path, "_leading_follow_ups", spy)
    channel = ChannelFactory()  # no SLA policy anywhere: no clocks, so the run way refuses
    openings = [
        incoming(external_id=f"o{n}", received_at=T0, sender_address=f"c{n}@example.com") for n in range(200)
    ]
    record_messages([(channel, item) for item in openings], now=T0)
    replies = [
        incoming(
            external_id=f"r{n}",
            received_at=T0 + timedelta(minutes=1),
            sender_address=f"c{n}@example.com",
            in_reply_to=f"o{n}",
        )
        for n in range(200)
    ]
    outcomes = record_messages([(channel, item) for item in replies], now=T0 + timedelta(minutes=2))
    assert all(o.created for o in outcomes)
    assert {o.message.inquiry_id for o in outcomes} == set(
        Message.objects.filter(external_id__startswith="o").values_list("inquiry_id", flat=True)
    )
    # 1 + 2 + 4 + 8 + 16 + 32 + 32... messages the careful way between looks: 11 looks for 200.
    assert len(looks) <= 12, looks
    assert sum(looks) < 200 * 12


def test_an_id_seen_first_on_the_careful_path_is_recorded_there_and_the_later_copy_is_the_duplicate(channel):
    policy_with_targets()
    opening = incoming(external_id="open", received_at=T0, sender_address="a@example.com")
    services.record_message(channel=channel, incoming=opening, now=T0)
    items = [
        # A reply (careful path) and, later in the batch, a new conversation with the same id.
        (
            channel,
            incoming(external_id="same", received_at=T0, sender_address="a@example.com", in_reply_to="open"),
        ),
        (channel, incoming(external_id="same", received_at=T0, sender_address="z@example.com")),
    ]
    first, second = record_messages(items, now=T0 + timedelta(minutes=1))
    assert (first.created, second.created) == (True, False)
    assert second.message.pk == first.message.pk
    assert Message.objects.get(external_id="same").sender_address == "a@example.com"


def recorded_both_ways(messages, *, history=None, now=T0 + timedelta(hours=1)):
    """Record `messages(prefix)` one by one on one channel and as a batch on another (each on its
    own account, after `history(prefix)` stored one by one); check both store the same facts.
    Returns the two channels."""
    from tests.factories import AccountFactory

    policy_with_targets()
    one_by_one, batched = (ChannelFactory(account=AccountFactory()) for _ in range(2))
    for channel, prefix in ((one_by_one, "x"), (batched, "y")):
        for item in history(prefix) if history else ():
            services.record_message(channel=channel, incoming=item, now=item.received_at or now)
    for item in messages("x"):
        services.record_message(channel=one_by_one, incoming=item, now=now)
    record_messages([(batched, item) for item in messages("y")], now=now)
    assert facts(batched) == facts(one_by_one)
    return one_by_one, batched


def test_an_order_follow_up_waits_for_an_earlier_message_of_its_customer_on_the_careful_path(db):
    """The first message names another customer's mail (careful path) and opens the inquiry of
    its order; the second, same customer and order, no references, must join that inquiry and
    not open one of its own ahead of it."""
    order = "123-4567890-1234567"

    def messages(prefix: str) -> list:
        return [
            incoming(external_id=f"{prefix}other", received_at=T0, sender_address="other@example.com"),
            incoming(
                external_id=f"{prefix}1",
                received_at=T0 + timedelta(minutes=5),
                sender_address="a@example.com",
                in_reply_to=f"{prefix}other",  # not hers: she opens her own inquiry
                order_id=order,
            ),
            incoming(
                external_id=f"{prefix}2",
                received_at=T0 + timedelta(minutes=9),
                sender_address="a@example.com",
                order_id=order,
            ),
        ]

    _, batched = recorded_both_ways(messages)
    inquiry = Inquiry.objects.get(channel=batched, order_id=order)
    assert inquiry.opened_at == T0 + timedelta(minutes=5)
    assert sorted(inquiry.messages.values_list("external_id", flat=True)) == ["y1", "y2"]


def test_an_order_follow_up_joins_an_inquiry_an_earlier_reply_in_the_batch_brought_back_into_the_window(db):
    """The inquiry of the order was last active 40 days ago, outside the 30-day window; a reply
    earlier in the batch makes it active again, so the order's next message joins it."""
    order = "123-4567890-7654321"

    def history(prefix: str) -> list:
        before = T0 - timedelta(days=40)
        return [
            incoming(
                external_id=f"{prefix}0", received_at=before, sender_address="a@example.com", order_id=order
            )
        ]

    def messages(prefix: str) -> list:
        return [
            incoming(
                external_id=f"{prefix}1",
                received_at=T0,
                sender_address="a@example.com",
                in_reply_to=f"{prefix}0",
            ),
            incoming(
                external_id=f"{prefix}2",
                received_at=T0 + timedelta(minutes=5),
                sender_address="a@example.com",
                order_id=order,
            ),
        ]

    _, batched = recorded_both_ways(messages, history=history)
    inquiry = Inquiry.objects.get(channel=batched)
    assert sorted(inquiry.messages.values_list("external_id", flat=True)) == ["y0", "y1", "y2"]


def test_a_message_listed_after_a_reply_that_names_it_is_not_stored_ahead_of_that_reply(db):
    """Out of order input: the reply comes first and, one by one, finds nothing to join; it opens
    an inquiry, which joins the original's when that comes (recording/early.py), in a batch too."""

    def messages(prefix: str) -> list:
        return [
            incoming(
                external_id=f"{prefix}reply",
                received_at=T0,
                sender_address="a@example.com",
                in_reply_to=f"{prefix}original",
            ),
            incoming(external_id=f"{prefix}original", received_at=T0, sender_address="a@example.com"),
        ]

    one_by_one, batched = recorded_both_ways(messages)
    assert Inquiry.objects.filter(channel=one_by_one).count() == 1
    assert Inquiry.objects.filter(channel=batched).count() == 1


def test_a_customer_gets_the_first_name_of_the_batch_as_one_by_one(db):
    from inquiries.models import Customer

    def history(prefix: str) -> list:  # a customer already stored without a name
        return [incoming(external_id=f"{prefix}0", sender_address="known@example.com", sender_name="")]

    def messages(prefix: str) -> list:
        return [
            incoming(
                external_id=f"{prefix}0", sender_address="new@example.com", sender_name="Copy"
            ),  # duplicate
            incoming(external_id=f"{prefix}1", sender_address="new@example.com", sender_name=""),
            incoming(external_id=f"{prefix}2", sender_address="new@example.com", sender_name="Alice"),
            incoming(external_id=f"{prefix}3", sender_address="new@example.com", sender_name="Bob"),
            incoming(external_id=f"{prefix}4", sender_address="known@example.com", sender_name="Carol"),
            incoming(external_id=f"{prefix}5", sender_address="known@example.com", sender_name="Dave"),
        ]

    one_by_one, batched = recorded_both_ways(messages, history=history, now=None)

    def names(channel) -> dict[str, str]:
        return dict(Customer.objects.filter(account=channel.account).values_list("address", "name"))

    assert names(batched) == names(one_by_one) == {"new@example.com": "Alice", "known@example.com": "Carol"}
