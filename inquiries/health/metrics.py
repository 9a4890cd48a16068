"""Reading an account's health facts as of an instant: aggregate SQL, a fixed number of queries.

The definitions are DESIGN section 6. As of an instant T, for a window of W days, over
the messages needing a response (customer messages, not automatic, not "no response
needed") received in [T - W, T):

- answered by T: `answered_at <= T` (a reply stored later is not known at T);
- counted: answered by T, or the deadline (`response_due_at`) at or before T;
- late: answered after the deadline, or unanswered at T with the deadline at or before T;
- pending: unanswered at T with the deadline still ahead (not counted).

Response-time percentiles cover [T - 30 days, T), answered by T, in calendar seconds.
Accounts without a marketplace rule (own shop) are measured on their first-reply clocks
instead, the same way: started_at, due_at and stopped_at play received, deadline, answer.

Every number comes from one aggregate query (`COUNT(*) FILTER (WHERE ...)`, and
`percentile_cont` on PostgreSQL); lists of messages are fetched by id through the covering
index `message_health_received` (see migration 0008_health), never by looping over rows.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.db import connection
from django.db.models import (
    Aggregate,
    Avg,
    Count,
    DurationField,
    ExpressionWrapper,
    F,
    FloatField,
    Func,
    Q,
    QuerySet,
    Sum,
)

from inquiries.health.presets import DEFAULT_PRESETS
from inquiries.health.scoring import (
    ClusterRef,
    HealthFacts,
    HealthReport,
    MessageRef,
    Rules,
    TopicCount,
    WindowCounts,
    percentile_cont,
    rescue_fetch_limit,
    score,
)
from inquiries.models import (
    ACTIVE_CLUSTER_STATES,
    Account,
    Clock,
    ClockKind,
    ClockState,
    Cluster,
    Direction,
    Inquiry,
    MarketplacePreset,
    Message,
    OrderVolume,
    Topic,
)

RESPONSE_TIME_DAYS = 30
LATE_LIST = 30
OVERDUE_LIST = 10
SLOW_LIST = 5
ORDER_LIST = 20
MIN_PENDING_LIST = 5  # the page always shows the next deadlines, even when no band is in reach


# --- SQL building blocks ------------------------------------------------------------------


class EpochSeconds(Func):
    """An interval in seconds as double precision (PostgreSQL)."""

    template = "CAST(EXTRACT(EPOCH FROM %(expressions)s) AS double precision)"
    output_field = FloatField()


class PercentileCont(Aggregate):
    """PostgreSQL's ordered-set aggregate `percentile_cont(f) WITHIN GROUP (ORDER BY x)`."""

    function = "PERCENTILE_CONT"
    template = "%(function)s(%(fraction)s) WITHIN GROUP (ORDER BY %(expressions)s)"
    output_field = FloatField()

    def __init__(self, expression: object, fraction: float, **extra: object) -> None:
        if not 0 <= fraction <= 1:
            raise ValueError("fraction must be between 0 and 1")
        super().__init__(expression, fraction=repr(float(fraction)), **extra)


def needs_response(account_id: int) -> QuerySet[Message]:
    """Customer messages that need a response; the condition of the partial health index."""
    return Message.objects.filter(
        channel__account_id=account_id, direction=Direction.INBOUND, automatic=False, no_response_needed=False
    )


@dataclass(frozen=True, slots=True)
class _Source:
    """Where deadlines live: messages (marketplace rule) or first-reply clocks (own shop)."""

    rows: QuerySet
    received: str
    due: str
    answered: str
    first_reply_basis: bool

    def q(self, field: str, lookup: str, value: object) -> Q:
        return Q(**{f"{getattr(self, field)}__{lookup}": value})

    def answered_by(self, as_of: datetime) -> Q:
        return self.q("answered", "lte", as_of)

    def unanswered_at(self, as_of: datetime) -> Q:
        return self.q("answered", "isnull", True) | self.q("answered", "gt", as_of)

    def due_by(self, as_of: datetime) -> Q:
        return self.q("due", "lte", as_of)

    def counted(self, as_of: datetime) -> Q:
        return self.answered_by(as_of) | self.due_by(as_of)

    def late(self, as_of: datetime) -> Q:
        answered_late = self.answered_by(as_of) & Q(**{f"{self.answered}__gt": F(self.due)})
        return answered_late | (self.unanswered_at(as_of) & self.due_by(as_of))

    def pending(self, as_of: datetime) -> Q:
        return self.unanswered_at(as_of) & self.q("due", "gt", as_of)

    def window(self, start: datetime, end: datetime) -> QuerySet:
        return self.rows.filter(**{f"{self.received}__gte": start, f"{self.received}__lt": end})


