"""Import memory and speed for big files: a 1 GB CSV and a 1 GB helpdesk JSON export.

    DATABASE_URL=postgres://... python bench/import_memory.py [--size-mb 1024] [--real-rows 20000]

Writes each file on the fly (the writers of tests/test_import_memory.py, row by row), then
runs `manage.py import_csv FILE --dry-run` on it in a child process, and the same on a file a
sixteenth of its size: the peak resident memory of both children (flat memory means the
import streams; the file is never read whole) and rows (messages) per second. Then a real
import of `--real-rows` rows of the CSV (0 skips it), with its peak memory and rate, and the
same for a quarter of them. Everything runs in a throwaway database; no Celery task is
published. Not run in CI (tests/test_import_memory.py is the CI check, in bytes, not seconds).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
from pathlib import Path
from tempfile import TemporaryDirectory

from _setup import describe_database, no_broker, run_child, throwaway_database

CSV_ROW_BYTES = 4_100  # about, with the 4 KB body the writers put in each row
JSON_TICKET_BYTES = 12_400  # a ticket with its description and two conversations


def child_import(path: str, channel: str, preset: str, dry_run: bool) -> None:
    """In the child: the import, then its seconds, message count and peak resident memory as JSON."""
    from django.core.management import call_command

    args = [path, "--channel", channel, "--preset", preset, *(["--dry-run"] if dry_run else [])]
    out = open(os.devnull, "w")  # noqa: SIM115
    started = time.perf_counter()
    call_command("import_csv", *args, stdout=out, stderr=out)
    elapsed = time.perf_counter() - started
    from inquiries.models import Message

    stored = Message.objects.filter(channel__slug=channel).count()
    print(
        json.dumps(
            {
                "seconds": elapsed,
                "stored": stored,
                "peak_mb": peak_resident_mb(),
            }
        )
    )


def peak_resident_mb() -> float:
    """This process's own peak resident memory. Linux's `ru_maxrss` keeps, across exec, the
    peak of the process that forked the child (here the bench, with Django loaded), which
    would hide a smaller child's peak; VmHWM is the child's image alone."""
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure(path: Path, channel: str, preset: str, messages: int, *, dry_run: bool) -> str:
    flags = ["--dry-run"] if dry_run else []
    result = run_child(__file__, "--child", str(path), "--channel", channel, "--preset", preset, *flags)
    return (
        f"{path.stat().st_size / 2**20:,.0f} MiB, {messages:,} messages: {messages / result['seconds']:,.0f}/s, "
        f"peak RSS {result['peak_mb']:.0f} MB" + ("" if dry_run else f", stored {result['stored']:,}")
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--size-mb", type=int, default=1024, help="size of the large files")
    parser.add_argument("--real-rows", type=int, default=20_000, help="rows of the real (writing) import")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--channel", help=argparse.SUPPRESS)
    parser.add_argument("--preset", help=argparse.SUPPRESS)
    parser.add_argument("--dry-run", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    no_broker()
    if args.child:
        child_import(args.child, args.channel, args.preset, args.dry_run)
        return

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from inquiries.models import Account, Channel, Marketplace
    from tests.factories import policy_with_targets
    from tests.test_import_memory import write_csv, write_freshdesk_json

    with throwaway_database(), TemporaryDirectory() as tmp:
        print(f"{describe_database()}; load average {os.getloadavg()[0]:.2f}")
        account = Account.objects.create(name="Bench", marketplace=Marketplace.AMAZON)
        policy_with_targets()
        rows = args.size_mb * 2**20 // CSV_ROW_BYTES
        tickets = args.size_mb * 2**20 // JSON_TICKET_BYTES
        for label, write, count, per, preset in (
            ("CSV --dry-run", write_csv, rows, 1, "cstracker"),
            ("freshdesk-json --dry-run", write_freshdesk_json, tickets, 3, "freshdesk-json"),
        ):
            for part in (count // 16, count):
                path = Path(tmp) / f"{preset}-{part}"
                write(path, part)
                slug = f"dry-{preset}-{part}"
                Channel.objects.create(account=account, slug=slug, name=slug)
                print(f"{label}: {measure(path, slug, preset, part * per, dry_run=True)}")
                path.unlink()
        for part in (args.real_rows // 4, args.real_rows) if args.real_rows else ():
            path = Path(tmp) / f"real-{part}.csv"
            write_csv(path, part)
            slug = f"real-{part}"
            Channel.objects.create(account=account, slug=slug, name=slug)
            print(f"CSV import: {measure(path, slug, 'cstracker', part, dry_run=False)}")


if __name__ == "__main__":
    main()
