"""manage.py import_csv FILE --channel SLUG [--preset NAME] [--map our=their,...]."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DatabaseError

from inquiries.ingestion.csv_import import CSV_PRESETS, open_csv, parse_csv, parse_mapping
from inquiries.ingestion.types import Rejected
from inquiries.management.commands._importing import (
    BatchRecorder,
    Progress,
    Tally,
    channel_by_slug,
    database_lost,
    quietly_abort,
)


class Command(BaseCommand):
    help = (
        "Import messages from a CSV export. Each bad row is reported with its line number and the rest "
        "are imported; re-running imports nothing twice. Exits with status 1 when any row was rejected."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path)
        parser.add_argument("--channel", required=True, help="Slug of the channel the messages arrived on.")
        parser.add_argument(
            "--preset",
            default="cstracker",
            choices=sorted(CSV_PRESETS),
            help="A column mapping for a known export format.",
        )
        parser.add_argument(
            "--map",
            dest="mapping",
            default="",
            help='Column mapping overrides, e.g. "external_id=Message ID,body_text=Message".',
        )
        parser.add_argument("--timezone", default="UTC", help="Zone of timestamps that carry no UTC offset.")
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
        **options: Any,
    ) -> None:
        if not file.is_file():
            raise CommandError(f"{file}: no such file")
        target = channel_by_slug(channel)
        try:
            columns = {**CSV_PRESETS[preset], **(parse_mapping(mapping) if mapping else {})}
        except ValueError as exc:
            raise CommandError(f"--map: {exc}") from None
        tally = Tally()
        recorder = BatchRecorder(target, tally)
        meter = Progress(self.stdout._out, None, enabled=progress)  # type: ignore[attr-defined]
        with open_csv(file) as stream:
            try:
                for line, item in parse_csv(stream, mapping=columns, default_tz=timezone):
                    if isinstance(item, Rejected):
                        recorder.reject(f"line {line}", item.reason)
                    else:
                        recorder.add(f"line {line}", item)
                    meter.update(recorder.seen, 0)
                recorder.close()
            except DatabaseError as exc:
                quietly_abort(recorder)
                resume = f"manage.py import_csv {shlex.quote(str(file))} --channel {shlex.quote(channel)}"
                if preset:
                    resume += f" --preset {shlex.quote(preset)}"
                if mapping:
                    resume += f" --map {shlex.quote(mapping)}"
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
        self.stdout.write(tally.summary())
        if tally.rejected:
            raise SystemExit(1)
