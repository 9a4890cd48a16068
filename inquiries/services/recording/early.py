"""Customers' messages stored before the message they answer.

A customer's message that names the message it answers only by In-Reply-To (a tweet answering a
tweet, a mail answering a mail) finds no inquiry when it arrives before that message: a file
read in its own order, a later file, a parent that was itself an agent's reply still held. It is
never held (a customer waiting gets an inquiry and a clock at once), so it opens an inquiry of
its own. Recorded in time order, it would have joined the inquiry of the message it answers.

So when a message is stored, the customers' messages that answer it and opened an inquiry of
their own are looked up (the engine's first lookup of the ids it records finds them with the rest,
`join` itself for held messages attached later) and `join` brings each such inquiry's messages
into the inquiry of the message they answer, which is then applied again in time order
(`replay.py`): the inquiries and clocks that recording in time order gives. If in time order the
answer started the conversation over after a close, the replay puts it in an inquiry of its own
again, following the closed one. The early inquiry's events move with its messages, its cluster
memberships, notifications and labels go where the answer ends; it is deleted.

It is done only where recording in time order would have done it: the same customer (a customer's
message never joins another customer's conversation), the answered message earlier in time, and
neither inquiry worked on by a person (as for the replay: their actions are not messages to apply
again). The others are logged and left as they are.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from datetime import datetime

from django.db import transaction
from django.db.models import F, QuerySet

from inquiries.models import (
    Clock,
    Cluster,
    ClusterMember,
    Direction,
    EventKind,
    Inquiry,
    InquiryEvent,
    Message,
    Notification,
    TopicLabel,
)
from inquiries.services import documents
from inquiries.services.recording import behind, replay

logger = logging.getLogger(__name__)


def answering(channel_ids: Iterable[int], external_ids: Iterable[str]) -> QuerySet[Message]:
    """Stored customers' messages that answer one of these ids by In-Reply-To (the engine's
    first lookup unions it with its own; indexed by `message_customer_reply_to`)."""
    return Message.objects.filter(
        channel_id__any=set(channel_ids),
        in_reply_to__any=set(external_ids),
        direction=Direction.INBOUND,
        automatic=False,
        inquiry__isnull=False,
    ).exclude(in_reply_to="")


def join(parents: Sequence[Message], *, now: datetime) -> dict[int, int]:
    """For each stored message of `parents`, bring the inquiries that customers' messages
    answering it opened of their own into its inquiry (see the module's docstring). Returns the
    inquiries joined: {gone: the one it joined}."""
    if not parents:
        return {}
    keys = {(m.channel_id, m.external_id): m for m in parents}
    children = sorted(
        (
            (child, parent)
            for child in answering({c for c, _ in keys}, {e for _, e in keys}).order_by()
            if (parent := keys.get((child.channel_id, child.in_reply_to))) is not None
            and child.inquiry_id != parent.inquiry_id  # else it found its parent: nothing to do
            and behind.time_order(child) > behind.time_order(parent)
        ),
        key=lambda pair: behind.time_order(pair[0]),
    )
    joined: dict[int, int] = {}
    for child, parent in children:
        pair = _join(child.pk, parent.pk, now=now)
        if pair is not None:
            gone, kept = pair
            joined = {early: (kept if target == gone else target) for early, target in joined.items()}
            joined[gone] = kept
    return joined


@transaction.atomic
def _join(child_id: int, parent_id: int, *, now: datetime) -> tuple[int, int] | None:
    """Join the inquiry `child_id` opened into `parent_id`'s: (gone, kept), or None if not."""
    rows = {m.pk: m for m in Message.objects.filter(pk__in=(child_id, parent_id))}
    child, parent = rows.get(child_id), rows.get(parent_id)
    if child is None or parent is None or parent.inquiry_id is None or child.inquiry_id is None:
        return None
    if child.inquiry_id == parent.inquiry_id or behind.time_order(child) <= behind.time_order(parent):
        return None  # joined already, or written before what it answers (time order: its own)
    # The clusters of both first, then both inquiries, each in id order: the order in which the
    # clustering task locks a cluster, then adds a member (which waits on its inquiry's row).
    list(
        Cluster.objects.select_for_update(of=("self",))
        .filter(members__inquiry__in=(child.inquiry_id, parent.inquiry_id))
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    inquiries = {
        i.pk: i
        for i in Inquiry.objects.select_for_update()
        .filter(pk__in=(child.inquiry_id, parent.inquiry_id))
        .order_by("pk")
    }
    early, target = inquiries.get(child.inquiry_id), inquiries.get(parent.inquiry_id)
    if early is None or target is None or early.customer_id != target.customer_id:
        return None
    if not InquiryEvent.objects.filter(inquiry=early, kind=EventKind.INQUIRY_OPENED, message=child).exists():
        return None  # it did not open its inquiry: it joined one by another of its references
    if InquiryEvent.objects.filter(inquiry__in=(early, target), actor__isnull=False).exists():
        logger.info(
            "message %s answers %s, which arrived after it; inquiries %s and %s kept apart: a person "
            "acted on one of them",
            child.external_id,
            parent.external_id,
            early.pk,
            target.pk,
        )
        return None
    gone = early.pk
    # Its messages and events join `target`, its clocks go (the replay starts `target`'s again
    # from all the messages) ...
    Message.objects.filter(inquiry=early).update(inquiry=target)
    InquiryEvent.objects.filter(inquiry=early).update(inquiry=target)
    Clock.objects.filter(inquiry=early).delete()
    replay.replay(target.pk, now=now)
    # ... and in time order the answer may have started the conversation over after a close: the
    # replay then put it in the inquiry it started over in. What pointed at `early` goes where the
    # answer is now.
    home_id = Message.objects.filter(pk=child_id).values_list("inquiry_id", flat=True).get()
    home = target if home_id == target.pk else Inquiry.objects.get(pk=home_id)
    _repoint(early, home)
    documents.rebuild({target.pk, home.pk})
    return gone, home.pk


def _repoint(early: Inquiry, home: Inquiry) -> None:
    """What points at `early` to `home`, then `early` goes; a cluster that holds both keeps
    `home` once."""
    both = ClusterMember.objects.filter(inquiry=early, cluster__members__inquiry=home)
    counted_twice = list(both.values_list("cluster_id", flat=True))
    if counted_twice:
        ClusterMember.objects.filter(inquiry=early, cluster_id__in=counted_twice).delete()
        # One complaint, counted once (the same customer: the customer count stands).
        Cluster.objects.filter(pk__in=counted_twice).update(member_count=F("member_count") - 1)
    ClusterMember.objects.filter(inquiry=early).update(inquiry=home, opened_at=home.opened_at)
    Notification.objects.filter(inquiry=early).update(inquiry=home)
    TopicLabel.objects.filter(inquiry=early).update(inquiry=home)
    Inquiry.objects.filter(previous=early).update(previous=home)
    early.delete()
