"""Configuration changes that move deadlines: policies, calendars, holidays.

They bump the calendar version (so cached calendars are rebuilt) and queue a
recompute of the affected running clocks after commit.
"""

from __future__ import annotations

from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from inquiries.models import Calendar, SlaPolicy
from inquiries.services.clocks import inquiries_with_running_clocks
from inquiries.services.queue import enqueue_after_commit


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
def calendar_changed(*, calendar: Calendar) -> int:
    Calendar.objects.filter(pk=calendar.pk).update(version=F("version") + 1)
    calendar.refresh_from_db(fields=["version"])
    ids = list(inquiries_with_running_clocks(Q(calendar=calendar) | Q(policy__calendar=calendar)))
    enqueue_after_commit("recompute_clocks", ids)
    return len(ids)
