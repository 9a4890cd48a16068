"""The import commands: counts, rejections with file or line, nothing stored twice, exit status."""

from __future__ import annotations

import gc
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from inquiries.models import Inquiry, Message
from tests.shared_data import shared_file

pytestmark = pytest.mark.django_db

MAIL = (
    b"Received: from mx.example.net by mail.shop.example; Mon, 2 Mar 2026 10:00:00 +0000\r\n"
    b"From: Buyer <buyer@example.com>\r\nTo: help@shop.example\r\nSubject: Broken lamp\r\n"
    b"Message-ID: <m1@example.com>\r\nDate: Mon, 2 Mar 2026 09:59:00 +0000\r\n\r\nThe lamp arrived broken.\r\n"
)
REPLY = (
    b"From: Buyer <buyer@example.com>\r\nTo: help@shop.example\r\nSubject: Re: Broken lamp\r\n"
    b"Message-ID: <m2@example.com>\r\nIn-Reply-To: <m1@example.com>\r\n\r\nAny news?\r\n"
)


def run(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command(*args, stdout=out, stderr=err)
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    return code, out.getvalue(), err.getvalue()


def test_an_mbox_imports_threads_and_scores_from_the_received_header(tmp_path: Path, channel):
    mbox = tmp_path / "inbox.mbox"
    mbox.write_bytes(
        b"From buyer@example.com Mon Mar  2 10:00:00 2026\n"
        + MAIL.replace(b"\r\n", b"\n")
        + b"\nFrom buyer@example.com Mon Mar  2 11:00:00 2026\n"
        + REPLY.replace(b"\r\n", b"\n")
    )
    code, out, _ = run("import_mail", str(mbox), "--channel", channel.slug)
    assert code == 0
    assert "imported=2 duplicate=0 automatic=0 rejected=0" in out
    inquiry = Inquiry.objects.get()
    assert inquiry.messages.count() == 2
    first = Message.objects.get(external_id="m1@example.com")
    assert first.received_at.isoformat() == "2026-03-02T10:00:00+00:00"
    assert first.sent_at.isoformat() == "2026-03-02T09:59:00+00:00"
    code, out, _ = run("import_mail", str(mbox), "--channel", channel.slug)
    assert "imported=0 duplicate=2" in out


def test_a_parser_process_gives_the_same_result_in_the_same_order(tmp_path: Path, channel):
    """--workers 1 parses in another process: replies still thread, rejections keep their label."""
    mbox = tmp_path / "inbox.mbox"
    envelope = b"From buyer@example.com Mon Mar  2 10:00:00 2026\n"
    messages = [MAIL.replace(b"\r\n", b"\n")]
    for n in range(2, 130):  # several chunks of work, each message replying to the one before
        messages.append(
            REPLY.replace(b"\r\n", b"\n")
            .replace(b"<m2@example.com>", f"<m{n}@example.com>".encode())
            .replace(b"<m1@example.com>", f"<m{n - 1}@example.com>".encode())
        )
    messages.insert(60, b"this is not an e-mail\n")
    mbox.write_bytes(b"\n".join(envelope + message for message in messages))
    code, out, err = run("import_mail", str(mbox), "--channel", channel.slug, "--workers", "1")
    assert code == 1
    assert "imported=129 duplicate=0 automatic=0 rejected=1" in out
    assert f"rejected {mbox}:61: not an e-mail" in err
    inquiry = Inquiry.objects.get()
    assert list(inquiry.messages.order_by("received_at", "id").values_list("external_id", flat=True)) == [
        f"m{n}@example.com" for n in range(1, 130)
    ]


def test_topics_worked_out_in_the_parser_process_are_those_the_importer_would_give(tmp_path: Path, channel):
    from tests.factories import ChannelFactory

    bodies = ["The lamp arrived cracked.", "You sent the wrong size.", "Where is my refund?", "Hello there."]
    # The last names a parent that never arrives: the parser process leaves replies
    # unclassified, so the importer classifies this one when it opens an inquiry.
    bodies.append("It came broken.")
    mbox = tmp_path / "inbox.mbox"
    mbox.write_bytes(
        b"\n".join(
            b"From buyer@example.com Mon Mar  2 10:00:00 2026\n"
            + MAIL.replace(b"\r\n", b"\n")
            .replace(b"m1@example.com", f"t{n}@example.com".encode())
            .replace(b"buyer@example.com", f"buyer{n}@example.com".encode())
            .replace(b"The lamp arrived broken.", body.encode())
            .replace(
                b"Subject: Broken lamp",
                b"Subject: Lamp" + (b"\nIn-Reply-To: <gone@example.com>" if n == 4 else b""),
            )
            for n, body in enumerate(bodies)
        )
    )
    other = ChannelFactory(account=channel.account, slug="shop-a-here")
    assert run("import_mail", str(mbox), "--channel", channel.slug, "--workers", "1")[0] == 0
    assert run("import_mail", str(mbox), "--channel", other.slug, "--workers", "0")[0] == 0

    def topics_of(target) -> list[tuple[str | None, str]]:
        rows = Inquiry.objects.filter(channel=target).order_by("opened_at", "customer__address")
        return list(rows.values_list("topic__key", "topic_source"))

    assert topics_of(channel) == topics_of(other)
    assert topics_of(channel) == [
        ("damaged", "rules"),
        ("wrong_item", "rules"),
        ("refund", "rules"),
        (None, ""),  # a greeting alone: below the shipped model's confidence, not a complaint
        ("damaged", "rules"),
    ]


def test_the_mail_import_starts_without_the_api_or_the_numerical_libraries():
    """Mail delivery may start import_mail per message: what it loads before its first
    message is what each message waits for (scipy alone took over a second)."""
    script = """
import json, sys
import django
django.setup()
from django.core.management import CommandError, call_command
try:  # the system checks run, as from the command line; then a missing file ends it
    call_command("import_mail", "/no/such/file.eml", "--channel", "x", skip_checks=False)
except CommandError:
    pass
heavy = ("numpy", "scipy", "sklearn", "drf_spectacular.views", "cstracker.urls")
at_start = [name for name in heavy if name in sys.modules]
from django.urls import get_resolver
get_resolver().url_patterns  # what a web process loads: still no numerical library
print(json.dumps([at_start, [name for name in heavy[:3] if name in sys.modules]]))
"""
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=Path(__file__).resolve().parents[1],
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "cstracker.settings"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.strip().splitlines()[-1]) == [[], []]


