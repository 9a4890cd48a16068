"""The compliance counts a report reads, whether counted live from the clocks (`queries`) or
read from the SLA rollup (`rollup`): both build them from one grouped row."""

from __future__ import annotations

from dataclasses import dataclass


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
