"""How status changes move the clocks: waiting on the customer pauses resolution, closing stops
every live clock (one inquiry or many at once).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from inquiries.models import (
    Clock,
    ClockKind,
    ClockState,
    EventKind,
    Inquiry,
    InquiryEvent,
    Status,
)
from inquiries.selectors.calendars import business_calendar
from inquiries.services.bulk import insert_rows, update_rows
from inquiries.services.clocks.events import ACTIVE, clock_event
from inquiries.services.clocks.stopping import (
    STOP_FIELDS,
    CatchUp,
    catch_up,
    resume_resolution,
    stop_clock,
    stop_in_memory,
)
from inquiries.services.clocks.urgency import refresh_urgency


def on_status_change(
    *, inquiry: Inquiry, old: str, new: str, at: datetime, now: datetime, actor: object = None
) -> None:
    """Pause resolution while pending, stop it when solved, resume it when work starts again."""
    events = catch_up(inquiry=inquiry, at=at)
    resolution = (
        inquiry.clocks.filter(kind=ClockKind.RESOLUTION)
        .exclude(state=ClockState.CANCELLED)
        .select_related("calendar")
        .order_by("-started_at")
        .first()
    )
    if resolution is None or old == new:
        InquiryEvent.objects.bulk_create(events)
        return
    calendar = business_calendar(resolution.calendar)
    if new == Status.PENDING and resolution.state in ACTIVE:
        resolution.state = ClockState.PAUSED
        resolution.paused_at = at
        resolution.save(update_fields=["state", "paused_at"])
        events.append(clock_event(resolution, EventKind.CLOCK_PAUSED, at, actor=actor))
    elif new in (Status.SOLVED, Status.CLOSED) and (
        resolution.state in ACTIVE or resolution.state == ClockState.PAUSED
    ):
        events.extend(stop_clock(resolution, at=at, calendar=calendar, actor=actor))
    elif new in (Status.NEW, Status.OPEN):
        events.extend(resume_resolution(inquiry=inquiry, at=at, now=now, actor=actor, clock=resolution))
    InquiryEvent.objects.bulk_create(events)
    refresh_urgency([inquiry.pk])


def on_close_many(*, inquiry_ids: Sequence[int], at: datetime, actor: object = None) -> None:
    """`on_status_change` to solved or closed for many inquiries at once (from an open, pending or
    solved status): the same transitions (catch-up to `at`, then the latest resolution clock
    stopped at `at`, met or missed), written in a handful of statements for all of them."""
    ids = list(inquiry_ids)
    if not ids:
        return
    loaded = list(
        Clock.objects.filter(inquiry_id__in=ids)
        .exclude(state=ClockState.CANCELLED)
        .select_related("calendar")
    )
    transitions = CatchUp()
    transitions.apply(loaded, at)
    transitions.write()
    events = [InquiryEvent(**values) for values in transitions.events]
    latest: dict[int, Clock] = {}
    for clock in loaded:
        if clock.kind == ClockKind.RESOLUTION and (
            clock.inquiry_id not in latest or clock.started_at > latest[clock.inquiry_id].started_at
        ):
            latest[clock.inquiry_id] = clock
    stopped = [
        clock for clock in latest.values() if clock.state in ACTIVE or clock.state == ClockState.PAUSED
    ]
    for clock in stopped:
        events.extend(stop_in_memory(clock, at=at, calendar=business_calendar(clock.calendar), actor=actor))
    update_rows(Clock, stopped, STOP_FIELDS)
    insert_rows(InquiryEvent, events)
    refresh_urgency(ids)
