"""The sweep: redoes in bounded, resumable steps what lost per-complaint updates missed
(fingerprints, bursts), and takes re-tagged complaints out of clusters they no longer belong to.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Count, Exists, F, OuterRef, Q
from django.utils import timezone

from inquiries.complaints.clusters import burst_test
from inquiries.complaints.fingerprints import fingerprint
from inquiries.models import (
    ACTIVE_CLUSTER_STATES,
    RATE_CLUSTER_KINDS,
    Account,
    Cluster,
    ClusterEventKind,
    ClusterKind,
    ClusterMember,
    ClusterSweepState,
    ComplaintFingerprint,
    Direction,
    EventKind,
    Inquiry,
    InquiryEvent,
    Message,
    Topic,
)
from inquiries.services import cluster_rates
from inquiries.services.cluster_base import (
    Events,
    Key,
)
from inquiries.services.complaints.bursts import history_start, refresh_cluster, update_burst_cluster
from inquiries.services.complaints.config import ALPHA, Config
from inquiries.services.complaints.similar_text import complaint_text
from inquiries.services.complaints.updates import update_clusters_for_inquiry

# --- the periodic sweep -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ClusterSweepResult:
    opened: int
    refreshed: int
    removed: int
    retagged: int
    # False when the time budget ran out first: the sweep's state row says where to go on.
    done: bool = True
    # True when another run was already under way (and moving): this one did nothing.
    skipped: bool = False

    def __str__(self) -> str:
        if self.skipped:
            return "skipped: a sweep is under way"
        return (
            f"opened={self.opened} refreshed={self.refreshed} removed={self.removed} retagged={self.retagged}"
            + ("" if self.done else " (sweep continues)")
        )


# A sweep whose state row has not moved for this long lost its continuation: the next run
# takes over from where it stopped.
SWEEP_STALLED_AFTER = timedelta(minutes=2)


def sweep_clusters(
    *,
    now: datetime | None = None,
    lookback: timedelta = timedelta(hours=1),
    budget_seconds: float | None = None,
    continuation: bool = False,
) -> ClusterSweepResult:
    """Catch up what the per-complaint updates cannot see; safe to run concurrently.

    0. The window's complaints without a text fingerprint get one (lost tasks, upgrades).
    1. Members an agent re-tagged to another topic (or SKU) leave their cluster.
    2. Complaints re-tagged *into* a complaint topic within `lookback` get the update
       they missed at ingestion.
    2b. Every product's and carrier route's complaint rate is tested against the account's
       threshold, opening and refreshing the rate clusters (`cluster_rates.sweep_rates`), and
       active clusters sharing complaints are merged into one incident
       (`cluster_rates.merge_incidents`).
    3. Every (account, topic, SKU) with enough complaints in the window is tested again,
       so a burst missed by a lost task still opens, and active bursts gain any missing
       window complaints.
    4. Every active cluster's figures are recomputed as of `now` (the window moves on).

    Steps 0-2b are bounded and run when a sweep starts. Steps 3 and 4 go one key, then one
    cluster, at a time, in order, from the cursor on `ClusterSweepState`: with
    `budget_seconds` the call stops once the budget is spent (after one unit at least, so a
    continuation always moves on) and returns `done=False`; the caller continues later
    (`continuation=True`). A scheduled run that finds a sweep under way and moving leaves it
    alone; one that finds it stalled takes it over.
    """
    now = now or timezone.now()
    deadline = None if budget_seconds is None else time.monotonic() + budget_seconds
    config = Config.from_settings()
    state, _ = ClusterSweepState.objects.get_or_create(pk=1)
    removed = retagged = 0
    rates = cluster_rates.RateSweepResult()
    if state.phase == ClusterSweepState.Phase.IDLE:
        removed, retagged, rates = _start_sweep(state, now=now, lookback=lookback, config=config)
    elif not continuation and state.stepped_at is not None and now - state.stepped_at < SWEEP_STALLED_AFTER:
        return ClusterSweepResult(opened=0, refreshed=0, removed=0, retagged=0, skipped=True)

    run = _SweepRun(now=now, config=config, deadline=deadline, opened=rates.opened, refreshed=rates.refreshed)
    finished = _sweep_bursts(run, state) and _refresh_other_clusters(run, state)
    if not finished:
        return ClusterSweepResult(run.opened, run.refreshed, removed, retagged, done=False)
    run.step(phase=ClusterSweepState.Phase.IDLE, keys=[], next_key=0, after_cluster=None)
    return ClusterSweepResult(run.opened, run.refreshed, removed, retagged)


def _start_sweep(
    state: ClusterSweepState, *, now: datetime, lookback: timedelta, config: Config
) -> tuple[int, int, cluster_rates.RateSweepResult]:
    """Steps 0-2b, and the keys of step 3, found once per sweep; returns the members removed,
    the complaints re-tagged and the rate step's result."""
    fingerprint_window(now=now, config=config)
    removed = _remove_retagged_members(now=now, config=config)
    retagged = _update_retagged(now=now, lookback=lookback, config=config)
    rates = cluster_rates.sweep_rates(now=now)
    cluster_rates.merge_incidents(now=now)
    # The keys are found once per sweep (grouped counts over the baseline: the costly read).
    state.keys = [[key.account_id, key.topic_id, key.sku] for key in _busy_keys(now=now, config=config)]
    state.phase, state.next_key, state.after_cluster = ClusterSweepState.Phase.BURSTS, 0, None
    state.started_at = state.stepped_at = now
    state.save()
    return removed, retagged, rates


