"""The metrics of DESIGN section 6, as of an instant, from stored facts."""

from __future__ import annotations

from datetime import timedelta

import pytest

from inquiries import models as m
from inquiries import services
from inquiries.health.scoring import Band, percentile_cont
from inquiries.selectors.health.metrics import account_health
from tests import factories
from tests.health.conftest import NOW, answer, ask, days, hours

pytestmark = pytest.mark.django_db


def metric(report, key):
    found = report.metric(key)
    assert found is not None, key
    return found


def test_late_rate_counts_late_answers_and_unanswered_past_deadline_but_not_pending(amazon, channel):
    on_time = ask(channel, NOW - days(3))
    answer(on_time, NOW - days(3) + hours(2))
    answered_late = ask(channel, NOW - days(3))
    answer(answered_late, NOW - days(3) + hours(30))
    ask(channel, NOW - days(2))  # unanswered, deadline passed: late
    ask(channel, NOW - hours(2))  # unanswered, deadline ahead: pending, not counted
    quick = ask(channel, NOW - hours(10))
    answer(quick, NOW - hours(1))
    ask(channel, NOW - days(3), automatic=True, automatic_reason="auto-reply")  # never counted
    ignored = ask(channel, NOW - days(4))
    services.mark_no_response_needed(inquiry=ignored.inquiry, actor=None, now=NOW - days(4) + hours(1))
    ask(channel, NOW - days(8))  # only in the 30- and 90-day windows
    # Answered one hour after T: at T it was unanswered past its deadline.
    answered_after = ask(channel, NOW - hours(30))
    answer(answered_after, NOW + hours(1), now=NOW + hours(2))

    report = account_health(amazon, NOW)

    week = metric(report, "late_response_rate_7d")
    assert (week.numerator, week.denominator) == (3, 5)
    assert week.value == pytest.approx(3 / 5)
    month = metric(report, "late_response_rate_30d")
    assert (month.numerator, month.denominator) == (4, 6)
    assert metric(report, "open_past_deadline").numerator == 3
    assert week.status == Band.CRITICAL
    assert report.status == Band.CRITICAL
    assert "1 more is still within its deadline" in week.summary


def test_an_answer_after_the_instant_counts_once_the_instant_passes_it(amazon, channel):
    message = ask(channel, NOW - hours(30))
    answer(message, NOW + hours(1), now=NOW + hours(2))

    before = metric(account_health(amazon, NOW), "late_response_rate_7d")
    after = metric(account_health(amazon, NOW + hours(2)), "late_response_rate_7d")

    assert (before.numerator, before.denominator) == (1, 1)
    assert (after.numerator, after.denominator) == (1, 1)
    assert metric(account_health(amazon, NOW), "open_past_deadline").numerator == 1
    assert metric(account_health(amazon, NOW + hours(2)), "open_past_deadline").numerator == 0


def test_the_window_is_half_open_and_a_deadline_at_the_instant_counts(amazon, channel):
    ask(channel, NOW - days(7))  # at T - 7 d exactly: inside
    ask(channel, NOW - days(7) - hours(1) / 3600)  # just before: outside
    ask(channel, NOW - hours(24))  # deadline exactly at T: counted and late
    ask(channel, NOW)  # at T exactly: outside [T - 7 d, T)

    week = metric(account_health(amazon, NOW), "late_response_rate_7d")

    assert (week.numerator, week.denominator) == (2, 2)


def test_an_answer_exactly_at_the_deadline_is_on_time(amazon, channel):
    message = ask(channel, NOW - days(2))
    answer(message, NOW - days(1))

    week = metric(account_health(amazon, NOW), "late_response_rate_7d")

    assert (week.numerator, week.denominator) == (0, 1)
    assert week.status == Band.HEALTHY


def test_one_reply_answers_every_earlier_customer_message(amazon, channel):
    first = ask(channel, NOW - days(3), sender="kim@example.com", thread_id="t-1")
    ask(channel, NOW - days(3) + hours(20), sender="kim@example.com", thread_id="t-1")
    answer(first, NOW - days(3) + hours(26))

    week = metric(account_health(amazon, NOW), "late_response_rate_7d")

    assert (week.numerator, week.denominator) == (1, 2)  # the first is late, the second on time


