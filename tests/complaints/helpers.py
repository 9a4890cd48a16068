"""Ingesting complaints through the one write path, with the after-commit follow-up run."""

from __future__ import annotations

from datetime import UTC, datetime

from django.test import TestCase

from inquiries import models as m
from inquiries.services import record_message
from tests.factories import incoming

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
QUALITY_TEXT = "The kettle is defective and stopped working after one day."


def ingest(
    channel: m.Channel,
    *,
    at: datetime = T0,
    sku: str = "",
    customer: str = "buyer@example.com",
    subject: str = "Problem with my order",
    body: str = QUALITY_TEXT,
    **fields: object,
) -> m.Message:
    """Record a customer message as if it arrived live at `at`, then run its follow-up
    (cluster update) as the after-commit task would."""
    with TestCase.captureOnCommitCallbacks(execute=True):
        result = record_message(
            channel=channel,
            incoming=incoming(received_at=at, sku=sku, sender_address=customer, subject=subject, body_text=body, **fields),
            now=at,
        )
    return result.message
