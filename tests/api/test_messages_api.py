"""POST /api/v1/messages/ and /messages/batch/: the contract, dedupe, and bad input (a 400, never a 500)."""

from __future__ import annotations

import json
import threading
from datetime import timedelta

import pytest
from django.db import connections
from django.utils import timezone
from rest_framework.test import APIClient

from inquiries import models as m
from tests.conftest import token_client

pytestmark = pytest.mark.django_db

URL = "/api/v1/messages/"
BATCH_URL = "/api/v1/messages/batch/"


def payload(**overrides: object) -> dict:
    values: dict = {
        "channel": "shop-a",
        "external_id": "m-1",
        "direction": "inbound",
        "sender": {"address": "buyer@example.com", "name": "Buyer"},
        "subject": "Where is my order?",
        "body_text": "Hello, my parcel has not arrived.",
    }
    values.update(overrides)
    return {k: v for k, v in values.items() if v is not None}


def post(client: APIClient, data: object, url: str = URL):
    return client.post(url, data, format="json")


def counts() -> tuple[int, int, int]:
    return m.Message.objects.count(), m.Inquiry.objects.count(), m.InquiryEvent.objects.count()


# --- the contract ----------------------------------------------------------------------------


def test_a_new_message_answers_201_with_its_ids(api, channel):
    response = post(api, payload())

    assert response.status_code == 201, response.json()
    body = response.json()
    message = m.Message.objects.get()
    assert body == {"message_id": message.pk, "inquiry_id": message.inquiry_id, "created": True}
    assert message.sender_address == "buyer@example.com"


def test_the_same_message_again_answers_200_with_the_same_ids_and_changes_nothing(api, channel):
    first = post(api, payload()).json()
    before = counts()

    again = post(api, payload(subject="Changed"))

    assert again.status_code == 200
    assert again.json() == {**first, "created": False}
    assert counts() == before


def test_an_automatic_message_matching_nothing_answers_without_an_inquiry(api, channel):
    response = post(api, payload(automatic=True, sender={"address": "mailer-daemon@mx.example"}))

    assert response.status_code == 201, response.json()
    assert response.json()["inquiry_id"] is None
    assert m.Inquiry.objects.count() == 0


def test_a_reply_naming_no_message_is_a_field_error(api, channel):
    response = post(api, payload(direction="outbound"))

    assert response.status_code == 400
    assert "in_reply_to" in response.json()


# --- a reply before its parent: held (202), attached when the parent arrives ------------------------

AGENT_REPLY = {"direction": "outbound", "sender": {"address": "agent@shop.example", "name": "Agent"}}


def test_a_reply_before_its_parent_in_two_api_calls_is_held_then_attached(api, channel):
    early = post(api, payload(external_id="r-1", in_reply_to="m-1", body_text="On its way.", **AGENT_REPLY))

    assert early.status_code == 202, early.json()
    held = m.HeldMessage.objects.get()
    assert early.json() == {
        "held_id": held.pk,
        "waits_for": ["m-1"],
        "thread_id": "",
        "expires_at": held.expires_at.isoformat(),
        "created": True,
    }
    again = post(api, payload(external_id="r-1", in_reply_to="m-1", body_text="On its way.", **AGENT_REPLY))
    assert (again.status_code, again.json()["created"]) == (202, False)
    assert not m.Message.objects.exists()

    parent = post(api, payload(external_id="m-1"))

    assert parent.status_code == 201
    reply = m.Message.objects.get(external_id="r-1")
    assert reply.inquiry_id == parent.json()["inquiry_id"]
    assert m.HeldMessage.objects.get().state == m.HeldState.ATTACHED


