"""What every kind of complaint cluster is written with: its key and the key's lock, member rows,
and the events of a transaction, queued for notification once it commits.

Shared by the per-complaint updates and the sweep (`services.complaints`) and by the rate
clusters (`services.cluster_rates`).
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, cast

from django.contrib.auth.models import AbstractBaseUser
from django.db import connection
from django.db.models import OuterRef, QuerySet, Subquery
from django.utils import translation

from inquiries.models import (
    Cluster,
    ClusterEvent,
    ClusterMember,
    Direction,
    Inquiry,
    Message,
    Severity,
)
from inquiries.services.queue import enqueue_after_commit

if TYPE_CHECKING:
    from django.contrib.auth.models import User

SEVERITY_BY_NAME = {
    "none": Severity.LOW,
    "low": Severity.LOW,
    "medium": Severity.MEDIUM,
    "high": Severity.HIGH,
    "critical": Severity.CRITICAL,
}

# pg_advisory_xact_lock's first key: the burst clusters' own space of locks.
BURST_LOCK_SPACE = 0x43534231  # "CSB1"


@dataclass(frozen=True, slots=True)
class Key:
    """What identifies an active cluster (the partial unique constraint's columns)."""

    account_id: int
    topic_id: int
    sku: str
    kind: str
    signature: str = ""

    def filter(self) -> dict[str, object]:
        return {
            "account_id": self.account_id,
            "topic_id": self.topic_id,
            "sku": self.sku,
            "kind": self.kind,
            "signature": self.signature,
        }


class Events:
    """Cluster events of one transaction, queued for notification once it commits."""

    def __init__(self) -> None:
        self.ids: list[int] = []

    def add(
        self,
        cluster: Cluster,
        kind: str,
        at: datetime,
        data: dict[str, object],
        actor: AbstractBaseUser | None = None,
    ) -> None:
        # The project's user model is Django's: the abstract type the callers hold is that one.
        user = cast("User | None", actor)
        event = ClusterEvent.objects.create(cluster=cluster, kind=kind, at=at, actor=user, data=data)
        self.ids.append(event.pk)

    def queue(self) -> None:
        if self.ids:
            enqueue_after_commit("notify_cluster_events", list(self.ids))


def lock_key(key: Key) -> None:
    """A transaction-scoped lock on a cluster key (PostgreSQL; SQLite serialises writers anyway).

    Keys hash to 32 bits: two keys that collide just wait for each other.
    """
    if connection.vendor != "postgresql":
        return
    digest = zlib.crc32(f"{key.account_id}|{key.topic_id}|{key.sku}|{key.kind}|{key.signature}".encode())
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [BURST_LOCK_SPACE, digest - 2**31])


def add_member(cluster: Cluster, inquiry: Inquiry, message_id: int | None) -> None:
    ClusterMember.objects.bulk_create(
        [ClusterMember(cluster=cluster, inquiry=inquiry, message_id=message_id, opened_at=inquiry.opened_at)],
        ignore_conflicts=True,
    )


def add_members(cluster: Cluster, inquiries: QuerySet[Inquiry]) -> None:
    first_message = Message.objects.filter(
        inquiry=OuterRef("pk"), direction=Direction.INBOUND, automatic=False
    ).order_by("received_at", "id")
    rows = inquiries.annotate(first_message=Subquery(first_message.values("pk")[:1])).values_list(
        "pk", "opened_at", "first_message"
    )
    ClusterMember.objects.bulk_create(
        [
            ClusterMember(cluster=cluster, inquiry_id=pk, message_id=message_id, opened_at=opened_at)
            for pk, opened_at, message_id in rows
        ],
        ignore_conflicts=True,
    )


def fact(label: object) -> str:
    """A choice's label as stored in an event's facts: in English (the msgid), whatever language
    the request that recorded it speaks."""
    with translation.override(None):
        return str(label)


def summary(cluster: Cluster) -> dict[str, object]:
    return {
        "kind": cluster.kind,
        "sku": cluster.sku,
        "members": cluster.member_count,
        "severity": fact(Severity(cluster.severity).label),
    }
