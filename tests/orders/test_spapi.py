"""The Amazon SP-API connector, end to end against a local HTTP server that answers as Amazon
documents the calls: Login with Amazon's token endpoint, createReport, getReport (IN_PROGRESS,
then DONE), getReportDocument (compressionAlgorithm GZIP) and the document's URL, a throttled
answer (429 QuotaExceeded) and an expired access token (403 Unauthorized)."""

from __future__ import annotations

import gzip
import json
import os
import threading
import tracemalloc
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from io import StringIO
from typing import Any
from urllib.parse import parse_qs, urlparse
from zoneinfo import ZoneInfo

import httpx
import pytest
import time_machine
from django.conf import settings
from django.core.management import call_command
from django.utils import timezone

from cstracker.celery import app as celery_app
from inquiries import models as m
from inquiries import secrets
from inquiries.ingestion.csv_import import open_csv
from inquiries.ingestion.order_reports import FORMATS, parse_report
from inquiries.ingestion.order_reports.core import ParsedReport
from inquiries.services import orders, queue, spapi
from inquiries.services.orders import import_orders
from tests.orders.conftest import sample

pytestmark = pytest.mark.django_db

FORMAT_OF = {spec.report_type: spec.format for spec in spapi.REPORTS}
EXPIRED = {
    "errors": [
        {
            "code": "Unauthorized",
            "message": "Access to requested resource is denied.",
            "details": "The access token you provided has expired.",
        }
    ]
}
THROTTLED = {
    "errors": [
        {
            "code": "QuotaExceeded",
            "message": "You exceeded your quota for the requested resource.",
            "details": "",
        }
    ]
}


@dataclass
class Amazon:
    """What the fake Amazon answers, and what it was asked."""

    base: str = ""
    throttle_creates: int = 0  # createReport calls answered 429 first
    expire_after: int | None = None  # the first access token is refused after this many API calls
    always_expired: bool = False  # every access token is refused (a revoked grant)
    refuse_refresh_token: bool = False
    polls_before_done: int = 1
    tokens_issued: int = 0
    api_calls: int = 0
    calls: Counter[str] = field(default_factory=Counter)
    token_requests: list[dict[str, list[str]]] = field(default_factory=list)
    report_bodies: list[dict[str, Any]] = field(default_factory=list)
    polls: Counter[str] = field(default_factory=Counter)
    documents: dict[str, bytes] = field(default_factory=dict)  # by report type; else the sample, gzipped


def _handler(amazon: Amazon) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def answer(self, status: int, body: Any, content_type: str = "application/json") -> None:
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length).decode()
            path = urlparse(self.path).path
            if path == "/auth/o2/token":
                form = parse_qs(body)
                amazon.token_requests.append(form)
                if amazon.refuse_refresh_token:
                    self.answer(
                        400,
                        {
                            "error": "invalid_grant",
                            "error_description": "The request has an invalid grant parameter",
                        },
                    )
                    return
                amazon.tokens_issued += 1
                self.answer(
                    200,
                    {
                        "access_token": f"Atza|token-{amazon.tokens_issued}",
                        "refresh_token": form["refresh_token"][0],
                        "token_type": "bearer",
                        "expires_in": 3600,
                    },
                )
                return
            if not self.authorised():
                return
            if path == "/reports/2021-06-30/reports":
                amazon.calls["createReport"] += 1
                if amazon.calls["createReport"] <= amazon.throttle_creates:
                    self.answer(429, THROTTLED)
                    return
                report = json.loads(body)
                amazon.report_bodies.append(report)
                self.answer(202, {"reportId": f"R-{report['reportType']}"})
                return
            self.answer(404, {"errors": [{"code": "NotFound", "message": path}]})

        def authorised(self) -> bool:
            amazon.api_calls += 1
            token = self.headers.get("x-amz-access-token")
            expired = amazon.always_expired or (
                token == "Atza|token-1"
                and amazon.expire_after is not None
                and amazon.api_calls > amazon.expire_after
            )
            if expired:
                self.answer(403, EXPIRED)
                return False
            return True

        def do_GET(self) -> None:
            path = urlparse(self.path).path
            if path.startswith("/download/"):
                report_type = path.removeprefix("/download/")
                document = amazon.documents.get(report_type) or gzip.compress(
                    sample(FORMAT_OF[report_type]).read_bytes()
                )
                self.answer(200, document, "application/octet-stream")
                return
            if not self.authorised():
                return
            if path.startswith("/reports/2021-06-30/reports/"):
                report_id = path.rsplit("/", 1)[1]
                amazon.calls["getReport"] += 1
                amazon.polls[report_id] += 1
                report_type = report_id.removeprefix("R-")
                report: dict[str, Any] = {
                    "reportId": report_id,
                    "reportType": report_type,
                    "createdTime": "2026-03-20T10:00:00+00:00",
                    "marketplaceIds": ["ATVPDKIKX0DER"],
                }
                if amazon.polls[report_id] <= amazon.polls_before_done:
                    report["processingStatus"] = "IN_PROGRESS"
                else:
                    report["processingStatus"] = "DONE"
                    report["reportDocumentId"] = f"D-{report_type}"
                self.answer(200, report)
                return
            if path.startswith("/reports/2021-06-30/documents/"):
                amazon.calls["getReportDocument"] += 1
                document_id = path.rsplit("/", 1)[1]
                self.answer(
                    200,
                    {
                        "reportDocumentId": document_id,
                        "url": f"{amazon.base}/download/{document_id.removeprefix('D-')}",
                        "compressionAlgorithm": "GZIP",
                    },
                )
                return
            self.answer(404, {"errors": [{"code": "NotFound", "message": path}]})

    return Handler


