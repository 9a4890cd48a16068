"""Reading an iterator ahead of its consumer, in a thread of its own (pure: no Django).

An order report import spends its time in two places that do not depend on each other:
parsing rows (pure Python) and waiting for the database to store the previous batch. A thread
that parses while the importer waits for PostgreSQL (psycopg releases the interpreter's lock
while it waits) turns the sum of the two into about the larger. Parsing stays in order and
bounded: the thread runs at most a few chunks ahead, so memory does not grow with the file.
Unlike `pool.py`'s worker process for mail, nothing is pickled: a parsed row costs less to
build than to send to another process.

The thread reads far ahead only while the consumer says it waits (`ReadAhead.waiting()`): when
both run Python, only one of them runs at a time anyway (the interpreter's lock), and each hand
over of the lock between them costs time, so then the thread stays a couple of chunks ahead,
enough for the consumer never to wait for it.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from types import TracebackType
from typing import Generic, TypeVar

T = TypeVar("T")


class ReadAhead(Generic[T]):
    """The items of `items`, in order, read by a thread in chunks of `chunk` items: up to `lead`
    chunks ahead of the consumer, and up to `depth` chunks while the consumer is inside
    `waiting()`.

    An exception raised while reading `items` is raised to the consumer after the items read
    before it, where it would have come. Closing it (`close()`, or leaving its `with` block: the
    consumer's loop ended early or raised) stops the thread and waits for it, so `items` (a file
    being read) is no longer touched once it is closed. Iterate it once.
    """

    def __init__(self, items: Iterable[T], *, chunk: int = 100, lead: int = 2, depth: int = 8) -> None:
        if not 1 <= lead <= depth:
            raise ValueError("ReadAhead: 1 <= lead <= depth")
        self._items = items
        self._chunk = chunk
        self._lead = lead
        self._depth = depth
        self._limit = lead  # chunks the thread may have ready now
        self._blocks: deque[tuple[list[T], BaseException | None, bool]] = deque()
        self._changed = (
            threading.Condition()
        )  # a block was handed over or taken, the limit moved, or the consumer left
        self._stopped = False
        self._thread = threading.Thread(target=self._read, name="read-ahead", daemon=True)

    def __iter__(self) -> Iterator[T]:
        self._thread.start()
        changed, blocks = self._changed, self._blocks
        while True:
            with changed:
                while not blocks:
                    changed.wait()
                block, error, done = blocks.popleft()
                changed.notify_all()
            yield from block
            if error is not None:
                raise error
            if done:
                return

    @contextmanager
    def waiting(self) -> Iterator[None]:
        """Around what the consumer waits for outside Python (a database statement): the thread
        may read up to `depth` chunks ahead meanwhile."""
        with self._changed:
            self._limit = self._depth
            self._changed.notify_all()
        try:
            yield
        finally:
            with self._changed:
                self._limit = self._lead

    def close(self) -> None:
        with self._changed:
            self._stopped = True
            self._changed.notify_all()
        if self._thread.is_alive():
            self._thread.join()

    def __enter__(self) -> ReadAhead[T]:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()

    def _put(self, block: list[T], error: BaseException | None = None, done: bool = False) -> bool:
        """Hand a block over when there is room; False when the consumer went away meanwhile. A
        last block (with an error, or the end) is handed over whatever the limit: the consumer
        must not wait for a block that never comes."""
        with self._changed:
            while len(self._blocks) >= self._limit and not self._stopped and not done:
                self._changed.wait()
            if self._stopped:
                return False
            self._blocks.append((block, error, done))
            self._changed.notify_all()
            return True

    def _room(self) -> bool:
        """Wait until a block may be handed over; False when the consumer went away meanwhile."""
        with self._changed:
            while len(self._blocks) >= self._limit and not self._stopped:
                self._changed.wait()
            return not self._stopped

    def _read(self) -> None:
        block: list[T] = []
        chunk, lead, blocks = self._chunk, self._lead, self._blocks
        try:
            for item in self._items:
                block.append(item)
                if len(block) >= chunk:
                    if not self._put(block):
                        return
                    block = []
                # Once the consumer no longer waits and has enough, the thread pauses at once,
                # mid-chunk, instead of at the end of its chunk (read without the lock: at worst
                # an item late).
                elif self._limit == lead and len(blocks) >= lead and not self._room():
                    return
        except BaseException as exc:  # raised to the consumer, in its place (even SystemExit)
            self._put(block, exc, done=True)
            return
        self._put(block, done=True)
