"""Pure clock arithmetic: deadlines and states from a calendar, a start and a target.

No Django here: the service layer loads rows, calls these, and writes the results.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from inquiries.sla.calendar import BusinessCalendar

RUNNING = "running"
AT_RISK = "at_risk"
BREACHED = "breached"
MET = "met"
MISSED = "missed"


@dataclass(frozen=True, slots=True)
class Schedule:
    due_at: datetime
    warn_at: datetime


def schedule(
    calendar: BusinessCalendar,
    *,
    started_at: datetime,
    target_seconds: int,
    warn_ratio: float,
    paused_seconds: int = 0,
) -> Schedule:
    """Deadlines of a clock: paused business time pushes both out by the same amount."""
    warn_seconds = min(target_seconds, max(0, int(target_seconds * warn_ratio)))
    return Schedule(
        due_at=calendar.add(started_at, target_seconds + paused_seconds),
        warn_at=calendar.add(started_at, warn_seconds + paused_seconds),
    )


def live_state(*, now: datetime, due_at: datetime, warn_at: datetime) -> str:
    """State of a clock that has not stopped: breached once past due, at risk past the warning."""
    if now >= due_at:
        return BREACHED
    if now >= warn_at:
        return AT_RISK
    return RUNNING


def stopped_state(*, stopped_at: datetime, due_at: datetime) -> str:
    """A reply exactly at the deadline is on time."""
    return MET if stopped_at <= due_at else MISSED


def business_elapsed(
    calendar: BusinessCalendar, *, started_at: datetime, at: datetime, paused_seconds: int = 0
) -> int:
    return max(0, calendar.elapsed(started_at, at) - paused_seconds)
