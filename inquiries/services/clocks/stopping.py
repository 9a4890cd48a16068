"""Stopping, cancelling, pausing and resuming clocks, and catching up the warnings and breaches
that fell due while nothing looked (`catch_up`, `CatchUp`).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from django.db.models import F

from inquiries.models import (
    Clock,
    ClockKind,
    ClockState,
    EventKind,
    Inquiry,
    InquiryEvent,
)
from inquiries.selectors.calendars import business_calendar
from inquiries.services.clocks.events import STATE_EVENT, clock_event, clock_event_values, set_live_state
from inquiries.sla import clocks as math
from inquiries.sla.calendar import BusinessCalendar

STOP_FIELDS = (
    "state",
    "stopped_at",
    "elapsed_seconds",
    "paused_at",
    "paused_business_seconds",
    "due_at",
    "warn_at",
)


def stop_clock(
    clock: Clock, *, at: datetime, calendar: BusinessCalendar, actor: object = None
) -> list[InquiryEvent]:
    """Stop a clock at `at`: met when on or before the deadline, missed after it."""
    events = stop_in_memory(clock, at=at, calendar=calendar, actor=actor)
    clock.save(update_fields=STOP_FIELDS)
    return events


def stop_in_memory(
    clock: Clock, *, at: datetime, calendar: BusinessCalendar, actor: object = None
) -> list[InquiryEvent]:
    """`stop_clock` in memory: the caller writes `STOP_FIELDS`."""
    if clock.state == ClockState.PAUSED and clock.paused_at is not None:
        _unpause(clock, at=at, calendar=calendar)
    clock.state = math.stopped_state(stopped_at=at, due_at=clock.due_at)
    clock.stopped_at = at
    clock.elapsed_seconds = math.business_elapsed(
        calendar, started_at=clock.started_at, at=at, paused_seconds=clock.paused_business_seconds
    )
    return [
        clock_event(
            clock,
            STATE_EVENT[ClockState(clock.state)],
            at,
            actor=actor,
            elapsed_seconds=clock.elapsed_seconds,
        )
    ]


def cancel_clock(clock: Clock, *, at: datetime, actor: object = None, reason: str) -> list[InquiryEvent]:
    clock.state = ClockState.CANCELLED
    clock.stopped_at = at
    clock.save(update_fields=["state", "stopped_at"])
    return [clock_event(clock, EventKind.CLOCK_CANCELLED, at, actor=actor, reason=reason)]


def reschedule(clock: Clock, calendar: BusinessCalendar) -> None:
    plan = math.schedule(
        calendar,
        started_at=clock.started_at,
        target_seconds=clock.target_seconds,
        warn_ratio=clock.warn_ratio,
        paused_seconds=clock.paused_business_seconds,
    )
    clock.due_at, clock.warn_at = plan.due_at, plan.warn_at


def _unpause(clock: Clock, *, at: datetime, calendar: BusinessCalendar) -> None:
    assert clock.paused_at is not None
    clock.paused_business_seconds += calendar.elapsed(clock.paused_at, at) if at > clock.paused_at else 0
    clock.paused_at = None
    reschedule(clock, calendar)


def catch_up(*, inquiry: Inquiry, at: datetime, clocks: list[Clock] | None = None) -> list[InquiryEvent]:
    """Apply the transitions the sweep would have made on this inquiry's clocks by `at`.

    Called before any clock change at `at`: live it is usually a no-op (the sweep ran a
    moment ago); for back-filled history it is what makes an import score exactly as the
    same conversation would have live. `clocks`: the inquiry's clocks, already loaded (they
    are updated in place); else they are read here.
    """
    if clocks is None:
        clocks = list(
            inquiry.clocks.filter(state__in=(ClockState.RUNNING, ClockState.AT_RISK), warn_at__lte=at)
        )
    transitions = CatchUp()
    transitions.apply(clocks, at)
    transitions.write()
    return [InquiryEvent(**values) for values in transitions.events]


class CatchUp:
    """Catch-up transitions worked out in memory (on the clock objects), written together:
    one UPDATE per new state, however many clocks and inquiries."""

    def __init__(self) -> None:
        self.events: list[dict[str, object]] = []
        self.breached: list[int] = []
        self.at_risk: list[int] = []

    def apply(self, clocks: Iterable[Clock], at: datetime) -> list[dict[str, object]]:
        """Move the running and at-risk clocks among `clocks` on to their state at `at`;
        returns the events of these clocks (also kept in `events`)."""
        events = []
        for clock in clocks:
            if clock.state not in (ClockState.RUNNING, ClockState.AT_RISK) or clock.warn_at > at:
                continue
            if clock.due_at <= at:
                if clock.state == ClockState.RUNNING and clock.warn_at < clock.due_at:
                    events.append(clock_event_values(clock, EventKind.CLOCK_AT_RISK, clock.warn_at))
                events.append(clock_event_values(clock, EventKind.CLOCK_BREACHED, clock.due_at))
                clock.state, clock.breached_at = ClockState.BREACHED, clock.due_at
                self.breached.append(clock.pk)
            elif clock.state == ClockState.RUNNING:
                events.append(clock_event_values(clock, EventKind.CLOCK_AT_RISK, clock.warn_at))
                clock.state = ClockState.AT_RISK
                self.at_risk.append(clock.pk)
        self.events += events
        return events

    def write(self) -> None:
        if self.breached:
            Clock.objects.filter(pk__in=self.breached).update(
                state=ClockState.BREACHED, breached_at=F("due_at")
            )
        if self.at_risk:
            Clock.objects.filter(pk__in=self.at_risk).update(state=ClockState.AT_RISK)


def resolution_stands_still(clocks: list[Clock]) -> bool:
    """Whether the latest resolution clock among `clocks` is paused or stopped (resumable)."""
    resolution = [clock for clock in clocks if clock.kind == ClockKind.RESOLUTION]
    if not resolution:
        return False
    latest = max(clock.started_at for clock in resolution)
    return any(
        clock.state in (ClockState.PAUSED, ClockState.MET, ClockState.MISSED)
        for clock in resolution
        if clock.started_at == latest
    )


def resume_resolution(
    *, inquiry: Inquiry, at: datetime, now: datetime, actor: object = None, clock: Clock | None = None
) -> list[InquiryEvent]:
    """Resume a paused (pending) or stopped (solved, then reopened) resolution clock.

    The time it stood still counts as paused, so the deadline moves out by that much.
    """
    clock = (
        clock
        or inquiry.clocks.filter(kind=ClockKind.RESOLUTION)
        .exclude(state=ClockState.CANCELLED)
        .select_related("calendar")
        .order_by("-started_at")
        .first()
    )
    if clock is None:
        return []
    calendar = business_calendar(clock.calendar)
    if clock.state == ClockState.PAUSED and clock.paused_at is not None:
        _unpause(clock, at=at, calendar=calendar)
    elif clock.state in (ClockState.MET, ClockState.MISSED) and clock.stopped_at is not None:
        if at > clock.stopped_at:
            clock.paused_business_seconds += calendar.elapsed(clock.stopped_at, at)
        clock.stopped_at = None
        clock.elapsed_seconds = None
        reschedule(clock, calendar)
    else:
        return []
    events = [clock_event(clock, EventKind.CLOCK_RESUMED, at, actor=actor)]
    # A warning or breach recorded before the pause is not a new fact after it.
    recorded = set(
        InquiryEvent.objects.filter(
            clock=clock, kind__in=(EventKind.CLOCK_AT_RISK, EventKind.CLOCK_BREACHED)
        ).values_list("kind", flat=True)
    )
    breached_at = clock.breached_at
    events.extend(e for e in set_live_state(clock, at) if e.kind not in recorded)
    if EventKind.CLOCK_BREACHED in recorded and clock.state == ClockState.BREACHED:
        clock.breached_at = breached_at
    clock.save()
    return events
