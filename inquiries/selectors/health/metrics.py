"""Reading an account's health facts as of an instant: aggregate SQL, a fixed number of queries.

The definitions are DESIGN section 6. As of an instant T, for a window of W days, over
the messages needing a response (customer messages, not automatic, not "no response
needed") received in [T - W, T):

- answered by T: `answered_at <= T` (a reply stored later is not known at T);
- counted: answered by T, or the deadline (`response_due_at`) at or before T;
- late: answered after the deadline, or unanswered at T with the deadline at or before T;
- pending: unanswered at T with the deadline still ahead (not counted).

Computing that naively evaluates every condition on every message of 90 days. Instead:

- a message whose deadline has passed by T is counted, and it is late exactly when it was
  not answered in time, ever (answered_at NULL or after the deadline): that is final;
- a message whose deadline is still ahead of T is counted only if answered by T, and
  never late;

so counted = (all in the window) - (deadline after T) + (deadline after T, answered by T),
and late = (not answered in time, deadline by T). All in the window is a plain COUNT(*)
per window (an index-only range scan with nothing to test per row); the late ones come
from a partial index holding only the messages not answered in time (about a tenth); the
ones with a deadline after T were received within one rule-length before T, a short
range. Percentiles sort 30 days of answer times once, as integers. The indexes are
`message_health_received` and `message_health_late` (migration 0013_health_late_index).

For an account on a marketplace rule only messages with a deadline are measured (every
message recorded since the account had the rule).

Accounts without a marketplace rule (own shop) are measured on their first-reply clocks,
directly: started_at, due_at and stopped_at play received, deadline and answer.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta

from django.core.exceptions import EmptyResultSet
from django.db import connection, transaction
from django.db.models import (
    BigIntegerField,
    Count,
    DurationField,
    Exists,
    ExpressionWrapper,
    F,
    Func,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
)

from inquiries.complaints.rates import title_of
from inquiries.health.dates import local_date
from inquiries.health.presets import DEFAULT_PRESETS
from inquiries.health.scoring import (
    ClusterRef,
    HealthFacts,
    HealthReport,
    Rules,
    TopicCount,
    WindowCounts,
    interpolate,
    percentile_cont,
    percentile_ranks,
    rescue_fetch_limit,
    score,
)
from inquiries.models import (
    ACTIVE_CLUSTER_STATES,
    Account,
    Channel,
    Clock,
    ClockKind,
    ClockState,
    Cluster,
    Direction,
    Inquiry,
    MarketplacePreset,
    Message,
    Order,
    OrderVolume,
    Topic,
)
from inquiries.selectors.health.refs import clock_refs, message_refs, slowest_first
from inquiries.selectors.marketplace_rules import measured_rules
from inquiries.sla.calendar import BusinessCalendar

RESPONSE_TIME_DAYS = 30
LATE_LIST = 30
OVERDUE_LIST = 10
SLOW_LIST = 5
ORDER_LIST = 20
MIN_PENDING_LIST = 5
QUESTION_BEFORE_DELIVERY_TOPIC = (
    "delivery"  # the page always shows the next deadlines, even when no band is in reach
)

# The predicate of the partial index message_health_late, repeated literally in every query
# meant to use it: "not answered in time (yet)".
NOT_IN_TIME = Q(answered_at__isnull=True) | Q(answered_at__gt=F("response_due_at"))


# --- SQL building blocks ------------------------------------------------------------------


class Microseconds(Func):
    """An interval in whole microseconds (PostgreSQL), exactly: the epoch of an interval is a
    double precision number of seconds, within a quarter of a microsecond of the interval for
    any interval shorter than 2^30 seconds (34 years), so rounding its microseconds gives them
    back."""

    template = "(DATE_PART('epoch', %(expressions)s) * 1000000)::bigint"
    output_field = BigIntegerField()


def needs_response(account_id: int, channel_ids: Sequence[int] | None = None) -> QuerySet[Message]:
    """Customer messages that need a response; the condition of the partial health indexes.

    Given the account's channel ids, the query filters on them directly: PostgreSQL can then
    scan the index in parallel, which it cannot do below a join with the channel table.
    """
    scope = Q(channel_id__in=channel_ids) if channel_ids is not None else Q(channel__account_id=account_id)
    return Message.objects.filter(
        scope, direction=Direction.INBOUND, automatic=False, no_response_needed=False
    )


def with_deadline(account_id: int, channel_ids: Sequence[int] | None = None) -> QuerySet[Message]:
    """Messages needing a response that have a marketplace deadline: the health indexes' condition."""
    return needs_response(account_id, channel_ids).filter(response_due_at__isnull=False)


