"""manage.py health_snapshot: write daily health snapshots (what beat does, on demand)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from inquiries.health.dates import local_date
from inquiries.models import Account
from inquiries.services.health import backfill, refresh_today, snapshot_missing_days


class Command(BaseCommand):
    help = (
        "Write account-health snapshots. Without options: fill every finished day of the last --days "
        "that has no final snapshot, then refresh today (what beat does). With --account and --from/--to: "
        "recompute those days. Safe to run any number of times."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--account", type=int, action="append", help="Account id (repeatable); default all."
        )
        parser.add_argument(
            "--days", type=int, default=90, help="How far back to fill missing days (default 90)."
        )
        parser.add_argument("--from", dest="first", type=date.fromisoformat, help="Recompute from this day.")
        parser.add_argument(
            "--to", dest="last", type=date.fromisoformat, help="...to this day (default today)."
        )

    def handle(
        self,
        *args: Any,
        account: list[int] | None,
        days: int,
        first: date | None,
        last: date | None,
        **options: Any,
    ) -> None:
        now = timezone.now()
        if days < 1 or days > 366:
            raise CommandError("--days must be between 1 and 366")
        if first is None:
            filled = snapshot_missing_days(now=now, days=days, account_ids=account).written
            refreshed = refresh_today(now=now, account_ids=account)
            self.stdout.write(f"filled={filled} refreshed={refreshed}")
            return
        accounts = Account.objects.filter(is_active=True)
        if account:
            accounts = accounts.filter(pk__in=account)
            missing = set(account) - set(accounts.values_list("pk", flat=True))
            if missing:
                raise CommandError(f"no active account with id {', '.join(map(str, sorted(missing)))}")
        written = 0
        for item in accounts.order_by("pk"):
            today = local_date(now, item.timezone)
            end = min(last or today, today)
            if first > end or (end - first) > timedelta(days=366):
                raise CommandError("--from must be on or before --to, at most 366 days apart")
            written += backfill(account=item, first=first, last=end, now=now)
        self.stdout.write(f"written={written}")
