"""The rows behind the health numbers: the first messages (or first-reply clocks) of an ordered
query, read by id through the covering index, as `MessageRef`s in the query's order."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from operator import attrgetter

from django.db.models import QuerySet
from django.db.models.functions import Left
from django.utils.translation import gettext

from inquiries import display
from inquiries.health.scoring import MessageRef
from inquiries.models import Clock, Message


def message_refs(
    ordered: QuerySet[Message],
    limit: int,
    as_of: datetime,
    key: Callable[[MessageRef], tuple[float, int]] | None = None,
) -> tuple[MessageRef, ...]:
    """The first `limit` rows of `ordered`: ids through the covering index, then those rows only."""
    messages = (
        Message.objects.filter(pk__in=ordered.values("pk")[:limit])
        .select_related("inquiry")
        .only(
            "id",
            "inquiry_id",
            "subject",
            "order_id",
            "received_at",
            "response_due_at",
            "answered_at",
            "inquiry__subject",
            "inquiry__order_id",
        )
        .annotate(opening=Left("body_text", 200))
    )
    refs = [
        MessageRef(
            message_id=m.pk,
            inquiry_id=m.inquiry_id,
            subject=display.title(
                (m.inquiry.subject if m.inquiry else "") or m.subject,
                m.opening,  # type: ignore[attr-defined]  # django-stubs: .annotate() attributes are not on the model type
                empty=gettext("(no subject)"),
            ),
            order_id=m.order_id or (m.inquiry.order_id if m.inquiry else ""),
            received_at=m.received_at,
            due_at=m.response_due_at,
            answered_at=m.answered_at if m.answered_at and m.answered_at <= as_of else None,
        )
        for m in messages
    ]
    return tuple(sorted(refs, key=key) if key else _in_query_order(refs, ordered.query.order_by))


def clock_refs(ordered: QuerySet[Clock], limit: int, as_of: datetime) -> tuple[MessageRef, ...]:
    clocks = (
        Clock.objects.filter(pk__in=ordered.values("pk")[:limit])
        .select_related("inquiry")
        .annotate(opening=Left("message__body_text", 200))
    )
    refs = [
        MessageRef(
            message_id=clock.message_id or 0,
            inquiry_id=clock.inquiry_id,
            subject=display.title(clock.inquiry.subject, clock.opening or "", empty=gettext("(no subject)")),
            order_id=clock.inquiry.order_id,
            received_at=clock.started_at,
            due_at=clock.due_at,
            answered_at=clock.stopped_at if clock.stopped_at and clock.stopped_at <= as_of else None,
        )
        for clock in clocks
    ]
    return tuple(_in_query_order(refs, ordered.query.order_by))


def slowest_first(ref: MessageRef) -> tuple[float, int]:
    assert ref.answered_at is not None
    return (-(ref.answered_at - ref.received_at).total_seconds(), ref.message_id)


_REF_FIELD = {
    "received_at": "received_at",
    "started_at": "received_at",
    "response_due_at": "due_at",
    "due_at": "due_at",
    "pk": "message_id",
}


def _in_query_order(refs: list[MessageRef], order: Sequence[object]) -> list[MessageRef]:
    """Put rows fetched by id back in the query's order (stable sorts, last key first); the
    queries order by field names only."""
    for key in reversed(order):
        if not isinstance(key, str):
            continue
        name = key.lstrip("-")
        if name in _REF_FIELD:
            refs.sort(key=attrgetter(_REF_FIELD[name]), reverse=key.startswith("-"))
    return refs
