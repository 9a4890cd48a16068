"""Cluster pages: scoped to the user's accounts, constant query counts, a server-side SVG
chart, the lifecycle forms for managers only, and customer text rendered inert."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.db import connection
from django.template.loader import render_to_string
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from inquiries import models as m
from inquiries.complaints.charts import daily_bar_chart, fill_days
from inquiries.selectors.clusters import clusters_for_inquiry
from tests.complaints.helpers import T0, ingest, make_cluster, quality_text

pytestmark = pytest.mark.django_db

HOSTILE = '<script>alert("x")</script>'


@pytest.fixture
def alice(client, agent):
    client.force_login(agent)
    return client


@pytest.fixture
def maria(client, manager):
    client.force_login(manager)
    return client


def test_the_list_shows_the_users_clusters_and_never_another_teams(alice, channel, other_channel, topics):
    mine = make_cluster(channel, topics["quality"], sku="MINE-1")
    make_cluster(other_channel, topics["quality"], sku="THEIRS-1")

    response = alice.get(reverse("inquiries:cluster_list"))

    assert response.status_code == 200
    assert list(response.context["page"]) == [mine]
    assert b"MINE-1" in response.content and b"THEIRS-1" not in response.content
    assert b'aria-current="page">Clusters</a>' in response.content  # the main navigation


def test_another_teams_cluster_is_a_404_for_pages_and_posts(alice, channel, other_channel, topics):
    theirs = make_cluster(other_channel, topics["quality"])

    assert alice.get(reverse("inquiries:cluster_detail", args=[theirs.pk])).status_code == 404
    assert alice.post(reverse("inquiries:cluster_acknowledge", args=[theirs.pk])).status_code == 404
    theirs.refresh_from_db()
    assert theirs.state == "open"


def test_the_list_filters_by_state_topic_account_and_sku(alice, channel, topics):
    open_one = make_cluster(channel, topics["quality"], sku="A-1")
    resolved = make_cluster(channel, topics["quality"], sku="B-2", state=m.ClusterState.RESOLVED)
    damaged = make_cluster(channel, topics["damaged"], sku="C-3")

    def shown(**params: str) -> set[int]:
        return {c.pk for c in alice.get(reverse("inquiries:cluster_list"), params).context["page"]}

    assert shown() == {open_one.pk, damaged.pk}
    assert shown(state="all") == {open_one.pk, resolved.pk, damaged.pk}
    assert shown(state="resolved") == {resolved.pk}
    assert shown(topic="damaged") == {damaged.pk}
    assert shown(sku="a-1") == {open_one.pk}
    assert shown(account=str(channel.account_id), state="all") == {open_one.pk, resolved.pk, damaged.pk}


def test_the_list_page_makes_the_same_number_of_queries_for_3_and_30_clusters(
    alice, channel, topics, manager
):
    for _ in range(3):
        make_cluster(channel, topics["quality"], owner=manager)
    with CaptureQueriesContext(connection) as few:
        assert alice.get(reverse("inquiries:cluster_list")).status_code == 200
    for _ in range(27):
        make_cluster(channel, topics["damaged"], owner=manager)
    with CaptureQueriesContext(connection) as many:
        response = alice.get(reverse("inquiries:cluster_list"))

    assert len(response.context["page"]) == 30
    assert len(many) == len(few)


def test_the_detail_page_shows_members_with_links_and_an_accessible_svg_chart(alice, channel, topics):
    cluster = make_cluster(channel, topics["quality"], sku="KETTLE-1", members=3)

    response = alice.get(reverse("inquiries:cluster_detail", args=[cluster.pk]))

    html = response.content.decode()
    assert response.status_code == 200
    for member in cluster.members.all():
        assert reverse("inquiries:detail", args=[member.inquiry_id]) in html
    assert "<svg" in html and "<script" not in html.split("<main", 1)[1]
    assert f'aria-labelledby="cluster-{cluster.pk}-chart-title cluster-{cluster.pk}-chart-desc"' in html
    assert "<title id=" in html and "<desc id=" in html
    # The numbers behind the chart, for people who cannot see it.
    assert response.context["days"][-1] == (T0.date(), 3)
    assert len(response.context["days"]) == 63  # eight weeks of baseline and the 7-day window


def test_agents_read_clusters_but_only_managers_get_the_lifecycle_forms(
    client, agent, manager, channel, topics
):
    cluster = make_cluster(channel, topics["quality"])
    url = reverse("inquiries:cluster_detail", args=[cluster.pk])

    client.force_login(agent)
    assert b"Acknowledge" not in client.get(url).content
    assert client.post(reverse("inquiries:cluster_acknowledge", args=[cluster.pk])).status_code == 403

    client.force_login(manager)
    page = client.get(url).content
    assert b"Acknowledge" in page and b"Record the action taken" in page and b"Mark resolved" in page


def test_a_manager_moves_a_cluster_through_its_lifecycle_from_the_page(
    maria, manager, teammate, channel, topics
):
    cluster = make_cluster(channel, topics["quality"])

    maria.post(reverse("inquiries:cluster_acknowledge", args=[cluster.pk]))
    response = maria.post(
        reverse("inquiries:cluster_record", args=[cluster.pk]),
        {
            "root_cause": "Seal batch 42",
            "corrective_action": "Recalled",
            "preventive_measure": "Pressure test",
            "owner": str(teammate.pk),
            "action_date": "2026-03-05",
        },
    )
    assert response.status_code == 302
    cluster.refresh_from_db()
    assert (cluster.state, cluster.owner, cluster.action_date) == ("action_taken", teammate, date(2026, 3, 5))

    maria.post(reverse("inquiries:cluster_resolve", args=[cluster.pk]), {"note": "Quiet for two weeks"})
    cluster.refresh_from_db()
    assert cluster.state == "resolved"
    assert list(cluster.events.values_list("kind", flat=True)) == [
        "opened",
        "acknowledged",
        "action_taken",
        "resolved",
    ]
    assert cluster.events.get(kind="resolved").actor == manager


def test_an_incomplete_action_form_is_shown_again_with_its_errors(maria, channel, topics):
    cluster = make_cluster(channel, topics["quality"])

    response = maria.post(
        reverse("inquiries:cluster_record", args=[cluster.pk]), {"root_cause": "", "corrective_action": ""}
    )

    assert response.status_code == 400
    assert b'role="alert"' in response.content
    cluster.refresh_from_db()
    assert cluster.state == "open"


def test_a_refused_transition_is_explained_not_an_error_page(maria, channel, topics):
    cluster = make_cluster(channel, topics["quality"], state=m.ClusterState.ACKNOWLEDGED)

    response = maria.post(reverse("inquiries:cluster_acknowledge", args=[cluster.pk]), follow=True)

    assert response.status_code == 200
    assert b"Only an open cluster can be acknowledged" in response.content


def test_hostile_subjects_and_skus_are_rendered_inert(alice, channel, topics):
    cluster = make_cluster(channel, topics["quality"], sku=HOSTILE[:100], subject=HOSTILE)

    listing = alice.get(reverse("inquiries:cluster_list")).content.decode()
    detail = alice.get(reverse("inquiries:cluster_detail", args=[cluster.pk])).content.decode()

    for html in (listing, detail):
        assert HOSTILE not in html
        assert "&lt;script&gt;" in html


def test_the_inquiry_partial_links_its_clusters(channel, topics):
    quality = topics["quality"]
    for n in range(5):
        message = ingest(
            channel,
            at=T0 + timedelta(hours=n),
            sku="KETTLE-7",
            customer=f"p{n}@example.com",
            body=quality_text(),
        )
    inquiry = m.Inquiry.objects.get(pk=message.inquiry_id)
    cluster = m.Cluster.objects.get(topic=quality)

    html = render_to_string("complaints/_inquiry_cluster.html", {"clusters": clusters_for_inquiry(inquiry)})

    assert reverse("inquiries:cluster_detail", args=[cluster.pk]) in html
    assert "SKU KETTLE-7" in html
    assert render_to_string("complaints/_inquiry_cluster.html", {"clusters": []}).strip() == ""


# --- the chart (pure) -------------------------------------------------------------------------------


def test_fill_days_gives_every_day_with_zeros_for_quiet_ones():
    days = fill_days({date(2026, 3, 2): 4}, date(2026, 3, 1), date(2026, 3, 3))
    assert days == [(date(2026, 3, 1), 0), (date(2026, 3, 2), 4), (date(2026, 3, 3), 0)]


def test_the_chart_escapes_its_texts_and_labels_its_axes():
    days = fill_days({date(2026, 3, 2): 7}, date(2026, 2, 20), date(2026, 3, 5))
    svg = daily_bar_chart(days, title=f"SKU {HOSTILE}", description="d & <b>", chart_id='x"y')

    assert HOSTILE not in svg and "<b>" not in svg and 'x"y' not in svg
    assert "&lt;script&gt;" in svg and "d &amp; &lt;b&gt;" in svg
    assert svg.count("<rect") == len(days)
    assert ">10</text>" in svg and ">0</text>" in svg  # y axis from 0 to a round ceiling
    assert ">5 Mar</text>" in svg  # the last day is always labelled


# --- the admin ---------------------------------------------------------------------------------------


def test_the_admin_lists_clusters_and_topic_models_and_can_roll_back_a_version(
    client, superuser, channel, topics
):
    make_cluster(channel, topics["quality"])
    blob = b"not a model"
    account = channel.account
    old = m.TopicModel.objects.create(account=account, version=1, sklearn_version="x", blob=blob)
    m.TopicModel.objects.create(account=account, version=2, sklearn_version="x", blob=blob, is_active=True)
    client.force_login(superuser)

    assert client.get(reverse("admin:inquiries_cluster_changelist")).status_code == 200
    assert client.get(reverse("admin:inquiries_topicmodel_changelist")).status_code == 200
    response = client.post(
        reverse("admin:inquiries_topicmodel_changelist"), {"action": "activate", "_selected_action": [old.pk]}
    )

    assert response.status_code == 302
    assert m.TopicModel.objects.get(is_active=True) == old
