"""Configuration changes that move deadlines: policies (with their targets), calendars (with
their holidays), and deleting either.

The API and the admin call these. Each bumps what the clock caches key on (the calendar's
version, the policy's `updated_at`) and queues a recompute of the affected running clocks
after commit, so the recompute sees every row the transaction wrote: the admin saves its
inline rows (holidays, targets) after the service call, in the same transaction.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from django.db import transaction
from django.db.models import F, Model, Q
from django.utils import timezone

from inquiries.models import Calendar, Holiday, SlaPolicy, SlaTarget
from inquiries.services.clocks import inquiries_with_running_clocks
from inquiries.services.errors import Conflict
from inquiries.services.queue import enqueue_after_commit


@transaction.atomic
def save_policy(
    *,
    policy: SlaPolicy,
    targets: Iterable[Mapping[str, Any]] | None = None,
    accounts: Iterable[Model] | None = None,
    channels: Iterable[Model] | None = None,
    topics: Iterable[Model] | None = None,
) -> int:
    """Save a new or changed policy; returns how many open inquiries get their clocks recomputed.

    `targets` (priority and seconds per clock), when given, replace the policy's targets;
    `accounts`, `channels` and `topics`, when given, replace what it applies to.
    None leaves them as they are.
    """
    policy.save()
    for relation, rows in (("accounts", accounts), ("channels", channels), ("topics", topics)):
        if rows is not None:
            getattr(policy, relation).set(rows)
    if targets is not None:
        policy.targets.all().delete()
        SlaTarget.objects.bulk_create(SlaTarget(policy=policy, **target) for target in targets)
    return policy_changed(policy=policy)


@transaction.atomic
def policy_changed(*, policy: SlaPolicy) -> int:
    """Every open inquiry may now pick a different policy, so all running clocks are recomputed."""
    SlaPolicy.objects.filter(pk=policy.pk).update(updated_at=timezone.now())  # target edits reload the cache
    ids = list(inquiries_with_running_clocks())
    enqueue_after_commit("recompute_clocks", ids)
    return len(ids)


@transaction.atomic
def delete_policy(*, policy: SlaPolicy) -> int:
    """Delete a policy. The open inquiries it governed pick another one after commit (or, with
    none left for them, their policy clocks are cancelled, "policy removed"); returns how many."""
    ids = list(inquiries_with_running_clocks(Q(policy=policy) | Q(inquiry__sla_policy=policy)))
    policy.delete()
    enqueue_after_commit("recompute_clocks", ids)
    return len(ids)


@transaction.atomic
def save_calendar(*, calendar: Calendar, holidays: Iterable[Mapping[str, Any]] | None = None) -> int:
    """Save a new or changed calendar; returns how many open inquiries get their clocks recomputed.

    `holidays` (date and name each), when given, replace the calendar's holidays; None leaves
    them as they are.
    """
    calendar.save()
    if holidays is not None:
        calendar.holidays.all().delete()
        Holiday.objects.bulk_create(Holiday(calendar=calendar, **holiday) for holiday in holidays)
    return calendar_changed(calendar=calendar)


@transaction.atomic
def calendar_changed(*, calendar: Calendar) -> int:
    Calendar.objects.filter(pk=calendar.pk).update(version=F("version") + 1)
    calendar.refresh_from_db(fields=["version"])
    ids = list(inquiries_with_running_clocks(Q(calendar=calendar) | Q(policy__calendar=calendar)))
    enqueue_after_commit("recompute_clocks", ids)
    return len(ids)


@transaction.atomic
def delete_calendar(*, calendar: Calendar) -> int:
    """Delete a calendar that no policy uses. Accounts whose marketplace reply rule ran on it go
    back to their marketplace's own calendar: their running clocks are recomputed after commit;
    returns how many inquiries."""
    policies = list(calendar.policies.order_by("position").values_list("name", flat=True)[:3])
    if policies:
        raise Conflict(
            f"Policies still use this calendar ({', '.join(policies)}): give them another one first.",
            field="calendar",
            code="in_use",
        )
    ids = list(inquiries_with_running_clocks(Q(calendar=calendar) | Q(policy__calendar=calendar)))
    calendar.delete()
    enqueue_after_commit("recompute_clocks", ids)
    return len(ids)
