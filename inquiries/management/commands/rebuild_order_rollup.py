"""manage.py rebuild_order_rollup: build the order metrics' daily rollup (what beat does, on demand)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from inquiries.models import Account
from inquiries.services.order_rollup import build_missing


class Command(BaseCommand):
    help = (
        "Build the daily rollup of the marketplace metrics from orders (docs/health.md). Without options: "
        "every account with orders whose rollup is missing or stale (what beat does). With --account: "
        "rebuild those accounts whatever their state. Safe to run any number of times."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--account", type=int, action="append", help="Account id (repeatable).")

    def handle(self, *args: Any, account: list[int] | None, **options: Any) -> None:
        if account:
            missing = set(account) - set(Account.objects.filter(pk__in=account).values_list("pk", flat=True))
            if missing:
                raise CommandError(f"no account with id {', '.join(map(str, sorted(missing)))}")
        self.stdout.write(str(build_missing(account_ids=account)))
