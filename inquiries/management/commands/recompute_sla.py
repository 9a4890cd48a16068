"""manage.py recompute_sla: recompute every running clock from its start."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand
from django.db import transaction

from inquiries.models import ACTIVE_CLOCK_STATES, Clock, Inquiry
from inquiries.services.clocks import inquiries_with_running_clocks, recompute_many, refresh_urgency

CHUNK = 1000


class Command(BaseCommand):
    help = (
        "Re-pick policies and recompute the due times of all running clocks (keeps paused time), "
        "then rewrite every inquiry's copy of its nearest deadline (the queue's order)."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        changed = recompute_many(inquiry_ids=list(inquiries_with_running_clocks()))
        # Inquiries with an active clock, and those whose copy still names a deadline: after
        # rows were changed behind the clock service's back, both may be stale.
        ids = sorted(
            set(Clock.objects.filter(state__in=ACTIVE_CLOCK_STATES).values_list("inquiry_id", flat=True))
            | set(Inquiry.objects.filter(next_due_at__isnull=False).values_list("pk", flat=True))
        )
        for start in range(0, len(ids), CHUNK):
            with transaction.atomic():
                refresh_urgency(ids[start : start + CHUNK])
        self.stdout.write(f"recomputed={changed} queue_fields={len(ids)}")
