"""The cluster detection's settings (window, baseline, minimum count, text similarity), read once
per update from the CSTRACKER_CLUSTER_* settings, and its fixed constants.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings

ALPHA = 0.01  # the significance level for a burst
GROWTH_PERIOD = timedelta(hours=24)
# Look-alikes confirmed with the exact (TF-IDF) measure per complaint, most alike first.
CONFIRM_AT_MOST = 5


@dataclass(frozen=True, slots=True)
class Config:
    window: timedelta
    baseline: timedelta
    min_count: int
    similarity: float
    candidates: int

    @classmethod
    def from_settings(cls) -> Config:
        return cls(
            window=timedelta(days=settings.CSTRACKER_CLUSTER_WINDOW_DAYS),
            baseline=timedelta(days=settings.CSTRACKER_CLUSTER_BASELINE_DAYS),
            min_count=settings.CSTRACKER_CLUSTER_MIN_COMPLAINTS,
            similarity=settings.CSTRACKER_CLUSTER_TEXT_SIMILARITY_PERCENT / 100,
            candidates=settings.CSTRACKER_CLUSTER_TEXT_CANDIDATES,
        )