def test_workers_out_of_range_is_a_clear_error(tmp_path: Path, channel):
    (tmp_path / "a.eml").write_bytes(MAIL)
    with pytest.raises(CommandError, match="--workers: must be between 0 and 64"):
        call_command("import_mail", str(tmp_path / "a.eml"), "--channel", channel.slug, "--workers", "-1")


def test_every_real_world_fixture_is_imported_or_rejected_with_a_reason(channel):
    folder = shared_file("email-flanker-fixtures", "messages")
    code, out, err = run("import_mail", str(folder), "--channel", channel.slug)
    counts = dict(part.split("=") for part in out.strip().splitlines()[-1].split())
    assert int(counts["imported"]) + int(counts["duplicate"]) + int(counts["rejected"]) >= 48
    assert int(counts["automatic"]) >= 5  # the bounces and the feedback report
    for line in err.splitlines():
        assert line.startswith("rejected ") and ": " in line
    assert code == (1 if int(counts["rejected"]) else 0)


def test_an_unknown_channel_is_a_clear_error(tmp_path: Path, db):
    (tmp_path / "a.eml").write_bytes(MAIL)
    with pytest.raises(CommandError, match="Unknown channel 'nope'"):
        call_command("import_mail", str(tmp_path / "a.eml"), "--channel", "nope")


def test_bad_csv_rows_are_reported_by_line_and_the_rest_imported_once(tmp_path: Path, channel):
    csv_file = tmp_path / "export.csv"
    csv_file.write_text(
        "external_id,direction,sender_address,subject,body,received_at\n"
        "c1,inbound,a@example.com,Late parcel,Where is it?,2026-03-02T10:00:00+00:00\n"
        'c2,inbound,b@example.com,Broken,"Two\nlines",yesterday\n'
        "c3,sideways,c@example.com,Hm,Body,2026-03-02T11:00:00+00:00\n"
        "c4,inbound,d@example.com,Fine,Body,2026-03-02T12:00:00+00:00\n",
        encoding="utf-8",
    )
    code, out, err = run("import_csv", str(csv_file), "--channel", channel.slug)
    assert code == 1
    assert "imported=2 duplicate=0 automatic=0 rejected=2" in out
    assert "line 3" in err and "received_at" in err
    assert "line 5" in err and "direction" in err
    code, out, _ = run("import_csv", str(csv_file), "--channel", channel.slug)
    assert "imported=0 duplicate=2" in out
    assert Message.objects.count() == 2


