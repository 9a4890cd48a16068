"""The demo tells the truth: a believable week of a small shop, counted here independently,
and its replies were delivered (a few refused, as real mail is)."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core.management import call_command
from django.utils import timezone

from inquiries.demo_week import plan_week
from inquiries.models import (
    Account,
    Clock,
    ClockKind,
    ClockState,
    Cluster,
    Direction,
    Feedback,
    Inquiry,
    Message,
    Order,
    Shipment,
)
from inquiries.models.choices import OPEN_STATUSES


@pytest.mark.django_db
def test_the_demos_replies_are_accepted_by_its_relay_and_a_few_refused(settings):
    settings.CELERY_TASK_ALWAYS_EAGER = False
    call_command("seed_demo", "--inquiries", "60", stdout=open("/dev/null", "w"))  # noqa: SIM115

    replies = Message.objects.filter(direction=Direction.OUTBOUND, author__isnull=False)
    states = dict.fromkeys(Message.DeliveryState.values, 0)
    for state in replies.values_list("delivery_state", flat=True):
        states[state] += 1
    assert states["queued"] == 0, states  # nothing waits for a relay the demo does not have
    assert states["sent"] > 10 * states["failed"] > 0, states
    # A refused reply answered nobody: its first-reply clock was not met by it.
    failed = replies.filter(delivery_state="failed").first()
    assert failed.delivery_error.startswith("550 5.1.1")
    met_at = [
        c.stopped_at
        for c in Clock.objects.filter(inquiry_id=failed.inquiry_id, kind=ClockKind.FIRST_REPLY)
        if c.state == ClockState.MET
    ]
    assert all(at != failed.received_at for at in met_at)


# What an answer to each topic talks about, written here apart from the demo's own texts.
ANSWER_WORDS = {
    "order_status": ("tracking", "shipped", "warehouse", "scans"),
    "delivery": ("parcel", "tracking", "carrier"),
    "question": ("dishwasher", "gift wrap", "warranty", "orders"),
    "damaged": ("replacement", "refund"),
    "quality": ("replacement", "refund", "new batch"),
    "refund": ("refund", "return"),
    "wrong_item": ("label", "wrong item"),
    "missing": ("missing", "parcel", "tracking", "carrier"),
    "billing": ("refund", "charge"),
}


@pytest.mark.django_db
def test_the_demo_is_a_believable_week_ending_now(settings):
    settings.CELERY_TASK_ALWAYS_EAGER = False
    now = timezone.now()
    call_command("seed_demo", stdout=open("/dev/null", "w"))  # noqa: SIM115
    ny = ZoneInfo("America/New_York")

    inbound = list(
        Message.objects.filter(direction=Direction.INBOUND).values_list("inquiry_id", "received_at")
    )
    # Spread over the last 7 days, mostly in the day.
    assert all(now - timedelta(days=7, minutes=5) <= at <= now for _, at in inbound)
    assert len({at.astimezone(ny).date() for _, at in inbound}) >= 7
    daytime = [at for _, at in inbound if 7 <= at.astimezone(ny).hour < 22]
    assert len(daytime) >= 0.75 * len(inbound), (len(daytime), len(inbound))

    # Most answered on time: Amazon's own yardstick (24 h, calendar time), counted from the
    # messages and the relay's acceptance times, not from our clocks.
    first_message = {}
    for inquiry_id, at in sorted(inbound, key=lambda row: row[1]):
        first_message.setdefault(inquiry_id, at)
    answers: dict[int, list] = {}
    for inquiry_id, accepted in Message.objects.filter(
        direction=Direction.OUTBOUND, author__isnull=False, delivery_state__in=["sent", "delivered"]
    ).values_list("inquiry_id", "accepted_at"):
        answers.setdefault(inquiry_id, []).append(accepted)
    counted = on_time = 0
    for inquiry_id, received in first_message.items():
        answered = min((a for a in answers.get(inquiry_id, []) if a >= received), default=None)
        if answered is None and now - received < timedelta(hours=24):
            continue  # still inside its deadline: pending, not counted
        counted += 1
        on_time += answered is not None and answered - received <= timedelta(hours=24)
    assert on_time >= 0.8 * counted, (on_time, counted)
    # ...and on our business-hours first-reply clocks.
    states = Counter(Clock.objects.filter(kind=ClockKind.FIRST_REPLY).values_list("state", flat=True))
    assert states["met"] >= 0.8 * (states["met"] + states["missed"] + states["breached"]), states
    assert states["missed"] >= 1, states  # a handful late, as in any real week

    # A few overdue, not dozens: open inquiries with a clock past due.
    open_ids = set(Inquiry.objects.filter(status__in=OPEN_STATUSES).values_list("pk", flat=True))
    overdue = set(
        Clock.objects.filter(inquiry_id__in=open_ids, stopped_at__isnull=True, due_at__lt=now)
        .exclude(state__in=[ClockState.PAUSED, ClockState.CANCELLED])
        .values_list("inquiry_id", flat=True)
    )
    assert len(open_ids) >= 10
    # How many of the demo's late ones are past their business-hours deadline depends on the hour
    # the demo is loaded at (2 of 34 at 15:20 UTC, 1 at 14:45): a handful, never the dozens of before.
    assert len(overdue) <= max(3, 0.05 * len(open_ids)), (len(overdue), len(open_ids))

    # Each reply answers what its inquiry is about.
    replies = Message.objects.filter(direction=Direction.OUTBOUND, author__isnull=False).select_related(
        "inquiry__topic"
    )
    assert replies.count() >= 150
    for reply in replies:
        words = ANSWER_WORDS[reply.inquiry.topic.key]
        assert any(word in reply.body_text.lower() for word in words), (
            reply.inquiry.topic.key,
            reply.body_text,
        )
        assert "{" not in reply.body_text, reply.body_text  # every blank filled in

    # Orders, shipments and feedback that fit the messages.
    amazon = Account.objects.get(marketplace="amazon")
    assert Order.objects.filter(account=amazon).count() >= 1000
    assert Inquiry.objects.filter(account=amazon, linked_order__isnull=False).count() >= 0.8 * (
        Inquiry.objects.filter(account=amazon).exclude(order_id="").count()
    )
    assert Shipment.objects.filter(order__account=amazon).exclude(tracking_number="").count() >= 900
    ratings = Counter(Feedback.objects.filter(order__account=amazon).values_list("rating", flat=True))
    negative = ratings[1] + ratings[2]
    assert 0 < negative < 0.2 * sum(ratings.values()), ratings

    # The week's product problem: a quality burst on the kettle (and the dented lamps).
    bursts = {(c.sku, c.topic.key) for c in Cluster.objects.filter(kind="burst").select_related("topic")}
    assert ("AH-KETTLE-02", "quality") in bursts, bursts
    assert ("AH-LAMP-11", "damaged") in bursts, bursts


def test_the_plan_is_the_same_for_the_same_seed_and_differs_for_another():
    now = datetime(2026, 12, 4, 15, 30, tzinfo=UTC)
    first = plan_week(seed=3, now=now, inquiries=50)
    assert first == plan_week(seed=3, now=now, inquiries=50)
    assert first != plan_week(seed=4, now=now, inquiries=50)
    assert len(first.inquiries) == 50 + 13  # and the two bursts
