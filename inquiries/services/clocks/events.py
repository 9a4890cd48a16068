"""The clock states that count as live, and the InquiryEvent rows that clock transitions write.

Every transition writes an event whose `at` is the instant the fact became true (a warning at
warn_at, a breach at due_at), so a conversation imported afterwards scores exactly as it would
have live.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from inquiries.models import (
    Clock,
    ClockKind,
    ClockState,
    EventKind,
    InquiryEvent,
)
from inquiries.sla import clocks as math

ACTIVE = (ClockState.RUNNING, ClockState.AT_RISK, ClockState.BREACHED)
REPLY_KINDS = (ClockKind.FIRST_REPLY, ClockKind.NEXT_REPLY, ClockKind.MARKETPLACE_REPLY)
STATE_EVENT = {
    ClockState.AT_RISK: EventKind.CLOCK_AT_RISK,
    ClockState.BREACHED: EventKind.CLOCK_BREACHED,
    ClockState.MET: EventKind.CLOCK_MET,
    ClockState.MISSED: EventKind.CLOCK_MISSED,
    ClockState.CANCELLED: EventKind.CLOCK_CANCELLED,
}


def started_events(clocks: Iterable[Clock]) -> list[InquiryEvent]:
    """The clock_started facts of saved clocks."""
    return [InquiryEvent(**values) for values in started_event_values(clocks)]


def started_event_values(clocks: Iterable[Clock]) -> list[dict[str, object]]:
    """The same facts as column values, for bulk writers that need no model instances."""
    return [
        clock_event_values(
            clock, EventKind.CLOCK_STARTED, clock.started_at, target_seconds=clock.target_seconds
        )
        for clock in clocks
    ]


# --- transitions --------------------------------------------------------------------------


def clock_event(
    clock: Clock, kind: str, at: datetime, *, actor: object = None, **data: object
) -> InquiryEvent:
    return InquiryEvent(**clock_event_values(clock, kind, at, actor=actor, **data))


def clock_event_values(
    clock: Clock, kind: str, at: datetime, *, actor: object = None, **data: object
) -> dict[str, object]:
    """A clock's event as column values (the clock is saved)."""
    return {
        "inquiry_id": clock.inquiry_id,
        "clock_id": clock.pk,
        "kind": kind,
        "at": at,
        "actor_id": getattr(actor, "pk", None),
        "message_id": clock.message_id,
        "data": {"clock_kind": clock.kind, **data},
    }


def set_live_state(clock: Clock, now: datetime) -> list[InquiryEvent]:
    """Set the state of a clock that is not stopped, as of now, with the events it passed."""
    state = math.live_state(now=now, due_at=clock.due_at, warn_at=clock.warn_at)
    events = []
    if state in (ClockState.AT_RISK, ClockState.BREACHED) and clock.warn_at < clock.due_at:
        events.append(clock_event(clock, EventKind.CLOCK_AT_RISK, clock.warn_at))
    if state == ClockState.BREACHED:
        events.append(clock_event(clock, EventKind.CLOCK_BREACHED, clock.due_at))
        clock.breached_at = clock.due_at
    else:
        clock.breached_at = None
    clock.state = state
    return events