def _unanswered(as_of: datetime, field: str = "answered_at") -> Q:
    return Q(**{f"{field}__isnull": True}) | Q(**{f"{field}__gt": as_of})


def _answer_time() -> ExpressionWrapper:
    return ExpressionWrapper(F("answered_at") - F("received_at"), output_field=DurationField())


# --- rules --------------------------------------------------------------------------------

PRESET_FIELDS = tuple(DEFAULT_PRESETS["amazon"])


def rules_for(account: Account) -> Rules:
    """The account's marketplace preset as it is in the database (the seed if it was deleted)."""
    return rules_from(account, MarketplacePreset.objects.filter(marketplace=account.marketplace).first())


def rules_from(account: Account, preset: MarketplacePreset | None) -> Rules:
    if preset is not None:
        values = {name: getattr(preset, name) for name in PRESET_FIELDS}
    else:
        values = DEFAULT_PRESETS.get(account.marketplace, DEFAULT_PRESETS["other"])
    return Rules.from_mapping(account.marketplace, values)


def deadline_span(calendar: BusinessCalendar, target_seconds: int, as_of: datetime) -> timedelta:
    """How long after its receipt a deadline near `as_of` can fall: the rule on its calendar.

    Calendar time (Amazon) gives the target itself; business calendars are probed hourly
    over the two weeks before `as_of` (weekends and holidays in them included), plus an
    hour for starts between probes.
    """
    hour = as_of.replace(minute=0, second=0, microsecond=0)
    return _probed_span(calendar, target_seconds, hour)


@functools.lru_cache(maxsize=512)
def _probed_span(calendar: BusinessCalendar, target_seconds: int, hour: datetime) -> timedelta:
    spans = [
        calendar.add(start, target_seconds) - start
        for start in (hour - timedelta(hours=h) for h in range(337))
    ]
    widest = max(spans)
    if widest == min(spans) == timedelta(seconds=target_seconds):
        return widest  # calendar time: every deadline is exactly the target after its message
    return widest + timedelta(hours=1)


# --- the computation ----------------------------------------------------------------------


def account_health(
    account: Account, as_of: datetime, *, reasons: bool = True, rules: Rules | None = None
) -> HealthReport:
    """The account's metrics, status, reasons and rescue list as of `as_of`."""
    rules = rules or rules_for(account)
    with planner_settings():
        facts = health_facts(account, as_of, rules, reasons=reasons)
    return score(facts, rules)


@contextmanager
def planner_settings() -> Iterator[None]:
    """On PostgreSQL, run the health queries in one transaction with JIT compilation off.

    They read few rows through index-only scans, but several have a high *estimated* cost
    (the percentile sort, the scalar subquery per open message) that crosses
    jit_above_cost: compiling them costs about 350 ms of CPU per computation, more than
    running all of them. work_mem of 32 MB keeps the 30-day percentile sort of a million messages
    and the hashed fact subqueries of the order metrics counted live in memory (with the default
    4 MB the sort spills to disk and a subquery too large to hash is probed once per order).
    random_page_cost 1.1 (the default 4 is for spinning disks): the queries read a day or a few
    of orders by index, and at the default the planner preferred to hash a sequential scan of
    every shipment of the database to match a day's orders to their packages (the order
    metrics' as-of day counted live and the lists of failing orders); with it, it probes the
    shipments' order index per order. No parallel workers: the queries are many and short, and
    on a busy machine of few cores the workers only wait for a core (at a million messages and
    orders, load 3 on 2 cores: 203 ms without them, 263 ms with two per query; the live count of
    a past instant took as long either way). SET LOCAL ends with the transaction.
    """
    if connection.vendor != "postgresql":
        yield
        return
    with transaction.atomic():
        with connection.cursor() as cursor:
            # set_config(..., true) is SET LOCAL: all four in one statement.
            cursor.execute(
                "SELECT set_config('jit', 'off', true), set_config('work_mem', '32MB', true), "
                "set_config('random_page_cost', '1.1', true), "
                "set_config('max_parallel_workers_per_gather', '0', true)"
            )
        yield


