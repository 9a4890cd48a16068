"""Read side: every query used twice lives here, with its joins built in.

All of them start from `visible_to(user)`, the one place access is scoped.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from enum import IntEnum

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db import connection
from django.db.models import (
    BooleanField,
    Case,
    Count,
    Expression,
    F,
    IntegerField,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
    Window,
)
from django.db.models.functions import Coalesce, Concat, Left, RowNumber, TruncDate
from django.http import Http404
from django.utils import timezone

from inquiries import scoping
from inquiries.complaints.rates import title_of
from inquiries.complaints.titles import ClusterText, cluster_title
from inquiries.models import (
    ACTIVE_CLUSTER_STATES,
    OPEN_STATUSES,
    Account,
    AssignmentMode,
    Attachment,
    ChannelKind,
    Clock,
    ClockState,
    Cluster,
    ClusterEvent,
    ClusterMember,
    Direction,
    Inquiry,
    InquiryEvent,
    Macro,
    Membership,
    Message,
    OrderLine,
    Role,
    Rota,
    Shipment,
    Topic,
    UserPreference,
)


def inquiries_for(user: AbstractBaseUser) -> QuerySet[Inquiry]:
    return Inquiry.objects.visible_to(user).select_related(
        "customer", "channel", "topic", "assignee", "account"
    )


def inquiry_detail_for(user: AbstractBaseUser) -> QuerySet[Inquiry]:
    return inquiries_for(user).prefetch_related(
        Prefetch("messages", queryset=Message.objects.order_by("received_at", "id")),
        Prefetch("clocks", queryset=Clock.objects.select_related("calendar").order_by("started_at", "id")),
    )


def get_inquiry_for_user(
    user: AbstractBaseUser, pk: int, queryset: QuerySet[Inquiry] | None = None
) -> Inquiry:
    """The inquiry if the user may see it; another team's inquiry is a 404, like a missing one."""
    queryset = queryset if queryset is not None else inquiries_for(user)
    try:
        return queryset.get(pk=pk)
    except (Inquiry.DoesNotExist, ValueError, TypeError):
        raise Http404("No such inquiry.") from None


def outbox_for(user: AbstractBaseUser) -> QuerySet[Message]:
    """Queued replies on the channels cstracker cannot send on itself (API, CSV, webhook), of
    the inquiries the user may see, oldest first, with what an outbox item shows joined in."""
    return (
        Message.objects.filter(
            direction=Direction.OUTBOUND,
            delivery_state=Message.DeliveryState.QUEUED,
            inquiry__in=Inquiry.objects.visible_to(user).values("pk"),
        )
        .exclude(channel__kind=ChannelKind.EMAIL)
        .select_related("channel", "author", "inquiry__customer")
        .defer("raw")
    )


def get_reply_for_user(user: AbstractBaseUser, pk: int) -> Message:
    """A reply (outbound message) in an inquiry the user may see; otherwise a 404, like a missing one."""
    reply = (
        Message.objects.filter(
            pk=pk, direction=Direction.OUTBOUND, inquiry__in=Inquiry.objects.visible_to(user).values("pk")
        )
        .select_related("channel")
        .defer("raw")
        .first()
    )
    if reply is None:
        raise Http404("No such reply.")
    return reply


def events_for(user: AbstractBaseUser, inquiry_pk: int) -> QuerySet[InquiryEvent]:
    inquiry = get_inquiry_for_user(user, inquiry_pk, Inquiry.objects.visible_to(user))
    return InquiryEvent.objects.filter(inquiry=inquiry).select_related("actor").order_by("at", "id")


def with_clock_state(queryset: QuerySet[Inquiry], state: str) -> QuerySet[Inquiry]:
    """Inquiries with at least one clock in `state` (breached, at_risk, running...)."""
    return queryset.filter(pk__in=Clock.objects.filter(state=state).values("inquiry_id"))


