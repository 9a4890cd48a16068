"""Complaint clusters: the incremental update per ingested complaint, the sweep, the lifecycle.

A *complaint* is an inquiry whose topic is a complaint topic; it is counted once, at its
opening time, however many messages follow. Two kinds of cluster:

- **burst**: one account, topic and SKU. After each complaint the SKU's count in the
  rolling window (default 7 days) is tested against its own previous 8 weeks
  (`complaints.clusters.burst_test`: Poisson, p < 0.01, at least 3 complaints). The first
  flagged test opens the cluster with every complaint in the window; later complaints
  about the same key join that same cluster until someone resolves it. A resolved
  cluster restarts the window: only complaints after its resolution can open the next one.
- **near_duplicate**: one account and topic, any SKU or none. A new complaint's text is
  fingerprinted once (`complaints.fingerprints`, MinHash) and screened against the stored
  fingerprints of the window's latest complaints of its topic; the few look-alikes are
  confirmed with `similar_to` (TF-IDF cosine, CSTRACKER_CLUSTER_TEXT_SIMILARITY_PERCENT).
  A match from another customer opens a cluster of the two, or adds the complaint to the
  cluster the match belongs to.

Each update costs a few indexed queries on the complaint's own key; nothing is ever
recomputed from all history. Concurrency: an active burst cluster is unique per key (a
partial unique constraint); the worker that loses the race to create it catches the
IntegrityError and joins the winner's row, locked with SELECT ... FOR UPDATE. Text
clustering takes a row lock on the account, because which cluster a text joins depends
on the others' texts, not on a key a constraint could hold.

Every transition writes a `ClusterEvent` in the same transaction and queues
`notify_cluster_events` after commit.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, connection, transaction
from django.db.models import Count, Exists, F, Max, Min, OuterRef, Q, QuerySet
from django.utils import timezone

from inquiries.complaints.clusters import TextItem, burst_test, similar_to
from inquiries.complaints.fingerprints import estimated_jaccard, fingerprint, screening_bound
from inquiries.models import (
    ACTIVE_CLUSTER_STATES,
    RATE_CLUSTER_KINDS,
    Account,
    Cluster,
    ClusterEventKind,
    ClusterKind,
    ClusterMember,
    ClusterState,
    ClusterSweepState,
    ComplaintFingerprint,
    Direction,
    EventKind,
    Inquiry,
    InquiryEvent,
    Message,
    Severity,
    Topic,
)
from inquiries.services import cluster_rates
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
from inquiries.services.errors import Conflict, DomainError

ALPHA = 0.01  # the significance level for a burst
GROWTH_PERIOD = timedelta(hours=24)
# Look-alikes confirmed with the exact (TF-IDF) measure per complaint, most alike first.
CONFIRM_AT_MOST = 5


@dataclass(frozen=True, slots=True)
class Config:
    window: timedelta
    baseline: timedelta
    min_count: int
    similarity: float
    candidates: int

    @classmethod
    def from_settings(cls) -> Config:
        return cls(
            window=timedelta(days=settings.CSTRACKER_CLUSTER_WINDOW_DAYS),
            baseline=timedelta(days=settings.CSTRACKER_CLUSTER_BASELINE_DAYS),
            min_count=settings.CSTRACKER_CLUSTER_MIN_COMPLAINTS,
            similarity=settings.CSTRACKER_CLUSTER_TEXT_SIMILARITY_PERCENT / 100,
            candidates=settings.CSTRACKER_CLUSTER_TEXT_CANDIDATES,
        )


# --- the per-complaint update -----------------------------------------------------------------


def update_clusters_for_message(*, message_id: int) -> list[int]:
    """Add the complaint a customer message opened to its clusters, opening them when due.

    Only the message that opened its inquiry counts (a complaint is an inquiry, not each of
    its messages); anything else, or an inquiry without a complaint topic, changes nothing.
    Idempotent. Returns the ids of the clusters the complaint is now in.
    """
    message = (
        Message.objects.select_related("inquiry__topic")
        .only(
            "id",
            "direction",
            "automatic",
            "received_at",
            "subject",
            "body_text",
            "inquiry__id",
            "inquiry__account_id",
            "inquiry__customer_id",
            "inquiry__sku",
            "inquiry__opened_at",
            "inquiry__topic__id",
            "inquiry__topic__is_complaint",
        )
        .filter(pk=message_id)
        .first()
    )
    if (
        message is None
        or message.inquiry is None
        or message.direction != Direction.INBOUND
        or message.automatic
    ):
        return []
    if message.received_at != message.inquiry.opened_at:
        return []
    return update_clusters_for_inquiry(inquiry=message.inquiry, message=message)


def update_clusters_for_inquiry(
    *, inquiry: Inquiry, message: Message | None = None, config: Config | None = None
) -> list[int]:
    """The update for one complaint, as of its opening time (so back-filled history clusters
    exactly as it would have live). `message` is its opening message, looked up if omitted."""
    config = config or Config.from_settings()
    topic = inquiry.topic
    if topic is None or not topic.is_complaint:
        return []
    if message is None:
        message = _opening_message(inquiry)
    touched = []
    if inquiry.sku:
        cluster = _update_burst(
            Key(inquiry.account_id, topic.pk, inquiry.sku, ClusterKind.BURST),
            at=inquiry.opened_at,
            config=config,
            joining=inquiry,
            message_id=message.pk if message else None,
        )
        if cluster is not None:
            touched.append(cluster.pk)
    if message is not None:
        cluster = _update_text(inquiry, message, config)
        if cluster is not None:
            touched.append(cluster.pk)
    if len(touched) > 1:
        # A burst and a text cluster sharing this complaint are one incident from now on. Both
        # rows are locked by this transaction already (their updates above), so merging them
        # takes no lock another worker could hold in the opposite order.
        cluster_rates.merge_incidents(clusters=touched, now=inquiry.opened_at)
    return touched


def _opening_message(inquiry: Inquiry) -> Message | None:
    return (
        Message.objects.filter(
            inquiry=inquiry, direction=Direction.INBOUND, automatic=False, received_at=inquiry.opened_at
        )
        .only("id", "subject", "body_text")
        .order_by("id")
        .first()
    )


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


def _update_burst(
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
        _refresh(
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
    resolutions = []
    for state, resolved_at in states.values_list("state", "resolved_at"):
        if state in ACTIVE_CLUSTER_STATES:
            return None
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


def _refresh(
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
        if stats is None:
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
        change = {"from": fact(Severity(before).label), "to": fact(cluster.get_severity_display())}
        events.add(cluster, ClusterEventKind.ESCALATED, at, change)


def _text_severity(customers: int) -> int:
    if customers >= 10:
        return Severity.CRITICAL
    if customers >= 5:
        return Severity.HIGH
    if customers >= 3:
        return Severity.MEDIUM
    return Severity.LOW


# --- near-identical texts ---------------------------------------------------------------------


def complaint_text(subject: str, body: str) -> str:
    return f"{subject}\n{body}"


def _store_fingerprint(inquiry: Inquiry, message: Message) -> bytes:
    """Fingerprint the complaint's text (once; the topic is refreshed on every update)."""
    signature = fingerprint(complaint_text(message.subject, message.body_text))
    ComplaintFingerprint.objects.bulk_create(
        [
            ComplaintFingerprint(
                inquiry=inquiry,
                account_id=inquiry.account_id,
                topic_id=inquiry.topic_id,
                customer_id=inquiry.customer_id,
                message=message,
                opened_at=inquiry.opened_at,
                signature=signature,
            )
        ],
        update_conflicts=True,
        unique_fields=["inquiry"],
        update_fields=["topic", "message", "signature"],
    )
    return signature


