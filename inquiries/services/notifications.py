"""Notifications for clock transitions (issue 4 fills this in)."""

from __future__ import annotations


def notify_for_events(*, event_ids: list[int]) -> int:
    """Notifications are not built yet; returns how many were sent."""
    return 0


def notify_for_cluster_events(*, event_ids: list[int]) -> int:
    """Notifications for cluster transitions are not built yet; returns how many were sent."""
    return 0