def clock_elapsed_seconds(clock: Clock, now: datetime | None = None) -> int | None:
    """Business seconds counted so far (or at the stop), excluding paused time."""
    if clock.elapsed_seconds is not None:
        return clock.elapsed_seconds
    from inquiries.services.clocks import clock_calendar

    now = now or timezone.now()
    at = clock.paused_at if clock.state == ClockState.PAUSED and clock.paused_at else now
    calendar = clock_calendar(clock)
    if at <= clock.started_at:
        return 0
    return max(0, calendar.elapsed(clock.started_at, at) - clock.paused_business_seconds)


# --- the agent's queue ------------------------------------------------------------------

QUEUE_PAGE_SIZE = 50


class Urgency(IntEnum):
    """Queue order: breached first, then at risk, then running; inquiries without a clock last."""

    BREACHED = 0
    AT_RISK = 1
    RUNNING = 2
    NO_CLOCK = 3


@dataclass(frozen=True, slots=True)
class QueueFilters:
    """What the agent asked the queue for; empty values mean "any"."""

    account: int | None = None
    channel: int | None = None
    marketplace: str = ""
    statuses: tuple[str, ...] = tuple(OPEN_STATUSES)
    topic: str = ""  # a topic key, or "none" for inquiries without a topic
    priority: str = ""
    assignee: str = ""  # "me", "none" (unassigned) or "" (anyone)
    urgency: Urgency | None = None  # BREACHED or AT_RISK
    q: str = ""
    rescue: bool = False  # only inquiries on an account-health rescue list


@dataclass(frozen=True, slots=True)
class QueueCursor:
    """The last row of a page; the next page starts strictly after it (keyset, no OFFSET)."""

    urgency: int
    due: datetime | None
    opened_at: datetime
    pk: int

    def encode(self) -> str:
        due = str(_to_micros(self.due)) if self.due is not None else "-"
        return f"{self.urgency}.{due}.{_to_micros(self.opened_at)}.{self.pk}"

    @classmethod
    def decode(cls, token: str) -> QueueCursor | None:
        """The cursor in `token`, or None for anything malformed (the first page is shown)."""
        parts = token.split(".")
        if len(parts) != 4:
            return None
        try:
            urgency = Urgency(int(parts[0]))
            due = None if parts[1] == "-" else _from_micros(int(parts[1]))
            return cls(urgency, due, _from_micros(int(parts[2])), int(parts[3]))
        except (ValueError, OverflowError):
            return None

    @classmethod
    def after(cls, inquiry: Inquiry) -> QueueCursor:
        return cls(inquiry.urgency, inquiry.next_due, inquiry.opened_at, inquiry.pk)  # type: ignore[attr-defined]


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _to_micros(value: datetime) -> int:
    return (value - _EPOCH) // timedelta(microseconds=1)


def _from_micros(value: int) -> datetime:
    return _EPOCH + timedelta(microseconds=value)


@dataclass(frozen=True, slots=True)
class QueuePage:
    rows: list[Inquiry]
    next_cursor: QueueCursor | None


def with_urgency(queryset: QuerySet[Inquiry], now: datetime) -> QuerySet[Inquiry]:
    """Annotate each inquiry with its nearest deadline and how urgent it is as of `now`.

    `next_due` / `next_kind`: the earliest due_at among the active clocks (running, at risk,
    breached) and that clock's kind; `market_due`: the same for the marketplace reply clock.
    They are read from the inquiry's copy (`Inquiry.next_due_at`...), kept by the clock service.
    `urgency` is judged from those deadlines rather than the clocks' stored states, so a breach
    shows at once even if the sweep has not run yet.
    """
    return queryset.annotate(
        next_due=F("next_due_at"),
        next_kind=F("next_clock_kind"),
        market_due=F("market_due_at"),
        urgency=_urgency_case(now),
    )


