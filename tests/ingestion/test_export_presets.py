"""The export presets: a conversation CSV, an Amazon-style buyer-message CSV, Freshdesk's ticket
CSV and the Zendesk, Freshdesk and Gorgias JSON ticket exports, each read from a sample written in its vendor's
shape (tests/ingestion/data) and recorded through the one engine."""

from __future__ import annotations

import io
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest
from django.core.management.base import CommandError
from django.test import Client

from inquiries import models as m
from inquiries.ingestion.csv_import import Reading
from inquiries.ingestion.freshdesk_csv import FIRST_RESPONSE_TEXT, parse_freshdesk_csv
from inquiries.ingestion.helpdesk_json import JSON_SHAPES, parse_export
from inquiries.ingestion.types import Direction, Rejected
from tests.factories import policy_with_targets
from tests.test_import_commands import run

DATA = Path(__file__).parent / "data"
DAY = 86400


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 3, day, hour, minute, tzinfo=UTC)


def directions(inquiry: m.Inquiry) -> list[str]:
    return list(inquiry.messages.order_by("received_at").values_list("direction", flat=True))


# --- pure parsing ------------------------------------------------------------------------------------


def test_zendesk_comments_become_the_tickets_messages_with_the_requesters_address_from_the_users_list():
    with (DATA / "zendesk_incremental_tickets.json").open("rb") as stream:
        items = list(parse_export(stream, JSON_SHAPES["zendesk-json"]))

    assert [label for label, _ in items] == ["record 1 (ticket 35436)"] * 3 + ["record 2 (ticket 35437)"]
    first, note, reply, other = (item for _, item in items)
    assert (first.direction, first.sender_address, first.thread_id) == (
        Direction.INBOUND,
        "ann@example.com",  # the users list comes after the tickets in the file
        "zendesk-35436",
    )
    assert (note.direction, note.sender_address) == (Direction.NOTE, "kim@shop.example")
    assert (reply.direction, reply.status, reply.solved_at) == (Direction.OUTBOUND, "solved", at(2, 14))
    assert (first.status, first.solved_at) == ("", None)  # only the last message closes the ticket
    assert "<p>The printer is on fire!</p>" in first.body_html
    # "hold" is Zendesk's pending; a requester missing from the users list keeps an alias.
    assert (other.status, other.sender_address, other.order_id) == (
        "pending",
        "zendesk-user-20978400",
        "113-1234567-1234567",
    )


def test_a_ticket_with_a_bad_message_is_rejected_whole_with_every_reason_and_its_record_number():
    export = (
        b'{"tickets": [{"id": 1, "status": "open", "requester_id": 5, "comments": ['
        b'{"id": 10, "author_id": 5, "plain_body": "hi", "created_at": "2026-03-02T10:00:00Z"}]},'
        b'{"id": 2, "status": "finished", "requester_id": 6, "comments": ['
        b'{"id": 11, "author_id": 6, "plain_body": "a", "created_at": "yesterday"},'
        b'{"id": 12, "author_id": 6, "plain_body": "b", "created_at": "2026-03-02T10:00:00"}]}]}'
    )

    items = list(parse_export(io.BytesIO(export), JSON_SHAPES["zendesk-json"]))

    assert [label for label, _ in items] == ["record 1 (ticket 1)", "record 2 (ticket 2)"]
    rejected = items[1][1]
    assert isinstance(rejected, Rejected)
    assert "status: not one of" in rejected.reason and "'finished'" in rejected.reason
    assert "comment 1: created_at: not an ISO 8601 timestamp" in rejected.reason
    assert "comment 2: created_at: no UTC offset" in rejected.reason


def test_a_file_that_breaks_off_keeps_the_tickets_before_and_names_the_record_where_it_broke():
    export = (
        b'[{"id": 1, "status": 2, "requester": {"email": "a@example.com"}, "description_text": "hi",'
        b' "created_at": "2026-03-02T10:00:00Z"}, {"id": 2, "status": 2, "descr'
    )

    items = list(parse_export(io.BytesIO(export), JSON_SHAPES["freshdesk-json"]))

    assert [label for label, _ in items] == ["record 1 (ticket 1)", "record 2"]
    assert isinstance(items[1][1], Rejected) and "stops being valid JSON" in items[1][1].reason


def test_another_vendors_file_is_refused_before_anything_is_read():
    with (
        (DATA / "gorgias_tickets.json").open("rb") as stream,
        pytest.raises(ValueError, match="no tickets in this file at tickets"),
    ):
        list(parse_export(stream, JSON_SHAPES["zendesk-json"]))


