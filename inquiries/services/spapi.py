"""Amazon's Selling Partner API: fetch an account's reports and hand them to the order importer.

Each due `AmazonConnection` (beat's `sync_marketplace_connections`, every 15 minutes, queues
one task per connection whose `next_sync_at` has come) fetches `REPORTS` in order: for each,
createReport, getReport until Amazon says DONE, getReportDocument, and the document streamed
(gzip undone on the fly) to a temporary file that the report's importer reads line by line,
as `manage.py import_orders` would. Every report fetched or tried is a `ConnectorRun`.

The client is python-amazon-sp-api (`sp_api`): it builds and parses Amazon's calls, streams a
document with its gzip undone, and its endpoint and token URL can be pointed at another
server (settings `CSTRACKER_SPAPI_ENDPOINT`, `CSTRACKER_LWA_TOKEN_URL`), which the tests do.
Retries are tenacity's: a throttled (429) or failed (5xx, network) call is tried again with
exponential backoff and jitter; a 403 "Unauthorized" (an expired or revoked
access token) gets a fresh token once, and is reported when the fresh one is refused too.
"""

from __future__ import annotations

import functools
import logging
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import httpx
from django.conf import settings
from django.db.models import Q
from django.utils import timezone
from sp_api.api import Reports
from sp_api.auth import AccessTokenClient, AccessTokenResponse
from sp_api.auth.exceptions import AuthorizationError
from sp_api.base import Marketplaces
from sp_api.base.credential_provider import FromCodeCredentialProvider
from sp_api.base.exceptions import (
    SellingApiException,
    SellingApiForbiddenException,
    SellingApiGatewayTimeoutException,
    SellingApiRequestThrottledException,
    SellingApiServerException,
    SellingApiTemporarilyUnavailableException,
)
from tenacity import (
    RetryError,
    Retrying,
    retry_if_exception,
    retry_if_result,
    stop_after_attempt,
    stop_after_delay,
    wait_exponential_jitter,
    wait_fixed,
)

from inquiries import secrets
from inquiries.ingestion.csv_import import Reading, open_csv
from inquiries.ingestion.order_reports import FORMATS, RowRejected, parse_report
from inquiries.models import AmazonConnection, ConnectorRun, RunState, SpApiRegion
from inquiries.services.orders import OrderImport, import_orders
from inquiries.services.queue import enqueue

logger = logging.getLogger(__name__)

T = TypeVar("T")

# Amazon's endpoints per region ("SP-API endpoints" in Amazon's developer guide).
ENDPOINTS = {
    SpApiRegion.NORTH_AMERICA: "https://sellingpartnerapi-na.amazon.com",
    SpApiRegion.EUROPE: "https://sellingpartnerapi-eu.amazon.com",
    SpApiRegion.FAR_EAST: "https://sellingpartnerapi-fe.amazon.com",
}
CONNECTOR = "amazon-sp-api"  # ConnectorRun.connector
REJECTIONS_KEPT = 20  # rejected lines written into a run's error, the first ones


@dataclass(frozen=True)
class ReportSpec:
    report_type: str  # Amazon's reportType
    format: str  # the import format (`FORMATS`) that reads its document
    dated: bool = True  # whether the request names a period (dataStartTime)


# The All Orders report first: it owns an order's facts, which the others then find.
REPORTS = (
    ReportSpec("GET_FLAT_FILE_ALL_ORDERS_DATA_BY_LAST_UPDATE_GENERAL", "amazon-all-orders"),
    ReportSpec("GET_AMAZON_FULFILLED_SHIPMENTS_DATA_GENERAL", "amazon-fba-shipments"),
    ReportSpec("GET_FBA_FULFILLMENT_CUSTOMER_RETURNS_DATA", "amazon-fba-returns"),
    ReportSpec("GET_FLAT_FILE_RETURNS_DATA_BY_RETURN_DATE", "amazon-mfn-returns"),
    ReportSpec("GET_SELLER_FEEDBACK_DATA", "amazon-feedback"),
    # Amazon's own figures, into MarketplaceMetric (`order_reports.amazon_performance`).
    ReportSpec("GET_V2_SELLER_PERFORMANCE_REPORT", "amazon-seller-performance", dated=False),
)
WAITING = ("IN_QUEUE", "IN_PROGRESS")


