"""How messages move the clocks: a customer's message starts or resumes them, an answer stops
the reply clocks, a withdrawn answer reopens them (DESIGN section 3).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from django.db.models import Subquery

from inquiries.models import (
    Clock,
    ClockKind,
    ClockState,
    Direction,
    EventKind,
    Inquiry,
    InquiryEvent,
    Message,
    Status,
)
from inquiries.selectors.marketplace_rules import clock_calendar
from inquiries.services.clocks.events import ACTIVE, REPLY_KINDS, clock_event, set_live_state, started_events
from inquiries.services.clocks.policies import PolicySet, active_policy_set, ensure_policy
from inquiries.services.clocks.starting import clocks_to_start, follow_up_clocks, opening_clocks
from inquiries.services.clocks.stopping import (
    cancel_clock,
    catch_up,
    resolution_stands_still,
    resume_resolution,
    stop_clock,
)
from inquiries.services.clocks.urgency import refresh_urgency, urgency_of

# --- reacting to messages -------------------------------------------------------------------


def on_message(
    *,
    inquiry: Inquiry,
    message: Message,
    now: datetime,
    opened: bool = False,
    earlier: Iterable[InquiryEvent] = (),
    inquiry_changes: dict[str, object] | None = None,
) -> None:
    """Start or stop clocks for a stored message (called inside record_message's transaction).

    `opened` says the inquiry was created for this message, so it has no clocks yet.
    `earlier`: the message's own events, written in the same INSERT as the clocks' (after them
    in time, before them in id order). `inquiry_changes`: the inquiry's own columns after a
    customer's follow-up, written in the same UPDATE as its deadline copy.
    """
    if inquiry_changes is not None and (
        message.direction != Direction.INBOUND or message.automatic or opened or message.inquiry_id is None
    ):
        raise ValueError("inquiry_changes: only for a customer's follow-up on an existing inquiry")
    events = list(earlier)
    if message.automatic or message.direction == Direction.NOTE or message.inquiry_id is None:
        InquiryEvent.objects.bulk_create(events)
        return
    if message.direction == Direction.INBOUND:
        loaded = None
        if not opened:  # the clocks are read once, for the catch-up and for what to start
            loaded = list(inquiry.clocks.exclude(state=ClockState.CANCELLED).order_by("id"))
            events += catch_up(inquiry=inquiry, at=message.received_at, clocks=loaded)
        _on_customer_message(
            inquiry=inquiry,
            message=message,
            now=now,
            opened=opened,
            earlier=events,
            existing=loaded,
            inquiry_changes=inquiry_changes or {},
        )
    else:  # a reply; on_reply catches up first
        on_reply(inquiry=inquiry, at=message.received_at, now=now, earlier=events)


def _on_customer_message(
    *,
    inquiry: Inquiry,
    message: Message,
    now: datetime,
    opened: bool,
    earlier: list[InquiryEvent],
    existing: list[Clock] | None = None,
    inquiry_changes: dict[str, object] | None = None,
) -> None:
    at = message.received_at
    policy_set = active_policy_set()
    policy = ensure_policy(inquiry, policy_set)
    if opened:
        _open_clocks(inquiry=inquiry, message=message, policy_set=policy_set, earlier=earlier)
        return
    events: list[InquiryEvent] = list(earlier)
    if existing is None:
        existing = list(inquiry.clocks.exclude(state=ClockState.CANCELLED).order_by("id"))
    started: list[Clock] = []
    resumed = False
    if ClockKind.RESOLUTION not in {c.kind for c in existing}:  # counted from the opening
        started += clocks_to_start(
            inquiry=inquiry,
            message=message,
            policy=policy,
            policy_set=policy_set,
            kinds=(ClockKind.RESOLUTION,),
            at=inquiry.opened_at,
            marketplace=False,
        )
    elif inquiry.status in (Status.NEW, Status.OPEN) and resolution_stands_still(existing):
        events.extend(resume_resolution(inquiry=inquiry, at=at, now=now))
        resumed = True  # on another copy of the clock than `existing` holds
    due_before = message.response_due_at
    started += follow_up_clocks(
        inquiry=inquiry, message=message, policy=policy, policy_set=policy_set, existing=existing, at=at
    )
    Clock.objects.bulk_create(started)
    events.extend(started_events(started))
    if message.response_due_at != due_before:
        Message.objects.filter(pk=message.pk).update(response_due_at=message.response_due_at)
    InquiryEvent.objects.bulk_create(events)
    if resumed:
        refresh_urgency([inquiry.pk], **(inquiry_changes or {}))
    else:  # every clock of the inquiry is at hand, with its current state and deadlines
        fields = urgency_of([*existing, *started])
        Inquiry.objects.filter(pk=inquiry.pk).update(**fields, **(inquiry_changes or {}))
        for field, value in fields.items():
            setattr(inquiry, field, value)
    # Back-filled history may hold a reply later than this message already: apply it now.
    if inquiry.last_reply_at is not None and inquiry.last_reply_at >= at:
        first_answer_after = first_answer(inquiry, since=at)
        if first_answer_after is not None:
            on_reply(inquiry=inquiry, at=first_answer_after, now=now)


def _open_clocks(
    *, inquiry: Inquiry, message: Message, policy_set: PolicySet, earlier: list[InquiryEvent]
) -> None:
    """A new inquiry has no clocks yet: start them in one INSERT."""
    new = Clock.objects.bulk_create(
        opening_clocks(inquiry=inquiry, message=message, policy_set=policy_set, at=message.received_at)
    )
    if message.response_due_at is not None:
        Message.objects.filter(pk=message.pk).update(response_due_at=message.response_due_at)
    if new:
        fields = urgency_of(new)
        Inquiry.objects.filter(pk=inquiry.pk).update(**fields)
        for field, value in fields.items():
            setattr(inquiry, field, value)
    InquiryEvent.objects.bulk_create(earlier + started_events(new))


def first_answer(inquiry: Inquiry, *, since: datetime) -> datetime | None:
    """When the inquiry's first answer at or after `since` reached the customer (None: none has)."""
    return (
        Message.objects.answers()
        .filter(inquiry=inquiry, answer_at__gte=since)  # type: ignore[misc]  # django-stubs: answer_at is the annotation of answers(), which the plugin cannot see
        .order_by("answer_at", "id")
        .values_list("answer_at", flat=True)
        .first()
    )


def on_reply(
    *,
    inquiry: Inquiry,
    at: datetime,
    now: datetime,
    actor: object = None,
    earlier: Iterable[InquiryEvent] = (),
) -> None:
    """A public reply by a person at `at` answers every customer message up to it.

    `earlier`: events to write first, in the same INSERT.
    """
    events = [*earlier, *catch_up(inquiry=inquiry, at=at)]
    for clock in inquiry.clocks.filter(
        kind__in=REPLY_KINDS, state__in=ACTIVE, started_at__lte=at
    ).select_related("calendar", "inquiry__account"):
        events.extend(stop_clock(clock, at=at, calendar=clock_calendar(clock), actor=actor))
    InquiryEvent.objects.bulk_create(events)
    refresh_urgency([inquiry.pk])
    Message.objects.filter(
        inquiry=inquiry,
        direction=Direction.INBOUND,
        automatic=False,
        answered_at__isnull=True,
        received_at__lte=at,
    ).update(answered_at=at)


def on_answer_withdrawn(
    *, inquiry: Inquiry, at: datetime, now: datetime, actor: object = None
) -> list[InquiryEvent]:
    """A reply that answered at `at` did not reach the customer after all (it failed or bounced):
    put the reply clocks and the customer messages back as if it had never answered.

    Call it once the reply no longer counts (`Message.objects.answers()` leaves it out), in the
    same transaction. Each reply clock it stopped runs again against its original deadline: the
    next answer still stops it (met or missed), an agent's later "no response needed" cancels it
    (and excuses the messages it had answered), or it is live now (at risk, breached), with the
    warnings and breaches it passed meanwhile. The first/next-reply clocks that customers'
    follow-ups started only because this reply had stopped the one running are cancelled: the
    reopened clock answers for them. Customer messages it answered wait for the next answer.
    Returns the events written.
    """
    later = first_answer(inquiry, since=at)
    if later == at:
        return []  # another answer of the same instant stands: nothing changes
    excusals = InquiryEvent.objects.filter(inquiry=inquiry, kind=EventKind.NO_RESPONSE_NEEDED, at__gt=at)
    if later is not None:
        excusals = excusals.filter(at__lt=later)
    excused = excusals.order_by("at").values_list("at", flat=True).first()
    end = excused or later
    events: list[InquiryEvent] = []
    reopened = list(
        inquiry.clocks.filter(
            kind__in=REPLY_KINDS, state__in=(ClockState.MET, ClockState.MISSED), stopped_at=at
        ).select_related("calendar", "inquiry__account")
    )
    for clock in reopened:
        events.extend(_reopen(clock, until=later, excused=excused, now=now, actor=actor))
    if any(clock.kind != ClockKind.MARKETPLACE_REPLY for clock in reopened):
        started = inquiry.clocks.filter(
            kind__in=(ClockKind.FIRST_REPLY, ClockKind.NEXT_REPLY), started_at__gt=at
        ).exclude(state=ClockState.CANCELLED)
        if end is not None:
            started = started.filter(started_at__lt=end)
        for clock in started:
            events.extend(cancel_clock(clock, at=now, actor=actor, reason="reply not delivered"))
    answered: dict[str, object] = (
        {"answered_at": None, "no_response_needed": True} if excused else {"answered_at": later}
    )
    Message.objects.filter(
        inquiry=inquiry, direction=Direction.INBOUND, automatic=False, answered_at=at
    ).update(**answered)
    InquiryEvent.objects.bulk_create(events)
    last = (
        Message.objects.answers().filter(inquiry=inquiry).order_by("-answer_at").values("answer_at")[:1]  # type: ignore[misc]  # django-stubs: answer_at is the annotation of answers(), which the plugin cannot see
    )
    refresh_urgency([inquiry.pk], last_reply_at=Subquery(last))
    return events


def _reopen(
    clock: Clock, *, until: datetime | None, excused: datetime | None, now: datetime, actor: object
) -> list[InquiryEvent]:
    """Run a stopped reply clock again from where it stood: cancelled at `excused` (no response
    needed), stopped at `until` (the next answer), or live at `now`."""
    calendar = clock_calendar(clock)
    recorded = set(
        InquiryEvent.objects.filter(
            clock=clock, kind__in=(EventKind.CLOCK_AT_RISK, EventKind.CLOCK_BREACHED)
        ).values_list("kind", flat=True)
    )
    clock.stopped_at = None
    clock.elapsed_seconds = None
    events = [clock_event(clock, EventKind.CLOCK_RESUMED, now, actor=actor, reason="reply not delivered")]
    events.extend(e for e in set_live_state(clock, excused or until or now) if e.kind not in recorded)
    clock.save()
    if excused is not None:
        events.extend(cancel_clock(clock, at=excused, actor=actor, reason="no response needed"))
    elif until is not None:
        events.extend(stop_clock(clock, at=until, calendar=calendar, actor=actor))
    return events


def cancel_reply_clocks(*, inquiry: Inquiry, at: datetime, actor: object, reason: str) -> int:
    InquiryEvent.objects.bulk_create(catch_up(inquiry=inquiry, at=at))
    events: list[InquiryEvent] = []
    for clock in inquiry.clocks.filter(kind__in=REPLY_KINDS, state__in=ACTIVE):
        events.extend(cancel_clock(clock, at=at, actor=actor, reason=reason))
    InquiryEvent.objects.bulk_create(events)
    refresh_urgency([inquiry.pk])
    return len(events)
