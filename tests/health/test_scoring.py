"""Bands, status and the rescue maths: pure functions, no database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from inquiries.health.presets import DEFAULT_PRESETS
from inquiries.health.scoring import (
    Band,
    HealthFacts,
    MessageRef,
    Rules,
    WindowCounts,
    answers_to_improve,
    band_for,
    human_duration,
    messages_to_worsen,
    rescue_fetch_limit,
    score,
)

T = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
AMAZON = Rules.from_mapping("amazon", DEFAULT_PRESETS["amazon"])


def ref(n: int, *, received: timedelta, due_in: timedelta | None = None, order_id: str = "") -> MessageRef:
    received_at = T - received
    return MessageRef(
        message_id=n,
        inquiry_id=100 + n,
        subject=f"Question {n}",
        order_id=order_id,
        received_at=received_at,
        due_at=T + due_in if due_in is not None else received_at + timedelta(hours=24),
        answered_at=None,
    )


def window(days: int = 7, *, counted: int, late: int, pending: int = 0, unanswered: int = 0) -> WindowCounts:
    return WindowCounts(days=days, counted=counted, late=late, late_unanswered=unanswered, pending=pending)


@pytest.mark.parametrize(
    ("value", "band"),
    [
        (None, Band.HEALTHY),
        (0.0, Band.HEALTHY),
        (0.079, Band.HEALTHY),
        (0.08, Band.AT_RISK),
        (0.1, Band.AT_RISK),
        (0.1001, Band.CRITICAL),
    ],
)
def test_a_10_percent_target_is_at_risk_from_8_percent_and_critical_above_10(value, band):
    assert band_for(value, 0.10, 0.8) == band


def test_the_amazon_preset_encodes_the_marketplace_facts():
    assert AMAZON.reply_target_seconds == 24 * 3600
    assert AMAZON.windows == (7, 30, 90)
    assert AMAZON.late_rate_target == pytest.approx(0.10)
    assert (AMAZON.atoz_risk_hours, AMAZON.atoz_critical_hours) == (48, 72)
    assert (AMAZON.complaint_window_days, AMAZON.complaint_target_per_100_orders) == (60, 1.0)
    walmart = Rules.from_mapping("walmart", DEFAULT_PRESETS["walmart"])
    assert walmart.windows == (14, 30, 60, 90)
    assert walmart.late_rate_target == pytest.approx(0.05)
    # eBay publishes no general deadline: its 3 business days are message rules (return, INR).
    assert DEFAULT_PRESETS["ebay"]["reply_target_seconds"] is None
    assert DEFAULT_PRESETS["shop"]["reply_target_seconds"] is None


def test_three_more_late_messages_take_8_percent_past_the_10_percent_target():
    eight_percent = window(counted=100, late=8, pending=5)
    assert messages_to_worsen(eight_percent, 5, AMAZON) == 3  # 11 / 103 = 10.7%
    assert messages_to_worsen(eight_percent, 2, AMAZON) is None  # not enough pending to cross
    assert answers_to_improve(eight_percent, 5, AMAZON) == 1  # 8 / 101 is below 8%: healthy
    assert answers_to_improve(window(counted=100, late=9, pending=5), 5, AMAZON) is None  # 9/105 is 8.6%
    assert answers_to_improve(window(counted=100, late=9, pending=20), 20, AMAZON) == 13  # 9/113 < 8%


def test_a_critical_rate_names_how_many_on_time_answers_bring_it_back():
    eleven = window(counted=100, late=11, pending=20)
    assert answers_to_improve(eleven, 20, AMAZON) == 10  # 11 / 110 = 10%: at risk again


def test_the_rescue_list_says_what_to_answer_by_when_and_what_happens_otherwise():
    pending = tuple(
        ref(n, received=timedelta(hours=20 - n), due_in=timedelta(hours=4 + n)) for n in range(1, 6)
    )
    facts = HealthFacts(
        as_of=T,
        windows=(
            window(7, counted=100, late=8, pending=5),
            window(30, counted=400, late=20, pending=5),
            window(90, counted=1000, late=50, pending=5),
        ),
        pending=pending,
    )

    report = score(facts, AMAZON)

    first = report.rescue[0]
    assert first.metric_key == "late_response_rate_7d"
    assert first.worsens
    assert [m.message_id for m in first.messages] == [1, 2, 3]
    assert first.crosses_at == T + timedelta(hours=7)
    assert first.sentence == (
        "Answer these 3 in the next 7 h or the 7-day late rate goes from 8.0% to 10.7% (at risk → critical)."
    )
    assert report.status == Band.AT_RISK
    assert rescue_fetch_limit(facts.windows, AMAZON) == 3
    better = report.rescue[1]  # worsening first: losing ground matters more than gaining it
    assert not better.worsens
    assert better.sentence == (
        "Answer this message on time (due in 5 h) and the 7-day late rate improves from 8.0% to "
        "7.9% (at risk → healthy)."
    )


def test_the_rescue_list_warns_before_an_order_message_becomes_an_atoz_risk():
    order = ref(1, received=timedelta(hours=40), order_id="123-4567")
    facts = HealthFacts(as_of=T, windows=(window(counted=10, late=0),), order_messages=(order,))

    items = score(facts, AMAZON).rescue

    assert len(items) == 1
    assert items[0].metric_key == "atoz_risk_count"
    assert items[0].crosses_at == T + timedelta(hours=8)
    assert items[0].sentence.startswith("Answer this order message (order 123-4567) in the next 8 h")


def test_a_critical_atoz_risk_asks_for_an_answer_now():
    old = ref(1, received=timedelta(hours=75), order_id="1")
    facts = HealthFacts(
        as_of=T, windows=(window(counted=10, late=1),), atoz_risk=1, atoz_critical=1, order_messages=(old,)
    )

    report = score(facts, AMAZON)

    assert report.metric("atoz_risk_count").status == Band.CRITICAL
    assert report.rescue[0].act_by == T
    assert "now" in report.rescue[0].sentence


def test_no_data_is_healthy_and_the_first_pending_message_can_still_cross():
    facts = HealthFacts(
        as_of=T,
        windows=(window(counted=0, late=0, pending=1),),
        pending=(ref(1, received=timedelta(hours=1)),),
    )
    report = score(facts, AMAZON)
    assert report.status == Band.HEALTHY
    assert report.metric("late_response_rate_7d").value is None
    assert report.rescue[0].sentence.startswith("Answer this message in the next 23 h")


def test_durations_read_naturally():
    assert human_duration(5 * 3600) == "5 h"
    assert human_duration(5 * 3600 + 40 * 60) == "5 h 40 min"
    assert human_duration(26 * 3600) == "1 d 2 h"
    assert human_duration(30) == "under a minute"