def health_facts(account: Account, as_of: datetime, rules: Rules, *, reasons: bool = True) -> HealthFacts:
    # Every deadline the marketplace sets (a general one, per-message-type ones): messages without
    # one (eBay's ordinary messages) are not in the marketplace's measure.
    targets = measured_rules(account)
    if not targets:
        windows, times, lists = _first_reply_basis(account, as_of, rules, reasons=reasons)
    else:
        span = max(deadline_span(calendar, target, as_of) for target, calendar in targets)
        windows, times, lists = _marketplace_basis(account, as_of, rules, span, reasons=reasons)
    complaint_topics, inquiries, orders = _complaints(account, as_of, rules)
    return HealthFacts(
        as_of=as_of,
        windows=windows,
        responded=times["responded"] or 0,
        response_p50=times["p50"],
        response_p90=times["p90"],
        response_mean=times["mean"],
        complaint_topics=complaint_topics,
        orders=orders,
        inquiries=inquiries,
        clusters=_clusters(account.pk, as_of),
        first_reply_basis=not targets,
        **lists,
    )


def _marketplace_basis(
    account: Account, as_of: datetime, rules: Rules, span: timedelta, *, reasons: bool
) -> tuple[tuple[WindowCounts, ...], dict, dict]:
    # Messages recorded before the account had a marketplace rule have no deadline: not measured.
    base = with_deadline(
        account.pk, list(Channel.objects.filter(account_id=account.pk).values_list("pk", flat=True))
    )
    start = as_of - timedelta(days=rules.longest_window)
    rows = base.filter(received_at__gte=start, received_at__lt=as_of)
    since = {days: as_of - timedelta(days=days) for days in rules.windows}
    month = as_of - timedelta(days=RESPONSE_TIME_DAYS)

    counts = _window_totals(base, since, as_of)
    times = _answer_times(base, month, as_of)
    # Messages not answered in time (partial index): late, and late still unanswered.
    late_rows = rows.filter(NOT_IN_TIME)
    counts |= _late_counts(late_rows, since, as_of)
    # Messages whose deadline is after T: all received within one rule-length before T.
    recent = base.filter(received_at__gte=max(start, as_of - span), received_at__lt=as_of)
    counts |= _ahead_counts(recent, since, as_of)
    windows = tuple(
        WindowCounts(
            days=d,
            counted=counts[f"total_{d}"] - counts[f"ahead_{d}"] + counts[f"early_{d}"],
            late=counts[f"late_{d}"],
            late_unanswered=counts[f"unanswered_{d}"],
            pending=counts[f"ahead_{d}"] - counts[f"early_{d}"],
        )
        for d in rules.windows
    )
    lists = _marketplace_lists(late_rows, recent, as_of, month, rules, windows, reasons=reasons)
    return windows, times, lists


def _window_totals(base: QuerySet[Message], since: dict[int, datetime], as_of: datetime) -> dict[str, int]:
    """Every message of each window (`total_<days>`), `since` ordered from the shortest window.

    A plain COUNT(*) per slice between window starts is an index-only range scan with nothing to
    test per row, several times faster than one scan with a FILTER per window; each window adds
    up the slices it covers."""
    counts: dict[str, int] = {}
    upper, running = as_of, 0
    for days, window_start in since.items():
        running += base.filter(received_at__gte=window_start, received_at__lt=upper).count()
        counts[f"total_{days}"], upper = running, window_start
    return counts


def _late_counts(late_rows: QuerySet[Message], since: dict[int, datetime], as_of: datetime) -> dict[str, int]:
    """Per window, the messages past their deadline at `as_of` not answered in time
    (`late_<days>`), and those of them still unanswered (`unanswered_<days>`): one query."""
    due = Q(response_due_at__lte=as_of)
    return late_rows.aggregate(
        **{f"late_{d}": Count("pk", filter=Q(received_at__gte=start) & due) for d, start in since.items()},
        **{
            f"unanswered_{d}": Count("pk", filter=Q(received_at__gte=start) & due & _unanswered(as_of))
            for d, start in since.items()
        },
    )


def _ahead_counts(recent: QuerySet[Message], since: dict[int, datetime], as_of: datetime) -> dict[str, int]:
    """Per window, the messages whose deadline is after `as_of` (`ahead_<days>`), and those of
    them already answered (`early_<days>`): one query."""
    ahead = Q(response_due_at__gt=as_of)
    return recent.aggregate(
        **{f"ahead_{d}": Count("pk", filter=Q(received_at__gte=start) & ahead) for d, start in since.items()},
        **{
            f"early_{d}": Count("pk", filter=Q(received_at__gte=start) & ahead & Q(answered_at__lte=as_of))
            for d, start in since.items()
        },
    )


