"""The periodic topic learning, run by a real Celery worker on Redis (issue 22, point 3)."""

from __future__ import annotations

from pathlib import Path

import pytest

from inquiries import models as m
from inquiries import tasks
from tests.complaints.conftest import topics  # noqa: F401  (a fixture)
from tests.complaints.test_learning import _label
from tests.integration.helpers import celery_worker, wait_until
from tests.integration.test_worker import redis_broker  # noqa: F401  (a fixture)

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def test_a_worker_trains_and_keeps_the_accounts_model(
    channel,
    topics,  # noqa: F811
    agent,
    redis_broker: str,  # noqa: F811
    tmp_path: Path,
):
    _label(channel, agent, topics)  # 64 labels, two topics
    with celery_worker(broker_url=redis_broker, log_path=tmp_path / "worker.log"):
        tasks.train_topic_model.delay()
        log_path = tmp_path / "worker.log"
        # The model's row commits before the task logs its summary: wait for both.
        done = wait_until(
            lambda: (
                m.TopicModel.objects.filter(account=channel.account).exists()
                and "v1 kept" in log_path.read_text(errors="replace")
            ),
            timeout=180,
        )
        log = log_path.read_text(errors="replace")
    assert done, f"the worker never trained the model:\n{log[-3000:]}"
    model = m.TopicModel.objects.get()
    assert (model.outcome, model.is_active) == ("kept", True)
    assert "v1 kept" in log
