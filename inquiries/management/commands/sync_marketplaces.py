"""manage.py sync_marketplaces [--account ID] [--force]: fetch the marketplaces' reports now.

Runs the Amazon SP-API sync of every enabled connection whose turn has come (or, with
--force, of every enabled one) in this process, without Celery, and prints one line per
report fetched. Exit status 1 when any report failed. Beat does the same every 15 minutes.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from inquiries.models import AmazonConnection, RunState
from inquiries.services import spapi


class Command(BaseCommand):
    help = "Fetch and import the Amazon reports of the accounts' SP-API connections now (docs/orders.md)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--account", type=int, help="Id of one account; default: every connection due.")
        parser.add_argument("--force", action="store_true", help="Fetch even when the schedule is not due.")

    def handle(self, *args: Any, account: int | None, force: bool, **options: Any) -> None:
        now = timezone.now()
        if account is not None:
            ids = list(AmazonConnection.objects.filter(account=account).values_list("pk", flat=True))
            if not ids:
                raise CommandError(f"account {account} has no Amazon connection (Admin → Amazon connections)")
        else:
            ids = spapi.connection_ids(due_at=None if force else now)
        failed = False
        for pk in ids:
            runs = spapi.sync_connection(connection_id=pk, now=now, force=force)
            if not runs:
                self.stdout.write(f"connection {pk}: not due, disabled or busy (--force to fetch anyway)")
            for run in runs:
                failed |= run.state == RunState.FAILED
                line = (
                    f"account {run.account_id} {run.report_type}: {run.state} rows={run.rows} "
                    f"imported={run.imported} rejected={run.rejected}"
                )
                self.stdout.write(line + (f" ({run.error.splitlines()[0]})" if run.error else ""))
        if failed:
            raise SystemExit(1)
