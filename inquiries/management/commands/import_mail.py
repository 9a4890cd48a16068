"""manage.py import_mail PATH --channel SLUG: .eml files, folders of them, mbox files."""

from __future__ import annotations

import os
import shlex
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from django.core.checks import Tags
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DatabaseError
from django.utils import timezone

from inquiries.ingestion.email import iter_mail_source, mail_source_size
from inquiries.ingestion.pool import Parsed, parse_mail
from inquiries.ingestion.types import Rejected
from inquiries.management.commands._importing import (
    BatchRecorder,
    ConcurrentRecorder,
    Progress,
    Tally,
    channel_by_slug,
    database_lost,
    fewer_collections,
    quietly_abort,
    recorder_for,
    report,
)
from inquiries.selectors import topics
from inquiries.services.recording.rules import needs_lookup

# Starting a parser process costs a few hundred milliseconds: worth it for large input only.
PARALLEL_FROM_BYTES = 2_000_000


class Command(BaseCommand):
    help = (
        "Import e-mail from an .eml file, a folder of them, or an mbox file (streamed). "
        "Prints imported / duplicate / automatic / rejected / held counts and each rejection with its reason "
        "(a reply whose parent message is not imported yet is held until it is); exits with status 1 when "
        "anything was rejected (everything else is still imported)."
    )
    # Mail delivery may start this command once per message: it checks the models it writes
    # and leaves the URLconf, admin and template checks (which import every view, the API and
    # its schema generator, about a second) to `manage.py check` and the web server's start.
    requires_system_checks = [Tags.models]

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", type=Path)
        parser.add_argument("--channel", required=True, help="Slug of the channel the mail arrived on.")
        parser.add_argument("--progress", action="store_true", default=None, help="Force the progress line.")
        parser.add_argument(
            "--workers",
            type=int,
            default=None,
            help=(
                "Processes that parse ahead of the database writes (0: parse in this process). "
                f"Default: 1 for input over {PARALLEL_FROM_BYTES // 1_000_000} MB on a machine "
                "with more than one CPU, else 0."
            ),
        )
        parser.add_argument(
            "--writers",
            type=int,
            default=None,
            help=(
                "Database connections that record at once, each customer's messages in order on one "
                "of them (PostgreSQL; SQLite always uses one). Default: 2 for input over "
                f"{PARALLEL_FROM_BYTES // 1_000_000} MB on PostgreSQL, else 1."
            ),
        )

    def handle(
        self,
        *args: Any,
        path: Path,
        channel: str,
        progress: bool | None,
        workers: int | None,
        writers: int | None,
        **options: Any,
    ) -> None:
        if not path.exists():
            raise CommandError(f"{path}: no such file or folder")
        if workers is not None and not 0 <= workers <= 64:
            raise CommandError(f"--workers: must be between 0 and 64, not {workers}")
        if writers is not None and not 1 <= writers <= 16:
            raise CommandError(f"--writers: must be between 1 and 16, not {writers}")
        target = channel_by_slug(channel)
        tally = Tally()
        total = mail_source_size(path)
        workers, writers = _parallelism(total, workers=workers, writers=writers)
        recorder = recorder_for(target, tally, writers=writers)
        meter = Progress(self.stdout, total, enabled=progress)
        # The parser processes classify by the topic rules too, alongside the database writes:
        # the messages that may open an inquiry, which is what a topic is for (a reply, a
        # note or a customer's follow-up naming its thread rarely does; if it does, the
        # engine classifies it then).
        rules = topics.rules_for_hints(account_id=target.account_id) if workers else None
        parsed_mail = parse_mail(
            iter_mail_source(path),
            now=timezone.now,
            workers=workers,
            rules=rules,
            wants_topic=lambda incoming: not needs_lookup(incoming),
        )
        try:
            _record_all(parsed_mail, recorder, meter)
        except DatabaseError as exc:
            quietly_abort(recorder)
            resume = f"manage.py import_mail {shlex.quote(str(path))} --channel {shlex.quote(channel)}"
            raise database_lost(exc, tally, resume) from None
        except BaseException:
            # Nothing after a failure (or Ctrl-C) is recorded: a re-run picks up from there.
            recorder.abort()
            raise
        meter.finish()
        report(self, tally, lambda label, reason: f"rejected {label}: {reason}")


def _parallelism(total: int, *, workers: int | None, writers: int | None) -> tuple[int, int]:
    """The parser processes and database writers for `total` bytes of input, unless given."""
    if workers is None:
        workers = 1 if total >= PARALLEL_FROM_BYTES and (os.cpu_count() or 1) > 1 else 0
    if writers is None:
        writers = 2 if total >= PARALLEL_FROM_BYTES else 1
    return workers, writers


def _record_all(
    parsed_mail: Iterator[tuple[str, int, Parsed]],
    recorder: BatchRecorder | ConcurrentRecorder,
    meter: Progress,
) -> None:
    """Record every parsed message, reject every unreadable one, then flush the recorder."""
    done_bytes = 0
    with fewer_collections():
        for label, size, parsed in parsed_mail:
            if isinstance(parsed, Rejected):
                recorder.reject(label, parsed.reason)
                continue
            done_bytes += size
            recorder.add(label, parsed)
            meter.update(recorder.seen, done_bytes)
        recorder.close()