def _candidates(inquiry: Inquiry, config: Config) -> tuple[list[int], bytes]:
    """The window's latest complaints of the same topic from other customers, as inquiry ids
    and their fingerprints packed end to end (the order of both is the same)."""
    at = inquiry.opened_at
    # Complaints already dealt with (members of a resolved text cluster) do not start a new one.
    settled = ClusterMember.objects.filter(
        cluster__kind=ClusterKind.NEAR_DUPLICATE, cluster__state=ClusterState.RESOLVED
    ).values("inquiry_id")
    latest = (
        ComplaintFingerprint.objects.filter(
            account_id=inquiry.account_id,
            topic_id=inquiry.topic_id,
            # Both sides of the window: complaints are not always followed up in the order
            # they were opened (concurrent workers, back-filled imports), and a text seen
            # first must still find the earlier-opened ones that arrive after it.
            opened_at__gte=at - config.window,
            opened_at__lte=at + config.window,
        )
        .exclude(inquiry_id=inquiry.pk)
        .exclude(customer_id=inquiry.customer_id)
        .exclude(inquiry_id__in=settled)
        .order_by("-opened_at")
        .values_list("inquiry_id", "signature")[: config.candidates]
    )
    if connection.vendor == "postgresql":
        # One row instead of hundreds: decoding rows, not reading them, is the cost here.
        # Both aggregates consume the rows in the same order, so ids and signatures align.
        sql, params = latest.query.sql_with_params()
        with connection.cursor() as cursor:
            cursor.execute(
                # `sql` is the ORM's own query text; every value in it is a bound parameter.
                f"SELECT array_agg(c.inquiry_id), string_agg(c.signature, ''::bytea) FROM ({sql}) c",  # noqa: S608
                params,
            )
            ids, packed = cursor.fetchone()
        return list(ids or ()), bytes(packed or b"")
    rows = list(latest)
    return [pk for pk, _ in rows], b"".join(bytes(signature) for _, signature in rows)


