"""The write API: every action through the inquiry page's services, the same scoping (another
team's inquiry is a 404), bad input (400 with field errors) and `Idempotency-Key`."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from inquiries import models as m
from inquiries import services
from inquiries.api.idempotency import fingerprint_of
from inquiries.models import ClockKind, ClockState, EventKind
from inquiries.services import RecordResult
from tests.concurrency import at_once
from tests.conftest import token_client
from tests.factories import ChannelFactory, UserFactory, incoming, policy_with_targets

pytestmark = pytest.mark.django_db


@pytest.fixture
def inquiry(channel: m.Channel) -> m.Inquiry:
    policy_with_targets(first_reply=3600)
    result = services.record_message(channel=channel, incoming=incoming(received_at=timezone.now()))
    assert isinstance(result, RecordResult) and result.message.inquiry is not None
    return result.message.inquiry


def url(inquiry: m.Inquiry, action: str) -> str:
    return f"/api/v1/inquiries/{inquiry.pk}/{action}/"


def post(client, inquiry: m.Inquiry, action: str, data: object = None, **headers: str):
    return client.post(url(inquiry, action), data or {}, format="json", headers=headers)


def kinds(inquiry: m.Inquiry) -> list[str]:
    return list(inquiry.events.order_by("id").values_list("kind", flat=True))


# --- every action -----------------------------------------------------------------------------


def test_a_reply_on_an_api_channel_goes_to_the_outbox_and_the_clock_runs_until_delivered(api, inquiry):
    response = post(api, inquiry, "reply", {"body_text": "A new lid is on its way.", "status": "pending"})

    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["direction"], body["delivery_state"], body["route"]) == ("outbound", "queued", "outbox")
    assert [item["id"] for item in api.get("/api/v1/outbox/").json()["results"]] == [body["id"]]
    inquiry.refresh_from_db()
    assert inquiry.status == m.Status.PENDING
    first = inquiry.clocks.get(kind=ClockKind.FIRST_REPLY)
    assert first.state == ClockState.RUNNING


def test_a_reply_on_an_e_mail_channel_is_sent_by_e_mail(api, account, agent):
    email = ChannelFactory(account=account, kind=m.ChannelKind.EMAIL, slug="mail-a")
    inquiry = services.record_message(
        channel=email, incoming=incoming(received_at=timezone.now())
    ).message.inquiry

    body = post(api, inquiry, "reply", {"body_text": "Hello"}).json()

    assert body["route"] == "email"
    assert api.get("/api/v1/outbox/").json()["results"] == []


def test_a_note_is_internal_and_stops_no_clock(api, inquiry):
    response = post(api, inquiry, "note", {"body_text": "Warehouse asked."})

    assert response.status_code == 201
    assert (response.json()["direction"], response.json()["route"]) == ("note", "note")
    assert inquiry.clocks.get(kind=ClockKind.FIRST_REPLY).state == ClockState.RUNNING
    assert kinds(inquiry)[-1] == EventKind.NOTE_ADDED


def test_assign_and_unassign(api, inquiry, teammate):
    assigned = post(api, inquiry, "assign", {"assignee": teammate.pk})
    unassigned = post(api, inquiry, "assign", {"assignee": None})

    assert (assigned.status_code, assigned.json()["assignee"]) == (200, teammate.pk)
    assert (unassigned.status_code, unassigned.json()["assignee"]) == (200, None)
    assert kinds(inquiry).count(EventKind.ASSIGNED) == 2


def test_claim_takes_an_unassigned_inquiry_and_is_409_when_someone_has_it(api, agent, teammate, inquiry):
    assert post(token_client(teammate), inquiry, "claim").json()["assignee"] == teammate.pk

    response = post(api, inquiry, "claim")

    assert response.status_code == 409
    assert response.json() == {"assignee": ["Already claimed by bob."]}


def test_status_priority_and_topic(api, inquiry):
    status = post(api, inquiry, "status", {"status": "solved"})
    priority = post(api, inquiry, "priority", {"priority": "urgent"})
    topic = post(api, inquiry, "topic", {"topic": "damaged"})
    cleared = post(api, inquiry, "topic", {"topic": None})

    assert status.json()["status"] == "solved"
    assert priority.json()["priority"] == "urgent"
    assert topic.json()["topic"] == "damaged"
    assert cleared.json()["topic"] is None
    inquiry.refresh_from_db()
    assert inquiry.topic_source == "agent"
    events = kinds(inquiry)
    assert {EventKind.STATUS_CHANGED, EventKind.PRIORITY_CHANGED, EventKind.TOPIC_CHANGED} <= set(events)


def test_no_response_needed_cancels_the_reply_clocks(api, inquiry):
    response = post(api, inquiry, "no-response-needed")

    assert response.status_code == 200
    assert inquiry.clocks.get(kind=ClockKind.FIRST_REPLY).state == ClockState.CANCELLED
    assert inquiry.messages.get().no_response_needed


def test_close_closes_through_the_status_service(api, inquiry):
    response = post(api, inquiry, "close")

    assert (response.status_code, response.json()["status"]) == (200, "closed")
    event = inquiry.events.get(kind=EventKind.STATUS_CHANGED)
    assert event.data == {"from": "new", "to": "closed"}


# --- scoping ----------------------------------------------------------------------------------

ACTIONS = {
    "reply": {"body_text": "Hi"},
    "note": {"body_text": "Hi"},
    "assign": {"assignee": None},
    "claim": {},
    "status": {"status": "solved"},
    "priority": {"priority": "high"},
    "topic": {"topic": "damaged"},
    "no-response-needed": {},
    "close": {},
}


@pytest.mark.parametrize("action", list(ACTIONS))
def test_another_teams_inquiry_is_404_and_unchanged(outsider, inquiry, action):
    before = kinds(inquiry)

    response = post(token_client(outsider), inquiry, action, ACTIONS[action])

    assert response.status_code == 404
    assert kinds(inquiry) == before


def test_without_a_token_nothing_is_written(inquiry):
    from rest_framework.test import APIClient

    assert post(APIClient(), inquiry, "close").status_code == 401


def test_nobody_is_assigned_an_inquiry_they_could_not_open(api, inquiry, outsider):
    response = post(api, inquiry, "assign", {"assignee": outsider.pk})

    assert response.status_code == 400
    assert list(response.json()) == ["assignee"]
    assert m.Inquiry.objects.get(pk=inquiry.pk).assignee_id is None


# --- bad input ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("action", "data", "field"),
    [
        ("reply", {}, "body_text"),
        ("reply", {"body_text": "   "}, "body_text"),
        ("reply", {"body_text": "Hi", "status": "done"}, "status"),
        ("note", {"body_text": ""}, "body_text"),
        ("assign", {}, "assignee"),
        ("assign", {"assignee": "alice"}, "assignee"),
        ("status", {"status": "archived"}, "status"),
        ("priority", {"priority": "whenever"}, "priority"),
        ("topic", {"topic": "no-such-topic"}, "topic"),
        ("topic", {}, "topic"),
    ],
)
def test_bad_input_is_400_naming_the_field_and_changes_nothing(api, inquiry, action, data, field):
    before = kinds(inquiry)

    response = post(api, inquiry, action, data)

    assert response.status_code == 400, response.json()
    assert list(response.json()) == [field]
    assert kinds(inquiry) == before


def test_hostile_html_in_a_reply_is_stored_sanitised(api, inquiry):
    response = post(
        api,
        inquiry,
        "reply",
        {"body_text": "<script>alert(1)</script>", "body_html": "<p onclick=x()>Hi<script>1</script></p>"},
    )

    reply = m.Message.objects.get(pk=response.json()["id"])
    assert reply.body_text == "<script>alert(1)</script>"
    assert "script" not in reply.body_html and "onclick" not in reply.body_html


# --- Idempotency-Key ------------------------------------------------------------------------------


def test_the_same_key_and_body_replays_the_stored_answer_and_writes_once(api, inquiry):
    first = post(api, inquiry, "reply", {"body_text": "Hello"}, **{"Idempotency-Key": "k-1"})
    second = post(api, inquiry, "reply", {"body_text": "Hello"}, **{"Idempotency-Key": "k-1"})

    assert (first.status_code, second.status_code) == (201, 201)
    assert second.json() == first.json()
    assert second.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert inquiry.messages.filter(direction=m.Direction.OUTBOUND).count() == 1


def test_the_same_key_with_another_body_or_action_is_409_with_a_clear_message(api, inquiry):
    post(api, inquiry, "reply", {"body_text": "Hello"}, **{"Idempotency-Key": "k-1"})

    other_body = post(api, inquiry, "reply", {"body_text": "Hello again"}, **{"Idempotency-Key": "k-1"})
    other_action = post(api, inquiry, "note", {"body_text": "Hello"}, **{"Idempotency-Key": "k-1"})

    for response in (other_body, other_action):
        assert response.status_code == 409
        assert "already used for a different request" in response.json()["Idempotency-Key"][0]
    assert inquiry.messages.exclude(direction=m.Direction.INBOUND).count() == 1


def test_keys_are_per_user(api, teammate, inquiry):
    post(api, inquiry, "note", {"body_text": "Mine"}, **{"Idempotency-Key": "shared"})

    response = post(
        token_client(teammate), inquiry, "note", {"body_text": "Mine"}, **{"Idempotency-Key": "shared"}
    )

    assert response.status_code == 201
    assert "Idempotent-Replayed" not in response.headers
    assert inquiry.messages.filter(direction=m.Direction.NOTE).count() == 2


def test_a_refused_request_is_replayed_too_and_a_key_expires(api, inquiry, settings):
    settings.CSTRACKER_IDEMPOTENCY_HOURS = 24
    bad = post(api, inquiry, "status", {"status": "archived"}, **{"Idempotency-Key": "k-2"})
    again = post(api, inquiry, "status", {"status": "archived"}, **{"Idempotency-Key": "k-2"})
    assert (bad.status_code, again.status_code, again.json()) == (400, 400, bad.json())
    first = post(api, inquiry, "note", {"body_text": "Once"}, **{"Idempotency-Key": "k-3"})

    with time_machine.travel(timezone.now() + timedelta(hours=25)):
        later = post(api, inquiry, "note", {"body_text": "Once"}, **{"Idempotency-Key": "k-3"})

    assert later.status_code == 201
    assert later.json()["id"] != first.json()["id"]


def test_a_malformed_key_is_400(api, inquiry):
    response = post(api, inquiry, "close", **{"Idempotency-Key": "x" * 256})

    assert response.status_code == 400
    assert list(response.json()) == ["Idempotency-Key"]
    assert m.Inquiry.objects.get(pk=inquiry.pk).status == m.Status.NEW


def test_a_report_with_a_key_is_replayed(api, inquiry):
    reply_id = post(api, inquiry, "reply", {"body_text": "Hello"}).json()["id"]
    report = f"/api/v1/replies/{reply_id}/delivered/"

    first = api.post(report, {}, format="json", headers={"Idempotency-Key": "r-1"})
    second = api.post(report, {}, format="json", headers={"Idempotency-Key": "r-1"})

    assert (first.status_code, second.status_code, second.json()) == (200, 200, first.json())
    assert inquiry.events.filter(kind=EventKind.REPLY_ACCEPTED).count() == 1


def test_an_unknown_user_id_is_no_different_from_an_outsider(api, inquiry):
    stranger = UserFactory(username="dave")

    response = post(api, inquiry, "assign", {"assignee": stranger.pk})

    assert response.status_code == 400
    assert "dave" not in response.content.decode()


# --- the schema ---------------------------------------------------------------------------------


def test_the_openapi_schema_documents_the_write_api_with_examples_and_the_idempotency_key(api):
    response = api.get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    paths = response.json()["paths"]

    for action in ACTIONS:
        operation = paths[f"/api/v1/inquiries/{{id}}/{action}/"]["post"]
        assert any(p["name"] == "Idempotency-Key" and p["in"] == "header" for p in operation["parameters"])
    reply = paths["/api/v1/inquiries/{id}/reply/"]["post"]
    assert "examples" in reply["requestBody"]["content"]["application/json"]
    assert "get" in paths["/api/v1/outbox/"]
    assert "post" in paths["/api/v1/replies/{id}/delivered/"]
    assert "post" in paths["/api/v1/replies/{id}/failed/"]


def test_the_hourly_purge_forgets_expired_keys_only(api, inquiry):
    from inquiries.tasks import purge_idempotency_keys

    post(api, inquiry, "note", {"body_text": "Old"}, **{"Idempotency-Key": "old"})
    with time_machine.travel(timezone.now() + timedelta(hours=23)):
        post(api, inquiry, "note", {"body_text": "New"}, **{"Idempotency-Key": "new"})

    with time_machine.travel(timezone.now() + timedelta(hours=25)):
        assert purge_idempotency_keys() == 1

    assert list(m.IdempotencyKey.objects.values_list("key", flat=True)) == ["new"]


def test_a_key_whose_first_request_is_still_running_is_409_and_writes_nothing(api, agent, inquiry):
    m.IdempotencyKey.objects.create(user=agent, key="busy", fingerprint="of the first request")
    before = kinds(inquiry)

    response = post(api, inquiry, "close", **{"Idempotency-Key": "busy"})

    assert response.status_code == 409
    assert response.json()["Idempotency-Key"][0].startswith("This Idempotency-Key was already used")
    m.IdempotencyKey.objects.filter(key="busy").update(
        fingerprint=fingerprint_of("POST", url(inquiry, "close"), {})
    )
    running = post(api, inquiry, "close", **{"Idempotency-Key": "busy"})
    assert running.status_code == 409
    assert "still running" in running.json()["Idempotency-Key"][0]
    assert kinds(inquiry) == before


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_requests_with_one_key_write_one_reply(agent, channel):
    policy_with_targets(first_reply=3600)
    inquiry = services.record_message(
        channel=channel, incoming=incoming(received_at=timezone.now())
    ).message.inquiry
    clients = [token_client(agent), token_client(agent)]

    responses = at_once(
        [
            lambda client=client: post(
                client, inquiry, "reply", {"body_text": "Once"}, **{"Idempotency-Key": "race"}
            )
            for client in clients
        ]
    )

    codes = sorted(r.status_code for r in responses)
    assert codes in ([201, 201], [201, 409]), [r.json() for r in responses]
    assert m.Message.objects.filter(inquiry=inquiry, direction=m.Direction.OUTBOUND).count() == 1
    if codes == [201, 201]:
        assert responses[0].json() == responses[1].json()
