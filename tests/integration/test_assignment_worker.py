"""Automatic assignment on arrival, run by a real Celery worker on Redis after commit."""

from __future__ import annotations

from pathlib import Path

import pytest

from inquiries import models as m
from tests.integration.helpers import celery_worker, wait_until
from tests.integration.test_worker import redis_broker  # noqa: F401  (a fixture)

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def test_a_worker_assigns_an_arrival_to_the_rota_after_commit(
    api,
    channel,
    team,
    agent,
    redis_broker: str,  # noqa: F811
    tmp_path: Path,
):
    rota = m.Rota.objects.create(team=team, mode=m.AssignmentMode.ROUND_ROBIN)
    m.RotaMember.objects.create(rota=rota, user=agent)
    with celery_worker(broker_url=redis_broker, log_path=tmp_path / "worker.log"):
        response = api.post(
            "/api/v1/messages/",
            {
                "channel": channel.slug,
                "external_id": "rota-1",
                "direction": "inbound",
                "sender": {"address": "buyer@example.com"},
                "subject": "Where is my parcel?",
                "body_text": "It has not arrived.",
            },
            format="json",
        )
        assert response.status_code == 201
        inquiry_id = response.json()["inquiry_id"]
        done = wait_until(
            lambda: m.Inquiry.objects.filter(pk=inquiry_id, assignee=agent).exists(), timeout=60
        )
        log = (tmp_path / "worker.log").read_text(errors="replace")
    assert done, f"the worker never assigned the arrival:\n{log[-3000:]}"
    event = m.InquiryEvent.objects.get(inquiry_id=inquiry_id, kind=m.EventKind.ASSIGNED)
    assert event.data["reason"] == "arrival"