def _source(account: Account) -> _Source:
    from inquiries.services.clocks import marketplace_rule

    if marketplace_rule(account) is not None:
        return _Source(needs_response(account.pk), "received_at", "response_due_at", "answered_at", False)
    clocks = Clock.objects.filter(inquiry__account_id=account.pk, kind=ClockKind.FIRST_REPLY).exclude(
        state=ClockState.CANCELLED
    )
    return _Source(clocks, "started_at", "due_at", "stopped_at", True)


# --- rules --------------------------------------------------------------------------------

PRESET_FIELDS = tuple(DEFAULT_PRESETS["amazon"])


def rules_for(account: Account) -> Rules:
    """The account's marketplace preset as it is in the database (the seed if it was deleted)."""
    preset = MarketplacePreset.objects.filter(marketplace=account.marketplace).first()
    if preset is not None:
        values = {name: getattr(preset, name) for name in PRESET_FIELDS}
    else:
        values = DEFAULT_PRESETS.get(account.marketplace, DEFAULT_PRESETS["other"])
    return Rules.from_mapping(account.marketplace, values)


# --- the computation ----------------------------------------------------------------------


def account_health(account: Account, as_of: datetime, *, reasons: bool = True, rules: Rules | None = None) -> HealthReport:
    """The account's metrics, status, reasons and rescue list as of `as_of`."""
    rules = rules or rules_for(account)
    return score(health_facts(account, as_of, rules, reasons=reasons), rules)


def health_facts(account: Account, as_of: datetime, rules: Rules, *, reasons: bool = True) -> HealthFacts:
    source = _source(account)
    longest = as_of - timedelta(days=rules.longest_window)
    rows = source.window(longest, as_of)
    month = as_of - timedelta(days=RESPONSE_TIME_DAYS)
    postgres = connection.vendor == "postgresql"

    aggregates: dict[str, Aggregate] = {}
    for days in rules.windows:
        since = source.q("received", "gte", as_of - timedelta(days=days))
        aggregates[f"counted_{days}"] = Count("pk", filter=since & source.counted(as_of))
        aggregates[f"late_{days}"] = Count("pk", filter=since & source.late(as_of))
        aggregates[f"unanswered_{days}"] = Count(
            "pk", filter=since & source.unanswered_at(as_of) & source.due_by(as_of)
        )
        aggregates[f"pending_{days}"] = Count("pk", filter=since & source.pending(as_of))
    merged_times = postgres and not source.first_reply_basis
    if merged_times:
        aggregates |= _response_time_aggregates(month, as_of)
    counts = rows.aggregate(**aggregates)
    if not merged_times:
        counts |= _response_times(account.pk, month, as_of)
    windows = tuple(
        WindowCounts(
            days=days,
            counted=counts[f"counted_{days}"],
            late=counts[f"late_{days}"],
            late_unanswered=counts[f"unanswered_{days}"],
            pending=counts[f"pending_{days}"],
        )
        for days in rules.windows
    )

    facts: dict[str, object] = {}
    if rules.has_atoz:
        facts |= _atoz_counts(account.pk, as_of, longest, rules)
    if reasons:
        facts |= _reason_rows(account.pk, source, as_of, longest, month, windows, rules)
    complaint_topics, inquiries = _complaints(account.pk, as_of, rules)
    return HealthFacts(
        as_of=as_of,
        windows=windows,
        responded=counts["responded"] or 0,
        response_p50=counts["p50"],
        response_p90=counts["p90"],
        response_mean=counts["mean"],
        complaint_topics=complaint_topics,
        orders=_orders(account, as_of, rules),
        inquiries=inquiries,
        clusters=_clusters(account.pk, as_of),
        first_reply_basis=source.first_reply_basis,
        **facts,  # type: ignore[arg-type]
    )


def _response_seconds() -> ExpressionWrapper:
    return ExpressionWrapper(F("answered_at") - F("received_at"), output_field=DurationField())


def _response_time_aggregates(month: datetime, as_of: datetime) -> dict[str, Aggregate]:
    answered = Q(received_at__gte=month, answered_at__lte=as_of)
    seconds = EpochSeconds(_response_seconds())
    return {
        "responded": Count("pk", filter=answered),
        "p50": PercentileCont(seconds, 0.5, filter=answered),
        "p90": PercentileCont(seconds, 0.9, filter=answered),
        "mean": Avg(seconds, filter=answered),
    }


