"""'Where is my order?' is a question until the linked order's promised delivery date has
passed, then a delivery complaint (services.order_status, run when inquiries are linked)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from inquiries import models as m
from inquiries.services import change_topic
from inquiries.services.order_status import file_as_complaints
from inquiries.services.orders import link_inquiries
from tests.complaints.helpers import T0, ingest

pytestmark = pytest.mark.django_db

ORDER = "111-2223334-5556667"


def ask(channel: m.Channel, body: str = "Where is my order?", **fields: object) -> m.Inquiry:
    message = ingest(channel, subject="Order", body=body, order_id=ORDER, **fields)
    return m.Inquiry.objects.select_related("topic").get(pk=message.inquiry_id)


def order(account: m.Account, deliver_by) -> m.Order:
    return m.Order.objects.create(account=account, marketplace_order_id=ORDER, deliver_by=deliver_by)


def topic_of(inquiry: m.Inquiry) -> tuple[str | None, str]:
    inquiry.refresh_from_db()
    return (inquiry.topic.key if inquiry.topic else None, inquiry.topic_source)


def test_where_is_my_order_before_the_promised_date_stays_a_question(channel, topics):
    inquiry = ask(channel)
    assert topic_of(inquiry) == ("order_status", "rules")
    assert not topics["order_status"].is_complaint

    order(channel.account, deliver_by=T0 + timedelta(days=2))
    assert link_inquiries(account_id=channel.account_id, order_ids=[ORDER]) == 1

    assert topic_of(inquiry) == ("order_status", "rules")
    assert not m.InquiryEvent.objects.filter(inquiry=inquiry, kind=m.EventKind.TOPIC_CHANGED).exists()


def test_where_is_my_order_after_the_promised_date_becomes_a_delivery_complaint(channel, topics):
    inquiry = ask(channel, body="Wo bleibt mein Paket?")
    order(channel.account, deliver_by=T0 - timedelta(days=1))

    link_inquiries(account_id=channel.account_id, order_ids=[ORDER])

    assert topic_of(inquiry) == ("delivery", "rules")
    event = m.InquiryEvent.objects.get(inquiry=inquiry, kind=m.EventKind.TOPIC_CHANGED)
    assert event.data == {
        "from": "order_status",
        "to": "delivery",
        "correction": False,
        "reason": "promised delivery date passed",
    }


def test_a_promised_date_imported_later_for_an_already_linked_order_counts(channel, topics):
    inquiry = ask(channel)
    late = order(channel.account, deliver_by=None)
    link_inquiries(account_id=channel.account_id, order_ids=[ORDER])
    assert topic_of(inquiry) == ("order_status", "rules")

    m.Order.objects.filter(pk=late.pk).update(deliver_by=T0 - timedelta(hours=3))
    link_inquiries(account_id=channel.account_id, order_ids=[ORDER])

    assert topic_of(inquiry) == ("delivery", "rules")


def test_a_topic_an_agent_set_is_never_overruled(channel, topics, agent):
    inquiry = ask(channel)
    change_topic(inquiry=inquiry, topic=topics["order_status"], actor=agent, now=T0 + timedelta(minutes=5))
    order(channel.account, deliver_by=T0 - timedelta(days=1))

    link_inquiries(account_id=channel.account_id, order_ids=[ORDER])

    assert topic_of(inquiry) == ("order_status", "agent")


def test_other_accounts_inquiries_about_the_same_order_id_are_not_touched(channel, topics, other_account):
    inquiry = ask(channel)
    order(other_account, deliver_by=T0 - timedelta(days=1))

    link_inquiries(account_id=other_account.pk, order_ids=[ORDER])

    assert topic_of(inquiry) == ("order_status", "rules")


def test_only_what_the_refiling_changed_gets_an_event(channel, topics, agent):
    """Found overdue, then changed before the refiling wrote (an agent set the topic, or it is no
    longer a question): left as it is, and no event claims a change that was not made."""
    by_agent, answered, asked = (ask(channel, customer=f"buyer{n}@example.com") for n in range(3))
    change_topic(inquiry=by_agent, topic=topics["order_status"], actor=agent, now=T0 + timedelta(minutes=5))
    m.Inquiry.objects.filter(pk=answered.pk).update(topic=topics["refund"])

    changed = file_as_complaints([by_agent.pk, answered.pk, asked.pk], now=T0 + timedelta(hours=1))

    assert changed == 1
    assert (topic_of(by_agent), topic_of(answered), topic_of(asked)) == (
        ("order_status", "agent"),
        ("refund", "rules"),
        ("delivery", "rules"),
    )
    events = m.InquiryEvent.objects.filter(
        kind=m.EventKind.TOPIC_CHANGED, data__reason="promised delivery date passed"
    )
    assert list(events.values_list("inquiry_id", flat=True)) == [asked.pk]