def _urgency_case(now: datetime) -> Case:
    return Case(
        When(next_due_at__lte=now, then=Value(Urgency.BREACHED.value)),
        When(next_warn_at__lte=now, then=Value(Urgency.AT_RISK.value)),
        When(next_due_at__isnull=False, then=Value(Urgency.RUNNING.value)),
        default=Value(Urgency.NO_CLOCK.value),
        output_field=IntegerField(),
    )


def _in_bucket(urgency: Urgency, now: datetime) -> Q:
    """The rows `_urgency_case` puts in `urgency`, as conditions an index can serve."""
    return {
        Urgency.BREACHED: Q(next_due_at__lte=now),
        Urgency.AT_RISK: Q(next_due_at__gt=now, next_warn_at__lte=now),
        Urgency.RUNNING: Q(next_due_at__gt=now, next_warn_at__gt=now),
        Urgency.NO_CLOCK: Q(next_due_at__isnull=True),
    }[urgency]


def filter_queue(
    queryset: QuerySet[Inquiry],
    filters: QueueFilters,
    user: AbstractBaseUser | None,
    now: datetime | None = None,
) -> QuerySet[Inquiry]:
    """Apply the queue's filters (the urgency filter needs `now`)."""
    conditions = Q()
    if filters.statuses:
        conditions &= Q(status__in=filters.statuses)
    if filters.account is not None:
        conditions &= Q(account_id=filters.account)
    if filters.channel is not None:
        conditions &= Q(channel_id=filters.channel)
    if filters.marketplace:
        conditions &= Q(account__marketplace=filters.marketplace)
    if filters.topic == "none":
        conditions &= Q(topic__isnull=True)
    elif filters.topic:
        conditions &= Q(topic__key=filters.topic)
    if filters.priority:
        conditions &= Q(priority=filters.priority)
    if filters.assignee == "me":
        conditions &= Q(assignee=user)
    elif filters.assignee == "none":
        conditions &= Q(assignee__isnull=True)
    if filters.urgency is not None:
        conditions &= _in_bucket(filters.urgency, now or timezone.now())
    queryset = queryset.filter(conditions)
    return search(queryset, filters.q) if filters.q.strip() else queryset


QUEUE_ORDER = ("urgency", F("next_due").asc(nulls_last=True), "-opened_at", "-id")


def accounts_without_policy(accounts: Iterable[Account]) -> list[Account]:
    """Of `accounts`, those no active SLA policy applies to (their inquiries run no policy
    clocks): the warning on the queue and health pages. One query."""
    return list(Account.objects.filter(pk__in=[a.pk for a in accounts]).without_sla_policy().order_by("name"))


def queue_matching(user: AbstractBaseUser, filters: QueueFilters, *, now: datetime) -> QuerySet[Inquiry]:
    """Every inquiry of the user's queue with these filters, all pages (unordered)."""
    queryset = filter_queue(inquiries_for(user), filters, user, now)
    if filters.rescue:
        from inquiries.health.selectors import rescue_inquiry_ids

        queryset = queryset.filter(pk__in=rescue_inquiry_ids(user, filters.account, now=now))
    return queryset


