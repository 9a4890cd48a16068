"""Recording an archive in batches stores exactly what recording it one message at a time does.

The engine's promise (`services/recording/engine.py`): whatever ways it takes, the result is
that of recording the messages one at a time in input order. For each seed,
`tests/archives.py` writes a history and a random archive. The history is stored, then the
archive is recorded (a) one by one with `record_message()` inside a savepoint that is rolled
back, and (b) with `record_messages()` in random batch sizes, from the same database state
with the same `now`. Compared: every column of every Customer, Inquiry, Message, Attachment,
Clock, InquiryEvent, HeldMessage and HeldWait row (ids replaced by canonical keys), each
inquiry's messages and events in the order the app reads them, its search document
(PostgreSQL), each input message's outcome and the follow-up work queued after commit.

`CSTRACKER_EQUIVALENCE_ARCHIVES` sets the number of seeds (default 200). The differences found on
the code before the one engine are reproduced in their smallest form at the end of this file;
each failed then and passes now.
"""

from __future__ import annotations

import json
import os
import random
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

import pytest
from django.conf import settings
from django.db import connection, models, transaction
from django.utils import timezone

from inquiries import services
from inquiries.ingestion.types import Direction, IncomingMessage, Rejected
from inquiries.models import (
    Attachment,
    Calendar,
    Channel,
    ChannelKind,
    Clock,
    Customer,
    EventKind,
    HeldMessage,
    HeldWait,
    Inquiry,
    InquiryEvent,
    Message,
    Priority,
    SlaPolicy,
    SlaTarget,
    Topic,
)
from inquiries.services.recording import Held, record_messages
from tests.archives import INACTIVE, MAIN, OTHER, SECOND, VIP, Archive
from tests.factories import AccountFactory, ChannelFactory, incoming

ARCHIVES = int(os.environ.get("CSTRACKER_EQUIVALENCE_ARCHIVES", "200"))

# Columns set from the wall clock (`timezone.now()` as the row is built), which the two runs
# read at different instants by construction. They are compared by phase instead of value: a
# row stored by the run must carry a time within the run, a row of the history one before it.
WALL_CLOCK = {
    Customer: {"created_at"},
    Inquiry: {"created_at"},
    Message: {"created_at"},
    InquiryEvent: {"recorded_at"},
}

Outcome = services.RecordResult | Held | Rejected
RECORDED = (Customer, Inquiry, Message, Attachment, Clock, InquiryEvent, HeldMessage, HeldWait)
Items = Sequence[tuple[Channel, IncomingMessage]]


# --- the comparison ---------------------------------------------------------------------


@dataclass
class Recorded:
    """What one run left: the database state with canonical keys, the outcome of each input
    message and the messages whose follow-up work was queued after commit."""

    state: dict[str, object]
    outcomes: list[tuple]
    queued: list[tuple]


def _values(model: type[models.Model]) -> list[dict[str, object]]:
    return list(model.objects.order_by().values(*(f.attname for f in model._meta.concrete_fields)))