@dataclass
class _SweepRun:
    """One call's progress through steps 3 and 4: its budget, the units done, what it counted."""

    now: datetime
    config: Config
    deadline: float | None
    opened: int = 0
    refreshed: int = 0
    units: int = 0

    def out_of_time(self) -> bool:
        return self.units > 0 and self.deadline is not None and time.monotonic() >= self.deadline

    def step(self, **fields: object) -> None:
        ClusterSweepState.objects.filter(pk=1).update(stepped_at=self.now, **fields)


def _sweep_bursts(run: _SweepRun, state: ClusterSweepState) -> bool:
    """Step 3 from the cursor, one key at a time; False when the budget ran out first."""
    if state.phase != ClusterSweepState.Phase.BURSTS:
        return True
    active_before = set(Cluster.objects.active().values_list("pk", flat=True))
    for index in range(state.next_key, len(state.keys)):
        if run.out_of_time():
            return False
        account_id, topic_id, sku = state.keys[index]
        key = Key(account_id, topic_id, sku, ClusterKind.BURST)
        cluster = update_burst_cluster(key, at=run.now, config=run.config, joining=None, message_id=None)
        if cluster is not None:
            run.opened += cluster.pk not in active_before
            run.refreshed += 1
        run.units += 1
        run.step(next_key=index + 1)
    state.phase = ClusterSweepState.Phase.CLUSTERS
    state.after_cluster = None
    run.step(phase=ClusterSweepState.Phase.CLUSTERS, after_cluster=None)
    return True


def _refresh_other_clusters(run: _SweepRun, state: ClusterSweepState) -> bool:
    """Step 4 from the cursor, one cluster at a time; False when the budget ran out first."""
    # Every active burst was refreshed with its key above (a burst opened since by a new
    # complaint was computed then); the rest are refreshed here.
    after_cluster = state.after_cluster or 0
    # Rate clusters were recomputed with their products and carriers when the sweep started.
    rest = (
        Cluster.objects.active()
        .exclude(kind__in=[ClusterKind.BURST, *RATE_CLUSTER_KINDS])
        .filter(pk__gt=after_cluster)
    )
    for pk in rest.order_by("pk").values_list("pk", flat=True):
        if run.out_of_time():
            return False
        events = Events()
        with transaction.atomic():
            cluster = (
                Cluster.objects.select_for_update(skip_locked=True)
                .filter(pk=pk, state__in=ACTIVE_CLUSTER_STATES)
                .first()
            )
            if cluster is not None:
                refresh_cluster(cluster, config=run.config, events=events, at=run.now)
                events.queue()
                run.refreshed += 1
        run.units += 1
        run.step(after_cluster=pk)
    return True


def fingerprint_window(*, now: datetime, config: Config | None = None, batch: int = 5000) -> int:
    """Fingerprint up to `batch` complaints of the window that have none; returns how many."""
    config = config or Config.from_settings()
    complaint_topics = list(Topic.objects.filter(is_complaint=True).values_list("pk", flat=True))
    done = 0
    for account_id in Account.objects.values_list("pk", flat=True):
        fingerprinted = ComplaintFingerprint.objects.filter(inquiry_id=OuterRef("inquiry_id"))
        missing = list(
            Message.objects.filter(
                inquiry__account_id=account_id,
                inquiry__topic_id__in=complaint_topics,
                inquiry__opened_at__gt=now - config.window,
                inquiry__opened_at__lte=now,
                direction=Direction.INBOUND,
                automatic=False,
                received_at=F("inquiry__opened_at"),
            )
            .filter(~Exists(fingerprinted))
            .values_list(
                "pk",
                "inquiry_id",
                "inquiry__topic_id",
                "inquiry__customer_id",
                "inquiry__opened_at",
                "subject",
                "body_text",
            )
            .order_by()[: batch - done]
        )
        ComplaintFingerprint.objects.bulk_create(
            [
                ComplaintFingerprint(
                    inquiry_id=inquiry_id,
                    account_id=account_id,
                    topic_id=topic_id,
                    customer_id=customer_id,
                    message_id=message_id,
                    opened_at=opened_at,
                    signature=fingerprint(complaint_text(subject, body)),
                )
                for message_id, inquiry_id, topic_id, customer_id, opened_at, subject, body in missing
            ],
            ignore_conflicts=True,
            batch_size=1000,
        )
        done += len(missing)
        if done >= batch:
            break
    return done


