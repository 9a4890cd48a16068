"""Amazon's seller performance report (JSON) into MarketplaceMetric: each metric a figure, bad
entries listed by their place, a second import duplicating nothing; by the command, the API, and
shown on the health page beside ours."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from pathlib import Path

import pytest
import time_machine
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client
from django.urls import reverse

from inquiries import models as m
from tests.conftest import token_client
from tests.orders.conftest import import_sample, sample
from tests.orders.test_api import upload

pytestmark = pytest.mark.django_db
FORMAT = "amazon-seller-performance"


def figures(account: m.Account) -> dict[str, tuple]:
    return {
        row.metric: (row.value, row.target, row.status, row.numerator, row.denominator)
        for row in m.MarketplaceMetric.objects.filter(account=account)
    }


def command(
    path: Path, account: m.Account, out: io.StringIO | None = None, err: io.StringIO | None = None
) -> None:
    out, err = out or io.StringIO(), err or io.StringIO()
    call_command(
        "import_orders", str(path), "--account", str(account.pk), "--format", FORMAT, stdout=out, stderr=err
    )


def test_each_metric_becomes_a_figure_and_each_bad_entry_is_listed_by_its_place(amazon):
    result, rejected = import_sample(amazon, FORMAT)

    assert (result.rows, result.imported, result.rejected) == (8, 5, 3)
    assert [line for line, _ in rejected] == [3, 6, 8]
    assert rejected[0][1] == "performanceMetrics[0].lateShipmentRate.lateShipmentCount: not a number: 'many'"
    assert (
        "performanceMetrics[0].onTimeDeliveryRate.reportingDateRange.reportingDateTo: required"
        in rejected[1][1]
    )
    assert "onTimeDeliveryRate.status: not a status: '<b>GOOD</b>'" in rejected[1][1]
    assert rejected[2][1].startswith("performanceMetrics[1]: not an object")
    assert figures(amazon) == {
        "order_defect_rate": (0.004, 0.01, "GOOD", 10, 2500),
        "order_defect_rate_afn": (0.0, 0.01, "GOOD", 0, 800),
        "pre_fulfilment_cancel_rate": (0.01, 0.025, "GOOD", 3, 300),
        "valid_tracking_rate": (0.99, 0.95, "GOOD", 990, 1000),
        "account_health_rating": (230.0, None, "GREAT", None, None),
    }
    odr = m.MarketplaceMetric.objects.get(account=amazon, metric="order_defect_rate")
    assert odr.window_start == datetime(2026, 10, 1, tzinfo=UTC)
    assert odr.window_end == odr.reported_at == datetime(2026, 11, 29, 23, 59, tzinfo=UTC)
    assert odr.source == "GET_V2_SELLER_PERFORMANCE_REPORT"


def test_a_second_import_creates_nothing_and_a_changed_figure_is_updated(amazon):
    import_sample(amazon, FORMAT)
    m.MarketplaceMetric.objects.filter(metric="order_defect_rate").update(value=0.5)

    again, _ = import_sample(amazon, FORMAT)
    dry, _ = import_sample(amazon, FORMAT, dry_run=True)

    assert vars(again.counts["metrics"]) == {"created": 0, "updated": 1}
    assert vars(dry.counts["metrics"]) == {"created": 0, "updated": 0}
    assert m.MarketplaceMetric.objects.count() == 5
    assert m.MarketplaceMetric.objects.get(metric="order_defect_rate").value == 0.004


def test_a_file_that_is_not_the_report_is_refused_whole(amazon, tmp_path):
    path = tmp_path / "orders.json"
    path.write_text('{"orders": []}')
    with pytest.raises(CommandError, match="no performanceMetrics list"):
        command(path, amazon)
    assert not m.MarketplaceMetric.objects.exists()


def test_the_command_prints_the_counts_and_each_rejected_entry(amazon):
    path = sample(FORMAT)
    out, err = io.StringIO(), io.StringIO()
    with pytest.raises(SystemExit) as exit_:
        command(path, amazon, out, err)

    assert exit_.value.code == 1
    assert (
        out.getvalue().strip()
        == "imported=5 rejected=3 metrics_created=5 metrics_updated=0 inquiries_linked=0"
    )
    assert [line.split(": ", 1)[0] for line in err.getvalue().splitlines()] == [
        f"{path}:line {number}" for number in (3, 6, 8)
    ]


def test_the_api_upload_imports_the_report(amazon, manager):
    body = upload(token_client(manager), amazon, FORMAT).json()

    assert (body["rows"], body["imported"], body["rejected"]) == (8, 5, 3)
    assert body["counts"] == {"metrics": {"created": 5, "updated": 0}}
    assert [rejection["line"] for rejection in body["rejections"]] == [3, 6, 8]
    assert m.MarketplaceMetric.objects.filter(account=amazon).count() == 5


def test_the_health_page_shows_the_imported_figures_beside_ours(amazon, agent):
    import_sample(amazon, FORMAT)
    client = Client()
    client.force_login(agent)

    with time_machine.travel(datetime(2026, 11, 30, 12, tzinfo=UTC), tick=False):
        page = client.get(reverse("inquiries:health_account", args=[amazon.pk])).content.decode()

    odr = page.split('data-metric="order_defect_rate"')[1].split("</article>")[0]
    assert "The marketplace reports <strong>0.4% of seller-fulfilled orders (GOOD)</strong>" in odr
    fba = page.split('data-metric="order_defect_rate_afn"')[1].split("</article>")[0]
    assert "The marketplace reports <strong>0% of orders fulfilled by the marketplace (GOOD)</strong>" in fba
    tracking = page.split('data-metric="valid_tracking_rate"')[1].split("</article>")[0]
    assert "The marketplace reports <strong>99" in tracking
    rating = page.split('data-metric="account_health_rating"')[1].split("</p>")[0]
    assert "<strong>230</strong>" in rating


def test_the_health_api_gives_the_imported_figure_beside_ours(amazon, manager):
    import_sample(amazon, FORMAT)

    with time_machine.travel(datetime(2026, 11, 30, 12, tzinfo=UTC), tick=False):
        body = token_client(manager).get(reverse("api:account-health", args=[amazon.pk])).json()

    figures = {f["key"]: f for f in body["marketplace_metrics"]}
    # Amazon's ODR per fulfilment channel beside ours for the same channel, under the same key.
    for key, population, value, numerator, denominator in (
        ("order_defect_rate", "seller", 0.004, 10, 2500),
        ("order_defect_rate_afn", "marketplace", 0.0, 0, 800),
    ):
        reported = figures[key]["reported"]
        assert figures[key]["population"] == population
        assert (reported["value"], reported["numerator"], reported["denominator"]) == (
            value,
            numerator,
            denominator,
        )
        assert (reported["status"], reported["source"]) == ("GOOD", "GET_V2_SELLER_PERFORMANCE_REPORT")
