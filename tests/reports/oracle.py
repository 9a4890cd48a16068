"""Straightforward computations of the report figures: Python loops over the stored rows.

Deliberately independent of `inquiries.reports`: no shared helper, no SQL grouping. Each
function reads the rows and counts them the obvious way, so a report figure that agrees
with it agrees with the definitions in docs/reports.md.
"""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from inquiries import models as m


def clocks_in(account_ids: list[int], first: date, last: date, tz: str) -> list[m.Clock]:
    zone = ZoneInfo(tz)
    return [
        clock
        for clock in m.Clock.objects.select_related("inquiry").order_by("pk")
        if clock.inquiry.account_id in account_ids
        and first <= clock.started_at.astimezone(zone).date() <= last
    ]


def outcome(clock: m.Clock, now: datetime) -> str:
    if clock.state in ("met", "missed", "cancelled"):
        return clock.state
    if clock.state == "paused":
        return "in_progress"
    return "breached" if clock.due_at <= now else "in_progress"


def compliance(clocks: list[m.Clock], now: datetime, key) -> dict:
    """{(group, kind): {met, missed, breached, cancelled, in_progress, compliance}}"""
    table: dict = defaultdict(Counter)
    for clock in clocks:
        table[(key(clock), clock.kind)][outcome(clock, now)] += 1
    result = {}
    for group, counts in table.items():
        counted = counts["met"] + counts["missed"] + counts["breached"]
        result[group] = {
            "met": counts["met"],
            "missed": counts["missed"],
            "breached": counts["breached"],
            "cancelled": counts["cancelled"],
            "in_progress": counts["in_progress"],
            "compliance_pct": round(100 * counts["met"] / counted, 1) if counted else None,
        }
    return result


def durations(clocks: list[m.Clock], kind: str, hours: str) -> list[float]:
    values = []
    for clock in clocks:
        if clock.kind != kind or clock.state not in ("met", "missed") or clock.stopped_at is None:
            continue
        if hours == "business":
            values.append(float(clock.elapsed_seconds))
        else:
            values.append((clock.stopped_at - clock.started_at).total_seconds())
    return values


def stats(values: list[float]) -> dict:
    if not values:
        return {"count": 0, "median_seconds": None, "p90_seconds": None, "mean_seconds": None}
    p90 = statistics.quantiles(values, n=10, method="inclusive")[8] if len(values) > 1 else values[0]
    return {
        "count": len(values),
        "median_seconds": round(statistics.median(values)),
        "p90_seconds": round(p90),
        "mean_seconds": round(statistics.fmean(values)),
    }


def histogram(values: list[float]) -> list[int]:
    edges = [15 * 60, 3600, 4 * 3600, 8 * 3600, 86400, 3 * 86400]
    counts = [0] * 7
    for value in values:
        counts[next((i for i, edge in enumerate(edges) if value < edge), 6)] += 1
    return counts


def backlog(account_ids: list[int], now: datetime) -> dict:
    """{(status, age bucket index): count} of open inquiries."""
    edges = [timedelta(hours=1), timedelta(hours=4), timedelta(days=1), timedelta(days=3), timedelta(days=7)]
    counts: Counter = Counter()
    for inquiry in m.Inquiry.objects.filter(
        account_id__in=account_ids, status__in=["new", "open", "pending"]
    ):
        age = now - inquiry.opened_at
        counts[(inquiry.status, next((i for i, edge in enumerate(edges) if age < edge), 5))] += 1
    return dict(counts)


def oldest_waiting(account_ids: list[int]) -> list[tuple[int, datetime]]:
    waiting = []
    for inquiry in m.Inquiry.objects.filter(
        account_id__in=account_ids, status__in=["new", "open", "pending"]
    ):
        unanswered = [
            msg.received_at
            for msg in inquiry.messages.all()
            if msg.direction == "inbound"
            and not msg.automatic
            and not msg.no_response_needed
            and msg.answered_at is None
        ]
        if unanswered:
            waiting.append((inquiry.pk, min(unanswered)))
    return sorted(waiting, key=lambda pair: (pair[1], pair[0]))


def heatmap(account_ids: list[int], start: datetime, end: datetime) -> dict:
    """{(iso weekday, hour): [inbound, replies]} in each account's own zone."""
    cells: dict = defaultdict(lambda: [0, 0])
    for message in m.Message.objects.select_related("inquiry__account").filter(
        inquiry__account_id__in=account_ids
    ):
        if message.automatic or message.direction == "note" or not start <= message.received_at < end:
            continue
        local = message.received_at.astimezone(ZoneInfo(message.inquiry.account.timezone))
        cells[(local.isoweekday(), local.hour)][0 if message.direction == "inbound" else 1] += 1
    return dict(cells)
