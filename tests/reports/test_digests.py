"""Scheduled report digests: when they are due, what they say, and that each goes exactly once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from unittest import mock

import pytest
from django.core import mail

from inquiries import models as m
from inquiries import tasks
from inquiries.services import digests
from inquiries.services.sweep import sweep
from tests.reports.conftest import NOW, T0, customer

pytestmark = pytest.mark.django_db

SEND = datetime(2026, 3, 4, 8, 0, tzinfo=UTC)  # a Wednesday; the window is Tuesday 08:00 to Wednesday 08:00


def subscription(user, **fields) -> m.ReportSubscription:
    fields.setdefault("created_at", T0 - timedelta(days=30))
    teams = fields.pop("teams", [])
    sub = m.ReportSubscription.objects.create(user=user, **fields)
    sub.teams.set(teams)
    return sub


@pytest.mark.parametrize(
    ("frequency", "weekday", "now", "expected"),
    [
        ("daily", 0, datetime(2026, 3, 4, 6, 59, tzinfo=UTC), datetime(2026, 3, 3, 7, 0, tzinfo=UTC)),
        ("daily", 0, datetime(2026, 3, 4, 7, 0, tzinfo=UTC), datetime(2026, 3, 4, 7, 0, tzinfo=UTC)),
        # After the switch to summer time, 08:00 in Berlin is 06:00 UTC.
        ("daily", 0, datetime(2026, 3, 30, 6, 30, tzinfo=UTC), datetime(2026, 3, 30, 6, 0, tzinfo=UTC)),
        ("weekly", 4, datetime(2026, 3, 4, 9, 0, tzinfo=UTC), datetime(2026, 2, 27, 7, 0, tzinfo=UTC)),
        ("weekly", 2, datetime(2026, 3, 4, 9, 0, tzinfo=UTC), datetime(2026, 3, 4, 7, 0, tzinfo=UTC)),
    ],
)
def test_the_schedule_is_the_local_hour_in_the_subscribers_time_zone(
    manager, frequency, weekday, now, expected
):
    sub = m.ReportSubscription(
        user=manager, frequency=frequency, hour=8, weekday=weekday, timezone="Europe/Berlin"
    )
    assert digests.scheduled_instant(sub, now) == expected


def test_a_weekly_window_is_seven_local_days_even_across_the_dst_switch(manager):
    sub = m.ReportSubscription(user=manager, frequency="weekly", hour=8, weekday=0, timezone="Europe/Berlin")
    start, end = digests.window(sub, datetime(2026, 3, 30, 6, 0, tzinfo=UTC))
    assert (start, end) == (datetime(2026, 3, 23, 7, 0, tzinfo=UTC), datetime(2026, 3, 30, 6, 0, tzinfo=UTC))


def test_a_new_subscription_waits_for_its_first_send_time(manager):
    sub = subscription(manager, hour=8, created_at=SEND + timedelta(hours=1))
    assert digests.due_subscriptions(SEND + timedelta(hours=2)) == []
    assert [s for s, _ in digests.due_subscriptions(SEND + timedelta(days=1))] == [sub]


@pytest.fixture
def facts(history, account):
    """The sweep's breach events, a cluster flagged in the window and a health change."""
    sweep(now=NOW)
    cluster = m.Cluster.objects.create(
        account=account,
        topic=history["shipping"],
        sku="SKU-<b>1</b>",
        kind=m.ClusterKind.BURST,
        first_seen=SEND - timedelta(hours=5),
        last_seen=SEND - timedelta(hours=1),
        member_count=4,
        customer_count=4,
    )
    m.ClusterEvent.objects.create(
        cluster=cluster, kind=m.ClusterEventKind.OPENED, at=SEND - timedelta(hours=1)
    )
    m.HealthSnapshot.objects.create(
        account=account, date=datetime(2026, 3, 2).date(), status="healthy", as_of=SEND - timedelta(days=2)
    )
    m.HealthSnapshot.objects.create(
        account=account, date=datetime(2026, 3, 4).date(), status="at_risk", as_of=SEND - timedelta(hours=1)
    )
    return history