def snapshot(*, started: datetime, finished: datetime) -> tuple[dict[str, object], dict]:
    """The recording tables, every row and column, with ids replaced by canonical keys; and
    the keys by model and id (for the outcomes).

    Messages are named by (channel, external id), customers by (account, address), an inquiry
    by the message that opened it (its inquiry_opened event), a clock by its inquiry, kind,
    message and start. Configuration rows (accounts, channels, policies, calendars, topics)
    are the same rows in both runs: their ids are compared as they are.
    """

    def phase(at: datetime) -> str:
        return "before the run" if at < started else "during the run" if at <= finished else "after the run"

    rows = {model: _values(model) for model in RECORDED}
    keys: dict[type[models.Model], dict[int, object]] = {
        Customer: {r["id"]: (r["account_id"], r["address"]) for r in rows[Customer]},
        Message: {r["id"]: (r["channel_id"], r["external_id"]) for r in rows[Message]},
        HeldMessage: {r["id"]: ("held", r["channel_id"], r["external_id"]) for r in rows[HeldMessage]},
    }
    openings: dict[int, list[object]] = defaultdict(list)
    for event in rows[InquiryEvent]:
        if event["kind"] == EventKind.INQUIRY_OPENED:
            openings[event["inquiry_id"]].append(keys[Message].get(event["message_id"]))
    members: dict[int, list[dict[str, object]]] = defaultdict(list)
    for message in rows[Message]:
        members[message["inquiry_id"]].append(message)
    keys[Inquiry] = {
        # An inquiry without exactly one opening (a bug on one path) is named by its messages.
        r["id"]: ("opened by", *openings[r["id"]])
        if len(openings[r["id"]]) == 1
        else ("inquiry of", *sorted(keys[Message][m["id"]] for m in members[r["id"]]))
        for r in rows[Inquiry]
    }

    def mapped(model: type[models.Model], row: dict[str, object]) -> dict[str, object]:
        out = {}
        for f in model._meta.concrete_fields:
            value = row[f.attname]
            if f.primary_key:
                continue
            if f.name in WALL_CLOCK.get(model, ()):
                value = phase(value)  # type: ignore[arg-type]
            elif f.is_relation and f.related_model in keys and value is not None:
                value = keys[f.related_model].get(value, ("no such row", value))  # type: ignore[index]
            elif isinstance(value, memoryview):
                value = bytes(value)
            elif isinstance(f, models.JSONField):
                if model is InquiryEvent and "previous_inquiry" in value:  # type: ignore[operator]
                    value = {**value, "previous_inquiry": keys[Inquiry].get(value["previous_inquiry"])}  # type: ignore[index]
                value = json.dumps(value, sort_keys=True, default=str)
            out[f.name] = value
        return out

    clocks = {r["id"]: mapped(Clock, r) for r in rows[Clock]}
    keys[Clock] = {
        pk: (row["inquiry"], row["kind"], row["message"], row["started_at"]) for pk, row in clocks.items()
    }
    documents: dict[int, str | None] = {}
    if connection.vendor == "postgresql":  # kept by triggers, outside the model (migrations 0017, 0021)
        with connection.cursor() as cursor:
            cursor.execute("SELECT id, search_document::text FROM inquiries_inquiry")
            documents = dict(cursor.fetchall())
    events: dict[int, list[dict[str, object]]] = defaultdict(list)
    for event in sorted(rows[InquiryEvent], key=lambda e: (e["at"], e["id"])):  # InquiryEvent.Meta.ordering
        events[event["inquiry_id"]].append(mapped(InquiryEvent, event))
    inquiries: dict[object, list[dict[str, object]]] = defaultdict(list)
    for row in rows[Inquiry]:
        inquiries[keys[Inquiry][row["id"]]].append(
            {
                "row": mapped(Inquiry, row),
                # Its thread as the app lists it (Message.Meta.ordering: received_at, id).
                "messages": [
                    keys[Message][m["id"]]
                    for m in sorted(members[row["id"]], key=lambda m: (m["received_at"], m["id"]))
                ],
                "events": events[row["id"]],
                "search_document": documents.get(row["id"]),
            }
        )
    state = {
        "customers": {keys[Customer][r["id"]]: mapped(Customer, r) for r in rows[Customer]},
        "messages": {keys[Message][r["id"]]: mapped(Message, r) for r in rows[Message]},
        "inquiries": dict(inquiries),
        "clocks": Counter(tuple(row.items()) for row in clocks.values()),
        "attachments": Counter(tuple(mapped(Attachment, r).items()) for r in rows[Attachment]),
        "held": {keys[HeldMessage][r["id"]]: mapped(HeldMessage, r) for r in rows[HeldMessage]},
        "held waits": Counter(tuple(mapped(HeldWait, r).items()) for r in rows[HeldWait]),
    }
    return state, keys