def test_a_freshdesk_ticket_row_becomes_its_opening_message_and_first_reply_on_the_rows_line():
    with (DATA / "freshdesk_tickets.csv").open(encoding="utf-8", newline="") as stream:
        items = list(parse_freshdesk_csv(stream, default_tz="Europe/Berlin"))

    # The first ticket's description is quoted over three lines; the next row starts on line 5.
    assert [line for line, _ in items] == [2, 2, 5, 6, 7, 7, 8, 8]
    opening, reply = items[0][1], items[1][1]
    assert (opening.external_id, opening.direction, opening.thread_id) == (
        "freshdesk-ticket-101",
        Direction.INBOUND,
        "freshdesk-101",
    )
    assert (opening.sender_address, opening.sender_name, opening.received_at) == (
        "ann@example.com",
        "Ann Buyer",
        at(2, 9),  # 10:00 in Berlin
    )
    assert opening.body_text == (
        'Hello,\n<script>alert(1)</script><b>The mug</b> arrived in "pieces".\nOrder 113-1234567-1234567'
    )
    assert (opening.body_html, opening.order_id, opening.status) == ("", "113-1234567-1234567", "")
    assert (reply.external_id, reply.direction, reply.sender_name, reply.received_at) == (
        "freshdesk-first-response-101",
        Direction.OUTBOUND,
        "Kim Lee",
        at(2, 10, 30),
    )
    assert (reply.body_text, reply.status, reply.solved_at) == (FIRST_RESPONSE_TEXT, "solved", at(2, 14))
    unanswered = items[2][1]
    assert (unanswered.sender_address, unanswered.status) == ("freshdesk-contact-9002", "open")
    bad = items[3][1]
    assert isinstance(bad, Rejected)
    assert bad.reason == (
        "status (column 'Status'): not a Freshdesk status this import knows (Open, Pending, Resolved, "
        "Closed, Waiting on Customer): 'Snoozed'; say what it means with --map-values "
        "\"status:Snoozed=pending\"; created_at (column 'Created time'): not a timestamp this import reads "
        "(ISO 8601, RFC 2822, DD/MM/YYYY HH:MM and other common shapes, or give --date-format): 'yesterday'"
    )
    # Without "Initial response time", "First response time (in hrs)" after the creation time.
    assert items[5][1].received_at == at(4, 10, 30)
    assert (items[5][1].status, items[5][1].solved_at) == ("closed", at(5, 8))
    assert items[7][1].status == "pending"  # Waiting on Customer


def test_a_freshdesk_custom_status_reads_through_map_values_and_a_missing_column_is_named():
    header = "Ticket ID,Subject,Description,Status,Created time,Email\n"
    row = "7,Hi,Text,Awaiting parts,2026-03-02 10:00:00,a@example.com\n"
    reading = Reading(value_maps={"status": {"awaiting parts": "pending"}})

    [(line, message)] = list(parse_freshdesk_csv(io.StringIO(header + row), reading=reading))

    assert (line, message.status, message.received_at) == (2, "pending", at(2, 10))
    with pytest.raises(ValueError, match="missing column\\(s\\): 'Created time' \\(for created_at\\)"):
        parse_freshdesk_csv(io.StringIO("Ticket ID,Subject\n1,x\n"))
    # A translated export's headers are named with --map, in this preset's own field names.
    german = "Ticket-ID,Erstellt am,Status\n8,2026-03-02 10:00:00,Offen\n"
    [(_, translated)] = list(
        parse_freshdesk_csv(
            io.StringIO(german),
            mapping={"ticket_id": "Ticket-ID", "created_at": "Erstellt am"},
            reading=Reading(value_maps={"status": {"offen": "open"}}),
        )
    )
    assert (translated.external_id, translated.status) == ("freshdesk-ticket-8", "open")


# --- through the import command -----------------------------------------------------------------------


@pytest.mark.django_db
def test_the_conversation_preset_threads_by_conversation_and_reads_customer_and_agent(channel):
    policy_with_targets(first_reply=DAY, next_reply=DAY, resolution=3 * DAY)

    code, out, err = run(
        "import_csv", str(DATA / "conversation.csv"), "--channel", channel.slug, "--preset", "conversation"
    )

    assert code == 0, err
    assert "imported=6 duplicate=0 automatic=0 rejected=0 held=0" in out
    parcel = m.Inquiry.objects.get(thread_key="conv-100")
    lamp = m.Inquiry.objects.get(thread_key="conv-200")
    assert directions(parcel) == ["inbound", "outbound", "inbound"]
    assert directions(lamp) == ["inbound", "note", "outbound"]
    first = parcel.clocks.get(kind=m.ClockKind.FIRST_REPLY)
    assert (first.state, first.stopped_at) == (m.ClockState.MET, at(2, 11, 30))


