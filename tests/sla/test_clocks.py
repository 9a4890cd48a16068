"""The clock rules of DESIGN section 3, one behaviour per test."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from inquiries import services
from inquiries.ingestion.types import Direction
from inquiries.models import (
    Calendar,
    Clock,
    ClockKind,
    ClockState,
    EventKind,
    Inquiry,
    InquiryEvent,
    Marketplace,
    Message,
    Priority,
    SlaTarget,
    Status,
)
from inquiries.services import delivery
from inquiries.services.sweep import sweep
from tests.factories import incoming, policy_with_targets

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)  # a Monday
HOUR = 3600


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def record(channel, minutes: float, now_minutes: float | None = None, **fields):
    now = at(now_minutes if now_minutes is not None else minutes)
    return services.record_message(
        channel=channel, incoming=incoming(received_at=at(minutes), **fields), now=now
    )


def reply_via_api(channel, inquiry: Inquiry, minutes: float, now_minutes: float | None = None, **fields):
    first = inquiry.messages.order_by("received_at").first()
    return record(
        channel,
        minutes,
        now_minutes,
        direction=Direction.OUTBOUND,
        sender_address="agent@shop.example",
        in_reply_to=first.external_id,
        **fields,
    )


def clock(inquiry: Inquiry, kind: str) -> Clock:
    return Clock.objects.filter(inquiry=inquiry, kind=kind).latest("started_at", "id")


@pytest.fixture
def policy(db):
    return policy_with_targets(first_reply=HOUR, next_reply=2 * HOUR, resolution=24 * HOUR)


def test_the_first_customer_message_starts_first_reply_and_resolution_clocks(channel, policy):
    inquiry = record(channel, 0).message.inquiry
    first = clock(inquiry, ClockKind.FIRST_REPLY)
    assert (first.state, first.started_at, first.due_at, first.warn_at) == (
        ClockState.RUNNING,
        at(0),
        at(60),
        at(45),
    )
    assert clock(inquiry, ClockKind.RESOLUTION).due_at == at(24 * 60)
    kinds = list(
        InquiryEvent.objects.filter(inquiry=inquiry, kind=EventKind.CLOCK_STARTED).values_list(
            "data__clock_kind", flat=True
        )
    )
    assert sorted(kinds) == ["first_reply", "resolution"]


def test_a_reply_before_the_deadline_meets_the_first_reply_clock(channel, policy):
    inquiry = record(channel, 0).message.inquiry
    reply_via_api(channel, inquiry, 30)
    first = clock(inquiry, ClockKind.FIRST_REPLY)
    assert (first.state, first.stopped_at, first.elapsed_seconds) == (ClockState.MET, at(30), 1800)


def test_a_reply_after_the_deadline_misses_the_first_reply_clock(channel, policy):
    inquiry = record(channel, 0).message.inquiry
    reply_via_api(channel, inquiry, 90)
    assert clock(inquiry, ClockKind.FIRST_REPLY).state == ClockState.MISSED


def test_a_reply_exactly_at_the_deadline_is_on_time(channel, policy):
    inquiry = record(channel, 0).message.inquiry
    reply_via_api(channel, inquiry, 60)
    assert clock(inquiry, ClockKind.FIRST_REPLY).state == ClockState.MET


def test_an_internal_note_never_stops_a_clock(channel, policy, agent):
    inquiry = record(channel, 0).message.inquiry
    services.reply(
        inquiry=inquiry, author=agent, body_text="Checking with the warehouse", internal=True, now=at(10)
    )
    assert clock(inquiry, ClockKind.FIRST_REPLY).state == ClockState.RUNNING


def test_an_agent_reply_in_the_app_stops_the_reply_clock_once_accepted_for_delivery(channel, policy, agent):
    inquiry = record(channel, 0).message.inquiry
    reply = services.reply(inquiry=inquiry, author=agent, body_text="On its way", now=at(20))
    assert clock(inquiry, ClockKind.FIRST_REPLY).state == ClockState.RUNNING
    delivery.accept_reply(message_id=reply.pk, at=at(50), now=at(50))
    first_reply = clock(inquiry, ClockKind.FIRST_REPLY)
    assert (first_reply.state, first_reply.stopped_at) == (ClockState.MET, at(50))


def test_automatic_messages_never_start_or_stop_a_clock(channel, policy):
    inquiry = record(channel, 0).message.inquiry
    record(
        channel,
        5,
        automatic=True,
        automatic_reason="auto-submitted: auto-replied",
        in_reply_to=inquiry.messages.first().external_id,
    )
    reply_auto = record(
        channel,
        10,
        direction=Direction.OUTBOUND,
        automatic=True,
        in_reply_to=inquiry.messages.first().external_id,
    )
    assert reply_auto.message.inquiry_id == inquiry.pk
    assert clock(inquiry, ClockKind.FIRST_REPLY).state == ClockState.RUNNING
    assert Clock.objects.filter(inquiry=inquiry).count() == 2


def test_next_reply_runs_from_the_oldest_unanswered_customer_message(channel, policy):
    first = record(channel, 0).message
    inquiry = first.inquiry
    reply_via_api(channel, inquiry, 10)
    record(channel, 30, in_reply_to=first.external_id)
    record(channel, 50, in_reply_to=first.external_id)
    next_reply = clock(inquiry, ClockKind.NEXT_REPLY)
    assert (next_reply.started_at, next_reply.due_at) == (at(30), at(150))
    assert Clock.objects.filter(inquiry=inquiry, kind=ClockKind.NEXT_REPLY).count() == 1
    reply_via_api(channel, inquiry, 100)
    assert clock(inquiry, ClockKind.NEXT_REPLY).state == ClockState.MET


def test_resolution_pauses_while_waiting_on_the_customer_and_resumes(channel, policy, agent):
    inquiry = record(channel, 0).message.inquiry
    services.reply(
        inquiry=inquiry, author=agent, body_text="Can you send a photo?", status=Status.PENDING, now=at(60)
    )
    resolution = clock(inquiry, ClockKind.RESOLUTION)
    assert (resolution.state, resolution.paused_at) == (ClockState.PAUSED, at(60))
    record(channel, 180, in_reply_to=inquiry.messages.first().external_id)
    resolution.refresh_from_db()
    assert resolution.state == ClockState.RUNNING
    assert resolution.paused_business_seconds == 2 * HOUR
    assert resolution.due_at == at(24 * 60 + 120)
    assert Inquiry.objects.get(pk=inquiry.pk).status == Status.OPEN


def test_solving_stops_resolution_and_a_new_customer_message_resumes_it(channel, policy, agent):
    first = record(channel, 0).message
    inquiry = first.inquiry
    services.reply(inquiry=inquiry, author=agent, body_text="Refunded.", status=Status.SOLVED, now=at(60))
    resolution = clock(inquiry, ClockKind.RESOLUTION)
    assert (resolution.state, resolution.stopped_at) == (ClockState.MET, at(60))
    again = record(channel, 240, in_reply_to=first.external_id)
    assert again.message.inquiry_id == inquiry.pk
    resolution.refresh_from_db()
    assert (resolution.state, resolution.stopped_at, resolution.paused_business_seconds) == (
        ClockState.RUNNING,
        None,
        3 * HOUR,
    )
    assert InquiryEvent.objects.filter(inquiry=inquiry, kind=EventKind.CLOCK_RESUMED).count() == 1


def test_the_marketplace_clock_runs_per_message_and_one_reply_answers_all_before_it(channel, db):
    account = channel.account
    account.marketplace = Marketplace.AMAZON
    account.save()
    first = record(channel, 0).message
    second = record(channel, 600, in_reply_to=first.external_id).message
    clocks = Clock.objects.filter(inquiry=first.inquiry, kind=ClockKind.MARKETPLACE_REPLY).order_by(
        "started_at"
    )
    assert [c.due_at for c in clocks] == [at(24 * 60), at(600 + 24 * 60)]
    reply_via_api(channel, first.inquiry, 700)
    assert set(clocks.values_list("state", flat=True)) == {ClockState.MET}
    assert set(
        Message.objects.filter(pk__in=[first.pk, second.pk]).values_list("answered_at", flat=True)
    ) == {at(700)}
    assert Message.objects.get(pk=first.pk).response_due_at == at(24 * 60)


def test_amazon_counts_weekends_while_ebay_counts_business_days(channel, db):
    account = channel.account
    friday = datetime(2026, 3, 6, 12, 0, tzinfo=UTC)
    account.marketplace = Marketplace.AMAZON
    account.save()
    amazon = services.record_message(channel=channel, incoming=incoming(received_at=friday), now=friday)
    assert clock(amazon.message.inquiry, ClockKind.MARKETPLACE_REPLY).due_at == friday + timedelta(hours=24)
    account.marketplace = Marketplace.EBAY
    account.save()
    ebay = services.record_message(
        channel=channel,
        incoming=incoming(
            received_at=friday, sender_address="other@example.com", subject="Return request 5123"
        ),
        now=friday,
    )
    # Friday noon + 3 business days (Mon-Fri, all day) = Wednesday noon.
    assert clock(ebay.message.inquiry, ClockKind.MARKETPLACE_REPLY).due_at == datetime(
        2026, 3, 11, 12, tzinfo=UTC
    )


def test_no_response_needed_cancels_reply_clocks_and_a_later_message_starts_a_new_one(channel, policy, agent):
    first = record(channel, 0).message
    inquiry = first.inquiry
    services.mark_no_response_needed(inquiry=inquiry, actor=agent, now=at(5))
    assert clock(inquiry, ClockKind.FIRST_REPLY).state == ClockState.CANCELLED
    assert Message.objects.get(pk=first.pk).no_response_needed
    record(channel, 60, in_reply_to=first.external_id)
    newest = Clock.objects.filter(
        inquiry=inquiry, kind__in=[ClockKind.FIRST_REPLY, ClockKind.NEXT_REPLY]
    ).latest("started_at")
    assert (newest.state, newest.started_at) == (ClockState.RUNNING, at(60))


def test_a_priority_change_recomputes_running_clocks_from_their_start(channel, policy, agent):
    SlaTarget.objects.filter(policy=policy, priority=Priority.URGENT).update(first_reply_seconds=15 * 60)
    inquiry = record(channel, 0).message.inquiry
    services.change_priority(inquiry=inquiry, priority=Priority.URGENT, actor=agent, now=at(10))
    first = clock(inquiry, ClockKind.FIRST_REPLY)
    assert (first.started_at, first.due_at, first.target_seconds) == (at(0), at(15), 15 * 60)
    assert InquiryEvent.objects.filter(inquiry=inquiry, kind=EventKind.CLOCK_RECOMPUTED).exists()


def test_a_recompute_that_passes_the_new_deadline_breaches_the_clock(channel, policy, agent):
    SlaTarget.objects.filter(policy=policy, priority=Priority.URGENT).update(first_reply_seconds=15 * 60)
    inquiry = record(channel, 0).message.inquiry
    services.change_priority(inquiry=inquiry, priority=Priority.URGENT, actor=agent, now=at(20))
    first = clock(inquiry, ClockKind.FIRST_REPLY)
    assert (first.state, first.breached_at) == (ClockState.BREACHED, at(15))


def test_business_hours_move_the_deadline_over_the_weekend(channel):
    calendar = Calendar.objects.create(
        name="Berlin office", timezone="Europe/Berlin", hours={str(d): [["09:00", "17:00"]] for d in range(5)}
    )
    policy_with_targets(first_reply=2 * HOUR, calendar=calendar)
    friday = datetime(2026, 3, 6, 15, 0, tzinfo=UTC)  # 16:00 in Berlin
    inquiry = services.record_message(channel=channel, incoming=incoming(received_at=friday), now=friday)
    # One business hour on Friday, one on Monday: due Monday 10:00 Berlin = 09:00 UTC.
    assert clock(inquiry.message.inquiry, ClockKind.FIRST_REPLY).due_at == datetime(2026, 3, 9, 9, tzinfo=UTC)


def test_the_first_matching_policy_by_position_wins(channel):
    general = policy_with_targets(first_reply=4 * HOUR, position=100)
    vip = policy_with_targets(first_reply=HOUR, position=10, customer_tags=["vip"])
    urgent_only = policy_with_targets(first_reply=10 * 60, position=5, priorities=["urgent"])
    normal = record(channel, 0).message.inquiry
    assert normal.sla_policy_id == general.pk
    from inquiries.models import Customer

    Customer.objects.create(account=channel.account, address="vip@example.com", tags=["vip"])
    vip_inquiry = record(channel, 0, sender_address="vip@example.com").message.inquiry
    assert Inquiry.objects.get(pk=vip_inquiry.pk).sla_policy_id == vip.pk
    assert urgent_only.pk not in {normal.sla_policy_id, vip_inquiry.sla_policy_id}


def test_the_sweep_moves_clocks_to_at_risk_then_breached_exactly_once(channel, policy):
    inquiry = record(channel, 0).message.inquiry
    assert sweep(now=at(50)).at_risk == 1
    assert sweep(now=at(50)).at_risk == 0
    assert clock(inquiry, ClockKind.FIRST_REPLY).state == ClockState.AT_RISK
    assert sweep(now=at(61)).breached == 1
    assert sweep(now=at(62)).breached == 0
    events = InquiryEvent.objects.filter(inquiry=inquiry, data__clock_kind="first_reply")
    assert list(events.filter(kind=EventKind.CLOCK_AT_RISK).values_list("at", flat=True)) == [at(45)]
    assert list(events.filter(kind=EventKind.CLOCK_BREACHED).values_list("at", flat=True)) == [at(60)]


def test_a_breached_clock_answered_late_is_missed(channel, policy):
    inquiry = record(channel, 0).message.inquiry
    sweep(now=at(70))
    reply_via_api(channel, inquiry, 80)
    assert clock(inquiry, ClockKind.FIRST_REPLY).state == ClockState.MISSED


def _conversation_live(channel, agent) -> Inquiry:
    """The same conversation played in real time: the sweep runs every few minutes."""
    script = _script()
    inquiry = None
    minute = 0
    for step_at, action in script:
        while minute < step_at:
            with time_machine.travel(at(minute), tick=False):
                sweep()
            minute += 5
        with time_machine.travel(at(step_at), tick=False):
            inquiry = action(channel, agent, inquiry, None)
    with time_machine.travel(at(minute), tick=False):
        sweep()
    return inquiry


def _conversation_backfilled(channel, agent, end_minutes: float) -> Inquiry:
    """The same conversation imported afterwards, in one go, with its original timestamps."""
    inquiry = None
    for _step_at, action in _script():
        inquiry = action(channel, agent, inquiry, at(end_minutes))
    with time_machine.travel(at(end_minutes), tick=False):
        sweep()
    return inquiry


def _script():
    def customer(minutes, external_id):
        def act(channel, agent, inquiry, now):
            refs = {"in_reply_to": "c1"} if inquiry else {}
            return services.record_message(
                channel=channel,
                incoming=incoming(external_id=external_id, received_at=at(minutes), **refs),
                now=now or at(minutes),
            ).message.inquiry

        return act

    def agent_reply(minutes, external_id, status=None):
        def act(channel, agent, inquiry, now):
            services.record_message(
                channel=channel,
                incoming=incoming(
                    external_id=external_id,
                    direction=Direction.OUTBOUND,
                    sender_address="agent@shop.example",
                    received_at=at(minutes),
                    in_reply_to="c1",
                ),
                now=now or at(minutes),
            )
            if status:
                services.change_status(inquiry=inquiry, status=status, actor=agent, now=at(minutes))
            return inquiry

        return act

    return [
        (0, customer(0, "c1")),
        (50, customer(50, "c2")),
        (75, agent_reply(75, "a1", Status.PENDING)),
        (200, customer(200, "c3")),
        (500, agent_reply(500, "a2", Status.SOLVED)),
    ]


@pytest.mark.django_db(transaction=True)
def test_back_filled_history_scores_exactly_as_it_would_have_live(account, agent):
    from tests.factories import ChannelFactory

    account.marketplace = Marketplace.AMAZON
    account.save()
    policy_with_targets(first_reply=HOUR, next_reply=2 * HOUR, resolution=6 * HOUR)
    live_channel = ChannelFactory(account=account, slug="live")
    backfill_channel = ChannelFactory(account=account, slug="backfill")
    live = _conversation_live(live_channel, agent)
    backfilled = _conversation_backfilled(backfill_channel, agent, end_minutes=510)

    def facts(inquiry):
        clocks = [
            (
                c.kind,
                c.state,
                c.started_at,
                c.due_at,
                c.stopped_at,
                c.elapsed_seconds,
                c.paused_business_seconds,
            )
            for c in Clock.objects.filter(inquiry=inquiry).order_by("kind", "started_at")
        ]
        events = sorted(
            (e.kind, e.at, e.data.get("clock_kind", ""))
            for e in InquiryEvent.objects.filter(inquiry=inquiry).exclude(kind=EventKind.CLOCK_RECOMPUTED)
        )
        return clocks, events

    live_clocks, live_events = facts(live)
    backfill_clocks, backfill_events = facts(backfilled)
    assert live_clocks == backfill_clocks
    assert live_events == backfill_events
    assert {c[1] for c in live_clocks} >= {ClockState.MISSED, ClockState.MET}
