"""Common set-up for benchmarks: Django on the current DATABASE_URL, in a throwaway database."""

from __future__ import annotations

import os
import statistics
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
_BENCH = str(Path(__file__).resolve().parent)
# bench/queue.py shadows the standard library's `queue` while bench/ leads sys.path (it does
# when a script here is run directly): move bench/ to the end, the repository to the front.
sys.path[:] = [str(REPO)] + [p for p in sys.path if str(Path(p or ".").resolve()) != _BENCH] + [_BENCH]
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cstracker.settings")
os.environ.setdefault("CELERY_TASK_ALWAYS_EAGER", "false")
os.environ.setdefault("LOG_LEVEL", "WARNING")
# Measure production settings: no query log kept in memory, no debug tooling.
os.environ.setdefault("DEBUG", "false")
os.environ.setdefault("SECRET_KEY", "bench-only-secret-key-" + "x" * 40)
os.environ.setdefault("SECURE_SSL_REDIRECT", "false")
os.environ.setdefault("STATIC_MANIFEST", "false")  # pages render without collectstatic

import django  # noqa: E402

django.setup()

from django.db import connection  # noqa: E402


@contextmanager
def throwaway_database(keep: bool = False) -> Iterator[str]:
    """Create a fresh database next to the configured one (like the test runner) and drop it after."""
    name = connection.creation.create_test_db(verbosity=0, autoclobber=True, keepdb=keep)
    try:
        yield name
    finally:
        if not keep:
            connection.creation.destroy_test_db(name, verbosity=0)


def describe_database() -> str:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("show server_version")
            return f"PostgreSQL {cursor.fetchone()[0]}"
    import sqlite3

    return f"SQLite {sqlite3.sqlite_version}"


def median(values: list[float]) -> float:
    return statistics.median(values)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def no_broker() -> None:
    """Benchmarks measure the database work; after-commit tasks are not published."""
    from inquiries.services import queue

    queue.safe_delay = lambda task, *args, **kwargs: None  # type: ignore[assignment]