def test_response_times_cover_30_days_answered_by_the_instant(amazon, channel):
    waits = [1, 2, 3, 5, 8, 13, 40]
    for index, wait in enumerate(waits):
        message = ask(channel, NOW - days(index + 2))
        answer(message, NOW - days(index + 2) + hours(wait))
    old = ask(channel, NOW - days(31))
    answer(old, NOW - days(31) + hours(100))
    later = ask(channel, NOW - hours(5))
    answer(later, NOW + hours(1), now=NOW + hours(2))

    report = account_health(amazon, NOW)

    seconds = [w * 3600.0 for w in waits]
    assert metric(report, "response_time_p50_seconds").value == pytest.approx(percentile_cont(seconds, 0.5))
    assert metric(report, "response_time_p90_seconds").value == pytest.approx(percentile_cont(seconds, 0.9))
    assert metric(report, "response_time_mean_seconds").value == pytest.approx(sum(seconds) / len(seconds))
    assert metric(report, "response_time_p50_seconds").denominator == len(waits)
    slowest = metric(report, "response_time_p90_seconds").messages[0]
    assert slowest.answered_at - slowest.received_at == hours(40)


def test_response_time_percentiles_are_the_plain_computation_to_the_microsecond(amazon, channel):
    # Answer times with odd microseconds, an even count (the median between two of them) and a
    # 90th percentile between ranks: each database gives exactly the plain computation.
    waits = [
        timedelta(hours=h, seconds=s, microseconds=us)
        for h, s, us in [(1, 7, 3), (2, 0, 999_999), (2, 0, 1), (30, 59, 500_001), (5, 1, 7), (0, 3, 11)]
    ]
    for index, wait in enumerate(waits):
        message = ask(channel, NOW - days(index + 2))
        answer(message, message.received_at + wait)

    report = account_health(amazon, NOW)

    seconds = [w.total_seconds() for w in waits]
    assert metric(report, "response_time_p50_seconds").value == percentile_cont(seconds, 0.5)
    assert metric(report, "response_time_p90_seconds").value == percentile_cont(seconds, 0.9)
    assert metric(report, "response_time_mean_seconds").value == pytest.approx(sum(seconds) / len(seconds))
    assert metric(report, "response_time_p50_seconds").denominator == len(waits)


def test_percentile_matches_postgres_percentile_cont():
    assert percentile_cont([1, 2, 3, 4], 0.5) == 2.5
    assert percentile_cont([10, 20, 30, 40, 50], 0.9) == pytest.approx(46.0)
    assert percentile_cont([7], 0.9) == 7
    assert percentile_cont([], 0.5) is None


def test_atoz_risk_counts_order_messages_unanswered_for_48_and_72_hours(amazon, channel):
    ask(channel, NOW - hours(50), order_id="111-1")
    ask(channel, NOW - hours(80), order_id="111-2")
    ask(channel, NOW - hours(30), order_id="111-3")  # not yet 48 h
    ask(channel, NOW - hours(60))  # not order-related
    answered = ask(channel, NOW - hours(90), order_id="111-4")
    answer(answered, NOW - hours(10))
    # A follow-up without its own order id, in an inquiry about an order.
    ask(channel, NOW - hours(49), sender="lee@example.com", order_id="111-5", thread_id="lee")
    inquiry_first = m.Message.objects.get(order_id="111-5")
    answer(inquiry_first, NOW - hours(48) - hours(0.5))
    ask(channel, NOW - hours(48) - hours(0.25), sender="lee@example.com", thread_id="lee")

    atoz = metric(account_health(amazon, NOW), "atoz_risk_count")

    assert (atoz.numerator, atoz.status) == (3, Band.CRITICAL)
    assert {ref.order_id for ref in atoz.messages} == {"111-1", "111-2", "111-5"}


def test_atoz_is_only_measured_on_amazon(account, channel):
    account.marketplace = m.Marketplace.WALMART
    account.save()
    ask(channel, NOW - hours(80), order_id="1")

    report = account_health(account, NOW)

    assert report.metric("atoz_risk_count") is None
    assert [k.key for k in report.metrics if k.key.startswith("late_")] == [
        "late_response_rate_14d",
        "late_response_rate_30d",
        "late_response_rate_60d",
        "late_response_rate_90d",
    ]


