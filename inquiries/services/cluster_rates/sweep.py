"""The rate sweep: the products and carriers at or above their threshold open or refresh a
cluster, with the figures that name their definition and the evidence (returns, feedback,
customers' words) behind them.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import datetime

from django.db import transaction
from django.db.models import (
    Count,
    Max,
    Min,
    OuterRef,
    Q,
    Subquery,
)
from django.utils import timezone

from inquiries.complaints.rates import rate_test
from inquiries.complaints.titles import top_terms
from inquiries.models import (
    ACTIVE_CLUSTER_STATES,
    RATE_CLUSTER_KINDS,
    Account,
    Cluster,
    ClusterEventKind,
    ClusterKind,
    Direction,
    Inquiry,
    Message,
    Severity,
    Topic,
)
from inquiries.services import cluster_base as core
from inquiries.services.cluster_rates.counting import (
    SOURCE_NAMES,
    Rate,
    RateConfig,
    Route,
    carrier_rates,
    negative_feedback_between,
    opened_between,
    returns_between,
    route_signature,
    sku_rates,
)

# Texts read to say what customers say about a flagged product or carrier (up to 3x this).
SAID_TEXTS = 50
SAID_TERMS = 2
TEXT_CHARS = 1000


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
    complaints = opened_between(
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
    comments = returns_between(account.pk, start, end).exclude(buyer_comment="")
    feedback = negative_feedback_between(account.pk, start, end).exclude(text="")
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
    complaints = opened_between(
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
        returns_between(account.pk, start, end)
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
