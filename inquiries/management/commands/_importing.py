"""Shared bits of the import commands: recording in batches, counting outcomes, showing progress."""

from __future__ import annotations

import contextlib
import gc
import sys
import threading
import time
import zlib
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Protocol

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, OutputWrapper
from django.db import DatabaseError, connection, connections

from inquiries.ingestion.types import IncomingMessage, Rejected
from inquiries.models import (
    Channel,
    Clock,
    Customer,
    HeldMessage,
    HeldState,
    HeldWait,
    Inquiry,
    Message,
    WaitKind,
)
from inquiries.services.bulk import PlannerStatistics
from inquiries.services.orders import OrderImport
from inquiries.services.recording import Held, Outcome, owner, record_messages


def channel_by_slug(slug: str) -> Channel:
    channel = Channel.objects.select_related("account").filter(slug=slug).first()
    if channel is None:
        known = ", ".join(Channel.objects.order_by("slug").values_list("slug", flat=True)[:20]) or "none"
        raise CommandError(f"Unknown channel {slug!r}; known channels: {known}")
    if not channel.is_active:
        raise CommandError(f"Channel {slug!r} is inactive")
    return channel


# Young objects allocated between two collections of the youngest generation while importing
# (Python's default is 700).
IMPORT_GC_THRESHOLD = 10_000


@contextlib.contextmanager
def fewer_collections() -> Iterator[None]:
    """Less garbage-collection work while an import runs; as before afterwards.

    An import allocates a few dozen objects per message, nearly all freed by reference
    counting, yet they trigger the cyclic collector every 700 allocations, and its full
    collections walk everything the process loaded at start-up (Django, the models, the
    rules: over 100,000 objects). Those are moved out of the collector's way (`gc.freeze`,
    which a forked parser process inherits) and the youngest generation is collected less
    often: a tenth of the importer's CPU time was the collector's.
    """
    threshold = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(IMPORT_GC_THRESHOLD, *threshold[1:])
    try:
        yield
    finally:
        gc.set_threshold(*threshold)
        gc.unfreeze()


@dataclass
class Tally:
    """What an import did with each message it read: imported + duplicate + rejected + held is
    every message (automatic ones are among the imported)."""

    imported: int = 0
    duplicate: int = 0
    automatic: int = 0
    rejected: list[tuple[str, str]] = field(default_factory=list)
    held: int = 0  # replies and notes still waiting for their parent message
    attached: int = 0  # held on the way, then recorded when their parent came (among the imported)

    def summary(self) -> str:
        return (
            f"imported={self.imported} duplicate={self.duplicate} automatic={self.automatic} "
            f"rejected={len(self.rejected)} held={self.held}"
        )

    def held_note(self) -> str:
        """For the operator, when replies came before their parents: what became of them."""
        if not (self.held or self.attached):
            return ""
        note = f"Replies and notes before their parent message: {self.attached} attached when it came"
        if self.held:
            note += (
                f", {self.held} still held (each is attached when its parent arrives, from another file or "
                f"the API; otherwise it expires after {settings.CSTRACKER_HELD_EXPIRY_DAYS} days: "
                "Admin > Held messages)"
            )
        return note + "."


class Progress:
    """A one-line progress display, only when writing to a terminal: count, rate, time left."""

    def __init__(
        self, stream: OutputWrapper, total_bytes: int | None, *, enabled: bool | None = None
    ) -> None:
        self.stream = stream
        self.total_bytes = total_bytes
        self.enabled = stream.isatty() if enabled is None else enabled
        self.started = time.monotonic()
        self.last = 0.0

    def update(self, count: int, done_bytes: int) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if now - self.last < 0.5:
            return
        self.last = now
        elapsed = max(now - self.started, 1e-6)
        rate = count / elapsed
        left = ""
        if self.total_bytes and done_bytes:
            remaining = elapsed * (self.total_bytes - done_bytes) / done_bytes
            left = f", about {int(remaining // 60)}m{int(remaining % 60):02d}s left"
        self.stream.write(f"\r{count} messages, {rate:.0f}/s{left}   ", ending="")
        self.stream.flush()

    def finish(self) -> None:
        if self.enabled:
            self.stream.write("\n", ending="")
            self.stream.flush()


def report(command: BaseCommand, tally: Tally, rejection: Callable[[str, str], str]) -> None:
    """Each rejection on stderr (`rejection(label, reason)` its line), the held note, then the counts as
    the last line; exit status 1 when anything was rejected."""
    for label, reason in tally.rejected:
        command.stderr.write(rejection(label, reason))
    if tally.held_note():
        command.stdout.write(tally.held_note())
    command.stdout.write(tally.summary())
    if tally.rejected:
        raise SystemExit(1)


def stdout_is_tty() -> bool:
    return sys.stdout.isatty()


def _planner_statistics() -> PlannerStatistics:
    # What each batch looks up while it writes (Message first: its growth counts).
    return PlannerStatistics(
        {
            Message: ("channel", "external_id", "inquiry", "thread_id", "received_at"),
            Customer: ("account", "address"),
            Inquiry: ("customer", "order_id", "updated_at", "channel", "thread_key", "status"),
            Clock: ("inquiry", "kind", "state"),
        }
    )


