"""manage.py import_csv FILE --channel SLUG [--preset NAME] [--map our=their,...].

CSV presets name an export's columns (freshdesk-csv reads a ticket row as its messages); the
JSON presets (zendesk-json, freshdesk-json, gorgias-json) read a helpdesk's ticket export
instead, streamed ticket by ticket. Both feed the same recorder, with the same error report
(a CSV's line, a JSON export's record) and --dry-run.
"""

from __future__ import annotations

import shlex
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DatabaseError

from inquiries.ingestion.csv_import import (
    CSV_PRESETS,
    Reading,
    open_csv,
    parse_csv,
    parse_mapping,
    parse_time_of_day,
    parse_value_maps,
)
from inquiries.ingestion.freshdesk_csv import FIELDS as FRESHDESK_FIELDS
from inquiries.ingestion.freshdesk_csv import parse_freshdesk_csv
from inquiries.ingestion.helpdesk_json import JSON_SHAPES, parse_export
from inquiries.ingestion.types import IncomingMessage, Rejected
from inquiries.management.commands._importing import (
    BatchRecorder,
    Progress,
    Tally,
    channel_by_slug,
    database_lost,
    quietly_abort,
)
from inquiries.models import Channel, Message

FRESHDESK_CSV = "freshdesk-csv"


