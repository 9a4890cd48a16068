"""Under load: agents polling the queue on the production set-up, a burst of messages, and the
health backfill running beside them.

    DATABASE_URL=postgres://... python bench/load.py [--inquiries 100000] [--seconds 60]
        [--conn-max-age 60] [--agents 200]

Builds --inquiries inquiries (bench/generate.py) in a throwaway database, starts gunicorn
(--web-workers, default 5, production settings) and two Celery workers on Redis (REDIS_URL, default
redis://127.0.0.1:6379/14) as the README recommends: `-Q celery` with 2 processes, and
`nice -n 10 ... -Q background` with one, and drives them with locust from its own environment
(.venv-load, bench/load/requirements.txt; every run bounded by --seconds, aimed only at
127.0.0.1). After a 30-second warm-up that is not reported, three phases of --seconds each:

1. steady: --agents agents (the queue's rows every 15 s, the bell every 30 s, an inquiry page
   a minute);
2. burst: the same agents plus 17 integration clients posting one message a second each
   (about 1,000 single-message POSTs);
3. backfill: the agents while the worker backfills 90 days of health snapshots.

Prints, per phase and endpoint: requests/s, median, p95, p99 (ms) and failures; for the burst,
how many messages were stored and the delay until each was in the queue (POST answered:
stored and committed) and until its follow-up work had run; last, how long the worker took
to stop. Targets (issue 24): steady p95 <= 200 ms; agents' p95 <= 500 ms during the burst;
every message visible within 10 s; nothing lost; the worker stops within 10 s.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _setup import REPO, describe_database, percentile, throwaway_database
from django.conf import settings
from django.db import connection

LOAD_VENV = REPO / ".venv-load"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def locust_binary() -> Path:
    binary = LOAD_VENV / "bin" / "locust"
    wanted = (REPO / "bench" / "load" / "requirements.txt").read_text()
    marker = LOAD_VENV / ".requirements.installed"
    if not binary.exists() or not marker.exists() or marker.read_text() != wanted:
        subprocess.run([sys.executable, "-m", "venv", str(LOAD_VENV)], check=True)
        subprocess.run(
            [
                str(LOAD_VENV / "bin" / "pip"),
                "install",
                "-q",
                "--disable-pip-version-check",
                "-r",
                str(REPO / "bench" / "load" / "requirements.txt"),
            ],
            check=True,
        )
        marker.write_text(wanted)
    return binary


def wait_for_http(port: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"nothing answered on port {port}")


def prepare(agents: int) -> dict:
    """Sessions for the agents, a token for the integration, some inquiries to open."""
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, get_user_model
    from django.contrib.sessions.backends.db import SessionStore
    from rest_framework.authtoken.models import Token

    from inquiries.models import Channel, Inquiry

    users = list(get_user_model().objects.filter(username__startswith="bench-agent-").order_by("pk"))
    sessions = []
    for index in range(agents):
        user = users[index % len(users)]
        session = SessionStore()
        session[SESSION_KEY] = str(user.pk)
        session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
        session[HASH_SESSION_KEY] = user.get_session_auth_hash()
        session.create()
        sessions.append(session.session_key)
    token, _ = Token.objects.get_or_create(user=users[0])
    open_ids = list(
        Inquiry.objects.filter(status__in=["new", "open", "pending"]).values_list("pk", flat=True)[:500]
    )
    channel = Channel.objects.order_by("pk").first()
    assert channel is not None, "the generated data has channels"
    return {"sessions": sessions, "inquiries": open_ids, "token": token.key, "channel": channel.slug}


def run_locust(
    binary: Path, env: dict, *, classes: list[str], users: int, seconds: int, port: int, out: Path
) -> list[dict]:
    command = [
        str(binary),
        "-f",
        str(REPO / "bench" / "load" / "locustfile.py"),
        "--headless",
        "-u",
        str(users),
        "-r",
        str(max(users // 5, 1)),
        "-t",
        f"{seconds}s",
        "--stop-timeout",
        "5",
        "--host",
        f"http://127.0.0.1:{port}",
        "--csv",
        str(out),
        "--only-summary",
        "--loglevel",
        "WARNING",
        *classes,
    ]
    subprocess.run(command, env=env, check=False, timeout=seconds + 120, stdout=subprocess.DEVNULL)
    with open(f"{out}_stats.csv") as stats:
        return [row for row in csv.DictReader(stats) if row["Name"] != "Aggregated"]


def report(phase: str, rows: list[dict]) -> None:
    print(f"\n{phase}")
    print(f"  {'endpoint':<22} {'req/s':>7} {'median':>7} {'p95':>7} {'p99':>7} {'failures':>9}")
    for row in rows:
        print(
            f"  {row['Name']:<22} {float(row['Requests/s']):7.1f} {float(row['Median Response Time']):7.0f} "
            f"{float(row['95%']):7.0f} {float(row['99%']):7.0f} {row['Failure Count']:>9}"
        )


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--inquiries", type=int, default=100_000)
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--agents", type=int, default=200)
    parser.add_argument("--conn-max-age", type=int, default=60)
    parser.add_argument(
        "--web-workers", type=int, default=5, help="gunicorn workers (2 x cores + 1 on 2 cores)"
    )
    return parser.parse_args()


def server_env(name: str, tmp: str, conn_max_age: int) -> dict:
    """The environment of the web server, the workers and locust: the throwaway database, Redis."""
    db = settings.DATABASES["default"]
    database_url = f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{name}"
    redis_url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/14")
    return {
        **os.environ,
        "DATABASE_URL": database_url,
        "DATABASE_CONN_MAX_AGE": str(conn_max_age),
        "CELERY_BROKER_URL": redis_url,
        "CELERY_TASK_ALWAYS_EAGER": "false",
        "ALLOWED_HOSTS": "127.0.0.1",
        "LOG_LEVEL": "WARNING",
        "LOAD_SESSIONS": str(Path(tmp) / "setup.json"),
        "LOAD_POSTED": str(Path(tmp) / "posted.json"),
    }


def start_web(env: dict, *, port: int, workers: int) -> subprocess.Popen:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "cstracker.wsgi:application",
            "--workers",
            str(workers),
            "--bind",
            f"127.0.0.1:{port}",
            "--log-level",
            "warning",
        ],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def start_workers(env: dict, *, port: int) -> list[subprocess.Popen]:
    """As the README recommends for a busy installation: one worker for what agents wait on,
    one niced worker with one process for the long jobs."""
    return [
        subprocess.Popen(
            [
                *prefix,
                sys.executable,
                "-m",
                "celery",
                "-A",
                "cstracker",
                "worker",
                "--loglevel=WARNING",
                "-Q",
                queue,
                "--concurrency",
                concurrency,
                "--without-gossip",
                "--without-mingle",
                "-n",
                f"load-{queue}{port}@%h",
            ],
            cwd=REPO,
            env={**env, "REMAP_SIGTERM": "SIGQUIT"},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        for queue, concurrency, prefix in (("celery", "2", []), ("background", "1", ["nice", "-n", "10"]))
    ]


def run_phases(binary: Path, env: dict, args: argparse.Namespace, *, port: int, out: Path) -> None:
    """The unreported warm-up, then the three phases, each with its summary."""

    def phase(title: str, name: str, classes: list[str], users: int) -> None:
        rows = run_locust(
            binary, env, classes=classes, users=users, seconds=args.seconds, port=port, out=out / name
        )
        report(title, rows)

    # Warm-up, not reported: each gunicorn worker's first requests, PostgreSQL's caches and
    # the autovacuum that follows the bulk load.
    run_locust(binary, env, classes=["Agent"], users=args.agents, seconds=30, port=port, out=out / "warm")
    phase("1. steady", "steady", ["Agent"], args.agents)
    phase(
        "2. burst (agents + 17 posters, one message a second each)",
        "burst",
        ["Agent", "Integration"],
        args.agents + 17,
    )
    burst_summary(out / "posted.json")
    start_health_backfill(env)
    phase(
        "3. agents while the worker backfills 90 days of health snapshots",
        "backfill",
        ["Agent"],
        args.agents,
    )
    backfill_summary()


def start_health_backfill(env: dict) -> None:
    subprocess.run(
        [
            sys.executable,
            "-c",
            "import django, os; os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'cstracker.settings'); "
            "django.setup(); from inquiries import tasks; tasks.health_daily_snapshots.delay()",
        ],
        cwd=REPO,
        env=env,
        check=True,
    )


def stop_servers(web: subprocess.Popen, workers: list[subprocess.Popen]) -> None:
    """Stop gunicorn, then each worker, timing how long it takes to stop after SIGTERM."""
    web.terminate()
    print()
    for worker in workers:
        started = time.monotonic()
        os.killpg(worker.pid, signal.SIGTERM)
        try:
            worker.wait(timeout=60)
            print(f"worker stopped {time.monotonic() - started:.1f} s after SIGTERM (target <= 10 s)")
        except subprocess.TimeoutExpired:
            os.killpg(worker.pid, signal.SIGKILL)
            print("worker did not stop within 60 s of SIGTERM (killed)")
    web.wait(timeout=30)
    connection.close()


def main() -> None:
    args = parse_args()
    if connection.vendor != "postgresql":
        sys.exit("bench/load.py measures the production set-up: point DATABASE_URL at PostgreSQL")
    binary = locust_binary()
    from generate import generate

    with throwaway_database() as name, tempfile.TemporaryDirectory() as tmp:
        print(f"{describe_database()}: building {args.inquiries:,} inquiries")
        generate(inquiries=args.inquiries, verbose=False)
        setup = prepare(args.agents)
        background_job_times()
        (Path(tmp) / "setup.json").write_text(json.dumps(setup))
        env = server_env(name, tmp, args.conn_max_age)
        port = free_port()
        connection.close()  # the servers get the database to themselves
        web = start_web(env, port=port, workers=args.web_workers)
        workers = start_workers(env, port=port)
        try:
            wait_for_http(port)
            print(
                f"gunicorn: {args.web_workers} workers, CONN_MAX_AGE={args.conn_max_age}; {args.agents} agents; "
                f"{args.seconds} s per phase"
            )
            run_phases(binary, env, args, port=port, out=Path(tmp))
        finally:
            stop_servers(web, workers)


def burst_summary(posted_file: Path) -> None:
    from datetime import datetime

    from inquiries.models import Message

    posted = json.loads(posted_file.read_text()) if posted_file.exists() else []
    time.sleep(15)  # give the worker the time the target allows, and more
    stored = {
        row["external_id"]: row
        for row in Message.objects.filter(external_id__in=[p[0] for p in posted]).values(
            "external_id", "created_at", "followed_up_at"
        )
    }
    visible = [(answered - sent) * 1000 for _, sent, answered in posted]
    followed = [
        (followed_up.timestamp() - sent) * 1000
        for eid, sent, _ in posted
        if eid in stored and (followed_up := stored[eid]["followed_up_at"]) is not None
    ]
    print(f"  posted {len(posted)} (201), stored {len(stored)}; lost: {len(posted) - len(stored)}")
    if visible:
        print(
            f"  in the queue after (POST answered): median {percentile(visible, 50):.0f} ms, "
            f"p95 {percentile(visible, 95):.0f} ms, max {max(visible):.0f} ms (target: every one <= 10 s)"
        )
    if followed:
        print(
            f"  follow-up work done after: median {percentile(followed, 50) / 1000:.1f} s, "
            f"p95 {percentile(followed, 95) / 1000:.1f} s, max {max(followed) / 1000:.1f} s; "
            f"{len(stored) - len(followed)} not yet at {datetime.now():%H:%M:%S}"
        )


def background_job_times() -> None:
    """How long one run of each background job holds a worker on this data (before the load)."""
    from inquiries.services.complaints import sweep_clusters
    from inquiries.services.health import snapshot_missing_days
    from inquiries.services.rollups import refresh_rollups

    jobs = {
        "report rollups, full rebuild": lambda: refresh_rollups(rebuild=True),
        "report rollups, refresh": lambda: refresh_rollups(),
        "cluster sweep": lambda: sweep_clusters(),
        "health backfill, one step": lambda: snapshot_missing_days(
            budget_seconds=settings.CSTRACKER_BACKGROUND_BUDGET_SECONDS
        ),
    }
    for label, job in jobs.items():
        started = time.perf_counter()
        job()
        print(f"  background job: {label:<32} {time.perf_counter() - started:6.1f} s")
    from inquiries.models import HealthSnapshot

    HealthSnapshot.objects.all().delete()  # phase 3 backfills from nothing


def backfill_summary() -> None:
    from inquiries.models import HealthSnapshot

    print(f"  health snapshots written by then: {HealthSnapshot.objects.count()}")
    connection.close()


if __name__ == "__main__":
    main()
