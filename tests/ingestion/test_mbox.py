"""iter_mail_source(): single files, folders and streamed mbox files."""

from __future__ import annotations

import os
import tracemalloc
from pathlib import Path

import pytest

from inquiries.ingestion.email import iter_mail_source, mail_source_size, parse_email
from inquiries.ingestion.types import Rejected


def envelope(n: int) -> bytes:
    return b"From customer%d@example.com Mon Jan  1 10:00:00 2024\n" % n


def message(n: int, body: bytes = b"Hello\n") -> bytes:
    return b"From: customer%d@example.com\nSubject: Message %d\n\n" % (n, n) + body


def write_mbox(path: Path, *messages: bytes, eol: bytes = b"\n") -> Path:
    chunks = []
    for n, raw in enumerate(messages, start=1):
        chunks.append(envelope(n) + raw + b"\n")
    path.write_bytes(b"".join(chunks).replace(b"\n", eol))
    return path


def test_an_mbox_is_split_into_its_messages_with_numbered_labels(tmp_path: Path) -> None:
    mbox = write_mbox(tmp_path / "inbox", message(1), message(2), message(3))

    items = list(iter_mail_source(mbox))

    assert [label for label, _ in items] == [f"{mbox}:1", f"{mbox}:2", f"{mbox}:3"]
    assert [raw for _, raw in items] == [message(1), message(2), message(3)]
    assert [parse_email(raw).subject for _, raw in items] == ["Message 1", "Message 2", "Message 3"]


def test_mboxrd_from_quoting_is_undone(tmp_path: Path) -> None:
    body = b"Hi\n\n>From the start it was broken\n>>From here too\n> From is not quoted\n"
    mbox = write_mbox(tmp_path / "inbox", message(1, body))

    [(_, raw)] = list(iter_mail_source(mbox))

    assert raw.endswith(b"\nFrom the start it was broken\n>From here too\n> From is not quoted\n")


def test_a_from_line_without_a_blank_line_before_it_does_not_split(tmp_path: Path) -> None:
    body = b"first line\nFrom the warehouse, with love\n"
    mbox = write_mbox(tmp_path / "inbox", message(1, body), message(2))

    items = list(iter_mail_source(mbox))

    assert len(items) == 2
    assert items[0][1] == message(1, body)


def test_crlf_mbox_files_are_split_the_same_way(tmp_path: Path) -> None:
    mbox = write_mbox(tmp_path / "inbox", message(1), message(2), eol=b"\r\n")

    items = list(iter_mail_source(mbox))

    assert [raw for _, raw in items] == [
        message(1).replace(b"\n", b"\r\n"),
        message(2).replace(b"\n", b"\r\n"),
    ]


def test_an_oversize_message_is_rejected_and_the_next_one_is_still_read(tmp_path: Path) -> None:
    big = message(2, b"x" * 5000 + b"\n")
    mbox = write_mbox(tmp_path / "inbox", message(1), big, message(3))

    items = list(iter_mail_source(mbox, max_message_bytes=1000))

    assert items[0] == (f"{mbox}:1", message(1))
    label, rejected = items[1]
    assert label == f"{mbox}:2"
    assert isinstance(rejected, Rejected)
    assert "over the 1000-byte limit" in rejected.reason
    assert items[2] == (f"{mbox}:3", message(3))


def test_a_line_longer_than_the_read_chunk_is_kept_whole(tmp_path: Path) -> None:
    long_line = b"y" * 300_000 + b"\n"
    mbox = write_mbox(tmp_path / "inbox", message(1, long_line), message(2))

    items = list(iter_mail_source(mbox))

    assert [raw for _, raw in items] == [message(1, long_line), message(2)]


def test_the_envelope_line_and_framing_blank_line_do_not_change_the_message_id(tmp_path: Path) -> None:
    raw = message(1)
    (tmp_path / "one.eml").write_bytes(raw)
    write_mbox(tmp_path / "box.mbox", raw)

    [(_, from_mbox)] = list(iter_mail_source(tmp_path / "box.mbox"))

    assert parse_email(from_mbox).external_id == parse_email(raw).external_id


def test_a_single_message_file_is_yielded_whole(tmp_path: Path) -> None:
    path = tmp_path / "one.eml"
    path.write_bytes(message(1))

    assert list(iter_mail_source(path)) == [(str(path), message(1))]


def test_an_oversize_single_file_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "big.eml"
    path.write_bytes(message(1, b"z" * 2000))

    [(label, rejected)] = list(iter_mail_source(path, max_message_bytes=1000))

    assert label == str(path)
    assert isinstance(rejected, Rejected)
    assert "over the 1000-byte limit" in rejected.reason


def test_a_missing_file_is_rejected_with_the_reason(tmp_path: Path) -> None:
    [(_, rejected)] = list(iter_mail_source(tmp_path / "gone.eml"))

    assert isinstance(rejected, Rejected)
    assert "cannot read" in rejected.reason