def _marketplace_lists(
    late_rows: QuerySet[Message],
    recent: QuerySet[Message],
    as_of: datetime,
    month: datetime,
    rules: Rules,
    windows: tuple[WindowCounts, ...],
    *,
    reasons: bool,
) -> dict[str, object]:
    """The A-to-z risk counts (for a marketplace that has them) and, with `reasons`, the lists of
    messages behind the figures."""
    # The inquiry's order id through a correlated scalar subquery, not a join or EXISTS: the
    # planner would hash every inquiry of the account for those; this looks up only the few
    # open messages that have no order id of their own.
    inquiry_order = Subquery(
        Inquiry.objects.filter(pk=OuterRef("inquiry_id")).order_by().values("order_id")[:1]
    )
    open_orders = (
        late_rows.filter(_unanswered(as_of))
        .alias(inquiry_order=inquiry_order)
        .filter(Q(order_id__gt="") | Q(inquiry_order__gt=""))
    )
    lists: dict[str, object] = _atoz_risk(open_orders, as_of, rules) if rules.has_atoz else {}
    if not reasons:
        return lists
    late_now = late_rows.filter(response_due_at__lte=as_of)
    lists |= {
        "late_messages": message_refs(late_now.order_by("-received_at", "-pk"), LATE_LIST, as_of),
        "overdue_messages": message_refs(
            late_now.filter(_unanswered(as_of)).order_by("received_at", "pk"), OVERDUE_LIST, as_of
        ),
        # Answered after the deadline in the last 30 days: the answers that push the percentiles up.
        "slow_messages": message_refs(
            late_rows.filter(received_at__gte=month, answered_at__lte=as_of)
            .annotate(took=_answer_time())
            .order_by("-took", "pk"),
            SLOW_LIST,
            as_of,
            key=slowest_first,
        ),
        "pending": message_refs(
            recent.filter(Q(response_due_at__gt=as_of) & _unanswered(as_of)).order_by(
                "response_due_at", "pk"
            ),
            max(rescue_fetch_limit(windows, rules), MIN_PENDING_LIST),
            as_of,
        ),
    }
    if rules.has_atoz:
        lists["order_messages"] = message_refs(open_orders.order_by("received_at", "pk"), ORDER_LIST, as_of)
    return lists


def _atoz_risk(open_orders: QuerySet[Message], as_of: datetime, rules: Rules) -> dict[str, object]:
    """How many unanswered order messages are old enough to risk an A-to-z claim, and how many
    are critical: one query."""
    assert rules.atoz_risk_hours and rules.atoz_critical_hours
    risk = open_orders.filter(received_at__lte=as_of - timedelta(hours=rules.atoz_risk_hours)).aggregate(
        risk=Count("*"),
        critical=Count("pk", filter=Q(received_at__lte=as_of - timedelta(hours=rules.atoz_critical_hours))),
    )
    return {"atoz_risk": risk["risk"], "atoz_critical": risk["critical"]}


RESPONSE_PERCENTILES = (0.5, 0.9)


def _answer_times(messages: QuerySet[Message], month: datetime, as_of: datetime) -> dict[str, object]:
    """Median, 90th percentile and mean answer time (seconds) of the messages received in the
    last 30 days and answered by `as_of`.

    Both databases interpolate between the same two ranks of the sorted answer times in seconds
    (`percentile_cont` of the scoring module). PostgreSQL sorts the answer times once as whole
    microseconds (sorting integers is several times cheaper than sorting intervals, or
    percentile_cont's double precision values) and returns only the values at those ranks;
    SQLite's fallback reads the answer times (the embedded default holds small accounts).
    """
    answered = messages.filter(received_at__gte=month, received_at__lt=as_of, answered_at__lte=as_of)
    if connection.vendor != "postgresql":
        seconds = [
            (a - r).total_seconds()
            for r, a in answered.values_list("received_at", "answered_at")
            if a is not None  # always so: `answered` holds the messages answered by as_of
        ]
        percentiles = [percentile_cont(seconds, f) for f in RESPONSE_PERCENTILES]
        mean = sum(seconds) / len(seconds) if seconds else None
        return {"responded": len(seconds), "p50": percentiles[0], "p90": percentiles[1], "mean": mean}
    count, total, ranked = _ranked_microseconds(answered)
    percentiles = []
    for fraction in RESPONSE_PERCENTILES:
        if not count:
            percentiles.append(None)
            continue
        lower, upper, weight = percentile_ranks(count, fraction)
        percentiles.append(interpolate(ranked[lower] / 1e6, ranked[upper] / 1e6, weight))
    return {
        "responded": count,
        "p50": percentiles[0],
        "p90": percentiles[1],
        "mean": float(total) / count / 1e6 if count else None,
    }


