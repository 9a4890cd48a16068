"""Rate clusters and merged incidents on the cluster pages and in the API: the rate with its
definition (numerator, denominator, window, threshold, a house indicator), one row per incident,
constant query counts."""

from __future__ import annotations

import itertools

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from inquiries import models as m
from tests.complaints.helpers import T0, make_cluster

pytestmark = pytest.mark.django_db

_numbers = itertools.count(1)


def make_rate_cluster(
    channel: m.Channel,
    *,
    kind: str = m.ClusterKind.SKU_RATE,
    sku: str = "",
    numerator: int = 14,
    denominator: int = 230,
    said: str = "arrived, broken",
) -> m.Cluster:
    number = next(_numbers)
    carrier = kind == m.ClusterKind.CARRIER_RATE
    return m.Cluster.objects.create(
        account=channel.account,
        topic=None,
        kind=kind,
        sku="" if carrier else sku or f"MUG-{number}",
        signature=f"route:{number}" if carrier else "",
        carrier="UPS" if carrier else "",
        service="Ground" if carrier else "",
        warehouse="FC-1" if carrier else "",
        first_seen=T0,
        last_seen=T0,
        severity=m.Severity.MEDIUM,
        rate_numerator=numerator,
        rate_denominator=denominator,
        rate_threshold=0.05,
        rate_window_days=30,
        signals={"inquiries": 10, "returns": 3, "feedback": 2},
        said=said,
    )


@pytest.fixture
def alice(client, agent):
    client.force_login(agent)
    return client


def test_the_list_titles_a_rate_cluster_with_its_product_words_and_figures(alice, channel, topics):
    make_rate_cluster(channel, sku="MUG-12")
    make_rate_cluster(
        channel, kind=m.ClusterKind.CARRIER_RATE, numerator=6, denominator=60, said="parcel, lost"
    )

    html = alice.get(reverse("inquiries:cluster_list")).content.decode()

    assert "SKU MUG-12: arrived, broken (14 of 230 units, 6.1%)" in html
    assert "UPS Ground from FC-1: parcel, lost (6 of 60 shipments, 10.0%)" in html
    assert "14 complaints of 230 units sold, last 30 days" in html
    assert "Threshold 5%. A house indicator: our definition, not a marketplace metric." in html


def test_the_detail_page_names_the_rates_definition_and_its_sources(alice, channel, topics):
    cluster = make_rate_cluster(channel, sku="MUG-12")

    html = alice.get(reverse("inquiries:cluster_detail", args=[cluster.pk])).content.decode()

    assert "6.1%" in html and "14 complaints of 230 units sold, last 30 days" in html
    assert "not a marketplace metric" in html
    assert "with a complaint return: 3; with negative feedback: 2. An order with several counts once." in html


def test_a_rate_without_units_in_the_window_is_no_data(alice, channel, topics):
    cluster = make_rate_cluster(channel, numerator=3, denominator=0)

    html = alice.get(reverse("inquiries:cluster_detail", args=[cluster.pk])).content.decode()

    assert "No data" in html and "No units sold in the last 30 days." in html


def test_a_merged_cluster_is_listed_with_its_incident_only(alice, channel, topics):
    product = make_cluster(channel, topics["quality"], sku="KETTLE-1")
    text = make_cluster(channel, topics["quality"], subject="Lid snapped off")
    text.kind, text.merged_into = m.ClusterKind.NEAR_DUPLICATE, product
    text.save()

    listed = list(alice.get(reverse("inquiries:cluster_list")).context["page"])
    detail = alice.get(reverse("inquiries:cluster_detail", args=[product.pk])).content.decode()
    merged = alice.get(reverse("inquiries:cluster_detail", args=[text.pk])).content.decode()

    assert listed == [product]
    assert "Same incident" in detail and reverse("inquiries:cluster_detail", args=[text.pk]) in detail
    assert f"cluster #{product.pk}</a>, where it is listed and handled" in merged


def test_the_list_page_queries_stay_flat_with_rate_and_merged_clusters(alice, channel, topics):
    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert alice.get(reverse("inquiries:cluster_list")).status_code == 200
        return len(captured)

    def add(n: int) -> None:
        for _ in range(n):
            product = make_cluster(channel, topics["quality"])
            make_rate_cluster(channel)
            make_rate_cluster(channel, kind=m.ClusterKind.CARRIER_RATE)
            text = make_cluster(channel, topics["quality"])
            text.merged_into = product
            text.save()

    add(1)
    few = queries()
    add(9)

    assert queries() == few


def test_the_api_shows_the_rate_with_its_definition_and_lists_one_row_per_incident(api, channel, topics):
    rate = make_rate_cluster(channel, sku="MUG-12")
    product = make_cluster(channel, topics["quality"])
    text = make_cluster(channel, topics["quality"])
    text.merged_into = product
    text.save()

    listed = api.get("/api/v1/clusters/").json()["results"]
    detail = api.get(f"/api/v1/clusters/{rate.pk}/").json()
    merged = api.get(f"/api/v1/clusters/{text.pk}/").json()

    assert {row["id"] for row in listed} == {rate.pk, product.pk}
    assert detail["rate"] == {
        "numerator": 14,
        "denominator": 230,
        "value": pytest.approx(14 / 230),
        "threshold": 0.05,
        "window_days": 30,
        "unit": "units",
        "signals": {"inquiries": 10, "returns": 3, "feedback": 2},
        "indicator": "house",
        "definition": detail["rate"]["definition"],
    }
    assert "not a marketplace's" in detail["rate"]["definition"]
    assert detail["said"] == "arrived, broken" and detail["kind"] == "sku_rate"
    assert merged["merged_into"] == product.pk
    assert next(row for row in listed if row["id"] == product.pk)["rate"] is None


def test_the_api_list_queries_stay_flat_with_rate_clusters(api, channel, topics):
    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert api.get("/api/v1/clusters/").status_code == 200
        return len(captured)

    make_rate_cluster(channel)
    make_rate_cluster(channel, kind=m.ClusterKind.CARRIER_RATE)
    few = queries()
    for _ in range(14):
        make_rate_cluster(channel)
        make_rate_cluster(channel, kind=m.ClusterKind.CARRIER_RATE)

    assert queries() == few
