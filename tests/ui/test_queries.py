"""The queue and the inquiry page run a fixed number of queries, however many rows they show."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from inquiries import models as m
from inquiries import services
from inquiries.ingestion.types import IncomingAttachment
from inquiries.services.recording import record_messages
from tests import factories
from tests.ui.conftest import inbound

pytestmark = pytest.mark.django_db

# session, user, accounts, channels, topics, the page of rows (with its preview and
# subjectless-title subqueries), page settings (density), assignable users (bulk form),
# accounts without an SLA policy (the warning), the automatic-assignment rotas (none here;
# tests/test_assignment.py pins the page with rotas)
QUEUE_QUERIES = 10
# the htmx poll: the rows only, without the bulk form, the density, the warning and the rotas
QUEUE_ROWS_QUERIES = 6
# session, user, the inquiry, its messages, their attachments, its clocks, topics,
# assignable users, timeline events, the customer's other inquiries, its complaint clusters,
# the reply box's macros (tests/test_macros.py pins the page with macros)
INQUIRY_QUERIES = 12


@pytest.fixture
def alice(agent: User) -> Client:
    client = Client()
    client.force_login(agent)
    return client


@pytest.mark.parametrize("count", [10, 1000])
def test_the_queue_runs_the_same_queries_for_10_and_1000_rows(
    alice, agent, teammate, channel, team, policy, count, django_assert_num_queries
):
    amazon = factories.AccountFactory(name="Acme on Amazon", marketplace=m.Marketplace.AMAZON)
    team.accounts.add(amazon)
    amazon_channel = factories.ChannelFactory(account=amazon, slug="amazon")
    topic = m.Topic.objects.get_or_create(key="quality", defaults={"name": "Product quality"})[0]
    now = timezone.now()
    # The batch path records many new conversations quickly, with the same rules.
    outcomes = record_messages(
        [
            (
                amazon_channel if i % 2 else channel,
                factories.incoming(
                    sender_address=f"c{i}@example.com",
                    received_at=now - timedelta(minutes=i * 7),
                    subject="Hello",
                    body_text="Hi there",
                ),
            )
            for i in range(count)
        ],
        now=now,
    )
    for i, outcome in enumerate(outcomes):
        inquiry = m.Inquiry.objects.get(pk=outcome.inquiry_id)
        if i % 3 == 0:
            services.assign(inquiry=inquiry, assignee=teammate if i % 2 else agent, actor=agent)
        if i % 4 == 0:
            services.change_topic(inquiry=inquiry, topic=topic, actor=agent)

    with django_assert_num_queries(QUEUE_QUERIES):
        response = alice.get(reverse("inquiries:queue"), {"status": "all"})
    assert len(response.context["rows"]) == min(count, 50)

    with django_assert_num_queries(QUEUE_ROWS_QUERIES):
        alice.get(
            reverse("inquiries:queue"), {"q": "order", "clock": "breached"}, headers={"HX-Request": "true"}
        )


@pytest.mark.parametrize("count", [10, 1000])
def test_the_inquiry_page_runs_the_same_queries_for_10_and_1000_messages(
    alice, agent, channel, policy, count, django_assert_num_queries
):
    now = timezone.now()
    first = inbound(channel, thread_id="t-1", ago=timedelta(days=1), now=now)
    for i in range(1, count):
        at = now - timedelta(days=1) + timedelta(minutes=i)
        if i % 5 == 0:
            services.reply(inquiry=first, author=agent, body_text=f"Reply {i}", internal=i % 10 == 0, now=at)
        else:
            inbound(
                channel,
                thread_id="t-1",
                received_at=at,
                now=now,
                attachments=(IncomingAttachment(f"photo-{i}.jpg", "image/jpeg", 3, b"JPG"),),
            )
    for i in range(count // 10):
        inbound(channel, subject=f"Earlier {i}", ago=timedelta(days=2, minutes=i), now=now)
    services.assign(inquiry=first, assignee=agent, actor=agent)
    assert m.Message.objects.filter(inquiry=first).count() == count

    with django_assert_num_queries(INQUIRY_QUERIES):
        response = alice.get(reverse("inquiries:detail", args=[first.pk]))
    assert response.status_code == 200
    assert len(response.context["others"]) == min(count // 10, 20)
