"""Read endpoints: team scoping, filters, cursor pages, query counts that do not grow; staff CRUD; OpenAPI."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from inquiries import models as m
from inquiries.ingestion.types import Direction
from inquiries.services import RecordResult, change_status, record_message
from tests.conftest import token_client
from tests.factories import CalendarFactory, incoming, policy_with_targets

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


def open_inquiries(channel: m.Channel, count: int, *, start: int = 0) -> list[int]:
    """`count` inquiries from distinct customers, one customer message each; their ids."""
    ids = []
    for i in range(start, start + count):
        at = T0 + timedelta(minutes=i)
        result = record_message(
            channel=channel, incoming=incoming(sender_address=f"buyer{i}@example.com", received_at=at), now=at
        )
        assert isinstance(result, RecordResult) and result.inquiry_id is not None
        ids.append(result.inquiry_id)
    return ids


def add_messages(inquiry_id: int, count: int, *, replies: bool = True) -> None:
    """`count` more messages on one inquiry: replies and customer messages alternating, or customer
    messages only."""
    inquiry = m.Inquiry.objects.select_related("channel", "customer").get(pk=inquiry_id)
    first = inquiry.messages.earliest("received_at")
    for i in range(count):
        at = first.received_at + timedelta(minutes=10 * (i + 1))
        direction = Direction.OUTBOUND if replies and i % 2 == 0 else Direction.INBOUND
        record_message(
            channel=inquiry.channel,
            incoming=incoming(
                direction=direction,
                sender_address=inquiry.customer.address
                if direction == Direction.INBOUND
                else "agent@shop.example",
                in_reply_to=first.external_id,
                received_at=at,
            ),
            now=at,
        )


def queries_for(client: APIClient, url: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200, response.content
    return len(captured.captured_queries)


# --- scoping ----------------------------------------------------------------------------------


def test_an_agent_lists_only_her_teams_inquiries(api, channel, other_channel):
    mine = open_inquiries(channel, 2)
    open_inquiries(other_channel, 2, start=10)

    response = api.get("/api/v1/inquiries/")

    assert response.status_code == 200
    assert sorted(row["id"] for row in response.json()["results"]) == sorted(mine)


def test_a_superuser_lists_every_inquiry(superuser, channel, other_channel):
    ids = open_inquiries(channel, 2) + open_inquiries(other_channel, 2, start=10)

    response = token_client(superuser).get("/api/v1/inquiries/")

    assert sorted(row["id"] for row in response.json()["results"]) == sorted(ids)


def test_a_user_without_a_team_sees_nothing(channel):
    from tests.factories import UserFactory

    open_inquiries(channel, 1)

    response = token_client(UserFactory(username="nobody")).get("/api/v1/inquiries/")

    assert response.status_code == 200
    assert response.json()["results"] == []


@pytest.mark.parametrize("suffix", ["", "events/"])
def test_another_teams_inquiry_is_a_404_like_a_missing_one(outsider, channel, suffix):
    [inquiry_id] = open_inquiries(channel, 1)
    client = token_client(outsider)

    foreign = client.get(f"/api/v1/inquiries/{inquiry_id}/{suffix}")
    missing = client.get(f"/api/v1/inquiries/{inquiry_id + 1000}/{suffix}")

    assert foreign.status_code == missing.status_code == 404
    assert foreign.json() == missing.json()


def test_a_superuser_reads_any_inquiry_and_its_events(superuser, other_channel):
    [inquiry_id] = open_inquiries(other_channel, 1)
    client = token_client(superuser)

    assert client.get(f"/api/v1/inquiries/{inquiry_id}/").status_code == 200
    assert client.get(f"/api/v1/inquiries/{inquiry_id}/events/").status_code == 200


@pytest.mark.parametrize("url", ["/api/v1/inquiries/", "/api/v1/inquiries/1/", "/api/v1/inquiries/1/events/"])
def test_read_endpoints_need_a_token(db, url):
    assert APIClient().get(url).status_code == 401


# --- list: filters and pages ------------------------------------------------------------------


def test_the_list_filters_by_status(api, channel, agent):
    first, _open = open_inquiries(channel, 2)
    change_status(inquiry=m.Inquiry.objects.get(pk=first), status=m.Status.SOLVED, actor=agent, now=T0)

    response = api.get("/api/v1/inquiries/", {"status": "solved"})

    assert [row["id"] for row in response.json()["results"]] == [first]


def test_the_list_filters_by_channel(api, channel, account):
    from tests.factories import ChannelFactory

    mailbox = ChannelFactory(account=account, slug="shop-a-mail")
    open_inquiries(channel, 1)
    [mail] = open_inquiries(mailbox, 1, start=5)

    response = api.get("/api/v1/inquiries/", {"channel": "shop-a-mail"})

    assert [row["id"] for row in response.json()["results"]] == [mail]


def test_the_list_filters_by_clock_state(api, channel):
    policy_with_targets()
    overdue, on_time = open_inquiries(channel, 2)
    m.Clock.objects.filter(inquiry_id=overdue, kind=m.ClockKind.FIRST_REPLY).update(
        state=m.ClockState.BREACHED
    )

    breached = api.get("/api/v1/inquiries/", {"clock_state": "breached"})
    running = api.get("/api/v1/inquiries/", {"clock_state": "running"})

    assert [row["id"] for row in breached.json()["results"]] == [overdue]
    assert sorted(row["id"] for row in running.json()["results"]) == sorted([overdue, on_time])


@pytest.mark.parametrize("query", [{"status": "bogus"}, {"clock_state": "met"}, {"clock_state": "x" * 500}])
def test_a_bad_filter_value_is_a_400(api, channel, query):
    response = api.get("/api/v1/inquiries/", query)

    assert response.status_code == 400


def test_the_list_is_cursor_paginated_newest_first(api, channel):
    ids = open_inquiries(channel, 5)

    first = api.get("/api/v1/inquiries/", {"page_size": 2}).json()
    second = api.get(first["next"]).json()

    assert [row["id"] for row in first["results"]] == ids[::-1][:2]
    assert [row["id"] for row in second["results"]] == ids[::-1][2:4]
    assert "count" not in first


def test_a_garbage_cursor_is_a_404_not_a_500(api, channel):
    assert api.get("/api/v1/inquiries/", {"cursor": "garbage"}).status_code == 404


# --- detail and events ------------------------------------------------------------------------


def test_the_detail_includes_messages_and_clocks(api, channel):
    policy_with_targets(first_reply=3600)
    [inquiry_id] = open_inquiries(channel, 1)
    add_messages(inquiry_id, 1)

    body = api.get(f"/api/v1/inquiries/{inquiry_id}/").json()

    assert [msg["direction"] for msg in body["messages"]] == ["inbound", "outbound"]
    first_reply = next(c for c in body["clocks"] if c["kind"] == "first_reply")
    assert set(first_reply) == {
        "kind",
        "state",
        "started_at",
        "due_at",
        "stopped_at",
        "target_seconds",
        "rule_name",
        "elapsed_seconds",
    }
    assert first_reply["state"] == "met"
    assert first_reply["target_seconds"] == 3600
    assert first_reply["elapsed_seconds"] == 600
    resolution = next(c for c in body["clocks"] if c["kind"] == "resolution")
    assert resolution["stopped_at"] is None
    assert resolution["elapsed_seconds"] > 0


def test_the_events_list_the_inquirys_facts_in_order(api, channel):
    policy_with_targets()
    [inquiry_id] = open_inquiries(channel, 1)
    add_messages(inquiry_id, 1)

    body = api.get(f"/api/v1/inquiries/{inquiry_id}/events/").json()

    kinds = [event["kind"] for event in body["results"]]
    assert kinds[:2] == ["inquiry_opened", "message_received"]
    assert "reply_sent" in kinds
    assert "clock_met" in kinds
    assert [e["at"] for e in body["results"]] == sorted(e["at"] for e in body["results"])


# --- query counts do not grow with rows --------------------------------------------------------


def test_the_inquiry_list_runs_the_same_queries_for_3_and_30_inquiries(api, channel, agent):
    policy_with_targets()
    open_inquiries(channel, 3)
    m.Inquiry.objects.update(assignee=agent)
    few = queries_for(api, "/api/v1/inquiries/")

    open_inquiries(channel, 27, start=3)
    m.Inquiry.objects.update(assignee=agent)
    many = queries_for(api, "/api/v1/inquiries/")

    assert few == many == 2  # token + page


def test_the_filtered_inquiry_list_runs_the_same_queries_for_3_and_30_inquiries(api, channel):
    policy_with_targets()
    open_inquiries(channel, 3)
    url = "/api/v1/inquiries/?clock_state=running&status=new&channel=shop-a"
    few = queries_for(api, url)

    open_inquiries(channel, 27, start=3)
    many = queries_for(api, url)

    assert few == many == 2


def test_the_inquiry_detail_runs_the_same_queries_for_2_and_20_messages(api, channel, account):
    # A marketplace account with its own reply calendar: every customer message runs its own clock.
    account.marketplace = m.Marketplace.AMAZON
    account.reply_calendar = CalendarFactory()
    account.save()
    policy_with_targets(calendar=CalendarFactory())
    small, large = open_inquiries(channel, 2)
    add_messages(small, 1, replies=False)
    add_messages(large, 19, replies=False)
    running = m.Clock.objects.filter(inquiry_id=large, kind=m.ClockKind.MARKETPLACE_REPLY, state="running")
    assert running.count() == 20

    few = queries_for(api, f"/api/v1/inquiries/{small}/")
    many = queries_for(api, f"/api/v1/inquiries/{large}/")

    assert few == many == 4  # token + inquiry + messages + clocks


def test_the_events_list_runs_the_same_queries_for_few_and_many_events(api, channel, agent):
    policy_with_targets()
    small, large = open_inquiries(channel, 2)
    add_messages(large, 20)
    change_status(
        inquiry=m.Inquiry.objects.get(pk=large),
        status=m.Status.SOLVED,
        actor=agent,
        now=T0 + timedelta(days=1),
    )
    assert (
        m.InquiryEvent.objects.filter(inquiry_id=large).count()
        > 3 * m.InquiryEvent.objects.filter(inquiry_id=small).count()
    )

    few = queries_for(api, f"/api/v1/inquiries/{small}/events/")
    many = queries_for(api, f"/api/v1/inquiries/{large}/events/")

    assert few == many == 3  # token + inquiry access check + page


# --- staff-only configuration ------------------------------------------------------------------


@pytest.mark.parametrize("path", ["accounts", "teams", "channels"])
def test_configuration_endpoints_are_forbidden_to_non_staff(api, channel, path):
    assert api.get(f"/api/v1/{path}/").status_code == 403
    assert api.post(f"/api/v1/{path}/", {"name": "x"}, format="json").status_code == 403


def test_staff_read_and_create_accounts_teams_and_channels(superuser, channel):
    client = token_client(superuser)

    account = client.post(
        "/api/v1/accounts/",
        {"name": "Acme on Amazon US", "marketplace": "amazon", "timezone": "America/New_York"},
        format="json",
    )
    assert account.status_code == 201, account.json()
    team = client.post(
        "/api/v1/teams/", {"name": "Team C", "accounts": [account.json()["id"]]}, format="json"
    )
    assert team.status_code == 201, team.json()
    created = client.post(
        "/api/v1/channels/",
        {"account": account.json()["id"], "slug": "acme-us", "name": "Acme US", "kind": "api"},
        format="json",
    )
    assert created.status_code == 201, created.json()

    assert client.get("/api/v1/accounts/").status_code == 200
    assert client.get("/api/v1/teams/").status_code == 200
    assert {row["slug"] for row in client.get("/api/v1/channels/").json()["results"]} == {"acme-us", "shop-a"}
    assert client.get("/api/v1/channels/acme-us/").json()["name"] == "Acme US"


def test_staff_get_field_errors_for_bad_configuration(superuser, db):
    response = token_client(superuser).post(
        "/api/v1/accounts/", {"name": "X", "timezone": "Mars/Olympus"}, format="json"
    )

    assert response.status_code == 400
    assert "timezone" in response.json()


# --- OpenAPI -------------------------------------------------------------------------------------


def test_the_openapi_schema_describes_the_message_endpoint(api):
    response = api.get("/api/schema/", {"format": "json"})

    assert response.status_code == 200
    schema = response.json()
    assert "/api/v1/messages/" in schema["paths"]
    assert "/api/v1/messages/batch/" in schema["paths"]
    assert "/api/v1/inquiries/{id}/events/" in schema["paths"]


def test_the_api_docs_render_without_a_cdn(api):
    response = api.get("/api/docs/")

    assert response.status_code == 200
    html = response.content.decode()
    for host in ("cdn.", "jsdelivr", "unpkg"):
        assert host not in html