def recorded(run: Callable[[], list[Outcome]], capture: Callable) -> Recorded:
    """Run one path (`run`), then read back everything it left."""
    queued: list[tuple[str, tuple]] = []
    started = timezone.now()
    with pytest.MonkeyPatch.context() as patch:
        # The after-commit callbacks run at the end of the block; each queues its task through
        # `safe_delay`, noted here instead of run (the tasks' own work is not compared here).
        patch.setattr(
            "inquiries.services.queue.safe_delay", lambda task, *args, **kw: queued.append((task.name, args))
        )
        with capture(execute=True):
            outcomes = run()
    finished = timezone.now()
    state, keys = snapshot(started=started, finished=finished)

    def outcome(o: Outcome) -> tuple:
        if isinstance(o, Rejected):
            return ("rejected", o.reason)
        if isinstance(o, Held):
            return (
                "held" if o.created else "duplicate of held",
                keys[HeldMessage].get(o.held.pk),
                o.waits_for,
            )
        return (
            "created" if o.created else "duplicate",
            keys[Message].get(o.message.pk, ("not stored", o.message.pk)),
            keys[Inquiry].get(o.message.inquiry_id) if o.message.inquiry_id else None,
        )

    # One task per message or one per batch: compared per message.
    follow_ups = []
    for name, args in queued:
        ids = args[0] if isinstance(args[0], list) else [args[0]]
        follow_ups += [(name.rsplit(".", 1)[-1].rstrip("s"), keys[Message].get(pk, pk)) for pk in ids]
    return Recorded(state, [outcome(o) for o in outcomes], sorted(follow_ups, key=repr))


def one_by_one(items: Items, now: datetime) -> list[Outcome]:
    outcomes: list[Outcome] = []
    for channel, message in items:
        try:
            outcomes.append(services.record_message(channel=channel, incoming=message, now=now))
        except Rejected as exc:
            outcomes.append(exc)
    return outcomes


def in_batches(items: Items, now: datetime, sizes: Sequence[int]) -> list[Outcome]:
    outcomes: list[Outcome] = []
    start = 0
    for size in sizes:
        outcomes += record_messages(items[start : start + size], now=now)
        start += size
    return outcomes


class _RollBack(Exception):
    pass


def counts() -> dict[str, int]:
    """Rows per table and every inquiry's last change: enough to tell that a rollback restored
    the start (every path adds a row or moves an inquiry's updated_at)."""
    found = {m.__name__: m.objects.count() for m in RECORDED}
    found["inquiry versions"] = hash(
        tuple(Inquiry.objects.order_by("id").values_list("updated_at", "status"))
    )
    return found


def assert_equivalent(items: Items, *, now: datetime, sizes: Sequence[int], capture: Callable) -> None:
    """Record `items` both ways from the current database state and compare all they leave."""
    assert sum(sizes) == len(items)
    start = counts()
    try:
        with transaction.atomic():
            expected = recorded(lambda: one_by_one(items, now), capture)
            raise _RollBack
    except _RollBack:
        pass
    assert counts() == start, "the rollback left rows behind"
    actual = recorded(lambda: in_batches(items, now, sizes), capture)
    problems = differences(expected, actual, items)
    assert not problems, (
        f"batches of {list(sizes)} differ from one by one:\n"
        + "\n".join(problems)
        + "\nthe input:\n"
        + "\n".join(describe(n, channel, m) for n, (channel, m) in enumerate(items))
    )


def differences(expected: Recorded, actual: Recorded, items: Items, limit: int = 25) -> list[str]:
    """Readable lines for what differs (one by one's value first, then the batch's)."""
    out = []
    for n, (a, b) in enumerate(zip(expected.outcomes, actual.outcomes, strict=True)):
        if a != b:
            out.append(f"outcome #{n} ({items[n][1].external_id!r}): {a} / batch {b}")
    if expected.queued != actual.queued:
        out.append(f"follow-ups queued: {_only(expected.queued, actual.queued)}")
    for section, a in expected.state.items():
        b = actual.state[section]
        if a == b:
            continue
        if isinstance(a, Counter):
            rows = [[_short(dict(r), keep_inquiry=True) for r in c.elements()] for c in (a, b)]
            out.append(f"{section}: {_only(*rows)}")
            continue
        for key in sorted(set(a) | set(b), key=repr):
            x, y = a.get(key), b.get(key)  # type: ignore[union-attr]
            if x != y:
                out.append(f"{section} {key}: {_changes(x, y)}")
    return out[:limit] + ([f"... and {len(out) - limit} more"] if len(out) > limit else [])


