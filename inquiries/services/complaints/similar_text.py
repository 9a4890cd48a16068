"""Near-duplicate clusters: one account and topic, any SKU or none. A new complaint's text is
fingerprinted once (`complaints.fingerprints`, MinHash) and screened against the stored
fingerprints of the window's latest complaints of its topic; the few look-alikes are confirmed
with `similar_to` (TF-IDF cosine). A match from another customer opens a cluster of the two, or
adds the complaint to the cluster the match belongs to.
"""

from __future__ import annotations

from typing import cast

from django.db import connection, transaction

from inquiries.complaints.clusters import TextItem, similar_to
from inquiries.complaints.fingerprints import estimated_jaccard, fingerprint, screening_bound
from inquiries.models import (
    ACTIVE_CLUSTER_STATES,
    Account,
    Cluster,
    ClusterEventKind,
    ClusterKind,
    ClusterMember,
    ClusterState,
    ComplaintFingerprint,
    Inquiry,
    Message,
)
from inquiries.services.cluster_base import (
    Events,
    add_member,
    add_members,
    summary,
)
from inquiries.services.complaints.bursts import refresh_cluster
from inquiries.services.complaints.config import CONFIRM_AT_MOST, Config

# --- near-identical texts ---------------------------------------------------------------------


def complaint_text(subject: str, body: str) -> str:
    return f"{subject}\n{body}"


def _store_fingerprint(inquiry: Inquiry, message: Message) -> bytes:
    """Fingerprint the complaint's text (once; the topic is refreshed on every update)."""
    signature = fingerprint(complaint_text(message.subject, message.body_text))
    ComplaintFingerprint.objects.bulk_create(
        [
            ComplaintFingerprint(
                inquiry=inquiry,
                account_id=inquiry.account_id,
                topic_id=inquiry.topic_id,
                customer_id=inquiry.customer_id,
                message=message,
                opened_at=inquiry.opened_at,
                signature=signature,
            )
        ],
        update_conflicts=True,
        unique_fields=["inquiry"],
        update_fields=["topic", "message", "signature"],
    )
    return signature


def _candidates(inquiry: Inquiry, config: Config) -> tuple[list[int], bytes]:
    """The window's latest complaints of the same topic from other customers, as inquiry ids
    and their fingerprints packed end to end (the order of both is the same)."""
    at = inquiry.opened_at
    assert inquiry.topic_id is not None  # a complaint is an inquiry with a complaint topic
    # Complaints already dealt with (members of a resolved text cluster) do not start a new one.
    settled = ClusterMember.objects.filter(
        cluster__kind=ClusterKind.NEAR_DUPLICATE, cluster__state=ClusterState.RESOLVED
    ).values("inquiry_id")
    latest = (
        ComplaintFingerprint.objects.filter(
            account_id=inquiry.account_id,
            topic_id=inquiry.topic_id,
            # Both sides of the window: complaints are not always followed up in the order
            # they were opened (concurrent workers, back-filled imports), and a text seen
            # first must still find the earlier-opened ones that arrive after it.
            opened_at__gte=at - config.window,
            opened_at__lte=at + config.window,
        )
        .exclude(inquiry_id=inquiry.pk)
        .exclude(customer_id=inquiry.customer_id)
        .exclude(inquiry_id__in=settled)
        .order_by("-opened_at")
        .values_list("inquiry_id", "signature")[: config.candidates]
    )
    if connection.vendor == "postgresql":
        # One row instead of hundreds: decoding rows, not reading them, is the cost here.
        # Both aggregates consume the rows in the same order, so ids and signatures align.
        sql, params = latest.query.sql_with_params()
        with connection.cursor() as cursor:
            cursor.execute(
                # `sql` is the ORM's own query text; every value in it is a bound parameter.
                f"SELECT array_agg(c.inquiry_id), string_agg(c.signature, ''::bytea) FROM ({sql}) c",  # noqa: S608
                params,
            )
            ids, packed = cursor.fetchone()
        return list(ids or ()), bytes(packed or b"")
    rows = list(latest)
    return [pk for pk, _ in rows], b"".join(bytes(signature) for _, signature in rows)


def update_text_cluster(inquiry: Inquiry, message: Message, config: Config) -> Cluster | None:
    with transaction.atomic():
        # Serialise text clustering per account, from the look-up on: which cluster this text
        # joins depends on the other texts, so a worker must see every text stored before it
        # (the lock is held until commit), or two concurrent complaints can miss each other.
        Account.objects.select_for_update().filter(pk=inquiry.account_id).values_list("pk", flat=True).first()
        return _update_text_locked(inquiry, message, config)


def _update_text_locked(inquiry: Inquiry, message: Message, config: Config) -> Cluster | None:
    at = inquiry.opened_at
    signature = _store_fingerprint(inquiry, message)
    ids, packed = _candidates(inquiry, config)
    # Screen by fingerprint, then confirm the most alike few with the exact measure: they are
    # enough to decide, as the new complaint joins one of them or none.
    ranked = sorted(zip(estimated_jaccard(signature, packed), ids, strict=True), reverse=True)
    bound = screening_bound(config.similarity)
    screened = [pk for score, pk in ranked[:CONFIRM_AT_MOST] if score >= bound]
    if not screened:
        return None
    texts = ComplaintFingerprint.objects.filter(pk__in=screened).values_list(
        "inquiry_id", "message__subject", "message__body_text"
    )
    items = [
        TextItem(id=pk, customer="", text=complaint_text(subject or "", body or ""))
        for pk, subject, body in texts
    ]
    text = complaint_text(message.subject, message.body_text)
    hits = [cast(int, pk) for pk, _ in similar_to(text, items, config.similarity)]  # the items' ids
    if not hits:
        return None
    events = Events()
    in_text_cluster = ClusterMember.objects.filter(
        inquiry=inquiry,
        cluster__kind=ClusterKind.NEAR_DUPLICATE,
        cluster__state__in=ACTIVE_CLUSTER_STATES,
    )
    if in_text_cluster.exists():  # a re-run, or a concurrent worker's cluster took it in
        return None
    cluster = (
        Cluster.objects.select_for_update()
        .filter(
            account_id=inquiry.account_id,
            kind=ClusterKind.NEAR_DUPLICATE,
            state__in=ACTIVE_CLUSTER_STATES,
            members__inquiry_id__in=hits,
        )
        .order_by("first_seen", "id")
        .first()
    )
    created = cluster is None
    if cluster is None:
        seed = min([inquiry.pk, *hits])
        cluster = Cluster.objects.create(
            account_id=inquiry.account_id,
            topic_id=inquiry.topic_id,
            kind=ClusterKind.NEAR_DUPLICATE,
            signature=f"inquiry:{seed}",
            first_seen=at,
            last_seen=at,
        )
        add_members(cluster, Inquiry.objects.filter(pk__in=hits))
    add_member(cluster, inquiry, message.pk)
    refresh_cluster(cluster, config=config, events=events, created=created, at=max(at, cluster.last_seen))
    if created:
        events.add(cluster, ClusterEventKind.OPENED, at, summary(cluster))
    events.queue()
    return cluster
