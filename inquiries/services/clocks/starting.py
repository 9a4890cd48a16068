"""Starting clocks: the clocks a new inquiry opens with, and those a customer's follow-up starts."""

from __future__ import annotations

from datetime import datetime

from inquiries.models import (
    Calendar,
    Clock,
    ClockKind,
    Inquiry,
    Message,
    SlaPolicy,
)
from inquiries.selectors.calendars import business_calendar
from inquiries.selectors.marketplace_rules import from_marketplace, message_target
from inquiries.services.bulk import unsaved
from inquiries.services.clocks.events import ACTIVE
from inquiries.services.clocks.policies import PolicySet, target_seconds_for
from inquiries.sla import clocks as math
from inquiries.sla.calendar import BusinessCalendar


def opening_clocks(*, inquiry: Inquiry, message: Message, policy_set: PolicySet, at: datetime) -> list[Clock]:
    """The unsaved clocks a new inquiry's first customer message starts.

    Resolution and first reply from the inquiry's policy, the marketplace reply clock from the
    account's rule (its deadline is also stamped on the message). One place for both the
    one-message path and the batch path.
    """
    kinds = (ClockKind.RESOLUTION, ClockKind.FIRST_REPLY)
    return clocks_to_start(
        inquiry=inquiry, message=message, policy=inquiry.sla_policy, policy_set=policy_set, kinds=kinds, at=at
    )


def follow_up_clocks(
    *,
    inquiry: Inquiry,
    message: Message,
    policy: SlaPolicy | None,
    policy_set: PolicySet,
    existing: list[Clock],
    at: datetime,
) -> list[Clock]:
    """The unsaved clocks a customer's follow-up at `at` starts, given the inquiry's clocks.

    A reply clock unless one is running (the first reply's if nobody has replied yet, else the
    next reply's), and the marketplace's reply clock, whose deadline is stamped on the message.
    One place for the one-message path and the batch path.
    """
    replying = any(
        c.kind in (ClockKind.FIRST_REPLY, ClockKind.NEXT_REPLY) and c.state in ACTIVE for c in existing
    )
    first = inquiry.last_reply_at is None and all(c.kind != ClockKind.FIRST_REPLY for c in existing)
    kinds = () if replying else (ClockKind.FIRST_REPLY if first else ClockKind.NEXT_REPLY,)
    return clocks_to_start(
        inquiry=inquiry, message=message, policy=policy, policy_set=policy_set, kinds=kinds, at=at
    )


def clocks_to_start(
    *,
    inquiry: Inquiry,
    message: Message,
    policy: SlaPolicy | None,
    policy_set: PolicySet,
    kinds: tuple[str, ...],
    at: datetime,
    marketplace: bool = True,
) -> list[Clock]:
    """Unsaved clocks started at `at`: `kinds` from the policy (those it sets a target for), then
    (with `marketplace`) the marketplace's reply clock from the account's rule, its deadline
    stamped on the message."""
    warn_ratio = policy.warn_ratio if policy else 0.75
    calendar_row = policy.calendar if policy else None
    plans: list[tuple[str, int, BusinessCalendar, Calendar | None, SlaPolicy | None]] = []
    for kind in kinds:
        target = target_seconds_for(policy, inquiry.priority, kind, policy_set)
        if target:
            plans.append((kind, target, business_calendar(calendar_row), calendar_row, policy))
    market = message_target(inquiry=inquiry, message=message) if marketplace else None
    if market is not None and not from_marketplace(message):
        market = None
    if market is not None:
        plans.append(
            (ClockKind.MARKETPLACE_REPLY, market.target_seconds, market.calendar, market.calendar_row, None)
        )
    new = []
    for kind, target, calendar, row, clock_policy in plans:
        clock = scheduled_clock(
            inquiry=inquiry,
            kind=kind,
            started_at=at,
            target_seconds=target,
            calendar_row=row,
            calendar=calendar,
            warn_ratio=warn_ratio,
            policy=clock_policy,
            message=message,
        )
        new.append(clock)
        if kind == ClockKind.MARKETPLACE_REPLY and market is not None:
            clock.rule_name = market.rule_name
            message.response_due_at = clock.due_at
    return new


def scheduled_clock(
    *,
    inquiry: Inquiry,
    kind: str,
    started_at: datetime,
    target_seconds: int,
    calendar_row: Calendar | None,
    calendar: BusinessCalendar,
    warn_ratio: float,
    policy: SlaPolicy | None,
    message: Message | None,
) -> Clock:
    """An unsaved running clock with its due and at-risk times on `calendar`."""
    plan = math.schedule(
        calendar, started_at=started_at, target_seconds=target_seconds, warn_ratio=warn_ratio
    )
    return unsaved(
        Clock,
        inquiry=inquiry,
        kind=kind,
        message=message,
        policy=policy,
        calendar=calendar_row,
        target_seconds=target_seconds,
        warn_ratio=warn_ratio,
        started_at=started_at,
        due_at=plan.due_at,
        warn_at=plan.warn_at,
    )