def _ranked_microseconds(answered: QuerySet[Message]) -> tuple[int, int, dict[int, int]]:
    """How many answer times there are, their sum and the values at the ranks the percentiles
    read (0-based rank -> value), in microseconds: one query, one integer sort.

    The ranks depend on the count, so the query computes them from it the way
    `percentile_ranks` does (double precision arithmetic, as Python's), and reads only those
    elements of the sorted array."""
    try:
        took = answered.annotate(took=Microseconds(_answer_time())).order_by().values("took")
        inner, params = took.query.sql_with_params()
    except EmptyResultSet:  # e.g. an account without channels: no query needed
        return 0, 0, {}
    picks = []
    for fraction in RESPONSE_PERCENTILES:
        lower = f"FLOOR({float(fraction)!r}::float8 * (n - 1))::int"
        picks += [lower, f"LEAST({lower} + 1, n - 1)"]
    columns = ", ".join(f"{rank}, a[{rank} + 1]" for rank in picks)
    sql = (
        f"SELECT n, total, {columns} FROM (SELECT COUNT(*) AS n, SUM(took) AS total, "  # noqa: S608
        f"ARRAY_AGG(took ORDER BY took) AS a FROM ({inner}) AS answered) AS sorted"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        count, total, *pairs = cursor.fetchone()
    ranked = {rank: value for rank, value in zip(pairs[::2], pairs[1::2], strict=True) if value is not None}
    return count, total or 0, ranked


def _first_reply_basis(
    account: Account, as_of: datetime, rules: Rules, *, reasons: bool
) -> tuple[tuple[WindowCounts, ...], dict, dict]:
    """No marketplace rule: first-reply compliance against the account's SLA policy."""
    start = as_of - timedelta(days=rules.longest_window)
    clocks = Clock.objects.filter(
        inquiry__account_id=account.pk,
        kind=ClockKind.FIRST_REPLY,
        started_at__gte=start,
        started_at__lt=as_of,
    ).exclude(state=ClockState.CANCELLED)
    answered = Q(stopped_at__lte=as_of)
    unanswered = _unanswered(as_of, "stopped_at")
    due = Q(due_at__lte=as_of)
    late = (answered & Q(stopped_at__gt=F("due_at"))) | (unanswered & due)
    aggregates: dict[str, Count] = {}
    for d in rules.windows:
        within = Q(started_at__gte=as_of - timedelta(days=d))
        aggregates |= {
            f"counted_{d}": Count("pk", filter=within & (answered | due)),
            f"late_{d}": Count("pk", filter=within & late),
            f"unanswered_{d}": Count("pk", filter=within & unanswered & due),
            f"pending_{d}": Count("pk", filter=within & unanswered & Q(due_at__gt=as_of)),
        }
    counts = clocks.aggregate(**aggregates)
    windows = tuple(
        WindowCounts(
            days=d,
            counted=counts[f"counted_{d}"],
            late=counts[f"late_{d}"],
            late_unanswered=counts[f"unanswered_{d}"],
            pending=counts[f"pending_{d}"],
        )
        for d in rules.windows
    )
    times = _answer_times(needs_response(account.pk), as_of - timedelta(days=RESPONSE_TIME_DAYS), as_of)
    lists: dict[str, object] = {}
    if reasons:
        lists = {
            "late_messages": clock_refs(clocks.filter(late).order_by("-started_at", "-pk"), LATE_LIST, as_of),
            "overdue_messages": clock_refs(
                clocks.filter(unanswered & due).order_by("started_at", "pk"), OVERDUE_LIST, as_of
            ),
            "pending": clock_refs(
                clocks.filter(unanswered & Q(due_at__gt=as_of)).order_by("due_at", "pk"),
                max(rescue_fetch_limit(windows, rules), MIN_PENDING_LIST),
                as_of,
            ),
        }
    return windows, times, lists


# --- complaints, orders, clusters -----------------------------------------------------------


def _complaints(
    account: Account, as_of: datetime, rules: Rules
) -> tuple[tuple[TopicCount, ...], int, int | None]:
    """Complaints per complaint topic among the inquiries opened in the window; the denominator.

    With order volumes only complaint inquiries are counted; without them every inquiry
    of the window is, as the denominator.
    """
    start = as_of - timedelta(days=rules.complaint_window_days)
    # The complaint topics and the delivery topic (complaint or not): one query.
    loaded = list(
        Topic.objects.filter(Q(is_complaint=True) | Q(key=QUESTION_BEFORE_DELIVERY_TOPIC)).only(
            "id", "key", "name", "is_complaint"
        )
    )
    topics = [t for t in loaded if t.is_complaint]
    delivery = [t.pk for t in loaded if t.key == QUESTION_BEFORE_DELIVERY_TOPIC]
    orders = _orders(account, start, as_of)
    opened = Inquiry.objects.filter(account_id=account.pk, opened_at__gte=start, opened_at__lt=as_of)
    if orders:
        opened = opened.filter(topic_id__in=[t.pk for t in topics])
    # "Where is my order?" before the promised delivery date is a question, not a complaint: a
    # delivery inquiry opened before its linked order's latest delivery date is not counted as
    # one (it still counts among the inquiries, the denominator without order volumes).
    # The order is looked up per delivery inquiry (an index probe), not joined: a join hashes
    # every order of the account (a second of a million orders' scan for a few thousand probes).
    # The delivery topic by its id, not by a join with the topics: the count per topic then reads
    # only the index inquiry_complaint_topic (account, topic, opened_at), an index-only scan of the
    # window's inquiries. The questions need each delivery inquiry's linked order: a second query
    # over the delivery topic's rows only, run when the window has any. The link column stays out
    # of every index (migration 0054: linking is a heap-only update), so it is not INCLUDEd there.
    before_delivery = Order.objects.filter(
        pk=OuterRef("linked_order_id"), deliver_by__gt=OuterRef("opened_at")
    )
    # COUNT(*), not COUNT(id): the id is not in the index.
    rows = opened.values("topic_id").annotate(n=Count("*")).order_by()
    grouped = {row["topic_id"]: (row["n"], 0) for row in rows}
    for pk in delivery:
        if pk in grouped:
            questions = opened.filter(topic_id=pk).filter(Exists(before_delivery)).count()
            grouped[pk] = (grouped[pk][0], questions)
    counts = tuple(
        TopicCount(
            key=t.key, name=t.name, complaints=grouped[t.pk][0] - grouped[t.pk][1] if t.pk in grouped else 0
        )
        for t in topics
    )
    inquiries = sum(n for n, _ in grouped.values())
    return counts, inquiries if orders is None else inquiries - sum(q for _, q in grouped.values()), orders


def _orders(account: Account, start: datetime, as_of: datetime) -> int | None:
    """Orders on the local days the window touches; None when none were imported for them."""
    first = local_date(start, account.timezone)
    last = local_date(as_of - timedelta(microseconds=1), account.timezone)
    totals = OrderVolume.objects.filter(account_id=account.pk, date__gte=first, date__lte=last).aggregate(
        orders=Sum("orders"), days=Count("*")
    )
    return totals["orders"] if totals["days"] else None


def _clusters(account_id: int, as_of: datetime) -> tuple[ClusterRef, ...]:
    """Clusters open at `as_of`: seen by then and not resolved by then (severity as it is now)."""
    clusters = (
        # One incident counts once: a cluster merged into another is part of that one.
        Cluster.objects.filter(account_id=account_id, first_seen__lte=as_of, merged_into__isnull=True)
        .filter(Q(state__in=ACTIVE_CLUSTER_STATES) | Q(resolved_at__gt=as_of))
        .select_related("topic")
        .order_by("-severity", "first_seen", "pk")
    )
    return tuple(cluster_ref(c) for c in clusters)


def cluster_ref(cluster: Cluster) -> ClusterRef:
    return ClusterRef(
        subject=title_of(cluster) if cluster.is_rate else "",
        cluster_id=cluster.pk,
        topic_key=cluster.topic.key if cluster.topic else "",
        topic_name=cluster.topic.name if cluster.topic else "",
        sku=cluster.sku,
        kind_label=cluster.get_kind_display(),
        severity=cluster.severity,
        severity_label=cluster.get_severity_display(),
        state=cluster.state,
        state_label=cluster.get_state_display(),
        member_count=cluster.member_count,
        first_seen=cluster.first_seen,
        last_seen=cluster.last_seen,
        root_cause=cluster.root_cause,
        corrective_action=cluster.corrective_action,
        preventive_measure=cluster.preventive_measure,
    )