def _busy_keys(*, now: datetime, config: Config) -> list[Key]:
    """Keys the sweep must update: every active burst, and every product whose test flags now.

    The test runs here on grouped counts, one query per account for all its products, so
    only the few flagged keys cost per-key queries (where `update_burst_cluster` tests them again
    exactly, window restarts after a resolution included).
    """
    keys = set(
        Key(account_id, topic_id, sku, ClusterKind.BURST)
        for account_id, topic_id, sku in Cluster.objects.active()
        .filter(kind=ClusterKind.BURST)
        .values_list("account_id", "topic_id", "sku")
    )
    complaint_topics = list(Topic.objects.filter(is_complaint=True).values_list("pk", flat=True))
    window_start = baseline_end = now - config.window
    for account_id in Account.objects.values_list("pk", flat=True):
        history = baseline_end - history_start(account_id, now)
        baseline_days = max(config.window.days, min(config.baseline.days, history.days))
        baseline_start = baseline_end - timedelta(days=baseline_days)
        groups = (
            Inquiry.objects.filter(
                account_id=account_id,
                topic_id__in=complaint_topics,
                opened_at__gt=baseline_start,
                opened_at__lte=now,
            )
            .exclude(sku="")
            .values("topic_id", "sku")
            .annotate(
                window=Count("id", filter=Q(opened_at__gt=window_start)),
                baseline=Count("id", filter=Q(opened_at__lte=baseline_end)),
            )
            .filter(window__gte=config.min_count)
            .order_by()
        )
        for group in groups:
            result = burst_test(
                group["window"],
                [group["baseline"]],
                window_days=config.window.days,
                baseline_days=baseline_days,
                min_count=config.min_count,
                alpha=ALPHA,
            )
            if result.flagged:
                keys.add(Key(account_id, group["topic_id"], group["sku"], ClusterKind.BURST))
    return sorted(keys, key=lambda key: (key.account_id, key.topic_id, key.sku))


def _remove_retagged_members(*, now: datetime, config: Config) -> int:
    # Rate clusters span topics (and a carrier's, orders): their members are the window's, kept.
    mismatched = ClusterMember.objects.filter(
        cluster__state__in=ACTIVE_CLUSTER_STATES,
        cluster__kind__in=[ClusterKind.BURST, ClusterKind.NEAR_DUPLICATE],
    ).filter(
        Q(inquiry__topic__isnull=True)
        | ~Q(inquiry__topic_id=F("cluster__topic_id"))
        | (Q(cluster__kind=ClusterKind.BURST) & ~Q(inquiry__sku=F("cluster__sku")))
    )
    removed = 0
    for cluster_id in set(mismatched.values_list("cluster_id", flat=True)):
        events = Events()
        with transaction.atomic():
            cluster = Cluster.objects.select_for_update().filter(pk=cluster_id).first()
            if cluster is None:
                continue
            gone = list(mismatched.filter(cluster=cluster).values_list("inquiry_id", flat=True))
            ClusterMember.objects.filter(cluster=cluster, inquiry_id__in=gone).delete()
            events.add(cluster, ClusterEventKind.MEMBERS_REMOVED, now, {"inquiries": sorted(gone)})
            refresh_cluster(cluster, config=config, events=events, at=now)
            events.queue()
        removed += len(gone)
    return removed


def _update_retagged(*, now: datetime, lookback: timedelta, config: Config) -> int:
    retagged = (
        InquiryEvent.objects.filter(kind=EventKind.TOPIC_CHANGED, at__gt=now - lookback, at__lte=now)
        .values_list("inquiry_id", flat=True)
        .distinct()
    )
    inquiries = Inquiry.objects.filter(pk__in=list(retagged), topic__is_complaint=True).select_related(
        "topic"
    )
    done = 0
    for inquiry in inquiries:
        if update_clusters_for_inquiry(inquiry=inquiry, config=config):
            done += 1
    return done
