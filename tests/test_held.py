"""Held messages: an agent's reply or note that comes before its parent is held, not rejected,
and attached when the parent arrives, in one batch or several; expiry; the admin's actions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from inquiries import models as m
from inquiries.ingestion.types import Direction, Rejected, incoming_from_json, incoming_to_json
from inquiries.services.recording import Held, RecordResult, record_message, record_messages, retry_held
from inquiries.services.recording import held as holding
from tests.factories import incoming, policy_with_targets

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
NOW = T0 + timedelta(days=1)
AGENT = "agent@shop.example"


def customer(external_id: str, at: datetime = T0, **fields: object):
    return incoming(external_id=external_id, received_at=at, **fields)


def reply(external_id: str, at: datetime | None, *, direction: str = Direction.OUTBOUND, **fields: object):
    values: dict[str, object] = {
        "sender_address": AGENT,
        "sender_name": "Agent",
        "subject": "Re: Where is my order?",
        "body_text": "It is on its way.",
    }
    return incoming(
        external_id=external_id, received_at=at, direction=Direction(direction), **{**values, **fields}
    )


def inquiry_of(channel: m.Channel, external_id: str) -> int | None:
    return m.Message.objects.get(channel=channel, external_id=external_id).inquiry_id


def first_reply(inquiry_id: int) -> m.Clock:
    return m.Clock.objects.get(inquiry_id=inquiry_id, kind=m.ClockKind.FIRST_REPLY)


@pytest.fixture
def policy(db: None) -> m.SlaPolicy:
    return policy_with_targets(first_reply=3600)


def test_a_reply_before_its_parent_in_one_batch_is_held_then_attached_to_the_parent_inquiry(channel, policy):
    outcomes = record_messages(
        [(channel, reply("r1", T0 + timedelta(minutes=30), in_reply_to="c1")), (channel, customer("c1"))],
        now=NOW,
    )

    assert isinstance(outcomes[0], Held) and outcomes[0].created
    assert outcomes[0].waits_for == ("c1",)
    assert isinstance(outcomes[1], RecordResult) and outcomes[1].created
    inquiry = inquiry_of(channel, "c1")
    assert inquiry_of(channel, "r1") == inquiry
    held = m.HeldMessage.objects.get(external_id="r1")
    assert (held.state, held.message.external_id, held.closed_at) == (m.HeldState.ATTACHED, "r1", NOW)
    # Its clock stops at its own receipt time, not when it was attached.
    clock = first_reply(inquiry)
    assert (clock.state, clock.stopped_at) == (m.ClockState.MET, T0 + timedelta(minutes=30))


def test_a_reply_before_its_parent_in_two_batches_is_held_until_the_second(channel, policy):
    [held] = record_messages([(channel, reply("r1", T0 + timedelta(hours=2), in_reply_to="c1"))], now=NOW)

    assert isinstance(held, Held)
    assert not m.Message.objects.exists()
    assert held.held.state == m.HeldState.HELD
    assert held.held.expires_at == NOW + timedelta(days=7)
    assert list(held.held.waits.values_list("kind", "external_id")) == [(m.WaitKind.MESSAGE, "c1")]

    record_messages(
        [(channel, customer("c0", sender_address="other@example.com")), (channel, customer("c1"))]
    )

    inquiry = inquiry_of(channel, "c1")
    assert inquiry_of(channel, "r1") == inquiry
    assert m.Inquiry.objects.get(pk=inquiry).status == m.Status.OPEN
    clock = first_reply(inquiry)
    assert (clock.state, clock.stopped_at) == (m.ClockState.MISSED, T0 + timedelta(hours=2))
    assert m.HeldMessage.objects.get().state == m.HeldState.ATTACHED


def test_a_held_note_waits_like_a_reply_and_never_stops_a_clock(channel, policy):
    note = reply("n1", T0 + timedelta(minutes=5), direction="note", in_reply_to="c1")
    record_message(channel=channel, incoming=note, now=NOW)
    record_message(channel=channel, incoming=customer("c1"), now=NOW)

    stored = m.Message.objects.get(external_id="n1")
    assert (stored.direction, stored.inquiry_id) == (m.Direction.NOTE, inquiry_of(channel, "c1"))
    assert first_reply(stored.inquiry_id).stopped_at is None


def test_held_messages_are_attached_recursively_in_receipt_order(channel, policy):
    """r2 answers r1, which answers c1; n1 also waits for c1 and was written before r1."""
    record_messages(
        [
            (channel, reply("r2", T0 + timedelta(hours=3), in_reply_to="r1")),
            (channel, reply("r1", T0 + timedelta(hours=1), in_reply_to="c1")),
            (channel, reply("n1", T0 + timedelta(minutes=10), direction="note", references=("c1",))),
        ],
        now=NOW,
    )
    assert m.HeldMessage.objects.filter(state=m.HeldState.HELD).count() == 3

    record_message(channel=channel, incoming=customer("c1"), now=NOW)

    inquiry = inquiry_of(channel, "c1")
    assert {inquiry_of(channel, external_id) for external_id in ("r1", "r2", "n1")} == {inquiry}
    attached = m.HeldMessage.objects.order_by("message_id").values_list("external_id", flat=True)
    assert list(attached) == ["n1", "r1", "r2"]  # the order they were recorded in
    assert set(m.HeldMessage.objects.values_list("state", flat=True)) == {m.HeldState.ATTACHED}


def test_a_reply_waiting_for_a_thread_is_attached_when_the_thread_starts(channel, policy):
    [held] = record_messages(
        [(channel, reply("r1", T0 + timedelta(minutes=20), thread_id="conv-7"))], now=NOW
    )
    assert (held.waits_for, held.thread_id) == ((), "conv-7")

    record_message(channel=channel, incoming=customer("c1", thread_id="conv-7"), now=NOW)

    assert inquiry_of(channel, "r1") == inquiry_of(channel, "c1")


def test_a_second_copy_of_a_held_id_is_a_duplicate_of_it_by_any_route(channel, policy):
    first = record_message(channel=channel, incoming=reply("r1", T0, in_reply_to="c1"), now=NOW)
    # The same id again, in a batch with itself, and as a different message altogether.
    outcomes = record_messages(
        [
            (channel, reply("r1", T0, in_reply_to="c1")),
            (channel, reply("r1", T0 + timedelta(hours=1), in_reply_to="c2")),
            (channel, customer("r1")),
        ],
        now=NOW,
    )

    assert isinstance(first, Held) and first.created
    assert all(isinstance(o, Held) and not o.created and o.held.pk == first.held.pk for o in outcomes)
    assert outcomes[0].waits_for == ("c1",)
    assert m.HeldMessage.objects.count() == 1
    assert not m.Message.objects.exists()

    record_message(channel=channel, incoming=customer("c1"), now=NOW)
    again = record_message(channel=channel, incoming=reply("r1", T0, in_reply_to="c1"), now=NOW)

    assert isinstance(again, RecordResult) and not again.created  # attached now: the stored message
    assert m.Message.objects.filter(external_id="r1").count() == 1


def test_a_customers_message_naming_an_unknown_message_is_never_held(channel, policy):
    """A customer waiting gets an inquiry and a clock at once."""
    outcome = record_message(channel=channel, incoming=customer("c2", in_reply_to="c1"), now=NOW)

    assert isinstance(outcome, RecordResult) and outcome.inquiry_id is not None
    assert first_reply(outcome.inquiry_id).state != m.ClockState.MET
    assert not m.HeldMessage.objects.exists()


def test_a_reply_naming_only_messages_stored_without_an_inquiry_is_rejected(channel):
    bounce = incoming(external_id="b1", sender_address="", automatic=True, automatic_reason="bounce")
    record_message(channel=channel, incoming=bounce, now=NOW)

    with pytest.raises(Rejected) as rejected:
        record_message(channel=channel, incoming=reply("r1", T0, in_reply_to="b1"), now=NOW)

    assert rejected.value.reason == holding.NO_INQUIRY
    assert not m.HeldMessage.objects.exists()


def test_a_parent_stored_while_its_reply_was_being_held_attaches_it(channel, policy, monkeypatch):
    """Another writer stores the parent between the reply's lookup and its hold: that writer's
    look for waiting messages comes too early, so the holder looks once more after holding."""
    hold = holding.hold

    def parent_meanwhile(**kwargs: object) -> Held:
        monkeypatch.setattr(holding, "hold", hold)
        record_message(channel=channel, incoming=customer("c1"), now=NOW)
        return hold(**kwargs)

    monkeypatch.setattr(holding, "hold", parent_meanwhile)

    outcome = record_message(
        channel=channel, incoming=reply("r1", T0 + timedelta(minutes=5), in_reply_to="c1"), now=NOW
    )

    assert isinstance(outcome, Held)
    assert inquiry_of(channel, "r1") == inquiry_of(channel, "c1")
    assert m.HeldMessage.objects.get().state == m.HeldState.ATTACHED


def test_a_held_reply_keeps_every_field_it_came_with(channel, policy):
    from inquiries.ingestion.types import IncomingAttachment

    message = reply(
        "r1",
        T0,
        in_reply_to="c1",
        references=("c0", "c1"),
        raw=b"From: agent\r\n\r\n\xff\x00 body",
        attachments=(IncomingAttachment("label.pdf", "application/pdf", 4, b"%PDF", inline=True),),
        notes=("a part over the cap was left out",),
        sent_at=T0 - timedelta(minutes=1),
    )
    [held] = record_messages([(channel, message)], now=NOW)

    assert incoming_from_json(held.held.incoming) == message
    assert incoming_from_json(incoming_to_json(message)) == message

    record_message(channel=channel, incoming=customer("c1"), now=NOW)

    stored = m.Message.objects.get(external_id="r1")
    assert (bytes(stored.raw), stored.references, stored.sent_at) == (
        message.raw,
        ["c0", "c1"],
        message.sent_at,
    )
    assert bytes(stored.attachments.get().content) == b"%PDF"


def test_a_reply_without_a_receipt_time_counts_from_when_it_was_held(channel, policy):
    record_message(channel=channel, incoming=customer("c0", sender_address="x@example.com"), now=T0)
    held_at = T0 + timedelta(minutes=40)
    record_message(channel=channel, incoming=reply("r1", None, in_reply_to="c1"), now=held_at)
    record_message(channel=channel, incoming=customer("c1"), now=NOW)

    assert m.Message.objects.get(external_id="r1").received_at == held_at


# --- expiry ---------------------------------------------------------------------------------------


def test_a_held_reply_expires_after_the_configured_days_and_the_sweep_logs_it(channel, settings, caplog):
    from inquiries.tasks import expire_held_messages

    settings.CSTRACKER_HELD_EXPIRY_DAYS = 2
    record_message(channel=channel, incoming=reply("r1", T0, in_reply_to="c1"), now=T0)
    record_message(channel=channel, incoming=reply("r2", T0, in_reply_to="c2"), now=T0 + timedelta(days=1))

    assert holding.expire(now=T0 + timedelta(days=2) - timedelta(seconds=1)) == {}
    assert holding.expire(now=T0 + timedelta(days=2)) == {channel.slug: 1}
    assert holding.expire(now=T0 + timedelta(days=2)) == {}  # twice is harmless

    states = dict(m.HeldMessage.objects.values_list("external_id", "state"))
    assert states == {"r1": m.HeldState.EXPIRED, "r2": m.HeldState.HELD}
    expired = m.HeldMessage.objects.get(external_id="r1")
    assert (expired.closed_at, expired.reason) == (
        T0 + timedelta(days=2),
        "its parent did not arrive within 2 days",
    )
    assert f"Held messages expired on {channel.slug}: 1" in caplog.text

    # An expired reply is not attached when its parent comes after all; the admin may retry it.
    record_message(channel=channel, incoming=customer("c1"), now=NOW)
    assert not m.Message.objects.filter(external_id="r1").exists()

    with time_machine.travel(T0 + timedelta(days=3), tick=False):  # the task's own now
        assert expire_held_messages() == f"{channel.slug}: 1 expired"
        assert expire_held_messages() == "none expired"


def test_the_expiry_sweep_is_scheduled_on_the_background_queue(settings):
    entry = settings.CELERY_BEAT_SCHEDULE["held-expiry"]

    assert entry["task"] == "inquiries.tasks.expire_held_messages"
    assert settings.CELERY_TASK_ROUTES[entry["task"]] == {"queue": "background"}


# --- the admin's actions --------------------------------------------------------------------------


def test_retrying_attaches_what_can_be_attached_and_holds_the_rest_again(channel, policy, settings):
    settings.CSTRACKER_HELD_EXPIRY_DAYS = 1
    record_message(channel=channel, incoming=reply("r1", T0, in_reply_to="c1"), now=T0)
    record_message(channel=channel, incoming=reply("r2", T0, in_reply_to="c2"), now=T0)
    holding.expire(now=T0 + timedelta(days=1))
    record_message(channel=channel, incoming=customer("c1"), now=NOW)  # r1 has expired: not attached

    ids = list(m.HeldMessage.objects.values_list("pk", flat=True))
    assert retry_held(held_ids=ids, now=NOW) == 1

    r1, r2 = m.HeldMessage.objects.order_by("external_id")
    assert (r1.state, inquiry_of(channel, "r1")) == (m.HeldState.ATTACHED, inquiry_of(channel, "c1"))
    assert (r2.state, r2.expires_at) == (m.HeldState.HELD, NOW + timedelta(days=1))
    assert "still not arrived" in r2.reason


def test_a_discarded_reply_is_never_attached(channel, policy):
    record_message(channel=channel, incoming=reply("r1", T0, in_reply_to="c1"), now=T0)

    assert (
        holding.discard(held_ids=m.HeldMessage.objects.values_list("pk", flat=True), reason="spam", now=T0)
        == 1
    )
    record_message(channel=channel, incoming=customer("c1"), now=NOW)

    held = m.HeldMessage.objects.get()
    assert (held.state, held.reason) == (m.HeldState.DISCARDED, "spam")
    assert not m.Message.objects.filter(external_id="r1").exists()


# --- the admin page ---------------------------------------------------------------------------------

# session, user, the count of the page's rows, the count of all, the rows with their channel, their
# waits (one prefetch), the channels of the filter sidebar
ADMIN_LIST_QUERIES = 7


@pytest.mark.parametrize("count", [3, 30])
def test_the_held_messages_admin_lists_them_in_a_fixed_number_of_queries(
    client, superuser, channel, count, django_assert_num_queries
):
    record_messages(
        [
            (channel, reply(f"r{n}", T0, in_reply_to=f"c{n}", references=(f"c{n}-a", f"c{n}-b")))
            for n in range(count)
        ],
        now=NOW,
    )
    client.force_login(superuser)

    with django_assert_num_queries(ADMIN_LIST_QUERIES):
        page = client.get("/admin/inquiries/heldmessage/")

    assert page.status_code == 200
    text = page.content.decode()
    assert "c0, c0-b, c0-a" in text  # what it waits for, in the order it is looked up
    assert "Held: waits for its parent" in text


def test_hostile_ids_and_text_of_a_held_message_stay_inert_in_the_admin(client, superuser, channel):
    hostile = "<script>alert(1)</script>"
    record_message(
        channel=channel,
        incoming=reply(
            hostile, T0, in_reply_to="<img src=x onerror=alert(2)>", subject=hostile, body_text=hostile
        ),
        now=NOW,
    )
    held = m.HeldMessage.objects.get()
    client.force_login(superuser)

    pages = [
        client.get("/admin/inquiries/heldmessage/").content.decode(),
        client.get(f"/admin/inquiries/heldmessage/{held.pk}/change/").content.decode(),
    ]

    for page in pages:
        assert "<script>alert(1)" not in page and "<img src=x" not in page
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "&lt;img src=x onerror=alert(2)&gt;" in pages[0]


def test_the_admin_retries_and_discards_held_messages(client, superuser, channel, policy):
    record_message(channel=channel, incoming=reply("r1", T0, in_reply_to="c1"), now=T0)
    record_message(channel=channel, incoming=reply("r2", T0, in_reply_to="c2"), now=T0)
    m.HeldMessage.objects.filter(external_id="r1").update(state=m.HeldState.EXPIRED)
    record_message(channel=channel, incoming=customer("c1"), now=NOW)  # r1 expired: not attached
    r1, r2 = m.HeldMessage.objects.order_by("external_id")
    client.force_login(superuser)

    retried = client.post(
        "/admin/inquiries/heldmessage/", {"action": "retry", "_selected_action": [r1.pk, r2.pk]}, follow=True
    )
    discarded = client.post(
        "/admin/inquiries/heldmessage/", {"action": "discard", "_selected_action": [r2.pk]}, follow=True
    )

    assert "Attached 1 of 2" in retried.content.decode()
    assert "Discarded 1 held message." in discarded.content.decode()
    states = dict(m.HeldMessage.objects.values_list("external_id", "state"))
    assert states == {"r1": m.HeldState.ATTACHED, "r2": m.HeldState.DISCARDED}
    assert inquiry_of(channel, "r1") == inquiry_of(channel, "c1")
    assert m.HeldMessage.objects.get(external_id="r2").reason == f"discarded by {superuser.get_username()}"