def queue_page(
    user: AbstractBaseUser,
    filters: QueueFilters,
    *,
    now: datetime,
    after: QueueCursor | None = None,
    size: int | None = None,
) -> QueuePage:
    """One page of the agent's queue, most urgent first, in one query.

    Order: urgency, then the nearest deadline (most overdue first), then newest first;
    the id breaks ties so that the keyset cursor is exact.

    On PostgreSQL the page's ids come from one index-ordered, limited branch per urgency
    (breached, at risk, running, no clock) joined by UNION ALL inside the same query, so a
    page reads a few hundred index entries however many inquiries are open; ordering all
    open inquiries by a computed urgency would sort every one of them.
    """
    size = size or QUEUE_PAGE_SIZE
    queryset = queue_matching(user, filters, now=now)
    if connection.features.supports_slicing_ordering_in_compound:
        branches = [
            _bucket_ids(queryset, urgency, now, after, size + 1)
            for urgency in Urgency
            if (filters.urgency is None or urgency == filters.urgency)
            and (after is None or urgency >= after.urgency)
        ]
        if not branches:
            return QueuePage([], None)
        ids = branches[0].union(*branches[1:], all=True) if len(branches) > 1 else branches[0]
        # The branches applied the cursor; the outer query orders their few rows and joins.
        ordered = with_urgency(inquiries_for(user).filter(pk__in=ids), now)
    else:
        ordered = with_urgency(queryset, now)
        if after is not None:
            ordered = ordered.filter(_after(after))
    rows = list(with_texts(ordered).order_by(*QUEUE_ORDER)[: size + 1])
    next_cursor = QueueCursor.after(rows[size - 1]) if len(rows) > size else None
    return QueuePage(rows[:size], next_cursor)


def with_texts(queryset: QuerySet[Inquiry]) -> QuerySet[Inquiry]:
    """`Inquiry.objects.with_texts()` on any inquiry queryset: `preview` and `first_text`."""
    return queryset.with_texts()  # type: ignore[attr-defined]


def _bucket_ids(
    queryset: QuerySet[Inquiry], urgency: Urgency, now: datetime, after: QueueCursor | None, limit: int
) -> QuerySet[Inquiry]:
    """The ids of the first `limit` rows of one urgency, in queue order (after the cursor)."""
    rows = queryset.filter(_in_bucket(urgency, now))
    if after is not None and urgency == after.urgency:
        rows = rows.filter(_within(after))
    order = ("-opened_at", "-id") if urgency == Urgency.NO_CLOCK else ("next_due_at", "-opened_at", "-id")
    return rows.order_by(*order).values_list("pk", flat=True)[:limit]


def _within(cursor: QueueCursor) -> Q:
    """Rows of the cursor's own urgency after it: later deadline, or the same and older."""
    tail = Q(opened_at__lt=cursor.opened_at) | Q(opened_at=cursor.opened_at, pk__lt=cursor.pk)
    if cursor.due is None:
        return Q(next_due_at__isnull=True) & tail
    return Q(next_due_at__gt=cursor.due) | (Q(next_due_at=cursor.due) & tail)


def _after(cursor: QueueCursor) -> Q:
    """Rows strictly after `cursor` in the queue order (mirrors `queue_page`'s order_by)."""
    return Q(urgency__gt=cursor.urgency) | (Q(urgency=cursor.urgency) & _within(cursor))


# --- search -------------------------------------------------------------------------------

# The same expressions as the GIN indexes of migration 0002_queue_search: PostgreSQL only
# uses an expression index when the query repeats the indexed expression exactly.
SEARCH_CONFIG = "simple"
_SEARCH_WORD = re.compile(r"[\w@.+-]+")


def search(queryset: QuerySet[Inquiry], text: str) -> QuerySet[Inquiry]:
    """Inquiries whose subject, order id, customer or any message body matches `text`.

    Every word must match. On PostgreSQL this is full-text search on 'simple' (no stemming,
    so order ids and addresses stay intact), each word a prefix; elsewhere each word is a
    case-insensitive substring.
    """
    text = text.strip()[:200]
    if connection.vendor == "postgresql":
        return queryset.filter(_postgres_search(text))
    conditions = Q()
    for word in text.split()[:10]:
        bodies = Message.objects.filter(body_text__icontains=word).values("inquiry_id")
        conditions &= (
            Q(subject__icontains=word)
            | Q(order_id__icontains=word)
            | Q(customer__address__icontains=word)
            | Q(customer__name__icontains=word)
            | Q(pk__in=bodies)
        )
    return queryset.filter(conditions)


