"""manage.py import_order_volumes FILE: daily orders per account (CSV: account,date,orders)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from inquiries.health.orders import read_volumes
from inquiries.services.health import import_order_volumes


class Command(BaseCommand):
    help = (
        "Import daily order volumes from a CSV with the header account,date,orders (account: its id or "
        "exact name; date: YYYY-MM-DD in the account's time zone). A day already imported is replaced. "
        "Every bad row is reported with its line number and then nothing is saved (unless --save-valid); "
        "the exit status is 1 when any row was bad."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path)
        parser.add_argument(
            "--save-valid", action="store_true", help="Save the good rows even if some are bad."
        )

    def handle(self, *args: Any, file: Path, save_valid: bool, **options: Any) -> None:
        if not file.is_file():
            raise CommandError(f"{file}: no such file")
        try:
            with file.open(newline="", encoding="utf-8-sig") as stream:
                rows, errors = read_volumes(stream)
        except UnicodeDecodeError:
            raise CommandError(f"{file}: not UTF-8 text") from None
        result = import_order_volumes(rows=rows, errors=errors, save_valid=save_valid)
        for error in result.errors:
            self.stderr.write(f"{file}:{error}")
        saved = result.created + result.updated
        if result.errors and not save_valid:
            self.stdout.write(f"nothing saved: {len(result.errors)} bad row(s); fix them and import again")
        else:
            self.stdout.write(f"created={result.created} updated={result.updated} saved={saved}")
        if result.errors:
            raise SystemExit(1)
