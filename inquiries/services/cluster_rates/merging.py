"""One incident, one cluster: merging the clusters people say are the same incident into the
primary one, and resolving the merged ones with it.
"""

from __future__ import annotations

import itertools
from datetime import datetime

from django.db import transaction
from django.db.models import (
    Count,
)
from django.utils import timezone

from inquiries.models import (
    ACTIVE_CLUSTER_STATES,
    Cluster,
    ClusterEventKind,
    ClusterKind,
    ClusterMember,
    ClusterState,
)
from inquiries.services import cluster_base as core

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