@pytest.mark.django_db
def test_the_amazon_preset_threads_the_sellers_reply_rows_by_order_id(channel):
    code, out, err = run(
        "import_csv", str(DATA / "amazon_messages.csv"), "--channel", channel.slug, "--preset", "amazon"
    )

    assert code == 0, err
    assert "imported=5 duplicate=0 automatic=0 rejected=0 held=0" in out
    assert m.Inquiry.objects.count() == 2
    late = m.Inquiry.objects.get(order_id="113-1234567-1234567")
    assert directions(late) == ["inbound", "outbound", "inbound"]
    assert late.customer.address == "ann+x7f@marketplace.amazon.com"
    assert directions(m.Inquiry.objects.get(order_id="114-7654321-7654321")) == ["inbound", "outbound"]


@pytest.mark.django_db
def test_the_zendesk_export_imports_solved_tickets_closed_at_their_solved_time(channel):
    policy_with_targets(first_reply=DAY, next_reply=DAY, resolution=DAY)
    path = str(DATA / "zendesk_incremental_tickets.json")

    dry = run("import_csv", path, "--channel", channel.slug, "--preset", "zendesk-json", "--dry-run")
    assert dry[0] == 0 and "rows=4 readable=4 already_stored=0 rejected=0" in dry[1]
    assert not m.Message.objects.exists()
    code, out, err = run("import_csv", path, "--channel", channel.slug, "--preset", "zendesk-json")

    assert code == 0, err
    assert "imported=4 duplicate=0 automatic=0 rejected=0 held=0" in out
    fire = m.Inquiry.objects.get(thread_key="zendesk-35436")
    assert directions(fire) == ["inbound", "note", "outbound"]
    assert (fire.status, fire.solved_at) == (m.Status.SOLVED, at(2, 14))
    resolution = fire.clocks.get(kind=m.ClockKind.RESOLUTION)
    assert (resolution.state, resolution.stopped_at) == (m.ClockState.MET, at(2, 14))
    held = m.Inquiry.objects.get(thread_key="zendesk-35437")
    assert held.status == m.Status.PENDING
    # Hostile text is stored as it came; templates escape it.
    assert "<script>alert(1)</script>" in held.messages.get().body_text
    again = run("import_csv", path, "--channel", channel.slug, "--preset", "zendesk-json")
    assert "imported=0 duplicate=4" in again[1]


@pytest.mark.django_db
def test_the_freshdesk_export_reads_incoming_private_and_the_status_codes(channel):
    policy_with_targets(first_reply=DAY, next_reply=DAY, resolution=DAY)

    code, out, err = run(
        "import_csv",
        str(DATA / "freshdesk_tickets.json"),
        "--channel",
        channel.slug,
        "--preset",
        "freshdesk-json",
    )

    assert code == 0, err
    assert "imported=5 duplicate=0 automatic=0 rejected=0 held=0" in out
    colour = m.Inquiry.objects.get(thread_key="freshdesk-20")
    assert directions(colour) == ["inbound", "outbound", "inbound", "note"]
    assert colour.customer.address == "cara@example.com"
    assert (colour.status, colour.solved_at) == (m.Status.SOLVED, at(4, 12))  # 4: resolved
    reply = colour.messages.get(external_id="freshdesk-conversation-301")
    assert reply.sender_address == "support@shop.example"
    assert m.Inquiry.objects.get(thread_key="freshdesk-21").status == m.Status.OPEN  # 2: open


@pytest.mark.django_db
def test_the_gorgias_export_reads_from_agent_and_internal_notes_and_closes_at_closed_datetime(channel):
    policy_with_targets(first_reply=DAY, next_reply=DAY, resolution=DAY)

    code, out, err = run(
        "import_csv",
        str(DATA / "gorgias_tickets.json"),
        "--channel",
        channel.slug,
        "--preset",
        "gorgias-json",
    )

    assert code == 0, err
    assert "imported=4 duplicate=0 automatic=0 rejected=0 held=0" in out
    mug = m.Inquiry.objects.get(thread_key="gorgias-9001")
    assert directions(mug) == ["inbound", "note", "outbound"]
    assert (mug.status, mug.solved_at) == (m.Status.CLOSED, at(6, 16))
    assert mug.clocks.get(kind=m.ClockKind.FIRST_REPLY).stopped_at == at(6, 12)
    assert m.Inquiry.objects.get(thread_key="gorgias-9002").status == m.Status.OPEN


@pytest.mark.django_db
def test_a_json_export_reports_each_bad_record_imports_the_rest_and_exits_1(tmp_path: Path, channel):
    path = tmp_path / "tickets.json"
    shutil.copy(DATA / "gorgias_tickets.json", path)
    text = path.read_text(encoding="utf-8").replace('"status": "open"', '"status": "snoozed"')
    path.write_text(text, encoding="utf-8")

    code, out, err = run("import_csv", str(path), "--channel", channel.slug, "--preset", "gorgias-json")

    assert code == 1
    assert err.strip() == (f"{path}:record 2 (ticket 9002): status: not one of open, closed: 'snoozed'")
    assert "imported=3 duplicate=0 automatic=0 rejected=1 held=0" in out
    dry = run("import_csv", str(path), "--channel", channel.slug, "--preset", "gorgias-json", "--dry-run")
    assert dry[0] == 1 and "rows=4 readable=3 already_stored=3 rejected=1" in dry[1]


