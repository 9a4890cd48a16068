"""The queue's urgency columns on the inquiry (next due, next warning, which clock), kept
in step with its live clocks.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import OuterRef, Subquery, Value
from django.db.models.functions import Coalesce

from inquiries.models import (
    Clock,
    ClockKind,
    Inquiry,
)
from inquiries.services.clocks.events import ACTIVE

# --- the inquiry's copy of its nearest deadline ------------------------------------------

URGENCY_FIELDS = ("next_due_at", "next_warn_at", "next_clock_kind", "market_due_at")


def urgency_of(clocks: Iterable[Clock]) -> dict[str, object]:
    """The inquiry's queue fields for these clocks (in id order), as `refresh_urgency` stores them."""
    active = [clock for clock in clocks if clock.state in ACTIVE]
    if not active:
        return {"next_due_at": None, "next_warn_at": None, "next_clock_kind": "", "market_due_at": None}
    first = min(active, key=lambda clock: clock.due_at)  # the first of equals, as ORDER BY due_at, id
    market = [clock.due_at for clock in active if clock.kind == ClockKind.MARKETPLACE_REPLY]
    return {
        "next_due_at": first.due_at,
        "next_warn_at": min(clock.warn_at for clock in active),
        "next_clock_kind": first.kind,
        "market_due_at": min(market) if market else None,
    }


def apply_urgency(inquiry: Inquiry, clocks: Iterable[Clock]) -> None:
    """Set the queue fields on an inquiry not saved yet, so its INSERT writes them."""
    for field, value in urgency_of(clocks).items():
        setattr(inquiry, field, value)


def refresh_urgency(inquiry_ids: Iterable[int], **also: object) -> None:
    """Copy the nearest deadline of each inquiry's active clocks onto the inquiry: one UPDATE.

    Called in the transaction of every clock change that starts, stops, pauses, resumes,
    cancels or moves a clock. The sweep's own transitions (running to at risk to breached)
    keep a clock active and its deadlines unchanged, so they need no refresh. `also`: other
    columns of the inquiries to set in the same UPDATE.
    """
    ids = list(inquiry_ids)
    if not ids:
        return
    active = Clock.objects.filter(inquiry=OuterRef("pk"), state__in=ACTIVE)
    first = active.order_by("due_at", "id")
    Inquiry.objects.filter(pk__in=ids).update(
        **also,
        next_due_at=Subquery(first.values("due_at")[:1]),
        next_warn_at=Subquery(active.order_by("warn_at").values("warn_at")[:1]),
        next_clock_kind=Coalesce(Subquery(first.values("kind")[:1]), Value("")),
        market_due_at=Subquery(
            active.filter(kind=ClockKind.MARKETPLACE_REPLY).order_by("due_at").values("due_at")[:1]
        ),
    )
