"""Exactly once under concurrency and failure: concurrent sweeps, a Redis outage, a killed worker."""

from __future__ import annotations

import os
import signal
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from django.db import connection
from django.utils import timezone

from cstracker.celery import app
from inquiries import services, tasks
from inquiries.models import EventKind, InquiryEvent, Message, Notification, WebhookDelivery, WebhookEndpoint
from inquiries.services.sweep import sweep
from tests.factories import incoming, policy_with_targets
from tests.integration.helpers import broker, celery_worker, private_redis, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def test_concurrent_sweeps_write_one_event_and_one_notification_per_transition(channel, agent):
    policy_with_targets(first_reply=60, next_reply=None, resolution=None)
    start = timezone.now() - timedelta(minutes=30)
    for index in range(120):
        services.record_message(
            channel=channel,
            incoming=incoming(received_at=start, sender_address=f"b{index}@example.com"),
            now=start,
        )
    barrier = threading.Barrier(4)
    errors: list[BaseException] = []

    def run() -> None:
        try:
            barrier.wait()
            sweep()
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    breached = InquiryEvent.objects.filter(kind=EventKind.CLOCK_BREACHED)
    assert breached.count() == 120
    assert breached.values("clock_id").distinct().count() == 120
    assert InquiryEvent.objects.filter(kind=EventKind.CLOCK_AT_RISK).count() == 120
    # alice is the team's only agent: one notification per transition, none twice.
    assert Notification.objects.filter(user=agent).count() == 240


def test_with_redis_down_messages_are_stored_and_the_next_sweep_catches_up(api, channel, tmp_path: Path):
    with private_redis(tmp_path) as (url, stop, start), broker(app, url):
        stop()
        response = api.post(
            "/api/v1/messages/",
            {
                "channel": channel.slug,
                "external_id": "outage-1",
                "direction": "inbound",
                "sender": {"address": "buyer@example.com"},
                "subject": "Cracked",
                "body_text": "Arrived cracked.",
            },
            format="json",
        )
        assert response.status_code == 201
        message = Message.objects.get(pk=response.json()["message_id"])
        assert message.followed_up_at is None  # the follow-up task could not be queued
        assert api.get(f"/api/v1/inquiries/{message.inquiry_id}/").status_code == 200

        start()
        with celery_worker(
            broker_url=url,
            log_path=tmp_path / "worker.log",
            extra_env={"CSTRACKER_FOLLOWUP_GRACE_SECONDS": "0"},
        ):
            tasks.sweep_clocks.delay()
            caught_up = wait_until(
                lambda: Message.objects.filter(pk=message.pk, followed_up_at__isnull=False).exists(),
                timeout=60,
            )
            log = (tmp_path / "worker.log").read_text(errors="replace")
    assert caught_up, log[-3000:]


def _fresh_redis() -> str:
    """The test Redis, emptied; a skip (or, in CI, a failure) when none answers."""
    from tests.integration.test_worker import _redis_up, _redis_url

    url = _redis_url()
    if not _redis_up(url):
        pytest.skip(f"no Redis at {url}") if not os.environ.get(
            "CSTRACKER_REQUIRE_SERVICES"
        ) else pytest.fail(url)
    import redis

    redis.Redis.from_url(url).flushdb()
    return url


def _slow_receiver() -> ThreadingHTTPServer:
    SlowOnce.seen = []
    SlowOnce.release.clear()
    server = ThreadingHTTPServer(("127.0.0.1", 0), SlowOnce)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


