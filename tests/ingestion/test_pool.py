"""Parsing ahead in a worker process: the same results, in input order, whatever happens to it."""

from __future__ import annotations

import os
from datetime import UTC, datetime

import pytest

from inquiries.ingestion import pool
from inquiries.ingestion.types import IncomingMessage, Rejected

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


def mail(n: int, body: str = "hello") -> bytes:
    return (
        f"Received: by mx.example; Mon, 2 Mar 2026 10:{n % 60:02d}:00 +0000\n"
        f"From: Buyer <buyer{n}@example.com>\nSubject: Order {n}\nMessage-ID: <m{n}@example.com>\n\n{body}\n"
    ).encode()


def items(count: int) -> list[tuple[str, bytes | Rejected]]:
    out: list[tuple[str, bytes | Rejected]] = [(f"box:{n}", mail(n)) for n in range(1, count + 1)]
    out[7] = ("box:8", Rejected("message is over the 10-byte limit"))
    out[11] = ("box:12", b"not an e-mail\n")
    return out


def summary(results: list) -> list[tuple[str, int, str]]:
    return [
        (
            label,
            size,
            parsed.external_id if isinstance(parsed, IncomingMessage) else f"rejected: {parsed.reason}",
        )
        for label, size, parsed in results
    ]


def test_a_worker_gives_what_parsing_here_gives_in_the_same_order():
    source = items(pool.CHUNK * 3 + 7)
    here = list(pool.parse_mail(source, now=lambda: NOW, workers=0))
    ahead = list(pool.parse_mail(source, now=lambda: NOW, workers=1))
    assert summary(ahead) == summary(here)
    assert summary(here)[7] == ("box:8", 0, "rejected: message is over the 10-byte limit")
    assert summary(here)[11][2].startswith("rejected: not an e-mail")
    first = here[0][2]
    assert first.received_at == datetime(2026, 3, 2, 10, 1, tzinfo=UTC)  # the Received header


_ORIGINAL = pool._parse_chunk


def dies_on_the_second_chunk(chunk):
    if any(b"<m60@example.com>" in raw for raw, _ in chunk):
        os._exit(1)  # as if killed: no exception, no result
    return _ORIGINAL(chunk)


def test_when_the_worker_dies_the_rest_is_parsed_here_and_nothing_is_lost(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
):
    monkeypatch.setattr(pool, "_parse_chunk", dies_on_the_second_chunk)  # the fork inherits it
    source = items(pool.CHUNK * 3 + 7)
    ahead = list(pool.parse_mail(source, now=lambda: NOW, workers=1))
    here = list(pool.parse_mail(source, now=lambda: NOW, workers=0))
    assert summary(ahead) == summary(here)
    assert "the mail parser process died" in caplog.text


def test_a_worker_given_the_topic_rules_classifies_each_message_as_the_rules_would():
    from inquiries.complaints.rules import DEFAULT_RULES, classify, compile_rules, is_decisive

    rules = compile_rules(DEFAULT_RULES)
    source = [
        (f"box:{n}", mail(n, body)) for n, body in enumerate(["It arrived cracked.", "Hello there."], 1)
    ]
    ahead = list(pool.parse_mail(source, now=lambda: NOW, workers=1, rules=rules))
    hints = [parsed.topic_hint for _, _, parsed in ahead]
    assert hints == [(rules.fingerprint, "damaged"), (rules.fingerprint, "")]
    for _, _, parsed in ahead:
        match = classify(parsed.topic_text(), rules)
        assert parsed.topic_hint[1] == (match.topic if match and is_decisive(match) else "")
    # Parsed in this process, the messages carry no hint: the importer classifies them itself.
    here = list(pool.parse_mail(source, now=lambda: NOW, workers=0, rules=rules))
    assert [parsed.topic_hint for _, _, parsed in here] == [None, None]


def test_a_worker_classifies_only_the_messages_the_caller_wants_a_topic_for():
    from inquiries.complaints.rules import DEFAULT_RULES, compile_rules

    rules = compile_rules(DEFAULT_RULES)
    source = [(f"box:{n}", mail(n, "It arrived cracked.")) for n in (1, 2)]
    ahead = list(
        pool.parse_mail(
            source,
            now=lambda: NOW,
            workers=1,
            rules=rules,
            wants_topic=lambda m: m.external_id != "m2@example.com",
        )
    )
    # The other one carries no hint: classified where it is stored, should it open an inquiry.
    assert [parsed.topic_hint for _, _, parsed in ahead] == [(rules.fingerprint, "damaged"), None]