@pytest.fixture
def amazon_api(settings: Any) -> Iterator[Amazon]:
    amazon = Amazon()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(amazon))
    amazon.base = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    settings.CSTRACKER_SPAPI_ENDPOINT = amazon.base
    settings.CSTRACKER_LWA_TOKEN_URL = f"{amazon.base}/auth/o2/token"
    settings.CSTRACKER_SPAPI_POLL_SECONDS = 0
    settings.CSTRACKER_SPAPI_BACKOFF_SECONDS = 0
    settings.CSTRACKER_SPAPI_REPORT_TIMEOUT_SECONDS = 30
    try:
        yield amazon
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture
def connection(amazon: m.Account) -> m.AmazonConnection:
    connection = m.AmazonConnection(account=amazon, marketplace_ids="ATVPDKIKX0DER")
    spapi.store_credentials(
        connection=connection,
        client_id="amzn1.application-oa2-client.abc",
        client_secret="s3cret",
        refresh_token="Atzr|refresh",
    )
    connection.save()
    return connection


def expected_counts(account: m.Account, fmt: str) -> tuple[int, int, int]:
    """rows, imported, rejected of the sample as `import_orders --dry-run` reads it."""
    with open_csv(sample(fmt)) as stream:
        result = import_orders(
            account=account,
            fmt=FORMATS[fmt],
            rows=parse_report(stream, FORMATS[fmt], zone=account.timezone),
            dry_run=True,
        )
    return result.rows, result.imported, result.rejected


def test_it_fetches_every_report_and_imports_it_as_the_command_would(amazon_api, connection):
    expected = {spec.format: expected_counts(connection.account, spec.format) for spec in spapi.REPORTS}

    runs = spapi.sync_connection(connection_id=connection.pk)

    by_format = {run.format: run for run in runs}
    for fmt, (rows, imported, rejected) in expected.items():
        run = by_format[fmt]
        assert run.state == m.RunState.DONE, (fmt, run.error)
        assert (run.rows, run.imported, run.rejected) == (rows, imported, rejected)
        assert run.report_id and run.document_id and run.finished_at
        if rejected:
            assert run.error.startswith("line ")
    assert m.Order.objects.filter(account=connection.account).exists()
    assert m.Shipment.objects.filter(order__account=connection.account).exists()
    assert m.Return.objects.filter(order__account=connection.account).exists()
    assert m.Feedback.objects.filter(order__account=connection.account).exists()
    # Hostile text is stored to the letter.
    assert m.Feedback.objects.filter(text__contains="<script>alert(1)</script>").exists()
    # The seller performance report's figures, beside ours on the health page.
    assert m.MarketplaceMetric.objects.filter(account=connection.account, metric="order_defect_rate").exists()
    # Each report was polled until DONE: IN_PROGRESS once, then DONE.
    assert set(amazon_api.polls.values()) == {2}
    # The request names the marketplaces and the period; one token for the whole sync.
    assert amazon_api.report_bodies[0]["marketplaceIds"] == ["ATVPDKIKX0DER"]
    assert "dataStartTime" in amazon_api.report_bodies[0]
    assert amazon_api.tokens_issued == 1
    token_request = amazon_api.token_requests[0]
    assert token_request["grant_type"] == ["refresh_token"]
    assert token_request["refresh_token"] == ["Atzr|refresh"]
    assert token_request["client_id"] == ["amzn1.application-oa2-client.abc"]
    connection.refresh_from_db()
    assert connection.last_sync_ok is True
    assert connection.last_sync_at is not None
    assert connection.next_sync_at is not None and connection.lease_until is None
    assert "amazon-all-orders: done" in connection.last_sync_summary


