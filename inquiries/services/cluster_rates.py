"""Rate clusters: a product's complaints per unit sold, a carrier's delivery complaints per shipment
(issue 21, point 5), and one incident as one cluster.

Run by the cluster sweep (`complaints.sweep_clusters`), once per account and sweep, with grouped
counts over the whole account: a handful of queries per account whatever its number of orders,
then a few per flagged product or carrier. As of `now`, over the rate window W
(CSTRACKER_CLUSTER_RATE_WINDOW_DAYS, 30 days), the interval (now - W, now]:

- **per SKU**: the numerator counts *signals* about the SKU: complaint inquiries opened in the
  window (with that SKU, or without a SKU and linked to an order containing it), returns of it
  requested (else received) in the window with a complaint reason code, and negative feedback
  (1-2 stars, not removed) left in the window on an order containing it. An order counts once
  however many signals it has (a message, a return and a feedback about one order are one
  complaint); a complaint inquiry with the SKU but no linked order counts on its own. The
  denominator is the units sold: order line quantities of orders purchased in the window,
  cancelled orders left out.
- **per carrier, service and warehouse**: delivery complaints (topics filed under the delivery
  health category: late or no delivery, damaged in transit) opened in the window and linked to an
  order, and returns blaming the carrier, counted once per order and per shipment triple of that
  order; over the shipments of that triple shipped in the window.

A product or carrier at or above the threshold (the account's, else the setting), with at least
the minimum units and CSTRACKER_CLUSTER_MIN_COMPLAINTS complaints, opens a cluster; its figures
are recomputed on every sweep until someone resolves it. The rates are house indicators: they are
ours, not a marketplace's, and the pages say so.
"""

from __future__ import annotations

import hashlib
import itertools
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import EmptyResultSet
from django.db import connection, transaction
from django.db.models import (
    BigIntegerField,
    Count,
    F,
    IntegerField,
    Max,
    Min,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
)
from django.db.models.functions import Coalesce
from django.utils import timezone

from inquiries.complaints.rates import complaint_reasons, rate_test
from inquiries.complaints.titles import top_terms
from inquiries.models import (
    ACTIVE_CLUSTER_STATES,
    RATE_CLUSTER_KINDS,
    Account,
    Cluster,
    ClusterEventKind,
    ClusterKind,
    ClusterMember,
    ClusterState,
    Direction,
    Feedback,
    Inquiry,
    Message,
    OrderLine,
    OrderStatus,
    Polarity,
    Return,
    Severity,
    Shipment,
    Topic,
)
from inquiries.services import cluster_base as core

# The sources of a signal, as counted in `Cluster.signals`.
INQUIRY, RETURN, FEEDBACK = 1, 2, 3
SOURCE_NAMES = {INQUIRY: "inquiries", RETURN: "returns", FEEDBACK: "feedback"}
# Texts read to say what customers say about a flagged product or carrier (up to 3x this).
SAID_TEXTS = 50
SAID_TERMS = 2
TEXT_CHARS = 1000


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


def _window(inquiries: QuerySet[Inquiry], start: datetime, end: datetime) -> QuerySet[Inquiry]:
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


def _returns_in_window(account_id: int, start: datetime, end: datetime) -> QuerySet[Return]:
    return (
        Return.objects.filter(order__account_id=account_id)
        .annotate(signal_at=Coalesce("requested_at", "received_at"))
        .filter(signal_at__gt=start, signal_at__lte=end)
    )


def _negative_feedback(account_id: int, start: datetime, end: datetime) -> QuerySet[Feedback]:
    return Feedback.objects.filter(
        order__account_id=account_id,
        polarity=Polarity.NEGATIVE,
        removed=False,
        left_at__gt=start,
        left_at__lte=end,
    )


def _reason_codes(account_id: int, start: datetime, end: datetime) -> tuple[list[str], list[str]]:
    codes = _returns_in_window(account_id, start, end).values_list("reason_code", flat=True).distinct()
    return complaint_reasons(codes.order_by())


