"""Ctrl-C on bin/start: honcho runs Procfile.dev, and every process stops cleanly (issue 23)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
from pathlib import Path

import pytest

from tests.integration.helpers import REPO, database_url_for_subprocess, free_port, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

STARTED = (b"celery@", b" ready.", b"beat: Starting", b"Listening at: http://127.0.0.1:")


def test_ctrl_c_stops_web_worker_and_beat_without_a_kill(tmp_path: Path) -> None:
    env = {
        **os.environ,
        # As bin/start runs it: the embedded broker that needs no server, in a folder of its own.
        "CELERY_BROKER_URL": "filesystem://",
        "CELERY_FS_BROKER_DIR": str(tmp_path / "broker"),
        "CSTRACKER_VAR_DIR": str(tmp_path),
        "DATABASE_URL": database_url_for_subprocess(),
        "DEBUG": "true",
        "PORT": str(free_port()),
    }
    log_path = tmp_path / "honcho.log"
    with log_path.open("wb") as log:
        # The terminal's Ctrl-C reaches honcho's whole process group: start it in a group of its own.
        honcho = subprocess.Popen(
            [str(REPO / ".venv/bin/honcho"), "-f", "Procfile.dev", "start"],
            cwd=REPO,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        started = wait_until(lambda: all(s in log_path.read_bytes() for s in STARTED), timeout=90)
        assert started, log_path.read_text(errors="replace")[-4000:]
        os.killpg(honcho.pid, signal.SIGINT)
        returncode = honcho.wait(timeout=30)
    finally:
        if honcho.poll() is None:
            os.killpg(honcho.pid, signal.SIGKILL)
            honcho.wait()
    output = log_path.read_text(errors="replace")
    assert returncode == 130, output[-4000:]  # honcho's exit status after SIGINT
    assert "SIGKILL" not in output, output[-4000:]
    assert "worker: Warm shutdown (MainProcess)" in output
    assert "Cold shutdown" not in output
    assert "Shutting down: Master" in output  # gunicorn's graceful stop
    for name in ("web", "worker", "beat"):
        assert f"{name}.1 stopped (rc=0)" in output, output[-4000:]


def _program(pid: int) -> str:
    """The file name of the program a process runs (Linux /proc), python scripts by their script."""
    command = [part.decode() for part in (Path("/proc") / str(pid) / "cmdline").read_bytes().split(b"\0")]
    if Path(command[0]).name.startswith("python") and len(command) > 1:
        return Path(command[1]).name
    return Path(command[0]).name


def test_the_production_procfile_runs_each_program_with_no_shell_in_front(tmp_path: Path) -> None:
    """honcho (like foreman and most process managers) runs each line with /bin/sh -c; Debian's
    dash keeps itself as the parent unless the line execs, and then a stop signal reaches the
    shell instead of gunicorn or Celery. Each line of `Procfile` must exec its program."""
    env = {
        **os.environ,
        "PATH": f"{REPO / '.venv/bin'}:{os.environ.get('PATH', '/usr/bin:/bin')}",
        "CELERY_BROKER_URL": "filesystem://",
        "CELERY_FS_BROKER_DIR": str(tmp_path / "broker"),
        "CSTRACKER_VAR_DIR": str(tmp_path),
        "DATABASE_URL": database_url_for_subprocess(),
        "DEBUG": "true",
        "PORT": str(free_port()),
        "WEB_CONCURRENCY": "1",
    }
    log_path = tmp_path / "honcho.log"
    started_lines = (b"celery@", b" ready.", b"beat: Starting", b"Listening at: http://0.0.0.0:")
    with log_path.open("wb") as log:
        honcho = subprocess.Popen(
            [str(REPO / ".venv/bin/honcho"), "-f", "Procfile", "start"],
            cwd=REPO,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        started = wait_until(lambda: all(s in log_path.read_bytes() for s in started_lines), timeout=90)
        assert started, log_path.read_text(errors="replace")[-4000:]
        # honcho logs the id of the process it started for each line: the shell, or what it exec'd.
        pids = re.findall(r"\| \w+\.1 started \(pid=(\d+)\)", log_path.read_text(errors="replace"))
        programs = sorted(_program(int(pid)) for pid in pids)
        os.killpg(honcho.pid, signal.SIGTERM)  # what a process manager sends to stop the stack
        honcho.wait(timeout=30)
    finally:
        if honcho.poll() is None:
            os.killpg(honcho.pid, signal.SIGKILL)
            honcho.wait()
    output = log_path.read_text(errors="replace")
    assert programs == ["celery", "celery", "gunicorn"], programs
    assert "Shutting down: Master" in output  # gunicorn's graceful stop
    # SIGTERM reached Celery itself and was remapped (REMAP_SIGTERM=SIGQUIT): the worker's stop
    # then takes the soft-shutdown time, which honcho's 5 s may cut short; a production
    # manager's stop timeout must exceed CELERY_WORKER_SOFT_SHUTDOWN_SECONDS (README).
    assert "worker: Cold shutdown (MainProcess)" in output, output[-4000:]
    for name in ("web", "beat"):
        assert f"{name}.1 stopped (rc=0)" in output, output[-4000:]