def test_a_folder_is_read_recursively_in_sorted_order_skipping_dot_files(tmp_path: Path) -> None:
    (tmp_path / "b").mkdir()
    (tmp_path / "a").mkdir()
    (tmp_path / ".trash").mkdir()
    (tmp_path / "b" / "2.eml").write_bytes(message(2))
    (tmp_path / "a" / "1.eml").write_bytes(message(1))
    (tmp_path / "a" / ".hidden.eml").write_bytes(message(9))
    (tmp_path / ".trash" / "9.eml").write_bytes(message(9))
    (tmp_path / "z-no-extension").write_bytes(message(4))
    write_mbox(tmp_path / "c.mbox", message(3), message(5))

    labels = [label for label, _ in iter_mail_source(tmp_path)]

    assert labels == [
        str(tmp_path / "c.mbox") + ":1",
        str(tmp_path / "c.mbox") + ":2",
        str(tmp_path / "z-no-extension"),
        str(tmp_path / "a" / "1.eml"),
        str(tmp_path / "b" / "2.eml"),
    ]


def test_a_symlinked_folder_is_not_entered_and_a_symlinked_file_is_read(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "1.eml").write_bytes(message(1))
    folder = tmp_path / "mail"
    folder.mkdir()
    (folder / "linked-folder").symlink_to(elsewhere)
    (folder / "linked.eml").symlink_to(elsewhere / "1.eml")

    assert list(iter_mail_source(folder)) == [(str(folder / "linked.eml"), message(1))]


def test_a_file_that_grew_since_its_size_was_read_is_read_whole_within_the_limit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "growing.eml"
    path.write_bytes(message(1))
    real_fstat = os.fstat
    monkeypatch.setattr(
        os, "fstat", lambda fd: os.stat_result((0,) * 6 + (real_fstat(fd).st_size - 10,) + (0,) * 3)
    )

    [(_, whole)] = list(iter_mail_source(path, max_message_bytes=len(message(1))))
    [(_, rejected)] = list(iter_mail_source(path, max_message_bytes=len(message(1)) - 1))

    assert whole == message(1)
    assert isinstance(rejected, Rejected)


def test_short_reads_are_read_on_to_the_end(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "one.eml"
    path.write_bytes(message(1, b"x" * 100))
    real_read = os.read
    monkeypatch.setattr(os, "read", lambda fd, n: real_read(fd, min(n, 7)))

    assert list(iter_mail_source(path)) == [(str(path), message(1, b"x" * 100))]


def test_the_source_size_counts_the_files_a_folder_import_reads(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / ".trash").mkdir()
    (tmp_path / "a" / "1.eml").write_bytes(message(1))
    (tmp_path / "2.eml").write_bytes(message(2))
    (tmp_path / ".trash" / "9.eml").write_bytes(message(9))
    (tmp_path / ".hidden.eml").write_bytes(message(9))

    assert mail_source_size(tmp_path) == len(message(1)) + len(message(2))
    assert mail_source_size(tmp_path / "2.eml") == len(message(2))


def test_memory_stays_flat_while_streaming_a_large_mbox(tmp_path: Path) -> None:
    path = tmp_path / "large.mbox"
    line = b"All work and no play makes a dull support queue. " * 20 + b"\n"  # ~1 KB
    ordinary = message(0, line * 20)  # ~20 KB per message
    oversize = message(0, line * 3000)  # ~3 MB, over the cap below
    with path.open("wb") as fh:
        for n in range(2500):
            fh.write(envelope(n) + (oversize if n % 500 == 0 else ordinary) + b"\n")
    assert path.stat().st_size > 50 * 1024 * 1024

    count = rejected = 0
    tracemalloc.start()
    try:
        for _, item in iter_mail_source(path, max_message_bytes=1024 * 1024):
            count += 1
            rejected += isinstance(item, Rejected)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert (count, rejected) == (2500, 5)
    assert peak < 4 * 1024 * 1024, f"peak traced memory {peak} bytes"


def test_an_mbox_smaller_than_the_message_limit_is_streamed_too(tmp_path: Path) -> None:
    path = tmp_path / "small.mbox"
    ordinary = message(0, b"A line of a complaint about a parcel.\n" * 500)  # ~20 KB
    with path.open("wb") as fh:
        for n in range(400):
            fh.write(envelope(n) + ordinary + b"\n")
    assert path.stat().st_size > 7 * 1024 * 1024

    tracemalloc.start()
    try:
        count = sum(1 for _ in iter_mail_source(path))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert count == 400
    assert peak < 1024 * 1024, f"peak traced memory {peak} bytes"


@pytest.mark.parametrize("first_line", [b"Received: from mx\n", b"\n\nFrom: a@example.com\n"])
def test_a_file_not_starting_with_from_space_is_one_message(tmp_path: Path, first_line: bytes) -> None:
    path = tmp_path / "x.eml"
    path.write_bytes(first_line + b"From: a@example.com\n\nFrom here on\n\nFrom me\n")

    assert len(list(iter_mail_source(path))) == 1
