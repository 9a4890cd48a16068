"""Importing on several database connections at once (`ConcurrentRecorder`, `import_mail --writers`).

The promise: the same inquiries, messages, clocks and events as one connection gives, the
same counts, the rejections in input order. Checked on mail that crosses every line the
share-out by customer has to respect: replies, replies naming another customer's message,
follow-ups by order id, the same Message-ID from two customers, bounces without a sender
(whose threading reads other customers' messages), auto-replies, rejections.
"""

from __future__ import annotations

import io
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from inquiries import models as m
from inquiries.ingestion.pool import parse_archived
from inquiries.ingestion.types import Rejected
from inquiries.management.commands._importing import (
    BatchRecorder,
    ConcurrentRecorder,
    Tally,
    recorder_for,
)
from tests.factories import AccountFactory, ChannelFactory, policy_with_targets

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


def _mail(n: int, rng: random.Random, sent: list[tuple[str, str, str]]) -> bytes:
    """Message n of a mixed archive; `sent` collects (message id, sender, order id)."""
    at = T0 + timedelta(minutes=7 * n)
    message_id = f"m{n}@shop.example"
    sender = f"buyer{rng.randrange(12)}@example.com"
    order = f"{rng.randrange(100, 999)}-{rng.randrange(10**6, 10**7)}-{rng.randrange(10**6, 10**7)}"
    headers = {"Message-ID": f"<{message_id}>"}
    subject = f"Order {order} arrived damaged"
    roll = rng.random()
    own = [item for item in sent if item[1] == sender]
    if own and roll < 0.3:  # a reply to one's own earlier message
        ref, _, order = rng.choice(own)
        subject = f"Re: Order {order} arrived damaged"
        headers["In-Reply-To"] = f"<{ref}>"
    elif sent and roll < 0.4:  # names another customer's message: must not join it
        ref = rng.choice(sent)[0]
        headers["In-Reply-To"] = f"<{ref}>"
    elif own and roll < 0.5:  # the same order again, no references
        order = own[-1][2]
        subject = f"Order {order} still not here"
    elif sent and roll < 0.56:  # a bounce: no sender, names a customer's message
        sender = ""
        headers["In-Reply-To"] = f"<{rng.choice(sent)[0]}>"
        headers["Auto-Submitted"] = "auto-replied"
        subject = "Undelivered Mail Returned to Sender"
    elif own and roll < 0.6:  # the customer's own auto-reply
        headers["Auto-Submitted"] = "auto-replied"
        headers["In-Reply-To"] = f"<{own[-1][0]}>"
        subject = "Out of office"
    elif sent and roll < 0.66:  # a Message-ID seen before, from whoever sends it now
        message_id = rng.choice(sent)[0]
        headers["Message-ID"] = f"<{message_id}>"
    elif roll < 0.69:  # no sender address at all: rejected when recorded
        sender = ""
    lines = [
        f"Received: from mx.example.net by mail.shop.example; {at:%a, %d %b %Y %H:%M:%S} +0000",
        f"From: Buyer <{sender}>" if sender else "From: <>",
        "To: help@shop.example",
        f"Subject: {subject}",
        *(f"{name}: {value}" for name, value in headers.items()),
        "",
        f"Hello, message {n}: the item inside is cracked and the box was wet.",
    ]
    if sender:
        sent.append((message_id, sender, order))
    return ("\r\n".join(lines) + "\r\n").encode()


