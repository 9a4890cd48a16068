"""Parsing archived mail next to the database writes: a worker process, in order, bounded.

An import spends its time in two places that do not depend on each other: parsing MIME
(pure Python, `email.py`) and recording messages (the database). With a worker process the
parser reads ahead while the importer writes, a few chunks at a time, so memory stays flat
however large the mbox is, and messages come back in their input order (threading depends
on it). The worker can also classify each message by the topic rules (`rules`), which is
pure text work too: the importer then only checks that its own rules are the same. Pure:
no Django; the worker imports only the ingestion and rule modules.
"""

from __future__ import annotations

import dataclasses
import logging
import multiprocessing
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from datetime import datetime
from itertools import islice

from inquiries.complaints.rules import CompiledRules, topic_hint
from inquiries.ingestion.email import parse_email, receipt_time
from inquiries.ingestion.types import IncomingMessage, Rejected

CHUNK = 50  # messages per task: large enough that the hand-over costs little
# How far the parser may run ahead: what bounds memory. The importer writes in batches of
# hundreds, so the parser must keep working through a whole batch's database time.
AHEAD_MESSAGES = 2_000
AHEAD_BYTES = 64 * 1024 * 1024

Parsed = IncomingMessage | Rejected
logger = logging.getLogger(__name__)


def parse_archived(raw: bytes, now: datetime) -> Parsed:
    """Parse one archived message, scored from when our server received it.

    That is the topmost Received header's date; mail without that trace, or with a clock
    ahead of ours (`now`), counts as received now. Returns the rejection instead of raising.
    """
    received = receipt_time(raw)
    if received is None or received > now:
        received = now
    try:
        return parse_email(raw, received_at=received)
    except Rejected as exc:
        return exc


# Which messages a worker classifies, by which rules; set when it starts (`_start_worker`).
Wanted = Callable[[IncomingMessage], bool]
_worker_rules: CompiledRules | None = None
_worker_wants: Wanted | None = None


def _start_worker(rules: CompiledRules | None, wants: Wanted | None) -> None:
    global _worker_rules, _worker_wants
    _worker_rules, _worker_wants = rules, wants


def _with_topic(parsed: Parsed, rules: CompiledRules | None, wants: Wanted | None) -> Parsed:
    if rules is None or isinstance(parsed, Rejected) or (wants is not None and not wants(parsed)):
        return parsed
    return dataclasses.replace(parsed, topic_hint=topic_hint(parsed.topic_text(), rules))


def _parse_chunk(chunk: list[tuple[bytes, datetime]]) -> list[Parsed]:
    return [_with_topic(parse_archived(raw, now), _worker_rules, _worker_wants) for raw, now in chunk]


def parse_mail(
    items: Iterable[tuple[str, bytes | Rejected]],
    *,
    now: Callable[[], datetime],
    workers: int = 0,
    rules: CompiledRules | None = None,
    wants_topic: Wanted | None = None,
) -> Iterator[tuple[str, int, Parsed]]:
    """(label, size in bytes, parsed message or rejection) for each item, in input order.

    `workers` processes parse ahead of the caller; 0 parses here, one message at a time.
    With `rules`, the workers also classify each message (its `topic_hint`), or only those
    `wants_topic` accepts (the others are unlikely to need a topic: the caller classifies
    them if they do); what is parsed here is left for the caller to classify, as it would anyway.
    Items that are already rejections (unreadable, over size) pass through with size 0.
    Should a worker die (killed for memory, say), the rest is parsed here: nothing is skipped.
    """
    source = iter(items)
    if workers > 0:
        yield from _parse_ahead(source, now=now, workers=workers, rules=rules, wants_topic=wants_topic)
    for label, raw in source:  # all of it without workers; what is left if a worker died
        yield _here(label, raw, now())


def _here(label: str, raw: bytes | Rejected, now: datetime) -> tuple[str, int, Parsed]:
    if isinstance(raw, Rejected):
        return label, 0, raw
    return label, len(raw), parse_archived(raw, now)


def _parse_ahead(
    source: Iterator[tuple[str, bytes | Rejected]],
    *,
    now: Callable[[], datetime],
    workers: int,
    rules: CompiledRules | None,
    wants_topic: Wanted | None,
) -> Iterator[tuple[str, int, Parsed]]:
    # fork: the worker runs only `_parse_chunk` (no database, no logging), so a copy of this
    # process is safe, and unlike spawn or forkserver it does not re-run the caller's main
    # script, which a script without an `if __name__ == "__main__"` guard would not survive.
    # The rules (and `wants_topic`) reach the worker in the forked memory, not pickled per task.
    context = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(
        max_workers=workers, mp_context=context, initializer=_start_worker, initargs=(rules, wants_topic)
    ) as executor:
        pending: deque[tuple[list[tuple[str, bytes | Rejected]], Future[list[Parsed]]]] = deque()
        ahead_messages = ahead_bytes = 0

        def fill() -> None:
            nonlocal ahead_messages, ahead_bytes
            while ahead_messages < AHEAD_MESSAGES and ahead_bytes < AHEAD_BYTES:
                chunk = list(islice(source, CHUNK))
                if not chunk:
                    return
                at = now()
                work = [(raw, at) for _, raw in chunk if not isinstance(raw, Rejected)]
                ahead_messages += len(chunk)
                ahead_bytes += sum(len(raw) for raw, _ in work)
                pending.append((chunk, executor.submit(_parse_chunk, work)))

        fill()
        while pending:
            chunk, future = pending.popleft()
            ahead_messages -= len(chunk)
            ahead_bytes -= sum(len(raw) for _, raw in chunk if not isinstance(raw, Rejected))
            try:
                parsed = iter(future.result())
            except BrokenProcessPool:
                logger.warning("the mail parser process died; parsing the rest in this process")
                for label, raw in [*chunk, *(item for waiting, _ in pending for item in waiting)]:
                    yield _here(label, raw, now())
                return
            fill()
            for label, raw in chunk:
                if isinstance(raw, Rejected):
                    yield label, 0, raw
                else:
                    yield label, len(raw), next(parsed)