def test_a_csv_mapping_option_reads_other_column_names(tmp_path: Path, channel):
    csv_file = tmp_path / "helpdesk.csv"
    csv_file.write_text(
        "Ticket,From,Text,When\nT-1,x@example.com,Hello,2026-03-02T10:00:00Z\n", encoding="utf-8"
    )
    code, _out, err = run(
        "import_csv",
        str(csv_file),
        "--channel",
        channel.slug,
        "--map",
        "external_id=Ticket,sender_address=From,body_text=Text,received_at=When",
    )
    assert code == 0, err
    assert Message.objects.get().body_text == "Hello"


TWCS_FLAGS = (
    "--map",
    "external_id=tweet_id,sender_address=author_id,direction=inbound,received_at=created_at,"
    "body_text=text,in_reply_to=in_response_to_tweet_id",
    "--map-values",
    "direction:True=inbound,False=outbound",
    "--integer-ids",
)
CFPB_FLAGS = (
    "--map",
    "external_id=Complaint ID,sender_address=Complaint ID,received_at=Date received,subject=Issue,"
    "body_text=Consumer complaint narrative",
    "--default-time",
    "12:00",
)


def test_a_rejected_csv_row_names_its_line_once(tmp_path: Path, channel):
    csv_file = tmp_path / "export.csv"
    csv_file.write_text("external_id,received_at,direction\nc1,soon,sideways\n", encoding="utf-8")

    code, _out, err = run("import_csv", str(csv_file), "--channel", channel.slug)

    assert code == 1
    [line] = err.strip().splitlines()
    assert line.count("line 2") == 1, line
    assert "direction" in line and "received_at" in line  # both errors of the row, at once


def test_the_twcs_sample_reads_whole_with_its_documented_flags(channel):
    """Twitter customer support (shared/data/twcs): booleans for the direction, Twitter timestamps,
    ids written as floats by pandas, one tweet with bare carriage returns: all 5,000 rows read."""
    source = shared_file("twcs", "twcs_head5000.csv")

    code, out, err = run("import_csv", str(source), "--channel", channel.slug, *TWCS_FLAGS, "--dry-run")

    assert code == 0, err
    assert "rows=5000 readable=5000 already_stored=0 rejected=0" in out
    assert not Message.objects.exists()  # a dry run writes nothing


def test_the_cfpb_sample_imports_whole_with_its_documented_flags(channel):
    """CFPB complaints (shared/data/cfpb-complaints-sample): date-only timestamps and no sender
    but the complaint itself; every one of its 2,067 rows is imported, on the day received."""
    source = shared_file("cfpb-complaints-sample", "complaints_sample.csv")

    code, out, err = run("import_csv", str(source), "--channel", channel.slug, *CFPB_FLAGS, "--dry-run")
    assert code == 0, err
    assert "rows=2067 readable=2067 already_stored=0 rejected=0" in out

    code, out, err = run("import_csv", str(source), "--channel", channel.slug, *CFPB_FLAGS)
    assert code == 0, err
    assert "imported=2067 duplicate=0 automatic=0 rejected=0" in out
    first = Message.objects.get(external_id="7523056")
    assert (first.received_at.date().isoformat(), first.received_at.hour) == ("2023-08-25", 12)
    assert first.subject == "Incorrect information on your report"

    code, out, _ = run("import_csv", str(source), "--channel", channel.slug, *CFPB_FLAGS, "--dry-run")
    assert "already_stored=2067 rejected=0" in out


@pytest.mark.parametrize("command", ["import_mail", "import_csv"])
def test_an_import_the_database_drops_ends_with_a_clear_message_and_the_command_to_resume(
    tmp_path: Path, channel, monkeypatch, command
):
    from django.db import OperationalError

    from inquiries.management.commands import _importing

    source = tmp_path / ("a.eml" if command == "import_mail" else "export.csv")
    if command == "import_mail":
        source.write_bytes(MAIL)
    else:
        source.write_text(
            "external_id,direction,sender_address,subject,body,received_at\n"
            "c1,inbound,a@example.com,Late,Where is it?,2026-03-02T10:00:00+00:00\n",
            encoding="utf-8",
        )

    def dropped(*args: object, **kwargs: object) -> None:
        raise OperationalError("server closed the connection unexpectedly\n\tThis probably means ...")

    monkeypatch.setattr(_importing, "record_messages", dropped)

    extra = ["--workers", "0"] if command == "import_mail" else []

    with pytest.raises(CommandError) as error:
        call_command(command, str(source), "--channel", channel.slug, *extra)

    text = str(error.value)
    assert "the database stopped answering (server closed the connection unexpectedly)" in text
    assert f"manage.py {command} {source} --channel {channel.slug}" in text
    assert "Traceback" not in text


REPLY_ROWS = "external_id,direction,sender_address,subject,body,received_at,in_reply_to\n"