class _DocumentMatches(Expression):
    """`<inquiry>.search_document @@ to_tsquery('simple', query)`, on whatever alias the inquiry
    table has in the query being compiled (the queue's branches are subqueries)."""

    conditional = True
    output_field = BooleanField()

    def __init__(self, tsquery: str) -> None:
        super().__init__()
        self.tsquery = tsquery

    def as_sql(self, compiler: object, connection: object) -> tuple[str, list[object]]:
        alias = compiler.quote_name_unless_alias(compiler.query.get_initial_alias())  # type: ignore[attr-defined]
        return f"{alias}.search_document @@ to_tsquery('simple', %s)", [self.tsquery]


def _postgres_search(text: str) -> Q:
    """Every word in the inquiry's search document (a prefix, unless it has a digit): its
    subject, order id and customer, and the bodies of its messages (kept by triggers, 0017).

    A plain predicate on the inquiry row: the planner walks the queue's deadline index and
    tests rows as it goes for a common word, or starts from the document's GIN index for a
    rare one, and the column's statistics tell it which.
    """
    # Only word characters reach to_tsquery, each quoted and marked as a prefix, so no
    # input can be a tsquery syntax error.
    words = [w.replace("'", "") for w in _SEARCH_WORD.findall(text.lower())][:10]
    # An exact order id through its b-tree index: with the GIN index that makes a BitmapOr,
    # so a rare word or an order id is found from the indexes, never by walking the queue.
    exact_order = Q(order_id=text.strip()[:100])
    if not words:
        return exact_order
    return exact_order | Q(_DocumentMatches(" & ".join(_query_term(word) for word in words)))


def _query_term(word: str) -> str:
    """A word as a prefix ("packag" finds "packaging"); a word with a digit (an order id, a
    SKU, a number) as whole tokens: a prefix of "-0000001" would gather every order id of a
    marketplace's format into one bitmap before the other words could narrow it."""
    return f"'{word}'" if any(char.isdigit() for char in word) else f"'{word}':*"


# --- the inquiry page ---------------------------------------------------------------------


def inquiry_page_for(user: AbstractBaseUser) -> QuerySet[Inquiry]:
    """Inquiries with their thread (attachments without their bytes) and clocks prefetched, and
    their linked order joined (its lines' SKUs: one query more, only when there is an order)."""
    attachments = Attachment.objects.defer("content").order_by("id")
    messages = (
        Message.objects.defer("raw")
        .select_related("author")
        .prefetch_related(Prefetch("attachments", queryset=attachments))
        .order_by("received_at", "id")
    )
    return (
        inquiries_for(user)
        .select_related("linked_order")
        .prefetch_related(
            Prefetch("messages", queryset=messages),
            Prefetch("clocks", queryset=Clock.objects.order_by("started_at", "id")),
            Prefetch("linked_order__lines", queryset=OrderLine.objects.only("order_id", "sku", "quantity")),
        )
    )


def timeline(inquiry: Inquiry) -> QuerySet[InquiryEvent]:
    """The event history of an inquiry already fetched through the access check."""
    return InquiryEvent.objects.filter(inquiry=inquiry).select_related("actor").order_by("at", "id")


def customer_inquiries(user: AbstractBaseUser, inquiry: Inquiry, limit: int = 20) -> list[Inquiry]:
    """The customer's other inquiries the user may see, newest first, with their first words
    (`first_text`, the title of a subjectless one) and latest ones (`preview`)."""
    others = inquiries_for(user).filter(customer_id=inquiry.customer_id).exclude(pk=inquiry.pk)
    return list(with_texts(others).order_by("-opened_at", "-id")[:limit])


def attachment_for(user: AbstractBaseUser, inquiry_pk: int, attachment_pk: int) -> Attachment:
    """An attachment of an inquiry the user may see, with its bytes; otherwise a 404."""
    inquiry = get_inquiry_for_user(user, inquiry_pk, Inquiry.objects.visible_to(user))
    try:
        return Attachment.objects.get(pk=attachment_pk, message__inquiry=inquiry, content__isnull=False)
    except (Attachment.DoesNotExist, ValueError, TypeError):
        raise Http404("No such attachment.") from None