def test_the_digest_summarises_the_window_for_the_subscribers_teams(facts, manager, team):
    subscription(manager, hour=8, timezone="UTC", teams=[team])
    customer(
        facts["breached"].channel,
        SEND - timedelta(hours=3),
        sender="late@example.com",
        subject="<script>alert(1)</script>",
        now=NOW,
    )
    assert digests.send_due_digests(now=SEND + timedelta(minutes=5)) == 1
    [message] = mail.outbox
    assert message.to == ["maria@example.com"]
    assert message.subject == "cstracker daily report: first-reply compliance 0.0%, 2 breaches"
    text = message.body
    assert "- First reply: 0.0% (0 met, 0 missed, 2 still breached)" in text
    # From the event log: the unanswered inquiry's first reply, and the resolution that went past
    # due before the inquiry was solved late.
    assert "BREACHES IN THE PERIOD\n- First reply: 1\n- Resolution: 1\n" in text
    assert f"- #{facts['breached'].pk} Hello (Team A shop), waiting 22h 05m: http" in text
    assert f"#{facts['running'].pk} " not in text  # it arrived after the send time
    assert "- Shipping about SKU-<b>1</b> (Team A shop): 4 complaints" in text
    assert "- Team A shop: Healthy -> At risk" in text
    html = message.alternatives[0][0]
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;" in html
    assert "SKU-&lt;b&gt;1&lt;/b&gt;" in html
    assert "Team B shop" not in text + html
    assert message.extra_headers["Auto-Submitted"] == "auto-generated"


def test_a_digest_never_shows_accounts_the_subscriber_cannot_see(facts, manager, other_team):
    subscription(manager, hour=8, timezone="UTC", teams=[other_team])  # set by an admin, say
    digests.send_due_digests(now=SEND)
    assert "0 accounts" in mail.outbox[0].body
    assert "Team B shop" not in mail.outbox[0].body


def test_two_beats_send_one_digest(facts, manager):
    sub = subscription(manager, hour=8, timezone="UTC")
    assert digests.send_due_digests(now=SEND) == 1
    assert digests.send_due_digests(now=SEND + timedelta(minutes=15)) == 0
    assert len(mail.outbox) == 1
    # A beat that read the subscription before the first one claimed it loses the claim.
    assert digests.claim(sub, SEND, SEND + timedelta(minutes=1)) is False
    assert digests.send_due_digests(now=SEND + timedelta(days=1)) == 1


def test_a_failed_send_is_retried_by_the_next_beat(facts, manager):
    subscription(manager, hour=8, timezone="UTC")
    with mock.patch("django.core.mail.EmailMultiAlternatives.send", side_effect=OSError("SMTP down")):
        assert digests.send_due_digests(now=SEND) == 0
    assert m.ReportSubscription.objects.get().last_sent_at is None
    assert tasks.send_due_digests.apply().get() == 1
    assert len(mail.outbox) == 1


def test_inactive_subscriptions_and_users_without_an_address_get_nothing(facts, manager, agent):
    subscription(manager, hour=8, timezone="UTC", is_active=False)
    agent.email = ""
    agent.save()
    subscription(agent, hour=8, timezone="UTC")
    assert digests.send_due_digests(now=SEND) == 0


def test_the_digest_titles_a_chat_message_without_a_subject_by_its_first_words(facts, manager, team):
    subscription(manager, hour=8, timezone="UTC", teams=[team])
    chat = customer(
        facts["breached"].channel,
        T0 - timedelta(hours=1),  # the longest waiting of all
        sender="chat@example.com",
        subject="",
        body_text="is the <i>lamp</i> back in stock yet? I want two of them for the hall",
        now=NOW,
    )
    assert digests.send_due_digests(now=SEND + timedelta(minutes=5)) == 1
    [message] = mail.outbox
    assert f"- #{chat.pk} is the <i>lamp</i> back in stock yet? I… (Team A shop)" in message.body, (
        message.body
    )
    html = message.alternatives[0][0]
    assert f"#{chat.pk} is the &lt;i&gt;lamp&lt;/i&gt; back in stock yet? I…</a>" in html
    assert "(no subject)" not in message.body + html
