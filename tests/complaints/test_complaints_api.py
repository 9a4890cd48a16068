"""The topics and clusters API: scoped, filtered, constant query counts, lifecycle for managers."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from inquiries import models as m
from tests.complaints.helpers import make_cluster
from tests.conftest import token_client

pytestmark = pytest.mark.django_db


@pytest.fixture
def maria_api(manager) -> APIClient:
    return token_client(manager)


def test_topics_are_listed_in_display_order(api, topics):
    response = api.get("/api/v1/topics/")

    assert response.status_code == 200
    assert [t["key"] for t in response.json()][:3] == ["quality", "damaged", "wrong_item"]
    assert response.json()[0] == {
        "key": "quality",
        "name": "Product quality",
        "is_complaint": True,
        "health_category": "product_condition",
        "position": 10,
    }


def test_the_api_needs_a_user(topics):
    assert APIClient().get("/api/v1/clusters/").status_code in (401, 403)
    assert APIClient().get("/api/v1/topics/").status_code in (401, 403)


def test_clusters_are_scoped_to_the_users_accounts(api, channel, other_channel, topics):
    mine = make_cluster(channel, topics["quality"])
    theirs = make_cluster(other_channel, topics["quality"])

    listed = api.get("/api/v1/clusters/").json()["results"]

    assert [c["id"] for c in listed] == [mine.pk]
    assert listed[0]["topic"] == "quality" and listed[0]["severity"] == "High"
    assert api.get(f"/api/v1/clusters/{theirs.pk}/").status_code == 404
    assert api.get(f"/api/v1/clusters/{theirs.pk}/members/").status_code == 404


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"topic": "damaged"}, {"damaged"}),
        ({"state": "resolved"}, {"resolved"}),
        ({"sku": "sku-a"}, {"a"}),
        ({"state": ["open", "resolved"]}, {"a", "damaged", "resolved"}),
    ],
)
def test_clusters_filter_by_topic_state_and_sku(api, channel, topics, params, expected):
    names = {
        make_cluster(channel, topics["quality"], sku="SKU-A").pk: "a",
        make_cluster(channel, topics["damaged"], sku="SKU-D").pk: "damaged",
        make_cluster(channel, topics["quality"], sku="SKU-R", state=m.ClusterState.RESOLVED).pk: "resolved",
    }

    listed = api.get("/api/v1/clusters/", params).json()["results"]

    assert {names[c["id"]] for c in listed} == expected


def test_clusters_filter_by_account(api, superuser, channel, other_channel, topics):
    mine = make_cluster(channel, topics["quality"])
    theirs = make_cluster(other_channel, topics["quality"])
    root = token_client(superuser)

    assert [
        c["id"]
        for c in root.get("/api/v1/clusters/", {"account": other_channel.account_id}).json()["results"]
    ] == [theirs.pk]
    assert [c["id"] for c in root.get("/api/v1/clusters/").json()["results"]] == [theirs.pk, mine.pk]


def test_members_list_the_inquiries_with_their_customers(api, channel, topics):
    cluster = make_cluster(channel, topics["quality"], members=3)

    members = api.get(f"/api/v1/clusters/{cluster.pk}/members/").json()["results"]

    assert {row["inquiry"] for row in members} == set(cluster.members.values_list("inquiry_id", flat=True))
    assert {row["customer"] for row in members} == set(
        m.Customer.objects.filter(inquiries__cluster_memberships__cluster=cluster).values_list(
            "address", flat=True
        )
    )


def test_list_endpoints_make_the_same_number_of_queries_for_3_and_30_rows(api, channel, topics, manager):
    big = make_cluster(channel, topics["quality"], members=3, owner=manager)
    for _ in range(2):
        make_cluster(channel, topics["quality"], owner=manager)

    def count(url: str) -> int:
        with CaptureQueriesContext(connection) as queries:
            assert api.get(url).status_code == 200
        return len(queries)

    few_clusters, few_members = count("/api/v1/clusters/"), count(f"/api/v1/clusters/{big.pk}/members/")
    for _ in range(27):
        make_cluster(channel, topics["damaged"], owner=manager)
    extra = m.Inquiry.objects.filter(cluster_memberships__cluster__topic__key="damaged")[:27]
    m.ClusterMember.objects.bulk_create(
        m.ClusterMember(cluster=big, inquiry=i, opened_at=i.opened_at) for i in extra
    )

    assert count("/api/v1/clusters/") == few_clusters
    assert count(f"/api/v1/clusters/{big.pk}/members/") == few_members
    assert len(api.get(f"/api/v1/clusters/{big.pk}/members/").json()["results"]) == 30


def test_a_manager_runs_the_lifecycle_through_the_api(maria_api, manager, teammate, channel, topics):
    cluster = make_cluster(channel, topics["quality"])

    acknowledged = maria_api.post(f"/api/v1/clusters/{cluster.pk}/acknowledge/")
    assert (acknowledged.status_code, acknowledged.json()["state"]) == (200, "acknowledged")

    action = maria_api.post(
        f"/api/v1/clusters/{cluster.pk}/action/",
        {
            "root_cause": "Seal batch 42",
            "corrective_action": "Recalled",
            "owner": teammate.pk,
            "action_date": "2026-03-05",
        },
        format="json",
    )
    assert action.status_code == 200
    assert (action.json()["owner"], action.json()["action_date"]) == ("bob", "2026-03-05")

    resolved = maria_api.post(f"/api/v1/clusters/{cluster.pk}/resolve/", {"note": "done"}, format="json")
    body = resolved.json()
    assert body["state"] == "resolved"
    assert [e["kind"] for e in body["events"]] == ["opened", "acknowledged", "action_taken", "resolved"]
    assert body["events"][-1]["actor"] == "maria"


def test_agents_may_not_act_on_clusters(api, channel, topics):
    cluster = make_cluster(channel, topics["quality"])

    assert api.post(f"/api/v1/clusters/{cluster.pk}/acknowledge/").status_code == 403
    cluster.refresh_from_db()
    assert cluster.state == "open"


def test_lifecycle_errors_are_clear_400s_and_409s(maria_api, outsider, channel, topics):
    cluster = make_cluster(channel, topics["quality"], state=m.ClusterState.RESOLVED)
    fresh = make_cluster(channel, topics["quality"])

    conflict = maria_api.post(f"/api/v1/clusters/{cluster.pk}/acknowledge/")
    assert conflict.status_code == 409 and "state" in conflict.json()
    missing = maria_api.post(
        f"/api/v1/clusters/{fresh.pk}/action/", {"corrective_action": "x"}, format="json"
    )
    assert missing.status_code == 400 and "root_cause" in missing.json()
    stranger = maria_api.post(
        f"/api/v1/clusters/{fresh.pk}/action/",
        {"root_cause": "a", "corrective_action": "b", "owner": outsider.pk},
        format="json",
    )
    assert stranger.status_code == 400 and "owner" in stranger.json()