def inline_image(inquiry_pk: int, attachment_pk: int, content_types: frozenset[str]) -> Attachment:
    """A picture attached to a message of this inquiry, with its bytes; otherwise a 404. The
    caller has checked the signed URL that names both ids."""
    item = (
        Attachment.objects.filter(pk=attachment_pk, message__inquiry_id=inquiry_pk, content__isnull=False)
        .exclude(content_id="")
        .first()
    )
    if item is None or item.content_type.split(";")[0].strip().lower() not in content_types:
        raise Http404("No such image.")
    return item


def assignable_users(user: AbstractBaseUser, account_id: int | None = None) -> list[AbstractBaseUser]:
    """People an inquiry can be given to: members of the teams that work `account_id`,
    or, without an account, of the requesting user's own teams (all teams for a superuser)."""
    users = get_user_model().objects.filter(is_active=True)
    if account_id is not None:
        users = users.filter(memberships__team__accounts=account_id)
    elif user.is_superuser:
        users = users.filter(memberships__isnull=False)
    else:
        users = users.filter(memberships__team__memberships__user=user)
    return list(users.distinct().order_by("username"))


# --- complaint clusters ---------------------------------------------------------------------


def clusters_for(user: AbstractBaseUser) -> QuerySet[Cluster]:
    """Clusters of the accounts the user may see, with what their lists show joined in."""
    return Cluster.objects.visible_to(user).select_related("account", "topic", "owner")


RECENT_PERIOD = timedelta(hours=24)
TITLE_TEXTS = 20  # member texts read per cluster for its title
TITLE_TEXT_CHARS = 1000


def with_recent_count(queryset: QuerySet[Cluster], now: datetime) -> QuerySet[Cluster]:
    """Each cluster's members opened in the 24 hours before `now` (`recent_count`), counted
    in the page's own query. The stored `growth` is as of the cluster's last update, which for
    a quiet cluster was weeks ago."""
    recent = (
        ClusterMember.objects.filter(cluster=OuterRef("pk"), opened_at__gt=now - RECENT_PERIOD)
        .values("cluster")
        .annotate(n=Count("id"))
        .values("n")
    )
    return queryset.annotate(recent_count=Coalesce(Subquery(recent, output_field=IntegerField()), 0))


def recent_member_count(cluster: Cluster, now: datetime) -> int:
    """One cluster's members opened in the 24 hours before `now`."""
    return cluster.members.filter(opened_at__gt=now - RECENT_PERIOD).count()


def with_titles(clusters: list[Cluster]) -> list[Cluster]:
    """Sets `title` on each cluster (what it is about: its SKU and top terms), from the texts
    of its first TITLE_TEXTS members, in one query for the whole list."""
    if not clusters:
        return clusters
    rows = (
        ClusterMember.objects.filter(cluster__in=[cluster.pk for cluster in clusters if not cluster.is_rate])
        .annotate(
            rank=Window(RowNumber(), partition_by=[F("cluster_id")], order_by=[F("opened_at"), F("id")]),
            text=Concat(
                Coalesce("message__subject", "inquiry__subject", Value("")),
                Value(" "),
                Left(Coalesce("message__body_text", Value("")), TITLE_TEXT_CHARS),
            ),
        )
        .filter(rank__lte=TITLE_TEXTS)
        .values_list("cluster_id", "text", "inquiry__sku")
    )
    texts: dict[int, list[ClusterText]] = {}
    for cluster_id, text, sku in rows:
        texts.setdefault(cluster_id, []).append(ClusterText(text=text, sku=sku))
    for cluster in clusters:
        if cluster.is_rate:
            # A rate cluster names what it measures, what customers say (stored by the sweep,
            # from returns and feedback too) and its figures.
            cluster.title = title_of(cluster)
        else:
            cluster.title = cluster_title(
                kind=cluster.kind, sku=cluster.sku, members=texts.get(cluster.pk, [])
            )
    return clusters