Entry = tuple[int, str, IncomingMessage]  # input position, label, message


class _Recorder:
    """What both recorders share: positions in the input, outcomes counted, rejections in input order."""

    def __init__(self, channel: Channel, tally: Tally, size: int) -> None:
        self.channel = channel
        self.tally = tally
        self.size = size
        self.seen = 0  # messages and rejections handed in so far
        self.rejected: list[tuple[int, str, str]] = []
        self.held: dict[int, tuple[int, str]] = {}  # held message id: position, label
        self.statistics = _planner_statistics()

    def _position(self) -> int:
        self.seen += 1
        return self.seen - 1

    def reject(self, label: str, reason: str) -> None:
        self.rejected.append((self._position(), label, reason))

    def _count(self, batch: Sequence[Entry], outcomes: Sequence[Outcome]) -> None:
        created = 0
        for (position, label, _), outcome in zip(batch, outcomes, strict=True):
            if isinstance(outcome, Rejected):
                self.rejected.append((position, label, outcome.reason))
            elif isinstance(outcome, Held) and outcome.created:
                self.held[outcome.held.pk] = (position, label)
                self.tally.held += 1
                self._waits(outcome)
            elif not isinstance(outcome, Held) and outcome.created:
                created += 1
                self.tally.imported += 1
                self.tally.automatic += int(outcome.message.automatic)
            else:
                self.tally.duplicate += 1
        self.statistics.add(created)

    def _waits(self, held: Held) -> None:
        """A message was held, waiting for `held.waits_for`."""

    def _report(self) -> None:
        self._settle_held()
        self.tally.rejected += [(label, reason) for _, label, reason in sorted(self.rejected)]
        self.rejected = []

    def _settle_held(self) -> None:
        """Of the messages held on the way, those attached since are imported (and those refused
        when their parent came, rejected); the others still wait."""
        ids = list(self.held)
        for start in range(0, len(ids), 1000):
            rows = HeldMessage.objects.filter(pk__in=ids[start : start + 1000]).exclude(state=HeldState.HELD)
            for pk, state, automatic, reason in rows.values_list(
                "pk", "state", "message__automatic", "reason"
            ):
                position, label = self.held.pop(pk)
                if state == HeldState.ATTACHED:
                    self.tally.held -= 1
                    self.tally.attached += 1
                    self.tally.imported += 1
                    self.tally.automatic += int(bool(automatic))
                elif state == HeldState.DISCARDED:
                    self.tally.held -= 1
                    self.rejected.append((position, label, reason))


def database_lost(exc: DatabaseError, tally: Tally | OrderImport, resume: str) -> CommandError:
    """The error an importer ends with when the database goes away mid-import (a restart, a
    dropped connection): what was stored stays stored, and the same command resumes."""
    first_line = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    return CommandError(
        f"the database stopped answering ({first_line}) after {tally.summary()}.\n"
        "Everything counted as imported is stored. To resume, run the same command again once the "
        "database is back; nothing already stored is stored twice:\n"
        f"  {resume}"
    )


class _Abortable(Protocol):
    def abort(self) -> None: ...


def quietly_abort(recorder: _Abortable) -> None:
    """Stop a recorder after a failure; with the database gone, stopping may fail too."""
    with contextlib.suppress(DatabaseError):
        recorder.abort()


class BatchRecorder(_Recorder):
    """Collects parsed messages and records them a batch at a time (one transaction each).

    Hand in messages with `add()` and what could not be read with `reject()`, then `close()`:
    the tally then holds the counts and every rejection, in input order.
    """

    def __init__(self, channel: Channel, tally: Tally, *, size: int = 500) -> None:
        super().__init__(channel, tally, size)
        self.pending: list[Entry] = []

    def add(self, label: str, incoming: IncomingMessage) -> None:
        self.pending.append((self._position(), label, incoming))
        if len(self.pending) >= self.size:
            self.flush()

    def flush(self) -> None:
        if self.pending:
            batch, self.pending = self.pending, []
            self._count(batch, record_messages([(self.channel, incoming) for _, _, incoming in batch]))

    def close(self) -> None:
        """Record what is pending; the tally then holds every outcome, rejections in input order."""
        self.flush()
        self._report()

    def abort(self) -> None:
        """After a failure: record nothing more (what was read and not yet recorded is left out)."""
        self.pending = []
        self._report()


@dataclass
class _Lane:
    """One database connection of a `ConcurrentRecorder`: its own thread, its batches in order."""

    executor: ThreadPoolExecutor
    pending: list[Entry] = field(default_factory=list)
    running: deque[tuple[list[Entry], Future[list[Outcome] | None]]] = field(default_factory=deque)


