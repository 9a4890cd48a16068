"""The per-complaint update: after a message is recorded, its inquiry's complaint is counted once
(at its opening time) in the burst and near-duplicate clusters of its key.
"""

from __future__ import annotations

from inquiries.models import (
    ClusterKind,
    Direction,
    Inquiry,
    Message,
)
from inquiries.services import cluster_rates
from inquiries.services.cluster_base import (
    Key,
)
from inquiries.services.complaints.bursts import update_burst_cluster
from inquiries.services.complaints.config import Config
from inquiries.services.complaints.similar_text import update_text_cluster

# --- the per-complaint update -----------------------------------------------------------------


def update_clusters_for_message(*, message_id: int) -> list[int]:
    """Add the complaint a customer message opened to its clusters, opening them when due.

    Only the message that opened its inquiry counts (a complaint is an inquiry, not each of
    its messages); anything else, or an inquiry without a complaint topic, changes nothing.
    Idempotent. Returns the ids of the clusters the complaint is now in.
    """
    message = (
        Message.objects.select_related("inquiry__topic")
        .only(
            "id",
            "direction",
            "automatic",
            "received_at",
            "subject",
            "body_text",
            "inquiry__id",
            "inquiry__account_id",
            "inquiry__customer_id",
            "inquiry__sku",
            "inquiry__opened_at",
            "inquiry__topic__id",
            "inquiry__topic__is_complaint",
        )
        .filter(pk=message_id)
        .first()
    )
    if (
        message is None
        or message.inquiry is None
        or message.direction != Direction.INBOUND
        or message.automatic
    ):
        return []
    if message.received_at != message.inquiry.opened_at:
        return []
    return update_clusters_for_inquiry(inquiry=message.inquiry, message=message)


def update_clusters_for_inquiry(
    *, inquiry: Inquiry, message: Message | None = None, config: Config | None = None
) -> list[int]:
    """The update for one complaint, as of its opening time (so back-filled history clusters
    exactly as it would have live). `message` is its opening message, looked up if omitted."""
    config = config or Config.from_settings()
    topic = inquiry.topic
    if topic is None or not topic.is_complaint:
        return []
    if message is None:
        message = _opening_message(inquiry)
    touched = []
    if inquiry.sku:
        cluster = update_burst_cluster(
            Key(inquiry.account_id, topic.pk, inquiry.sku, ClusterKind.BURST),
            at=inquiry.opened_at,
            config=config,
            joining=inquiry,
            message_id=message.pk if message else None,
        )
        if cluster is not None:
            touched.append(cluster.pk)
    if message is not None:
        cluster = update_text_cluster(inquiry, message, config)
        if cluster is not None:
            touched.append(cluster.pk)
    if len(touched) > 1:
        # A burst and a text cluster sharing this complaint are one incident from now on. Both
        # rows are locked by this transaction already (their updates above), so merging them
        # takes no lock another worker could hold in the opposite order.
        cluster_rates.merge_incidents(clusters=touched, now=inquiry.opened_at)
    return touched


def _opening_message(inquiry: Inquiry) -> Message | None:
    return (
        Message.objects.filter(
            inquiry=inquiry, direction=Direction.INBOUND, automatic=False, received_at=inquiry.opened_at
        )
        .only("id", "subject", "body_text")
        .order_by("id")
        .first()
    )
