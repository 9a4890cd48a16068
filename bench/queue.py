"""The agent's queue on a large table: server time of the first page, a filtered page and a search.

    DATABASE_URL=postgres://... python bench/queue.py [--inquiries 1000000] [--runs 20]

Builds --inquiries inquiries (bench/generate.py; about 10% open) and times the queue view
as a logged-in agent of the team that sees every account, through Django's test client:
median and p95 over --runs requests each, the queries per page, the preview lines (each row's
latest customer message, read by a subquery per row on the message index) and the CPU time of
this process per page (the machine may be shared: CPU time is steadier than wall time).
"""

from __future__ import annotations

import os
import sys

# This file's name shadows the standard library's `queue` when bench/ leads sys.path:
# put bench/ last so that `import queue` (used by the stdlib itself) finds the real one.
_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != _HERE] + [_HERE]

import argparse  # noqa: E402
import time  # noqa: E402

from _setup import describe_database, median, percentile, throwaway_database  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402


def timed(client: Client, path: str, params: dict[str, str], runs: int) -> tuple[list[float], int, int]:
    """Server times in ms, queries per page, and the preview lines (latest customer words) on it."""
    times = []
    queries = 0
    previews = 0
    for _ in range(runs):
        with CaptureQueriesContext(connection) as captured:
            started = time.perf_counter()
            response = client.get(path, params)
            times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, response.status_code
        queries = len(captured)
        previews = response.content.count(b'class="preview"')
    return times, queries, previews


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--inquiries", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    from django.contrib.auth import get_user_model
    from generate import generate

    with throwaway_database():
        print(f"{describe_database()}: building {args.inquiries:,} inquiries")
        generate(inquiries=args.inquiries)
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT COUNT(*) FROM inquiries_inquiry WHERE status IN ('new', 'open', 'pending')"
            )
            print(f"open inquiries: {cursor.fetchone()[0]:,}")
        client = Client()
        client.force_login(get_user_model().objects.get(username="bench-agent-0"))
        cases = [
            ("first page", {}),
            ("filtered: breached on Amazon", {"clock": "breached", "marketplace": "amazon"}),
            ("search: a common word", {"q": "broken"}),  # a sixth of all inquiries say it
            ("search: a customer", {"q": "buyer4242"}),
            ("search: an order id", {"q": "242-0004242-0000001"}),
        ]
        for label, params in cases:
            timed(client, "/", params, 2)  # warm caches and plans
            cpu_started = time.process_time()
            times, queries, previews = timed(client, "/", params, args.runs)
            cpu = (time.process_time() - cpu_started) * 1000 / args.runs
            print(
                f"  {label:<40} median {median(times):6.0f} ms, p95 {percentile(times, 95):6.0f} ms, "
                f"{queries} queries, {previews} preview lines, this process's CPU {cpu:.0f} ms per page "
                f"(target: median <= 100 ms, p95 <= 250 ms)"
            )
        print(f"load average after the runs: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")


if __name__ == "__main__":
    main()
