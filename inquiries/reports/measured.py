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
from typing import Any, cast

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
    and the index of its clock kind in `kind_names`; `kept` marks the records the filters keep
    (None: all). Filtering only marks: a column is copied out for the kept records when read."""

    clocks: NDArray[np.void]
    accounts: NDArray[np.int64]
    kinds: NDArray[np.int64]
    kind_names: tuple[str, ...]
    kept: NDArray[np.bool_] | None = None

    @classmethod
    def unpack(cls, rows: Sequence[tuple[int, str, bytes | memoryview]]) -> Measured:
        """From (account id, clock kind, packed clocks) rows."""
        # One buffer, one array: concatenating hundreds of record arrays costs more in numpy's
        # per-array dtype checks than the copy itself.
        clocks = np.frombuffer(b"".join(packed for _, _, packed in rows), dtype=CLOCK)
        sizes = [len(packed) // CLOCK.itemsize for _, _, packed in rows]
        names = tuple(sorted({kind for _, kind, _ in rows}))
        return cls(
            clocks=clocks,
            accounts=np.repeat(np.array([account for account, _, _ in rows], dtype=np.int64), sizes),
            kinds=np.repeat(np.array([names.index(kind) for _, kind, _ in rows], dtype=np.int64), sizes),
            kind_names=names,
        )

    def where(self, keep: NDArray[np.bool_]) -> Measured:
        """The kept records that `keep` (one flag per record read) marks too."""
        kept = _all_or_none(keep if self.kept is None else self.kept & keep)
        return Measured(self.clocks, self.accounts, self.kinds, self.kind_names, kept)

    def only(self, field: str, ids: Sequence[int]) -> Measured:
        """The clocks whose `field` (a CLOCK field) is one of `ids`."""
        return self.where(np.isin(self.clocks[field], np.array(ids, dtype=np.int64)))

    def column(self, field: str) -> NDArray[Any]:
        """A CLOCK field of the kept records, or "account" or "kind" (the kind's index)."""
        values = (
            self.accounts if field == "account" else self.kinds if field == "kind" else self.clocks[field]
        )
        return np.ascontiguousarray(values) if self.kept is None else values[self.kept]

    def group_column(self, group_by: str) -> NDArray[np.int64]:
        """The group of each kept record: its account, agent, team, channel or topic id."""
        return self.column(FIELDS.get(group_by, group_by)).astype(np.int64)


def duration_stats(measured: Measured, group_bys: Sequence[str], *, business: bool) -> dict[str, Stats]:
    """What `queries.duration_stats_by` computes from the clocks, from measured clocks: per
    grouping, count, mean, median and 90th percentile per (group, kind) in the report's mode
    (`business` hours or calendar time), with the same clocks in the other mode in `other`, and
    for the totals the histogram. In business hours only clocks with a business measurement
    count, as in the live query."""
    if business:
        measured = measured.where(measured.clocks["business"] != UNMEASURED)
    kinds, seconds, calendar = (measured.column(field) for field in ("kind", "business", "calendar"))
    # In calendar time, the other mode (business hours) has the clocks with a business measurement.
    has_business = None if business else _all_or_none(seconds != UNMEASURED)
    in_business = seconds.astype(np.float64)
    primary, other = (in_business, calendar) if business else (calendar, in_business)
    found: dict[str, Stats] = {}
    if "total" in group_bys:
        found["total"] = _totals(kinds, measured.kind_names, primary, other, has_business)
    dimensions = [group_by for group_by in group_bys if group_by != "total"]
    if not dimensions:
        return found
    by_business = Mode.of_seconds(seconds, in_business, has_business)
    by_calendar = Mode.of_reals(calendar)
    main, alternative = (by_business, by_calendar) if business else (by_calendar, by_business)
    for group_by in dimensions:
        ids, codes = _codes(measured, group_by, kinds)
        mains, others = main.by_code(codes, len(ids)), alternative.by_code(codes, len(ids))
        found[group_by] = {
            (None if group == NONE else group, measured.kind_names[kind]): DurationStats(
                *mains[code], other=DurationStats(*others[code])
            )
            for code, (group, kind) in enumerate(ids)
            if mains[code][0]
        }
    return found


def _all_or_none(flags: NDArray[np.bool_]) -> NDArray[np.bool_] | None:
    """`flags`, or None when every one is set (nothing to leave out)."""
    return None if bool(flags.all()) else flags


def _totals(
    kinds: NDArray[np.int64],
    kind_names: tuple[str, ...],
    primary: NDArray[np.float64],
    other: NDArray[np.float64],
    other_kept: NDArray[np.bool_] | None,
) -> Stats:
    """Per clock kind, the statistics and the histogram (`primary`: every record's value in the
    report's mode; `other`: in the other mode, which only the records `other_kept` marks have).
    One sort per kind and mode: no grouping to line up."""
    totals: Stats = {}
    for index, kind in enumerate(kind_names):
        in_kind = kinds == index
        values = np.sort(primary[in_kind])
        if not len(values):
            continue
        others = np.sort(other[in_kind if other_kept is None else in_kind & other_kept])
        totals[(0, kind)] = DurationStats(
            *_summary(values), other=DurationStats(*_summary(others)), buckets=_buckets(values)
        )
    return totals


def _summary(ordered: NDArray[np.float64]) -> tuple[int, float | None, float | None, float | None]:
    """Count, mean, median and 90th percentile of sorted values."""
    if not len(ordered):
        return 0, None, None, None
    sequence = cast(Sequence[float], ordered)  # indexing is all `percentile` does
    return (
        len(ordered),
        float(ordered.sum()) / len(ordered),
        float(percentile(sequence, 0.5)),
        float(percentile(sequence, 0.9)),
    )


def _buckets(ordered: NDArray[np.float64]) -> tuple[int, ...]:
    """How many sorted values fall in each DURATION_BUCKETS range: lower bound included."""
    below = np.searchsorted(ordered, np.array(DURATION_EDGES, dtype=np.float64), side="left").tolist()
    edges = [0, *below, len(ordered)]
    return tuple(high - low for low, high in itertools.pairwise(edges))


@dataclass(frozen=True, slots=True)
class Mode:
    """One mode's values of the records (only those `kept` marks have one; None: all), each
    with a key that sorts as the value does: for whole seconds the value less the smallest,
    for calendar seconds its rank among all of them (one sort for every grouping). With a
    group's code in the bits above the key, one integer sort lines up each group's values in
    order (32-bit integers when code and key fit, twice as fast to sort as 64-bit ones): a
    group's median is then read at its rank, with no sort of its own."""

    values: NDArray[np.float64]
    keys: NDArray[np.int64]
    key_bits: int  # every key is below 2**key_bits
    ordered: NDArray[np.float64] | None  # all values in rank order, when the keys are ranks
    least: int = 0  # the smallest whole seconds, when the keys are seconds
    kept: NDArray[np.bool_] | None = None

    @classmethod
    def of_seconds(
        cls, seconds: NDArray[np.int32], values: NDArray[np.float64], kept: NDArray[np.bool_] | None
    ) -> Mode:
        if kept is not None:
            seconds, values = seconds[kept], values[kept]
        least = int(seconds.min()) if len(seconds) else 0
        keys = seconds.astype(np.int64)
        keys -= least
        key_bits = int(keys.max()).bit_length() if len(keys) else 0
        return cls(values, keys, key_bits, None, least, kept)

    @classmethod
    def of_reals(cls, values: NDArray[np.float64]) -> Mode:
        order = np.argsort(values)
        ranks = np.empty(len(values), dtype=np.int64)
        ranks[order] = np.arange(len(values), dtype=np.int64)
        return cls(values, ranks, max(len(values) - 1, 0).bit_length(), values[order])

    def value(self, key: int) -> float:
        return float(key + self.least) if self.ordered is None else float(self.ordered[key])

    def by_code(
        self, codes: NDArray[np.int64], size: int
    ) -> list[tuple[int, float | None, float | None, float | None]]:
        """Count, mean, median and 90th percentile of each code's values (`codes`: one per
        record, the records this mode leaves out included)."""
        if self.kept is not None:
            codes = codes[self.kept]
        narrow = self.key_bits + max(size - 1, 0).bit_length() <= 32
        lined_up: NDArray[Any] = codes.astype(np.uint32 if narrow else np.int64)
        lined_up <<= self.key_bits
        lined_up |= self.keys.astype(lined_up.dtype)
        lined_up.sort()
        counts = np.bincount(codes, minlength=size).tolist()
        sums = np.bincount(codes, weights=self.values, minlength=size).tolist()
        found: list[tuple[int, float | None, float | None, float | None]] = []
        start = 0
        for count, total in zip(counts, sums, strict=True):
            if not count:
                found.append((0, None, None, None))
                continue
            ordered = _Ordered(self, lined_up, start, count)
            found.append((count, total / count, percentile(ordered, 0.5), percentile(ordered, 0.9)))
            start += count
        return found


class _Ordered(Sequence[float]):
    """One group's values in order, read from the lined-up keys: all `percentile` needs."""

    def __init__(self, mode: Mode, lined_up: NDArray[Any], start: int, size: int) -> None:
        self.mode, self.lined_up, self.start, self.size = mode, lined_up, start, size
        self.mask = (1 << mode.key_bits) - 1

    def __len__(self) -> int:
        return self.size

    def __getitem__(self, index: int) -> float:  # type: ignore[override]
        return self.mode.value(int(self.lined_up[self.start + index]) & self.mask)


def _codes(
    measured: Measured, group_by: str, kinds: NDArray[np.int64]
) -> tuple[list[tuple[int, int]], NDArray[np.int64]]:
    """Every (group id, kind index) present, and per record the position of its own in that list
    (`kinds`: the kept records' kind indexes)."""
    groups = measured.group_column(group_by)
    if groups.size and groups.min() >= 0 and groups.max() < 2**22:
        # Ids are small: a table of the ids present numbers them without sorting the records.
        present = np.bincount(groups) > 0
        group_ids, dense = np.flatnonzero(present), (np.cumsum(present) - 1)[groups]
    else:
        group_ids, dense = np.unique(groups, return_inverse=True)
    size = len(measured.kind_names)
    ids = [(int(group), kind) for group in group_ids for kind in range(size)]
    codes = dense.astype(np.int64)
    codes *= size
    codes += kinds
    return ids, codes
