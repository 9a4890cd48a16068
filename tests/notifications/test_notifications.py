"""Overdue flags become notifications exactly once: in-app, e-mail (immediate or digest), webhooks."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
import time_machine
from django.core import mail

from inquiries import services
from inquiries.models import (
    ClockKind,
    EscalationAction,
    EscalationRule,
    EventKind,
    FailedTask,
    Inquiry,
    InquiryEvent,
    Membership,
    Notification,
    NotificationPreference,
    Priority,
    Role,
    WebhookDelivery,
    WebhookEndpoint,
)
from inquiries.services import RecordResult
from inquiries.services.notifications import notify_for_events, send_notification_digests, sign
from inquiries.services.sweep import sweep
from tests.factories import TeamFactory, incoming, policy_with_targets

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


@pytest.fixture
def policy(db):
    return policy_with_targets(first_reply=3600, next_reply=None, resolution=None)


def open_inquiry(channel, minutes: float = 0, **fields) -> Inquiry:
    result = services.record_message(
        channel=channel, incoming=incoming(received_at=at(minutes), **fields), now=at(minutes)
    )
    assert isinstance(result, RecordResult) and result.message.inquiry is not None
    return result.message.inquiry


def sweep_at(minutes: float):
    """A sweep at that minute, with its after-commit tasks run (eagerly) as in production."""
    from django.test import TestCase

    with time_machine.travel(at(minutes), tick=False), TestCase.captureOnCommitCallbacks(execute=True):
        return sweep()


def test_an_unassigned_inquiry_at_risk_notifies_the_team_agents_once(
    channel, policy, agent, teammate, manager
):
    inquiry = open_inquiry(channel)
    sweep_at(50)
    sweep_at(51)
    notes = Notification.objects.filter(inquiry=inquiry, kind="clock_at_risk")
    assert sorted(notes.values_list("user__username", flat=True)) == ["alice", "bob"]


def test_a_breach_notifies_the_assignee_and_the_managers(channel, policy, agent, teammate, manager):
    inquiry = open_inquiry(channel)
    services.assign(inquiry=inquiry, assignee=agent, actor=agent, now=at(1))
    sweep_at(61)
    breached = Notification.objects.filter(inquiry=inquiry, kind="clock_breached")
    assert sorted(breached.values_list("user__username", flat=True)) == ["alice", "maria"]


def test_running_the_notification_task_twice_changes_nothing(channel, policy, agent):
    open_inquiry(channel)
    sweep_at(61)
    event_ids = list(InquiryEvent.objects.filter(kind=EventKind.CLOCK_BREACHED).values_list("pk", flat=True))
    before = Notification.objects.count()
    with time_machine.travel(at(62), tick=False):
        assert notify_for_events(event_ids=event_ids) == 0
    assert Notification.objects.count() == before


def test_back_filled_breaches_from_long_ago_alert_nobody(channel, policy, agent):
    old = datetime(2025, 1, 6, 10, 0, tzinfo=UTC)
    services.record_message(channel=channel, incoming=incoming(received_at=old), now=at(0))
    sweep_at(0)
    assert InquiryEvent.objects.filter(kind=EventKind.CLOCK_BREACHED).count() == 1
    assert Notification.objects.count() == 0


def test_two_hundred_overdue_inquiries_make_one_digest_email(channel, policy, agent):
    NotificationPreference.objects.create(user=agent, email_mode="digest", digest_minutes=30)
    for index in range(200):
        open_inquiry(channel, sender_address=f"buyer{index}@example.com")
    sweep_at(61)
    assert Notification.objects.filter(user=agent, kind="clock_breached").count() == 200
    assert Notification.objects.filter(user=agent, kind="clock_at_risk").count() == 200
    with time_machine.travel(at(62), tick=False):
        assert send_notification_digests() == 1
        assert send_notification_digests() == 0
    assert len(mail.outbox) == 1
    assert "400 notifications" in mail.outbox[0].subject
    assert mail.outbox[0].extra_headers["Auto-Submitted"] == "auto-generated"


def test_immediate_email_escapes_customer_text_and_keeps_headers_on_one_line(channel, policy, agent):
    NotificationPreference.objects.create(user=agent, email_mode="immediate")
    hostile = "Broken\r\nBcc: victim@example.com <script>alert(1)</script>"
    inquiry = open_inquiry(channel, subject=hostile)
    services.assign(inquiry=inquiry, assignee=agent, actor=agent, now=at(1))
    sweep_at(61)
    assert len(mail.outbox) == 2  # at risk, then breached
    for message in mail.outbox:
        assert "\n" not in message.subject and "\r" not in message.subject
        assert message.message()["Bcc"] is None
        html = message.alternatives[0][0]
        assert "<script>" not in html
        assert "&lt;script&gt;" in html


def test_users_who_turned_email_off_get_only_the_bell(channel, policy, agent):
    NotificationPreference.objects.create(user=agent, email_mode="off")
    inquiry = open_inquiry(channel)
    services.assign(inquiry=inquiry, assignee=agent, actor=agent, now=at(1))
    sweep_at(61)
    with time_machine.travel(at(120), tick=False):
        send_notification_digests()
    assert mail.outbox == []
    assert Notification.objects.filter(user=agent, read_at__isnull=True).count() == 2  # at risk, breached


def test_an_escalation_rule_acts_once_per_transition(channel, policy, agent, manager, team):
    night = TeamFactory(name="Night shift")
    rule = EscalationRule.objects.create(
        name="Breached first replies go up",
        trigger="clock_breached",
        clock_kinds=[ClockKind.FIRST_REPLY],
        notify_managers=True,
        raise_priority=True,
        reassign_to_team=night,
    )
    inquiry = open_inquiry(channel)
    services.assign(inquiry=inquiry, assignee=agent, actor=agent, now=at(1))
    sweep_at(61)
    event_ids = list(InquiryEvent.objects.filter(kind=EventKind.CLOCK_BREACHED).values_list("pk", flat=True))
    with time_machine.travel(at(62), tick=False):
        notify_for_events(event_ids=event_ids)  # a second run: the rule must not act again
    inquiry.refresh_from_db()
    assert (inquiry.priority, inquiry.team_id, inquiry.assignee_id) == (Priority.HIGH, night.pk, None)
    assert EscalationAction.objects.filter(rule=rule).count() == 1
    assert Notification.objects.filter(user=manager, kind="clock_breached").count() == 1


class Receiver(BaseHTTPRequestHandler):
    requests: list[tuple[dict, bytes]] = []
    status = 200

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        Receiver.requests.append((dict(self.headers), body))
        self.send_response(Receiver.status)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def receiver():
    Receiver.requests = []
    Receiver.status = 200
    server = HTTPServer(("127.0.0.1", 0), Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/hook"
    server.shutdown()


def test_a_breach_posts_one_signed_webhook(channel, policy, agent, receiver):
    endpoint = WebhookEndpoint.objects.create(
        name="ops", url=receiver, secret="s3cret", kinds=["clock_breached"]
    )
    inquiry = open_inquiry(channel)
    sweep_at(61)
    assert len(Receiver.requests) == 1
    headers, body = Receiver.requests[0]
    timestamp = int(headers["X-Cstracker-Signature"].split(",")[0][2:])
    assert headers["X-Cstracker-Signature"] == sign("s3cret", timestamp, body)
    expected = hmac.new(b"s3cret", f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    assert headers["X-Cstracker-Signature"].endswith(expected)
    payload = json.loads(body)
    assert (payload["type"], payload["inquiry"]["id"]) == ("clock_breached", inquiry.pk)
    delivery = WebhookDelivery.objects.get(endpoint=endpoint)
    assert (delivery.state, delivery.attempts, delivery.last_status_code) == ("delivered", 1, 200)


def test_a_failing_receiver_is_retried_then_given_up_and_logged(channel, policy, agent, receiver, settings):
    WebhookEndpoint.objects.create(name="ops", url=receiver, secret="s", kinds=["clock_breached"])
    Receiver.status = 500
    open_inquiry(channel)
    sweep_at(61)
    delivery = WebhookDelivery.objects.get()
    assert delivery.state == "failed"
    assert delivery.attempts == 9  # the first try and eight retries
    assert delivery.last_error == "HTTP 500"
    assert FailedTask.objects.filter(task_name="inquiries.tasks.deliver_webhook").exists()


def test_the_bell_counts_unread_and_marking_read_clears_it(client, channel, policy, agent):
    open_inquiry(channel)
    sweep_at(61)
    client.force_login(agent)
    assert 'aria-label="Notifications: 2 unread"' in client.get("/notifications/bell/").content.decode()
    client.post("/notifications/read/")
    assert 'aria-label="Notifications: 0 unread"' in client.get("/notifications/bell/").content.decode()


def test_notifications_are_private_to_their_user(client, channel, policy, agent, outsider):
    open_inquiry(channel)
    sweep_at(61)
    client.force_login(outsider)
    assert "0 unread" in client.get("/notifications/bell/").content.decode()
    assert Membership.objects.filter(user=outsider, role=Role.AGENT).exists()
    page = client.get("/notifications/").content.decode()
    assert "breached" not in page


def test_notification_list_runs_a_fixed_number_of_queries(
    client, channel, policy, agent, django_assert_num_queries
):
    client.force_login(agent)
    for index in range(3):
        open_inquiry(channel, sender_address=f"a{index}@example.com")
    sweep_at(61)
    # session, user, notification preferences, page settings (time zone), the page of notifications
    with django_assert_num_queries(5):
        client.get("/notifications/")
    for index in range(20):
        open_inquiry(channel, 70, sender_address=f"b{index}@example.com")
    sweep_at(140)
    # session, user, notification preferences, page settings (time zone), the page of notifications
    with django_assert_num_queries(5):
        client.get("/notifications/")


def test_saving_the_notification_settings_keeps_them_and_says_so(client, agent):
    client.force_login(agent)
    response = client.post(
        "/notifications/preferences/",
        {"in_app": "on", "email_mode": NotificationPreference.EmailMode.OFF, "digest_minutes": 30},
        follow=True,
    )
    assert "Notification settings saved." in response.content.decode()
    preference = NotificationPreference.objects.get(user=agent)
    assert (preference.email_mode, preference.digest_minutes) == (NotificationPreference.EmailMode.OFF, 30)