class ConnectorError(Exception):
    """A run that cannot go on; the message is for the admin and names no secret."""


class LeaseLost(ConnectorError):
    """Another sync took the connection over (this one held it past its lease): stop here."""

    def __init__(self) -> None:
        super().__init__("stopped: another sync took this connection over")


class _LoginWithAmazon(AccessTokenClient):
    """Login with Amazon at the configured token URL. The access token is kept for this
    connection's sync only (not in sp_api's process-wide cache), and `forget()` drops it when
    Amazon calls it expired."""

    def __init__(self, *, token_url: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.token_url = token_url
        self._token: dict[str, Any] | None = None

    def get_auth(self) -> AccessTokenResponse:
        if self._token is None:
            self._token = self._request(self.token_url, self.data, self.headers)
        return AccessTokenResponse(**self._token)

    def forget(self) -> None:
        self._token = None


def _transient(exc: BaseException) -> bool:
    """Throttled, a server's failure, or the network: worth another try after a wait."""
    if isinstance(exc, AuthorizationError):
        return exc.status_code == 429 or exc.status_code >= 500
    return isinstance(
        exc,
        SellingApiRequestThrottledException
        | SellingApiServerException
        | SellingApiTemporarilyUnavailableException
        | SellingApiGatewayTimeoutException
        | httpx.TransportError,
    )


def _token_refused(exc: SellingApiForbiddenException) -> bool:
    return getattr(exc, "amzn_code", None) == "Unauthorized"


class Session:
    """One connection's client, and its calls with backoff and one token refresh."""

    def __init__(self, connection: AmazonConnection) -> None:
        what = f"Amazon connection of {connection.account}"
        client_id = secrets.decrypt(connection.client_id_encrypted) if connection.client_id_encrypted else ""
        client_secret = (
            secrets.decrypt(connection.client_secret_encrypted) if connection.client_secret_encrypted else ""
        )
        refresh_token = (
            secrets.decrypt(connection.refresh_token_encrypted) if connection.refresh_token_encrypted else ""
        )
        missing = [
            name
            for name, value in (
                ("LWA client id", client_id),
                ("LWA client secret", client_secret),
                ("refresh token", refresh_token),
            )
            if not value
        ]
        if missing:
            raise ConnectorError(f"{what}: no {', '.join(missing)} stored (Admin → Amazon connections)")
        self.marketplace_ids = connection.marketplace_id_list
        if not self.marketplace_ids:
            raise ConnectorError(f"{what}: no marketplace id")
        self.client = Reports(
            Marketplaces.US,  # replaced below: the endpoint comes from the region or the settings
            refresh_token=refresh_token,
            credentials={"lwa_app_id": client_id, "lwa_client_secret": client_secret},
            credential_providers=(FromCodeCredentialProvider,),  # never the environment or ~/.config
            timeout=settings.CSTRACKER_SPAPI_TIMEOUT_SECONDS,
            auth_token_client_class=functools.partial(
                _LoginWithAmazon, token_url=settings.CSTRACKER_LWA_TOKEN_URL
            ),
        )
        self.client.endpoint = (
            settings.CSTRACKER_SPAPI_ENDPOINT.rstrip("/") or ENDPOINTS[SpApiRegion(connection.region)]
        )
        self.client.marketplace_id = self.marketplace_ids[0]

    def close(self) -> None:
        self.client.close()

    def call(self, function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """`function(*args, **kwargs)`, again after a throttled or failed answer (backoff), and
        once more with a fresh access token after Amazon refuses the one it had."""
        backoff = settings.CSTRACKER_SPAPI_BACKOFF_SECONDS
        retrying = Retrying(
            retry=retry_if_exception(_transient),
            wait=wait_exponential_jitter(multiplier=backoff, max=300, jitter=backoff),
            stop=stop_after_attempt(settings.CSTRACKER_SPAPI_ATTEMPTS),
            reraise=True,
        )
        try:
            return retrying(function, *args, **kwargs)
        except SellingApiForbiddenException as exc:
            if not _token_refused(exc):
                raise
            self.client._auth.forget()  # sp_api keeps its token client there; ours is _LoginWithAmazon
            logger.info("SP-API refused the access token; refreshing it once")
            return retrying(function, *args, **kwargs)

    def request_report(self, spec: ReportSpec, *, since: datetime) -> str:
        body: dict[str, Any] = {"reportType": spec.report_type, "marketplaceIds": self.marketplace_ids}
        if spec.dated:
            body["dataStartTime"] = since.isoformat()
        return str(self.call(self.client.create_report, **body).payload["reportId"])

    def wait_for(self, report_id: str) -> dict[str, Any]:
        """getReport until Amazon's processingStatus is no longer IN_QUEUE or IN_PROGRESS."""
        polling = Retrying(
            retry=retry_if_result(lambda report: report.get("processingStatus") in WAITING),
            wait=wait_fixed(settings.CSTRACKER_SPAPI_POLL_SECONDS),
            stop=stop_after_delay(settings.CSTRACKER_SPAPI_REPORT_TIMEOUT_SECONDS),
        )
        try:
            report: dict[str, Any] = polling(
                lambda: dict(self.call(self.client.get_report, report_id).payload)
            )
        except RetryError:
            raise ConnectorError(
                f"report {report_id} not done after {settings.CSTRACKER_SPAPI_REPORT_TIMEOUT_SECONDS} s"
            ) from None
        return report

    def download(self, document_id: str, target: Any) -> None:
        """The document into the binary file `target`, streamed, gzip undone as it comes."""

        def fetch() -> Any:
            target.seek(0)
            target.truncate()  # a retried download starts again from the first byte
            return self.client.get_report_document(document_id, file=target, stream=True)

        self.call(fetch)
        target.flush()


def connection_ids(*, due_at: datetime | None = None) -> list[int]:
    """The enabled connections of active accounts; with `due_at`, only those due by then."""
    connections = AmazonConnection.objects.filter(is_enabled=True, account__is_active=True)
    if due_at is not None:
        connections = connections.filter(Q(next_sync_at__isnull=True) | Q(next_sync_at__lte=due_at))
    return list(connections.order_by("pk").values_list("pk", flat=True))


def sweep(*, now: datetime | None = None) -> str:
    """Beat's entry point: queue one sync task per connection whose turn has come."""
    due = connection_ids(due_at=now or timezone.now())
    for pk in due:
        enqueue("sync_amazon_connection", pk)
    return f"amazon={len(due)}"


def sync_soon(*, connection_ids: list[int]) -> list[int]:
    """Make the connections due now and queue their syncs (the admin's "sync now")."""
    AmazonConnection.objects.filter(pk__in=connection_ids).update(next_sync_at=None)
    for pk in connection_ids:
        enqueue("sync_amazon_connection", pk)
    return connection_ids


def _lease_seconds() -> int:
    """How long a sync holds its connection: renewed before each report, again once Amazon has
    made it (so the download and import have their own half hour), and during the import every
    `LEASE_RENEW_ROWS` rows (so an import that alone takes longer keeps it too)."""
    return settings.CSTRACKER_SPAPI_REPORT_TIMEOUT_SECONDS + LEASE_IMPORT_SECONDS


# Time a lease leaves for importing one downloaded report, beyond waiting for Amazon to make it.
LEASE_IMPORT_SECONDS = 1800
# Rows read between two renewals of the lease while a report is imported (a batch of the
# importer): an import that alone outlasts the lease keeps it, at one UPDATE per renewal.
LEASE_RENEW_ROWS = 5000


@dataclass
class _Lease:
    """A sync's hold on its connection (`lease_until`), renewed report by report and row batch by
    row batch, so that a long sync never outlives it and a second sync never starts beside it."""

    connection_id: int
    until: datetime

    def renew(self) -> bool:
        """Extend the lease if it is still this sync's; False when another sync took it over."""
        until = timezone.now() + timedelta(seconds=_lease_seconds())
        held = AmazonConnection.objects.filter(pk=self.connection_id, lease_until=self.until)
        if not held.update(lease_until=until):
            return False
        self.until = until
        return True


def sync_connection(
    *, connection_id: int, now: datetime | None = None, force: bool = False
) -> list[ConnectorRun]:
    """Fetch and import the connection's reports, one `ConnectorRun` each; never raises for
    Amazon's or the document's faults (they are the runs' errors). Safe to run twice at once:
    a conditional UPDATE leases the connection to one sync."""
    now = now or timezone.now()
    connection = AmazonConnection.objects.select_related("account").filter(pk=connection_id).first()
    if connection is None or not connection.is_enabled:
        return []
    if not force and connection.next_sync_at is not None and connection.next_sync_at > now:
        return []
    # Free and (unless forced) still due, in the UPDATE itself: a sync that ended meanwhile has
    # moved the connection's next turn on.
    lease = _Lease(connection.pk, now + timedelta(seconds=_lease_seconds()))
    due = Q() if force else Q(next_sync_at__isnull=True) | Q(next_sync_at__lte=now)
    leased = (
        AmazonConnection.objects.filter(pk=connection.pk)
        .filter(Q(lease_until__isnull=True) | Q(lease_until__lt=now))
        .filter(due)
        .update(lease_until=lease.until)
    )
    if not leased:
        return []
    # Runs still "running" under a lease that has run out were cut short (a worker killed).
    ConnectorRun.objects.filter(
        account=connection.account, connector=CONNECTOR, state=RunState.RUNNING
    ).update(
        state=RunState.FAILED, finished_at=now, error="interrupted: the sync stopped before this report ended"
    )
    runs: list[ConnectorRun] = []
    completed = False
    try:
        _sync(connection, runs, lease, since=now - timedelta(days=connection.lookback_days))
        completed = True
    finally:
        failed = [run for run in runs if run.state == RunState.FAILED]
        summary = "; ".join(
            f"{run.format or run.report_type}: {run.state}"
            + (f" ({run.imported} imported, {run.rejected} rejected)" if run.state == RunState.DONE else "")
            for run in runs
        )
        # Only while the lease is still this sync's (one that outlived it leaves the next alone).
        AmazonConnection.objects.filter(pk=connection.pk, lease_until=lease.until).update(
            lease_until=None,
            last_sync_at=timezone.now(),
            last_sync_ok=completed and not failed,
            last_sync_summary=summary,
            next_sync_at=now + timedelta(hours=connection.sync_every_hours),
        )
    return runs


def _sync(connection: AmazonConnection, runs: list[ConnectorRun], lease: _Lease, *, since: datetime) -> None:
    try:
        session = Session(connection)
    except (ConnectorError, secrets.SecretError) as exc:
        runs.append(_failed_run(connection, REPORTS[0], str(exc)))
        return
    try:
        for spec in REPORTS:
            if not lease.renew():
                # Held longer than its lease (a stalled worker): the sync that took over goes on.
                runs.append(_failed_run(connection, spec, str(LeaseLost())))
                return
            run = ConnectorRun.objects.create(
                account=connection.account,
                connector=CONNECTOR,
                report_type=spec.report_type,
                format=spec.format,
                started_at=timezone.now(),
            )
            runs.append(run)
            if spec.format not in FORMATS:
                _finish(run, RunState.SKIPPED, error="no importer reads this report yet (docs/orders.md)")
                continue
            try:
                _fetch(session, connection, spec, run, lease, since=since)
            except AuthorizationError as exc:
                # Login with Amazon refused the app or the refresh token: every report would.
                _finish(
                    run, RunState.FAILED, error=f"Login with Amazon refused the credentials: {exc.error_code}"
                )
                return
            except SellingApiException as exc:
                status = getattr(exc, "code", "?")
                message = getattr(exc, "message", "") or type(exc).__name__
                _finish(run, RunState.FAILED, error=f"SP-API answered {status}: {message}")
            except LeaseLost as exc:  # the sync that took over fetches the rest
                _finish(run, RunState.FAILED, error=str(exc))
                return
            except (ConnectorError, ValueError, httpx.HTTPError) as exc:
                _finish(run, RunState.FAILED, error=str(exc) or type(exc).__name__)
            except Exception as exc:  # a bug here must not leave the run "running" for ever
                logger.exception("SP-API sync of %s, %s failed", connection.account, spec.report_type)
                _finish(run, RunState.FAILED, error=f"unexpected {type(exc).__name__}: {str(exc)[:300]}")
    finally:
        session.close()


def _fetch(
    session: Session,
    connection: AmazonConnection,
    spec: ReportSpec,
    run: ConnectorRun,
    lease: _Lease,
    *,
    since: datetime,
) -> None:
    run.report_id = session.request_report(spec, since=since)
    run.save(update_fields=["report_id"])
    report = session.wait_for(run.report_id)
    status = report.get("processingStatus")
    if status == "CANCELLED":
        # Amazon cancels a report that has no data for the period (its "processingStatus" doc).
        _finish(run, RunState.DONE, error="Amazon cancelled the report: no data for the period")
        return
    if status != "DONE":
        raise ConnectorError(f"Amazon could not make the report: processingStatus {status}")
    if not lease.renew():  # waiting for Amazon took the lease's time: the import gets its own
        raise LeaseLost
    run.document_id = str(report["reportDocumentId"])
    run.save(update_fields=["document_id"])
    fmt = FORMATS[spec.format]
    rejections: list[str] = []

    def rejected(line: int, rejection: RowRejected) -> None:
        if len(rejections) < REJECTIONS_KEPT:
            rejections.append(f"line {line}: {rejection.reason}")

    reading = Reading(dayfirst=connection.reads_dayfirst)
    progress = OrderImport(format=fmt.name, dry_run=False)
    try:
        with tempfile.NamedTemporaryFile(prefix="spapi-", suffix=".txt") as document:
            session.download(run.document_id, document)
            with open_csv(Path(document.name)) as stream:
                import_orders(
                    account=connection.account,
                    fmt=fmt,
                    rows=parse_report(stream, fmt, zone=connection.account.timezone, reading=reading),
                    on_rejected=rejected,
                    into=progress,
                    between_batches=_lease_keeper(lease),
                    # A Celery worker process runs one task at a time: the import may tune it.
                    own_process=True,
                )
    finally:
        # A report that fails part-way keeps the batches stored before the failure: the run
        # counts them (fetching it again completes it).
        run.rows, run.imported, run.rejected = progress.rows, progress.imported, progress.rejected
    _finish(run, RunState.DONE, error="\n".join(rejections))


def _lease_keeper(lease: _Lease) -> Callable[[OrderImport], None]:
    """Called by the importer between two batches: the lease renewed once `LEASE_RENEW_ROWS` more
    rows were read, so a report whose import alone outlasts the lease keeps the connection and the
    next sync cannot start beside it. It runs in the importer's thread, outside its batch
    transactions (the renewal commits at once, for the other syncs to see); a lease another sync
    took over raises `LeaseLost`, so the import stops after the batches it stored."""
    renewed_at = 0

    def keep(progress: OrderImport) -> None:
        nonlocal renewed_at
        if progress.rows - renewed_at < LEASE_RENEW_ROWS:
            return
        renewed_at = progress.rows
        if not lease.renew():
            raise LeaseLost

    return keep


def _finish(run: ConnectorRun, state: str, *, error: str = "") -> None:
    run.state, run.error, run.finished_at = state, error, timezone.now()
    run.save(update_fields=["state", "error", "finished_at", "rows", "imported", "rejected"])


def _failed_run(connection: AmazonConnection, spec: ReportSpec, error: str) -> ConnectorRun:
    now = timezone.now()
    return ConnectorRun.objects.create(
        account=connection.account,
        connector=CONNECTOR,
        report_type=spec.report_type,
        format=spec.format,
        started_at=now,
        finished_at=now,
        state=RunState.FAILED,
        error=error,
    )


def store_credentials(
    *, connection: AmazonConnection, client_id: str = "", client_secret: str = "", refresh_token: str = ""
) -> None:
    """Encrypt and set the credentials given (an empty one keeps what is stored); the caller saves."""
    for field, value in (
        ("client_id_encrypted", client_id),
        ("client_secret_encrypted", client_secret),
        ("refresh_token_encrypted", refresh_token),
    ):
        if value:
            setattr(connection, field, secrets.encrypt(value))
