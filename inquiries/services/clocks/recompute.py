"""Recomputing clocks after the configuration changed (policy, calendar, holidays, presets):
each live clock's deadlines from its start, in the rules in force now.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sized
from datetime import datetime

from django.db import transaction
from django.db.models import F, Q
from django.db.models.functions import Least
from django.utils import timezone

from inquiries.models import (
    OPEN_STATUSES,
    Clock,
    ClockKind,
    ClockState,
    Direction,
    EventKind,
    Inquiry,
    InquiryEvent,
    Message,
    RecomputeRun,
    SlaPolicy,
    Status,
)
from inquiries.selectors.calendars import business_calendar
from inquiries.selectors.marketplace_rules import MarketTarget, clear_cache, marketplace_rule, message_target
from inquiries.services.clocks.events import ACTIVE, clock_event, set_live_state, started_events
from inquiries.services.clocks.policies import select_policy, target_seconds_for
from inquiries.services.clocks.starting import scheduled_clock
from inquiries.services.clocks.stopping import cancel_clock, reschedule
from inquiries.services.clocks.urgency import refresh_urgency
from inquiries.sla.calendar import BusinessCalendar

logger = logging.getLogger(__name__)


def recompute_inquiry(*, inquiry: Inquiry, now: datetime, reselect_policy: bool = True) -> int:
    """Recompute due times of running clocks from their start, keeping paused time."""
    inquiry = Inquiry.objects.select_related("account", "customer", "sla_policy__calendar").get(pk=inquiry.pk)
    if reselect_policy:
        policy = select_policy(inquiry)
        if policy != inquiry.sla_policy:
            Inquiry.objects.filter(pk=inquiry.pk).update(sla_policy=policy)
            inquiry.sla_policy = policy
    policy = inquiry.sla_policy
    events: list[InquiryEvent] = []
    changed = 0
    active = inquiry.clocks.filter(state__in=(*ACTIVE, ClockState.PAUSED))
    for clock in active.select_related("calendar", "message"):
        calendar, cancelled_because = _retarget(clock, inquiry=inquiry, policy=policy)
        if calendar is None:
            events.extend(cancel_clock(clock, at=now, reason=cancelled_because))
            _keep_message_deadline(clock, None)
            continue
        old_due = clock.due_at
        reschedule(clock, calendar)
        _keep_message_deadline(clock, clock.due_at)
        if clock.state != ClockState.PAUSED:
            already = {
                ClockState.RUNNING: set(),
                ClockState.AT_RISK: {EventKind.CLOCK_AT_RISK},
                ClockState.BREACHED: {EventKind.CLOCK_AT_RISK, EventKind.CLOCK_BREACHED},
            }[ClockState(clock.state)]
            # Only transitions the clock has not recorded yet are new facts; a longer target can
            # also take a breached clock back to running, which the recompute event records.
            events.extend(e for e in set_live_state(clock, now) if e.kind not in already)
        clock.save()
        if clock.due_at != old_due:
            changed += 1
            events.append(
                clock_event(
                    clock,
                    EventKind.CLOCK_RECOMPUTED,
                    now,
                    old_due_at=old_due.isoformat(),
                    due_at=clock.due_at.isoformat(),
                )
            )
    started = _start_missing_clocks(inquiry=inquiry, policy=policy, now=now)
    events.extend(started_events(started))
    for clock in started:
        if clock.state != ClockState.PAUSED:
            events.extend(set_live_state(clock, now))
            clock.save(update_fields=["state", "breached_at"])
    InquiryEvent.objects.bulk_create(events)
    refresh_urgency([inquiry.pk])
    return changed + len(started)


def _keep_message_deadline(clock: Clock, due_at: datetime | None) -> None:
    """A marketplace clock's message carries its deadline (`response_due_at`, what the health
    figures and the plan measure against): moved with the clock, None when its rule is gone."""
    message = clock.message
    if clock.kind != ClockKind.MARKETPLACE_REPLY or message is None or message.response_due_at == due_at:
        return
    message.response_due_at = due_at
    Message.objects.filter(pk=message.pk).update(response_due_at=due_at)


def _retarget(
    clock: Clock, *, inquiry: Inquiry, policy: SlaPolicy | None
) -> tuple[BusinessCalendar | None, str]:
    """Set the clock's target as the rules in force now say: the marketplace rule its message
    matches, else the policy's target. Returns the calendar it counts in, or None and why the
    clock is cancelled (its rule or policy target is gone)."""
    if clock.kind == ClockKind.MARKETPLACE_REPLY:
        if clock.message is not None:
            market = message_target(inquiry=inquiry, message=clock.message)
        else:  # its message was deleted: nothing to match a rule on
            general = marketplace_rule(inquiry.account)
            market = MarketTarget(*general) if general else None
        if market is None:
            return None, "marketplace rule removed"
        clock.target_seconds, calendar, clock.calendar = (
            market.target_seconds,
            market.calendar,
            market.calendar_row,
        )
        clock.rule_name = market.rule_name
    else:
        target = target_seconds_for(policy, inquiry.priority, clock.kind)
        if not target:
            return None, "policy removed"
        clock.target_seconds = target
        clock.policy = policy
        clock.calendar = policy.calendar if policy else None
        clock.warn_ratio = policy.warn_ratio if policy else clock.warn_ratio
        calendar = business_calendar(clock.calendar)
    return calendar, ""


def _start_missing_clocks(*, inquiry: Inquiry, policy: SlaPolicy | None, now: datetime) -> list[Clock]:
    """Saved clocks for what the policy measures and an open inquiry has no clock for yet (a
    policy that now sets a resolution target, or the first policy of inquiries that had none),
    started when they would have started had the policy applied from the beginning: resolution
    at the opening, first reply at the first customer message while nobody has replied, next
    reply at the oldest customer message after the last reply. A resolution clock of a pending
    inquiry starts paused now (the wait on the customer began before; its start is not stored)."""
    if policy is None or inquiry.status not in OPEN_STATUSES:
        return []
    clocks = list(inquiry.clocks.values_list("kind", "state"))
    kinds = {kind for kind, _ in clocks if kind != ClockKind.MARKETPLACE_REPLY}
    replying = any(
        kind in (ClockKind.FIRST_REPLY, ClockKind.NEXT_REPLY) and state in ACTIVE for kind, state in clocks
    )
    customer = inquiry.messages.filter(direction=Direction.INBOUND, automatic=False).order_by(
        "received_at", "pk"
    )
    plans: list[tuple[str, datetime, Message | None]] = []
    if ClockKind.RESOLUTION not in kinds:
        plans.append((ClockKind.RESOLUTION, inquiry.opened_at, None))
    if not replying:
        if inquiry.last_reply_at is None:
            first = customer.first() if ClockKind.FIRST_REPLY not in kinds else None
            if first is not None:
                plans.append((ClockKind.FIRST_REPLY, first.received_at, first))
        else:
            waiting = customer.filter(received_at__gt=inquiry.last_reply_at).first()
            if waiting is not None:
                plans.append((ClockKind.NEXT_REPLY, waiting.received_at, waiting))
    calendar = business_calendar(policy.calendar)
    new = []
    for kind, started_at, message in plans:
        target = target_seconds_for(policy, inquiry.priority, kind)
        if not target:
            continue
        clock = scheduled_clock(
            inquiry=inquiry,
            kind=kind,
            started_at=started_at,
            target_seconds=target,
            calendar_row=policy.calendar,
            calendar=calendar,
            warn_ratio=policy.warn_ratio,
            policy=policy,
            message=message,
        )
        if kind == ClockKind.RESOLUTION and inquiry.status == Status.PENDING:
            clock.state, clock.paused_at = ClockState.PAUSED, max(now, started_at)
        clock.save()
        new.append(clock)
    return new


RECOMPUTE_PROGRESS_EVERY = 500


def recompute_many(
    *, inquiry_ids: Iterable[int], now: datetime | None = None, run_id: int | None = None
) -> int:
    """Recompute each inquiry's running clocks, one transaction each; logs its progress every
    `RECOMPUTE_PROGRESS_EVERY` inquiries (a policy change may move thousands) and, given the
    `RecomputeRun` a background recompute was started with, stores it there for the admin."""
    now = now or timezone.now()
    clear_cache()  # a preset edit queued this recompute: read the presets as saved
    total = len(inquiry_ids) if isinstance(inquiry_ids, Sized) else None
    runs = RecomputeRun.objects.filter(Q(pk=run_id))  # no run given: matches none
    changed = done = 0
    for done, inquiry_id in enumerate(inquiry_ids, 1):
        with transaction.atomic():
            inquiry = Inquiry.objects.select_for_update().filter(pk=inquiry_id).first()
            if inquiry is not None:
                changed += recompute_inquiry(inquiry=inquiry, now=now)
        if done % RECOMPUTE_PROGRESS_EVERY == 0:
            logger.info("recompute: %d of %s inquiries done, %d clocks moved", done, total or "?", changed)
            if run_id is not None:
                runs.update(done=Least(done, F("total")))
    if run_id is not None:
        runs.update(done=Least(done, F("total")), finished_at=timezone.now())
    return changed


def inquiries_with_running_clocks(query: Q | None = None) -> Iterable[int]:
    clocks = Clock.objects.filter(state__in=(*ACTIVE, ClockState.PAUSED))
    if query is not None:
        clocks = clocks.filter(query)
    return clocks.values_list("inquiry_id", flat=True).distinct().order_by("inquiry_id").iterator()
