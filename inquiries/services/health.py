"""Writes for account health: daily snapshots and order volumes.

Snapshots are idempotent per (account, local date): `update_or_create` under the
unique constraint, so beat running twice, or a task retried, rewrites the same row.
A day's snapshot is computed as of the end of that local day, or as of now for today
(the hourly refresh); a snapshot written during its own day is recomputed once the day
is over.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from django.db import transaction
from django.utils import timezone

from inquiries.health.dates import day_bounds, local_date
from inquiries.health.orders import RowError, VolumeRow
from inquiries.models import Account, HealthSnapshot, OrderVolume
from inquiries.selectors.health.metrics import rules_for
from inquiries.selectors.health.order_metrics import AccountHealth, account_health_with_orders

HISTORY_DAYS = 90


def write_snapshot(*, account: Account, day: date, now: datetime | None = None) -> HealthSnapshot:
    """Compute and store one day's health numbers for an account (as of the day's end, or now)."""
    now = now or timezone.now()
    start, end = day_bounds(day, account.timezone)
    if start >= now:
        raise ValueError(f"{day} has not started yet in {account.timezone}")
    as_of = min(end, now).astimezone(UTC)
    health = account_health_with_orders(account, as_of, reasons=False)
    snapshot, _ = HealthSnapshot.objects.update_or_create(
        account=account,
        date=day,
        defaults={
            "as_of": as_of,
            # Decided by the marketplace's metrics (house indicators never decide it).
            "status": health.status.value,
            "metrics": snapshot_metrics(health),
            "computed_at": now,
        },
    )
    return snapshot


def snapshot_metrics(health: AccountHealth) -> list[dict]:
    """The numbers kept per day: every message metric, then each marketplace metric from orders."""
    kept = [metric.as_dict() for metric in health.report.metrics]
    kept += [
        {
            "key": f.key,
            "value": f.value,
            "target": f.definition.target,
            "status": f.status.value,
            "numerator": f.counts.numerator,
            "denominator": f.counts.denominator,
        }
        for f in health.figures
    ]
    return kept


def refresh_today(*, now: datetime | None = None, account_ids: Iterable[int] | None = None) -> int:
    """The hourly refresh: today's snapshot of every active account, as of now."""
    now = now or timezone.now()
    written = 0
    for account in _accounts(account_ids):
        write_snapshot(account=account, day=local_date(now, account.timezone), now=now)
        written += 1
    return written


@dataclass(frozen=True)
class SnapshotFill:
    written: int
    done: bool  # False: the time budget ran out with days still missing


def snapshot_missing_days(
    *,
    now: datetime | None = None,
    days: int = HISTORY_DAYS,
    account_ids: Iterable[int] | None = None,
    budget_seconds: float | None = None,
) -> SnapshotFill:
    """The daily job: fill every finished day of the last `days` that has no final snapshot.

    A day is final once its snapshot was computed as of the day's end; days written by the
    hourly refresh while they were still running are recomputed. Safe to run at any hour
    and any number of times. Newest days first, each in its own short transaction; with a
    `budget_seconds` it stops after the day that used it up (the caller continues later), so
    a fresh database's 90-day backfill never holds the database for long at a time.
    """
    now = now or timezone.now()
    deadline = None if budget_seconds is None else time.monotonic() + budget_seconds
    written = 0
    for account in _accounts(account_ids):
        today = local_date(now, account.timezone)
        first = today - timedelta(days=days)
        final = {
            day
            for day, as_of in HealthSnapshot.objects.filter(
                account=account, date__gte=first, date__lt=today
            ).values_list("date", "as_of")
            if as_of >= day_bounds(day, account.timezone)[1]
        }
        for offset in range(1, days + 1):
            day = today - timedelta(days=offset)
            if day in final:
                continue
            # At least one day per call, so that a continuation always moves on.
            if written and deadline is not None and time.monotonic() >= deadline:
                return SnapshotFill(written=written, done=False)
            write_snapshot(account=account, day=day, now=now)
            written += 1
    return SnapshotFill(written=written, done=True)


def backfill(*, account: Account, first: date, last: date, now: datetime | None = None) -> int:
    """Recompute every day from `first` to `last` (inclusive) for one account."""
    now = now or timezone.now()
    rules_for(account)  # fail early on a broken preset, before writing anything
    written = 0
    day = first
    while day <= last:
        write_snapshot(account=account, day=day, now=now)
        written += 1
        day += timedelta(days=1)
    return written


def _accounts(account_ids: Iterable[int] | None) -> list[Account]:
    accounts = Account.objects.filter(is_active=True).order_by("pk")
    if account_ids is not None:
        accounts = accounts.filter(pk__in=list(account_ids))
    return list(accounts)


# --- order volumes ------------------------------------------------------------------------


@dataclass
class VolumeResult:
    created: int = 0
    updated: int = 0
    errors: list[RowError] = field(default_factory=list)


def save_order_volumes(
    *, account: Account, volumes: Sequence[tuple[date, int]], now: datetime | None = None
) -> VolumeResult:
    """Insert or replace the account's orders for each day; one transaction, idempotent."""
    now = now or timezone.now()
    result = VolumeResult()
    with transaction.atomic():
        existing = set(
            OrderVolume.objects.filter(account=account, date__in=[d for d, _ in volumes]).values_list(
                "date", flat=True
            )
        )
        for day, orders in volumes:
            OrderVolume.objects.update_or_create(
                account=account, date=day, defaults={"orders": orders, "updated_at": now}
            )
            if day in existing:
                result.updated += 1
            else:
                result.created += 1
    return result


def import_order_volumes(
    *, rows: Sequence[VolumeRow], errors: Sequence[RowError] = (), save_valid: bool = False
) -> VolumeResult:
    """Save parsed CSV rows, resolving each account by id or exact name.

    With any error (parse errors passed in, or unknown accounts) nothing is saved unless
    `save_valid` is set, so a fixed file can simply be imported again.
    """
    result = VolumeResult(errors=list(errors))
    accounts = _resolve_accounts({row.account for row in rows})
    per_account: dict[int, list[tuple[date, int]]] = {}
    for row in rows:
        account = accounts.get(row.account)
        if account is None:
            result.errors.append(RowError(row.line, _unknown_account(row.account)))
            continue
        per_account.setdefault(account.pk, []).append((row.date, row.orders))
    result.errors.sort(key=lambda e: e.line)
    if result.errors and not save_valid:
        return result
    by_id = {a.pk: a for a in accounts.values() if a is not None}
    with transaction.atomic():
        for account_id, volumes in per_account.items():
            saved = save_order_volumes(account=by_id[account_id], volumes=volumes)
            result.created += saved.created
            result.updated += saved.updated
    return result


def _resolve_accounts(references: set[str]) -> dict[str, Account]:
    ids = {int(r) for r in references if r.isdigit()}
    names = {r for r in references if not r.isdigit()}
    found: dict[str, Account] = {}
    for account in Account.objects.filter(pk__in=ids):
        found[str(account.pk)] = account
    by_name: dict[str, list[Account]] = {}
    for account in Account.objects.filter(name__in=names):
        by_name.setdefault(account.name, []).append(account)
    for name, matches in by_name.items():
        if len(matches) == 1:  # an ambiguous name is refused: the id says which account
            found[name] = matches[0]
    return found


def _unknown_account(reference: str) -> str:
    if not reference.isdigit() and Account.objects.filter(name=reference).count() > 1:
        return f"account: several accounts are named {reference!r}; use the account id"
    return f"account: no account with id or name {reference!r}"
