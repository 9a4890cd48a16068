"""Cluster titles say what a cluster is about; "Last 24 h" is counted as of now (issue 23)."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from inquiries import models as m
from inquiries.complaints.titles import ClusterText, cluster_title, top_terms
from tests.complaints.helpers import T0, ingest, make_cluster

ZIPPER = "The zipper on the jacket broke on the first day, the zipper teeth came apart."


def test_top_terms_are_the_words_most_texts_share_without_common_words_or_numbers():
    texts = [
        "The zipper broke, order 123-4567, please refund",
        "Zipper broke after one day",
        "My zipper is broken and the jacket seams split",
        "Jacket zipper broke",
    ]
    assert top_terms(texts) == ["zipper", "broke", "jacket"]
    assert top_terms([]) == []


def test_a_title_names_the_product_and_the_top_terms():
    members = [ClusterText(text=ZIPPER, sku="JKT-1"), ClusterText(text=ZIPPER, sku="JKT-1")]
    assert cluster_title(kind="near_duplicate", sku="", members=members) == "SKU JKT-1: zipper, jacket, broke"
    mixed = [ClusterText(text=ZIPPER, sku="JKT-1"), ClusterText(text=ZIPPER, sku="JKT-2")]
    assert cluster_title(kind="near_duplicate", sku="", members=mixed) == "Zipper, jacket, broke"
    assert cluster_title(kind="burst", sku="KETTLE-1", members=[]) == "SKU KETTLE-1"
    assert cluster_title(kind="near_duplicate", sku="", members=[]) == "Near-identical texts"


@pytest.mark.django_db
def test_text_clusters_are_titled_by_their_words_on_every_page(client, agent, channel, topics):
    client.force_login(agent)
    for n, customer in enumerate(("a@example.com", "b@example.com", "c@example.com")):
        last = ingest(channel, at=T0 + timedelta(hours=n), subject="", body=ZIPPER, customer=customer)
    cluster = m.Cluster.objects.get(kind=m.ClusterKind.NEAR_DUPLICATE)

    listing = client.get(reverse("inquiries:cluster_list")).content.decode()
    detail = client.get(reverse("inquiries:cluster_detail", args=[cluster.pk])).content.decode()
    inquiry = client.get(reverse("inquiries:detail", args=[last.inquiry_id])).content.decode()

    for html in (listing, detail, inquiry):
        assert "Zipper, jacket, broke" in html
        assert "Near-identical texts</a>" not in html


@pytest.mark.django_db
def test_last_24_hours_counts_members_as_of_now_not_as_of_the_last_update(client, agent, channel, topics):
    client.force_login(agent)
    cluster = make_cluster(channel, topics["quality"], sku="KETTLE-1", members=3)
    cluster.growth = 3  # as the last update, at T0, saw it
    cluster.save(update_fields=["growth"])

    with time_machine.travel(T0 + timedelta(hours=2), tick=False):
        listing = client.get(reverse("inquiries:cluster_list"))
        detail = client.get(reverse("inquiries:cluster_detail", args=[cluster.pk]))
    assert [c.recent_count for c in listing.context["page"]] == [3]
    assert detail.context["recent_count"] == 3

    with time_machine.travel(T0 + timedelta(days=21), tick=False):
        listing = client.get(reverse("inquiries:cluster_list"))
        detail = client.get(reverse("inquiries:cluster_detail", args=[cluster.pk]))
    assert [c.recent_count for c in listing.context["page"]] == [0]
    assert detail.context["recent_count"] == 0
    assert "0 new" in detail.content.decode()


@pytest.mark.django_db
def test_titles_and_recent_counts_cost_the_same_queries_for_2_and_12_clusters(client, agent, channel, topics):
    client.force_login(agent)
    for _ in range(2):
        make_cluster(channel, topics["quality"], members=3)
    with CaptureQueriesContext(connection) as few:
        client.get(reverse("inquiries:cluster_list"))
    for _ in range(10):
        make_cluster(channel, topics["damaged"], members=5)
    with CaptureQueriesContext(connection) as many:
        response = client.get(reverse("inquiries:cluster_list"))
    assert len(response.context["page"]) == 12
    assert len(many) == len(few)
