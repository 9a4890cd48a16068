"""manage.py import_holidays CALENDAR --country US [--subdivision CA] --year 2027"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from inquiries.models import Calendar
from inquiries.services.errors import DomainError
from inquiries.services.holidays import import_holidays


class Command(BaseCommand):
    help = "Add a country's (and subdivision's) public holidays for a year to a calendar (by name or id)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("calendar")
        parser.add_argument("--country", required=True, help="ISO 3166 code, e.g. US, DE, GB.")
        parser.add_argument("--subdivision", default="", help="e.g. CA for California, BY for Bavaria.")
        parser.add_argument("--year", type=int, required=True)

    def handle(
        self, *args: Any, calendar: str, country: str, subdivision: str, year: int, **options: Any
    ) -> None:
        found = Calendar.objects.filter(pk=int(calendar)).first() if calendar.isdigit() else None
        found = found or Calendar.objects.filter(name=calendar).first()
        if found is None:
            raise CommandError(f"No calendar named {calendar!r}")
        try:
            added = import_holidays(calendar=found, country=country, year=year, subdivision=subdivision)
        except DomainError as exc:
            raise CommandError(exc.message) from None
        self.stdout.write(f"added={added} calendar={found.name!r}")