def test_a_second_sync_updates_what_the_first_stored_and_duplicates_nothing(amazon_api, connection):
    spapi.sync_connection(connection_id=connection.pk)
    orders = m.Order.objects.count()
    lines = m.OrderLine.objects.count()
    figures = m.MarketplaceMetric.objects.count()
    assert figures
    spapi.sync_connection(connection_id=connection.pk, force=True)
    assert (m.Order.objects.count(), m.OrderLine.objects.count()) == (orders, lines)
    assert m.MarketplaceMetric.objects.count() == figures
    assert m.ConnectorRun.objects.filter(state=m.RunState.DONE).count() == 2 * len(spapi.REPORTS)


def test_a_throttled_call_is_answered_with_backoff_and_tried_again(amazon_api, connection):
    amazon_api.throttle_creates = 2
    runs = spapi.sync_connection(connection_id=connection.pk)
    assert runs[0].state == m.RunState.DONE
    assert amazon_api.calls["createReport"] == len(spapi.REPORTS) + 2


def test_throttling_that_outlasts_the_attempts_fails_the_run_and_says_so(amazon_api, connection, settings):
    settings.CSTRACKER_SPAPI_ATTEMPTS = 3
    amazon_api.throttle_creates = 3
    runs = spapi.sync_connection(connection_id=connection.pk)
    assert runs[0].state == m.RunState.FAILED
    assert "429" in runs[0].error and "quota" in runs[0].error
    # The next report goes on.
    assert runs[1].state == m.RunState.DONE
    connection.refresh_from_db()
    assert connection.last_sync_ok is False


def test_an_expired_token_is_refreshed_once_and_the_call_goes_on(amazon_api, connection):
    amazon_api.expire_after = 3
    runs = spapi.sync_connection(connection_id=connection.pk)
    assert [run.state for run in runs[:4]] == [m.RunState.DONE] * 4
    assert amazon_api.tokens_issued == 2


def test_a_token_refused_after_a_refresh_is_reported(amazon_api, connection):
    amazon_api.always_expired = True
    runs = spapi.sync_connection(connection_id=connection.pk)
    assert runs[0].state == m.RunState.FAILED
    assert runs[0].error == "SP-API answered 403: Access to requested resource is denied."
    # One refresh per call, not a loop: two tokens for the first report, one more for each after.
    assert amazon_api.calls["createReport"] == 0
    assert amazon_api.tokens_issued == 2 + len(spapi.REPORTS) - 1


def test_a_refused_refresh_token_fails_the_sync_without_trying_the_other_reports(amazon_api, connection):
    amazon_api.refuse_refresh_token = True
    runs = spapi.sync_connection(connection_id=connection.pk)
    assert len(runs) == 1
    assert runs[0].state == m.RunState.FAILED
    assert runs[0].error == "Login with Amazon refused the credentials: invalid_grant"
    assert "Atzr" not in runs[0].error


def test_missing_credentials_are_a_failed_run_naming_what_is_missing(amazon_api, amazon):
    connection = m.AmazonConnection.objects.create(account=amazon, marketplace_ids="ATVPDKIKX0DER")
    runs = spapi.sync_connection(connection_id=connection.pk)
    assert [run.state for run in runs] == [m.RunState.FAILED]
    assert "no LWA client id, LWA client secret, refresh token stored" in runs[0].error


def test_a_leased_connection_is_not_synced_twice_at_once(amazon_api, connection):
    m.AmazonConnection.objects.filter(pk=connection.pk).update(
        lease_until=timezone.now() + timezone.timedelta(hours=1)
    )
    assert spapi.sync_connection(connection_id=connection.pk) == []
    assert amazon_api.tokens_issued == 0