def _update_text(inquiry: Inquiry, message: Message, config: Config) -> Cluster | None:
    with transaction.atomic():
        # Serialise text clustering per account, from the look-up on: which cluster this text
        # joins depends on the other texts, so a worker must see every text stored before it
        # (the lock is held until commit), or two concurrent complaints can miss each other.
        Account.objects.select_for_update().filter(pk=inquiry.account_id).values_list("pk", flat=True).first()
        return _update_text_locked(inquiry, message, config)


def _update_text_locked(inquiry: Inquiry, message: Message, config: Config) -> Cluster | None:
    at = inquiry.opened_at
    signature = _store_fingerprint(inquiry, message)
    ids, packed = _candidates(inquiry, config)
    # Screen by fingerprint, then confirm the most alike few with the exact measure: they are
    # enough to decide, as the new complaint joins one of them or none.
    ranked = sorted(zip(estimated_jaccard(signature, packed), ids, strict=True), reverse=True)
    bound = screening_bound(config.similarity)
    screened = [pk for score, pk in ranked[:CONFIRM_AT_MOST] if score >= bound]
    if not screened:
        return None
    texts = ComplaintFingerprint.objects.filter(pk__in=screened).values_list(
        "inquiry_id", "message__subject", "message__body_text"
    )
    items = [
        TextItem(id=pk, customer="", text=complaint_text(subject or "", body or ""))
        for pk, subject, body in texts
    ]
    text = complaint_text(message.subject, message.body_text)
    hits = [pk for pk, _ in similar_to(text, items, config.similarity)]
    if not hits:
        return None
    events = Events()
    in_text_cluster = ClusterMember.objects.filter(
        inquiry=inquiry,
        cluster__kind=ClusterKind.NEAR_DUPLICATE,
        cluster__state__in=ACTIVE_CLUSTER_STATES,
    )
    if in_text_cluster.exists():  # a re-run, or a concurrent worker's cluster took it in
        return None
    cluster = (
        Cluster.objects.select_for_update()
        .filter(
            account_id=inquiry.account_id,
            kind=ClusterKind.NEAR_DUPLICATE,
            state__in=ACTIVE_CLUSTER_STATES,
            members__inquiry_id__in=hits,
        )
        .order_by("first_seen", "id")
        .first()
    )
    created = cluster is None
    if cluster is None:
        seed = min([inquiry.pk, *hits])
        cluster = Cluster.objects.create(
            account_id=inquiry.account_id,
            topic_id=inquiry.topic_id,
            kind=ClusterKind.NEAR_DUPLICATE,
            signature=f"inquiry:{seed}",
            first_seen=at,
            last_seen=at,
        )
        add_members(cluster, Inquiry.objects.filter(pk__in=hits))
    add_member(cluster, inquiry, message.pk)
    _refresh(cluster, config=config, events=events, created=created, at=max(at, cluster.last_seen))
    if created:
        events.add(cluster, ClusterEventKind.OPENED, at, summary(cluster))
    events.queue()
    return cluster


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
    Phase = ClusterSweepState.Phase
    state, _ = ClusterSweepState.objects.get_or_create(pk=1)
    removed = retagged = 0
    rates = cluster_rates.RateSweepResult()
    if state.phase == Phase.IDLE:
        fingerprint_window(now=now, config=config)
        removed = _remove_retagged_members(now=now, config=config)
        retagged = _update_retagged(now=now, lookback=lookback, config=config)
        rates = cluster_rates.sweep_rates(now=now)
        cluster_rates.merge_incidents(now=now)
        # The keys are found once per sweep (grouped counts over the baseline: the costly read).
        state.keys = [[key.account_id, key.topic_id, key.sku] for key in _busy_keys(now=now, config=config)]
        state.phase, state.next_key, state.after_cluster, state.started_at = Phase.BURSTS, 0, None, now
        state.stepped_at = now
        state.save()
    elif not continuation and state.stepped_at is not None and now - state.stepped_at < SWEEP_STALLED_AFTER:
        return ClusterSweepResult(opened=0, refreshed=0, removed=0, retagged=0, skipped=True)

    def out_of_time(units: int) -> bool:
        return units > 0 and deadline is not None and time.monotonic() >= deadline

    def step(**fields: object) -> None:
        ClusterSweepState.objects.filter(pk=1).update(stepped_at=now, **fields)

    units = 0
    opened, refreshed = rates.opened, rates.refreshed
    if state.phase == Phase.BURSTS:
        active_before = set(Cluster.objects.active().values_list("pk", flat=True))
        for index in range(state.next_key, len(state.keys)):
            if out_of_time(units):
                return ClusterSweepResult(opened, refreshed, removed, retagged, done=False)
            account_id, topic_id, sku = state.keys[index]
            key = Key(account_id, topic_id, sku, ClusterKind.BURST)
            cluster = _update_burst(key, at=now, config=config, joining=None, message_id=None)
            if cluster is not None:
                opened += cluster.pk not in active_before
                refreshed += 1
            units += 1
            step(next_key=index + 1)
        state.phase = Phase.CLUSTERS
        state.after_cluster = None
        step(phase=Phase.CLUSTERS, after_cluster=None)
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
        if out_of_time(units):
            return ClusterSweepResult(opened, refreshed, removed, retagged, done=False)
        events = Events()
        with transaction.atomic():
            cluster = (
                Cluster.objects.select_for_update(skip_locked=True)
                .filter(pk=pk, state__in=ACTIVE_CLUSTER_STATES)
                .first()
            )
            if cluster is not None:
                _refresh(cluster, config=config, events=events, at=now)
                events.queue()
                refreshed += 1
        units += 1
        step(after_cluster=pk)
    step(phase=Phase.IDLE, keys=[], next_key=0, after_cluster=None)
    return ClusterSweepResult(opened, refreshed, removed, retagged)


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
    only the few flagged keys cost per-key queries (where `_update_burst` tests them again
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
            _refresh(cluster, config=config, events=events, at=now)
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


# --- the lifecycle ------------------------------------------------------------------------------


def _locked(cluster: Cluster) -> Cluster:
    return Cluster.objects.select_for_update().get(pk=cluster.pk)


@transaction.atomic
def acknowledge(*, cluster: Cluster, actor: AbstractBaseUser | None, now: datetime | None = None) -> Cluster:
    """open -> acknowledged: someone is looking into it."""
    now = now or timezone.now()
    cluster = _locked(cluster)
    if cluster.state != ClusterState.OPEN:
        raise Conflict(
            f"Only an open cluster can be acknowledged; this one is {cluster.get_state_display().lower()}.",
            field="state",
        )
    return _transition(cluster, ClusterState.ACKNOWLEDGED, ClusterEventKind.ACKNOWLEDGED, actor, now, {})


@transaction.atomic
def record_action(
    *,
    cluster: Cluster,
    actor: AbstractBaseUser | None,
    root_cause: str,
    corrective_action: str,
    preventive_measure: str = "",
    owner: AbstractBaseUser | None = None,
    action_date: date | None = None,
    now: datetime | None = None,
) -> Cluster:
    """open/acknowledged/action taken -> action taken, with the plan of action's facts.

    Recording again replaces the previous text (each version stays in the events).
    """
    now = now or timezone.now()
    root_cause, corrective_action = root_cause.strip(), corrective_action.strip()
    if not root_cause:
        raise DomainError("Say what caused the complaints.", field="root_cause")
    if not corrective_action:
        raise DomainError("Say what was done about them.", field="corrective_action")
    cluster = _locked(cluster)
    if cluster.state == ClusterState.RESOLVED:
        raise Conflict("This cluster is resolved; its action can no longer change.", field="state")
    cluster.root_cause = root_cause
    cluster.corrective_action = corrective_action
    cluster.preventive_measure = preventive_measure.strip()
    cluster.owner = owner or actor
    cluster.action_date = action_date or timezone.localdate(now)
    data = {
        "root_cause": cluster.root_cause,
        "corrective_action": cluster.corrective_action,
        "preventive_measure": cluster.preventive_measure,
        "owner": cluster.owner.get_username() if cluster.owner else None,
        "action_date": cluster.action_date.isoformat(),
    }
    return _transition(
        cluster,
        ClusterState.ACTION_TAKEN,
        ClusterEventKind.ACTION_TAKEN,
        actor,
        now,
        data,
        extra_fields=["root_cause", "corrective_action", "preventive_measure", "owner", "action_date"],
    )


@transaction.atomic
def resolve(
    *, cluster: Cluster, actor: AbstractBaseUser | None, note: str = "", now: datetime | None = None
) -> Cluster:
    """Any active state -> resolved. New complaints about the same thing open a new cluster."""
    now = now or timezone.now()
    cluster = _locked(cluster)
    if cluster.state == ClusterState.RESOLVED:
        raise Conflict("This cluster is already resolved.", field="state")
    cluster.resolved_at = now
    # One incident, one cluster: what was merged into this one is resolved with it.
    cluster_rates.resolve_merged(cluster=cluster, now=now, note=note.strip())
    return _transition(
        cluster,
        ClusterState.RESOLVED,
        ClusterEventKind.RESOLVED,
        actor,
        now,
        {"note": note.strip()},
        extra_fields=["resolved_at"],
    )


def _transition(
    cluster: Cluster,
    state: str,
    kind: str,
    actor: AbstractBaseUser | None,
    now: datetime,
    data: dict[str, object],
    extra_fields: Iterable[str] = (),
) -> Cluster:
    previous = cluster.state
    cluster.state = state
    cluster.updated_at = now
    cluster.save(update_fields=["state", "updated_at", *extra_fields])
    events = Events()
    events.add(cluster, kind, now, {"from": previous, **data}, actor)
    events.queue()
    return cluster
