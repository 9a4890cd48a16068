"""The cluster update per ingested complaint, with a million inquiries stored.

    DATABASE_URL=postgres://... python bench/clusters.py [--inquiries 1000000] [--updates 200] [--keep]

Builds, in a throwaway database and with set-based SQL (INSERT ... SELECT generate_series):
--inquiries complaint inquiries over the last 180 days, each with its opening customer
message, spread over 3 accounts, 9 topics and 2,000 SKUs (a long tail: a few products get
most complaints, most are quiet; every product's rate is steady, so what the tests flag is
chance); then fingerprints the last 7 days' complaints as the sweep would.

Then records --updates new complaints through `record_message` (not timed) and times the
follow-up that runs after each one's commit: the incremental cluster update (burst test
on the product, text screening against the window, cluster writes and events). The mix:
60% complaints about random existing SKUs (quiet, nothing opens), 20% bursts on a few new
SKUs (clusters open and grow) and 20% copies of one complaint text from different
customers (a near-identical-text cluster opens and grows). Prints the median and p95 in
milliseconds, the queries per update, and the database (target: median <= 20 ms); then
the time of one periodic sweep over the same data, whole and in the worker's steps.
"""

from __future__ import annotations

import argparse
import random
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

from _setup import describe_database, median, no_broker, percentile, throwaway_database
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from inquiries.ingestion.types import Direction, IncomingMessage
from inquiries.models import Account, Channel, Cluster, ClusterKind, Marketplace, Team, Topic
from inquiries.services import record_message
from inquiries.services.complaints import fingerprint_window, sweep_clusters
from inquiries.services.followup import follow_up_message
from inquiries.services.recording import RecordResult

DAYS = 180
SKUS = 2000
# Topic keys with their share of the generated complaints.
TOPIC_MIX = (
    ["quality"] * 3
    + ["damaged"] * 2
    + ["delivery"] * 3
    + ["wrong_item", "missing", "refund", "refund", "billing", "question", "other"]
)
PHRASES = [
    "it stopped working after a week",
    "the lid arrived cracked",
    "wrong colour was sent",
    "two screws are missing",
    "the parcel never arrived",
    "I want my money back",
    "I was charged twice",
    "does it fit a 30 cm pan",
    "the handle fell off",
    "box was crushed and the glass shattered",
    "tracking shows delivered but nothing came",
    "the manual is missing",
    "the seam leaks",
    "a different model came",
    "it smells of burnt plastic",
    "the battery does not charge",
    "paint is peeling off",
]
# Words mixed into every text, so stored complaints differ from each other as real ones do.
VOCABULARY = (  # noqa: SIM905
    "kettle toaster blender lamp chair table shelf mirror cable charger speaker headset mouse keyboard "
    "jacket boots gloves scarf backpack wallet watch bottle pan knife board pillow blanket curtain rug "
    "yesterday today monday friday weekend morning evening again finally already still never always "
    "red blue black white green grey small large heavy light new old cheap expensive plastic metal "
    "glass wood cotton leather box parcel courier driver neighbour door porch garage office"
).split()
DETAILS = [
    "Please help.",
    "This is the second time.",
    "Very disappointed.",
    "I need it for a party on Friday.",
    "My neighbour had the same problem.",
    "Can you send a replacement?",
    "I have photos.",
    "Not happy at all.",
    "What are my options?",
    "The gift is ruined.",
    "Please call me.",
    "It was a present.",
    "Thanks in advance.",
]

