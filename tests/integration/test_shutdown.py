"""Ctrl-C on bin/start: honcho runs Procfile.dev, and every process stops cleanly (issue 23)."""

from __future__ import annotations

import os
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
