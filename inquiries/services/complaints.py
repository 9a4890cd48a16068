"""Complaint follow-up after a customer message: cluster updates (issue 6 fills this in)."""

from __future__ import annotations


def update_clusters_for_message(*, message_id: int) -> None:
    """Cluster detection is not built yet; the hook exists so follow-ups are tracked."""
