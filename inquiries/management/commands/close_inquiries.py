"""manage.py close_inquiries: close every inquiry of an account that matches a filter."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from django.core.management.base import BaseCommand, CommandError, CommandParser

from inquiries.models import OPEN_STATUSES, Account, Channel, Inquiry, Status
from inquiries.selectors.queue import QueueFilters, filter_queue
from inquiries.services.actions import close_matching


class Command(BaseCommand):
    help = (
        "Close (or solve) every inquiry of one account matching the filters, set-based, through the "
        "status service: resolution clocks stop now, a status event per inquiry. Prints the count "
        "first; --dry-run stops there."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--account", type=int, required=True, help="The account's id.")
        parser.add_argument(
            "--status",
            action="append",
            choices=[s for s in Status.values if s != Status.CLOSED],
            help="Only inquiries with this status (repeat for several); default: new, open and pending.",
        )
        parser.add_argument(
            "--before",
            type=date.fromisoformat,
            help="Only inquiries opened before this day (YYYY-MM-DD, midnight in the account's time zone).",
        )
        parser.add_argument("--channel", help="Only inquiries of this channel (its slug).")
        parser.add_argument("--topic", help='Only inquiries of this topic (its key, or "none").')
        parser.add_argument(
            "--as",
            dest="to",
            choices=[Status.CLOSED, Status.SOLVED],
            default=Status.CLOSED,
            help="Default closed.",
        )
        parser.add_argument("--dry-run", action="store_true", help="Print the count and change nothing.")

    def handle(self, *args: Any, **options: Any) -> None:
        account = Account.objects.filter(pk=options["account"]).first()
        if account is None:
            raise CommandError(f"--account: no account with id {options['account']}")
        channel = None
        if options["channel"]:
            channel = Channel.objects.filter(account=account, slug=options["channel"]).first()
            if channel is None:
                raise CommandError(f"--channel: account {account.pk} has no channel {options['channel']!r}")
        filters = QueueFilters(
            account=account.pk,
            channel=channel.pk if channel else None,
            statuses=tuple(options["status"] or OPEN_STATUSES),
            topic=options["topic"] or "",
        )
        matching = filter_queue(Inquiry.objects.all(), filters, user=None)
        if options["before"]:
            midnight = datetime.combine(
                options["before"], datetime.min.time(), tzinfo=ZoneInfo(account.timezone)
            )
            matching = matching.filter(opened_at__lt=midnight)
        count = matching.exclude(status=options["to"]).count()
        self.stdout.write(f"matching={count} account={account.pk} ({account.name})")
        if options["dry_run"]:
            self.stdout.write("dry run: nothing changed")
            return
        changed = close_matching(inquiries=matching, actor=None, status=options["to"])
        self.stdout.write(f"{options['to']}={changed}")
