"""The figures a report reads, whether computed live from the clocks (`queries`) or read from
the rollups (`rollup`): compliance counts, built from one grouped row, and duration statistics.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from django.utils.translation import gettext_noop

HOUR, DAY = 3600, 86400
# Upper bounds (exclusive) of the duration histogram's buckets, in seconds; the last is open.
DURATION_EDGES = (15 * 60, HOUR, 4 * HOUR, 8 * HOUR, DAY, 3 * DAY)
# Their names, marked for the catalogues: `report.py` shows them in the reader's language.
DURATION_BUCKETS = (
    gettext_noop("under 15 min"),
    gettext_noop("15 min-1 h"),
    gettext_noop("1-4 h"),
    gettext_noop("4-8 h"),
    gettext_noop("8-24 h"),
    gettext_noop("1-3 days"),
    gettext_noop("3 days or more"),
)


@dataclass(frozen=True, slots=True)
class ComplianceCounts:
    """Clock outcomes of one group and kind. Compliance = met / (met + missed + breached)."""

    group: object
    kind: str
    met: int = 0
    missed: int = 0
    breached: int = 0
    cancelled: int = 0
    in_progress: int = 0

    OUTCOMES = ("met", "missed", "breached", "cancelled", "in_progress")

    @classmethod
    def from_row(cls, row: dict) -> ComplianceCounts:
        """From a grouped values() row: the group in "g", the clock kind, one count per outcome."""
        return cls(row["g"], row["kind"], *(row[name] for name in cls.OUTCOMES))

    @property
    def counted(self) -> int:
        return self.met + self.missed + self.breached

    @property
    def compliance(self) -> float | None:
        return 100 * self.met / self.counted if self.counted else None


@dataclass(frozen=True, slots=True)
class DurationStats:
    count: int
    mean: float | None
    median: float | None
    p90: float | None
    # The same clocks measured in the other mode (calendar time when the report is in
    # business hours, and the reverse), so the page can show both side by side.
    other: DurationStats | None = None
    # How many of them fall in each of DURATION_BUCKETS (the histogram), in this mode; counted
    # for the totals (group "total") only, None elsewhere.
    buckets: tuple[int, ...] | None = None


# Duration statistics per (group, clock kind).
Stats = dict[tuple[object, str], DurationStats]


def percentile(ordered: Sequence[float], fraction: float) -> float:
    """PostgreSQL's percentile_cont: interpolate between the two nearest ranks of sorted values."""
    position = fraction * (len(ordered) - 1)
    lower = math.floor(position)
    upper = min(lower + 1, len(ordered) - 1)
    return ordered[lower] + (ordered[upper] - ordered[lower]) * (position - lower)