def _response_times(account_id: int, month: datetime, as_of: datetime) -> dict[str, object]:
    """Percentiles in their own query: first-reply accounts on PostgreSQL, and SQLite.

    SQLite has no percentile_cont; its fallback reads the 30-day answer times (the
    embedded default holds small accounts only).
    """
    answered = needs_response(account_id).filter(received_at__gte=month, received_at__lt=as_of, answered_at__lte=as_of)
    if connection.vendor == "postgresql":
        return answered.aggregate(**_response_time_aggregates(month, as_of))
    seconds = [(a - r).total_seconds() for r, a in answered.values_list("received_at", "answered_at")]
    return {
        "responded": len(seconds),
        "p50": percentile_cont(seconds, 0.5),
        "p90": percentile_cont(seconds, 0.9),
        "mean": sum(seconds) / len(seconds) if seconds else None,
    }


def _order_related() -> Q:
    return Q(order_id__gt="") | Q(inquiry__order_id__gt="")


def _open_order_messages(account_id: int, as_of: datetime, longest: datetime) -> QuerySet[Message]:
    return (
        needs_response(account_id)
        .filter(received_at__gte=longest, received_at__lt=as_of)
        .filter(Q(answered_at__isnull=True) | Q(answered_at__gt=as_of))
        .filter(_order_related())
    )


def _atoz_counts(account_id: int, as_of: datetime, longest: datetime, rules: Rules) -> dict[str, int]:
    assert rules.atoz_risk_hours and rules.atoz_critical_hours
    risk = as_of - timedelta(hours=rules.atoz_risk_hours)
    critical = as_of - timedelta(hours=rules.atoz_critical_hours)
    counts = (
        _open_order_messages(account_id, as_of, longest)
        .filter(received_at__lte=risk)
        .aggregate(risk=Count("pk"), critical=Count("pk", filter=Q(received_at__lte=critical)))
    )
    return {"atoz_risk": counts["risk"], "atoz_critical": counts["critical"]}


def _reason_rows(
    account_id: int,
    source: _Source,
    as_of: datetime,
    longest: datetime,
    month: datetime,
    windows: Sequence[WindowCounts],
    rules: Rules,
) -> dict[str, tuple[MessageRef, ...]]:
    """The messages behind the numbers: late, overdue, slowest, order-related and pending ones."""
    rows = source.window(longest, as_of)
    received, due = source.received, source.due
    pending_limit = max(rescue_fetch_limit(windows, rules), MIN_PENDING_LIST)
    found = {
        "late_messages": _refs(
            source, rows.filter(source.late(as_of)).order_by(f"-{received}", "-pk"), LATE_LIST, as_of
        ),
        "overdue_messages": _refs(
            source,
            rows.filter(source.unanswered_at(as_of) & source.due_by(as_of)).order_by(received, "pk"),
            OVERDUE_LIST,
            as_of,
        ),
        "pending": _refs(source, rows.filter(source.pending(as_of)).order_by(due, "pk"), pending_limit, as_of),
    }
    slowest = (
        needs_response(account_id)
        .filter(received_at__gte=month, received_at__lt=as_of, answered_at__lte=as_of)
        .annotate(took=_response_seconds())
        .order_by("-took", "pk")
    )
    found["slow_messages"] = _message_refs(slowest, SLOW_LIST, as_of, key=_slowest_first)
    if rules.has_atoz:
        found["order_messages"] = _message_refs(
            _open_order_messages(account_id, as_of, longest).order_by("received_at", "pk"), ORDER_LIST, as_of
        )
    return found


def _slowest_first(ref: MessageRef) -> tuple[float, int]:
    assert ref.answered_at is not None
    return (-(ref.answered_at - ref.received_at).total_seconds(), ref.message_id)


def _refs(source: _Source, ordered: QuerySet, limit: int, as_of: datetime) -> tuple[MessageRef, ...]:
    if not source.first_reply_basis:
        return _message_refs(ordered, limit, as_of)
    clocks = Clock.objects.filter(pk__in=ordered.values("pk")[:limit]).select_related("inquiry")
    order = ordered.query.order_by
    refs = [
        MessageRef(
            message_id=clock.message_id or 0,
            inquiry_id=clock.inquiry_id,
            subject=clock.inquiry.subject,
            order_id=clock.inquiry.order_id,
            received_at=clock.started_at,
            due_at=clock.due_at,
            answered_at=clock.stopped_at if clock.stopped_at and clock.stopped_at <= as_of else None,
        )
        for clock in clocks
    ]
    return tuple(_sorted(refs, order))


