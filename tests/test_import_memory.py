"""Big files stream: the import's peak Python memory does not grow with the file (issue 19).

Each test writes an export on the fly (a streaming writer, never the whole file in memory),
imports N and then 4N rows of it, and compares tracemalloc's peak above what was allocated
before: a list built over all rows, or a per-row cache that never shrinks, makes the 4N peak
grow by several times the N peak's growth; streaming keeps both under one fixed bound.
No wall-clock assertion: only bytes.
"""

from __future__ import annotations

import csv
import functools
import gc
import json
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

import pytest

from inquiries import models as m
from tests.test_import_commands import run

pytestmark = pytest.mark.django_db

# Each body is about 4 KiB, so the files are megabytes while the row counts stay quick to parse.
BODY = ("The parcel arrived with the lid cracked and the inner box soaked; " * 64)[:4000]
MiB = 1024 * 1024


def write_csv(path: Path, rows: int, *, start: int = 0) -> None:
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["external_id", "sender_address", "subject", "body_text", "received_at"])
        for n in range(start, start + rows):
            writer.writerow(
                [
                    f"mem-{n}",
                    f"buyer{n}@example.com",
                    f"Order {n} damaged",
                    f"{n}: {BODY}",
                    f"2026-03-02T{n // 3600 % 24:02d}:{n // 60 % 60:02d}:{n % 60:02d}Z",
                ]
            )


def write_freshdesk_json(path: Path, rows: int, *, start: int = 0) -> None:
    """A Freshdesk JSON export of `rows` tickets with two conversations each, written one at a time."""
    with path.open("w", encoding="utf-8") as out:
        out.write("[")
        for n in range(start, start + rows):
            ticket = {
                "id": n + 1,
                "subject": f"Order {n} damaged",
                "description_text": f"{n}: {BODY}",
                "status": 4,
                "requester": {"email": f"buyer{n}@example.com"},
                "created_at": "2026-03-02T09:00:00Z",
                "stats": {"resolved_at": "2026-03-02T12:00:00Z"},
                "conversations": [
                    {"id": 2 * n, "body_text": BODY, "incoming": False, "created_at": "2026-03-02T10:00:00Z"},
                    {
                        "id": 2 * n + 1,
                        "body_text": BODY,
                        "incoming": True,
                        "created_at": "2026-03-02T11:00:00Z",
                    },
                ],
            }
            out.write(("," if n > start else "") + json.dumps(ticket))
        out.write("]")


class Writer(Protocol):
    def __call__(self, path: Path, rows: int, *, start: int = ...) -> None: ...


def peak_growth(action: Callable[[], object]) -> int:
    """Bytes the peak of traced Python memory rose above what was allocated when `action` started."""
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        action()
        return tracemalloc.get_traced_memory()[1] - before
    finally:
        tracemalloc.stop()


def import_peak(path: Path, *args: str) -> int:
    """Peak growth of importing `path` with `args` (which must succeed)."""
    outcome: list[tuple[int, str, str]] = []
    peak = peak_growth(lambda: outcome.append(run("import_csv", str(path), *args)))
    code, out, err = outcome[0]
    assert code == 0, err + out
    return peak


def peaks(tmp_path: Path, write: Writer, rows: int, *args: str) -> tuple[int, int, int]:
    """Import a warm-up file, then N and 4N new rows written by `write`, with `args`: the size
    of the 4N file and the peak growth of the N and of the 4N import."""
    suffix = ".json" if "json" in " ".join(args) else ".csv"
    warm, small, large = (tmp_path / f"{name}{suffix}" for name in ("warm", "small", "large"))
    write(warm, 10, start=1)  # first use loads caches and modules: not what the file costs
    import_peak(warm, *args)
    write(small, rows, start=11)
    write(large, 4 * rows, start=11 + rows)
    return large.stat().st_size, import_peak(small, *args), import_peak(large, *args)


def test_a_large_csv_is_checked_in_constant_memory(tmp_path: Path, channel):
    size, small, large = peaks(tmp_path, write_csv, 1500, "--channel", channel.slug, "--dry-run")
    print(f"csv dry-run: {size // MiB} MiB, peak growth {small // 1024} KiB at N, {large // 1024} KiB at 4N")

    assert size > 20 * MiB
    assert large < 2 * MiB  # a tenth of the file
    assert large - small < 256 * 1024  # the rows are not kept


def test_a_large_helpdesk_json_export_is_checked_in_constant_memory(tmp_path: Path, channel):
    args = ("--channel", channel.slug, "--preset", "freshdesk-json", "--dry-run")
    size, small, large = peaks(tmp_path, write_freshdesk_json, 400, *args)
    print(f"json dry-run: {size // MiB} MiB, peak growth {small // 1024} KiB at N, {large // 1024} KiB at 4N")

    assert size > 15 * MiB
    assert large < 2 * MiB
    assert large - small < 256 * 1024


@pytest.mark.django_db(transaction=True)  # committed batch by batch, as in production
def test_recording_keeps_only_a_batch_in_memory(tmp_path: Path, channel, monkeypatch):
    from inquiries.management.commands import import_csv
    from inquiries.services import queue

    # Batches of 20 instead of 500, so that 16 batches fit in a quick test; the follow-up tasks
    # each batch queues after commit are the worker's memory, not the importer's.
    monkeypatch.setattr(import_csv, "BatchRecorder", functools.partial(import_csv.BatchRecorder, size=20))
    monkeypatch.setattr(queue, "safe_delay", lambda *args, **kwargs: None)
    size, small, large = peaks(tmp_path, write_csv, 80, "--channel", channel.slug)
    print(f"csv import: {size // 1024} KiB, peak growth {small // 1024} KiB at N, {large // 1024} KiB at 4N")

    assert m.Message.objects.count() == 10 + 80 + 320
    # Catches an import that keeps its messages (kilobytes a row). The little the peak rises
    # is cyclic garbage awaiting Python's collector (docs/benchmarks.md, "Import memory").
    assert large - small < 512 * 1024
