"""Reading mail files: a single .eml file, a folder of them, or an mbox file (streamed, so
memory stays flat on a multi-GB mbox).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from inquiries.ingestion.email.guards import MAX_MESSAGE_BYTES
from inquiries.ingestion.types import Rejected

# --- reading mail files -----------------------------------------------------------------

_READ_CHUNK = 64 * 1024  # longest piece of a line held at once while streaming an mbox


def iter_mail_source(
    path: Path, *, max_message_bytes: int = MAX_MESSAGE_BYTES
) -> Iterator[tuple[str, bytes | Rejected]]:
    """Yield (label, raw message or Rejected) for every message under `path`.

    `path` may be a single message file, an mbox file (its first line starts with
    "From "), or a folder: every regular file below it in sorted order (a folder's own
    files before its subfolders'), dot-files and dot-folders skipped, each file treated as
    above. The label is the file path, or "path:N" for the N-th message (from 1) of an mbox.
    Over-size messages and unreadable files yield a `Rejected` instead of bytes, and
    reading continues.
    """
    if path.is_dir():
        # Paths as strings: a Path object per file costs more than reading a small message.
        for entry in _entries_below(path):
            yield from _iter_file(entry.path, max_message_bytes)
    else:
        yield from _iter_file(os.fspath(path), max_message_bytes)


def mail_source_size(path: Path) -> int:
    """Bytes in the files `iter_mail_source(path)` reads (files that vanish count 0)."""
    if not path.is_dir():
        return path.stat().st_size
    total = 0
    for entry in _entries_below(path):
        with contextlib.suppress(OSError):
            total += entry.stat().st_size
    return total


def _entries_below(folder: Path | str) -> Iterator[os.DirEntry[str]]:
    # os.scandir's entries know a file from a folder without a stat call each, which a
    # folder of tens of thousands of messages notices; symlinked folders are not entered
    # (as os.walk does), folders that cannot be listed are skipped.
    try:
        with os.scandir(folder) as listing:
            entries = sorted(listing, key=lambda entry: entry.name)
    except OSError:
        return
    subfolders = []
    for entry in entries:
        if entry.name.startswith("."):
            continue
        try:
            if entry.is_dir():
                if not entry.is_symlink():
                    subfolders.append(entry)
            elif entry.is_file():
                yield entry
        except OSError:
            continue
    for subfolder in subfolders:
        yield from _entries_below(subfolder.path)


def _iter_file(path: str, max_message_bytes: int) -> Iterator[tuple[str, bytes | Rejected]]:
    label = path
    try:
        raw = _read_message(path, max_message_bytes)
        if raw is not None and not raw.startswith(b"From "):
            yield label, raw
            return
        # An mbox (streamed, whatever its size) or an over-size message.
        with open(path, "rb") as fh:
            if fh.read(5) == b"From ":
                fh.seek(0)
                yield from _iter_mbox(fh, label, max_message_bytes)
                return
            size = os.fstat(fh.fileno()).st_size
            yield label, Rejected(f"message is {size} bytes, over the {max_message_bytes}-byte limit")
    except OSError as exc:
        yield label, Rejected(f"cannot read {label}: {exc.strerror or exc}")


def _read_message(path: str, limit: int) -> bytes | None:
    """The whole file when it is at most `limit` bytes, else None; None too as soon as its
    first bytes show an mbox, which is then streamed instead of held in memory.

    One open, fstat and read for a small message, without the buffered file object `open()`
    builds, which costs more than reading the message does (a folder of 20,000: 0.4 s
    against 1.0 s).
    """
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_BINARY", 0))
    try:
        size = os.fstat(fd).st_size
        if size > limit:
            return None
        # One byte more than fstat said: a file that grew since shows it at once.
        data = os.read(fd, min(size + 1, _READ_CHUNK))
        if len(data) == size:  # the usual case: all of it at once
            return data
        if data.startswith(b"From "):
            return None
        # A larger message, a short read, or a file that changed since fstat: read to its end.
        chunks, got = [data], len(data)
        while data and got <= limit:
            data = os.read(fd, max(size + 1 - got, _READ_CHUNK))
            chunks.append(data)
            got += len(data)
        return b"".join(chunks) if got <= limit else None
    finally:
        os.close(fd)


def _iter_mbox(fh: BinaryIO, label: str, max_message_bytes: int) -> Iterator[tuple[str, bytes | Rejected]]:
    """Split an mbox stream into messages, holding at most one message in memory.

    A message starts at a line beginning with "From " that follows a blank line (or starts
    the file); that envelope line and the blank line before it are framing, not message.
    mboxrd quoting is undone: ">From ", ">>From "... lose one ">". Lines are read in
    bounded chunks, so one enormous line cannot exhaust memory either.
    """
    number = 0
    chunks: list[bytes] | None = None  # None: no message yet, or the current one is over size
    size = 0
    over_size = False
    at_line_start = True
    previous_blank = True  # the start of the file counts as a blank line
    pending_blank = b""  # a blank line that is framing if a "From " line follows

    def finish() -> tuple[str, bytes | Rejected]:
        if over_size:
            return f"{label}:{number}", Rejected(f"message is over the {max_message_bytes}-byte limit")
        return f"{label}:{number}", b"".join(chunks or ())

    while True:
        piece = fh.readline(_READ_CHUNK)
        if not piece:
            break
        starts_line = at_line_start
        at_line_start = piece.endswith(b"\n")
        if starts_line and previous_blank and piece.startswith(b"From "):
            if number:
                yield finish()
            number += 1
            chunks, size, over_size, pending_blank = [], 0, False, b""
            previous_blank = False
            # Skip the rest of an envelope line longer than one chunk.
            while not at_line_start:
                rest = fh.readline(_READ_CHUNK)
                if not rest:
                    break
                at_line_start = rest.endswith(b"\n")
            continue
        is_blank = starts_line and at_line_start and piece.strip(b"\r\n") == b""
        if starts_line and piece.startswith(b">") and piece.lstrip(b">").startswith(b"From "):
            piece = piece[1:]
        if pending_blank:
            size += _append(chunks, pending_blank, over_size)
            pending_blank = b""
        if is_blank:
            pending_blank = piece
        else:
            size += _append(chunks, piece, over_size)
        if starts_line:
            previous_blank = is_blank
        if not over_size and size > max_message_bytes:
            over_size = True
            chunks = None  # let the memory go; the rest of this message is only counted
    if number:
        yield finish()


def _append(chunks: list[bytes] | None, piece: bytes, over_size: bool) -> int:
    if chunks is not None and not over_size:
        chunks.append(piece)
    return len(piece)
