"""Automatic assignment of imported batches: median time and queries per batch of arrivals.

    DATABASE_URL=postgres://... python bench/assignment.py [--arrivals 10000] [--agents 20] [--batch 1000]

Records --arrivals customer messages (new inquiries) in batches of --batch through the
recording engine with the broker stubbed out, then runs the arrival hook
(`services.assignment.assign_for_messages`, what the after-commit task calls) once per
batch, least open over --agents agents. Prints the median and p95 time per batch and the
queries each batch ran: they grow with the agents (one UPDATE per chosen agent), never with
messages x agents.
"""

from __future__ import annotations

import argparse
import time
from datetime import timedelta

from _setup import describe_database, median, no_broker, percentile, throwaway_database
from django.contrib.auth import get_user_model
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from inquiries import models as m
from inquiries.ingestion.types import Direction, IncomingMessage
from inquiries.services.assignment import assign_for_messages
from inquiries.services.recording import RecordResult, record_messages


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--arrivals", type=int, default=10_000)
    parser.add_argument("--agents", type=int, default=20)
    parser.add_argument("--batch", type=int, default=1_000)
    args = parser.parse_args()
    no_broker()
    with throwaway_database():
        print(describe_database())
        account = m.Account.objects.create(name="Bench shop", marketplace=m.Marketplace.AMAZON)
        channel = m.Channel.objects.create(account=account, slug="bench", name="Bench")
        team = m.Team.objects.create(name="Bench team")
        team.accounts.add(account)
        rota = m.Rota.objects.create(team=team, mode=m.AssignmentMode.LEAST_OPEN, capacity=args.arrivals)
        for i in range(args.agents):
            user = get_user_model().objects.create(username=f"agent{i}")
            m.Membership.objects.create(team=team, user=user)
            m.RotaMember.objects.create(rota=rota, user=user)
        now = timezone.now()
        times, queries = [], []
        for start in range(0, args.arrivals, args.batch):
            batch = [
                (
                    channel,
                    IncomingMessage(
                        external_id=f"bench-{n}",
                        direction=Direction.INBOUND,
                        sender_address=f"buyer{n}@example.com",
                        sender_name=f"Buyer {n}",
                        subject="Where is my order?",
                        body_text="Hello, my parcel has not arrived.",
                        received_at=now - timedelta(minutes=5),
                    ),
                )
                for n in range(start, min(start + args.batch, args.arrivals))
            ]
            recorded = [r for r in record_messages(batch, now=now) if isinstance(r, RecordResult)]
            assert len(recorded) == len(batch), "the bench's arrivals are all recorded"
            ids = [result.message.pk for result in recorded]
            with CaptureQueriesContext(connection) as captured:
                began = time.perf_counter()
                assigned = assign_for_messages(message_ids=ids, now=now)
                times.append(time.perf_counter() - began)
            queries.append(len(captured.captured_queries))
            assert assigned == len(ids), (assigned, len(ids))
        print(
            f"{args.arrivals:,} arrivals in batches of {args.batch:,}, {args.agents} agents (least open): "
            f"median {median(times) * 1000:.0f} ms per batch, p95 {percentile(times, 95) * 1000:.0f} ms; "
            f"queries per batch: {sorted(set(queries))}"
        )


if __name__ == "__main__":
    main()
