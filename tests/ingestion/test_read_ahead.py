"""`ReadAhead`: a thread reads an iterator ahead of its consumer, in order and bounded, further
while the consumer says it waits."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from inquiries.ingestion.read_ahead import ReadAhead


def test_it_yields_every_item_in_order_across_chunks():
    assert list(ReadAhead(range(1_003), chunk=10, lead=1, depth=2)) == list(range(1_003))
    assert list(ReadAhead([], chunk=10)) == []


def test_an_error_while_reading_comes_after_the_items_read_before_it():
    def items() -> Iterator[int]:
        yield from range(25)
        raise ValueError("line 26: not valid CSV")

    seen: list[int] = []
    with pytest.raises(ValueError, match="line 26"), ReadAhead(items(), chunk=10, lead=1, depth=1) as ahead:
        for item in ahead:
            seen.append(item)
    assert seen == list(range(25))


def counted(read: list[int]) -> Iterator[int]:
    for n in range(1_000_000):
        read.append(n)
        yield n


def settled(read: list[int], *, at_least: int = 0) -> int:
    """How many items the thread has read once it has read `at_least` and stops reading (it
    waits for room): the count that stays the same for a fifth of a second."""
    deadline = time.monotonic() + 30
    while len(read) < at_least and time.monotonic() < deadline:
        time.sleep(0.01)
    count = -1
    while count != len(read):
        count = len(read)
        time.sleep(0.2)
    return count


def test_closing_it_early_stops_the_thread_and_reads_no_further():
    read: list[int] = []

    with ReadAhead(counted(read), chunk=10, lead=2, depth=2) as ahead:
        items = iter(ahead)
        assert [next(items) for _ in range(5)] == [0, 1, 2, 3, 4]
    count = len(read)
    assert not [thread for thread in threading.enumerate() if thread.name == "read-ahead"]
    # At most the chunk being handed over, the blocks waiting and the one taken: bounded.
    assert count <= 10 * (2 + 2)
    assert len(read) == count


def test_it_reads_further_ahead_only_while_the_consumer_waits():
    read: list[int] = []

    with ReadAhead(counted(read), chunk=10, lead=1, depth=5) as ahead:
        items = iter(ahead)
        assert next(items) == 0
        # The block taken, one waiting and the chunk the thread holds: about `lead` ahead.
        assert settled(read) <= 10 * (1 + 1 + 1)
        with ahead.waiting():
            waited = settled(read, at_least=10 * 5)
            assert 10 * 5 <= waited <= 10 * (1 + 5 + 1)
        # Back to `lead`: the thread reads on only once the consumer has taken the blocks.
        assert [next(items) for _ in range(9)] == list(range(1, 10))
        assert settled(read) == waited
        assert next(items) == 10


def test_an_exit_raised_while_reading_reaches_the_caller_instead_of_leaving_it_waiting():
    def rows() -> Iterator[int]:
        yield 1
        raise SystemExit(3)

    items = iter(ReadAhead(rows(), chunk=1))
    assert next(items) == 1
    with pytest.raises(SystemExit):
        next(items)


def test_its_limits_must_make_sense():
    with pytest.raises(ValueError, match="lead"):
        ReadAhead([], lead=3, depth=2)
