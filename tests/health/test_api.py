"""The health API: health as of an instant, the daily history, order volumes in; access and query pins."""

from __future__ import annotations

import pytest
import time_machine
from django.db import connection
from django.urls import reverse

from inquiries import models as m
from inquiries.services.health import write_snapshot
from tests.conftest import token_client
from tests.health.conftest import NOW, answer, ask, days, hours

pytestmark = pytest.mark.django_db

AMAZON_KEYS = {
    "late_response_rate_7d",
    "late_response_rate_30d",
    "late_response_rate_90d",
    "response_time_p50_seconds",
    "response_time_p90_seconds",
    "atoz_risk_count",
    "open_clusters",
}


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield NOW


def traffic(channel, count: int) -> None:
    for index in range(count):
        message = ask(channel, NOW - days(1 + index % 5) - hours(index % 7))
        answer(message, message.received_at + hours(3 if index % 8 else 26))
    for hour in (23, 22, 21, 20):  # still within their deadline
        ask(channel, NOW - hours(hour))


def test_health_answers_status_metrics_and_rescue(amazon, channel, api):
    traffic(channel, 16)  # 2 of 16 late: 12.5%

    response = api.get(reverse("api:account-health", args=[amazon.pk]))

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "critical"
    assert body["as_of"] == NOW.isoformat()
    metrics = {metric["key"]: metric for metric in body["metrics"]}
    assert set(metrics) >= AMAZON_KEYS
    assert {k for k in metrics if k.startswith("complaint_rate_")} >= {
        "complaint_rate_quality",
        "complaint_rate_delivery",
    }
    week = metrics["late_response_rate_7d"]
    assert week == {
        "key": "late_response_rate_7d",
        "value": 0.125,
        "target": 0.1,
        "status": "critical",
        "numerator": 2,
        "denominator": 16,
    }
    assert metrics["response_time_p50_seconds"]["value"] == 3 * 3600
    rescue = body["rescue"][0]
    assert rescue["metric"] == "late_response_rate_7d" and not rescue["worsens"]
    assert rescue["message_count"] == 4  # 2 late of 20 is 10%: at risk, no longer critical
    assert rescue["sentence"] == (
        "Answer these 4 on time (the first is due in 1 h) and the 7-, 30- and 90-day late rates improve from "
        "12.5% to 10.0% (critical → at risk)."
    )
    assert len(rescue["inquiry_ids"]) == 4


def test_health_as_of_an_earlier_instant(amazon, channel, api):
    traffic(channel, 16)

    earlier = api.get(
        reverse("api:account-health", args=[amazon.pk]), {"as_of": "2026-03-06T00:00:00Z"}
    ).json()
    bad = api.get(reverse("api:account-health", args=[amazon.pk]), {"as_of": "yesterday"})

    assert earlier["as_of"] == "2026-03-06T00:00:00+00:00"
    week = next(metric for metric in earlier["metrics"] if metric["key"] == "late_response_rate_7d")
    assert week["denominator"] < 16
    assert bad.status_code == 400
    assert "as_of" in bad.json()


def test_another_teams_account_is_a_404(amazon, outsider):
    client = token_client(outsider)
    assert client.get(reverse("api:account-health", args=[amazon.pk])).status_code == 404
    assert client.get(reverse("api:account-health-history", args=[amazon.pk])).status_code == 404
    assert (
        client.post(
            reverse("api:account-order-volumes", args=[amazon.pk]), {"volumes": []}, format="json"
        ).status_code
        == 404
    )


def test_anonymous_requests_are_refused(amazon, client):
    assert client.get(reverse("api:account-health", args=[amazon.pk])).status_code in (401, 403)


def test_history_lists_daily_snapshots(amazon, channel, api):
    traffic(channel, 8)
    for offset in (3, 2, 1):
        write_snapshot(account=amazon, day=(NOW - days(offset)).date(), now=NOW)

    body = api.get(
        reverse("api:account-health-history", args=[amazon.pk]), {"from": "2026-03-08", "to": "2026-03-10"}
    ).json()

    assert [row["date"] for row in body["results"]] == ["2026-03-08", "2026-03-09"]
    assert body["results"][0]["as_of"] == "2026-03-09T00:00:00+00:00"
    assert {metric["key"] for metric in body["results"][0]["metrics"]} >= AMAZON_KEYS


