"""The facts behind a plan of action: metrics at both ends of a period (the marketplace's from
orders and the message metrics), message counts, the late-response analysis, the clusters'
timelines and the annex (the orders and messages behind each failing metric). Aggregate
queries and bounded lists only: a fixed number of queries whatever the account's size."""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Iterator
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from django.db.models import Count, F, Prefetch, Q, QuerySet
from django.db.models.functions import ExtractHour, ExtractIsoWeekDay
from django.utils.translation import gettext, gettext_noop

from inquiries.health.appeal import (
    ANNEX_LIMIT,
    LATE_RESPONSES,
    MESSAGE_COLUMNS,
    AnnexRow,
    AnnexTable,
    AppealFacts,
    Notice,
    local_time,
)
from inquiries.health.dates import day_bounds
from inquiries.health.marketplace_metrics import decides_status
from inquiries.health.plan import ClusterEventLine, ClusterStory, LateAnalysis, MessageCounts, PlanFacts
from inquiries.models import (
    ACTIVE_CLUSTER_STATES,
    Account,
    Clock,
    ClockKind,
    ClockState,
    Cluster,
    ClusterEvent,
    ClusterEventKind,
    Direction,
    Message,
)
from inquiries.selectors.health.annex import order_annex
from inquiries.selectors.health.metrics import (
    cluster_ref,
    deadline_span,
    needs_response,
    rules_for,
)
from inquiries.selectors.health.order_metrics import account_health_with_orders
from inquiries.selectors.marketplace_rules import measured_rules

WORKING_HOURS = (8, 18)


def appeal_facts(
    account: Account,
    first: date,
    last: date,
    *,
    now: datetime,
    notice: Notice | None = None,
    edits: dict[str, str] | None = None,
) -> AppealFacts:
    """Everything a plan of action for [first, last] (local days, inclusive) says: the period's
    story, the marketplace's metrics at its end and the orders and messages behind them."""
    rules = rules_for(account)
    start = day_bounds(first, account.timezone)[0]
    end = min(day_bounds(last, account.timezone)[1], now)
    counts, late, late_rows, phrase = _reply_counts(account, start, end)
    before = account_health_with_orders(account, start, rules=rules, reasons=False, list_limit=0)
    after = account_health_with_orders(account, end, rules=rules, reasons=False, list_limit=ANNEX_LIMIT)
    zone = ZoneInfo(account.timezone)
    annex = order_annex(account, after.figures)
    if counts.late:
        annex[LATE_RESPONSES] = _late_responses(late_rows, counts.late, end, zone)
    story = PlanFacts(
        account=account.name,
        marketplace=rules.name,
        rate_name=rules.rate_name,
        rule_phrase=phrase,
        first=first,
        last=last,
        prepared=now.astimezone(zone).date(),
        before=before.report,
        after=after.report,
        counts=counts,
        late=late,
        clusters=_stories(account, start, end),
        marketplace_key=account.marketplace,
        before_status=before.status,
        after_status=after.status,
        figures_before=before.figures,
        figures_after=after.figures,
    )
    late_rates = [m for m in after.report.metrics if m.key.startswith("late_response_rate_")]
    return AppealFacts(
        plan=story,
        marketplace=account.marketplace,
        time_zone=account.timezone,
        figures=after.figures,
        reply_metrics=tuple(m for m in late_rates if decides_status(account.marketplace, m.key)),
        house_reply_metrics=tuple(m for m in late_rates if not decides_status(account.marketplace, m.key)),
        annex=annex,
        notice=notice or Notice(),
        edits=edits,
    )


def _reply_counts(
    account: Account, start: datetime, end: datetime
) -> tuple[MessageCounts, LateAnalysis, LateRows, str]:
    """The period's messages against the reply target the marketplace measures (the general
    target, else the first message rule's), or against the SLA policy's first-reply target when it
    measures none; with the plan's phrase for that target."""
    targets = measured_rules(account)
    if not targets:
        counts, late, late_rows = _first_reply_counts(account, start, end)
        return counts, late, late_rows, gettext_noop("the first-reply target of our SLA policy")
    seconds, calendar = targets[0]
    counts, late, late_rows = _message_counts(account, start, end)
    calendar_time = deadline_span(calendar, seconds, end) == timedelta(seconds=seconds)
    return counts, late, late_rows, _rule_phrase(seconds, business=not calendar_time)


