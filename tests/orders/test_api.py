"""POST /api/v1/accounts/{id}/orders/import/?format=NAME: a report in, counts and rejected lines out."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.urls import reverse

from inquiries import models as m
from tests.conftest import token_client
from tests.orders.conftest import sample

pytestmark = pytest.mark.django_db


def upload(client, account: m.Account, name: str, content: bytes | None = None, **query: str):
    url = reverse("api:account-orders-import", args=[account.pk])
    query_string = "&".join(f"{key}={value}" for key, value in {"format": name, **query}.items())
    data = content if content is not None else sample(name).read_bytes()
    return client.post(
        f"{url}?{query_string}", {"file": SimpleUploadedFile("report.txt", data)}, format="multipart"
    )


def test_a_manager_imports_a_report_and_gets_the_counts_and_every_rejected_line(amazon, manager):
    response = upload(token_client(manager), amazon, "amazon-all-orders")

    assert response.status_code == 200
    body = response.json()
    assert {key: body[key] for key in ("format", "dry_run", "rows", "imported", "rejected")} == {
        "format": "amazon-all-orders",
        "dry_run": False,
        "rows": 7,
        "imported": 5,
        "rejected": 2,
    }
    assert body["counts"] == {"orders": {"created": 4, "updated": 0}, "lines": {"created": 5, "updated": 0}}
    assert [rejection["line"] for rejection in body["rejections"]] == [5, 8]
    assert body["rejections"][0]["errors"][:2] == [
        "amazon-order-id: required",
        "purchase-date: not a timestamp this import reads (ISO 8601, RFC 2822, DD/MM/YYYY HH:MM and other "
        "common shapes, or give --date-format): 'yesterday'",
    ]
    assert m.Order.objects.filter(account=amazon).count() == 4


def test_a_second_upload_updates_and_a_dry_run_writes_nothing(amazon, manager):
    client = token_client(manager)
    upload(client, amazon, "amazon-feedback")

    again = upload(client, amazon, "amazon-feedback").json()
    dry = upload(client, amazon, "amazon-fba-returns", dry_run="true").json()

    assert again["counts"]["feedback"] == {"created": 0, "updated": 2}
    assert dry["dry_run"] is True
    assert dry["counts"]["returns"] == {"created": 2, "updated": 0}
    assert m.Feedback.objects.count() == 2
    assert not m.Return.objects.exists()


def test_a_bad_format_or_a_missing_file_is_a_400_naming_the_field(amazon, manager):
    client = token_client(manager)
    url = reverse("api:account-orders-import", args=[amazon.pk])

    bad_format = upload(client, amazon, "shopify-orders", content=b"x")
    no_format = client.post(url, {"file": SimpleUploadedFile("r.txt", b"x")}, format="multipart")
    no_file = client.post(f"{url}?format=amazon-feedback", {}, format="multipart")
    bad_zone = upload(client, amazon, "amazon-feedback", timezone="Mars/Olympus")

    assert bad_format.status_code == 400
    assert bad_format.json() == {"format": ['"shopify-orders" is not a valid choice.']}
    assert no_format.status_code == 400
    assert "format" in no_format.json()
    assert no_file.status_code == 400
    assert "file" in no_file.json()
    assert bad_zone.status_code == 400
    assert "timezone" in bad_zone.json()


def test_a_file_that_is_not_the_format_is_a_400_naming_the_missing_columns(amazon, manager):
    response = upload(
        token_client(manager), amazon, "amazon-all-orders", content=sample("amazon-feedback").read_bytes()
    )

    assert response.status_code == 400
    assert response.json()["file"][0].startswith(
        "not an Amazon All Orders report (flat file): missing column(s) amazon-order-id"
    )


def test_agents_may_not_import_and_another_teams_account_is_a_404(amazon, agent, outsider, other_account):
    assert upload(token_client(agent), amazon, "amazon-feedback").status_code == 403
    assert upload(token_client(outsider), amazon, "amazon-feedback").status_code == 404
    assert upload(token_client(agent), other_account, "amazon-feedback").status_code == 404
    assert not m.Order.objects.exists()


def test_anonymous_uploads_are_refused(amazon, client):
    assert upload(client, amazon, "amazon-feedback").status_code in (401, 403)


def test_a_large_upload_is_read_from_its_temporary_file(amazon, manager, settings):
    settings.FILE_UPLOAD_MAX_MEMORY_SIZE = 64  # the upload goes to a temporary file
    rows = "".join(f"111-{n}\t2026-03-01T10:00:00Z\tShipped\tSKU-{n % 3}\t1\n" for n in range(2500))
    content = ("amazon-order-id\tpurchase-date\torder-status\tsku\tquantity\n" + rows).encode()

    body = upload(token_client(manager), amazon, "amazon-all-orders", content=content).json()

    assert (body["imported"], body["rejected"]) == (2500, 0)
    assert m.Order.objects.count() == 2500


def test_only_the_first_thousand_rejected_lines_are_listed_but_all_are_counted(amazon, manager):
    content = ("Date\tRating\tOrder ID\n" + "2026-03-01\t9\t111-1\n" * 1200).encode()

    body = upload(token_client(manager), amazon, "amazon-feedback", content=content).json()

    assert body["rejected"] == 1200
    assert len(body["rejections"]) == 1000
    assert body["rejections"][-1] == {"line": 1001, "errors": ["Rating: not a rating from 1 to 5: '9'"]}


@pytest.mark.parametrize("count", [3, 30])
def test_an_upload_runs_the_same_queries_for_3_and_30_lines(
    amazon, manager, count, django_assert_num_queries
):
    client = token_client(manager)
    content = (
        "amazon-order-id\tpurchase-date\torder-status\tsku\tquantity\n"
        + "".join(f"111-{n}\t2026-03-01T10:00:00Z\tShipped\tSKU\t1\n" for n in range(count))
    ).encode()

    # token, account, manager check; in the batch's savepoint (two statements): orders and
    # lines upserted, inquiries linked and their order-status questions past the promised
    # delivery date looked for (services.order_status): one statement on PostgreSQL
    # (`orders._link_by_join`; two before), two elsewhere. On PostgreSQL the orders' upsert is
    # two statements (its staging table made ready, then the INSERT from it; the COPY between
    # them is not a query) and the lines of the new orders one COPY into their table (no query),
    # plus the size of the lines table (for the planner statistics); elsewhere the orders' upsert
    # is a lookup of the stored keys and the INSERT, and the new orders' lines one INSERT. And the
    # lock on the account's health rollup (services.order_rollup.kept_current: one statement
    # while the rollup is not built).
    postgresql = connection.vendor == "postgresql"
    upserts = 2 if postgresql else 2 + 1
    expected = 3 + 2 + upserts + (1 if postgresql else 2) + (1 if postgresql else 0) + 1
    with django_assert_num_queries(expected):
        assert upload(client, amazon, "amazon-all-orders", content=content).status_code == 200


def test_the_openapi_schema_describes_the_upload(api):
    schema = api.get("/api/schema/", {"format": "json"}).json()

    operation = schema["paths"]["/api/v1/accounts/{id}/orders/import/"]["post"]
    assert "multipart/form-data" in operation["requestBody"]["content"]
    assert {parameter["name"] for parameter in operation["parameters"]} >= {"id", "format", "dry_run"}