def test_the_sweep_queues_only_due_enabled_connections(connection, other_account, monkeypatch):
    queued: list[tuple[Any, ...]] = []
    monkeypatch.setattr(queue, "safe_delay", lambda task, *args, **kwargs: queued.append((task.name, *args)))
    later = m.AmazonConnection.objects.create(
        account=other_account,
        marketplace_ids="A1F83G8C2ARO7P",
        next_sync_at=timezone.now() + timezone.timedelta(hours=2),
    )
    assert spapi.sweep() == "amazon=1"
    assert queued == [("inquiries.tasks.sync_amazon_connection", connection.pk)]
    assert later.pk not in [pk for _, pk in queued]


def test_beat_runs_the_sweep_every_fifteen_minutes():
    entry = settings.CELERY_BEAT_SCHEDULE["marketplace-sync"]
    assert entry["task"] == "inquiries.tasks.sync_marketplace_connections"
    assert entry["schedule"] == 900.0
    assert entry["task"] in celery_app.tasks
    assert "inquiries.tasks.sync_amazon_connection" in celery_app.tasks


def test_the_admin_stores_the_credentials_encrypted_and_never_shows_them(staff, amazon):
    response = staff.post(
        "/admin/inquiries/amazonconnection/add/",
        {
            "account": amazon.pk,
            "is_enabled": "on",
            "region": "na",
            "marketplace_ids": "ATVPDKIKX0DER",
            "client_id": "amzn1.application-oa2-client.abc",
            "client_secret": "s3cret-value",
            "refresh_token": "Atzr|refresh-value",
            "sync_every_hours": "6",
            "lookback_days": "30",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    connection = m.AmazonConnection.objects.get(account=amazon)
    assert secrets.decrypt(connection.client_secret_encrypted) == "s3cret-value"
    assert "s3cret-value" not in connection.client_secret_encrypted
    page = staff.get(f"/admin/inquiries/amazonconnection/{connection.pk}/change/").content.decode()
    assert "s3cret-value" not in page and "Atzr|refresh-value" not in page
    assert "LWA client id, LWA client secret, LWA refresh token" in page


def test_the_admin_lists_each_accounts_last_sync_and_the_runs_in_fixed_queries(
    staff, amazon_api, connection, other_account, django_assert_max_num_queries
):
    spapi.sync_connection(connection_id=connection.pk)
    hidden = m.AmazonConnection.objects.create(account=other_account, marketplace_ids="Zorblax")
    m.ConnectorRun.objects.create(account=other_account, report_type="Zorblax", started_at=timezone.now())
    with django_assert_max_num_queries(12):
        page = staff.get("/admin/inquiries/amazonconnection/").content.decode()
    assert "amazon-all-orders: done" in page
    assert "Zorblax" not in page and str(hidden) not in page
    with django_assert_max_num_queries(12):
        runs = staff.get("/admin/inquiries/connectorrun/").content.decode()
    assert "GET_FLAT_FILE_ALL_ORDERS_DATA_BY_LAST_UPDATE_GENERAL" in runs
    assert "Zorblax" not in runs


def test_the_command_fetches_now_and_prints_each_report(amazon_api, connection):
    out = StringIO()
    call_command("sync_marketplaces", "--account", str(connection.account_id), stdout=out)
    lines = out.getvalue().splitlines()
    assert lines[0].startswith(
        f"account {connection.account_id} GET_FLAT_FILE_ALL_ORDERS_DATA_BY_LAST_UPDATE_GENERAL: done rows="
    )
    assert len(lines) == len(spapi.REPORTS)
    # The schedule now waits; --force fetches anyway.
    out = StringIO()
    call_command("sync_marketplaces", stdout=out)
    assert out.getvalue() == ""
    call_command("sync_marketplaces", "--force", stdout=out)
    assert m.ConnectorRun.objects.filter(state=m.RunState.DONE).count() == 2 * len(spapi.REPORTS)


def test_a_large_document_is_streamed_to_the_file_never_whole_in_memory(amazon_api, connection, tmp_path):
    """8 MB of report, compressed: the download's memory peak stays far below the document."""
    # Text that compresses about as a real report does (a few times, not a thousand).
    rows = "".join(
        f"111-{index:07d}-0000001\t\t2026-03-01T10:00:00+00:00\t\tShipped\t{os.urandom(90).hex()}\n"
        for index in range(40_000)
    )
    amazon_api.documents["BIG"] = gzip.compress(("header\n" + rows).encode())
    session = spapi.Session(connection)
    target = open(tmp_path / "document.txt", "w+b")  # noqa: SIM115 (closed below)
    try:
        tracemalloc.start()
        session.download("D-BIG", target)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
        target.close()
        session.close()
    size = (tmp_path / "document.txt").stat().st_size
    assert size > 8_000_000
    assert peak < size / 4


def test_a_run_cut_short_is_marked_failed_by_the_next_sync(amazon_api, connection):
    stale = m.ConnectorRun.objects.create(
        account=connection.account, report_type="GET_SELLER_FEEDBACK_DATA", started_at=timezone.now()
    )
    spapi.sync_connection(connection_id=connection.pk)
    stale.refresh_from_db()
    assert stale.state == m.RunState.FAILED
    assert stale.error.startswith("interrupted")


def test_the_accounts_list_shows_each_accounts_last_sync(staff, amazon_api, connection, other_account):
    spapi.sync_connection(connection_id=connection.pk)
    page = staff.get("/admin/inquiries/account/").content.decode()
    connection.refresh_from_db()
    assert f"{connection.last_sync_at:%Y-%m-%d %H:%M} UTC, ok" in page


def test_an_error_with_markup_is_stored_as_written_and_shown_inert(staff, amazon):
    m.ConnectorRun.objects.create(
        account=amazon,
        report_type="GET_SELLER_FEEDBACK_DATA",
        started_at=timezone.now(),
        state=m.RunState.DONE,
        error='line 2: Comments: "<script>alert(1)</script>"',
    )
    page = staff.get("/admin/inquiries/connectorrun/").content.decode()
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_request_urls_are_kept_out_of_the_logs():
    """httpx logs each request's URL at INFO: a report document's pre-signed link must not be."""
    import logging

    assert logging.getLogger("httpx").getEffectiveLevel() >= logging.WARNING
    assert logging.getLogger("httpcore").getEffectiveLevel() >= logging.WARNING
    assert logging.getLogger("sp_api").getEffectiveLevel() >= logging.INFO


FEEDBACK_DOCUMENT = (
    "Date\tRating\tComments\tResponse\tOrder ID\tRater Email\n"
    "13/03/2026\t1\tBroke on day two\t\t111-0000001-0000001\t\n"
    "04/03/2026\t5\tFast\t\t111-0000002-0000002\t\n"
)


def feedback_days(account: m.Account) -> list[str]:
    zone = ZoneInfo(account.timezone)
    return sorted(
        f"{left_at.astimezone(zone):%Y-%m-%d}"
        for left_at in m.Feedback.objects.filter(order__account=account).values_list("left_at", flat=True)
        if left_at is not None
    )


@pytest.mark.parametrize(
    ("region", "dayfirst", "days", "rejected"),
    [
        ("eu", None, ["2026-03-04", "2026-03-13"], 0),  # Europe: day first unless set
        ("eu", False, ["2026-04-03"], 1),  # set month first: 13/03 fits no month
        ("na", None, ["2026-04-03"], 1),
        ("na", True, ["2026-03-04", "2026-03-13"], 0),
    ],
)
def test_slash_dates_are_read_as_the_connection_says_by_default_by_region(
    amazon_api, connection, region, dayfirst, days, rejected
):
    connection.region, connection.dates_dayfirst = region, dayfirst
    connection.save()
    amazon_api.documents["GET_SELLER_FEEDBACK_DATA"] = gzip.compress(FEEDBACK_DOCUMENT.encode())

    runs = {run.format: run for run in spapi.sync_connection(connection_id=connection.pk)}

    run = runs["amazon-feedback"]
    assert (run.state, run.rows, run.rejected) == (m.RunState.DONE, 2, rejected)
    if rejected:
        assert run.error.startswith("line 2: ")
    assert feedback_days(connection.account) == days


def test_the_lease_is_renewed_before_each_report(amazon_api, connection, monkeypatch):
    held: list[Any] = []
    fetch = spapi._fetch

    def fetch_and_note(*args: Any, **kwargs: Any) -> None:
        held.append(m.AmazonConnection.objects.get(pk=connection.pk).lease_until)
        fetch(*args, **kwargs)

    monkeypatch.setattr(spapi, "_fetch", fetch_and_note)
    started = timezone.now()

    spapi.sync_connection(connection_id=connection.pk)

    fetched = sum(spec.format in FORMATS for spec in spapi.REPORTS)
    assert len(held) == fetched
    assert held == sorted(held) and len(set(held)) == fetched  # a fresh lease each time
    assert all(until > started for until in held)
    connection.refresh_from_db()
    assert connection.lease_until is None and connection.last_sync_ok is True


def test_a_sync_whose_lease_was_taken_over_stops_and_leaves_the_connection_to_the_other(
    amazon_api, connection, monkeypatch
):
    fetch = spapi._fetch
    other = timezone.now() + timezone.timedelta(hours=2)

    def fetch_then_lose_the_lease(*args: Any, **kwargs: Any) -> None:
        fetch(*args, **kwargs)
        # Meanwhile this sync stalled past its lease and another took the connection.
        m.AmazonConnection.objects.filter(pk=connection.pk).update(lease_until=other)

    monkeypatch.setattr(spapi, "_fetch", fetch_then_lose_the_lease)

    runs = spapi.sync_connection(connection_id=connection.pk)

    assert [run.state for run in runs] == [m.RunState.DONE, m.RunState.FAILED]
    assert runs[1].error == "stopped: another sync took this connection over"
    connection.refresh_from_db()
    # The other sync's lease and schedule are left alone.
    assert (connection.lease_until, connection.last_sync_at) == (other, None)


def test_a_report_that_fails_part_way_counts_the_rows_it_stored(amazon_api, connection, monkeypatch):
    real_import = spapi.import_orders
    real_parse = spapi.parse_report

    def small_batches(**kwargs: Any) -> Any:
        return real_import(**kwargs, batch_size=2)

    def cut_off(stream: Any, fmt: Any, **kwargs: Any) -> Iterator[Any]:
        rows = real_parse(stream, fmt, **kwargs)
        if fmt.name != "amazon-all-orders":
            yield from rows
            return
        yield from list(rows)[:5]
        raise httpx.ReadError("the connection dropped mid-document")

    monkeypatch.setattr(spapi, "import_orders", small_batches)
    monkeypatch.setattr(spapi, "parse_report", cut_off)

    runs = {run.format: run for run in spapi.sync_connection(connection_id=connection.pk)}

    run = runs["amazon-all-orders"]
    run.refresh_from_db()
    assert run.state == m.RunState.FAILED
    assert run.error == "the connection dropped mid-document"
    assert run.rows == 5
    stored = m.OrderLine.objects.filter(order__account=connection.account).count()
    assert 0 < run.imported <= 5 and run.imported + run.rejected <= run.rows
    assert stored >= 1
    # The other reports went on.
    assert runs["amazon-fba-shipments"].state == m.RunState.DONE


def test_a_lease_lost_while_amazon_made_the_report_stops_the_sync_before_the_import(
    amazon_api, connection, monkeypatch
):
    answers = iter([True, False])  # renewed before the report, lost once Amazon has made it
    monkeypatch.setattr(spapi._Lease, "renew", lambda self: next(answers))

    runs = spapi.sync_connection(connection_id=connection.pk)

    assert [(run.state, run.error) for run in runs] == [
        (m.RunState.FAILED, "stopped: another sync took this connection over")
    ]
    assert amazon_api.calls["getReportDocument"] == 0
    assert not m.Order.objects.exists()


class InPlace:
    """`ReadAhead` without its thread: the rows are read in the importer's own thread."""

    def __init__(self, items: Any, **options: Any) -> None:
        self.items = items

    def __iter__(self) -> Iterator[Any]:
        return iter(self.items)

    def waiting(self) -> nullcontext[None]:
        return nullcontext()

    def __enter__(self) -> InPlace:
        return self

    def __exit__(self, *exc: object) -> None:
        return None


def a_minute_per_row(
    clock: Any, monkeypatch: pytest.MonkeyPatch, after_row: dict[int, Callable[[], None]], batch_size: int = 2
) -> None:
    """The All Orders report's import takes a minute per row (the clock moves on), and after
    the rows numbered in `after_row` something else happens meanwhile; batches of `batch_size`.
    The rows are read in the importer's own thread here (no read-ahead thread), so that the
    minutes pass, and the things happen, between its batches as a slow import's would."""
    real_parse = spapi.parse_report
    real_import = spapi.import_orders
    monkeypatch.setattr(orders, "ReadAhead", InPlace)
    monkeypatch.setattr(spapi, "import_orders", lambda **kwargs: real_import(**kwargs, batch_size=batch_size))

    def slow(stream: Any, fmt: Any, **kwargs: Any) -> Any:
        rows = real_parse(stream, fmt, **kwargs)
        if fmt.name != "amazon-all-orders":
            return rows

        def minute_each() -> Iterator[Any]:
            for number, row in enumerate(rows, start=1):
                clock.shift(timedelta(minutes=1))
                yield row
                if number in after_row:
                    after_row[number]()

        return ParsedReport(minute_each(), rows.columns, rows.fmt)

    monkeypatch.setattr(spapi, "parse_report", slow)


def test_an_import_that_outlasts_the_lease_renews_it_so_a_second_sync_cannot_start(
    amazon_api, connection, monkeypatch
):
    # A lease of 90 seconds (the report timeout of 30 and 60 for the import), renewed between
    # batches of one order (a row or two); five rows in, the import has run five minutes and a
    # second sync is asked for.
    monkeypatch.setattr(spapi, "LEASE_IMPORT_SECONDS", 60)
    monkeypatch.setattr(spapi, "LEASE_RENEW_ROWS", 1)
    second: list[list[m.ConnectorRun]] = []
    with time_machine.travel(timezone.now(), tick=False) as clock:
        attempt = lambda: second.append(spapi.sync_connection(connection_id=connection.pk, force=True))  # noqa: E731
        a_minute_per_row(clock, monkeypatch, {5: attempt}, batch_size=1)

        runs = spapi.sync_connection(connection_id=connection.pk)
        ended = timezone.now()

    assert second == [[]]  # the connection was still leased to the first sync
    assert [run.state for run in runs] == [m.RunState.DONE] * len(runs)
    assert runs[0].format == "amazon-all-orders"
    assert (runs[0].rows, runs[0].imported) == expected_counts(connection.account, "amazon-all-orders")[:2]
    connection.refresh_from_db()
    assert connection.lease_until is None and connection.last_sync_ok is True
    assert ended - connection.last_sync_at < timezone.timedelta(seconds=1)


def test_a_lease_taken_over_during_a_long_import_stops_it_after_the_batches_it_stored(
    amazon_api, connection, monkeypatch
):
    monkeypatch.setattr(spapi, "LEASE_RENEW_ROWS", 1)  # renewed between every two batches
    other = timezone.now() + timezone.timedelta(hours=2)
    take_over = lambda: m.AmazonConnection.objects.filter(pk=connection.pk).update(lease_until=other)  # noqa: E731
    with time_machine.travel(timezone.now(), tick=False) as clock:
        a_minute_per_row(clock, monkeypatch, {3: take_over})

        runs = spapi.sync_connection(connection_id=connection.pk)

    [run] = runs
    run.refresh_from_db()
    assert (run.state, run.error) == (m.RunState.FAILED, "stopped: another sync took this connection over")
    # The first renewal after the takeover (between two batches) found the lease taken: the
    # import stopped there, before the report's last batch was stored.
    assert run.imported < expected_counts(connection.account, "amazon-all-orders")[1]
    assert run.imported >= 1 and m.Order.objects.filter(account=connection.account).exists()
    connection.refresh_from_db()
    assert (connection.lease_until, connection.last_sync_at) == (other, None)


def test_the_sync_pauses_the_collector_while_it_imports(amazon_api, connection, monkeypatch):
    """A Celery worker's task runs alone in its process: the import may pause the cycle collector
    (the API upload may not: tests/orders/test_collector.py)."""
    real_import = spapi.import_orders
    asked: list[object] = []

    def watched(**kwargs: Any) -> Any:
        asked.append(kwargs.get("own_process"))
        return real_import(**kwargs)

    monkeypatch.setattr(spapi, "import_orders", watched)

    spapi.sync_connection(connection_id=connection.pk)

    assert asked and all(pause is True for pause in asked)
