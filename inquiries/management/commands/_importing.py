"""Shared bits of the import commands: counting outcomes and showing progress on a terminal."""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from typing import TextIO

from django.core.management.base import CommandError

from inquiries.ingestion.types import IncomingMessage, Rejected
from inquiries.models import Channel, Clock, Customer, Inquiry, Message
from inquiries.services.batch import record_batch
from inquiries.services.bulk import PlannerStatistics


def channel_by_slug(slug: str) -> Channel:
    channel = Channel.objects.select_related("account").filter(slug=slug).first()
    if channel is None:
        known = ", ".join(Channel.objects.order_by("slug").values_list("slug", flat=True)[:20]) or "none"
        raise CommandError(f"Unknown channel {slug!r}; known channels: {known}")
    if not channel.is_active:
        raise CommandError(f"Channel {slug!r} is inactive")
    return channel


@dataclass
class Tally:
    imported: int = 0
    duplicate: int = 0
    automatic: int = 0
    rejected: list[tuple[str, str]] = field(default_factory=list)

    @property
    def seen(self) -> int:
        return self.imported + self.duplicate + len(self.rejected)

    def summary(self) -> str:
        return (
            f"imported={self.imported} duplicate={self.duplicate} automatic={self.automatic} "
            f"rejected={len(self.rejected)}"
        )


class Progress:
    """A one-line progress display, only when writing to a terminal: count, rate, time left."""

    def __init__(self, stream: TextIO, total_bytes: int | None, *, enabled: bool | None = None) -> None:
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
        self.stream.write(f"\r{count} messages, {rate:.0f}/s{left}   ")
        self.stream.flush()

    def finish(self) -> None:
        if self.enabled:
            self.stream.write("\n")
            self.stream.flush()


def stdout_is_tty() -> bool:
    return sys.stdout.isatty()


class BatchRecorder:
    """Collects parsed messages and records them a batch at a time (one transaction each)."""

    def __init__(self, channel: Channel, tally: Tally, *, size: int = 500) -> None:
        self.channel = channel
        self.tally = tally
        self.size = size
        self.pending: list[tuple[str, IncomingMessage]] = []
        # What each batch looks up while it writes (Message first: its growth counts).
        self.statistics = PlannerStatistics(
            {
                Message: ("channel", "external_id", "inquiry", "thread_id", "received_at"),
                Customer: ("account", "address"),
                Inquiry: ("customer", "order_id", "updated_at", "channel", "thread_key", "status"),
                Clock: ("inquiry", "kind", "state"),
            }
        )

    def add(self, label: str, incoming: IncomingMessage) -> None:
        self.pending.append((label, incoming))
        if len(self.pending) >= self.size:
            self.flush()

    def flush(self) -> None:
        if not self.pending:
            return
        outcomes = record_batch(items=[(self.channel, incoming) for _, incoming in self.pending])
        created = 0
        for (label, _), outcome in zip(self.pending, outcomes, strict=True):
            if isinstance(outcome, Rejected):
                self.tally.rejected.append((label, outcome.reason))
            elif outcome.created:
                created += 1
                self.tally.imported += 1
                self.tally.automatic += int(outcome.message.automatic)
            else:
                self.tally.duplicate += 1
        self.pending = []
        self.statistics.add(created)
