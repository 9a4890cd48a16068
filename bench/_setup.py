"""Common set-up for benchmarks: Django on the current DATABASE_URL, in a throwaway database."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
from collections.abc import Iterator, Sequence
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
    # serialize=False: no copy of a kept database's rows in memory (that is for test cases).
    name = connection.creation.create_test_db(verbosity=0, autoclobber=True, keepdb=keep, serialize=False)
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


def database_url() -> str:
    """The URL of the database in use (the throwaway one), for child processes."""
    params = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{params['NAME']}"
    return (
        f"postgres://{params.get('USER') or 'postgres'}@{params.get('HOST') or '127.0.0.1'}:"
        f"{params.get('PORT') or 5432}/{params['NAME']}"
    )


def run_child(script: str, *args: str, **env: str) -> dict:
    """Run `script` with `args` in a child process on the database in use; the JSON object its
    last line of output prints."""
    output = subprocess.run(
        [sys.executable, script, *args],
        env={**os.environ, "DATABASE_URL": database_url(), **env},
        cwd=REPO,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return json.loads(output.strip().splitlines()[-1])


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def no_broker() -> None:
    """Benchmarks measure the database work; after-commit tasks are not published."""
    from inquiries.services import queue

    queue.safe_delay = lambda task, *args, **kwargs: None
