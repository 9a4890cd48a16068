"""manage.py import_orders FILE --account ID --format NAME [--dry-run]."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DatabaseError

from inquiries.ingestion.csv_import import Reading, open_csv
from inquiries.ingestion.order_reports import FORMATS, RowRejected, parse_report
from inquiries.management.commands._importing import database_lost
from inquiries.models import Account
from inquiries.services.orders import OrderImport, import_orders


class Command(BaseCommand):
    help = (
        "Import a marketplace order report (orders, shipments, returns or feedback) into an account. "
        "Every rejected line is reported with its number and all its errors, the rest is imported; "
        "re-importing updates what is stored and never duplicates it. Exits with status 1 when any "
        "line was rejected. Formats and columns: docs/orders.md."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path)
        parser.add_argument("--account", required=True, type=int, help="Id of the account the report is of.")
        parser.add_argument(
            "--format", required=True, dest="fmt", choices=sorted(FORMATS), help="The report."
        )
        parser.add_argument(
            "--timezone",
            default=None,
            help="Zone of timestamps without a UTC offset (default: the account's time zone).",
        )
        parser.add_argument(
            "--dayfirst", action="store_true", help="Slash dates are DD/MM/YYYY (default MM/DD/YYYY)."
        )
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Read and check the whole file, print what would be created and updated; write nothing.",
        )

    def handle(
        self,
        *args: Any,
        file: Path,
        account: int,
        fmt: str,
        timezone: str | None,
        dayfirst: bool,
        dry_run: bool,
        **options: Any,
    ) -> None:
        if not file.is_file():
            raise CommandError(f"{file}: no such file")
        target = Account.objects.filter(pk=account).first()
        if target is None:
            raise CommandError(f"no account with id {account}")
        result = OrderImport(format=fmt, dry_run=dry_run)

        def rejected(line: int, rejection: RowRejected) -> None:
            self.stderr.write(f"{file}:line {line}: {rejection.reason}")

        with open_csv(file) as stream:
            try:
                rows = parse_report(
                    stream, FORMATS[fmt], zone=timezone or target.timezone, reading=Reading(dayfirst=dayfirst)
                )
                import_orders(
                    account=target,
                    fmt=FORMATS[fmt],
                    rows=rows,
                    dry_run=dry_run,
                    on_rejected=rejected,
                    into=result,
                    # A process of its own: the import may tune it.
                    own_process=True,
                )
            except ValueError as exc:
                raise CommandError(f"{file}: {exc}") from None
            except DatabaseError as exc:
                flags = [
                    *(["--timezone", timezone] if timezone else []),
                    *(["--dayfirst"] if dayfirst else []),
                ]
                resume = (
                    f"manage.py import_orders {shlex.quote(str(file))} --account {account} --format {fmt}"
                )
                resume += "".join(f" {shlex.quote(flag)}" for flag in flags)
                raise database_lost(exc, result, resume) from None
        self.stdout.write(result.summary())
        if result.rejected:
            raise SystemExit(1)