def _only(a: Sequence, b: Sequence) -> str:
    x, y = Counter(map(repr, a)), Counter(map(repr, b))
    return f"one by one only [{', '.join(sorted(x - y))}]; batch only [{', '.join(sorted(y - x))}]"


def _changes(x: object, y: object) -> str:
    """The fields that differ between two rows, the rows that differ between two lists, else
    both whole."""
    if isinstance(x, list) and isinstance(y, list) and len(x) == len(y) == 1:
        x, y = x[0], y[0]
    if isinstance(x, dict) and isinstance(y, dict):
        return "; ".join(
            f"{k}: {_changes(x.get(k), y.get(k))}"
            for k in sorted(x.keys() | y.keys())
            if x.get(k) != y.get(k)
        )
    if isinstance(x, list) and isinstance(y, list) and x and isinstance(x[0], dict):
        if Counter(map(repr, x)) == Counter(map(repr, y)):
            return (
                f"the same rows in another order: {[_short(r) for r in x]} / batch {[_short(r) for r in y]}"
            )
        only_x, only_y = [_short(r) for r in x if r not in y], [_short(r) for r in y if r not in x]
        return f"one by one only {only_x}; batch only {only_y}"
    return f"{x!r} / batch {y!r}"


def _short(row: dict[str, object], *, keep_inquiry: bool = False) -> dict[str, object]:
    """A row without empty columns, nor (among the events of its inquiry) its inquiry."""
    drop = ("recorded_at",) if keep_inquiry else ("inquiry", "recorded_at")
    return {k: v for k, v in row.items() if k not in drop and v not in (None, "{}")}


def describe(n: int, channel: Channel, m: IncomingMessage) -> str:
    """One line for an input message: the fields it sets."""
    fields = {
        name: getattr(m, name)
        for name in IncomingMessage.__dataclass_fields__
        if getattr(m, name) not in ("", (), None, False) and name not in ("body_text", "attachments", "raw")
    }
    for name in ("received_at", "sent_at"):
        at = getattr(m, name)
        fields[name] = at.isoformat() if at else None
    shown = {
        k: v if len(str(v)) <= 80 else f"{str(v)[:60]}... ({len(str(v))} characters)"
        for k, v in fields.items()
    }
    return f"#{n} {channel.slug} " + " ".join(f"{k}={v}" for k, v in shown.items())


def policy(
    *, position: int, targets: tuple[int | None, int | None, int | None], **fields: object
) -> SlaPolicy:
    """A policy with the same first reply, next reply and resolution targets for every priority."""
    created = SlaPolicy.objects.create(name=f"Policy {position}", position=position, **fields)
    first, following, resolution = targets
    SlaTarget.objects.bulk_create(
        SlaTarget(
            policy=created,
            priority=priority,
            first_reply_seconds=first,
            next_reply_seconds=following,
            resolution_seconds=resolution,
        )
        for priority in Priority.values
    )
    return created


# --- random archives --------------------------------------------------------------------


@pytest.fixture(scope="module")
def _topic_rules_loaded_afresh() -> None:
    from inquiries.selectors import topics

    topics.clear_cache()


@pytest.fixture(autouse=True)
def _fresh_caches(_topic_rules_loaded_afresh: None) -> None:
    """conftest's, except that the topic rules, compiled afresh for this module, stay compiled
    from one archive to the next (a tenth of a second each): no test here changes a topic or a
    rule, and the seeded ones keep their ids."""
    from django.core.cache import cache

    from inquiries.selectors import calendars, marketplace_rules
    from inquiries.services.clocks import policies

    cache.clear()
    calendars.clear_cache()
    policies.clear_cache()
    marketplace_rules.clear_cache()


