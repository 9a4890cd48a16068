"""Measured clocks packed for the duration rollup, and the report's duration statistics over them.

A `DurationRollup` row holds every measured clock of one account, clock kind and start day as
an array of fixed-size binary records (`CLOCK`). Medians and percentiles cannot be added up
from daily counts, so the values themselves are kept; numpy then sorts half a million of them
in tens of milliseconds, where PostgreSQL's `percentile_cont` sorts each group of each grouping
on its own (and the live query first joins every clock to its inquiry). The figures are those
of the live query exactly: the same values, the same interpolation (`percentile`).

numpy is imported by the callers only when a report needs it (see `inquiries.complaints`: it
takes a noticeable time to import, which every web worker would pay at start).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import cast

import numpy as np
from numpy.typing import NDArray

from inquiries.reports.counts import DURATION_EDGES, DurationStats, Stats, percentile

# One measured clock: the inquiry's channel, assignee, team and topic (0: none) and the clock's
# business seconds (-1: no stored business measurement) and calendar seconds (stopped_at -
# started_at, microseconds included). Little-endian whatever the machine, as it is stored.
CLOCK = np.dtype(
    [
        ("channel", "<i4"),
        ("assignee", "<i4"),
        ("team", "<i4"),
        ("topic", "<i4"),
        ("business", "<i4"),
        ("calendar", "<f8"),
    ]
)
NONE = 0
UNMEASURED = -1
# The report's groupings and the field of a clock that holds each ("account" and "kind" are
# the rollup row's own; "total" groups everything).
FIELDS = {"agent": "assignee", "team": "team", "channel": "channel", "topic": "topic"}

# One measured clock as the rollup refresh reads it: channel, assignee, team, topic ids (None:
# none), business seconds (None: not measured) and calendar seconds.
ClockValues = tuple[int, int | None, int | None, int | None, int | None, float]


def pack(clocks: Iterable[ClockValues]) -> bytes:
    """The clocks as `CLOCK` records. Ids beyond 2**31 - 1 raise OverflowError: the refresh
    fails loudly (and the reports count live) rather than store a wrong id."""
    records = [
        (
            channel,
            assignee or NONE,
            team or NONE,
            topic or NONE,
            UNMEASURED if business is None else business,
            calendar,
        )
        for channel, assignee, team, topic, business, calendar in clocks
    ]
    return np.array(records, dtype=CLOCK).tobytes()


@dataclass(frozen=True, slots=True)
class Measured:
    """Measured clocks unpacked from rollup rows: the records and, per record, the row's account
    and the index of its clock kind in `kind_names`."""

    clocks: NDArray[np.void]
    accounts: NDArray[np.int64]
    kinds: NDArray[np.int64]
    kind_names: tuple[str, ...]

    @classmethod
    def unpack(cls, rows: Sequence[tuple[int, str, bytes | memoryview]]) -> Measured:
        """From (account id, clock kind, packed clocks) rows."""
        parts = [np.frombuffer(packed, dtype=CLOCK) for _, _, packed in rows]
        sizes = [len(part) for part in parts]
        names = tuple(sorted({kind for _, kind, _ in rows}))
        return cls(
            clocks=np.concatenate(parts) if parts else np.zeros(0, dtype=CLOCK),
            accounts=np.repeat(np.array([account for account, _, _ in rows], dtype=np.int64), sizes),
            kinds=np.repeat(np.array([names.index(kind) for _, kind, _ in rows], dtype=np.int64), sizes),
            kind_names=names,
        )

    def where(self, keep: NDArray[np.bool_]) -> Measured:
        return Measured(self.clocks[keep], self.accounts[keep], self.kinds[keep], self.kind_names)

    def only(self, field: str, ids: Sequence[int]) -> Measured:
        """The clocks whose `field` (a CLOCK field) is one of `ids`."""
        return self.where(np.isin(self.clocks[field], np.array(ids, dtype=np.int64)))

    def group_column(self, group_by: str) -> NDArray[np.int64]:
        if group_by == "total":
            return np.zeros(len(self.clocks), dtype=np.int64)
        if group_by == "account":
            return self.accounts
        return self.clocks[FIELDS[group_by]].astype(np.int64)


def duration_stats(measured: Measured, group_bys: Sequence[str], *, business: bool) -> dict[str, Stats]:
    """What `queries.duration_stats_by` computes from the clocks, from measured clocks: per
    grouping, count, mean, median and 90th percentile per (group, kind) in the report's mode
    (`business` hours or calendar time), with the same clocks in the other mode in `other`, and
    for the totals the histogram. In business hours only clocks with a business measurement
    count, as in the live query."""
    measured_business = measured.clocks["business"] != UNMEASURED
    if business:
        measured = measured.where(measured_business)
        measured_business = np.ones(len(measured.clocks), dtype=bool)
    modes = [
        (measured.clocks["business"].astype(np.float64), measured_business),
        (measured.clocks["calendar"], np.ones(len(measured.clocks), dtype=bool)),
    ]
    (primary, primary_kept), (other, other_kept) = modes if business else modes[::-1]
    found: dict[str, Stats] = {}
    if "total" in group_bys:
        found["total"] = _totals(measured, primary[primary_kept], other[other_kept], other_kept)
    dimensions = [group_by for group_by in group_bys if group_by != "total"]
    if not dimensions:
        return found
    main_values, other_values = Ordered(primary, primary_kept), Ordered(other, other_kept)
    for group_by in dimensions:
        ids, codes = _codes(measured, group_by)
        main, alternative = main_values.by_code(codes, len(ids)), other_values.by_code(codes, len(ids))
        found[group_by] = {
            (None if group == NONE else group, measured.kind_names[kind]): DurationStats(
                *_summary(main.values(code), main.sums[code]),
                other=DurationStats(*_summary(alternative.values(code), alternative.sums[code])),
            )
            for code, (group, kind) in enumerate(ids)
            if main.counts[code]
        }
    return found


def _totals(
    measured: Measured,
    primary: NDArray[np.float64],
    other: NDArray[np.float64],
    other_kept: NDArray[np.bool_],
) -> Stats:
    """Per clock kind, the statistics and the histogram (`primary`: every record's value in the
    report's mode; `other`: the values of the records `other_kept` marks, in the other mode).
    One sort per kind and mode: no grouping to line up."""
    totals: Stats = {}
    for index, kind in enumerate(measured.kind_names):
        in_kind = measured.kinds == index
        values = np.sort(primary[in_kind])
        if not len(values):
            continue
        others = np.sort(other[in_kind[other_kept]])
        totals[(0, kind)] = DurationStats(
            *_summary(values, float(values.sum())),
            other=DurationStats(*_summary(others, float(others.sum()))),
            buckets=_buckets(values),
        )
    return totals


class Ordered:
    """One mode's values of the records that have one (`kept`), sorted once; `by_code` then
    lines up each group's values, still in order, with a stable sort of small integers."""

    def __init__(self, values: NDArray[np.float64], kept: NDArray[np.bool_]) -> None:
        records = np.flatnonzero(kept)
        self.records = records[np.argsort(values[records])]
        self.sorted = values[self.records]

    def by_code(self, codes: NDArray[np.int64], size: int) -> Grouped:
        ordered_codes = codes[self.records]
        small = ordered_codes.astype(np.uint16) if size <= 2**16 else ordered_codes
        counts = np.bincount(ordered_codes, minlength=size)
        return Grouped(
            values_by_code=self.sorted[np.argsort(small, kind="stable")],
            counts=counts,
            starts=np.cumsum(counts) - counts,
            sums=np.bincount(ordered_codes, weights=self.sorted, minlength=size).astype(np.float64),
        )


@dataclass(frozen=True, slots=True)
class Grouped:
    """Sorted values of every group, one after the other: group `code` has `counts[code]` of
    them from `starts[code]` on, summing to `sums[code]`."""

    values_by_code: NDArray[np.float64]
    counts: NDArray[np.int64]
    starts: NDArray[np.int64]
    sums: NDArray[np.float64]

    def values(self, code: int) -> NDArray[np.float64]:
        start = int(self.starts[code])
        return self.values_by_code[start : start + int(self.counts[code])]


def _codes(measured: Measured, group_by: str) -> tuple[list[tuple[int, int]], NDArray[np.int64]]:
    """Every (group id, kind index) present, and per record the position of its own in that list."""
    groups = measured.group_column(group_by)
    if groups.size and groups.min() >= 0 and groups.max() < 2**22:
        # Ids are small: a table of the ids present numbers them without sorting the records.
        present = np.bincount(groups) > 0
        group_ids, dense = np.flatnonzero(present), (np.cumsum(present) - 1)[groups]
    else:
        group_ids, dense = np.unique(groups, return_inverse=True)
    kinds = len(measured.kind_names)
    ids = [(int(group), kind) for group in group_ids for kind in range(kinds)]
    return ids, dense.astype(np.int64) * kinds + measured.kinds


def _summary(
    ordered: NDArray[np.float64], total: float
) -> tuple[int, float | None, float | None, float | None]:
    """Count, mean, median and 90th percentile of sorted values (`total`: their sum)."""
    if not len(ordered):
        return 0, None, None, None
    sequence = cast(Sequence[float], ordered)  # indexing is all `percentile` does
    return (
        len(ordered),
        float(total) / len(ordered),
        float(percentile(sequence, 0.5)),
        float(percentile(sequence, 0.9)),
    )


def _buckets(ordered: NDArray[np.float64]) -> tuple[int, ...]:
    """How many sorted values fall in each DURATION_BUCKETS range: lower bound included."""
    below = np.searchsorted(ordered, np.array(DURATION_EDGES, dtype=np.float64), side="left").tolist()
    edges = [0, *below, len(ordered)]
    return tuple(high - low for low, high in itertools.pairwise(edges))