class ConcurrentRecorder(_Recorder):
    """Records on several database connections at once (PostgreSQL), the messages shared out by customer.

    Where a message goes depends only on its own customer's earlier messages (`rules.owner`),
    so each customer's messages are recorded in input order on one connection, and the
    connections work side by side: while one waits for the database (its COPYs, the
    foreign-key checks at COMMIT), another prepares its next batch. The result is the one a
    single connection gives: a message whose place may depend on another customer's messages,
    or whose id is still being written on another connection, waits until everything before
    it is committed and is then recorded on its own. Rejections are reported in input order.
    """

    IN_FLIGHT = 2  # batches a connection may have queued or running: what bounds memory

    def __init__(self, channel: Channel, tally: Tally, *, writers: int, size: int = 500) -> None:
        if writers < 2:
            raise ValueError("a concurrent recorder needs at least two writers")
        super().__init__(channel, tally, size)
        # Ids held replies and notes wait for: such a message is recorded alone, so that what
        # waits for it is attached right after it, whichever customers' messages it names.
        self.awaited = set(
            HeldWait.objects.filter(channel=channel, kind=WaitKind.MESSAGE, held__state=HeldState.HELD)
            .values_list("external_id", flat=True)
            .iterator()
        )
        self.lanes = [
            _Lane(ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"import-writer-{n}"))
            for n in range(writers)
        ]
        # External ids handed to a lane and not yet committed: lane and how many.
        self.ids_in_flight: dict[str, list[int]] = {}
        self.failed = threading.Event()
        self.error: BaseException | None = None  # the first batch failure

    def add(self, label: str, incoming: IncomingMessage) -> None:
        position = self._position()
        key = owner(self.channel, incoming)
        held = self.ids_in_flight.get(incoming.external_id)
        lane = None if key is None else zlib.crc32(key[1].encode()) % len(self.lanes)
        if lane is None or (held is not None and held[0] != lane) or incoming.external_id in self.awaited:
            # Recorded alone, after everything before it and before anything after it.
            self._drain()
            self._submit(0, [(position, label, incoming)])
            self._drain()
            return
        self.lanes[lane].pending.append((position, label, incoming))
        if held is None:
            self.ids_in_flight[incoming.external_id] = [lane, 1]
        else:
            held[1] += 1
        if len(self.lanes[lane].pending) >= self.size:
            self._submit(lane, self.lanes[lane].pending)
            self.lanes[lane].pending = []
        self._collect(wait=False)

    def close(self) -> None:
        """Record what is pending, wait for every connection and close them; the tally then holds
        every outcome, rejections in input order. Should a batch fail, `abort()` and raise."""
        try:
            self._drain()
        except BaseException:
            self.abort()
            raise
        self._end()

    def abort(self) -> None:
        """After a failure: no batch starts any more (one running finishes), connections closed."""
        self.failed.set()
        for lane in self.lanes:
            lane.pending = []
            for _, future in lane.running:
                future.cancel()
        self._end()

    def _end(self) -> None:
        for lane in self.lanes:
            # Each writer thread's connection is closed by that thread, after its last batch.
            lane.executor.submit(connections.close_all).result()
            lane.executor.shutdown()
            lane.running.clear()
        self._report()

    def _waits(self, held: Held) -> None:
        # Held messages are agents' (no owner): recorded alone, counted before the next `add()`.
        self.awaited.update(held.waits_for)

    def _submit(self, lane: int, batch: list[Entry]) -> None:
        running = self.lanes[lane].running
        while len(running) >= self.IN_FLIGHT:
            self._finish(lane)
        items = [(self.channel, incoming) for _, _, incoming in batch]
        running.append((batch, self.lanes[lane].executor.submit(self._record, items)))

    def _record(self, items: list[tuple[Channel, IncomingMessage]]) -> list[Outcome] | None:
        """In a writer thread: one batch; None (nothing done) once a batch has failed."""
        if self.failed.is_set():
            return None
        try:
            return record_messages(items)
        except BaseException as exc:
            self.error = self.error or exc
            self.failed.set()  # before this thread, or another, starts its next batch
            raise

    def _finish(self, lane: int) -> None:
        """Wait for the lane's oldest batch and count its outcomes; raise the first batch failure."""
        batch, future = self.lanes[lane].running[0]
        outcomes = future.result()
        if outcomes is None:  # skipped after another batch failed: that failure is the error
            raise self.error or CommandError("an earlier batch failed")
        self.lanes[lane].running.popleft()
        self._count(batch, outcomes)
        for _, _, incoming in batch:
            held = self.ids_in_flight.get(incoming.external_id)
            if held is not None:
                held[1] -= 1
                if not held[1]:
                    del self.ids_in_flight[incoming.external_id]

    def _collect(self, *, wait: bool) -> None:
        for number, lane in enumerate(self.lanes):
            while lane.running and (wait or lane.running[0][1].done()):
                self._finish(number)

    def _drain(self) -> None:
        for number, lane in enumerate(self.lanes):
            if lane.pending:
                self._submit(number, lane.pending)
                lane.pending = []
        self._collect(wait=True)


def recorder_for(channel: Channel, tally: Tally, *, writers: int) -> BatchRecorder | ConcurrentRecorder:
    """A recorder on `writers` connections; one where more cannot work (SQLite, or inside a transaction
    the other connections would not see)."""
    if writers > 1 and connection.vendor == "postgresql" and not connection.in_atomic_block:
        return ConcurrentRecorder(channel, tally, writers=writers)
    return BatchRecorder(channel, tally)