def test_a_batch_answers_202_for_a_held_reply_and_attaches_it_to_a_parent_later_in_the_batch(api, channel):
    items = [
        payload(external_id="r-1", in_reply_to="m-1", **AGENT_REPLY),
        payload(external_id="r-2", in_reply_to="m-9", **AGENT_REPLY),
        payload(external_id="m-1"),
    ]

    response = post(api, {"messages": items}, BATCH_URL)

    results = response.json()["results"]
    assert [(r["index"], r["status"]) for r in results] == [(0, 202), (1, 202), (2, 201)]
    assert [r["waits_for"] for r in results[:2]] == [["m-1"], ["m-9"]]
    assert all(r["created"] and "message_id" not in r for r in results[:2])
    assert m.Message.objects.get(external_id="r-1").inquiry_id == results[2]["inquiry_id"]
    assert not m.Message.objects.filter(external_id="r-2").exists()


def test_the_openapi_schema_documents_held_replies(api):
    schema = api.get("/api/schema/", {"format": "json"}).json()

    single = schema["paths"]["/api/v1/messages/"]["post"]["responses"]
    assert "202" in single
    held = schema["components"]["schemas"]["Held"]["properties"]
    assert {"held_id", "waits_for", "thread_id", "expires_at", "created"} <= set(held)
    item = schema["components"]["schemas"]["BatchItemResult"]["properties"]
    assert "202 held" in item["status"]["description"] and "held_id" in item


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_posts_of_one_external_id_leave_one_row(agent, channel):
    clients = [token_client(agent), token_client(agent)]
    barrier = threading.Barrier(len(clients))
    responses: list = [None] * len(clients)

    def send(index: int) -> None:
        try:
            barrier.wait(timeout=10)
            responses[index] = post(clients[index], payload(external_id="race-1"))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=send, args=(i,)) for i in range(len(clients))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert sorted(r.status_code for r in responses) == [200, 201]
    assert len({r.json()["message_id"] for r in responses}) == 1
    assert m.Message.objects.filter(external_id="race-1").count() == 1
    assert m.Inquiry.objects.count() == 1


# --- the batch endpoint ----------------------------------------------------------------------


def test_a_batch_answers_one_result_per_item_in_order(api, channel):
    post(api, payload(external_id="dup"))

    response = post(
        api,
        {"messages": [payload(external_id="b-1"), payload(external_id="dup"), payload(external_id="b-2")]},
        BATCH_URL,
    )

    assert response.status_code == 200
    results = response.json()["results"]
    assert [(r["index"], r["status"]) for r in results] == [(0, 201), (1, 200), (2, 201)]
    assert [r["created"] for r in results] == [True, False, True]
    stored = m.Message.objects.filter(external_id__in=["b-1", "dup", "b-2"])
    assert {r["message_id"] for r in results} == set(stored.values_list("pk", flat=True))


def test_a_bad_item_in_a_batch_rejects_only_itself(api, channel):
    future = (timezone.now() + timedelta(hours=1)).isoformat()
    items = [
        payload(external_id="good-1"),
        "not an object",
        payload(external_id="bad-1", channel="nope"),
        None,
        payload(external_id="bad-2", received_at=future),
        payload(external_id="good-2"),
    ]

    response = post(api, {"messages": items}, BATCH_URL)

    assert response.status_code == 200
    results = response.json()["results"]
    assert [r["status"] for r in results] == [201, 400, 400, 400, 400, 201]
    assert "channel" in results[2]["errors"]
    assert "received_at" in results[4]["errors"]
    assert set(m.Message.objects.values_list("external_id", flat=True)) == {"good-1", "good-2"}


def test_a_batch_of_more_than_1000_items_is_refused(api, channel):
    response = post(api, {"messages": [payload(external_id=f"b-{i}") for i in range(1001)]}, BATCH_URL)

    assert response.status_code == 400
    assert response.json() == {"messages": ["At most 1000 messages per batch."]}
    assert m.Message.objects.count() == 0


@pytest.mark.parametrize("messages", ["x", [], {"a": 1}, None])
def test_a_batch_that_is_not_a_list_of_messages_is_refused(api, channel, messages):
    response = post(api, {"messages": messages}, BATCH_URL)

    assert response.status_code == 400
    assert "messages" in response.json()


