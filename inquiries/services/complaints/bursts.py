"""Burst clusters: one account, topic and SKU whose count in the rolling window stands out
against its own previous weeks (`complaints.clusters.burst_test`: Poisson, p < ALPHA, at least
the minimum count). Also the cluster rows' refresh (`refresh_cluster`), shared with text clusters and
the sweep.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.db.models import Count, Max, Min, Q, QuerySet
from django.utils import timezone

from inquiries.complaints.clusters import burst_test
from inquiries.models import (
    ACTIVE_CLUSTER_STATES,
    Cluster,
    ClusterEventKind,
    ClusterKind,
    ClusterState,
    Inquiry,
    Severity,
)
from inquiries.services.cluster_base import (
    SEVERITY_BY_NAME,
    Events,
    Key,
    add_member,
    add_members,
    fact,
    lock_key,
    summary,
)
from inquiries.services.complaints.config import ALPHA, GROWTH_PERIOD, Config

# --- bursts ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BurstStats:
    flagged: bool
    window_count: int
    expected: float
    p_value: float
    severity: int


def _complaints(key: Key) -> QuerySet[Inquiry]:
    return Inquiry.objects.filter(account_id=key.account_id, topic_id=key.topic_id, sku=key.sku)


def burst_stats(key: Key, *, at: datetime, since: datetime, config: Config) -> BurstStats:
    """The burst test for `key` at `at`, counting the window from `since` (`at - window`, or
    later after a resolution), in one index-only range scan.

    The baseline is the weeks before the window (8 by default), but never longer than the
    account's recorded history: a product of an account that started sending us mail ten
    days ago has ten days of baseline, not 56 days of silence. It is at least as long as
    the window, so a brand-new account needs more complaints (5 rather than 3 in a week)
    before its first cluster.
    """
    baseline_end = at - config.window
    history = baseline_end - history_start(key.account_id, at)
    baseline_days = max(config.window.days, min(config.baseline.days, history.days))
    baseline_start = baseline_end - timedelta(days=baseline_days)
    counts = (
        _complaints(key)
        .filter(opened_at__gt=min(baseline_start, since), opened_at__lte=at)
        .aggregate(
            window=Count("pk", filter=Q(opened_at__gt=since)),
            baseline=Count("pk", filter=Q(opened_at__gt=baseline_start, opened_at__lte=baseline_end)),
        )
    )
    result = burst_test(
        counts["window"],
        [counts["baseline"]],
        window_days=config.window.days,
        baseline_days=baseline_days,
        min_count=config.min_count,
        alpha=ALPHA,
    )
    return BurstStats(
        flagged=result.flagged,
        window_count=counts["window"],
        expected=result.expected,
        p_value=result.p_value,
        severity=SEVERITY_BY_NAME[result.severity],
    )


# The start of each account's history, per process. It only moves earlier (back-filled
# mail), which `history_start` notices from the complaint at hand; otherwise it is re-read
# every HISTORY_SECONDS, saving a query on every update.
HISTORY_SECONDS = 600.0
_history: dict[int, tuple[float, datetime]] = {}


def history_start(account_id: int, seen: datetime) -> datetime:
    """When the account's first inquiry opened; `seen` is an inquiry time known to exist."""
    now = time.monotonic()
    cached = _history.get(account_id)
    if cached is None or cached[0] <= now:
        first = (
            Inquiry.objects.filter(account_id=account_id)
            .order_by("opened_at")
            .values_list("opened_at", flat=True)
        )
        cached = (now + HISTORY_SECONDS, first.first() or seen)
    start = min(cached[1], seen)
    _history[account_id] = (cached[0], start)
    return start


def clear_caches() -> None:
    """Forget the cached account history starts (tests)."""
    _history.clear()


def update_burst_cluster(
    key: Key, *, at: datetime, config: Config, joining: Inquiry | None, message_id: int | None
) -> Cluster | None:
    """Join `joining` to the key's active cluster, or open one if the test flags the key.

    With `joining=None` (the sweep) every complaint of the window is added instead.
    The usual case, a quiet product, costs a lock and two reads.
    """
    events = Events()
    with transaction.atomic():
        # One worker per key from the test on: a complaint judged "quiet" while another worker
        # is opening the key's cluster (whose window read could not see this complaint yet)
        # would otherwise belong to no cluster until the next cluster sweep.
        lock_key(key)
        stats = None
        since = _window_start(key, at=at, config=config)
        if since is not None:  # no active cluster: test the product
            stats = burst_stats(key, at=at, since=since, config=config)
            if not stats.flagged:
                return None
        cluster = (
            Cluster.objects.select_for_update()
            .filter(**key.filter(), state__in=ACTIVE_CLUSTER_STATES)
            .first()
        )
        created = False
        if cluster is None:
            if stats is None:  # resolved between the two reads: judge afresh
                since = _window_start(key, at=at, config=config) or at - config.window
                stats = burst_stats(key, at=at, since=since, config=config)
                if not stats.flagged:
                    return None
            cluster, created = _get_or_create(key, at)
        if created or joining is None:
            start = since if created and since is not None else at - config.window
            # Up to a window past `at`: a later complaint whose follow-up ran first (racing
            # workers) was judged quiet alone, and belongs to the cluster as it would have
            # joined it live; back-filled history far later than the burst does not.
            window = _complaints(key).filter(opened_at__gt=start, opened_at__lte=at + config.window)
            add_members(cluster, window)
        if joining is not None:
            add_member(cluster, joining, message_id)
        # A new complaint is judged as of the latest member's time; the sweep as of now.
        refresh_cluster(
            cluster,
            config=config,
            events=events,
            created=created,
            stats=stats if created else None,
            at=max(at, cluster.last_seen) if joining is not None else at,
        )
        if created:
            events.add(cluster, ClusterEventKind.OPENED, at, summary(cluster))
        events.queue()
    return cluster


