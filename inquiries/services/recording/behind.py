"""Whether a conversation's messages were stored in their own time order.

The careful way notes, as a message joins an inquiry, when the inquiry may already hold a later
message (`note_if_behind`, a look at the inquiry's columns); at the end of its call the engine
asks `out_of_order` which of those really hold a message stored after a later one, and has
`replay.py` apply them again in time order.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime

from inquiries.models import Direction, Inquiry, Message


def applies(message: Message) -> bool:
    """Whether a message changes its inquiry's state (notes and automatic mail do not)."""
    return message.direction != Direction.NOTE and not message.automatic


def time_order(message: Message) -> tuple[datetime, str]:
    """A conversation's own order: receipt time, then external id for messages of one instant
    (the arrival order of two such messages is no fact about the conversation)."""
    return (message.received_at, message.external_id)


# The inquiries a message joined behind a later one during the current `record_messages` call.
_behind: ContextVar[set[int] | None] = ContextVar("behind", default=None)


@contextmanager
def collecting() -> Iterator[set[int]]:
    """Collect, for the engine's call, the inquiries `note_if_behind` finds (the outer call's
    set when calls nest)."""
    outer = _behind.get()
    if outer is not None:
        yield outer
        return
    found: set[int] = set()
    token = _behind.set(found)
    try:
        yield found
    finally:
        _behind.reset(token)


def note_if_behind(inquiry: Inquiry, message: Message) -> None:
    """Before a message joins `inquiry`: note the inquiry if a message it already holds may be
    later than this one (a cheap look at the inquiry's columns; `out_of_order` decides)."""
    if not applies(message):
        return
    latest = max((t for t in (inquiry.last_inbound_at, inquiry.last_reply_at) if t is not None), default=None)
    found = _behind.get()
    if latest is not None and message.received_at <= latest and found is not None:
        found.add(inquiry.pk)


def out_of_order(inquiry_ids: Iterable[int]) -> list[int]:
    """Of these inquiries, those holding a message stored after a later one of theirs (by
    `time_order`; notes and automatic mail aside). One query."""
    ids = sorted(set(inquiry_ids))
    if not ids:
        return []
    rows = (
        Message.objects.filter(inquiry_id__in=ids, automatic=False)
        .exclude(direction=Direction.NOTE)
        .order_by("inquiry_id", "pk")
        .values_list("inquiry_id", "received_at", "external_id")
    )
    found: list[int] = []
    current: int | None = None
    latest: tuple[datetime, str] | None = None
    for inquiry_id, received_at, external_id in rows:
        if inquiry_id != current:
            current, latest = inquiry_id, None
        key = (received_at, external_id)
        if latest is not None and key < latest:
            if not found or found[-1] != inquiry_id:
                found.append(inquiry_id)
        elif latest is None or key > latest:
            latest = key
    return found
