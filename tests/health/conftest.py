"""Helpers for the health tests: messages and replies recorded through the one write path."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import count

import pytest
import time_machine
from django.test import Client

from inquiries import models as m
from inquiries import services
from inquiries.ingestion.types import Direction, IncomingMessage
from inquiries.services import RecordResult
from tests import factories
from tests.ui.conftest import browser_context_args  # noqa: F401  (a 1440 x 900 page in UTC, for the browser test)

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
_ids = count(1)


@pytest.fixture
def amazon(account: m.Account, channel: m.Channel) -> m.Account:
    """Team A's shop, selling on Amazon (24 h calendar-time reply rule)."""
    account.marketplace = m.Marketplace.AMAZON
    account.save()
    return account


def ask(
    channel: m.Channel,
    at: datetime,
    *,
    sender: str | None = None,
    now: datetime = NOW,
    **fields: object,
) -> m.Message:
    """A customer message received at `at` (a new inquiry unless `thread_id` joins one)."""
    fields.setdefault("subject", "Question about my parcel")
    fields.setdefault("body_text", "Hello, a question.")
    incoming = factories.incoming(
        received_at=at, sender_address=sender or f"buyer{next(_ids)}@example.com", **fields
    )
    result = services.record_message(channel=channel, incoming=incoming, now=max(now, at))
    assert isinstance(result, RecordResult)
    return result.message


def answer(message: m.Message, at: datetime, *, now: datetime | None = None) -> m.Message:
    """A public reply by a person at `at` in the message's inquiry."""
    incoming = IncomingMessage(
        external_id=f"reply-{next(_ids)}",
        direction=Direction.OUTBOUND,
        sender_address="support@shop.example",
        body_text="Thanks, sorted.",
        received_at=at,
        in_reply_to=message.external_id,
    )
    channel = m.Channel.objects.get(pk=message.channel_id)
    result = services.record_message(channel=channel, incoming=incoming, now=max(now or NOW, at))
    assert isinstance(result, RecordResult)
    return result.message


def hours(n: float) -> timedelta:
    return timedelta(hours=n)


def days(n: float) -> timedelta:
    return timedelta(days=n)


@pytest.fixture
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield NOW


def client_for(user: object) -> Client:
    client = Client()
    client.force_login(user)  # type: ignore[arg-type]
    return client


def amazon_odr(
    account: m.Account, channel: str, defects: int, orders: int, *, ended: datetime, reported: datetime
) -> m.MarketplaceMetric:
    """Amazon's Order Defect Rate of one fulfilment channel ("mfn" or "afn") over the 60 days
    ending at `ended`, stored as the seller performance report's import stores it."""
    return m.MarketplaceMetric.objects.create(
        account=account,
        metric={"mfn": "order_defect_rate", "afn": "order_defect_rate_afn"}[channel],
        value=defects / orders if orders else 0.0,
        status="GOOD",
        numerator=defects,
        denominator=orders,
        window_start=ended - timedelta(days=60),
        window_end=ended,
        reported_at=reported,
        source="GET_V2_SELLER_PERFORMANCE_REPORT",
    )