def batch_sizes(seed: int, count: int) -> list[int]:
    """Random consecutive batches covering `count` messages: sometimes one, usually several."""
    rng = random.Random(f"batches-{seed}")
    if rng.random() < 0.2:
        return [count]
    sizes = []
    while count:
        sizes.append(rng.randint(1, min(count, rng.choice((3, 10, count)))))
        count -= sizes[-1]
    return sizes


def build_world(archive: Archive) -> dict[str, Channel]:
    """Accounts, channels and policies, then the archive's history stored the way the app
    stores it (messages by `record_message()`, statuses by `change_status()`)."""
    calendar = Calendar.objects.create(
        name="Weekdays", timezone="Europe/Berlin", hours={str(d): [["09:00", "17:00"]] for d in range(5)}
    )
    account = AccountFactory(
        name="Shop",
        marketplace=archive.marketplace,
        timezone=archive.timezone,
        history_starts_on=archive.history_starts_on,
    )
    channels = {
        MAIN: ChannelFactory(account=account, slug=MAIN),
        SECOND: ChannelFactory(account=account, slug=SECOND, kind=ChannelKind.EMAIL),
        OTHER: ChannelFactory(account=AccountFactory(name="Other shop", marketplace="amazon"), slug=OTHER),
        INACTIVE: ChannelFactory(account=account, slug=INACTIVE, is_active=False),
    }
    # Policies by customer tag, topic and channel, then the general one: clocks on business
    # hours and 24x7, and without a resolution target, so that every clock rule is exercised.
    policy(position=10, customer_tags=["vip"], targets=(1800, 3600, 86400))
    policy(position=20, targets=(3600, 7200, None)).topics.add(Topic.objects.get(key="damaged"))
    policy(position=30, calendar=calendar, targets=(4 * 3600, 7200, 86400)).channels.add(channels[SECOND])
    policy(position=100, calendar=calendar, targets=(2 * 3600, 4 * 3600, 2 * 86400))
    Customer.objects.create(account=account, address=VIP, tags=["vip"])
    for step in archive.history():
        channel = channels[step.channel]
        if step.incoming is not None:
            services.record_message(channel=channel, incoming=step.incoming, now=step.at)
        else:
            inquiry = Message.objects.get(channel=channel, external_id=step.opener).inquiry
            services.change_status(inquiry=inquiry, status=step.status, actor=None, now=step.at)
    return channels


def _seeds() -> list:
    return [pytest.param(seed, id=f"seed{seed}") for seed in range(ARCHIVES)]


def _archive(seed: int) -> Archive:
    return Archive(
        seed,
        reopen_days=settings.CSTRACKER_REOPEN_WINDOW_DAYS,
        order_days=settings.CSTRACKER_ORDER_THREAD_DAYS,
    )


@pytest.mark.django_db
@pytest.mark.parametrize("seed", _seeds())
def test_a_random_archive_recorded_in_batches_gives_what_one_by_one_gives(
    seed: int, django_capture_on_commit_callbacks: Callable
) -> None:
    from inquiries.complaints import rules
    from inquiries.selectors import topics

    archive = _archive(seed)
    channels = build_world(archive)
    inquiry_ids = dict(Message.objects.filter(inquiry__isnull=False).values_list("external_id", "inquiry_id"))
    compiled = topics.rules_for_hints()  # the hints a parsing worker attaches (ingestion/pool.py)
    hint = (lambda text: rules.topic_hint(text, compiled)) if compiled is not None else None
    items = [(channels[slug], m) for slug, m in archive.messages(inquiry_ids, hint=hint)]
    assert_equivalent(
        items,
        now=archive.now,
        sizes=batch_sizes(seed, len(items)),
        capture=django_capture_on_commit_callbacks,
    )


