"""Ingesting complaints through the one write path, with the after-commit follow-up run."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime

from django.contrib.auth.models import User
from django.test import TestCase

from inquiries import models as m
from inquiries.services import RecordResult, record_message
from tests.factories import incoming

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
QUALITY_TEXT = "The kettle is defective and stopped working after one day."
# Different wordings of quality complaints (the rules file each under "quality"), so that a
# burst of them is a burst and not also a near-identical-text cluster.
QUALITY_TEXTS = (
    QUALITY_TEXT,
    "Mine won't turn on at all, really poor quality.",
    "Switch broke after a week, cheaply made.",
    "It leaks from the bottom every time I boil water.",
    "Faulty thermostat, the water never boils.",
    "Handle fell apart on the second use.",
    "Dead on arrival, no light, nothing happens.",
    "The lid hinge is defective and will not close anymore.",
    "After three days it quit working completely.",
    "Bad quality plastic smell and the base malfunctions.",
    "Power cable is faulty, sparks when plugged in.",
    "Does not work, the button is stuck inside.",
)
_texts = itertools.cycle(QUALITY_TEXTS)


def quality_text() -> str:
    """The next of the quality wordings; twelve calls in a row never repeat one."""
    return next(_texts)


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
            incoming=incoming(
                received_at=at, sku=sku, sender_address=customer, subject=subject, body_text=body, **fields
            ),
            now=at,
        )
    assert isinstance(result, RecordResult)
    return result.message


_cluster_numbers = itertools.count(1)


def make_cluster(
    channel: m.Channel,
    topic: m.Topic,
    *,
    sku: str = "",
    members: int = 2,
    state: str = m.ClusterState.OPEN,
    subject: str = "Broken kettle",
    owner: User | None = None,
) -> m.Cluster:
    """A cluster with `members` member inquiries, written directly (for page and API tests)."""
    number = next(_cluster_numbers)
    sku = sku or f"SKU-{number}"
    inquiries = []
    for n in range(members):
        customer = m.Customer.objects.create(account=channel.account, address=f"c{number}-{n}@example.com")
        inquiries.append(
            m.Inquiry.objects.create(
                account=channel.account,
                channel=channel,
                customer=customer,
                subject=subject,
                sku=sku,
                topic=topic,
                topic_source="rules",
                opened_at=T0,
            )
        )
    cluster = m.Cluster.objects.create(
        account=channel.account,
        topic=topic,
        sku=sku,
        kind=m.ClusterKind.BURST,
        state=state,
        first_seen=T0,
        last_seen=T0,
        member_count=members,
        customer_count=members,
        window_count=members,
        expected=0.2,
        p_value=0.0001,
        severity=m.Severity.HIGH,
        owner=owner,
    )
    m.ClusterMember.objects.bulk_create(
        m.ClusterMember(cluster=cluster, inquiry=inquiry, opened_at=inquiry.opened_at)
        for inquiry in inquiries
    )
    m.ClusterEvent.objects.create(cluster=cluster, kind=m.ClusterEventKind.OPENED, at=T0)
    return cluster
