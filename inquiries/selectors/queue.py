"""The agent's queue: most urgent first, filters, keyset pages (docs/queue.md)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import IntEnum
from typing import TypeVar

from django.contrib.auth.models import User
from django.db import connection
from django.db.models import Case, F, IntegerField, Q, QuerySet, Value, When
from django.utils import timezone

from inquiries.models import OPEN_STATUSES, Account, Inquiry
from inquiries.models.inquiries import InquiryQuerySet
from inquiries.selectors.health.accounts import rescue_inquiry_ids
from inquiries.selectors.inquiry import inquiries_for, with_texts
from inquiries.selectors.search import search

QUEUE_PAGE_SIZE = 50

_Inquiries = TypeVar("_Inquiries", bound=QuerySet[Inquiry])


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
        return cls(inquiry.urgency, inquiry.next_due, inquiry.opened_at, inquiry.pk)  # type: ignore[attr-defined]  # django-stubs: urgency and next_due are with_urgency's annotations; InquiryQuerySet's rows cannot carry them


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _to_micros(value: datetime) -> int:
    return (value - _EPOCH) // timedelta(microseconds=1)


def _from_micros(value: int) -> datetime:
    return _EPOCH + timedelta(microseconds=value)


@dataclass(frozen=True, slots=True)
class QueuePage:
    rows: list[Inquiry]
    next_cursor: QueueCursor | None


def with_urgency(queryset: _Inquiries, now: datetime) -> _Inquiries:
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
    queryset: _Inquiries,
    filters: QueueFilters,
    user: User | None,
    now: datetime | None = None,
) -> _Inquiries:
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


def queue_matching(user: User, filters: QueueFilters, *, now: datetime) -> InquiryQuerySet:
    """Every inquiry of the user's queue with these filters, all pages (unordered)."""
    queryset = filter_queue(inquiries_for(user), filters, user, now)
    if filters.rescue:
        queryset = queryset.filter(pk__in=rescue_inquiry_ids(user, filters.account, now=now))
    return queryset


def queue_page(
    user: User,
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


def _bucket_ids(
    queryset: QuerySet[Inquiry], urgency: Urgency, now: datetime, after: QueueCursor | None, limit: int
) -> QuerySet[Inquiry, int]:
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