def _late_responses(late_rows: LateRows, total: int, end: datetime, zone: ZoneInfo) -> AnnexTable:
    """The annex's table of late responses: the latest ANNEX_LIMIT of the period's `total`."""
    return AnnexTable(
        key=LATE_RESPONSES,
        rows=tuple(
            AnnexRow(
                order=order,
                received=local_time(received, zone),
                answered=_answered(answered, end, zone),
                note=subject,
            )
            for received, answered, order, subject in late_rows[:ANNEX_LIMIT]
        ),
        total=total,
    )


def _rule_phrase(seconds: int, *, business: bool) -> str:
    if business and seconds % 86400 == 0:
        days = seconds // 86400
        return f"{days} business day{'s' if days != 1 else ''}"
    if seconds % 3600 == 0:
        return f"{seconds // 3600} hours"
    return f"{seconds // 60} minutes"


LateRows = QuerySet  # (received, answered, order id, subject) of late messages, latest first


def _message_counts(
    account: Account, start: datetime, end: datetime
) -> tuple[MessageCounts, LateAnalysis, LateRows]:
    received = Message.objects.filter(
        channel__account_id=account.pk,
        direction=Direction.INBOUND,
        received_at__gte=start,
        received_at__lt=end,
    )
    needs = Q(automatic=False, no_response_needed=False)
    answered = Q(answered_at__lte=end)
    unanswered = Q(answered_at__isnull=True) | Q(answered_at__gt=end)
    totals = received.aggregate(
        needing=Count("pk", filter=needs),
        on_time=Count("pk", filter=needs & answered & Q(answered_at__lte=F("response_due_at"))),
        answered_late=Count("pk", filter=needs & answered & Q(answered_at__gt=F("response_due_at"))),
        unanswered_late=Count("pk", filter=needs & unanswered & Q(response_due_at__lte=end)),
        pending=Count("pk", filter=needs & unanswered & Q(response_due_at__gt=end)),
        no_response_needed=Count("pk", filter=Q(automatic=False, no_response_needed=True)),
        automatic=Count("pk", filter=Q(automatic=True)),
    )
    counts = MessageCounts(
        needing_response=totals["needing"],
        on_time=totals["on_time"],
        answered_late=totals["answered_late"],
        unanswered_late=totals["unanswered_late"],
        pending=totals["pending"],
        no_response_needed=totals["no_response_needed"],
        automatic=totals["automatic"],
    )
    late = _late_messages(account, start, end)
    lateness = _seconds_late(late.filter(answered).values_list("response_due_at", "answered_at"))
    rows = _late_rows(late, "received_at", "answered_at")
    return counts, _analyse(account, late, counts.late, lateness, "received_at", "inquiry"), rows


def _seconds_late(pairs: Iterable[tuple[datetime | None, datetime | None]]) -> list[float]:
    """How late each (deadline, answer) pair was answered, in seconds. The callers' rows were
    answered after their deadline, so both are always set."""
    return [(answer - due).total_seconds() for due, answer in pairs if due is not None and answer is not None]


def _late_messages(account: Account, start: datetime, end: datetime) -> QuerySet[Message]:
    """Messages received in [start, end) answered after their deadline, or unanswered at end
    with the deadline passed."""
    answered = Q(answered_at__lte=end)
    unanswered = Q(answered_at__isnull=True) | Q(answered_at__gt=end)
    return (
        needs_response(account.pk)
        .filter(received_at__gte=start, received_at__lt=end)
        .filter(
            (answered & Q(answered_at__gt=F("response_due_at"))) | (unanswered & Q(response_due_at__lte=end))
        )
    )


