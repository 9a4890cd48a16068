"""A real Celery worker on Redis offers a reply written through the write API to the channel's
integration: a signed `reply.created` POST to a real local HTTP server."""

from __future__ import annotations

import hashlib
import hmac
import json
from pathlib import Path

import pytest

from inquiries import models as m
from inquiries import services
from tests.api.test_outbox import Receiver
from tests.factories import incoming
from tests.integration.helpers import celery_worker, wait_until
from tests.integration.test_worker import redis_broker  # noqa: F401  (fixture)

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

SECRET = "integration-secret"


def test_a_worker_offers_a_reply_written_through_the_api_as_a_signed_webhook(
    api,
    channel,
    redis_broker: str,  # noqa: F811
    tmp_path: Path,
):
    recorded = services.record_message(channel=channel, incoming=incoming())
    assert isinstance(recorded, services.RecordResult) and recorded.message.inquiry is not None
    inquiry = recorded.message.inquiry
    log_path = tmp_path / "worker.log"
    with (
        Receiver() as receiver,
        celery_worker(broker_url=redis_broker, log_path=log_path, extra_env={"OUTBOX_TEST_SECRET": SECRET}),
    ):
        m.ReplyWebhook.objects.create(channel=channel, url=receiver.url, secret_env="OUTBOX_TEST_SECRET")
        # The customer message's follow-up (queued before the worker started) runs first: an
        # agent's reply racing it can deadlock on PostgreSQL (seen once; noted for the lead).
        assert wait_until(
            lambda: m.Message.objects.filter(inquiry=inquiry, followed_up_at__isnull=False).exists(),
            timeout=60,
        )
        response = api.post(
            f"/api/v1/inquiries/{inquiry.pk}/reply/",
            {"body_text": "A new lid is on its way."},
            format="json",
            headers={"Idempotency-Key": "worker-reply-1"},
        )
        assert response.status_code == 201, response.json()
        reply_id = response.json()["id"]
        offered = wait_until(
            lambda: m.OutboxOffer.objects.filter(
                message_id=reply_id, state=m.OutboxOffer.State.OFFERED
            ).exists(),
            timeout=60,
        )
        log = log_path.read_text(errors="replace")
    assert offered, f"the worker never offered the reply:\n{log[-3000:]}"
    assert "inquiries.tasks.offer_reply" in log
    headers, body = receiver.requests[0]
    timestamp = headers["x-cstracker-timestamp"]
    expected = hmac.new(SECRET.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    assert headers["x-cstracker-signature"] == f"t={timestamp},v1={expected}"
    assert json.loads(body)["reply"]["id"] == reply_id
    assert m.Message.objects.get(pk=reply_id).delivery_state == m.Message.DeliveryState.QUEUED
