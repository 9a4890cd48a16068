"""Closing many inquiries at once: `close_matching` (what `close_inquiries` and the queue's
"close all matching" run) against closing them one by one with `change_status`.

    DATABASE_URL=postgres://... python bench/close.py [--inquiries 10000] [--runs 3] [--one-by-one 200]

For each run, --inquiries open inquiries (a third of them pending) are recorded on a fresh
channel, then closed with one `close_matching` call. Prints the median seconds and inquiries per
second, the statements it ran, and the per-inquiry cost of `change_status` on --one-by-one
inquiries for comparison.
"""

from __future__ import annotations

import argparse
import time
from datetime import timedelta

from _setup import describe_database, median, no_broker, throwaway_database
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from inquiries import models as m
from inquiries.ingestion.types import Direction, IncomingMessage
from inquiries.services import actions, record_messages


def open_inquiries(account: m.Account, run: int, count: int) -> m.Channel:
    channel = m.Channel.objects.create(account=account, slug=f"bench-{run}", name=f"Bench {run}", kind="api")
    start = timezone.now() - timedelta(days=3)
    record_messages(
        [
            (
                channel,
                IncomingMessage(
                    external_id=f"r{run}-{n}",
                    direction=Direction.INBOUND,
                    sender_address=f"c{run}-{n}@example.com",
                    subject="Where is my parcel?",
                    body_text="It has not arrived.",
                    received_at=start + timedelta(seconds=n),
                ),
            )
            for n in range(count)
        ]
    )
    pending = m.Inquiry.objects.filter(channel=channel).order_by("pk")[::3]
    m.Inquiry.objects.filter(pk__in=[i.pk for i in pending]).update(status=m.Status.PENDING)
    return channel


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--inquiries", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--one-by-one", type=int, default=200)
    args = parser.parse_args()
    no_broker()
    with throwaway_database():
        account = m.Account.objects.create(name="Bench shop")
        policy = m.SlaPolicy.objects.create(name="Bench")
        m.SlaTarget.objects.bulk_create(
            m.SlaTarget(policy=policy, priority=p, first_reply_seconds=3600, resolution_seconds=86400)
            for p in m.Priority.values
        )
        times, statements = [], 0
        for run in range(args.runs):
            channel = open_inquiries(account, run, args.inquiries)
            with CaptureQueriesContext(connection) as queries:
                began = time.perf_counter()
                closed = actions.close_matching(
                    inquiries=m.Inquiry.objects.filter(channel=channel), actor=None
                )
                times.append(time.perf_counter() - began)
            assert closed == args.inquiries, closed
            statements = len(queries)
        channel = open_inquiries(account, args.runs, args.one_by_one)
        began = time.perf_counter()
        for inquiry in m.Inquiry.objects.filter(channel=channel):
            actions.change_status(inquiry=inquiry, status=m.Status.CLOSED, actor=None)
        each = (time.perf_counter() - began) / args.one_by_one
        print(describe_database())
        print(
            f"close_matching {args.inquiries} inquiries: median {median(times):.2f} s over {args.runs} runs "
            f"({args.inquiries / median(times):.0f}/s), {statements} statements"
        )
        print(f"change_status one by one: {each * 1000:.1f} ms per inquiry ({1 / each:.0f}/s)")


if __name__ == "__main__":
    main()