def _late_first_replies(account: Account, start: datetime, end: datetime) -> QuerySet[Clock]:
    """Own shop: first-reply clocks started in [start, end) stopped late, or running past due."""
    answered = Q(stopped_at__lte=end)
    unanswered = Q(stopped_at__isnull=True) | Q(stopped_at__gt=end)
    return (
        Clock.objects.filter(
            inquiry__account_id=account.pk,
            kind=ClockKind.FIRST_REPLY,
            started_at__gte=start,
            started_at__lt=end,
        )
        .exclude(state=ClockState.CANCELLED)
        .filter((answered & Q(stopped_at__gt=F("due_at"))) | (unanswered & Q(due_at__lte=end)))
    )


def _late_rows(late: QuerySet, received: str, answered: str) -> LateRows:
    return late.order_by(f"-{received}", "-pk").values_list(
        received, answered, "inquiry__order_id", "inquiry__subject"
    )


def late_csv_rows(account: Account, first: date, last: date, *, now: datetime) -> Iterator[list[object]]:
    """Every late message of the period (first-reply clock, for accounts whose marketplace
    measures no reply target), latest first, as CSV rows with a header: the full list behind the plan's annex."""
    start = day_bounds(first, account.timezone)[0]
    end = min(day_bounds(last, account.timezone)[1], now)
    if not measured_rules(account):
        rows = _late_rows(_late_first_replies(account, start, end), "started_at", "stopped_at")
    else:
        rows = _late_rows(_late_messages(account, start, end), "received_at", "answered_at")
    zone = ZoneInfo(account.timezone)
    yield [name for name, _title in MESSAGE_COLUMNS]
    for received, answered, order, subject in rows.iterator(chunk_size=2000):
        yield [local_time(received, zone), _answered(answered, end, zone), order, subject]


def _answered(answered: datetime | None, end: datetime, zone: ZoneInfo) -> str:
    return local_time(answered, zone) if answered and answered <= end else gettext("not answered")


def _first_reply_counts(
    account: Account, start: datetime, end: datetime
) -> tuple[MessageCounts, LateAnalysis, LateRows]:
    """Own shop: first-reply clocks play the messages (stopped_at is the answer)."""
    clocks = Clock.objects.filter(
        inquiry__account_id=account.pk, kind=ClockKind.FIRST_REPLY, started_at__gte=start, started_at__lt=end
    )
    counted = clocks.exclude(state=ClockState.CANCELLED)
    answered = Q(stopped_at__lte=end)
    unanswered = Q(stopped_at__isnull=True) | Q(stopped_at__gt=end)
    totals = counted.aggregate(
        needing=Count("pk"),
        on_time=Count("pk", filter=answered & Q(stopped_at__lte=F("due_at"))),
        answered_late=Count("pk", filter=answered & Q(stopped_at__gt=F("due_at"))),
        unanswered_late=Count("pk", filter=unanswered & Q(due_at__lte=end)),
        pending=Count("pk", filter=unanswered & Q(due_at__gt=end)),
    )
    inbound = Message.objects.filter(
        channel__account_id=account.pk,
        direction=Direction.INBOUND,
        received_at__gte=start,
        received_at__lt=end,
    ).aggregate(
        no_response_needed=Count("pk", filter=Q(automatic=False, no_response_needed=True)),
        automatic=Count("pk", filter=Q(automatic=True)),
    )
    counts = MessageCounts(
        needing_response=totals["needing"],
        on_time=totals["on_time"],
        answered_late=totals["answered_late"],
        unanswered_late=totals["unanswered_late"],
        pending=totals["pending"],
        **inbound,
    )
    late = _late_first_replies(account, start, end)
    lateness = _seconds_late(late.filter(answered).values_list("due_at", "stopped_at"))
    rows = _late_rows(late, "started_at", "stopped_at")
    return counts, _analyse(account, late, counts.late, lateness, "started_at", "inquiry"), rows


