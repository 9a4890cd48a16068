"""Ingestion throughput and memory: mbox, a folder of .eml files, the batch API, start-up.

    DATABASE_URL=postgres://... python bench/ingest.py [--messages 20000] [--runs 3]
    DATABASE_URL=postgres://... python bench/ingest.py --mode folder [--files 2000 20000] [--runs 3]
    DATABASE_URL=postgres://... python bench/ingest.py --mode startup [--runs 5]

mbox (the default): writes a synthetic mbox (70% new conversations, 30% replies threading by
In-Reply-To, one in five with an HTML part), imports it with `manage.py import_mail` in a child
process per run, and posts the same number of messages through POST /api/v1/messages/batch/ in
batches of 1,000. Prints messages per second (median of the runs) and the peak resident
memory of each import child, for the input and for one four times larger: flat memory means
the import streams.

folder: the same messages, each in its own .eml file in one folder, imported the same way
(`import_mail FOLDER`), for each number of files.

startup: `manage.py import_mail ONE.eml` as a whole process per run, as mail delivery would
start it for each message: the wall time from start to exit (median of the runs).

Everything runs in a throwaway database; the child processes publish no Celery tasks (the
start-up runs publish theirs to a throwaway filesystem broker).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import TYPE_CHECKING

from _setup import REPO, database_url, describe_database, median, no_broker, run_child, throwaway_database

if TYPE_CHECKING:  # Django is set up by _setup, so the models are imported where used
    from inquiries.models import Account


def messages(count: int, *, seed: int, prefix: str) -> Iterator[tuple[str, bytes]]:
    """(envelope sender, message) for `count` synthetic messages, in sending order."""
    rng = random.Random(seed)
    sent: list[tuple[str, str]] = []
    for n in range(count):
        message_id = f"{prefix}-{n}@bench.example"
        reply_to = rng.choice(sent) if sent and rng.random() < 0.3 else None
        sender = reply_to[1] if reply_to else f"buyer{rng.randrange(count)}@example.com"
        order = f"{rng.randrange(100, 999)}-{rng.randrange(10**6, 10**7)}-{rng.randrange(10**6, 10**7)}"
        headers = [
            f"Received: from mx.example.net by mail.shop.example; Mon, 2 Mar 2026 "
            f"{n // 3600 % 24:02d}:{n // 60 % 60:02d}:{n % 60:02d} +0000",
            f"From: Buyer {n} <{sender}>",
            "To: help@shop.example",
            f"Subject: {'Re: ' if reply_to else ''}Order {order} arrived damaged",
            f"Message-ID: <{message_id}>",
            "Date: Mon, 2 Mar 2026 10:00:00 +0000",
        ]
        if reply_to:
            headers.append(f"In-Reply-To: <{reply_to[0]}>")
        body = ("Hello, the parcel arrived today and the item inside is cracked. " * 8).strip()
        if n % 5 == 0:
            headers += ["MIME-Version: 1.0", 'Content-Type: multipart/alternative; boundary="b"', ""]
            lines = [
                "--b",
                "Content-Type: text/plain; charset=utf-8",
                "",
                body,
                "--b",
                "Content-Type: text/html; charset=utf-8",
                "",
                f"<p>{body}</p><script>x()</script>",
                "--b--",
            ]
        else:
            headers += ["Content-Type: text/plain; charset=utf-8", ""]
            lines = [body]
        yield sender, ("\n".join(headers + lines) + "\n").encode()
        sent.append((message_id, sender))


def write_mbox(path: Path, count: int, *, seed: int, prefix: str) -> None:
    with path.open("wb") as out:
        for sender, message in messages(count, seed=seed, prefix=prefix):
            out.write(f"From {sender} Mon Mar  2 10:00:00 2026\n".encode() + message + b"\n")


def write_folder(path: Path, count: int, *, seed: int, prefix: str) -> None:
    """One .eml file per message; the names sort in sending order (replies after what they answer)."""
    path.mkdir()
    for n, (_, message) in enumerate(messages(count, seed=seed, prefix=prefix)):
        (path / f"{n:06d}.eml").write_bytes(message)


class ServerCpu(threading.Thread):
    """CPU seconds of the PostgreSQL backends serving this database, while it runs.

    Read from /proc (the server on this machine), polled: a backend's last moments before it
    exits are missed (at most one interval each). None when the server is elsewhere or not
    PostgreSQL.
    """

    INTERVAL = 0.05

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.seen: dict[int, float] = {}
        self.stopping = threading.Event()

    def run(self) -> None:
        from django.db import connection

        with connection.cursor() as cursor:
            while not self.stopping.wait(self.INTERVAL):
                cursor.execute(
                    "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                    "AND pid <> pg_backend_pid()"
                )
                for (pid,) in cursor.fetchall():
                    with contextlib.suppress(OSError, ValueError, IndexError):
                        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                        self.seen[pid] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        connection.close()

    def seconds(self) -> float | None:
        self.stopping.set()
        self.join()
        return sum(self.seen.values()) if self.seen else None


def child_import(path: str, channel: str) -> None:
    """Run in a child process: import one mbox or folder, print its time, CPU and peak memory as JSON."""
    from django.core.management import call_command
    from django.db import connection

    def cpu(who: int) -> float:
        # RUSAGE_SELF: this process's threads; RUSAGE_CHILDREN: the parser process (counted
        # once it has exited).
        usage = resource.getrusage(who)
        return usage.ru_utime + usage.ru_stime

    server = ServerCpu() if connection.vendor == "postgresql" and Path("/proc/self/stat").exists() else None
    if server:
        server.start()
    started = time.perf_counter()
    self_started, children_started = cpu(resource.RUSAGE_SELF), cpu(resource.RUSAGE_CHILDREN)
    call_command("import_mail", path, "--channel", channel, stdout=open(os.devnull, "w"))  # noqa: SIM115
    elapsed = time.perf_counter() - started
    parser_cpu = cpu(resource.RUSAGE_CHILDREN) - children_started
    importer_cpu = cpu(resource.RUSAGE_SELF) - self_started + parser_cpu
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    server_cpu = server.seconds() if server else None
    print(
        json.dumps(
            {
                "seconds": elapsed,
                "cpu_seconds": importer_cpu,
                "parser_cpu_seconds": parser_cpu,
                "server_cpu_seconds": server_cpu,
                "peak_mb": peak_mb,
            }
        )
    )


def cpu_per_message(result: dict, count: int) -> str:
    """The importer's CPU (and the database server's, where measured) per message, in ms."""
    ms = {name: (result.get(name) or 0) / count * 1000 for name in ("cpu_seconds", "parser_cpu_seconds")}
    text = (
        f"CPU {ms['cpu_seconds']:.2f} ms/message, of which the parser process {ms['parser_cpu_seconds']:.2f}"
    )
    if result.get("server_cpu_seconds") is not None:
        text += f" + PostgreSQL {result['server_cpu_seconds'] / count * 1000:.2f} ms"
    return text


def run_import(path: Path, channel: str) -> dict:
    return run_child(__file__, "--child", str(path), "--channel", channel, CSTRACKER_BENCH_CHILD="1")


def bench_api(count: int, channel: str, token: str, *, seed: int = 7) -> float:
    from rest_framework.test import APIClient

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    rng = random.Random(seed)  # a new seed per run: new customers, as in the mbox runs
    started = time.perf_counter()
    for start in range(0, count, 1000):
        items = []
        for n in range(start, min(count, start + 1000)):
            items.append(
                {
                    "channel": channel,
                    "external_id": f"api-{channel}-{n}",
                    "direction": "inbound",
                    "sender": {"address": f"api{seed}-{rng.randrange(count)}@example.com", "name": "Buyer"},
                    "subject": "Order arrived damaged",
                    "body_text": "The item inside is cracked. " * 8,
                    "received_at": "2026-03-02T10:00:00+00:00",
                }
            )
        response = client.post("/api/v1/messages/batch/", {"messages": items}, format="json")
        assert response.status_code == 200, response.content[:500]
    return count / (time.perf_counter() - started)


def bench_mbox(args: argparse.Namespace, account: Account, token: str, tmp: Path) -> None:
    from inquiries.models import Channel

    rates, peaks = [], []
    for run in range(args.runs):
        channel = Channel.objects.create(account=account, slug=f"mbox-{run}", name="mbox")
        path = tmp / f"run{run}.mbox"
        write_mbox(path, args.messages, seed=run, prefix=f"r{run}")
        result = run_import(path, channel.slug)
        rates.append(args.messages / result["seconds"])
        peaks.append(result["peak_mb"])
        print(
            f"  mbox run {run + 1}: {rates[-1]:,.0f} messages/s, importer CPU {result['cpu_seconds']:.1f} s "
            f"({cpu_per_message(result, args.messages)}), peak RSS {result['peak_mb']:.0f} MB "
            f"({path.stat().st_size / 1e6:.0f} MB mbox)",
            flush=True,
        )
    big = tmp / "big.mbox"
    write_mbox(big, args.messages * 4, seed=99, prefix="big")
    channel = Channel.objects.create(account=account, slug="mbox-big", name="mbox")
    big_result = run_import(big, channel.slug)
    api_rates = []
    for run in range(args.runs):
        channel = Channel.objects.create(account=account, slug=f"api-{run}", name="api")
        api_rates.append(bench_api(args.messages, channel.slug, token, seed=run))
        print(f"  batch API run {run + 1}: {api_rates[-1]:,.0f} messages/s", flush=True)
    print(
        f"mbox import: median {median(rates):,.0f} messages/s (target >= 1,500); peak RSS median "
        f"{median(peaks):.0f} MB at {args.messages:,} messages, {big_result['peak_mb']:.0f} MB at "
        f"{args.messages * 4:,} ({big.stat().st_size / 1e6:.0f} MB mbox, "
        f"{args.messages * 4 / big_result['seconds']:,.0f} messages/s)"
    )
    print(f"batch API: median {median(api_rates):,.0f} messages/s (target >= 1,000)")


def bench_folder(args: argparse.Namespace, account: Account, tmp: Path) -> None:
    from inquiries.models import Channel

    summary = []
    for count in args.files:
        rates, peaks, cpus = [], [], []
        for run in range(args.runs):
            channel = Channel.objects.create(account=account, slug=f"folder-{count}-{run}", name="folder")
            folder = tmp / f"folder-{count}-{run}"
            # A seed of its own per folder: the same seed would repeat the order numbers, and
            # messages about orders already on file are recorded one by one (another measure).
            write_folder(folder, count, seed=count + run, prefix=f"f{count}-{run}")
            result = run_import(folder, channel.slug)
            shutil.rmtree(folder)
            rates.append(count / result["seconds"])
            peaks.append(result["peak_mb"])
            cpus.append(result["cpu_seconds"] + (result["server_cpu_seconds"] or 0))
            print(
                f"  folder of {count:,} files, run {run + 1}: {rates[-1]:,.0f} messages/s, "
                f"importer CPU {result['cpu_seconds']:.1f} s ({cpu_per_message(result, count)}), "
                f"peak RSS {result['peak_mb']:.0f} MB",
                flush=True,
            )
        summary.append(
            f"{median(rates):,.0f} messages/s at {count:,} files (CPU {median(cpus) / count * 1000:.2f} ms/message "
            f"in all, peak RSS {median(peaks):.0f} MB)"
        )
    print(f"folder import: median {'; '.join(summary)} (target >= 1,000 at 20,000 on PostgreSQL)")


def bench_startup(args: argparse.Namespace, account: Account, tmp: Path) -> None:
    """`manage.py import_mail ONE.eml` as a whole process, the way mail delivery starts it."""
    from inquiries.models import Channel

    channel = Channel.objects.create(account=account, slug="startup", name="startup")
    # The import publishes its follow-up task after commit: to a broker folder of its own.
    env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "CELERY_BROKER_URL": "filesystem://",
        "CELERY_FS_BROKER_DIR": str(tmp / "broker"),
    }
    walls = []
    for run in range(args.runs):
        path = tmp / f"startup-{run}.eml"
        path.write_bytes(next(messages(1, seed=run, prefix=f"startup-{run}"))[1])
        started = time.perf_counter()
        subprocess.run(
            [sys.executable, "manage.py", "import_mail", str(path), "--channel", channel.slug],
            env=env,
            cwd=REPO,
            check=True,
            capture_output=True,
        )
        walls.append(time.perf_counter() - started)
        print(f"  run {run + 1}: {walls[-1]:.2f} s", flush=True)
    print(
        f"import_mail of one .eml: median {median(walls):.2f} s from start to exit "
        f"(min {min(walls):.2f}, max {max(walls):.2f}; load average {os.getloadavg()[0]:.2f}; target < 1.5 s)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--mode", choices=("mbox", "folder", "startup"), default="mbox")
    parser.add_argument("--messages", type=int, default=20_000, help="mbox mode: messages per run")
    parser.add_argument(
        "--files", type=int, nargs="+", default=[2_000, 20_000], help="folder mode: files per folder"
    )
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--channel", help=argparse.SUPPRESS)
    args = parser.parse_args()
    no_broker()  # the database work is measured; after-commit tasks are not published
    if args.child:
        child_import(args.child, args.channel)
        return

    from django.contrib.auth import get_user_model
    from rest_framework.authtoken.models import Token

    from inquiries.models import Account, Marketplace, Membership, Team
    from tests.factories import policy_with_targets

    with throwaway_database(), TemporaryDirectory() as tmp:
        per_run = f"{args.messages:,} messages per run" if args.mode == "mbox" else args.mode
        print(f"{describe_database()}; {per_run}, {args.runs} runs; load average {os.getloadavg()[0]:.2f}")
        account = Account.objects.create(name="Bench", marketplace=Marketplace.AMAZON)
        team = Team.objects.create(name="Bench")
        team.accounts.add(account)
        user = get_user_model().objects.create_user("bench", password="bench")
        Membership.objects.create(team=team, user=user)
        token = Token.objects.create(user=user).key
        policy_with_targets()
        if args.mode == "mbox":
            bench_mbox(args, account, token, Path(tmp))
        elif args.mode == "folder":
            bench_folder(args, account, Path(tmp))
        else:
            bench_startup(args, account, Path(tmp))


if __name__ == "__main__":
    main()
