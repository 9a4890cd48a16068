"""manage.py import_mail PATH --channel SLUG: .eml files, folders of them, mbox files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from inquiries.ingestion.email import iter_mail_source, parse_email, receipt_time
from inquiries.ingestion.types import Rejected
from inquiries.management.commands._importing import BatchRecorder, Progress, Tally, channel_by_slug


def _size(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


class Command(BaseCommand):
    help = (
        "Import e-mail from an .eml file, a folder of them, or an mbox file (streamed). "
        "Prints imported / duplicate / automatic / rejected counts and each rejection with its reason; "
        "exits with status 1 when anything was rejected (everything else is still imported)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", type=Path)
        parser.add_argument("--channel", required=True, help="Slug of the channel the mail arrived on.")
        parser.add_argument("--progress", action="store_true", default=None, help="Force the progress line.")

    def handle(self, *args: Any, path: Path, channel: str, progress: bool | None, **options: Any) -> None:
        if not path.exists():
            raise CommandError(f"{path}: no such file or folder")
        target = channel_by_slug(channel)
        tally = Tally()
        recorder = BatchRecorder(target, tally)
        meter = Progress(self.stdout._out, _size(path), enabled=progress)  # type: ignore[attr-defined]
        done_bytes = 0
        for label, item in iter_mail_source(path):
            if isinstance(item, Rejected):
                tally.rejected.append((label, item.reason))
                continue
            done_bytes += len(item)
            now = timezone.now()
            # Archived mail is scored from when our server received it (the topmost Received
            # header); mail without that trace, or with a clock ahead of ours, is received now.
            received = receipt_time(item)
            if received is None or received > now:
                received = now
            try:
                recorder.add(label, parse_email(item, received_at=received))
            except Rejected as exc:
                tally.rejected.append((label, exc.reason))
            meter.update(tally.seen + len(recorder.pending), done_bytes)
        recorder.flush()
        meter.finish()
        for label, reason in tally.rejected:
            self.stderr.write(f"rejected {label}: {reason}")
        self.stdout.write(tally.summary())
        if tally.rejected:
            raise SystemExit(1)