@dataclass(frozen=True, slots=True)
class ClusterFilters:
    """The cluster list's filters; empty values mean "any". `state` "active" is the default."""

    account: int | None = None
    topic: str = ""  # a topic key
    state: str = "active"  # "active", "all" or one ClusterState value
    kind: str = ""
    sku: str = ""


def filter_clusters(queryset: QuerySet[Cluster], filters: ClusterFilters) -> QuerySet[Cluster]:
    conditions = Q()
    if filters.account is not None:
        conditions &= Q(account_id=filters.account)
    if filters.topic:
        conditions &= Q(topic__key=filters.topic)
    if filters.state == "active":
        conditions &= Q(state__in=ACTIVE_CLUSTER_STATES)
    elif filters.state and filters.state != "all":
        conditions &= Q(state=filters.state)
    if filters.kind:
        conditions &= Q(kind=filters.kind)
    if filters.sku.strip():
        conditions &= Q(sku__iexact=filters.sku.strip())
    # Worst first: active before resolved, then severity, then the latest activity.
    # One incident, one row: a cluster merged into another is listed there.
    conditions &= Q(merged_into__isnull=True)
    active_first = Case(When(state__in=ACTIVE_CLUSTER_STATES, then=Value(0)), default=Value(1))
    return queryset.filter(conditions).order_by(active_first, "-severity", "-last_seen", "-id")


def merged_clusters(cluster: Cluster) -> list[Cluster]:
    """The clusters merged into `cluster` (the same incident), with their titles."""
    return with_titles(
        list(Cluster.objects.filter(merged_into=cluster).select_related("topic").order_by("id"))
    )


def get_cluster_for_user(user: AbstractBaseUser, pk: int) -> Cluster:
    """The cluster if the user may see it; another team's cluster is a 404, like a missing one."""
    try:
        return clusters_for(user).get(pk=pk)
    except (Cluster.DoesNotExist, ValueError, TypeError):
        raise Http404("No such cluster.") from None


def cluster_members(cluster: Cluster) -> QuerySet[ClusterMember]:
    """A cluster's members with their inquiries and customers, newest first."""
    return (
        ClusterMember.objects.filter(cluster=cluster)
        .select_related("inquiry__customer", "inquiry__topic")
        # The start of the complaint, which titles a subjectless (chat-style) member.
        .annotate(opening=Left("message__body_text", TITLE_TEXT_CHARS))
        .order_by("-opened_at", "-id")
    )


def cluster_events(cluster: Cluster) -> QuerySet[ClusterEvent]:
    return ClusterEvent.objects.filter(cluster=cluster).select_related("actor").order_by("at", "id")


def cluster_daily_counts(cluster: Cluster, start: datetime, end: datetime, tz: object) -> dict[date, int]:
    """Complaints per local day in [start, end]: the product's (bursts) or the members' (texts).

    A burst's chart counts every complaint about the product, so the weeks of baseline
    before the burst show next to it.
    """
    if cluster.kind == "burst":
        product = {"account_id": cluster.account_id, "topic_id": cluster.topic_id, "sku": cluster.sku}
        rows = Inquiry.objects.filter(**product)
    else:
        rows = ClusterMember.objects.filter(cluster=cluster)
    counts = (
        rows.filter(opened_at__gte=start, opened_at__lte=end)
        .annotate(day=TruncDate("opened_at", tzinfo=tz))
        .values("day")
        .annotate(n=Count("pk"))
        .values_list("day", "n")
        .order_by("day")
    )
    return dict(counts)


