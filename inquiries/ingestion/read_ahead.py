"""Reading an iterator ahead of its consumer, in a thread of its own (pure: no Django).

An order report import spends its time in two places that do not depend on each other:
parsing rows (pure Python) and waiting for the database to store the previous batch. A thread
that parses while the importer waits for PostgreSQL (psycopg releases the interpreter's lock
while it waits) turns the sum of the two into about the larger. Parsing stays in order and
bounded: the thread runs at most `depth` chunks ahead, so memory does not grow with the file.
Unlike `pool.py`'s worker process for mail, nothing is pickled: a parsed row costs less to
build than to send to another process.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Generator, Iterable
from typing import TypeVar

T = TypeVar("T")


def read_ahead(items: Iterable[T], *, chunk: int = 500, depth: int = 8) -> Generator[T, None, None]:
    """The items of `items`, in order, read by a thread up to `depth` chunks of `chunk` items
    ahead of the caller.

    An exception raised while reading `items` is raised to the caller after the items read
    before it, where it would have come. Closing the generator (the caller's loop ends early or
    raises; use `contextlib.closing`) stops the thread and waits for it, so `items` (a file
    being read) is no longer touched once this generator is closed.
    """
    blocks: deque[tuple[list[T], BaseException | None, bool]] = deque()
    changed = threading.Condition()  # a block was handed over or taken, or the caller left
    stopped = False

    def put(block: list[T], error: BaseException | None = None, done: bool = False) -> bool:
        """Hand a block over when there is room; False when the caller went away meanwhile."""
        with changed:
            while len(blocks) >= depth and not stopped:
                changed.wait()
            if stopped:
                return False
            blocks.append((block, error, done))
            changed.notify_all()
            return True

    def read() -> None:
        block: list[T] = []
        try:
            for item in items:
                block.append(item)
                if len(block) >= chunk:
                    if not put(block):
                        return
                    block = []
        except BaseException as exc:  # raised to the caller, in its place (even SystemExit: the
            put(block, exc, done=True)  # caller must not wait for a block that never comes)
            return
        put(block, done=True)

    thread = threading.Thread(target=read, name="read-ahead", daemon=True)
    thread.start()
    try:
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
    finally:
        with changed:
            stopped = True
            changed.notify_all()
        thread.join()