SQL = {
    "customers": """
        INSERT INTO inquiries_customer (account_id, address, name, tags, created_at)
        SELECT (%(accounts)s)[1 + g %% 3], 'buyer' || g || '@bench.example', '', '[]'::jsonb, %(now)s
        FROM generate_series(1, %(customers)s) AS g
    """,
    "inquiries": """
        INSERT INTO inquiries_inquiry (account_id, channel_id, customer_id, subject, status, priority,
            topic_id, topic_source, order_id, sku, thread_key, opened_at, last_inbound_at, created_at,
            updated_at)
        SELECT c.account_id, ch.id, c.id, 'Order ' || s.g, 'open', 'normal',
               (%(topics)s)[1 + s.g %% array_length(%(topics)s, 1)], 'rules', 'ORD-' || s.g,
               'SKU-' || s.sku, '', s.opened, s.opened, s.opened, s.opened
        FROM (SELECT g, %(now)s::timestamptz - random() * %(days)s * interval '1 day' AS opened,
                     floor(%(skus)s * power(random(), 3))::int AS sku
              FROM generate_series(1, %(n)s) AS g) AS s
        JOIN inquiries_customer c ON c.id = %(first_customer)s + (s.g %% %(customers)s)
        JOIN inquiries_channel ch ON ch.account_id = c.account_id
    """,
    "messages": """
        INSERT INTO inquiries_message (channel_id, inquiry_id, direction, automatic, automatic_reason,
            external_id, thread_id, in_reply_to, "references", sender_address, sender_name, subject,
            body_text, body_html, received_at, order_id, sku, no_response_needed, delivery_state,
            delivery_error, created_at, followed_up_at)
        SELECT i.channel_id, i.id, 'inbound', false, '', 'bench-' || i.id, '', '', '[]'::jsonb,
               'buyer@bench.example', '', i.subject,
               'Hello, ' || (%(phrases)s::text[])[1 + i.id %% array_length(%(phrases)s::text[], 1)]
                 || '. ' || (%(details)s::text[])[1 + (i.id / 17) %% array_length(%(details)s::text[], 1)]
                 || ' ' || (%(words)s::text[])[1 + (i.id * 7) %% %(nwords)s]
                 || ' ' || (%(words)s::text[])[1 + (i.id * 13 + 5) %% %(nwords)s]
                 || ' ' || (%(words)s::text[])[1 + (i.id * 31 + 11) %% %(nwords)s]
                 || ' ' || (%(words)s::text[])[1 + (i.id / 7 * 17 + 3) %% %(nwords)s]
                 || ' ' || (%(words)s::text[])[1 + (i.id / 61 * 23 + 1) %% %(nwords)s]
                 || '. Ref ' || i.id || '.',
               '', i.opened_at, i.order_id, i.sku, false, '', '', i.opened_at, i.opened_at
        FROM inquiries_inquiry i WHERE i.id >= %(first_inquiry)s
    """,
}