def test_a_reply_before_its_parent_in_one_file_is_attached_when_the_parent_row_comes(tmp_path: Path, channel):
    csv_file = tmp_path / "export.csv"
    csv_file.write_text(
        REPLY_ROWS + "r1,outbound,agent@shop.example,Re: Late,On its way,2026-03-02T11:00:00+00:00,c1\n"
        "c1,inbound,a@example.com,Late,Where is it?,2026-03-02T10:00:00+00:00,\n",
        encoding="utf-8",
    )

    code, out, err = run("import_csv", str(csv_file), "--channel", channel.slug)

    assert code == 0, err
    assert out.strip().splitlines() == [
        "Replies and notes before their parent message: 1 attached when it came.",
        "imported=2 duplicate=0 automatic=0 rejected=0 held=0",
    ]
    assert (
        Message.objects.get(external_id="r1").inquiry_id == Message.objects.get(external_id="c1").inquiry_id
    )


def test_a_reply_before_its_parent_in_two_files_is_held_until_the_second(tmp_path: Path, channel):
    from inquiries.models import HeldMessage, HeldState

    replies, questions = tmp_path / "replies.csv", tmp_path / "questions.csv"
    replies.write_text(
        REPLY_ROWS + "r1,outbound,agent@shop.example,Re: Late,On its way,2026-03-02T11:00:00+00:00,c1\n"
        "r2,outbound,agent@shop.example,Re: Hello,Hi,2026-03-02T11:00:00+00:00,\n",
        encoding="utf-8",
    )
    questions.write_text(
        REPLY_ROWS + "c1,inbound,a@example.com,Late,Where is it?,2026-03-02T10:00:00+00:00,\n"
    )

    code, out, err = run("import_csv", str(replies), "--channel", channel.slug)

    assert code == 1  # r2 answers nothing: rejected
    assert "imported=0 duplicate=0 automatic=0 rejected=1 held=1" in out
    assert "Replies and notes before their parent message: 0 attached when it came, 1 still held" in out
    assert "expires after 7 days: Admin > Held messages" in out
    assert "line 3: in_reply_to: no inquiry to attach" in err
    assert not Message.objects.exists()

    code, out, err = run("import_csv", str(replies), "--channel", channel.slug)  # again: nothing twice
    assert "imported=0 duplicate=1 automatic=0 rejected=1 held=0" in out

    code, out, err = run("import_csv", str(questions), "--channel", channel.slug)

    assert code == 0, err
    assert "imported=1 duplicate=0 automatic=0 rejected=0 held=0" in out
    assert (
        Message.objects.get(external_id="r1").inquiry_id == Message.objects.get(external_id="c1").inquiry_id
    )
    assert HeldMessage.objects.get().state == HeldState.ATTACHED