def test_managers_post_order_volumes_and_agents_may_not(amazon, agent, manager):
    url = reverse("api:account-order-volumes", args=[amazon.pk])
    volumes = {"volumes": [{"date": "2026-03-08", "orders": 120}, {"date": "2026-03-09", "orders": 95}]}

    assert token_client(agent).post(url, volumes, format="json").status_code == 403
    first = token_client(manager).post(url, volumes, format="json")
    again = token_client(manager).post(
        url, {"volumes": [{"date": "2026-03-09", "orders": 99}]}, format="json"
    )
    future = token_client(manager).post(
        url, {"volumes": [{"date": "2026-04-01", "orders": 1}]}, format="json"
    )
    negative = token_client(manager).post(
        url, {"volumes": [{"date": "2026-03-01", "orders": -1}]}, format="json"
    )

    assert first.json() == {"created": 2, "updated": 0}
    assert again.json() == {"created": 0, "updated": 1}
    assert dict(m.OrderVolume.objects.values_list("date__day", "orders")) == {8: 120, 9: 99}
    assert future.status_code == 400
    assert negative.status_code == 400


# user lookup by token, account, preset, the account's channels, a count per window (3 on
# Amazon), answer times, late counts, deadlines ahead, A-to-z counts, late list, overdue list,
# slowest list, pending list, order list, topics, order volumes, complaints per topic, clusters
# On PostgreSQL the queries run in a transaction with JIT off: SAVEPOINT (inside the test's
# transaction), SET LOCAL jit = off, RELEASE SAVEPOINT.
POSTGRES_EXTRA = 3 if connection.vendor == "postgresql" else 0
# Plus one aggregate per marketplace metric from orders (Amazon: six, its ODR per fulfilment channel); a list of failing
# orders only for metrics that some order fails (none here: no orders); the marketplace's own
# imported figures (one query); whether the account's order rollup is built (one query).
HEALTH_API_QUERIES = 28


@pytest.mark.parametrize("count", [10, 100])
def test_health_runs_the_same_queries_for_10_and_100_messages(
    amazon, channel, api, count, django_assert_num_queries
):
    traffic(channel, count)
    api.get(reverse("api:account-health", args=[amazon.pk]))

    with django_assert_num_queries(HEALTH_API_QUERIES + POSTGRES_EXTRA):
        assert api.get(reverse("api:account-health", args=[amazon.pk])).status_code == 200


def test_health_gives_the_marketplace_metrics_and_the_house_indicators_apart(amazon, channel, api):
    empty = api.get(reverse("api:account-health", args=[amazon.pk])).json()
    assert empty["status"] == "no_data"
    assert {f["status"] for f in empty["marketplace_metrics"]} == {"no_data"}

    ask(channel, NOW - days(2), subject="Broken", body_text="It arrived broken and defective")
    for n, rating in enumerate([1, 5, 5]):
        order = m.Order.objects.create(
            account=amazon, marketplace_order_id=f"111-000000{n}-0000000", purchased_at=NOW - days(5)
        )
        m.Feedback.objects.create(order=order, rating=rating, left_at=NOW - days(1))
    body = api.get(reverse("api:account-health", args=[amazon.pk])).json()

    odr = next(f for f in body["marketplace_metrics"] if f["key"] == "order_defect_rate")
    assert (odr["numerator"], odr["denominator"], odr["window_days"], odr["target"]) == (1, 3, 60, 0.01)
    assert odr["group"] == "marketplace" and odr["definition_by"] == "amazon" and odr["status"] == "critical"
    assert odr["source"] == "Seller Central help: Order Defect Rate"
    assert (odr["label"], odr["population"]) == ("Order Defect Rate (Seller Fulfilled)", "seller")
    # No order Fulfilled by Amazon: its ODR has no data (never "healthy").
    fba = next(f for f in body["marketplace_metrics"] if f["key"] == "order_defect_rate_afn")
    assert (fba["label"], fba["population"], fba["denominator"]) == (
        "Order Defect Rate (Fulfilled by Amazon)",
        "marketplace",
        0,
    )
    assert (fba["value"], fba["status"]) == (None, "no_data")
    assert odr["failing_orders"] == [
        {"id": odr["failing_orders"][0]["id"], "marketplace_order_id": "111-0000000-0000000"}
    ]
    assert {m["group"] for m in body["reply_metrics"]} == {"marketplace"}
    assert all(m["key"].startswith("late_response_rate_") for m in body["reply_metrics"])
    house = {m["key"]: m for m in body["house_indicators"]}
    assert house["complaint_rate_quality"]["definition_by"] == "cstracker"
    assert "order_defect_rate" not in house
    assert body["status"] == "critical"