def test_complaint_rates_are_per_100_inquiries_without_order_volumes_and_per_100_orders_with(amazon, channel):
    quality = m.Topic.objects.get(key="quality")
    for index in range(4):
        ask(channel, NOW - days(index + 1), subject="Broken", body_text="It arrived broken and defective")
    for index in range(4):
        ask(channel, NOW - days(index + 1), subject="Hi", body_text="Just saying hello")
    assert m.Inquiry.objects.filter(topic=quality).count() == 4

    per_inquiries = metric(account_health(amazon, NOW), "complaint_rate_quality")
    assert (per_inquiries.numerator, per_inquiries.denominator) == (4, 8)
    assert per_inquiries.value == pytest.approx(50.0)
    assert per_inquiries.unit == "per_100_inquiries"

    services_health = __import__("inquiries.services.health", fromlist=["save_order_volumes"])
    services_health.save_order_volumes(
        account=amazon, volumes=[((NOW - days(d)).date(), 100) for d in range(1, 11)]
    )
    per_orders = metric(account_health(amazon, NOW), "complaint_rate_quality")
    assert (per_orders.numerator, per_orders.denominator) == (4, 1000)
    assert per_orders.value == pytest.approx(0.4)
    assert per_orders.unit == "per_100_orders"
    assert per_orders.target == 1.0
    assert per_orders.status == Band.HEALTHY


def test_open_clusters_set_the_band_by_their_severity(amazon):
    quality = m.Topic.objects.get(key="quality")
    common = {
        "account": amazon,
        "topic": quality,
        "kind": m.ClusterKind.BURST,
        "first_seen": NOW - days(3),
        "last_seen": NOW - days(1),
    }
    m.Cluster.objects.create(sku="A1", severity=m.Severity.MEDIUM, **common)
    m.Cluster.objects.create(sku="A2", severity=m.Severity.HIGH, **common)
    m.Cluster.objects.create(
        sku="A3",
        severity=m.Severity.CRITICAL,
        state=m.ClusterState.RESOLVED,
        resolved_at=NOW - days(2),
        **common,
    )

    now = metric(account_health(amazon, NOW), "open_clusters")
    earlier = metric(account_health(amazon, NOW - days(2) - hours(1)), "open_clusters")

    assert (now.value, now.status) == (2, Band.AT_RISK)
    assert [c.sku for c in now.clusters] == ["A2", "A1"]
    assert (earlier.value, earlier.status) == (3, Band.CRITICAL)
    assert metric(account_health(amazon, NOW), "complaint_rate_quality").clusters[0].sku == "A2"


def test_an_own_shop_is_measured_on_its_first_reply_clocks(account, channel):
    factories.policy_with_targets(first_reply=3600, next_reply=None, resolution=None)
    late = ask(channel, NOW - days(2))
    answer(late, NOW - days(2) + hours(3))
    ontime = ask(channel, NOW - days(2))
    answer(ontime, NOW - days(2) + hours(0.5))
    ask(channel, NOW - hours(0.5))  # pending

    report = account_health(account, NOW)

    week = metric(report, "late_response_rate_7d")
    assert (week.numerator, week.denominator) == (1, 2)
    assert week.messages[0].inquiry_id == late.inquiry_id
    assert metric(report, "response_time_p50_seconds").denominator == 2


def test_the_status_is_the_worst_metric(amazon, channel):
    for index in range(20):
        message = ask(channel, NOW - days(1) - hours(index))
        answer(message, NOW - days(1) - hours(index) + hours(1))
    report = account_health(amazon, NOW)
    assert report.status == Band.HEALTHY

    ask(channel, NOW - hours(80), order_id="9")
    report = account_health(amazon, NOW)
    assert metric(report, "atoz_risk_count").status == Band.CRITICAL
    assert report.status == Band.CRITICAL


def test_where_is_my_order_before_the_promised_delivery_date_is_a_question_not_a_complaint(amazon, channel):
    """Three 'where is my order?' messages: two before their order's latest delivery date (questions),
    one after it (a delivery complaint)."""
    from inquiries.services.orders import link_inquiries

    for n, deliver_by in enumerate([NOW + days(2), NOW + days(1), NOW - days(3)]):
        m.Order.objects.create(
            account=amazon, marketplace_order_id=f"111-0000000-000000{n}", deliver_by=deliver_by
        )
        ask(
            channel,
            NOW - days(1) + timedelta(minutes=n),
            subject="Where is my order?",
            body_text="My parcel has not arrived yet, where is my order?",
            order_id=f"111-0000000-000000{n}",
        )
    link_inquiries(account_id=amazon.pk)
    assert m.Inquiry.objects.filter(topic__key="delivery", linked_order__isnull=False).count() == 3

    delivery = metric(account_health(amazon, NOW), "complaint_rate_delivery")
    assert (delivery.numerator, delivery.denominator) == (1, 3)