def clusters_for_inquiry(inquiry: Inquiry) -> list[Cluster]:
    """The clusters an inquiry (already fetched through the access check) belongs to,
    active ones first. Its clusters are its own account's, so no further scoping is needed."""
    active_first = Case(When(state__in=ACTIVE_CLUSTER_STATES, then=Value(0)), default=Value(1))
    return with_titles(
        list(
            Cluster.objects.filter(members__inquiry=inquiry)
            .select_related("topic")
            .order_by(active_first, "-last_seen", "-id")
        )
    )


def can_manage_clusters(user: AbstractBaseUser, account_id: int) -> bool:
    """Managers of a team working the account (and superusers) act on its clusters."""
    if not user.is_authenticated or not user.is_active:
        return False
    if user.is_superuser:
        return True
    return Membership.objects.filter(user=user, role=Role.MANAGER, team__accounts=account_id).exists()


def managed_account_ids(user: AbstractBaseUser) -> set[int] | None:
    """Accounts whose clusters the user may act on, in one query; None means all (superuser)."""
    if user.is_superuser:
        return None
    return set(
        Membership.objects.filter(user=user, role=Role.MANAGER).values_list("team__accounts", flat=True)
    ) - {None}


def cluster_topics() -> list[Topic]:
    return list(Topic.objects.filter(is_complaint=True))


def preference_for(user: AbstractBaseUser) -> UserPreference:
    """The user's page settings, or the defaults (unsaved) for someone who never changed one."""
    return UserPreference.objects.filter(user=user).first() or UserPreference(user=user)


# --- macros -----------------------------------------------------------------------------------


def macros_for(user: AbstractBaseUser, inquiry: Inquiry) -> QuerySet[Macro]:
    """The active macros `user` may use on `inquiry`: their own personal ones, and those of the
    teams that work its account. Scoped by `inquiries.scoping` first, so nobody reaches another
    team's macro or another agent's personal one."""
    usable = Q(owner=user.pk) | Q(team__accounts=inquiry.account_id)
    scoped_macros = scoping.scoped(Macro.objects.filter(is_active=True), user)
    return Macro.objects.filter(pk__in=scoped_macros.filter(usable).values("pk")).order_by("name", "id")


def macro_values(inquiry: Inquiry, agent: AbstractBaseUser) -> dict[str, str | None]:
    """The values of a macro's variables on this inquiry (one query: the latest tracking number)."""
    tracking = None
    if inquiry.linked_order_id is not None:
        tracking = (
            Shipment.objects.filter(order_id=inquiry.linked_order_id)
            .exclude(tracking_number="")
            .order_by("-shipped_at", "-id")
            .values_list("tracking_number", flat=True)
            .first()
        )
    return {
        "customer_name": inquiry.customer.name,
        "order_id": inquiry.order_id,
        "tracking_number": tracking,
        "agent_name": agent.get_full_name() or agent.get_username(),  # type: ignore[attr-defined]
    }


# --- automatic assignment ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RotaState:
    team: str
    mode: str
    available: int
    why_nobody: str  # empty when someone is available


def rota_states(user: AbstractBaseUser, now: datetime) -> list[RotaState]:
    """For the queue: each rota (not off) of the user's teams, how many agents can take an
    inquiry now, and why nobody can when that is so. One query without rotas; three with."""
    rotas = list(
        scoping.scoped(Rota.objects.exclude(mode=AssignmentMode.OFF), user)
        .select_related("team", "calendar")
        .order_by("team__name")
    )
    return _rota_states(rotas, now)


def rota_state(rota: Rota, now: datetime) -> RotaState:
    """The same for one rota already read (the admin's change page)."""
    return _rota_states([rota], now)[0]


def _rota_states(rotas: list[Rota], now: datetime) -> list[RotaState]:
    from inquiries.services.assignment import load_rotas

    if not rotas:
        return []
    loaded = load_rotas(rotas, now)
    return [
        RotaState(
            rota.team.name,
            rota.get_mode_display(),
            sum(agent.has_room for agent in loaded[rota.pk].agents),
            loaded[rota.pk].why_nobody(),
        )
        for rota in rotas
    ]
