"""manage.py sla_sweep: one sweep now (for cron without beat); prints the counts."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from inquiries.services.sweep import sweep


class Command(BaseCommand):
    help = "Move clocks to at-risk and breached, and catch up lost follow-up work. Safe to run concurrently."

    def handle(self, *args: Any, **options: Any) -> None:
        self.stdout.write(str(sweep()))