def _archive(count: int, seed: int = 5) -> list[bytes]:
    rng = random.Random(seed)
    sent: list[tuple[str, str, str]] = []
    mails = [_mail(n, rng, sent) for n in range(count)]
    mails.insert(count // 2, b"this is not an e-mail\r\n")  # rejected by the parser
    return mails


def _snapshot(channel: m.Channel) -> dict:
    """What an import stored on `channel`, named by external ids, not by row ids."""
    first_of: dict[int, str] = {}
    messages = {}
    for message in m.Message.objects.filter(channel=channel).order_by("received_at", "id"):
        if message.inquiry_id is not None:
            first_of.setdefault(message.inquiry_id, message.external_id)
        messages[message.external_id] = (
            first_of.get(message.inquiry_id),
            message.automatic,
            message.sender_address,
            message.body_text,
            message.response_due_at,
        )
    inquiries = {}
    for inquiry in m.Inquiry.objects.filter(channel=channel).select_related("customer", "topic"):
        clocks = sorted(
            (clock.kind, clock.state, clock.started_at, clock.due_at, clock.stopped_at)
            for clock in inquiry.clocks.all()
        )
        events = sorted(
            (event.kind, event.at, event.message.external_id if event.message_id else "")
            for event in inquiry.events.select_related("message")
        )
        inquiries[first_of[inquiry.pk]] = (
            inquiry.customer.address,
            inquiry.customer.name,
            inquiry.status,
            inquiry.order_id,
            inquiry.topic.key if inquiry.topic else "",
            inquiry.opened_at,
            inquiry.last_inbound_at,
            inquiry.next_due_at,
            inquiry.market_due_at,
            clocks,
            events,
        )
    return {"messages": messages, "inquiries": inquiries}


def _record(recorder: BatchRecorder | ConcurrentRecorder, mails: list[bytes]) -> None:
    now = datetime.now(UTC)
    try:
        for n, raw in enumerate(mails):
            parsed = parse_archived(raw, now)  # received when its Received header says
            if isinstance(parsed, Rejected):
                recorder.reject(f"mail {n}", parsed.reason)
            else:
                recorder.add(f"mail {n}", parsed)
    finally:
        recorder.close()


def _postgresql_only() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("several connections write at once only on PostgreSQL")


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("writers", [2, 3])
def test_several_connections_store_what_one_connection_stores(writers):
    _postgresql_only()
    policy_with_targets()
    one, many = (
        ChannelFactory(account=AccountFactory(marketplace=m.Marketplace.AMAZON), kind=m.ChannelKind.EMAIL)
        for _ in range(2)
    )
    mails = _archive(400)
    single, concurrent = Tally(), Tally()
    _record(BatchRecorder(one, single, size=9), mails)
    _record(ConcurrentRecorder(many, concurrent, writers=writers, size=9), mails)

    assert concurrent.summary() == single.summary()
    assert single.imported > 250 and single.duplicate > 10 and single.automatic > 10
    assert concurrent.rejected == single.rejected  # in input order, with their labels
    assert next(label for label, _ in single.rejected) != "mail 200"  # a recorded one comes first
    assert "mail 200" in dict(single.rejected)  # the parser's rejection is among them
    expected, got = _snapshot(one), _snapshot(many)
    assert got["messages"] == expected["messages"]
    assert got["inquiries"] == expected["inquiries"]
    # The mix reached every branch: bounces threaded across customers, replies kept apart.
    bounces = [v for v in expected["messages"].values() if v[1] and not v[2]]
    assert any(first is not None for first, *_ in bounces)


@pytest.mark.django_db(transaction=True)
def test_import_mail_with_two_writers_reports_like_one(tmp_path: Path):
    _postgresql_only()
    policy_with_targets()
    one, many = (ChannelFactory(account=AccountFactory(), kind=m.ChannelKind.EMAIL) for _ in range(2))
    mbox = tmp_path / "archive.mbox"
    mbox.write_bytes(
        b"".join(
            b"From someone Mon Mar  2 10:00:00 2026\n" + raw.replace(b"\r\n", b"\n") + b"\n"
            for raw in _archive(120, seed=9)
        )
    )
    results = []
    for channel, writers in ((one, "1"), (many, "2")):
        out, err = io.StringIO(), io.StringIO()
        with pytest.raises(SystemExit):  # something was rejected
            call_command(
                "import_mail",
                str(mbox),
                "--channel",
                channel.slug,
                "--writers",
                writers,
                stdout=out,
                stderr=err,
            )
        results.append((out.getvalue(), err.getvalue()))
    assert results[0] == results[1]
    assert results[0][1].count("rejected ") > 1
    assert _snapshot(many) == _snapshot(one)


def test_a_message_goes_by_its_customer_unless_its_place_may_depend_on_another():
    from inquiries.services.recording import owner
    from tests.factories import incoming

    channel = m.Channel(pk=1, account_id=7)
    assert owner(channel, incoming(sender_address="Buyer@Example.com")) == (7, "buyer@example.com")
    assert owner(channel, incoming(sender_address="")) is None
    assert owner(channel, incoming(sender_address="a@example.com", thread_id="T-1")) is None
    assert owner(channel, incoming(sender_address="a@example.com", direction="outbound")) is None


@pytest.mark.django_db
def test_one_connection_where_more_cannot_work(channel):
    # Inside a transaction (as here) other connections would not see its rows; SQLite has
    # one writer at a time anyway.
    assert isinstance(recorder_for(channel, Tally(), writers=2), BatchRecorder)
    assert isinstance(recorder_for(channel, Tally(), writers=1), BatchRecorder)


@pytest.mark.django_db
def test_writers_out_of_range_is_a_clear_error(tmp_path: Path, channel):
    (tmp_path / "a.eml").write_bytes(b"From: a@example.com\r\n\r\nhi\r\n")
    with pytest.raises(CommandError, match="--writers: must be between 1 and 16"):
        call_command("import_mail", str(tmp_path / "a.eml"), "--channel", channel.slug, "--writers", "0")


@pytest.mark.django_db(transaction=True)
def test_after_a_batch_fails_no_batch_starts_and_the_failure_is_raised(monkeypatch):
    _postgresql_only()
    from inquiries.management.commands import _importing

    policy_with_targets()
    channel = ChannelFactory(account=AccountFactory(), kind=m.ChannelKind.EMAIL)
    recorder = ConcurrentRecorder(channel, Tally(), writers=2, size=5)
    calls = {"started": 0, "after_failure": 0}
    real = _importing.record_messages

    def failing_third(*args, **kwargs):
        if recorder.failed.is_set():
            calls["after_failure"] += 1
        calls["started"] += 1
        if calls["started"] == 3:
            raise RuntimeError("the database went away")
        return real(*args, **kwargs)

    monkeypatch.setattr(_importing, "record_messages", failing_third)
    with pytest.raises(RuntimeError, match="went away"):
        try:
            for n, raw in enumerate(_archive(200, seed=3)):
                parsed = parse_archived(raw, datetime.now(UTC))
                if not isinstance(parsed, Rejected):
                    recorder.add(f"mail {n}", parsed)
        except BaseException:
            recorder.abort()
            raise
        recorder.close()
    # At most the other connection's batch that had already started runs on.
    assert calls["after_failure"] <= 1
    assert calls["started"] <= 4
    assert all(lane.executor._shutdown for lane in recorder.lanes)


@pytest.mark.django_db
def test_a_message_a_held_reply_waits_for_is_recorded_alone_by_the_writers(monkeypatch):
    """The held reply names two customers' messages, which the writers would record side by
    side: each goes alone, after everything before it, so the reply joins the inquiry of the
    one that comes first, as with one connection, whichever connection is quicker. (What the
    batches leave is compared whole by the writers' equivalence test on PostgreSQL.)"""
    from inquiries.services.recording import Held, record_message
    from tests.factories import incoming

    channel = ChannelFactory(account=AccountFactory(), kind=m.ChannelKind.EMAIL)
    reply = incoming(
        external_id="r1",
        direction=m.Direction.OUTBOUND,
        sender_address="agent@shop.example",
        references=("a3", "b3"),
        received_at=T0 + timedelta(hours=5),
    )
    assert isinstance(record_message(channel=channel, incoming=reply), Held)
    recorder = ConcurrentRecorder(channel, Tally(), writers=2, size=50)
    submitted: list[list[str]] = []
    monkeypatch.setattr(
        recorder, "_submit", lambda lane, batch: submitted.append([e[2].external_id for e in batch])
    )

    for n in range(6):
        for who in ("a", "b"):
            message = incoming(
                external_id=f"{who}{n}",
                sender_address=f"{who}@example.com",
                received_at=T0 + timedelta(minutes=n),
            )
            recorder.add(f"{who}{n}", message)
    recorder.close()

    assert ["a3"] in submitted and ["b3"] in submitted
    before_a3 = [i for batch in submitted[: submitted.index(["a3"])] for i in batch]
    assert sorted(before_a3) == ["a0", "a1", "a2", "b0", "b1", "b2"]  # everything before it first
    assert sorted(i for batch in submitted for i in batch) == sorted(
        f"{w}{n}" for w in "ab" for n in range(6)
    )
