"""The periodic sweep: move clocks to at-risk and breached, and catch up missed follow-ups.

Safe to run concurrently and to re-run after a crash: rows are claimed with
`SELECT ... FOR UPDATE SKIP LOCKED` and changed with a conditional UPDATE, so each
transition happens, and writes its event, exactly once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from inquiries.services.queue import enqueue_after_commit
from inquiries.models import Clock, ClockState, EventKind, InquiryEvent, Message

BATCH = 1000


@dataclass(frozen=True, slots=True)
class SweepResult:
    at_risk: int
    breached: int
    followed_up: int

    def __str__(self) -> str:
        return f"at_risk={self.at_risk} breached={self.breached} followed_up={self.followed_up}"


def _event(clock: Clock, kind: str, at: datetime) -> InquiryEvent:
    return InquiryEvent(
        inquiry_id=clock.inquiry_id, clock_id=clock.pk, kind=kind, at=at, message_id=clock.message_id,
        data={"clock_kind": clock.kind},
    )


def _transition(*, now: datetime, to: str) -> list[int]:
    """One batch of one transition kind; returns the ids of the clocks that moved."""
    with transaction.atomic():
        if to == ClockState.BREACHED:
            candidates = Clock.objects.filter(state__in=(ClockState.RUNNING, ClockState.AT_RISK), due_at__lte=now)
        else:
            candidates = Clock.objects.filter(state=ClockState.RUNNING, warn_at__lte=now, due_at__gt=now)
        clocks = list(
            candidates.select_for_update(skip_locked=True)
            .order_by()
            .only("id", "inquiry_id", "message_id", "kind", "state", "warn_at", "due_at")[:BATCH]
        )
        if not clocks:
            return []
        ids = [c.pk for c in clocks]
        # The conditional UPDATE re-checks the state: a concurrent stop (a reply) wins over the sweep.
        if to == ClockState.BREACHED:
            Clock.objects.filter(
                pk__in=ids, state__in=(ClockState.RUNNING, ClockState.AT_RISK), due_at__lte=now
            ).update(state=ClockState.BREACHED, breached_at=F("due_at"))
        else:
            Clock.objects.filter(pk__in=ids, state=ClockState.RUNNING, warn_at__lte=now).update(
                state=ClockState.AT_RISK
            )
        still = set(Clock.objects.filter(pk__in=ids, state=to).values_list("pk", flat=True))
        events = []
        for clock in clocks:
            if clock.pk not in still:
                continue
            if to == ClockState.BREACHED:
                if clock.state == ClockState.RUNNING and clock.warn_at < clock.due_at:
                    events.append(_event(clock, EventKind.CLOCK_AT_RISK, clock.warn_at))
                events.append(_event(clock, EventKind.CLOCK_BREACHED, clock.due_at))
            else:
                events.append(_event(clock, EventKind.CLOCK_AT_RISK, clock.warn_at))
        created = InquiryEvent.objects.bulk_create(events)
        event_ids = [e.pk for e in created if e.pk is not None]
        if event_ids:
            enqueue_after_commit("notify_events", event_ids)
        return sorted(still)


def sweep(*, now: datetime | None = None, followup_grace: timedelta | None = None) -> SweepResult:
    now = now or timezone.now()
    if followup_grace is None:
        followup_grace = timedelta(seconds=settings.CSTRACKER_FOLLOWUP_GRACE_SECONDS)
    breached = at_risk = 0
    while batch := _transition(now=now, to=ClockState.BREACHED):
        breached += len(batch)
    while batch := _transition(now=now, to=ClockState.AT_RISK):
        at_risk += len(batch)
    return SweepResult(at_risk=at_risk, breached=breached, followed_up=catch_up_followups(now=now, grace=followup_grace))


def catch_up_followups(*, now: datetime, grace: timedelta) -> int:
    """Run the after-commit work for customer messages whose task never ran (broker down)."""
    from inquiries.services.followup import follow_up_message

    pending = Message.objects.filter(
        followed_up_at__isnull=True, direction="inbound", automatic=False, created_at__lte=now - grace
    ).order_by("created_at").values_list("pk", flat=True)[:BATCH]
    done = 0
    for message_id in pending:
        done += follow_up_message(message_id=message_id)
    return done