@contextmanager
def bulk_load(tables: list[str]) -> Iterator[None]:
    """Load without per-row index and foreign-key upkeep: drop the tables' secondary indexes
    (not those behind constraints) and recreate them afterwards, which is many times faster;
    skip the FK triggers (the generated rows are consistent by construction)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexname, indexdef FROM pg_indexes i WHERE tablename = ANY(%s) AND NOT EXISTS ("
            " SELECT 1 FROM pg_constraint c WHERE c.conindid = (quote_ident(i.schemaname) || '.' ||"
            " quote_ident(i.indexname))::regclass)",
            [tables],
        )
        indexes = cursor.fetchall()
        for name, _ in indexes:
            cursor.execute(f'DROP INDEX "{name}"')
        cursor.execute("SET session_replication_role = replica")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SET session_replication_role = DEFAULT")
            for _, definition in indexes:
                cursor.execute(definition)


def build(*, inquiries: int) -> tuple[list[Channel], float]:
    started = time.perf_counter()
    now = timezone.now()
    with transaction.atomic():
        accounts = [
            Account.objects.create(name=f"Bench {n}", marketplace=Marketplace.AMAZON) for n in range(3)
        ]
        Team.objects.create(name="Bench team").accounts.add(*accounts)
        channels = [Channel.objects.create(account=a, slug=f"bench-{a.pk}", name=a.name) for a in accounts]
    topic_ids = dict(Topic.objects.values_list("key", "pk"))
    with connection.cursor() as cursor:
        cursor.execute("SELECT COALESCE(MAX(id), 0) + 1 FROM inquiries_customer")
        first_customer = cursor.fetchone()[0]
        cursor.execute("SELECT COALESCE(MAX(id), 0) + 1 FROM inquiries_inquiry")
        first_inquiry = cursor.fetchone()[0]
    params = {
        "n": inquiries,
        "customers": max(1, inquiries // 3),
        "days": DAYS,
        "skus": SKUS,
        "now": now,
        "accounts": [a.pk for a in accounts],
        "topics": [topic_ids[key] for key in TOPIC_MIX],
        "phrases": PHRASES,
        "words": VOCABULARY,
        "nwords": len(VOCABULARY),
        "details": DETAILS,
        "first_customer": first_customer,
        "first_inquiry": first_inquiry,
    }
    with bulk_load(["inquiries_inquiry", "inquiries_message"]):
        for step, sql in SQL.items():
            step_started = time.perf_counter()
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(sql, params)
                rows = cursor.rowcount
            print(f"  {step:<12} {rows:>10,} rows  {time.perf_counter() - step_started:6.1f} s", flush=True)
        step_started = time.perf_counter()
    print(f"  {'indexes':<12} {'':>10}       {time.perf_counter() - step_started:6.1f} s", flush=True)
    step_started = time.perf_counter()
    fingerprinted = fingerprint_window(now=now, batch=10**7)
    print(f"  {'fingerprints':<12} {fingerprinted:>10,} rows  {time.perf_counter() - step_started:6.1f} s")
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    return channels, time.perf_counter() - started


def new_complaints(channels: list[Channel], count: int, rng: random.Random) -> list[IncomingMessage]:
    """The measured complaints, received one second apart from now on."""
    campaign = "The seller sent a used and dirty kettle with scratches, it is defective, this is a scam!"
    start = timezone.now()
    messages = []
    for n in range(count):
        kind = rng.random()
        if kind < 0.6:
            sku, body = (
                f"SKU-{rng.randrange(SKUS)}",
                f"Hello, {rng.choice(PHRASES)}. {rng.choice(DETAILS)} #{n}",
            )
        elif kind < 0.8:
            sku, body = f"BURST-{n % 4}", f"Unit {n}: {rng.choice(PHRASES)}, defective. {rng.choice(DETAILS)}"
        else:
            sku, body = "", campaign
        messages.append(
            IncomingMessage(
                external_id=f"measured-{n}",
                direction=Direction.INBOUND,
                sender_address=f"new{n}@bench.example",
                sender_name="",
                subject=f"Complaint {n}",
                body_text=body,
                sku=sku,
                received_at=start + timedelta(seconds=n),
            )
        )
    return messages


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--inquiries", type=int, default=1_000_000)
    parser.add_argument("--updates", type=int, default=200)
    parser.add_argument("--keep", action="store_true", help="keep the database (its name is printed)")
    return parser.parse_args()


def time_updates(channels: list[Channel], *, updates: int, inquiries: int) -> None:
    """Record `updates` new complaints (not timed) and time the follow-up that updates the clusters."""
    rng = random.Random(2026)
    times, cpu, commits, queries = [], [], [], []
    for incoming in new_complaints(channels, updates, rng):
        channel = channels[rng.randrange(len(channels))] if incoming.sku.startswith("SKU-") else channels[0]
        recorded = record_message(channel=channel, incoming=incoming, now=incoming.received_at)
        assert isinstance(recorded, RecordResult), "the bench's complaints are never held"
        message = recorded.message
        with CaptureQueriesContext(connection) as captured:
            started, started_cpu = time.perf_counter(), time.process_time()
            follow_up_message(message_id=message.pk)
            times.append((time.perf_counter() - started) * 1000)
            cpu.append((time.process_time() - started_cpu) * 1000)
        queries.append(len(captured))
        commits += [float(q["time"]) * 1000 for q in captured.captured_queries if q["sql"] == "COMMIT"]
    bursts = list(Cluster.objects.filter(kind=ClusterKind.BURST))
    texts = list(Cluster.objects.filter(kind=ClusterKind.NEAR_DUPLICATE))
    print(
        f"clusters after the run: {len(bursts)} bursts, {sum(c.member_count for c in bursts)} members; ",
        end="",
    )
    print(f"{len(texts)} text clusters, {sum(c.member_count for c in texts)} members")
    stored = f"{inquiries:,} inquiries stored"
    print(f"cluster update per ingested complaint, {updates} updates, {stored}:")
    print(f"  median {median(times):.1f} ms, p95 {percentile(times, 95):.1f} ms, max {max(times):.1f} ms")
    print(f"  of which Python CPU median {median(cpu):.1f} ms, COMMIT median {median(commits):.1f} ms")
    print(f"  queries per update: median {median(queries):.0f}, max {max(queries)}")
    print("  target: median <= 20 ms")


def time_sweeps() -> None:
    """One periodic sweep in one go, then the same sweep as the worker runs it, in steps."""
    started = time.perf_counter()
    result = sweep_clusters()
    print(f"one periodic sweep afterwards: {result} in {time.perf_counter() - started:.2f} s")
    # The same sweep as the worker runs it: cut into steps of one product or one cluster
    # (budget 0), each its own short transactions; what matters is the longest step.
    steps = []
    started = time.perf_counter()
    result = sweep_clusters(budget_seconds=0)
    steps.append(time.perf_counter() - started)
    while not result.done:
        started = time.perf_counter()
        result = sweep_clusters(budget_seconds=0, continuation=True)
        steps.append(time.perf_counter() - started)
    print(
        f"the sweep in steps (one product or one cluster each): {len(steps)} steps, "
        f"first (fingerprints, re-tags, burst test) {steps[0] * 1000:.0f} ms, "
        f"then median {median(steps[1:] or [0]) * 1000:.0f} ms, max {max(steps[1:] or [0]) * 1000:.0f} ms"
    )


def main() -> None:
    args = parse_args()
    if connection.vendor != "postgresql":
        raise SystemExit(
            "bench/clusters.py builds its data with PostgreSQL SQL; set DATABASE_URL to PostgreSQL."
        )
    no_broker()  # the follow-up is run and timed here, not queued
    with throwaway_database(keep=args.keep) as name:
        print(f"database: {describe_database()} ({connection.vendor}), {name}")
        print(f"building {args.inquiries:,} complaint inquiries over {DAYS} days:")
        channels, seconds = build(inquiries=args.inquiries)
        print(f"built in {seconds:.0f} s")
        time_updates(channels, updates=args.updates, inquiries=args.inquiries)
        time_sweeps()


if __name__ == "__main__":
    main()