@pytest.mark.django_db
def test_csv_options_are_refused_for_a_json_preset(channel):
    with pytest.raises(CommandError, match="--dayfirst: not for a JSON export"):
        run(
            "import_csv",
            str(DATA / "gorgias_tickets.json"),
            "--channel",
            channel.slug,
            "--preset",
            "gorgias-json",
            "--dayfirst",
        )
    assert not m.Message.objects.exists()


@pytest.mark.django_db
def test_a_json_preset_on_a_csv_file_stops_before_recording_anything(channel):
    with pytest.raises(CommandError, match="not a Zendesk JSON export"):
        run(
            "import_csv",
            str(DATA / "conversation.csv"),
            "--channel",
            channel.slug,
            "--preset",
            "zendesk-json",
        )
    assert not m.Message.objects.exists()


@pytest.mark.django_db
def test_the_freshdesk_csv_comes_in_closed_where_it_was_closed_with_the_first_reply_clock_right(
    channel, agent
):
    policy_with_targets(first_reply=DAY, next_reply=DAY, resolution=DAY)
    path = str(DATA / "freshdesk_tickets.csv")
    command = ("import_csv", path, "--channel", channel.slug, "--preset", "freshdesk-csv")
    berlin = ("--timezone", "Europe/Berlin")

    dry = run(*command, *berlin, "--dry-run")
    assert dry[0] == 1 and "rows=8 readable=7 already_stored=0 rejected=1" in dry[1]
    assert not m.Message.objects.exists()
    code, out, err = run(*command, *berlin)

    assert code == 1
    assert err.startswith(f"{path}:line 6: status (column 'Status'): not a Freshdesk status")
    assert len(err.strip().splitlines()) == 1
    assert "imported=7 duplicate=0 automatic=0 rejected=1 held=0" in out
    mug = m.Inquiry.objects.get(thread_key="freshdesk-101")
    assert directions(mug) == ["inbound", "outbound"]
    assert (mug.status, mug.solved_at, mug.customer.address) == (
        m.Status.SOLVED,
        at(2, 14),
        "ann@example.com",
    )
    first = mug.clocks.get(kind=m.ClockKind.FIRST_REPLY)
    assert (first.state, first.started_at, first.stopped_at) == (m.ClockState.MET, at(2, 9), at(2, 10, 30))
    resolution = mug.clocks.get(kind=m.ClockKind.RESOLUTION)
    assert (resolution.state, resolution.stopped_at) == (m.ClockState.MET, at(2, 14))
    # The description is stored as it came, markup and line breaks included, and shown inert.
    hostile = mug.messages.get(direction="inbound").body_text
    assert hostile.startswith("Hello,\n<script>alert(1)</script><b>The mug</b>")
    client = Client()
    client.force_login(agent)
    page = client.get(f"/inquiries/{mug.pk}/").content.decode()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;&lt;b&gt;The mug&lt;/b&gt;" in page
    assert "<script>alert(1)" not in page
    waiting = m.Inquiry.objects.get(thread_key="freshdesk-102")
    assert (waiting.status, waiting.customer.address) == (m.Status.OPEN, "freshdesk-contact-9002")
    assert waiting.clocks.get(kind=m.ClockKind.FIRST_REPLY).stopped_at is None
    refund = m.Inquiry.objects.get(thread_key="freshdesk-104")
    assert (refund.status, refund.solved_at) == (m.Status.CLOSED, at(5, 8))
    assert refund.clocks.get(kind=m.ClockKind.FIRST_REPLY).stopped_at == at(4, 10, 30)
    assert m.Inquiry.objects.get(thread_key="freshdesk-105").status == m.Status.PENDING

    again = run(*command, *berlin)
    assert "imported=0 duplicate=7 automatic=0 rejected=1" in again[1]
    assert m.Message.objects.count() == 7 and m.Inquiry.objects.count() == 4


@pytest.mark.django_db
def test_the_freshdesk_csv_preset_refuses_a_mapping_of_another_shapes_fields(channel):
    with pytest.raises(CommandError, match=r"--map: .*unknown field 'external_id'; known: ticket_id"):
        run(
            "import_csv",
            str(DATA / "freshdesk_tickets.csv"),
            "--channel",
            channel.slug,
            "--preset",
            "freshdesk-csv",
            "--map",
            "external_id=Ticket ID",
        )