def _window_start(key: Key, *, at: datetime, config: Config) -> datetime | None:
    """None if the key has an active cluster; else where its test window starts: `at - window`,
    or the key's last resolution if later (a resolved cluster's complaints are not counted again)."""
    since = at - config.window
    states = Cluster.objects.filter(**key.filter()).filter(
        Q(state__in=ACTIVE_CLUSTER_STATES) | Q(state=ClusterState.RESOLVED, resolved_at__gt=since)
    )
    resolutions: list[datetime] = []
    for state, resolved_at in states.values_list("state", "resolved_at"):
        if state in ACTIVE_CLUSTER_STATES:
            return None
        if resolved_at is not None:  # always set on the resolved clusters selected
            resolutions.append(resolved_at)
    return max([since, *resolutions])


def _get_or_create(key: Key, at: datetime) -> tuple[Cluster, bool]:
    """Create the key's active cluster, or lock the one a concurrent worker just created."""
    try:
        with transaction.atomic():
            return Cluster.objects.create(**key.filter(), first_seen=at, last_seen=at), True
    except IntegrityError:
        # The partial unique constraint: another worker committed this key's cluster first.
        return Cluster.objects.select_for_update().get(**key.filter(), state__in=ACTIVE_CLUSTER_STATES), False


def refresh_cluster(
    cluster: Cluster,
    *,
    config: Config,
    events: Events,
    at: datetime,
    created: bool = False,
    stats: BurstStats | None = None,
) -> None:
    """Recompute the cluster's figures from its member rows (the truth under concurrency),
    with the window and growth as of `at`."""
    facts = cluster.members.aggregate(
        members=Count("id"),
        customers=Count("inquiry__customer_id", distinct=True),
        first=Min("opened_at"),
        last=Max("opened_at"),
        growth=Count("id", filter=Q(opened_at__gt=at - GROWTH_PERIOD, opened_at__lte=at)),
        window=Count("id", filter=Q(opened_at__gt=at - config.window, opened_at__lte=at)),
    )
    if facts["members"] == 0:
        # Every member was re-tagged away; the cluster stays for its history, empty.
        cluster.member_count = cluster.customer_count = cluster.window_count = cluster.growth = 0
        cluster.save(update_fields=["member_count", "customer_count", "window_count", "growth"])
        return
    before = cluster.severity
    cluster.member_count = facts["members"]
    cluster.customer_count = facts["customers"]
    cluster.first_seen = facts["first"]
    cluster.last_seen = facts["last"]
    cluster.growth = facts["growth"]
    if cluster.kind == ClusterKind.BURST:
        _set_burst_figures(cluster, config=config, at=at, stats=stats)
    else:
        cluster.window_count = facts["window"]
        cluster.severity = _text_severity(cluster.customer_count)
    cluster.updated_at = timezone.now()
    cluster.save(
        update_fields=[
            "member_count",
            "customer_count",
            "first_seen",
            "last_seen",
            "growth",
            "window_count",
            "expected",
            "p_value",
            "severity",
            "updated_at",
        ]
    )
    if not created and cluster.severity > before:
        change: dict[str, object] = {
            "from": fact(Severity(before).label),
            "to": fact(cluster.get_severity_display()),
        }
        events.add(cluster, ClusterEventKind.ESCALATED, at, change)


def _set_burst_figures(cluster: Cluster, *, config: Config, at: datetime, stats: BurstStats | None) -> None:
    """A burst's window count, expectation, p-value and severity: `stats` when the caller has
    just computed them, else tested again as of `at`."""
    if stats is None:
        assert cluster.topic_id is not None  # a burst is always of one topic
        key = Key(cluster.account_id, cluster.topic_id, cluster.sku, cluster.kind)
        # The cluster's window starts no earlier than its first member (after any
        # earlier resolution of the same key).
        since = max(at - config.window, cluster.first_seen - timedelta(microseconds=1))
        stats = burst_stats(key, at=at, since=since, config=config)
    cluster.window_count = stats.window_count
    cluster.expected = stats.expected
    cluster.p_value = stats.p_value
    # A calmed-down window scores "none", shown as the lowest severity: the cluster stays
    # active until a person resolves it.
    cluster.severity = stats.severity


def _text_severity(customers: int) -> int:
    if customers >= 10:
        return Severity.CRITICAL
    if customers >= 5:
        return Severity.HIGH
    if customers >= 3:
        return Severity.MEDIUM
    return Severity.LOW
