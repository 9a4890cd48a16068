"""History comes in closed where it was closed: `status` and `solved_at` on imported messages
(CSV, the message API, the recording engine), the resolution clock judged at the solved time."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from inquiries import models as m
from inquiries.services import record_messages
from tests.factories import incoming, policy_with_targets
from tests.test_import_commands import run

pytestmark = pytest.mark.django_db

DAY = 86400


def resolution(inquiry: m.Inquiry) -> m.Clock:
    return inquiry.clocks.get(kind=m.ClockKind.RESOLUTION)


def test_a_csv_with_solved_rows_imports_closed_with_the_resolution_clock_judged_at_the_solved_time(
    tmp_path: Path, channel
):
    policy_with_targets(first_reply=DAY, next_reply=DAY, resolution=DAY)
    csv_file = tmp_path / "helpdesk.csv"
    csv_file.write_text(
        "id,conversation,direction,from,text,at,state,solved\n"
        "a1,T1,inbound,ann@example.com,Where is my parcel?,2026-03-02T10:00:00Z,,\n"
        "a2,T1,outbound,,On its way.,2026-03-02T11:00:00Z,Resolved,2026-03-02T12:00:00Z\n"
        "b1,T2,inbound,ben@example.com,Broken lamp,2026-03-03T10:00:00Z,Done,2026-03-05T10:00:00Z\n"
        "c1,T3,inbound,cid@example.com,Still open,2026-03-04T10:00:00Z,,\n",
        encoding="utf-8",
    )

    code, out, err = run(
        "import_csv",
        str(csv_file),
        "--channel",
        channel.slug,
        "--map",
        "external_id=id,thread_id=conversation,sender_address=from,body_text=text,received_at=at,"
        "status=state,solved_at=solved",
        "--map-values",
        "status:Resolved=solved,Done=closed",
    )

    assert code == 0, err
    assert "imported=4" in out
    solved = m.Inquiry.objects.get(thread_key="T1")
    closed = m.Inquiry.objects.get(thread_key="T2")
    still_open = m.Inquiry.objects.get(thread_key="T3")
    assert (solved.status, solved.solved_at) == (m.Status.SOLVED, datetime(2026, 3, 2, 12, tzinfo=UTC))
    assert (closed.status, closed.solved_at) == (m.Status.CLOSED, datetime(2026, 3, 5, 10, tzinfo=UTC))
    assert still_open.status == m.Status.NEW
    met, missed = resolution(solved), resolution(closed)
    assert (met.state, met.stopped_at, met.elapsed_seconds) == (
        m.ClockState.MET,
        datetime(2026, 3, 2, 12, tzinfo=UTC),
        2 * 3600,
    )
    # Solved two days after it opened, against 24 hours: missed then, not at the import.
    assert (missed.state, missed.stopped_at) == (m.ClockState.MISSED, datetime(2026, 3, 5, 10, tzinfo=UTC))
    event = solved.events.get(kind=m.EventKind.STATUS_CHANGED, data__to="solved")
    assert (event.at, event.data) == (datetime(2026, 3, 2, 12, tzinfo=UTC), {"from": "open", "to": "solved"})
    assert met.stopped_at is not None
    assert solved.events.filter(kind=m.EventKind.CLOCK_MET, at=met.stopped_at).exists()
    left_open = resolution(still_open)  # left open: the sweep breaches it, as ever
    assert (left_open.state, left_open.due_at) == (m.ClockState.RUNNING, datetime(2026, 3, 5, 10, tzinfo=UTC))


def test_a_status_word_no_map_names_is_an_error_naming_the_line_and_the_option(tmp_path: Path, channel):
    csv_file = tmp_path / "export.csv"
    csv_file.write_text(
        "external_id,sender_address,body,received_at,status,solved_at\n"
        "x1,ann@example.com,Hi,2026-03-02T10:00:00Z,Finished,someday\n"
        "x2,ben@example.com,Hi,2026-03-02T10:00:00Z,closed,2026-03-02T09:00:00Z\n",
        encoding="utf-8",
    )

    code, out, err = run("import_csv", str(csv_file), "--channel", channel.slug)

    assert code == 1
    first, second = err.strip().splitlines()
    assert "line 2" in first and "status" in first and "--map-values" in first and "solved_at" in first
    assert "line 3" in second and "solved_at: before the message's received_at" in second
    assert "rejected=2" in out
    assert not m.Message.objects.exists()


def test_the_engine_applies_a_status_the_same_in_one_batch_and_one_at_a_time(channel, other_channel):
    policy_with_targets(resolution=DAY)
    opened = datetime(2026, 3, 2, 10, tzinfo=UTC)

    def messages(ch: m.Channel) -> list[tuple[m.Channel, object]]:
        return [
            (ch, incoming(external_id="p1", thread_id="P", received_at=opened)),
            (
                ch,
                incoming(
                    external_id="p2", thread_id="P", received_at=opened.replace(hour=11), status="pending"
                ),
            ),
            (
                ch,
                incoming(
                    external_id="p3",
                    thread_id="P",
                    received_at=opened.replace(hour=12),
                    solved_at=opened.replace(hour=15),
                ),
            ),
            (ch, incoming(external_id="q1", received_at=opened, status="closed")),
        ]

    record_messages(messages(channel))
    for item in messages(other_channel):
        record_messages([item])

    def outcome(ch: m.Channel) -> list[tuple]:
        return sorted(
            (i.thread_key, i.status, i.solved_at, c.state, c.stopped_at, c.paused_business_seconds)
            for i in m.Inquiry.objects.filter(channel=ch)
            for c in i.clocks.filter(kind=m.ClockKind.RESOLUTION)
        )

    assert outcome(channel) == outcome(other_channel)
    [(_, _, _, state, stopped_at, paused), (_, status, solved_at, *_)] = sorted(
        outcome(channel), key=lambda row: row[0] != "P"
    )
    assert (state, stopped_at) == (m.ClockState.MET, opened.replace(hour=15))
    assert paused == 3600  # pending from 11:00 until the customer wrote again at 12:00
    assert (status, solved_at) == (m.Status.CLOSED, opened)


def test_the_message_api_takes_a_status_and_a_solved_time_single_and_in_a_batch(api, channel):
    policy_with_targets(resolution=DAY)
    base = {
        "channel": "shop-a",
        "direction": "inbound",
        "sender": {"address": "buyer@example.com"},
        "body_text": "Hello",
        "received_at": "2026-03-02T10:00:00Z",
    }

    single = api.post(
        "/api/v1/messages/",
        {**base, "external_id": "s1", "status": "solved", "solved_at": "2026-03-02T13:00:00Z"},
        format="json",
    )
    batch = api.post(
        "/api/v1/messages/batch/",
        {
            "messages": [
                {**base, "external_id": "b1", "thread_id": "B", "status": "closed"},
                {**base, "external_id": "b2", "status": "pending", "solved_at": "2026-03-02T13:00:00Z"},
                {**base, "external_id": "b3", "status": "finished"},
            ]
        },
        format="json",
    )

    assert single.status_code == 201, single.json()
    inquiry = m.Inquiry.objects.get(pk=single.json()["inquiry_id"])
    assert (inquiry.status, resolution(inquiry).state) == (m.Status.SOLVED, m.ClockState.MET)
    assert resolution(inquiry).stopped_at == datetime(2026, 3, 2, 13, tzinfo=UTC)
    assert batch.status_code == 200, batch.json()
    results = batch.json()["results"]
    assert results[0]["status"] == 201
    assert m.Inquiry.objects.get(thread_key="B").status == m.Status.CLOSED
    assert results[1]["status"] == 400 and "solved_at" in results[1]["errors"]
    assert results[2]["status"] == 400 and "status" in results[2]["errors"]
