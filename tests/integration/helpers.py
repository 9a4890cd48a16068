"""Starting real processes (a Celery worker, a private redis-server) for integration tests."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

REPO = Path(__file__).resolve().parents[2]


def require(condition: bool, reason: str) -> None:
    """Skip on a developer machine without the service; fail in CI, where it must be there."""
    if condition:
        return
    if os.environ.get("CSTRACKER_REQUIRE_SERVICES"):
        pytest.fail(reason)
    pytest.skip(reason)


def database_url_for_subprocess() -> str:
    """The URL of the *test* database this test run uses, for a worker in another process."""
    params = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{params['NAME']}"
    user = params.get("USER") or "postgres"
    host = params.get("HOST") or "127.0.0.1"
    port = params.get("PORT") or 5432
    return f"postgres://{user}@{host}:{port}/{params['NAME']}"


def wait_until(predicate: Callable[[], bool], *, timeout: float = 30.0, interval: float = 0.2) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def celery_worker(
    *, broker_url: str, log_path: Path, extra_env: dict[str, str] | None = None, pool: str = "solo"
) -> Iterator[subprocess.Popen]:
    env = {
        **os.environ,
        "DATABASE_URL": database_url_for_subprocess(),
        "CELERY_BROKER_URL": broker_url,
        "CELERY_TASK_ALWAYS_EAGER": "false",
        "DEBUG": "true",
        # The tests' receivers listen on loopback, which the outbound policy refuses by default.
        "CSTRACKER_OUTBOUND_ALLOW": "127.0.0.0/8,::1",
        "CSTRACKER_WEBHOOK_ALLOW_HTTP": "true",
        **(extra_env or {}),
    }
    command = [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "cstracker",
        "worker",
        "--loglevel=INFO",
        f"--pool={pool}",
        "--concurrency=1",
        "--without-gossip",
        "--without-mingle",
        "-n",
        f"test{os.getpid()}@%h",
    ]
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            ready = wait_until(
                lambda: b"ready." in log_path.read_bytes() or process.poll() is not None, timeout=60
            )
            if not ready or process.poll() is not None:
                raise RuntimeError(f"worker did not start:\n{log_path.read_text(errors='replace')[-3000:]}")
            yield process
        finally:
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()


@contextmanager
def private_redis(tmp_path: Path) -> Iterator[tuple[str, Callable[[], None], Callable[[], None]]]:
    """A redis-server of this test's own on a free port: (url, stop, start)."""
    binary = shutil.which("redis-server")
    require(binary is not None, "redis-server is not installed")
    port = free_port()
    state: dict[str, subprocess.Popen | None] = {"process": None}

    def start() -> None:
        state["process"] = subprocess.Popen(
            [
                binary,
                "--port",
                str(port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(tmp_path),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

        def up() -> bool:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    return True
            except OSError:
                return False

        assert wait_until(up, timeout=15), "private redis-server did not start"

    def stop() -> None:
        process = state["process"]
        if process is not None and process.poll() is None:
            process.terminate()
            process.wait(timeout=10)
        state["process"] = None

    start()
    try:
        yield f"redis://127.0.0.1:{port}/0", stop, start
    finally:
        stop()


def configured_broker() -> str:
    return settings.CELERY_BROKER_URL


def reset_producer_pool(app: object) -> None:
    """Forget cached broker connections so a changed broker_url takes effect in this process."""
    app._pool = None  # type: ignore[attr-defined]
    amqp = app.__dict__.get("amqp")
    if amqp is not None:
        amqp._producer_pool = None


@contextmanager
def broker(app: object, url: str) -> Iterator[None]:
    """Point this process's Celery app at `url` and publish for real (not eagerly)."""
    conf = app.conf  # type: ignore[attr-defined]
    saved = (conf.broker_url, conf.broker_transport_options, conf.task_always_eager)
    # Celery reads the CELERY_BROKER_URL environment variable *before* conf.broker_url (CI
    # sets it), so the variable has to point at `url` too or tasks go to the other broker.
    saved_env = os.environ.get("CELERY_BROKER_URL")
    os.environ["CELERY_BROKER_URL"] = url
    conf.broker_url, conf.broker_transport_options, conf.task_always_eager = url, {}, False
    reset_producer_pool(app)
    try:
        assert conf.broker_write_url == url, conf.broker_write_url
        yield
    finally:
        conf.broker_url, conf.broker_transport_options, conf.task_always_eager = saved
        if saved_env is None:
            os.environ.pop("CELERY_BROKER_URL", None)
        else:
            os.environ["CELERY_BROKER_URL"] = saved_env
        reset_producer_pool(app)
