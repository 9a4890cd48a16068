"""A real Celery worker, in its own process, runs work queued after commit."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from cstracker.celery import app
from inquiries.models import Message
from tests.integration.helpers import broker, celery_worker, require, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def _redis_url() -> str:
    import os

    return os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/15")


def _redis_up(url: str) -> bool:
    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=1).ping())
    except redis.RedisError:
        return False


@pytest.fixture
def redis_broker() -> Iterator[str]:
    url = _redis_url()
    require(_redis_up(url), f"no Redis at {url}")
    redis.Redis.from_url(url).flushdb()
    with broker(app, url):
        yield url


def test_a_worker_on_redis_runs_the_follow_up_queued_after_commit(
    api, channel, redis_broker: str, tmp_path: Path
):
    with celery_worker(broker_url=redis_broker, log_path=tmp_path / "worker.log"):
        response = api.post(
            "/api/v1/messages/",
            {
                "channel": channel.slug,
                "external_id": "worker-1",
                "direction": "inbound",
                "sender": {"address": "buyer@example.com"},
                "subject": "Broken",
                "body_text": "It arrived broken.",
            },
            format="json",
        )
        assert response.status_code == 201
        message_id = response.json()["message_id"]
        done = wait_until(
            lambda: Message.objects.filter(pk=message_id, followed_up_at__isnull=False).exists(), timeout=60
        )
        log = (tmp_path / "worker.log").read_text(errors="replace")
    assert done, f"the worker never ran the follow-up:\n{log[-3000:]}"
    assert "inquiries.tasks.after_customer_message" in log
