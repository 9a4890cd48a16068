"""Held messages: an agent's reply or note whose parent has not arrived yet is kept, not refused.

An import in file order, a later file or a later API call may bring a reply before the message
it answers. The careful way finds no inquiry for it; when it names something that may still
arrive (a message id by In-Reply-To/References, or a thread id), `hold()` keeps it as a
`HeldMessage` with the ids it waits for (`HeldWait`, indexed on (channel, external id)). When
one of those ids is stored on its channel, the engine attaches it (`careful.attach`: recorded
by every rule, at its own receipt time) right after that message, as recording one at a time
would. What never finds its parent expires after `CSTRACKER_HELD_EXPIRY_DAYS` (`expire()`, a
beat task). Customers' messages are never held: a customer waiting gets an inquiry and a clock
at once.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q

from inquiries.ingestion.types import IncomingMessage, Rejected, incoming_to_json
from inquiries.models import Channel, HeldMessage, HeldState, HeldWait, Message, WaitKind
from inquiries.services.recording import rules

logger = logging.getLogger(__name__)

NO_INQUIRY = "in_reply_to: no inquiry to attach this reply or note to (give thread_id or in_reply_to)"


@dataclass(frozen=True, slots=True)
class Held:
    """The outcome for a message kept until its parent arrives; `created` is False for a copy of
    an id already held (a duplicate: nothing is stored twice)."""

    held: HeldMessage
    created: bool
    waits_for: tuple[str, ...] = ()  # the message ids it waits for
    thread_id: str = ""  # the thread id it waits for, if any


def hold(*, channel: Channel, incoming: IncomingMessage, now: datetime) -> Held:
    """Keep a reply or note the careful way found no inquiry for; `Rejected` when it names
    nothing that can still arrive (nothing at all, or only messages stored without an inquiry)."""
    ids, thread = rules.awaited(incoming)
    if ids:
        # Stored without an inquiry (a bounce that matched nothing): never a parent. One stored
        # with an inquiry since the lookup (another writer) is waited for: `parent_stored` sees it.
        orphans = set(
            Message.objects.filter(channel=channel, external_id__in=ids, inquiry__isnull=True).values_list(
                "external_id", flat=True
            )
        )
        ids = [external_id for external_id in ids if external_id not in orphans]
    if not ids and not thread:
        raise Rejected(NO_INQUIRY)
    try:
        with transaction.atomic():
            held = HeldMessage.objects.create(
                channel=channel,
                external_id=incoming.external_id,
                direction=incoming.direction,
                received_at=rules.received_at(incoming, now),
                incoming=incoming_to_json(incoming),
                held_at=now,
                expires_at=now + timedelta(days=settings.CSTRACKER_HELD_EXPIRY_DAYS),
            )
            HeldWait.objects.bulk_create(
                [HeldWait(held=held, channel=channel, external_id=external_id) for external_id in ids]
                + (
                    [HeldWait(held=held, channel=channel, external_id=thread, kind=WaitKind.THREAD)]
                    if thread
                    else []
                )
            )
    except IntegrityError:
        # Another writer held the same id meanwhile: this copy is its duplicate.
        copy = held_copy(channel, incoming.external_id)
        if copy is None:
            raise
        return copy
    logger.info(
        "Held %s %s on %s until its parent arrives (waits for %s)",
        incoming.direction,
        incoming.external_id,
        channel.slug,
        ", ".join([*ids, *([f"thread {thread}"] if thread else [])]),
    )
    return Held(held, created=True, waits_for=tuple(ids), thread_id=thread)


def held_copy(channel: Channel, external_id: str) -> Held | None:
    """The held message with this id on the channel, as the outcome of a copy of it (a duplicate)."""
    held = HeldMessage.objects.filter(channel=channel, external_id=external_id).first()
    if held is None:
        return None
    waits = list(held.waits.values_list("kind", "external_id"))
    return Held(
        held,
        created=False,
        waits_for=tuple(value for kind, value in waits if kind == WaitKind.MESSAGE),
        thread_id=next((value for kind, value in waits if kind == WaitKind.THREAD), ""),
    )


def parent_stored(held: Held) -> bool:
    """Whether a message the held one waits for is stored by now with an inquiry: a writer that
    stored it while this one was being held looked for waiting messages before this one was
    there (each side looks after its own commit, so one of the two sees the other)."""
    condition = Q(external_id__in=held.waits_for) if held.waits_for else Q()
    if held.thread_id:
        condition |= Q(thread_id=held.thread_id)
    channel_id = held.held.channel_id
    return Message.objects.filter(condition, channel_id=channel_id, inquiry__isnull=False).exists()


def waiting_for(messages: Sequence[Message]) -> list[HeldMessage]:
    """The held messages (still held) waiting for any of `messages`, by its id or its thread id,
    in the order they are attached: by receipt time. One indexed query."""
    condition = waiting_on((m.channel_id, m.external_id, m.thread_id) for m in messages)
    if not condition:
        return []
    return list(
        HeldMessage.objects.filter(
            pk__in=HeldWait.objects.filter(condition).values("held_id"), state=HeldState.HELD
        )
        .select_related("channel__account")
        .order_by("received_at", "id")
    )


def waiting_on(messages: Iterable[tuple[int, str, str]]) -> Q:
    """The `HeldWait` rows naming any of these messages, given as (channel id, external id,
    thread id): per channel, its ids and its thread ids (the index on (channel, external id))."""
    ids: dict[int, set[str]] = {}
    threads: dict[int, set[str]] = {}
    for channel_id, external_id, thread_id in messages:
        ids.setdefault(channel_id, set()).add(external_id)
        if thread_id:
            threads.setdefault(channel_id, set()).add(thread_id)
    condition = Q()
    for channel_id, values in ids.items():
        condition |= Q(channel_id=channel_id, kind=WaitKind.MESSAGE, external_id__any=values)
    for channel_id, values in threads.items():
        condition |= Q(channel_id=channel_id, kind=WaitKind.THREAD, external_id__any=values)
    return condition


@dataclass
class Awaited:
    """What held messages wait for among a list being recorded: the engine records such a
    message the careful way and attaches what waits for it right after it."""

    ids: set[tuple[int, str]] = field(default_factory=set)
    threads: set[tuple[int, str]] = field(default_factory=set)

    def add(self, held: Held) -> None:
        for external_id in held.waits_for:
            self.found(held.held.channel_id, WaitKind.MESSAGE, external_id)
        if held.thread_id:
            self.found(held.held.channel_id, WaitKind.THREAD, held.thread_id)

    def found(self, channel_id: int, kind: str, value: str) -> None:
        """A `HeldWait` row of a held message: its channel, kind and id."""
        (self.threads if kind == WaitKind.THREAD else self.ids).add((channel_id, value))

    def names(self, channel: Channel, incoming: IncomingMessage) -> bool:
        """Whether a held message waits for this message (by its id or its thread id)."""
        return (channel.pk, incoming.external_id) in self.ids or (
            bool(incoming.thread_id) and (channel.pk, incoming.thread_id) in self.threads
        )


# --- the sweep and the admin ------------------------------------------------------------------------


def expire(*, now: datetime) -> dict[str, int]:
    """Mark expired the held messages whose parent did not arrive in time, and log how many per
    channel; returns those counts. Safe to run twice or concurrently (conditional UPDATEs)."""
    days = settings.CSTRACKER_HELD_EXPIRY_DAYS
    due = HeldMessage.objects.filter(state=HeldState.HELD, expires_at__lte=now)
    expired: dict[str, int] = {}
    for channel_id, slug in Channel.objects.filter(pk__in=due.values("channel_id")).values_list("pk", "slug"):
        count = due.filter(channel_id=channel_id).update(
            state=HeldState.EXPIRED,
            closed_at=now,
            reason=f"its parent did not arrive within {days} day{'s' if days != 1 else ''}",
        )
        if count:
            expired[slug] = count
            logger.warning(
                "Held messages expired on %s: %s whose parent never arrived (Admin > Held messages)",
                slug,
                count,
            )
    return expired


def discard(*, held_ids: Iterable[int], reason: str, now: datetime) -> int:
    """Give up on held or expired messages (an admin's decision): they are never attached."""
    return HeldMessage.objects.filter(
        pk__in=list(held_ids), state__in=(HeldState.HELD, HeldState.EXPIRED)
    ).update(state=HeldState.DISCARDED, reason=reason[:500], closed_at=now)