# --- bad input: 400 with field errors, never 500 ---------------------------------------------


@pytest.mark.parametrize("field", ["channel", "external_id", "direction"])
def test_a_missing_required_field_is_a_field_error(api, channel, field):
    response = post(api, payload(**{field: None}))

    assert response.status_code == 400
    assert response.json()[field] == ["This field is required."]


def test_a_message_without_a_body_is_a_field_error(api, channel):
    response = post(api, payload(body_text=None))

    assert response.status_code == 400
    assert "body_text" in response.json()


def test_a_customer_message_without_a_sender_is_a_field_error(api, channel):
    response = post(api, payload(sender=None))

    assert response.status_code == 400
    assert "sender" in response.json()


def test_an_unknown_channel_is_a_field_error(api, channel):
    response = post(api, payload(channel="no-such-channel"))

    assert response.status_code == 400
    assert response.json() == {"channel": ["Unknown channel 'no-such-channel'."]}


def test_a_channel_of_another_team_is_treated_as_unknown(api, channel, other_channel):
    response = post(api, payload(channel="shop-b"))

    assert response.status_code == 400
    assert response.json() == {"channel": ["Unknown channel 'shop-b'."]}
    assert m.Message.objects.count() == 0


def test_an_inactive_channel_is_a_field_error(api, channel):
    m.Channel.objects.filter(pk=channel.pk).update(is_active=False)

    response = post(api, payload())

    assert response.status_code == 400
    assert "channel" in response.json()


@pytest.mark.parametrize(
    "received_at",
    [
        "yesterday",
        "2026-13-45T10:00:00Z",
        "2026-03-02T10:00:00",  # naive: no offset
        "2026-03-02T10:00:00+25:00",
        "0001-01-01T00:00:00+01:00",  # before 1970; in UTC it does not even exist
        "1969-12-31T23:59:59Z",
        1700000000,
        "9" * 100,
    ],
)
def test_a_bad_timestamp_is_a_field_error(api, channel, received_at):
    response = post(api, payload(received_at=received_at))

    assert response.status_code == 400
    assert "received_at" in response.json()
    assert m.Message.objects.count() == 0


def test_a_naive_timestamp_is_refused_with_a_hint(api, channel):
    response = post(api, payload(received_at="2026-03-02T10:00:00"))

    assert response.json() == {"received_at": ["The timestamp has no UTC offset; add one, e.g. +00:00 or Z."]}


def test_a_timestamp_more_than_5_minutes_ahead_is_refused(api, channel):
    response = post(api, payload(received_at=(timezone.now() + timedelta(minutes=6)).isoformat()))

    assert response.status_code == 400
    assert "received_at" in response.json()


def test_a_timestamp_less_than_5_minutes_ahead_is_accepted(api, channel):
    response = post(api, payload(received_at=(timezone.now() + timedelta(minutes=4)).isoformat()))

    assert response.status_code == 201, response.json()


def test_a_timestamp_far_in_the_past_is_accepted_for_back_fill(api, channel):
    response = post(api, payload(received_at="2001-02-03T04:05:06+02:00"))

    assert response.status_code == 201, response.json()
    assert m.Message.objects.get().received_at.isoformat() == "2001-02-03T02:05:06+00:00"


@pytest.mark.parametrize(
    "field",
    [
        "channel",
        "external_id",
        "subject",
        "body_text",
        "body_html",
        "thread_id",
        "in_reply_to",
        "order_id",
        "sku",
    ],
)
def test_a_nul_byte_in_a_string_field_is_a_field_error(api, channel, field):
    response = post(api, payload(**{field: "bad\x00value"}))

    assert response.status_code == 400
    assert field in response.json()
    assert m.Message.objects.count() == 0


@pytest.mark.parametrize("field", ["address", "name"])
def test_a_nul_byte_in_the_sender_is_a_field_error(api, channel, field):
    sender = {"address": "buyer@example.com", "name": "Buyer", field: "bad\x00value"}

    response = post(api, payload(sender=sender))

    assert response.status_code == 400
    assert field in response.json()["sender"]


