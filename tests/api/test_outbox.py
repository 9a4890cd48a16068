"""The outbox of API channels: the signed `reply.created` webhook (against a real local HTTP
server), `GET /api/v1/outbox/`, and the integration's delivered / failed reports with the
same clock rules as e-mail."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import time_machine
from django.contrib.auth.models import User

from inquiries import models as m
from inquiries import secrets, services
from inquiries.models import ClockKind, ClockState, EventKind
from inquiries.services import RecordResult, outbox
from tests.conftest import token_client
from tests.factories import ChannelFactory, incoming, policy_with_targets

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
HOUR = 3600
SECRET = "whsec-outbox-test"
OUTBOX = "/api/v1/outbox/"


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


@pytest.fixture
def policy(db: None) -> m.SlaPolicy:
    return policy_with_targets(first_reply=HOUR, next_reply=2 * HOUR, resolution=24 * HOUR)


@pytest.fixture
def inquiry(channel: m.Channel, policy: m.SlaPolicy) -> m.Inquiry:
    result = services.record_message(channel=channel, incoming=incoming(received_at=T0), now=T0)
    assert isinstance(result, RecordResult) and result.message.inquiry is not None
    return result.message.inquiry


def first_reply_clock(inquiry: m.Inquiry) -> m.Clock:
    return m.Clock.objects.filter(inquiry=inquiry, kind=ClockKind.FIRST_REPLY).latest("started_at", "id")


def write_reply(inquiry: m.Inquiry, author: User, minutes: float) -> m.Message:
    return services.reply(
        inquiry=inquiry, author=author, body_text="A new lid is on its way.", now=at(minutes)
    )


class Receiver:
    """A real HTTP server on loopback that records what it is sent and answers `status`."""

    def __init__(self, status: int = 200) -> None:
        self.status = status
        self.requests: list[tuple[dict[str, str], bytes]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                receiver.requests.append(({k.lower(): v for k, v in self.headers.items()}, body))
                self.send_response(receiver.status)
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/cstracker/replies"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as running:
        yield running


def hook(channel: m.Channel, url: str) -> m.ReplyWebhook:
    return m.ReplyWebhook.objects.create(channel=channel, url=url, secret_encrypted=secrets.encrypt(SECRET))


# --- the webhook --------------------------------------------------------------------------------


def test_a_reply_on_an_api_channel_is_offered_as_a_signed_reply_created_webhook(
    channel, inquiry, agent, receiver, django_capture_on_commit_callbacks
):
    hook(channel, receiver.url)

    with django_capture_on_commit_callbacks(execute=True):
        reply = write_reply(inquiry, agent, 20)

    assert len(receiver.requests) == 1
    headers, body = receiver.requests[0]
    timestamp = headers["x-cstracker-timestamp"]
    # An independent computation of the documented signature: HMAC-SHA256 over "<t>.<raw body>".
    expected = hmac.new(SECRET.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    assert headers["x-cstracker-signature"] == f"t={timestamp},v1={expected}"
    assert headers["x-cstracker-event"] == "reply.created"
    payload = json.loads(body)
    assert payload["event"] == "reply.created"
    assert payload["reply"]["id"] == reply.pk
    assert payload["reply"]["to"] == {"address": "buyer@example.com", "name": "Buyer"}
    assert payload["reply"]["body_text"] == "A new lid is on its way."
    offer = m.OutboxOffer.objects.get(message=reply)
    assert (offer.state, offer.attempts, offer.last_status_code) == (m.OutboxOffer.State.OFFERED, 1, 200)
    # Offered is not accepted: the reply waits for the integration's report, the clock runs.
    reply.refresh_from_db()
    assert reply.delivery_state == m.Message.DeliveryState.QUEUED
    assert first_reply_clock(inquiry).state == ClockState.RUNNING


def test_an_offer_the_receiver_took_is_never_sent_again(channel, inquiry, agent, receiver):
    hook(channel, receiver.url)
    reply = write_reply(inquiry, agent, 20)

    assert outbox.offer_reply(message_id=reply.pk) == "offered"
    assert outbox.offer_reply(message_id=reply.pk) == "already offered"
    assert len(receiver.requests) == 1


def test_a_failing_webhook_is_retried_and_never_loses_the_reply(channel, inquiry, agent):
    with Receiver(status=503) as failing:
        hook(channel, failing.url)
        reply = write_reply(inquiry, agent, 20)

        with pytest.raises(outbox.TemporaryOfferError, match="HTTP 503"):
            outbox.offer_reply(message_id=reply.pk)
        offer = m.OutboxOffer.objects.get(message=reply)
        assert (offer.state, offer.attempts) == (m.OutboxOffer.State.PENDING, 1)

        outbox.offer_reply(message_id=reply.pk, final_attempt=True)

    offer.refresh_from_db()
    assert offer.state == m.OutboxOffer.State.FAILED
    assert offer.last_error.startswith("gave up after 2 attempts: HTTP 503")
    assert "HTTP 503" in m.ReplyWebhook.objects.get().last_error
    reply.refresh_from_db()
    assert reply.delivery_state == m.Message.DeliveryState.QUEUED
    items = token_client(agent).get(OUTBOX).json()["results"]
    assert [item["id"] for item in items] == [reply.pk]


def test_a_lost_offer_is_requeued_by_the_sweep_and_an_offer_in_progress_is_not_sent_twice(
    channel, inquiry, agent, receiver
):
    from django.utils import timezone

    hook(channel, receiver.url)
    reply = write_reply(inquiry, agent, 20)
    offer = m.OutboxOffer.objects.get(message=reply)
    created = offer.next_attempt_at

    assert outbox.pending_offer_ids(now=created + timedelta(minutes=5)) == []
    assert outbox.pending_offer_ids(now=created + timedelta(minutes=11)) == [reply.pk]

    m.OutboxOffer.objects.filter(pk=offer.pk).update(
        state=m.OutboxOffer.State.SENDING, lease_until=timezone.now() + timedelta(minutes=1)
    )
    assert outbox.offer_reply(message_id=reply.pk) == "already sending"
    assert receiver.requests == []
    assert outbox.pending_offer_ids(now=timezone.now() + timedelta(seconds=30)) == []

    m.OutboxOffer.objects.filter(pk=offer.pk).update(lease_until=timezone.now() - timedelta(seconds=1))
    assert outbox.offer_reply(message_id=reply.pk) == "offered"
    assert len(receiver.requests) == 1


def test_an_offer_waiting_for_its_retry_is_not_requeued_before_the_backoff_cap(channel, inquiry, agent):
    from django.utils import timezone

    with Receiver(status=500) as failing:
        hook(channel, failing.url)
        reply = write_reply(inquiry, agent, 20)
        with pytest.raises(outbox.TemporaryOfferError):
            outbox.offer_reply(message_id=reply.pk)

    now = timezone.now()
    assert outbox.pending_offer_ids(now=now + timedelta(minutes=11)) == []
    assert outbox.pending_offer_ids(now=now + timedelta(minutes=41)) == [reply.pk]


def test_a_webhook_to_a_refused_destination_fails_at_once_and_the_reply_stays_in_the_outbox(
    channel, inquiry, agent, settings
):
    hook(channel, "http://169.254.169.254/latest/meta-data/")
    settings.CSTRACKER_OUTBOUND_ALLOW = []
    reply = write_reply(inquiry, agent, 20)

    outbox.offer_reply(message_id=reply.pk)

    offer = m.OutboxOffer.objects.get(message=reply)
    assert offer.state == m.OutboxOffer.State.FAILED
    assert offer.last_error.startswith("refused: ")
    assert m.Message.objects.get(pk=reply.pk).delivery_state == m.Message.DeliveryState.QUEUED


def test_a_channel_without_a_reply_webhook_makes_no_offer(inquiry, agent):
    reply = write_reply(inquiry, agent, 20)

    assert not m.OutboxOffer.objects.filter(message=reply).exists()


def test_a_reply_webhook_refuses_an_e_mail_channel_and_an_address_it_may_never_reach(account, settings):
    from django.core.exceptions import ValidationError

    settings.CSTRACKER_OUTBOUND_ALLOW = []
    email = ChannelFactory(account=account, kind=m.ChannelKind.EMAIL)
    with pytest.raises(ValidationError) as refused:
        m.ReplyWebhook(channel=email, url="http://10.0.0.1/hook", secret_env="HOOK_SECRET").full_clean()

    assert set(refused.value.message_dict) == {"channel", "url"}


# --- GET /api/v1/outbox/ --------------------------------------------------------------------------


def test_the_outbox_lists_queued_replies_of_the_users_inquiries_oldest_first(
    channel, inquiry, agent, outsider
):
    first = write_reply(inquiry, agent, 20)
    second = write_reply(inquiry, agent, 25)
    services.reply(inquiry=inquiry, author=agent, body_text="note", internal=True, now=at(26))

    body = token_client(agent).get(OUTBOX, {"channel": "shop-a"}).json()

    assert [item["id"] for item in body["results"]] == [first.pk, second.pk]
    assert body["results"][0]["channel"] == "shop-a"
    assert token_client(agent).get(OUTBOX, {"channel": "elsewhere"}).json()["results"] == []
    assert token_client(outsider).get(OUTBOX).json()["results"] == []


def test_the_outbox_leaves_out_accepted_replies_and_e_mail_replies(account, channel, inquiry, agent):
    reply = write_reply(inquiry, agent, 20)
    outbox.report_delivered(reply=reply, accepted_at=at(30), now=at(30))
    email = ChannelFactory(account=account, kind=m.ChannelKind.EMAIL, slug="mail-a")
    mail_inquiry = services.record_message(
        channel=email, incoming=incoming(received_at=T0), now=T0
    ).message.inquiry
    m.Message.objects.create(
        channel=email,
        inquiry=mail_inquiry,
        direction=m.Direction.OUTBOUND,
        external_id="queued-mail",
        received_at=at(21),
        delivery_state=m.Message.DeliveryState.QUEUED,
    )

    assert token_client(agent).get(OUTBOX).json()["results"] == []


def test_the_outbox_query_count_does_not_grow_with_rows_or_page_size(
    channel, inquiry, agent, django_assert_num_queries
):
    client = token_client(agent)
    write_reply(inquiry, agent, 20)
    client.get(OUTBOX)  # the token's first use
    with django_assert_num_queries(2):  # the token, the page
        assert len(client.get(OUTBOX).json()["results"]) == 1
    for minute in range(21, 41):
        write_reply(inquiry, agent, minute)
    with django_assert_num_queries(2):
        assert len(client.get(OUTBOX, {"page_size": 200}).json()["results"]) == 21
    with django_assert_num_queries(2):
        assert len(client.get(OUTBOX, {"page_size": 5}).json()["results"]) == 5


# --- the integration's reports --------------------------------------------------------------------


def delivered_url(reply: m.Message) -> str:
    return f"/api/v1/replies/{reply.pk}/delivered/"


def failed_url(reply: m.Message) -> str:
    return f"/api/v1/replies/{reply.pk}/failed/"


def test_a_reply_reported_delivered_answers_the_customer_at_its_acceptance(inquiry, agent):
    reply = write_reply(inquiry, agent, 20)
    client = token_client(agent)

    with time_machine.travel(at(55), tick=False):
        response = client.post(delivered_url(reply), {"accepted_at": at(50).isoformat()}, format="json")

    assert response.status_code == 200, response.json()
    assert response.json()["delivery_state"] == "delivered"
    clock = first_reply_clock(inquiry)
    assert (clock.state, clock.stopped_at) == (ClockState.MET, at(50))
    customer_message = inquiry.messages.get(direction=m.Direction.INBOUND)
    assert customer_message.answered_at == at(50)
    assert not any(item["id"] == reply.pk for item in client.get(OUTBOX).json()["results"])


def test_a_second_identical_delivered_report_is_200_with_the_same_state_and_moves_no_clock(inquiry, agent):
    reply = write_reply(inquiry, agent, 20)
    client = token_client(agent)
    with time_machine.travel(at(50), tick=False):
        first = client.post(delivered_url(reply), {}, format="json")
    events = m.InquiryEvent.objects.count()

    with time_machine.travel(at(70), tick=False):
        second = client.post(delivered_url(reply), {}, format="json")

    assert second.status_code == 200
    assert second.json() == first.json()
    assert m.InquiryEvent.objects.count() == events
    assert first_reply_clock(inquiry).stopped_at == at(50)


def test_a_reply_reported_late_misses_the_clock(inquiry, agent):
    reply = write_reply(inquiry, agent, 20)

    with time_machine.travel(at(90), tick=False):
        token_client(agent).post(delivered_url(reply), {}, format="json")

    assert first_reply_clock(inquiry).state == ClockState.MISSED


def test_a_reply_reported_failed_answers_nothing_and_notifies_its_author(inquiry, agent):
    reply = write_reply(inquiry, agent, 20)
    client = token_client(agent)

    with time_machine.travel(at(30), tick=False):
        response = client.post(failed_url(reply), {"reason": "buyer messaging closed"}, format="json")

    assert response.status_code == 200, response.json()
    assert response.json()["delivery_state"] == "failed"
    assert response.json()["delivery_error"] == "buyer messaging closed"
    assert first_reply_clock(inquiry).state == ClockState.RUNNING
    note = m.Notification.objects.get(user=agent)
    assert note.kind == m.NotificationKind.REPLY_NOT_DELIVERED
    assert "buyer messaging closed" in note.body
    inquiry.refresh_from_db()
    assert inquiry.reply_delivery == m.ReplyDelivery.FAILED


def test_a_failed_report_after_delivered_puts_the_clocks_back_once(inquiry, agent):
    reply = write_reply(inquiry, agent, 20)
    client = token_client(agent)
    with time_machine.travel(at(30), tick=False):
        client.post(delivered_url(reply), {}, format="json")
    assert first_reply_clock(inquiry).state == ClockState.MET

    with time_machine.travel(at(40), tick=False):
        first = client.post(failed_url(reply), {"reason": "recalled by the marketplace"}, format="json")
        events = m.InquiryEvent.objects.count()
        second = client.post(failed_url(reply), {"reason": "recalled by the marketplace"}, format="json")

    assert first.json()["delivery_state"] == "bounced"
    assert (second.status_code, second.json()) == (200, first.json())
    assert m.InquiryEvent.objects.count() == events
    assert m.InquiryEvent.objects.filter(kind=EventKind.REPLY_BOUNCED).count() == 1
    assert first_reply_clock(inquiry).state == ClockState.RUNNING
    assert m.Notification.objects.filter(user=agent).count() == 1


def test_delivered_after_failed_is_a_conflict(inquiry, agent):
    reply = write_reply(inquiry, agent, 20)
    client = token_client(agent)
    with time_machine.travel(at(30), tick=False):
        client.post(failed_url(reply), {"reason": "closed"}, format="json")
        response = client.post(delivered_url(reply), {}, format="json")

    assert response.status_code == 409
    assert "answers nobody" in response.json()["delivery_state"][0]


def test_reports_need_a_reason_and_a_sensible_acceptance_time(inquiry, agent):
    reply = write_reply(inquiry, agent, 20)
    client = token_client(agent)

    with time_machine.travel(at(30), tick=False):
        no_reason = client.post(failed_url(reply), {}, format="json")
        blank = client.post(failed_url(reply), {"reason": "   "}, format="json")
        future = client.post(delivered_url(reply), {"accepted_at": at(90).isoformat()}, format="json")
        before = client.post(delivered_url(reply), {"accepted_at": at(10).isoformat()}, format="json")
        garbage = client.post(delivered_url(reply), {"accepted_at": "yesterday"}, format="json")

    assert (no_reason.status_code, list(no_reason.json())) == (400, ["reason"])
    assert (blank.status_code, list(blank.json())) == (400, ["reason"])
    assert (future.status_code, future.json()) == (
        400,
        {"accepted_at": ["The acceptance time is in the future."]},
    )
    assert before.status_code == 400 and "before the reply was written" in before.json()["accepted_at"][0]
    assert (garbage.status_code, list(garbage.json())) == (400, ["accepted_at"])
    assert m.Message.objects.get(pk=reply.pk).delivery_state == m.Message.DeliveryState.QUEUED


def test_another_teams_reply_is_404_and_an_e_mail_reply_is_not_the_integrations(
    account, inquiry, agent, outsider
):
    reply = write_reply(inquiry, agent, 20)
    assert token_client(outsider).post(delivered_url(reply), {}, format="json").status_code == 404
    assert token_client(outsider).post(failed_url(reply), {"reason": "x"}, format="json").status_code == 404

    email = ChannelFactory(account=account, kind=m.ChannelKind.EMAIL, slug="mail-a")
    mail_inquiry = services.record_message(
        channel=email, incoming=incoming(received_at=T0), now=T0
    ).message.inquiry
    mail_reply = services.reply(inquiry=mail_inquiry, author=agent, body_text="Hi", now=at(20))
    response = token_client(agent).post(delivered_url(mail_reply), {}, format="json")
    assert response.status_code == 409
    assert "sent by e-mail" in response.json()["reply"][0]


# --- configuring the webhook through the API ------------------------------------------------------


@pytest.fixture
def hook_admin(manager):
    """maria, staff manager of team A, with the reply-webhook permissions."""
    from django.contrib.auth.models import Permission

    manager.is_staff = True
    manager.save(update_fields=["is_staff"])
    manager.user_permissions.add(*Permission.objects.filter(codename__endswith="_replywebhook"))
    return manager


def test_a_reply_webhook_is_configured_through_the_api_with_a_write_only_encrypted_secret(
    hook_admin, channel, receiver
):
    client = token_client(hook_admin)

    response = client.post(
        "/api/v1/reply-webhooks/", {"channel": "shop-a", "url": receiver.url, "secret": SECRET}, format="json"
    )

    assert response.status_code == 201, response.json()
    assert response.json()["has_secret"] is True
    assert "secret" not in response.json()
    hook = m.ReplyWebhook.objects.get()
    assert SECRET not in hook.secret_encrypted
    assert secrets.decrypt(hook.secret_encrypted) == SECRET
    assert SECRET not in client.get(f"/api/v1/reply-webhooks/{hook.pk}/").content.decode()


def test_the_reply_webhook_api_is_scoped_and_refuses_a_hook_without_a_secret(
    hook_admin, agent, channel, other_channel, receiver
):
    client = token_client(hook_admin)
    other = m.ReplyWebhook.objects.create(channel=other_channel, url=receiver.url, secret_env="B_SECRET")

    foreign = client.post(
        "/api/v1/reply-webhooks/", {"channel": "shop-b", "url": receiver.url, "secret": "x"}, format="json"
    )
    no_secret = client.post(
        "/api/v1/reply-webhooks/", {"channel": "shop-a", "url": receiver.url}, format="json"
    )

    assert (foreign.status_code, list(foreign.json())) == (400, ["channel"])
    assert (no_secret.status_code, list(no_secret.json())) == (400, ["secret"])
    assert client.get(f"/api/v1/reply-webhooks/{other.pk}/").status_code == 404
    assert client.get("/api/v1/reply-webhooks/").json()["results"] == []
    assert token_client(agent).get("/api/v1/reply-webhooks/").status_code == 403


# --- the agent sends a failed outbox reply again ------------------------------------------------------


def test_send_again_puts_a_failed_outbox_reply_back_and_offers_it_anew(
    client, channel, inquiry, agent, receiver, django_capture_on_commit_callbacks
):
    from django.urls import reverse

    hook(channel, receiver.url)
    with django_capture_on_commit_callbacks(execute=True):
        reply = write_reply(inquiry, agent, 20)
    outbox.report_failed(reply=reply, reason="closed", now=at(30))
    client.force_login(agent)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("inquiries:retry_reply", args=[inquiry.pk, reply.pk]))

    assert response.status_code == 302
    reply.refresh_from_db()
    assert reply.delivery_state == m.Message.DeliveryState.QUEUED
    assert [item["id"] for item in token_client(agent).get(OUTBOX).json()["results"]] == [reply.pk]
    deliveries = [headers["x-cstracker-delivery"] for headers, _ in receiver.requests]
    assert len(deliveries) == 2 and deliveries[0] != deliveries[1]
    assert m.InquiryEvent.objects.filter(inquiry=inquiry, kind=EventKind.REPLY_RETRIED).count() == 1


def test_the_reply_webhook_list_query_count_does_not_grow_with_rows(
    hook_admin, account, channel, receiver, django_assert_num_queries
):
    client = token_client(hook_admin)
    hook(channel, receiver.url)
    client.get("/api/v1/reply-webhooks/")
    with django_assert_num_queries(4):  # the token, user and group permissions, the scoped page
        assert len(client.get("/api/v1/reply-webhooks/").json()["results"]) == 1
    for n in range(5):
        hook(ChannelFactory(account=account, slug=f"api-{n}"), receiver.url)
    with django_assert_num_queries(4):
        assert len(client.get("/api/v1/reply-webhooks/").json()["results"]) == 6


def test_no_offer_is_made_for_a_reply_already_reported_or_after_the_webhook_was_switched_off(
    channel, inquiry, agent, receiver
):
    webhook = hook(channel, receiver.url)
    reported = write_reply(inquiry, agent, 20)
    outbox.report_delivered(reply=reported, accepted_at=at(21), now=at(21))
    waiting = write_reply(inquiry, agent, 22)
    m.ReplyWebhook.objects.filter(pk=webhook.pk).update(is_active=False)

    assert outbox.offer_reply(message_id=reported.pk) == "not offered: the reply is delivered"
    assert outbox.offer_reply(message_id=waiting.pk) == "not offered: the webhook is inactive"
    assert receiver.requests == []
    assert m.ReplyWebhook.objects.get().last_error == ""
    assert [item["id"] for item in token_client(agent).get(OUTBOX).json()["results"]] == [waiting.pk]