class Command(BaseCommand):
    help = (
        "Import messages from a CSV export. Each bad row is reported with its line number and the rest "
        "are imported; a reply whose parent row is not imported yet is held until it is; re-running "
        "imports nothing twice. Exits with status 1 when any row was rejected."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path)
        parser.add_argument("--channel", required=True, help="Slug of the channel the messages arrived on.")
        parser.add_argument(
            "--preset",
            default="cstracker",
            choices=sorted([*CSV_PRESETS, FRESHDESK_CSV, *JSON_SHAPES]),
            help="A known export: a CSV column mapping (cstracker, conversation, amazon, zendesk), "
            "Freshdesk's ticket CSV (freshdesk-csv: each ticket as its opening message and first reply) "
            "or a helpdesk's JSON ticket export (zendesk-json, freshdesk-json, gorgias-json).",
        )
        parser.add_argument(
            "--map",
            dest="mapping",
            default="",
            help='Column mapping overrides, e.g. "external_id=Message ID,body_text=Message".',
        )
        parser.add_argument("--timezone", default="UTC", help="Zone of timestamps that carry no UTC offset.")
        parser.add_argument(
            "--map-values",
            default="",
            help='What the export\'s values mean, e.g. "direction:True=inbound,False=outbound" '
            '(fields separated by ";").',
        )
        parser.add_argument(
            "--date-format",
            action="append",
            default=[],
            help='A strptime pattern for the timestamps, e.g. "%%d/%%m/%%Y %%H:%%M" (repeat for several; '
            "default: ISO 8601, RFC 2822, the Twitter shape and other common ones, detected per value).",
        )
        parser.add_argument(
            "--dayfirst", action="store_true", help="Slash dates are DD/MM/YYYY (default MM/DD/YYYY)."
        )
        parser.add_argument(
            "--default-time", default=None, help="Time of day for date-only timestamps, e.g. 12:00."
        )
        parser.add_argument(
            "--fold",
            choices=("earlier", "later"),
            default=None,
            help="A local time that a DST change repeats or skips is read as the earlier or the later "
            "instant (default: the row is rejected).",
        )
        parser.add_argument(
            "--integer-ids",
            action="store_true",
            help='Ids written as "123.0" (spreadsheet and pandas exports) are read as "123".',
        )
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Read and check the whole file, print the counts and every rejected row; write nothing.",
        )
        parser.add_argument("--progress", action="store_true", default=None)

    def handle(
        self,
        *args: Any,
        file: Path,
        channel: str,
        preset: str,
        mapping: str,
        timezone: str,
        progress: bool | None,
        map_values: str,
        date_format: list[str],
        dayfirst: bool,
        default_time: str | None,
        fold: str | None,
        integer_ids: bool,
        dry_run: bool,
        **options: Any,
    ) -> None:
        if not file.is_file():
            raise CommandError(f"{file}: no such file")
        target = channel_by_slug(channel)
        if preset in JSON_SHAPES:
            given = [
                name
                for name, value in (
                    ("--map", mapping),
                    ("--map-values", map_values),
                    ("--date-format", date_format),
                    ("--dayfirst", dayfirst),
                    ("--default-time", default_time),
                    ("--fold", fold),
                    ("--integer-ids", integer_ids),
                    ("--timezone", timezone != "UTC"),
                )
                if value
            ]
            if given:
                raise CommandError(
                    f"{', '.join(given)}: not for a JSON export (preset {preset}), whose fields and "
                    "timestamps are the vendor's own"
                )
            source = self._json_source(file, preset)
        else:
            try:
                if preset == FRESHDESK_CSV:
                    columns = parse_mapping(mapping, FRESHDESK_FIELDS) if mapping else {}
                else:
                    columns = {**CSV_PRESETS[preset], **(parse_mapping(mapping) if mapping else {})}
            except ValueError as exc:
                raise CommandError(f"--map: {exc}") from None
            try:
                reading = Reading(
                    value_maps=parse_value_maps(map_values),
                    date_formats=tuple(date_format),
                    dayfirst=dayfirst,
                    default_time=parse_time_of_day(default_time) if default_time else None,
                    fold=fold,
                    integer_ids=integer_ids,
                )
            except ValueError as exc:
                raise CommandError(str(exc)) from None
            source = self._csv_source(file, columns, timezone, reading, freshdesk=preset == FRESHDESK_CSV)
        if dry_run:
            self._dry_run(file, source, target)
            return
        tally = Tally()
        recorder = BatchRecorder(target, tally)
        meter = Progress(self.stdout._out, None, enabled=progress)  # type: ignore[arg-type]  # django-stubs: OutputWrapper._out is the wrapped stream, typed as a Callable
        try:
            for label, item in source:
                if isinstance(item, Rejected):
                    recorder.reject(label, item.reason)
                else:
                    recorder.add(label, item)
                meter.update(recorder.seen, 0)
            recorder.close()
        except DatabaseError as exc:
            quietly_abort(recorder)
            resume = f"manage.py import_csv {shlex.quote(str(file))} --channel {shlex.quote(channel)}"
            if preset:
                resume += f" --preset {shlex.quote(preset)}"
            if mapping:
                resume += f" --map {shlex.quote(mapping)}"
            flags = [
                *(["--timezone", timezone] if timezone != "UTC" else []),
                *(["--map-values", map_values] if map_values else []),
                *(arg for pattern in date_format for arg in ("--date-format", pattern)),
                *(["--dayfirst"] if dayfirst else []),
                *(["--default-time", default_time] if default_time else []),
                *(["--fold", fold] if fold else []),
                *(["--integer-ids"] if integer_ids else []),
            ]
            resume += "".join(f" {shlex.quote(flag)}" for flag in flags)
            raise database_lost(exc, tally, resume) from None
        except ValueError as exc:
            recorder.abort()
            raise CommandError(f"{file}: {exc}") from None
        except BaseException:
            recorder.abort()
            raise
        meter.finish()
        for label, reason in tally.rejected:
            self.stderr.write(f"{file}:{label}: {reason}")
        if tally.held_note():
            self.stdout.write(tally.held_note())
        self.stdout.write(tally.summary())  # the last line: the counts
        if tally.rejected:
            raise SystemExit(1)

    @staticmethod
    def _csv_source(
        file: Path, columns: dict[str, str], timezone: str, reading: Reading, *, freshdesk: bool
    ) -> Iterator[tuple[str, IncomingMessage | Rejected]]:
        """Each row as ("line N", message or Rejected); `ValueError` for a file it cannot read.
        A Freshdesk ticket row gives its messages, each labelled with the row's line."""
        parse = parse_freshdesk_csv if freshdesk else parse_csv
        with open_csv(file) as stream:
            for line, item in parse(stream, mapping=columns, default_tz=timezone, reading=reading):
                yield f"line {line}", item

    @staticmethod
    def _json_source(file: Path, preset: str) -> Iterator[tuple[str, IncomingMessage | Rejected]]:
        """Each message of each ticket as ("record N (ticket ID)", message or Rejected)."""
        with file.open("rb") as stream:
            yield from parse_export(stream, JSON_SHAPES[preset])

    def _dry_run(
        self, file: Path, source: Iterator[tuple[str, IncomingMessage | Rejected]], channel: Channel
    ) -> None:
        """Read every row (or record) as the import would; count what it would import; write nothing."""
        valid = stored = 0
        rejected: list[tuple[str, str]] = []
        pending: list[str] = []

        def already_stored() -> int:
            found = Message.objects.filter(channel=channel, external_id__in=pending).count()
            pending.clear()
            return found

        try:
            for label, item in source:
                if isinstance(item, Rejected):
                    rejected.append((label, item.reason))
                    continue
                valid += 1
                pending.append(item.external_id)
                if len(pending) >= 1000:
                    stored += already_stored()
        except ValueError as exc:
            raise CommandError(f"{file}: {exc}") from None
        stored += already_stored()
        for label, reason in rejected:
            self.stderr.write(f"{file}:{label}: {reason}")
        self.stdout.write(
            f"dry run, nothing written: rows={valid + len(rejected)} readable={valid} "
            f"already_stored={stored} rejected={len(rejected)}"
        )
        if rejected:
            raise SystemExit(1)
