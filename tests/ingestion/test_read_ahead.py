"""`read_ahead`: a thread reads an iterator ahead of its consumer, in order and bounded."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import closing

import pytest

from inquiries.ingestion.read_ahead import read_ahead


def test_it_yields_every_item_in_order_across_chunks():
    assert list(read_ahead(range(1_003), chunk=10, depth=2)) == list(range(1_003))
    assert list(read_ahead([], chunk=10)) == []


def test_an_error_while_reading_comes_after_the_items_read_before_it():
    def items() -> Iterator[int]:
        yield from range(25)
        raise ValueError("line 26: not valid CSV")

    seen: list[int] = []
    with pytest.raises(ValueError, match="line 26"):
        for item in read_ahead(items(), chunk=10, depth=1):
            seen.append(item)
    assert seen == list(range(25))


def test_closing_it_early_stops_the_thread_and_reads_no_further():
    read = []

    def items() -> Iterator[int]:
        for n in range(1_000_000):
            read.append(n)
            yield n

    with closing(read_ahead(items(), chunk=10, depth=2)) as ahead:
        assert [next(ahead) for _ in range(5)] == [0, 1, 2, 3, 4]
    count = len(read)
    assert not [thread for thread in threading.enumerate() if thread.name == "read-ahead"]
    # At most the chunk being handed over, the blocks waiting and the one taken: bounded.
    assert count <= 10 * (2 + 2)
    assert len(read) == count


def test_an_exit_raised_while_reading_reaches_the_caller_instead_of_leaving_it_waiting():
    def rows() -> Iterator[int]:
        yield 1
        raise SystemExit(3)

    items = read_ahead(rows(), chunk=1)
    assert next(items) == 1
    with pytest.raises(SystemExit):
        next(items)