def _analyse(
    account: Account,
    late: QuerySet[Message] | QuerySet[Clock],
    total: int,
    lateness: list[float],
    received: str,
    inquiry: str,
) -> LateAnalysis:
    """When the late messages arrived (account time), whose they were, what they were about."""
    zone = ZoneInfo(account.timezone)
    by_slot = (
        late.annotate(
            weekday=ExtractIsoWeekDay(received, tzinfo=zone), hour=ExtractHour(received, tzinfo=zone)
        )
        .values("weekday", "hour")
        .annotate(n=Count("pk"))
        .order_by()
    )
    weekdays = [0] * 7
    outside = 0
    for row in by_slot:
        weekdays[row["weekday"] - 1] += row["n"]
        if not WORKING_HOURS[0] <= row["hour"] < WORKING_HOURS[1]:
            outside += row["n"]
    unassigned = late.filter(**{f"{inquiry}__assignee__isnull": True}).count()
    topics = (
        late.exclude(**{f"{inquiry}__topic__isnull": True})
        .values_list(f"{inquiry}__topic__name")
        .annotate(n=Count("pk"))
        .order_by("-n", f"{inquiry}__topic__name")
    )
    return LateAnalysis(
        total=total,
        weekend=weekdays[5] + weekdays[6],
        outside_hours=outside,
        unassigned=unassigned,
        median_late_seconds=statistics.median(lateness) if lateness else None,
        by_weekday=tuple(weekdays),
        by_topic=tuple((name, n) for name, n in topics[:5]),
    )


EVENT_TEXT: dict[str, str] = {
    ClusterEventKind.OPENED: gettext_noop("Cluster opened"),
    ClusterEventKind.ESCALATED: gettext_noop("Severity rose"),
    ClusterEventKind.ACKNOWLEDGED: gettext_noop("Acknowledged"),
    ClusterEventKind.ACTION_TAKEN: gettext_noop("Corrective action recorded"),
    ClusterEventKind.RESOLVED: gettext_noop("Resolved"),
    ClusterEventKind.MEMBERS_REMOVED: gettext_noop("Re-tagged complaints removed"),
}


def _event_text(event: ClusterEvent) -> str:
    """ "Cluster opened by maria with 6 complaints (high severity)", in the reader's language. The
    severities stored in the event's data are the English labels of the time: translated here."""
    data = event.data or {}
    text = gettext(EVENT_TEXT[event.kind]) if event.kind in EVENT_TEXT else str(event.get_kind_display())
    if event.actor is not None:
        text = gettext("%(event)s by %(user)s") % {"event": text, "user": event.actor.get_username()}
    if event.kind == ClusterEventKind.OPENED and data.get("members"):
        text = gettext("%(event)s with %(count)s complaints (%(severity)s severity)") % {
            "event": text,
            "count": data["members"],
            "severity": gettext(str(data.get("severity", ""))).lower(),
        }
    elif event.kind == ClusterEventKind.ESCALATED and data.get("to"):
        text = gettext("%(event)s from %(before)s to %(after)s") % {
            "event": text,
            "before": gettext(str(data.get("from", ""))).lower(),
            "after": gettext(str(data["to"])).lower(),
        }
    elif event.kind == ClusterEventKind.ACTION_TAKEN and data.get("corrective_action"):
        text += f": {data['corrective_action']}"
    elif event.kind == ClusterEventKind.RESOLVED and data.get("note"):
        text += f": {data['note']}"
    return text


def _stories(account: Account, start: datetime, end: datetime) -> tuple[ClusterStory, ...]:
    """Clusters open at some point of the period, with their dated events."""
    clusters = (
        Cluster.objects.filter(account=account, first_seen__lt=end)
        .filter(Q(state__in=ACTIVE_CLUSTER_STATES) | Q(resolved_at__gte=start))
        .select_related("topic", "owner")
        .prefetch_related(
            Prefetch("events", queryset=ClusterEvent.objects.select_related("actor").order_by("at", "pk"))
        )
        .order_by("-severity", "first_seen", "pk")
    )
    return tuple(
        ClusterStory(
            cluster=cluster_ref(cluster),
            owner=cluster.owner.get_username() if cluster.owner else "",
            action_date=cluster.action_date,
            events=tuple(ClusterEventLine(at=e.at, text=_event_text(e)) for e in cluster.events.all()),
        )
        for cluster in clusters
    )