@pytest.mark.parametrize("field", ["subject", "body_text", "external_id", "order_id"])
def test_a_lone_surrogate_is_a_field_error(api, channel, field):
    body = json.dumps(payload(**{field: "bad \ud800 value"}))  # json.dumps writes it as the escape \ud800

    response = api.generic("POST", URL, body, content_type="application/json")

    assert response.status_code == 400
    assert field in response.json()


@pytest.mark.parametrize(
    ("field", "limit"),
    [
        ("subject", 998),
        ("external_id", 255),
        ("thread_id", 255),
        ("in_reply_to", 255),
        ("order_id", 100),
        ("sku", 100),
        ("channel", 64),
    ],
)
def test_an_over_long_field_is_an_error_naming_the_limit(api, channel, field, limit):
    response = post(api, payload(**{field: "x" * (limit + 1)}))

    assert response.status_code == 400
    assert response.json()[field] == [f"At most {limit} characters."]


def test_an_over_long_sender_address_names_the_limit(api, channel):
    response = post(api, payload(sender={"address": "x" * 321}))

    assert response.status_code == 400
    assert response.json() == {"sender": {"address": ["At most 320 characters."]}}


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("subject", 123),
        ("external_id", 5),
        ("body_text", ["a"]),
        ("automatic", "yes"),
        ("automatic", 1),
        ("sender", "x"),
        ("direction", "sideways"),
        ("direction", ["inbound"]),
        ("channel", {"slug": "shop-a"}),
    ],
)
def test_a_wrong_type_is_a_field_error_not_a_conversion(api, channel, field, value):
    response = post(api, payload(**{field: value}))

    assert response.status_code == 400
    assert field in response.json()
    assert m.Message.objects.count() == 0


@pytest.mark.parametrize(
    "body",
    [
        b'{"channel": "shop-a", ',  # truncated JSON
        b"not json at all",
        b'{"subject": "caf\xe9"}',  # Latin-1, not UTF-8
        b"\xff\xfe\x00\x00",
        b"[" * 100_000 + b"]" * 100_000,  # deeper than Python's decoder can go
        b"NaN",
    ],
)
def test_a_body_that_is_not_json_is_a_400(api, channel, body):
    response = api.generic("POST", URL, body, content_type="application/json")

    assert response.status_code == 400
    assert "detail" in response.json()


@pytest.mark.parametrize("body", [b"null", b"[]", b'"a string"', b"42"])
def test_json_that_is_not_an_object_is_a_400(api, channel, body):
    response = api.generic("POST", URL, body, content_type="application/json")

    assert response.status_code == 400


def test_without_a_token_the_api_answers_401(channel):
    response = post(APIClient(), payload())

    assert response.status_code == 401


def test_with_a_bad_token_the_api_answers_401(channel):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")

    response = post(client, payload())

    assert response.status_code == 401


# --- hostile content is stored faithfully, HTML is sanitised ---------------------------------


def test_a_script_in_the_subject_is_stored_as_is(api, channel):
    response = post(api, payload(subject="<script>alert(1)</script>"))

    assert response.status_code == 201
    assert m.Message.objects.get().subject == "<script>alert(1)</script>"
    assert m.Inquiry.objects.get().subject == "<script>alert(1)</script>"


def test_html_is_stored_sanitised(api, channel):
    html = (
        '<p>Hi <b>there</b></p><script>alert(1)</script><img src="x" onerror="alert(2)">'
        '<a href="javascript:x">y</a>'
    )

    response = post(api, payload(body_text=None, body_html=html))

    assert response.status_code == 201, response.json()
    message = m.Message.objects.get()
    assert "<script" not in message.body_html
    assert "onerror" not in message.body_html
    assert "javascript:" not in message.body_html
    assert "<b>there</b>" in message.body_html
    assert "Hi" in message.body_text
    assert "alert" not in message.body_text