def test_the_archives_mix_every_case_the_recording_rules_tell_apart() -> None:
    """The generator alone (no database): every action and the cases made inside them (times,
    names, long subjects) appear among the seeds run, and a typical archive mixes many."""
    used: Counter[str] = Counter()
    traits: Counter[str] = Counter()
    variety = []
    for seed in range(max(ARCHIVES, 50)):
        archive = _archive(seed)
        openers = {s.incoming.external_id: n for n, s in enumerate(archive.history()) if s.incoming}
        items = archive.messages(openers)
        used.update(archive.used)
        variety.append(len(archive.used))
        nameless: set[str] = set()
        latest = archive.t0
        for _, m in items:
            address = m.sender_address.lower()
            aware = m.received_at is not None and m.received_at.tzinfo is not None
            traits.update(
                trait
                for trait, holds in (
                    ("no receipt time", m.received_at is None),
                    ("out of time order", aware and m.received_at < latest),
                    ("name missing, then given", m.sender_name and address in nameless),
                    ("sku", m.sku),
                    ("attachments", m.attachments),
                    ("subject longer than its column", len(m.subject) > 998),
                )
                if holds
            )
            if m.direction == Direction.INBOUND and not m.sender_name:
                nameless.add(address)
            if aware:
                latest = max(latest, m.received_at)
    assert set(used) == {name for name, _ in Archive.ACTIONS}
    assert set(traits) == {
        "no receipt time",
        "out of time order",
        "name missing, then given",
        "sku",
        "attachments",
        "subject longer than its column",
    }
    assert sorted(variety)[len(variety) // 2] >= 6, "a typical archive mixes at least 6 kinds of message"


# --- the differences found, each in its smallest form ------------------------------------
# One batch of the messages against the same messages one by one, on one channel of an
# Amazon account with one policy. Each failed on the code before the one engine.

T0 = datetime(2026, 3, 6, 15, 0, tzinfo=UTC)
ORDER = "123-1234567-1234567"


@pytest.fixture
def shop(db: None) -> Channel:
    policy(position=100, targets=(3600, 7200, 86400))
    return ChannelFactory(account=AccountFactory(marketplace="amazon"), slug="shop")


def recorded_alike(channel: Channel, messages: list[IncomingMessage], capture: Callable) -> None:
    items = [(channel, m) for m in messages]
    assert_equivalent(items, now=T0 + timedelta(hours=1), sizes=[len(items)], capture=capture)


# The topic was classified from the whole subject in bulk and from the stored (cut) subject one
# by one; now `rules.classify` decides for every way.
def test_a_subject_longer_than_its_column_gives_the_topic_one_by_one_gives(
    shop: Channel, django_capture_on_commit_callbacks: Callable
) -> None:
    subject = "Hello " * 170 + "it arrived damaged"  # the topic's words only after character 998
    recorded_alike(
        shop,
        [incoming(external_id="m1", received_at=T0, subject=subject, body_text="")],
        django_capture_on_commit_callbacks,
    )


REJECTED_COPIES = {
    "refused by validation": {"sender_address": ""},
    "an agent's reply naming nothing to attach to": {
        "direction": Direction.OUTBOUND,
        "sender_address": "agent@shop.example",
    },
}


@pytest.mark.parametrize("rejected", REJECTED_COPIES)
# A copy refused by validation counted as the id's first copy, and a later copy went the careful
# way without holding back later messages of its order; now the engine decides dedupe first.
def test_a_good_copy_after_a_rejected_one_opens_the_inquiry_of_its_order_as_one_by_one(
    shop: Channel, django_capture_on_commit_callbacks: Callable, rejected: str
) -> None:
    recorded_alike(
        shop,
        [
            incoming(external_id="m1", received_at=T0, **REJECTED_COPIES[rejected]),
            incoming(external_id="m1", received_at=T0, sender_address="a@example.com", order_id=ORDER),
            incoming(external_id="m2", received_at=T0, sender_address="a@example.com", order_id=ORDER),
        ],
        django_capture_on_commit_callbacks,
    )


# The same cause, for the customer's first name (`rules.fills_name`).
def test_a_good_copy_after_a_rejected_one_names_its_customer_as_one_by_one(
    shop: Channel, django_capture_on_commit_callbacks: Callable
) -> None:
    copy = incoming(external_id="m1", received_at=T0, sender_address="a@example.com", sender_name="Alice")
    recorded_alike(
        shop,
        [
            replace(copy, received_at=T0 + timedelta(days=1)),  # in the future: refused
            copy,
            incoming(external_id="m2", received_at=T0, sender_address="a@example.com", sender_name="Bob"),
        ],
        django_capture_on_commit_callbacks,
    )


# Ties between named messages went by row id, which the ways assign in different orders; now
# `rules.newest_named` breaks them by the order the message names them.
def test_a_reply_naming_two_messages_of_the_same_instant_joins_the_inquiry_one_by_one_joins(
    shop: Channel, django_capture_on_commit_callbacks: Callable
) -> None:
    recorded_alike(
        shop,
        [
            incoming(external_id="m1", received_at=T0, sender_address="a@example.com"),
            incoming(external_id="m2", received_at=T0, sender_address="a@example.com"),  # her second inquiry
            incoming(
                external_id="r1",
                received_at=T0 + timedelta(minutes=5),
                sender_address="a@example.com",
                references=("m1", "m2"),
            ),
            # With r1, a run of two replies: what the batch records on its follow-up path.
            incoming(
                external_id="r2",
                received_at=T0 + timedelta(minutes=6),
                sender_address="a@example.com",
                in_reply_to="m1",
            ),
        ],
        django_capture_on_commit_callbacks,
    )


# --- several writers (PostgreSQL) ---------------------------------------------------------------
WRITER_ARCHIVES = int(os.environ.get("CSTRACKER_EQUIVALENCE_WRITER_ARCHIVES", "12"))
# Several connections write at once only on PostgreSQL (SQLite serialises writers).
WRITERS = [1, 2, 3] if connection.vendor == "postgresql" else [1]


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("writers", WRITERS)
@pytest.mark.parametrize("seed", range(WRITER_ARCHIVES), ids=lambda seed: f"seed{seed}")
def test_a_random_archive_imported_by_several_writers_gives_what_one_by_one_gives(
    seed: int, writers: int, django_capture_on_commit_callbacks: Callable, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An archive's messages of one channel through the import commands' recorders (`import_mail
    --writers N`: each customer's messages on one of N connections, side by side) against the
    same messages one by one. The one-by-one run is rolled back before the writers start, so
    they see the history only (it is committed: this test runs outside a test transaction)."""
    from types import SimpleNamespace

    from inquiries.management.commands._importing import BatchRecorder, ConcurrentRecorder, Tally

    archive = _archive(seed)
    channels = build_world(archive)
    inquiry_ids = dict(Message.objects.filter(inquiry__isnull=False).values_list("external_id", "inquiry_id"))
    items = [(channels[slug], m) for slug, m in archive.messages(inquiry_ids) if slug == MAIN]
    channel = channels[MAIN]
    # The recorders record "now": the archive's now, as for the one-by-one run.
    monkeypatch.setattr(
        "inquiries.services.recording.engine.timezone", SimpleNamespace(now=lambda: archive.now)
    )
    start = counts()
    try:
        with transaction.atomic():
            expected = recorded(lambda: one_by_one(items, archive.now), django_capture_on_commit_callbacks)
            raise _RollBack
    except _RollBack:
        pass
    assert counts() == start, "the rollback left rows behind"

    tally = Tally()
    size = random.Random(seed).randint(1, 9)

    def import_them() -> list[Outcome]:
        recorder = (
            BatchRecorder(channel, tally, size=size)
            if writers == 1
            else ConcurrentRecorder(channel, tally, writers=writers, size=size)
        )
        try:
            for n, (_, message) in enumerate(items):
                recorder.add(f"#{n}", message)
        finally:
            recorder.close()
        return []

    actual = recorded(import_them, django_capture_on_commit_callbacks)
    rejected = [(f"#{n}", o[1]) for n, o in enumerate(expected.outcomes) if o[0] == "rejected"]
    assert tally.rejected == rejected
    # The writers' follow-up work is queued on their own connections' commits, outside the
    # captured callbacks; the state they leave is compared whole.
    problems = differences(
        Recorded(expected.state, [], []), Recorded(actual.state, [], []), [(channel, m) for _, m in items]
    )
    assert not problems, f"{writers} writers in batches of {size} differ from one by one:\n" + "\n".join(
        problems
    )
