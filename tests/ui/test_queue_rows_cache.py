"""Agents' queue refreshes share one rendering for a few seconds: the same visible accounts and
filters give the same rows, so 200 agents polling every 15 s cost a few renderings, not 200."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.contrib.auth.models import User
from django.test import Client
from django.utils import timezone

from tests.ui.conftest import inbound

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true", "HTTP_HX_TARGET": "rows"}


def client_for(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def shared(settings):
    settings.CSTRACKER_QUEUE_ROWS_CACHE_SECONDS = 5


def test_teammates_refreshing_share_one_rendering(
    shared, agent, teammate, channel, policy, django_assert_max_num_queries
):
    inbound(channel, subject="Lid broken")
    first = client_for(agent).get("/", **HTMX)
    bob = client_for(teammate)

    with django_assert_max_num_queries(3):  # session, user, the visible accounts
        second = bob.get("/", **HTMX)

    assert second.content == first.content and b"Lid broken" in second.content


def test_a_new_message_shows_once_the_shared_rendering_is_older_than_its_limit(
    shared, agent, channel, policy
):
    client = client_for(agent)
    client.get("/", **HTMX)
    inbound(channel, subject="Arrived just now")

    stale = client.get("/", **HTMX)
    with time_machine.travel(timezone.now() + timedelta(seconds=6)):
        fresh = client.get("/", **HTMX)

    assert b"Arrived just now" not in stale.content
    assert b"Arrived just now" in fresh.content


def test_another_team_and_other_filters_never_get_these_rows(
    shared, agent, outsider, channel, other_channel, policy
):
    inbound(channel, subject="Team A only")
    client_for(agent).get("/", **HTMX)

    theirs = client_for(outsider).get("/", **HTMX)
    filtered = client_for(agent).get("/", {"assignee": "none", "priority": "urgent"}, **HTMX)

    assert b"Team A only" not in theirs.content
    assert b"Team A only" not in filtered.content


def test_assigned_to_me_is_each_agents_own(shared, agent, teammate, channel, policy):
    from inquiries import models as m

    inquiry = inbound(channel, subject="Alice's")
    m.Inquiry.objects.filter(pk=inquiry.pk).update(assignee=agent)
    client_for(agent).get("/", {"assignee": "me"}, **HTMX)

    bobs = client_for(teammate).get("/", {"assignee": "me"}, **HTMX)

    assert b"Alice&#x27;s" not in bobs.content and b"Alice's" not in bobs.content