def sku_rates(*, account: Account, now: datetime, window: timedelta) -> dict[str, Rate]:
    """Complaint signals and units sold per SKU in (now - window, now]: four queries."""
    start = now - window
    complaint_topics = list(Topic.objects.filter(is_complaint=True).values_list("pk", flat=True))
    complaints = _window(Inquiry.objects.filter(account=account, topic_id__in=complaint_topics), start, now)
    complaint_codes, _ = _reason_codes(account.pk, start, now)
    returns = _returns_in_window(account.pk, start, now).filter(reason_code__in=complaint_codes)
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
        _negative_feedback(account.pk, start, now).values(
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
    complaints = _window(
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
        _returns_in_window(account.pk, start, now)
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


# --- the sweep's step ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RateSweepResult:
    opened: int = 0
    refreshed: int = 0


def sweep_rates(*, now: datetime | None = None) -> RateSweepResult:
    """Test every product and carrier of every account against its rate threshold; open the
    clusters now due and recompute the active ones. Safe to run concurrently (a lock per key).

    Per account: the grouped counts, then the evidence of every flagged or active product and
    route at once (members and texts: four queries for products, two for routes), then a few
    queries per cluster written."""
    now = now or timezone.now()
    opened = refreshed = 0
    for account in Account.objects.all():
        config = RateConfig.for_account(account)
        start = now - config.window
        active = {
            (kind, sku, signature)
            for kind, sku, signature in Cluster.objects.active()
            .filter(account=account, kind__in=RATE_CLUSTER_KINDS)
            .values_list("kind", "sku", "signature")
        }
        products = {
            sku: rate
            for sku, rate in sku_rates(account=account, now=now, window=config.window).items()
            if (ClusterKind.SKU_RATE, sku, "") in active or _flagged(rate, config)
        }
        routes = {
            route: rate
            for route, rate in carrier_rates(account=account, now=now, window=config.window).items()
            if (ClusterKind.CARRIER_RATE, "", route_signature(route)) in active or _flagged(rate, config)
        }
        writes = [
            (_Target(kind=ClusterKind.SKU_RATE, sku=sku), rate, evidence)
            for (sku, rate), evidence in zip(
                products.items(), _product_evidence(account, list(products), start, now), strict=True
            )
        ] + [
            (_Target(kind=ClusterKind.CARRIER_RATE, route=route), rate, evidence)
            for (route, rate), evidence in zip(
                routes.items(), _route_evidence(account, list(routes), start, now), strict=True
            )
        ]
        for target, rate, evidence in writes:
            opened += _write(account, target, rate, evidence, config=config, now=now)
            refreshed += 1
            active.discard((target.kind, target.sku, target.signature))
        # Active clusters with no signal and no sales left in the window: their figures go to 0.
        for kind, sku, signature in sorted(active):
            target = _Target(kind=kind, sku=sku, signature_=signature)
            _write(account, target, Rate(), Evidence(), config=config, now=now)
            refreshed += 1
    return RateSweepResult(opened=opened, refreshed=refreshed)


@dataclass(slots=True)
class Evidence:
    """A product's or route's complaint inquiries in the window, and what customers wrote."""

    members: list[int] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)

    def add(self, pk: int | None, text: str) -> None:
        if pk is not None:
            self.members.append(pk)
        if text and len(self.texts) < SAID_TEXTS * 3:
            self.texts.append(text)


def _opening_text() -> Subquery:
    """An inquiry's subject and the start of its opening customer message."""
    first = Message.objects.filter(
        inquiry=OuterRef("pk"), direction=Direction.INBOUND, automatic=False
    ).order_by("received_at", "id")
    return Subquery(first.values("body_text")[:1])


def _product_evidence(account: Account, skus: list[str], start: datetime, end: datetime) -> list[Evidence]:
    """`_member_inquiries` and `_texts` for many products at once (in `skus` order)."""
    found = {sku: Evidence() for sku in skus}
    if not skus:
        return []
    complaint_topics = Topic.objects.filter(is_complaint=True).values("pk")
    complaints = _window(
        Inquiry.objects.filter(account=account, topic__in=complaint_topics), start, end
    ).annotate(opening=_opening_text())
    rows = itertools.chain(
        complaints.filter(sku__in=skus).values_list("sku", "pk", "subject", "opening"),
        complaints.filter(sku="", linked_order__lines__sku__in=skus).values_list(
            "linked_order__lines__sku", "pk", "subject", "opening"
        ),
    )
    for sku, pk, subject, opening in rows:
        found[sku].add(pk, f"{subject} {(opening or '')[:TEXT_CHARS]}")
    comments = _returns_in_window(account.pk, start, end).exclude(buyer_comment="")
    feedback = _negative_feedback(account.pk, start, end).exclude(text="")
    texts = itertools.chain(
        comments.filter(sku__in=skus).values_list("sku", "buyer_comment"),
        comments.filter(sku="", order__lines__sku__in=skus).values_list("order__lines__sku", "buyer_comment"),
        feedback.filter(order__lines__sku__in=skus).values_list("order__lines__sku", "text"),
    )
    for sku, text in texts:
        found[sku].add(None, text[:TEXT_CHARS])
    return [found[sku] for sku in skus]


def _route_evidence(account: Account, routes: list[Route], start: datetime, end: datetime) -> list[Evidence]:
    """The same for carrier routes: delivery complaints and the comments of returns blaming the carrier."""
    found = {route: Evidence() for route in routes}
    if not routes:
        return []
    carriers = {carrier for carrier, _, _ in routes}
    delivery_topics = Topic.objects.filter(is_complaint=True, health_category=Topic.HealthCategory.DELIVERY)
    complaints = _window(
        Inquiry.objects.filter(
            account=account,
            topic__in=delivery_topics.values("pk"),
            linked_order__shipments__carrier__in=carriers,
        ),
        start,
        end,
    ).annotate(opening=_opening_text())
    shipment = ["linked_order__shipments__carrier", "linked_order__shipments__service"]
    for carrier, service, warehouse, pk, subject, opening in complaints.values_list(
        *shipment, "linked_order__shipments__warehouse", "pk", "subject", "opening"
    ):
        if (carrier, service, warehouse) in found:
            found[(carrier, service, warehouse)].add(pk, f"{subject} {(opening or '')[:TEXT_CHARS]}")
    comments = (
        _returns_in_window(account.pk, start, end)
        .exclude(buyer_comment="")
        .filter(order__shipments__carrier__in=carriers)
        .values_list(
            "order__shipments__carrier",
            "order__shipments__service",
            "order__shipments__warehouse",
            "buyer_comment",
        )
    )
    for carrier, service, warehouse, text in comments:
        if (carrier, service, warehouse) in found:
            found[(carrier, service, warehouse)].add(None, text[:TEXT_CHARS])
    return [found[route] for route in routes]


def _flagged(rate: Rate, config: RateConfig) -> bool:
    return rate_test(
        rate.numerator,
        rate.denominator,
        threshold=config.threshold,
        min_units=config.min_units,
        min_complaints=config.min_complaints,
    ).flagged


@dataclass(frozen=True, slots=True)
class _Target:
    """Which rate cluster: a product's (`sku`) or a carrier's (`route`)."""

    kind: str
    sku: str = ""
    route: Route | None = None
    signature_: str = ""

    @property
    def signature(self) -> str:
        return route_signature(self.route) if self.route is not None else self.signature_

    def filter(self, account_id: int) -> dict[str, object]:
        return {"account_id": account_id, "kind": self.kind, "sku": self.sku, "signature": self.signature}


def _write(
    account: Account, target: _Target, rate: Rate, evidence: Evidence, *, config: RateConfig, now: datetime
) -> int:
    """Open or refresh one rate cluster; returns 1 if it was opened."""
    events = core.Events()
    with transaction.atomic():
        core.lock_key(core.Key(account.pk, 0, target.sku, target.kind, target.signature))
        cluster = (
            Cluster.objects.select_for_update()
            .filter(**target.filter(account.pk), state__in=ACTIVE_CLUSTER_STATES)
            .first()
        )
        created = cluster is None
        if cluster is None:
            if not _flagged(rate, config):  # resolved meanwhile, and nothing to open again
                return 0
            route = target.route or ("", "", "")
            cluster = Cluster.objects.create(
                **target.filter(account.pk),
                topic=None,
                carrier=route[0],
                service=route[1],
                warehouse=route[2],
                first_seen=now,
                last_seen=now,
            )
        if evidence.members:
            core.add_members(cluster, Inquiry.objects.filter(pk__in=evidence.members))
        before = cluster.severity
        _set_figures(cluster, rate, config=config, now=now)
        if evidence.texts:  # a window with no words keeps what customers said before
            cluster.said = ", ".join(top_terms(evidence.texts, count=SAID_TERMS))
        cluster.save()
        if created:
            events.add(
                cluster, ClusterEventKind.OPENED, now, {**core.summary(cluster), **_rate_facts(cluster)}
            )
        elif cluster.severity > before:
            change = {
                "from": core.fact(Severity(before).label),
                "to": core.fact(cluster.get_severity_display()),
            }
            events.add(cluster, ClusterEventKind.ESCALATED, now, {**change, **_rate_facts(cluster)})
        events.queue()
    return int(created)


def _set_figures(cluster: Cluster, rate: Rate, *, config: RateConfig, now: datetime) -> None:
    facts = cluster.members.aggregate(
        members=Count("id"),
        customers=Count("inquiry__customer_id", distinct=True),
        first=Min("opened_at"),
        last=Max("opened_at"),
        window=Count("id", filter=Q(opened_at__gt=now - config.window, opened_at__lte=now)),
    )
    result = rate_test(
        rate.numerator,
        rate.denominator,
        threshold=config.threshold,
        min_units=config.min_units,
        min_complaints=config.min_complaints,
    )
    cluster.member_count = facts["members"]
    cluster.customer_count = facts["customers"]
    cluster.first_seen = facts["first"] or cluster.first_seen
    cluster.last_seen = facts["last"] or cluster.last_seen
    cluster.window_count = facts["window"]
    cluster.rate_numerator = rate.numerator
    cluster.rate_denominator = rate.denominator
    cluster.rate_threshold = config.threshold
    cluster.rate_window_days = config.window.days
    cluster.signals = {name: rate.signals.get(name, 0) for name in SOURCE_NAMES.values()}
    cluster.severity = core.SEVERITY_BY_NAME[result.severity]
    cluster.updated_at = now


def _rate_facts(cluster: Cluster) -> dict[str, object]:
    return {
        "numerator": cluster.rate_numerator,
        "denominator": cluster.rate_denominator,
        "threshold": cluster.rate_threshold,
        "window_days": cluster.rate_window_days,
    }


# --- one incident, one cluster --------------------------------------------------------------------

# Which cluster an incident is shown and handled as, most specific first: the product's rate,
# the product's burst, the carrier's rate; near-identical texts join whichever they share with.
PRIMARY_RANK: dict[str, int] = {ClusterKind.SKU_RATE: 0, ClusterKind.BURST: 1, ClusterKind.CARRIER_RATE: 2}


def merge_incidents(*, now: datetime | None = None, clusters: list[int] | None = None) -> int:
    """Merge active clusters that share member complaints into one incident; returns how many
    were merged. A near-identical-text cluster joins the product's or carrier's cluster it shares
    a complaint with, and a burst joins the same product's rate cluster. The merged cluster keeps
    its members and history; lists show only the cluster it is merged into, which names the
    product or carrier, and resolving that one resolves it too. One query finds the complaints
    in more than one cluster (few), whatever the number of members. With `clusters`, only those
    clusters are looked at (the ones a new complaint just joined)."""
    now = now or timezone.now()
    live = ClusterMember.objects.filter(
        cluster__state__in=ACTIVE_CLUSTER_STATES, cluster__merged_into__isnull=True
    ).order_by()
    if clusters is not None:
        live = live.filter(cluster_id__in=clusters)
    shared = live.values("inquiry_id").annotate(clusters=Count("cluster_id")).filter(clusters__gt=1)
    by_inquiry: dict[int, list[tuple[int, str, str, int]]] = {}
    for inquiry_id, pk, kind, sku, account_id in live.filter(
        inquiry_id__in=shared.values("inquiry_id")
    ).values_list("inquiry_id", "cluster_id", "cluster__kind", "cluster__sku", "cluster__account_id"):
        by_inquiry.setdefault(inquiry_id, []).append((pk, kind, sku, account_id))
    into: dict[int, tuple[int, int]] = {}  # merged cluster -> (rank, primary)
    for sharing in by_inquiry.values():
        for (pk, kind, sku, account_id), (
            other,
            other_kind,
            other_sku,
            other_account,
        ) in itertools.permutations(sharing, 2):
            if other_kind not in PRIMARY_RANK or account_id != other_account:
                continue
            joins = kind == ClusterKind.NEAR_DUPLICATE or (
                kind == ClusterKind.BURST and other_kind == ClusterKind.SKU_RATE and sku == other_sku
            )
            if joins:
                candidate = (PRIMARY_RANK[other_kind], other)
                into[pk] = min(into.get(pk, candidate), candidate)
    merged = 0
    for pk, (_, primary) in sorted(into.items()):
        # A primary that is itself merged this round (a burst into its product's rate cluster)
        # hands its followers on to its own primary.
        while primary in into:
            primary = into[primary][1]
        merged += _merge(pk, primary, now)
    return merged


def _merge(pk: int, primary_pk: int, now: datetime) -> int:
    events = core.Events()
    with transaction.atomic():
        clusters = {
            cluster.pk: cluster
            for cluster in Cluster.objects.select_for_update().filter(
                pk__in=[pk, primary_pk], state__in=ACTIVE_CLUSTER_STATES
            )
        }
        cluster, primary = clusters.get(pk), clusters.get(primary_pk)
        if cluster is None or primary is None or cluster.merged_into_id is not None:
            return 0
        cluster.merged_into = primary
        cluster.save(update_fields=["merged_into"])
        events.add(cluster, ClusterEventKind.MERGED, now, {"into": primary.pk, "kind": primary.kind})
        events.add(primary, ClusterEventKind.MERGED, now, {"merged": cluster.pk, "kind": cluster.kind})
        events.queue()
    return 1


def resolve_merged(*, cluster: Cluster, now: datetime, note: str) -> list[int]:
    """Resolve the active clusters merged into `cluster` (in the caller's transaction)."""
    merged = list(
        Cluster.objects.select_for_update().filter(merged_into=cluster, state__in=ACTIVE_CLUSTER_STATES)
    )
    events = core.Events()
    for other in merged:
        previous = other.state
        other.state = ClusterState.RESOLVED
        other.resolved_at = other.updated_at = now
        other.save(update_fields=["state", "resolved_at", "updated_at"])
        events.add(
            other, ClusterEventKind.RESOLVED, now, {"from": previous, "note": note, "with": cluster.pk}
        )
    events.queue()
    return [other.pk for other in merged]
