"""The complaint counts per topic of the health computation against a plain count in Python.

The query counts through the index inquiry_complaint_topic (the delivery topic by its id; the
questions among the delivery inquiries by a second query over that topic's rows): the same figures as reading
every inquiry, at the window's edges, in several time zones, with and without order volumes.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from inquiries import models as m
from inquiries.selectors.health.metrics import (
    QUESTION_BEFORE_DELIVERY_TOPIC,
    _complaints,
    _orders,
    rules_for,
)
from inquiries.services.health import save_order_volumes
from tests.health.conftest import NOW, ask, days, hours

pytestmark = pytest.mark.django_db


def plain(account: m.Account, as_of: datetime) -> tuple[dict[str, int], int, int | None]:
    """Complaints per complaint topic, the inquiries counted and the orders, read row by row."""
    rules = rules_for(account)
    start = as_of - timedelta(days=rules.complaint_window_days)
    orders = _orders(account, start, as_of)
    complaint_keys = set(m.Topic.objects.filter(is_complaint=True).values_list("key", flat=True))
    per_topic = dict.fromkeys(complaint_keys, 0)
    counted = 0
    for inquiry in m.Inquiry.objects.filter(account=account).select_related("topic", "linked_order"):
        if not start <= inquiry.opened_at < as_of:
            continue
        key = inquiry.topic.key if inquiry.topic else None
        if orders is not None and key not in complaint_keys:
            continue
        linked = inquiry.linked_order
        question = (
            key == QUESTION_BEFORE_DELIVERY_TOPIC
            and linked is not None
            and linked.deliver_by is not None
            and linked.deliver_by > inquiry.opened_at
        )
        # A question is no complaint; without order volumes it still counts among the inquiries
        # (the denominator), with them only complaints are counted.
        counted += 1 if orders is None or not question else 0
        if key in per_topic and not question:
            per_topic[key] += 1
    return per_topic, counted, orders


def computed(account: m.Account, as_of: datetime) -> tuple[dict[str, int], int, int | None]:
    topics, inquiries, orders = _complaints(account, as_of, rules_for(account))
    return {t.key: t.complaints for t in topics}, inquiries, orders


@pytest.fixture
def inquiries(amazon: m.Account, channel: m.Channel) -> list[m.Inquiry]:
    """Inquiries of every complaint topic, of a topic that is no complaint and of none, opened
    around the 60-day window's edges; delivery ones linked to orders due before and after them."""
    topics: list[m.Topic | None] = [
        *m.Topic.objects.filter(is_complaint=True),
        *m.Topic.objects.filter(is_complaint=False)[:1],
        None,
    ]
    window = timedelta(days=rules_for(amazon).complaint_window_days)
    openings = [
        NOW - window,  # the first instant of the window
        NOW - window - timedelta(microseconds=1),  # just before it
        NOW - window + hours(5),
        NOW - days(20),
        NOW - hours(1),
        NOW - timedelta(microseconds=1),  # the last instant of the window
        NOW,  # the window's end: not in it
    ]
    made = []
    for n, opened in enumerate(openings * 2):
        topic = topics[n % len(topics)]
        message = ask(channel, opened, subject=f"Question {n}", body_text="Hello.")
        order = None
        if n % 3 != 2:
            # Due after the inquiry was opened (a question), at that instant or before (a complaint).
            order = m.Order.objects.create(
                account=amazon,
                marketplace_order_id=f"111-0000000-{n:07d}",
                deliver_by=opened + (days(2) if n % 3 == 0 else -hours(n % 2)),
            )
        inquiry = message.inquiry_id
        assert inquiry is not None
        m.Inquiry.objects.filter(pk=inquiry).update(topic=topic, opened_at=opened, linked_order=order)
        made.append(m.Inquiry.objects.get(pk=inquiry))
    # Every fourth inquiry is a delivery one: questions and complaints among them.
    delivery = m.Topic.objects.get(key=QUESTION_BEFORE_DELIVERY_TOPIC)
    m.Inquiry.objects.filter(pk__in=[i.pk for i in made[::4]]).update(topic=delivery)
    return made


def test_complaint_counts_equal_the_plain_count(amazon, inquiries):
    window = timedelta(days=rules_for(amazon).complaint_window_days)
    instants = (
        NOW,
        NOW + timedelta(microseconds=1),
        NOW - hours(1),
        NOW + hours(5) - timedelta(microseconds=1),
        NOW + hours(5),
        NOW - days(20),
        NOW - days(20) + timedelta(microseconds=1),
        NOW + window,  # only the inquiries opened at NOW and just before
    )
    for volumes in (False, True):
        if volumes:
            save_order_volumes(account=amazon, volumes=[((NOW - days(d)).date(), 50 + d) for d in range(70)])
        for zone in ("UTC", "America/Los_Angeles", "Asia/Kolkata"):
            amazon.timezone = zone
            amazon.save()
            for as_of in instants:
                assert computed(amazon, as_of) == plain(amazon, as_of), (volumes, zone, as_of)
        found, counted, _ = computed(amazon, NOW)
        assert counted and any(found.values())


def test_a_delivery_topic_that_is_no_complaint(amazon, inquiries):
    m.Topic.objects.filter(key=QUESTION_BEFORE_DELIVERY_TOPIC).update(is_complaint=False)
    assert computed(amazon, NOW) == plain(amazon, NOW)
    save_order_volumes(account=amazon, volumes=[((NOW - days(d)).date(), 10) for d in range(70)])
    assert computed(amazon, NOW) == plain(amazon, NOW)


def test_without_a_delivery_topic_nothing_is_a_question(amazon, inquiries):
    m.Inquiry.objects.filter(topic__key=QUESTION_BEFORE_DELIVERY_TOPIC).update(topic=None)
    m.Topic.objects.filter(key=QUESTION_BEFORE_DELIVERY_TOPIC).delete()
    for volumes in (False, True):
        if volumes:
            save_order_volumes(account=amazon, volumes=[((NOW - days(d)).date(), 10) for d in range(0, 70)])
        assert computed(amazon, NOW) == plain(amazon, NOW)
