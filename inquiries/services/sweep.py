"""The periodic sweep: move clocks to at-risk and breached, and catch up missed follow-ups.

Safe to run concurrently and to re-run after a crash: rows are claimed with
`SELECT ... FOR UPDATE SKIP LOCKED` and changed with a conditional UPDATE, so each
transition happens, and writes its event, exactly once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from inquiries.models import Clock, ClockState, EventKind, InquiryEvent, Message
from inquiries.services.queue import enqueue_after_commit

BATCH = 1000


@dataclass(frozen=True, slots=True)
class SweepResult:
    at_risk: int
    breached: int
    followed_up: int

    def __str__(self) -> str:
        return f"at_risk={self.at_risk} breached={self.breached} followed_up={self.followed_up}"


def _insert_events(*, ids: list[int], kind: str, at_column: str, state: str, now: datetime) -> list[int]:
    """Write one event per clock in `ids` that is in `state`, set-based (one INSERT ... SELECT).

    The event time is the clock's own warn_at or due_at: the instant the fact became true.
    """
    clock_table = Clock._meta.db_table
    event_table = InquiryEvent._meta.db_table
    json_object = "jsonb_build_object" if connection.vendor == "postgresql" else "json_object"
    placeholders = ", ".join(["%s"] * len(ids))
    extra = " AND warn_at < due_at" if kind == EventKind.CLOCK_AT_RISK and state == ClockState.RUNNING else ""
    sql = (
        f"INSERT INTO {event_table} (inquiry_id, clock_id, message_id, kind, at, recorded_at, data) "  # noqa: S608
        f"SELECT inquiry_id, id, message_id, %s, {at_column}, %s, {json_object}('clock_kind', kind) "
        f"FROM {clock_table} WHERE id IN ({placeholders}) AND state = %s{extra} RETURNING id"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [kind, now, *ids, state])
        return [row[0] for row in cursor.fetchall()]


# PostgreSQL: a whole batch of one transition in one statement. The CTE claims the due clocks
# (SKIP LOCKED: concurrent sweeps split the work), the UPDATE moves them, and the INSERTs
# write their events from the UPDATE's own rows; `claimed.state` is each clock's state as
# locked, so a clock that skipped at-risk between two sweeps still gets its at-risk fact.
_PG_TRANSITION = """
WITH claimed AS (
    SELECT id, state FROM {clock}
    WHERE {where}
    ORDER BY {order}
    LIMIT %(batch)s
    FOR UPDATE SKIP LOCKED
), moved AS (
    UPDATE {clock} AS c SET {set}
    FROM claimed WHERE c.id = claimed.id
    RETURNING c.id, c.inquiry_id, c.message_id, c.kind, c.warn_at, c.due_at, claimed.state AS was
), at_risk AS (
    INSERT INTO {event} (inquiry_id, clock_id, message_id, kind, at, recorded_at, data)
    SELECT inquiry_id, id, message_id, 'clock_at_risk', warn_at, %(now)s, jsonb_build_object('clock_kind', kind)
    FROM moved WHERE was = 'running' AND warn_at < due_at
    RETURNING id
){breach_cte}
SELECT (SELECT count(*) FROM moved), ARRAY(SELECT id FROM at_risk){breach_ids}
"""
_PG_BREACH_CTE = """, breached AS (
    INSERT INTO {event} (inquiry_id, clock_id, message_id, kind, at, recorded_at, data)
    SELECT inquiry_id, id, message_id, 'clock_breached', due_at, %(now)s, jsonb_build_object('clock_kind', kind)
    FROM moved
    RETURNING id
)"""


def transition_sql(to: str) -> str:
    """The one PostgreSQL statement that moves a batch of clocks to `to` (at risk or breached);
    parameters %(now)s and %(batch)s. bench/sweep.py prints its plan."""
    clock, event = Clock._meta.db_table, InquiryEvent._meta.db_table
    if to == ClockState.BREACHED:
        # Most overdue first, along the partial index clock_due_active.
        where, order = "state IN ('running', 'at_risk') AND due_at <= %(now)s", "due_at"
        set_ = "state = 'breached', breached_at = c.due_at"
        breach_cte, breach_ids = _PG_BREACH_CTE.format(event=event), ", ARRAY(SELECT id FROM breached)"
    else:
        # Along the partial index clock_warn_running.
        where, order = "state = 'running' AND warn_at <= %(now)s AND due_at > %(now)s", "warn_at"
        set_ = "state = 'at_risk'"
        breach_cte, breach_ids = "", ", ARRAY[]::bigint[]"
    return _PG_TRANSITION.format(
        clock=clock,
        event=event,
        where=where,
        order=order,
        set=set_,
        breach_cte=breach_cte,
        breach_ids=breach_ids,
    )


def _pg_transition(*, now: datetime, to: str) -> int | None:
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(transition_sql(to), {"now": now, "batch": BATCH})
        moved, at_risk_ids, breach_event_ids = cursor.fetchone()
        if not moved:
            return None
        event_ids = sorted([*at_risk_ids, *breach_event_ids])
        if event_ids:
            enqueue_after_commit("notify_events", event_ids)
        return moved


def _transition(*, now: datetime, to: str) -> int | None:
    """One batch of one transition kind: how many clocks moved, None when none was due.

    Rows are claimed with SKIP LOCKED, so concurrent sweeps split the work instead of
    doubling it; events are written by INSERT ... SELECT from the clock rows themselves.
    """
    if connection.vendor == "postgresql":
        return _pg_transition(now=now, to=to)
    with transaction.atomic():
        if to == ClockState.BREACHED:
            candidates = Clock.objects.filter(
                state__in=(ClockState.RUNNING, ClockState.AT_RISK), due_at__lte=now
            )
        else:
            candidates = Clock.objects.filter(state=ClockState.RUNNING, warn_at__lte=now, due_at__gt=now)
        ids = list(
            candidates.select_for_update(skip_locked=True).order_by().values_list("id", flat=True)[:BATCH]
        )
        if not ids:
            return None
        event_ids = []
        if to == ClockState.BREACHED:
            # A clock that skipped at-risk between two sweeps still gets its at-risk fact.
            event_ids += _insert_events(
                ids=ids, kind=EventKind.CLOCK_AT_RISK, at_column="warn_at", state=ClockState.RUNNING, now=now
            )
            # The conditional UPDATE re-checks the state: a concurrent stop (a reply) wins over the sweep.
            moved = Clock.objects.filter(
                pk__in=ids, state__in=(ClockState.RUNNING, ClockState.AT_RISK), due_at__lte=now
            ).update(state=ClockState.BREACHED, breached_at=F("due_at"))
            event_ids += _insert_events(
                ids=ids, kind=EventKind.CLOCK_BREACHED, at_column="due_at", state=ClockState.BREACHED, now=now
            )
        else:
            moved = Clock.objects.filter(pk__in=ids, state=ClockState.RUNNING, warn_at__lte=now).update(
                state=ClockState.AT_RISK
            )
            event_ids += _insert_events(
                ids=ids, kind=EventKind.CLOCK_AT_RISK, at_column="warn_at", state=ClockState.AT_RISK, now=now
            )
        if event_ids:
            enqueue_after_commit("notify_events", sorted(event_ids))
        return moved


def sweep(*, now: datetime | None = None, followup_grace: timedelta | None = None) -> SweepResult:
    now = now or timezone.now()
    if followup_grace is None:
        followup_grace = timedelta(seconds=settings.CSTRACKER_FOLLOWUP_GRACE_SECONDS)
    breached = at_risk = 0
    while (moved := _transition(now=now, to=ClockState.BREACHED)) is not None:
        breached += moved
    while (moved := _transition(now=now, to=ClockState.AT_RISK)) is not None:
        at_risk += moved
    return SweepResult(
        at_risk=at_risk, breached=breached, followed_up=catch_up_followups(now=now, grace=followup_grace)
    )


def catch_up_followups(*, now: datetime, grace: timedelta) -> int:
    """Run the after-commit work for customer messages whose task never ran (broker down)."""
    from inquiries.services.followup import follow_up_message

    pending = (
        Message.objects.filter(
            followed_up_at__isnull=True, direction="inbound", automatic=False, created_at__lte=now - grace
        )
        .order_by("created_at")
        .values_list("pk", flat=True)[:BATCH]
    )
    done = 0
    for message_id in pending:
        done += follow_up_message(message_id=message_id)
    return done