def test_the_twcs_sample_in_file_order_holds_replies_joins_early_customers_and_ends_as_in_time_order(
    tmp_path: Path,
):
    """In file order, 1,692 company replies come before the tweet they answer: held, then attached
    when it comes (5 answer tweets not in the sample and stay held; 21 answer nothing: rejected),
    exactly as in time order. A customer's tweet is never held (a customer waiting gets an inquiry
    and a clock at once): one that answers a tweet not stored yet opens its own inquiry, joined to
    its parent's when the parent comes. The end is the time-ordered import's: the same inquiries
    and the same clocks."""
    import csv

    from inquiries.ingestion.csv_import import (
        CSV_PRESETS,
        Reading,
        open_csv,
        parse_csv,
        parse_mapping,
        parse_value_maps,
    )
    from tests.factories import ChannelFactory

    source = shared_file("twcs", "twcs_head5000.csv")
    file_order, by_time = ChannelFactory(slug="twcs-file-order"), ChannelFactory(slug="twcs-by-time")
    with open_csv(source) as stream:
        reading = Reading(value_maps=parse_value_maps(TWCS_FLAGS[3]), integer_ids=True)
        mapping = {**CSV_PRESETS["cstracker"], **parse_mapping(TWCS_FLAGS[1])}
        tweets = [item for _, item in parse_csv(stream, mapping=mapping, default_tz="UTC", reading=reading)]
    sorted_csv = tmp_path / "twcs_by_time.csv"
    with sorted_csv.open("w", newline="", encoding="utf-8") as out_file:
        writer = csv.writer(out_file)
        writer.writerow(
            ["external_id", "direction", "sender_address", "received_at", "body_text", "in_reply_to"]
        )
        for t in sorted(tweets, key=lambda t: (t.received_at, int(t.external_id))):
            row = [t.external_id, t.direction, t.sender_address, t.received_at.isoformat(), t.body_text]
            writer.writerow([*row, t.in_reply_to])

    code, out, err = run("import_csv", str(source), "--channel", file_order.slug, *TWCS_FLAGS)
    assert code == 1  # the 21 company tweets that answer nothing
    assert "Replies and notes before their parent message: 1692 attached when it came, 5 still held" in out
    assert out.strip().splitlines()[-1] == "imported=4974 duplicate=0 automatic=0 rejected=21 held=5"
    code, out, err_by_time = run("import_csv", str(sorted_csv), "--channel", by_time.slug)
    assert "0 attached when it came, 5 still held" in out
    assert out.strip().splitlines()[-1] == "imported=4974 duplicate=0 automatic=0 rejected=21 held=5"
    assert "no inquiry to attach" in err and err.count("\n") == err_by_time.count("\n") == 21

    # Which customers' tweets came before their parent was stored (replies wait, customers not).
    stored: set[str] = set()
    waiting: dict[str, list[str]] = {}
    early: dict[str, str] = {}  # customer tweet: the tweet it answers
    by_id = {t.external_id: t for t in tweets}

    def store(tweet_id: str) -> None:
        stored.add(tweet_id)
        for reply in waiting.pop(tweet_id, []):
            store(reply)

    for t in tweets:
        parent = t.in_reply_to
        if t.direction == "inbound":
            if parent in by_id and parent not in stored:
                early[t.external_id] = parent
            store(t.external_id)
        elif parent in stored:
            store(t.external_id)
        elif parent:
            waiting.setdefault(parent, []).append(t.external_id)

    def inquiries(channel) -> dict[int, list[str]]:
        found: dict[int, list[str]] = {}
        for inquiry_id, tweet_id in Message.objects.filter(channel=channel).values_list(
            "inquiry_id", "external_id"
        ):
            found.setdefault(inquiry_id, []).append(tweet_id)
        return found

    def shape(groups) -> set[tuple[str, tuple[str, ...]]]:
        def first(tweet_id: str) -> tuple:
            return (by_id[tweet_id].received_at, int(tweet_id))

        return {(min(ids, key=first), tuple(sorted(ids))) for ids in groups}

    in_file_order, in_time_order = inquiries(file_order), inquiries(by_time)
    # 1,171 customers' tweets came before the tweet they answer (681 answer a tweet further down
    # the file, 490 a company reply that was itself still held): each opened an inquiry of its
    # own, joined to its parent's when that came if time order joins them (the same customer).
    position = {t.external_id: n for n, t in enumerate(tweets)}
    further_down = {t for t, parent in early.items() if position[parent] > position[t]}
    assert (len(early), len(further_down)) == (1171, 681)
    assert len(in_file_order) == len(in_time_order) == 1614
    assert shape(in_file_order.values()) == shape(in_time_order.values())
    assert clock_outcomes(file_order) == clock_outcomes(by_time)


def clock_outcomes(channel) -> dict[str, list[tuple]]:
    """Each inquiry's clocks, keyed by its first tweet (in time order)."""
    from inquiries.models import Clock

    first: dict[int, tuple] = {}
    for inquiry_id, at, tweet_id in Message.objects.filter(channel=channel).values_list(
        "inquiry_id", "received_at", "external_id"
    ):
        first[inquiry_id] = min(first.get(inquiry_id, (at, int(tweet_id))), (at, int(tweet_id)))
    found: dict[str, list[tuple]] = {}
    for clock in Clock.objects.filter(inquiry__channel=channel).select_related("message"):
        found.setdefault(str(first[clock.inquiry_id][1]), []).append(
            (
                clock.kind,
                clock.state,
                clock.started_at,
                clock.stopped_at,
                clock.due_at,
                clock.message.external_id,
            )
        )
    return {key: sorted(value) for key, value in found.items()}


def test_the_mail_import_collects_less_while_it_runs_and_leaves_the_collector_as_it_was(
    tmp_path: Path, channel, monkeypatch: pytest.MonkeyPatch
):
    from inquiries.management.commands import _importing

    seen = []
    add = _importing.BatchRecorder.add

    def noting(self, label, incoming):  # the collector's state while a message is recorded
        seen.append((gc.get_threshold()[0], gc.get_freeze_count() > 0))
        return add(self, label, incoming)

    monkeypatch.setattr(_importing.BatchRecorder, "add", noting)
    (tmp_path / "one.eml").write_bytes(MAIL)
    before = gc.get_threshold()
    assert run("import_mail", str(tmp_path / "one.eml"), "--channel", channel.slug)[0] == 0
    assert seen == [(_importing.IMPORT_GC_THRESHOLD, True)]
    assert gc.get_threshold() == before and gc.get_freeze_count() == 0