class SlowOnce(BaseHTTPRequestHandler):
    """Holds the first request until the test has killed the worker; accepts the rest."""

    seen: list[str] = []
    release = threading.Event()

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        SlowOnce.seen.append(self.headers["X-Cstracker-Delivery"])
        if len(SlowOnce.seen) == 1:
            SlowOnce.release.wait(timeout=300)
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def test_a_task_in_a_worker_killed_mid_run_is_delivered_again_and_takes_effect_once(channel, tmp_path: Path):
    url = _fresh_redis()
    server = _slow_receiver()
    endpoint = WebhookEndpoint.objects.create(
        name="slow", url=f"http://127.0.0.1:{server.server_port}/", secret="s"
    )
    delivery = WebhookDelivery.objects.create(endpoint=endpoint, dedupe_key="kill-test", payload={"hello": 1})
    env = {"CELERY_VISIBILITY_TIMEOUT": "3", "CELERY_RESTORE_SWEEP_SECONDS": "1"}
    try:
        with broker(app, url):
            first = celery_worker(broker_url=url, log_path=tmp_path / "first.log", extra_env=env)
            worker = first.__enter__()
            try:
                tasks.deliver_webhook.delay(delivery.pk)
                assert wait_until(lambda: len(SlowOnce.seen) == 1, timeout=120), "the task never started"
                os.killpg(worker.pid, signal.SIGKILL)
                worker.wait(timeout=10)
            finally:
                first.__exit__(None, None, None)
            with celery_worker(broker_url=url, log_path=tmp_path / "second.log", extra_env=env):
                delivered = wait_until(
                    lambda: (
                        WebhookDelivery.objects.get(pk=delivery.pk).state == WebhookDelivery.State.DELIVERED
                    ),
                    timeout=90,
                )
                log = (tmp_path / "second.log").read_text(errors="replace")
    finally:
        SlowOnce.release.set()
        server.shutdown()
    assert delivered, log[-3000:]
    assert WebhookDelivery.objects.filter(endpoint=endpoint).count() == 1
    assert set(SlowOnce.seen) == {str(delivery.pk)}  # the receiver can dedupe on the delivery id
    assert len(SlowOnce.seen) == 2


def test_sigterm_stops_a_busy_worker_without_waiting_for_its_task_which_runs_again(channel, tmp_path: Path):
    """With REMAP_SIGTERM=SIGQUIT (the Procfiles), SIGTERM waits the soft-shutdown time for the
    running task, then hands it back to the broker: the worker does not wait for a task that
    would take minutes, and the task takes effect once, on the next worker."""
    url = _fresh_redis()
    server = _slow_receiver()
    endpoint = WebhookEndpoint.objects.create(
        name="slow", url=f"http://127.0.0.1:{server.server_port}/", secret="s"
    )
    delivery = WebhookDelivery.objects.create(endpoint=endpoint, dedupe_key="term-test", payload={"hello": 1})
    env = {
        "REMAP_SIGTERM": "SIGQUIT",
        "CELERY_WORKER_SOFT_SHUTDOWN_SECONDS": "2",
        "CELERY_VISIBILITY_TIMEOUT": "3",
        "CELERY_RESTORE_SWEEP_SECONDS": "1",
    }
    try:
        with broker(app, url):
            first = celery_worker(
                broker_url=url, log_path=tmp_path / "first.log", extra_env=env, pool="prefork"
            )
            worker = first.__enter__()
            try:
                tasks.deliver_webhook.delay(delivery.pk)
                assert wait_until(lambda: len(SlowOnce.seen) == 1, timeout=120), "the task never started"
                worker.send_signal(signal.SIGTERM)
                stopped = wait_until(lambda: worker.poll() is not None, timeout=60)
            finally:
                first.__exit__(None, None, None)
            first_log = (tmp_path / "first.log").read_text(errors="replace")
            assert stopped, first_log[-3000:]  # the held request would have kept it 300 s
            assert "Soft Shutdown" in first_log
            with celery_worker(broker_url=url, log_path=tmp_path / "second.log", extra_env=env):
                delivered = wait_until(
                    lambda: (
                        WebhookDelivery.objects.get(pk=delivery.pk).state == WebhookDelivery.State.DELIVERED
                    ),
                    timeout=90,
                )
                log = (tmp_path / "second.log").read_text(errors="replace")
    finally:
        SlowOnce.release.set()
        server.shutdown()
    assert delivered, log[-3000:]
    assert set(SlowOnce.seen) == {str(delivery.pk)}
