"""Benchmark BusinessCalendar.add() and .elapsed() against one astimezone() plus one timedelta addition.

Calendar: Monday-Friday 09:00-17:00 Europe/Berlin with the German national holidays of 2026-2027.
Starts: random UTC instants in 2026 with microseconds, as they come out of the database.
Spans: add() gets up to 90 calendar days' worth of business seconds (90 * 5/7 working days of
8 hours); elapsed() gets ends up to 90 calendar days after the start.

Run: .venv/bin/python bench/sla_calendar.py
"""

from __future__ import annotations

import random
import statistics
import sys
from collections.abc import Callable
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from time import perf_counter
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import holidays

from inquiries.sla.calendar import BusinessCalendar

CALLS = 20_000
REPEATS = 7
SEED = 2026
MAX_BUSINESS_SECONDS = 90 * 5 * 8 * 3600 // 7
MAX_SPAN = timedelta(days=90)


def office_calendar() -> BusinessCalendar:
    german_holidays = holidays.country_holidays("DE", years=[2026, 2027])
    return BusinessCalendar(
        "Europe/Berlin", {weekday: [(time(9), time(17))] for weekday in range(5)}, german_holidays
    )


def calls_per_second(run: Callable[[], None]) -> float:
    """Median rate over REPEATS runs of CALLS calls each."""
    rates = []
    for _ in range(REPEATS):
        began = perf_counter()
        run()
        rates.append(CALLS / (perf_counter() - began))
    return statistics.median(rates)


def main() -> None:
    rng = random.Random(SEED)
    year_start = datetime(2026, 1, 1, tzinfo=UTC)
    starts = [
        year_start + timedelta(seconds=rng.randrange(365 * 86_400), microseconds=rng.randrange(1_000_000))
        for _ in range(CALLS)
    ]
    amounts = [rng.randrange(MAX_BUSINESS_SECONDS + 1) for _ in range(CALLS)]
    ends = [start + timedelta(seconds=rng.randrange(int(MAX_SPAN.total_seconds()) + 1)) for start in starts]
    deltas = [timedelta(seconds=amount) for amount in amounts]
    berlin = ZoneInfo("Europe/Berlin")

    calendar = office_calendar()
    add = calendar.add
    elapsed = calendar.elapsed

    def run_add() -> None:
        for start, amount in zip(starts, amounts, strict=True):
            add(start, amount)

    def run_elapsed() -> None:
        for start, end in zip(starts, ends, strict=True):
            elapsed(start, end)

    def run_baseline() -> None:
        for start, delta in zip(starts, deltas, strict=True):
            start.astimezone(berlin) + delta

    # The first pass fills the calendar's segment cache; the medians below are for a warm cache.
    began = perf_counter()
    run_add()
    cold = CALLS / (perf_counter() - began)

    add_rate = calls_per_second(run_add)
    elapsed_rate = calls_per_second(run_elapsed)
    baseline_rate = calls_per_second(run_baseline)

    python = sys.version.split()[0]
    print(f"BusinessCalendar: Mon-Fri 09:00-17:00 Europe/Berlin, DE holidays 2026-2027 (Python {python})")
    print(f"{CALLS:,} calls per run, median of {REPEATS} runs; spans up to {MAX_SPAN.days} days")
    print(f"  add()      first pass, cold cache   {cold:>12,.0f} calls/s")
    print(f"  add()                               {add_rate:>12,.0f} calls/s")
    print(f"  elapsed()                           {elapsed_rate:>12,.0f} calls/s")
    print(f"  baseline   astimezone() + timedelta {baseline_rate:>12,.0f} calls/s")
    print(f"  add() costs {baseline_rate / add_rate:.1f}x the baseline (target <= 10x, >= 100,000 calls/s)")
    print(f"  elapsed() costs {baseline_rate / elapsed_rate:.1f}x the baseline")


if __name__ == "__main__":
    main()
