"""The rescue list as a queue filter: the queue shows the inquiries whose answer saves a metric."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from inquiries import services
from inquiries.models import Marketplace
from tests.factories import delivered_reply, incoming

pytestmark = pytest.mark.django_db


def test_the_rescue_filter_lists_messages_about_to_turn_the_late_rate(client, channel, agent):
    account = channel.account
    account.marketplace = Marketplace.AMAZON
    account.save()
    now = timezone.now()
    urgent = services.record_message(
        channel=channel,
        incoming=incoming(received_at=now - timedelta(hours=20), subject="About to be late"),
        now=now,
    ).message.inquiry
    answered = services.record_message(
        channel=channel,
        incoming=incoming(
            received_at=now - timedelta(hours=30),
            subject="Answered long ago",
            sender_address="other@example.com",
        ),
        now=now,
    ).message.inquiry
    delivered_reply(inquiry=answered, author=agent, body_text="Done", at=now - timedelta(hours=29))
    client.force_login(agent)
    page = client.get("/", {"clock": "rescue"}).content.decode()
    assert "About to be late" in page
    assert "Answered long ago" not in page
    assert urgent.pk
