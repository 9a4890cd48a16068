"""manage.py recompute_sla: recompute every running clock from its start."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from inquiries.services.clocks import inquiries_with_running_clocks, recompute_many


class Command(BaseCommand):
    help = "Re-pick policies and recompute the due times of all running clocks (keeps paused time)."

    def handle(self, *args: Any, **options: Any) -> None:
        changed = recompute_many(inquiry_ids=list(inquiries_with_running_clocks()))
        self.stdout.write(f"recomputed={changed}")
