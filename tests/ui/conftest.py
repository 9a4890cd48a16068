"""Helpers for the agent pages' tests (the Chromium launch fixture is in tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
import time_machine
from django.utils import timezone

from inquiries import models as m
from inquiries import services
from inquiries.services import RecordResult
from tests import factories


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args: dict) -> dict:
    return {**browser_context_args, "viewport": {"width": 1440, "height": 900}, "timezone_id": "UTC"}


@pytest.fixture
def policy(db: None) -> m.SlaPolicy:
    """First reply in 1 h, next reply in 2 h, resolution in 24 h, around the clock."""
    return factories.policy_with_targets(first_reply=3600, next_reply=7200, resolution=86400)


@pytest.fixture
def frozen_now() -> Iterator[datetime]:
    """The current instant, held still so that countdown labels are exact."""
    now = timezone.now().replace(microsecond=0)
    with time_machine.travel(now, tick=False):
        yield now


def inbound(
    channel: m.Channel,
    *,
    ago: timedelta = timedelta(minutes=10),
    now: datetime | None = None,
    **fields: object,
) -> m.Inquiry:
    """A customer message recorded through the one write path; returns its inquiry."""
    now = now or timezone.now()
    fields.setdefault("received_at", now - ago)
    # Neutral words, so that the topic rules leave the inquiry without a topic.
    fields.setdefault("subject", "Hello")
    fields.setdefault("body_text", "Hi there")
    result = services.record_message(channel=channel, incoming=factories.incoming(**fields), now=now)
    assert isinstance(result, RecordResult) and result.inquiry_id is not None
    return m.Inquiry.objects.get(pk=result.inquiry_id)
