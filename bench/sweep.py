"""One SLA sweep over a large clock table: median time and the plan of its query.

    DATABASE_URL=postgres://... python bench/sweep.py [--clocks 1000000] [--running 100000] [--due 1000]

Builds --clocks clocks of which --running are running; for each of --runs repetitions a
fresh batch of --due clocks becomes due, and one sweep moves them (at risk and breached
events, notifications queued after commit: the broker is stubbed out). Prints the median
and p95 of the sweep time and EXPLAIN (ANALYZE) of the breach query.
"""

from __future__ import annotations

import argparse
import time
from datetime import timedelta

from _setup import describe_database, median, no_broker, percentile, throwaway_database
from django.db import connection, transaction
from django.utils import timezone

from inquiries.models import Clock, ClockState
from inquiries.services.sweep import BATCH, sweep, transition_sql


def build(*, clocks: int, running: int, due: int, runs: int) -> None:
    from generate import generate

    generate(inquiries=clocks // 3, verbose=True)  # three clocks per inquiry
    now = timezone.now()
    with connection.cursor() as cursor:
        cursor.execute("SELECT COUNT(*) FROM inquiries_clock")
        total = cursor.fetchone()[0]
        # Exactly `running` running clocks, far from due; everything else stopped.
        cursor.execute(
            "UPDATE inquiries_clock SET state = 'met', stopped_at = started_at, breached_at = NULL"
        )
        cursor.execute(
            "UPDATE inquiries_clock SET state = 'running', stopped_at = NULL, due_at = %s + interval '30 days', "
            "warn_at = %s + interval '29 days' WHERE id IN (SELECT id FROM inquiries_clock ORDER BY random() LIMIT %s)",
            [now, now, running],
        )
        # Batch k (1..runs) falls due in the k-th hour from now.
        for k in range(1, runs + 1):
            cursor.execute(
                "UPDATE inquiries_clock SET warn_at = %s, due_at = %s WHERE id IN ("
                " SELECT id FROM inquiries_clock WHERE state = 'running' AND due_at > %s + interval '2 days'"
                " ORDER BY id LIMIT %s)",
                [
                    now + timedelta(hours=k) - timedelta(minutes=10),
                    now + timedelta(hours=k) - timedelta(minutes=1),
                    now,
                    due,
                ],
            )
        cursor.execute("ANALYZE inquiries_clock")
    print(
        f"clocks: {total:,} in all, {Clock.objects.filter(state=ClockState.RUNNING).count():,} running, "
        f"{due:,} newly due per run"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--clocks", type=int, default=1_000_000)
    parser.add_argument("--running", type=int, default=100_000)
    parser.add_argument("--due", type=int, default=1_000)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    no_broker()
    with throwaway_database():
        print(describe_database())
        build(clocks=args.clocks, running=args.running, due=args.due, runs=args.runs)
        base = timezone.now()
        # The plan of the sweep's own breach statement, run on the first batch and rolled back.
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                "EXPLAIN (ANALYZE, BUFFERS) " + transition_sql(ClockState.BREACHED),
                {"now": base + timedelta(hours=1), "batch": BATCH},
            )
            plan = "\n".join(row[0] for row in cursor.fetchall())
            transaction.set_rollback(True)
        times = []
        for k in range(1, args.runs + 1):
            started = time.perf_counter()
            result = sweep(now=base + timedelta(hours=k))
            times.append((time.perf_counter() - started) * 1000)
            print(f"  run {k}: {result}  {times[-1]:.0f} ms")
        print(
            f"sweep of {args.due:,} newly due clocks: median {median(times):.0f} ms, "
            f"p95 {percentile(times, 95):.0f} ms over {args.runs} runs (target: median <= 200 ms)"
        )
        print("EXPLAIN (ANALYZE) of the breach statement (claim, update, events; rolled back):")
        print(plan)


if __name__ == "__main__":
    main()
