"""manage.py import_csv FILE --channel SLUG [--preset NAME] [--map our=their,...].

CSV presets name an export's columns (freshdesk-csv reads a ticket row as its messages); the
JSON presets (zendesk-json, freshdesk-json, gorgias-json) read a helpdesk's ticket export
instead, streamed ticket by ticket. Both feed the same recorder, with the same error report
(a CSV's line, a JSON export's record) and --dry-run.
"""

from __future__ import annotations

import shlex
from collections.abc import Iterator
from dataclasses import dataclass
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
    report,
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
        csv_options = CsvOptions(
            mapping=mapping,
            timezone=timezone,
            map_values=map_values,
            date_format=date_format,
            dayfirst=dayfirst,
            default_time=default_time,
            fold=fold,
            integer_ids=integer_ids,
        )
        source = self._source(file, preset, csv_options)
        if dry_run:
            self._dry_run(file, source, target)
            return
        tally = Tally()
        resume = f"manage.py import_csv {shlex.quote(str(file))} --channel {shlex.quote(channel)}"
        if preset:
            resume += f" --preset {shlex.quote(preset)}"
        self._import(
            file, source, BatchRecorder(target, tally), tally, progress, resume + csv_options.resume()
        )
        report(self, tally, lambda label, reason: f"{file}:{label}: {reason}")

    def _source(
        self, file: Path, preset: str, csv_options: CsvOptions
    ) -> Iterator[tuple[str, IncomingMessage | Rejected]]:
        """The file's messages as the preset reads them; `CommandError` for options that do not fit."""
        if preset in JSON_SHAPES:
            given = csv_options.given()
            if given:
                raise CommandError(
                    f"{', '.join(given)}: not for a JSON export (preset {preset}), whose fields and "
                    "timestamps are the vendor's own"
                )
            return self._json_source(file, preset)
        columns = csv_options.columns(preset)
        reading = csv_options.reading()
        return self._csv_source(
            file, columns, csv_options.timezone, reading, freshdesk=preset == FRESHDESK_CSV
        )

    def _import(
        self,
        file: Path,
        source: Iterator[tuple[str, IncomingMessage | Rejected]],
        recorder: BatchRecorder,
        tally: Tally,
        progress: bool | None,
        resume: str,
    ) -> None:
        """Record every message of `source`; on a lost database, how to resume (`resume`, the command)."""
        meter = Progress(self.stdout, None, enabled=progress)
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
            raise database_lost(exc, tally, resume) from None
        except ValueError as exc:
            recorder.abort()
            raise CommandError(f"{file}: {exc}") from None
        except BaseException:
            recorder.abort()
            raise
        meter.finish()

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


@dataclass(frozen=True)
class CsvOptions:
    """How to read a CSV export: the options that a JSON export, in the vendor's own fields, refuses."""

    mapping: str
    timezone: str
    map_values: str
    date_format: list[str]
    dayfirst: bool
    default_time: str | None
    fold: str | None
    integer_ids: bool

    def given(self) -> list[str]:
        """The options given on the command line, by their flag."""
        return [
            name
            for name, value in (
                ("--map", self.mapping),
                ("--map-values", self.map_values),
                ("--date-format", self.date_format),
                ("--dayfirst", self.dayfirst),
                ("--default-time", self.default_time),
                ("--fold", self.fold),
                ("--integer-ids", self.integer_ids),
                ("--timezone", self.timezone != "UTC"),
            )
            if value
        ]

    def columns(self, preset: str) -> dict[str, str]:
        """The preset's columns with --map's overrides (Freshdesk's ticket CSV: --map's only)."""
        try:
            if preset == FRESHDESK_CSV:
                return parse_mapping(self.mapping, FRESHDESK_FIELDS) if self.mapping else {}
            return {**CSV_PRESETS[preset], **(parse_mapping(self.mapping) if self.mapping else {})}
        except ValueError as exc:
            raise CommandError(f"--map: {exc}") from None

    def reading(self) -> Reading:
        try:
            return Reading(
                value_maps=parse_value_maps(self.map_values),
                date_formats=tuple(self.date_format),
                dayfirst=self.dayfirst,
                default_time=parse_time_of_day(self.default_time) if self.default_time else None,
                fold=self.fold,
                integer_ids=self.integer_ids,
            )
        except ValueError as exc:
            raise CommandError(str(exc)) from None

    def resume(self) -> str:
        """The options as arguments of the command that resumes an interrupted import."""
        resume = f" --map {shlex.quote(self.mapping)}" if self.mapping else ""
        flags = [
            *(["--timezone", self.timezone] if self.timezone != "UTC" else []),
            *(["--map-values", self.map_values] if self.map_values else []),
            *(arg for pattern in self.date_format for arg in ("--date-format", pattern)),
            *(["--dayfirst"] if self.dayfirst else []),
            *(["--default-time", self.default_time] if self.default_time else []),
            *(["--fold", self.fold] if self.fold else []),
            *(["--integer-ids"] if self.integer_ids else []),
        ]
        return resume + "".join(f" {shlex.quote(flag)}" for flag in flags)
