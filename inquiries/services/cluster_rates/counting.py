"""Counting the rates: per SKU, signals over units sold; per carrier, service and warehouse,
delivery complaints over shipments; each signal counted once per order, over the rate window.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import EmptyResultSet
from django.db import connection
from django.db.models import (
    BigIntegerField,
    Count,
    F,
    IntegerField,
    QuerySet,
    Sum,
    Value,
)
from django.db.models.functions import Coalesce

from inquiries.complaints.rates import complaint_reasons
from inquiries.models import (
    Account,
    Feedback,
    Inquiry,
    OrderLine,
    OrderStatus,
    Polarity,
    Return,
    Shipment,
    Topic,
)

# The sources of a signal, as counted in `Cluster.signals`.
INQUIRY, RETURN, FEEDBACK = 1, 2, 3
SOURCE_NAMES = {INQUIRY: "inquiries", RETURN: "returns", FEEDBACK: "feedback"}


@dataclass(frozen=True, slots=True)
class RateConfig:
    window: timedelta
    threshold: float  # a fraction
    min_units: int
    min_complaints: int

    @classmethod
    def for_account(cls, account: Account) -> RateConfig:
        percent = account.cluster_rate_percent
        return cls(
            window=timedelta(days=settings.CSTRACKER_CLUSTER_RATE_WINDOW_DAYS),
            threshold=float(percent if percent is not None else settings.CSTRACKER_CLUSTER_RATE_PERCENT)
            / 100,
            min_units=account.cluster_rate_min_units or settings.CSTRACKER_CLUSTER_RATE_MIN_UNITS,
            min_complaints=settings.CSTRACKER_CLUSTER_MIN_COMPLAINTS,
        )


@dataclass(slots=True)
class Rate:
    """One product's (or carrier's) figures in the window."""

    numerator: int = 0
    denominator: int = 0
    signals: dict[str, int] = field(default_factory=dict)


# A carrier key: (carrier, service, warehouse).
Route = tuple[str, str, str]


def opened_between(inquiries: QuerySet[Inquiry], start: datetime, end: datetime) -> QuerySet[Inquiry]:
    return inquiries.filter(opened_at__gt=start, opened_at__lte=end)


def _signal_counts(
    parts: list[QuerySet], keys: list[str]
) -> dict[tuple[str, ...], tuple[int, dict[str, int]]]:
    """Group the signal rows of `parts` (each selecting `keys`, then `source` and `order_key`, in
    that order) by key: distinct order keys in all, and per source. One query."""
    sqls: list[str] = []
    params: list[Any] = []
    for part in parts:
        try:
            sql, part_params = part.order_by().query.sql_with_params()
        except EmptyResultSet:  # e.g. no reason code in the window is a complaint
            continue
        sqls.append(sql)
        params.extend(part_params)
    if not sqls:
        return {}
    columns = ", ".join(f"s.{key}" for key in keys)
    per_source = ", ".join(
        f"COUNT(DISTINCT CASE WHEN s.source = {source} THEN s.order_key END)" for source in SOURCE_NAMES
    )
    not_null = " AND ".join(f"s.{key} IS NOT NULL" for key in keys)
    union = " UNION ALL ".join(sqls)
    # Every value is a bound parameter of the ORM's own query texts; the rest are constants.
    query = (
        f"SELECT {columns}, COUNT(DISTINCT s.order_key), {per_source} "  # noqa: S608
        f"FROM ({union}) s WHERE {not_null} GROUP BY {columns}"
    )
    with connection.cursor() as cursor:
        cursor.execute(query, params)
        rows = cursor.fetchall()
    width = len(keys)
    return {
        tuple(row[:width]): (
            row[width],
            {name: row[width + 1 + n] for n, name in enumerate(SOURCE_NAMES.values())},
        )
        for row in rows
    }


def _source(value: int) -> Value:
    return Value(value, output_field=IntegerField())


def returns_between(account_id: int, start: datetime, end: datetime) -> QuerySet[Return]:
    return (
        Return.objects.filter(order__account_id=account_id)
        .annotate(signal_at=Coalesce("requested_at", "received_at"))
        .filter(signal_at__gt=start, signal_at__lte=end)
    )


def negative_feedback_between(account_id: int, start: datetime, end: datetime) -> QuerySet[Feedback]:
    return Feedback.objects.filter(
        order__account_id=account_id,
        polarity=Polarity.NEGATIVE,
        removed=False,
        left_at__gt=start,
        left_at__lte=end,
    )


def _reason_codes(account_id: int, start: datetime, end: datetime) -> tuple[list[str], list[str]]:
    codes = returns_between(account_id, start, end).values_list("reason_code", flat=True).distinct()
    return complaint_reasons(codes.order_by())


def sku_rates(*, account: Account, now: datetime, window: timedelta) -> dict[str, Rate]:
    """Complaint signals and units sold per SKU in (now - window, now]: four queries."""
    start = now - window
    complaint_topics = list(Topic.objects.filter(is_complaint=True).values_list("pk", flat=True))
    complaints = opened_between(
        Inquiry.objects.filter(account=account, topic_id__in=complaint_topics), start, now
    )
    complaint_codes, _ = _reason_codes(account.pk, start, now)
    returns = returns_between(account.pk, start, now).filter(reason_code__in=complaint_codes)
    parts = [
        complaints.exclude(sku="").values(
            key_sku=F("sku"),
            source=_source(INQUIRY),
            order_key=Coalesce("linked_order_id", -F("id"), output_field=BigIntegerField()),
        ),
        complaints.filter(sku="", linked_order__isnull=False).values(
            key_sku=F("linked_order__lines__sku"), source=_source(INQUIRY), order_key=F("linked_order_id")
        ),
        returns.exclude(sku="").values(key_sku=F("sku"), source=_source(RETURN), order_key=F("order_id")),
        returns.filter(sku="").values(
            key_sku=F("order__lines__sku"), source=_source(RETURN), order_key=F("order_id")
        ),
        negative_feedback_between(account.pk, start, now).values(
            key_sku=F("order__lines__sku"), source=_source(FEEDBACK), order_key=F("order_id")
        ),
    ]
    rates: dict[str, Rate] = {}
    for (sku,), (numerator, signals) in _signal_counts(parts, ["key_sku"]).items():
        rates[sku] = Rate(numerator=numerator, signals=signals)
    units = (
        OrderLine.objects.filter(
            order__account=account, order__purchased_at__gt=start, order__purchased_at__lte=now
        )
        .exclude(order__status=OrderStatus.CANCELLED)
        .values("sku")
        .annotate(units=Sum("quantity"))
        .order_by()
    )
    for row in units:
        rates.setdefault(row["sku"], Rate()).denominator = row["units"] or 0
    return rates


def carrier_rates(*, account: Account, now: datetime, window: timedelta) -> dict[Route, Rate]:
    """Delivery complaint signals and shipments per (carrier, service, warehouse): four queries."""
    start = now - window
    delivery_topics = list(
        Topic.objects.filter(is_complaint=True, health_category=Topic.HealthCategory.DELIVERY).values_list(
            "pk", flat=True
        )
    )
    complaints = opened_between(
        Inquiry.objects.filter(account=account, topic_id__in=delivery_topics, linked_order__isnull=False),
        start,
        now,
    )
    _, carrier_codes = _reason_codes(account.pk, start, now)
    parts = [
        complaints.values(
            route_carrier=F("linked_order__shipments__carrier"),
            route_service=F("linked_order__shipments__service"),
            route_warehouse=F("linked_order__shipments__warehouse"),
            source=_source(INQUIRY),
            order_key=F("linked_order_id"),
        ),
        returns_between(account.pk, start, now)
        .filter(reason_code__in=carrier_codes)
        .values(
            route_carrier=F("order__shipments__carrier"),
            route_service=F("order__shipments__service"),
            route_warehouse=F("order__shipments__warehouse"),
            source=_source(RETURN),
            order_key=F("order_id"),
        ),
    ]
    keys = ["carrier", "service", "warehouse"]
    rates: dict[Route, Rate] = {}
    for route, (numerator, signals) in _signal_counts(parts, [f"route_{key}" for key in keys]).items():
        rates[(route[0], route[1], route[2])] = Rate(numerator=numerator, signals=signals)
    shipped = (
        Shipment.objects.filter(order__account=account, shipped_at__gt=start, shipped_at__lte=now)
        .values(*keys)
        .annotate(shipments=Count("id"))
        .order_by()
    )
    for row in shipped:
        route = (row["carrier"], row["service"], row["warehouse"])
        rates.setdefault(route, Rate()).denominator = row["shipments"]
    return {route: rate for route, rate in rates.items() if any(route)}


def route_signature(route: Route) -> str:
    """What identifies a carrier cluster among the account's (the unique key's `signature`)."""
    return "route:" + hashlib.sha256("\x1f".join(route).encode()).hexdigest()[:40]