def _message_refs(
    ordered: QuerySet[Message], limit: int, as_of: datetime, key: Callable[[MessageRef], object] | None = None
) -> tuple[MessageRef, ...]:
    """The first `limit` rows of `ordered`: ids through the covering index, then those rows only."""
    ids = ordered.values("pk")[:limit]
    messages = (
        Message.objects.filter(pk__in=ids)
        .select_related("inquiry")
        .only(
            "id", "inquiry_id", "subject", "order_id", "received_at", "response_due_at", "answered_at",
            "inquiry__subject", "inquiry__order_id",
        )
    )
    refs = [
        MessageRef(
            message_id=m.pk,
            inquiry_id=m.inquiry_id,
            subject=(m.inquiry.subject if m.inquiry else "") or m.subject,
            order_id=m.order_id or (m.inquiry.order_id if m.inquiry else ""),
            received_at=m.received_at,
            due_at=m.response_due_at,
            answered_at=m.answered_at if m.answered_at and m.answered_at <= as_of else None,
        )
        for m in messages
    ]
    if key is not None:
        return tuple(sorted(refs, key=key))
    return tuple(_sorted(refs, ordered.query.order_by))


_REF_FIELD = {
    "received_at": "received_at",
    "started_at": "received_at",
    "response_due_at": "due_at",
    "due_at": "due_at",
    "pk": "message_id",
}


def _sorted(refs: list[MessageRef], order: Sequence[str]) -> list[MessageRef]:
    """Put rows fetched by id back in the query's order (stable sorts, last key first)."""
    for key in reversed(order):
        name = key.lstrip("-")
        if name not in _REF_FIELD:
            continue
        refs.sort(key=lambda r, f=_REF_FIELD[name]: getattr(r, f), reverse=key.startswith("-"))  # type: ignore[misc]
    return refs


def _complaints(account_id: int, as_of: datetime, rules: Rules) -> tuple[tuple[TopicCount, ...], int]:
    """Complaints per complaint topic among the inquiries opened in the window, and all inquiries."""
    start = as_of - timedelta(days=rules.complaint_window_days)
    grouped = dict(
        Inquiry.objects.filter(account_id=account_id, opened_at__gte=start, opened_at__lt=as_of)
        .values("topic_id")
        .annotate(n=Count("pk"))
        .order_by()
        .values_list("topic_id", "n")
    )
    topics = Topic.objects.filter(is_complaint=True).only("id", "key", "name")
    counts = tuple(TopicCount(key=t.key, name=t.name, complaints=grouped.get(t.pk, 0)) for t in topics)
    return counts, sum(grouped.values())


def local_date(instant: datetime, tz: str) -> date:
    return instant.astimezone(ZoneInfo(tz)).date()


def day_bounds(day: date, tz: str) -> tuple[datetime, datetime]:
    """The instants a local day starts and ends (the end is the next day's start)."""
    zone = ZoneInfo(tz)
    return (datetime.combine(day, time(0), zone), datetime.combine(day + timedelta(days=1), time(0), zone))


def _orders(account: Account, as_of: datetime, rules: Rules) -> int | None:
    """Orders on the local days the complaint window touches; None when none were imported."""
    first = local_date(as_of - timedelta(days=rules.complaint_window_days), account.timezone)
    last = local_date(as_of - timedelta(microseconds=1), account.timezone)
    totals = OrderVolume.objects.filter(account_id=account.pk, date__gte=first, date__lte=last).aggregate(
        orders=Sum("orders"), days=Count("pk")
    )
    return totals["orders"] if totals["days"] else None


def _clusters(account_id: int, as_of: datetime) -> tuple[ClusterRef, ...]:
    """Clusters open at `as_of`: seen by then and not resolved by then (severity as it is now)."""
    clusters = (
        Cluster.objects.filter(account_id=account_id, first_seen__lte=as_of)
        .filter(Q(state__in=ACTIVE_CLUSTER_STATES) | Q(resolved_at__gt=as_of))
        .select_related("topic")
        .order_by("-severity", "first_seen", "pk")
    )
    return tuple(cluster_ref(c) for c in clusters)


def cluster_ref(cluster: Cluster) -> ClusterRef:
    return ClusterRef(
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
