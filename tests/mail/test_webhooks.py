"""Provider webhooks at /hooks/: signatures over the raw body, timestamp tolerance, tampering,
duplicates, and each provider's format (generic JSON, Mailgun, Postmark, SendGrid)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from datetime import UTC, datetime

import pytest
import time_machine
from django.http import HttpResponse

from inquiries import models as m
from inquiries import secrets
from inquiries.ingestion.webhooks import sign_generic
from tests.mail.helpers import customer_mail

pytestmark = pytest.mark.django_db

SECRET = "hook-secret-123"


def make_hook(channel: m.Channel, provider: str) -> m.MailWebhook:
    return m.MailWebhook.objects.create(
        channel=channel, provider=provider, secret_encrypted=secrets.encrypt(SECRET)
    )


@pytest.fixture
def generic(support_channel) -> m.MailWebhook:
    return make_hook(support_channel, "generic")


def generic_body(**overrides: object) -> bytes:
    data: dict[str, object] = {
        "message_id": "<hook-1@mail.example>",
        "from": {"address": "Buyer@Marketplace.example", "name": "Buyer"},
        "subject": "Lid broken",
        "text": "The lid arrived broken.",
        "html": "<p>The lid <script>alert(1)</script>arrived broken.</p>",
        "order_id": "123-1234567-1234567",
    }
    data.update(overrides)
    return json.dumps(data).encode()


def post_generic(
    client, hook: m.MailWebhook, body: bytes, *, timestamp: int | None = None, signature: str | None = None
) -> HttpResponse:
    timestamp = int(time.time()) if timestamp is None else timestamp
    header = signature if signature is not None else sign_generic(SECRET, body, timestamp)
    return client.post(
        hook.path, data=body, content_type="application/json", HTTP_X_CSTRACKER_SIGNATURE=header
    )


def counts() -> tuple[int, int]:
    return m.Message.objects.count(), m.Inquiry.objects.count()


# --- generic signed JSON -----------------------------------------------------------------------


def test_a_signed_generic_post_becomes_an_inquiry(client, generic):
    response = post_generic(client, generic, generic_body())

    assert response.status_code == 200, response.content
    assert response.json()["created"] is True
    message = m.Message.objects.get(pk=response.json()["message_id"])
    assert (message.external_id, message.sender_address) == (
        "hook-1@mail.example",
        "buyer@marketplace.example",
    )
    assert message.inquiry.order_id == "123-1234567-1234567"
    assert "<script" not in message.body_html
    generic.refresh_from_db()
    assert generic.last_received_at is not None


def test_a_duplicate_delivery_answers_200_and_creates_nothing(client, generic):
    body = generic_body()
    post_generic(client, generic, body)
    before = counts()

    again = post_generic(client, generic, body, timestamp=int(time.time()) + 1)

    assert again.status_code == 200 and again.json()["created"] is False
    assert counts() == before


def test_a_mail_with_the_id_of_a_held_reply_is_its_duplicate_and_answers_200(client, generic):
    """Our agent's reply, imported before the customer's mail it answers (held), comes back by
    mail (a copy in the inbox): the same id by another route, a duplicate of the held reply."""
    from inquiries.services.recording import record_message
    from tests.factories import incoming

    held = record_message(
        channel=generic.channel,
        incoming=incoming(
            external_id="hook-1@mail.example",
            direction="outbound",
            sender_address="support@shop.example",
            in_reply_to="question@mail.example",
        ),
    )

    response = post_generic(client, generic, generic_body())

    assert response.status_code == 200, response.content
    assert response.json() == {"created": False, "held_id": held.held.pk, "inquiry_id": None}
    assert counts() == (0, 0)


def test_a_tampered_body_is_refused_and_creates_nothing(client, generic):
    body = generic_body()
    header = sign_generic(SECRET, body, int(time.time()))

    response = post_generic(client, generic, body.replace(b"Lid broken", b"Lid fine!!"), signature=header)

    assert response.status_code == 403
    assert counts() == (0, 0)
    generic.refresh_from_db()
    assert "signature mismatch" in generic.last_error


@pytest.mark.parametrize("age", [301, -301, 3600])
def test_a_timestamp_outside_five_minutes_is_refused(client, generic, age):
    # The clock stands still: a slow machine must not carry 301 s back inside the window.
    with time_machine.travel(datetime.now(UTC), tick=False):
        response = post_generic(client, generic, generic_body(), timestamp=int(time.time()) - age)

    assert response.status_code == 403
    assert "300 seconds" in response.json()["error"]
    assert counts() == (0, 0)


def test_a_timestamp_within_five_minutes_is_accepted(client, generic):
    with time_machine.travel(datetime.now(UTC), tick=False):
        response = post_generic(client, generic, generic_body(), timestamp=int(time.time()) - 290)
    assert response.status_code == 200


def test_the_wrong_secret_is_refused(client, generic):
    body = generic_body()
    response = post_generic(
        client, generic, body, signature=sign_generic("another-secret", body, int(time.time()))
    )

    assert response.status_code == 403 and counts() == (0, 0)


@pytest.mark.parametrize("header", ["", "v1=abc", "t=123", "garbage", "t=abc,v1=00"])
def test_a_missing_or_malformed_signature_is_401(client, generic, header):
    response = post_generic(client, generic, generic_body(), signature=header)

    assert response.status_code == 401 and counts() == (0, 0)


def test_one_of_several_signatures_may_match_during_secret_rotation(client, generic):
    body = generic_body()
    timestamp = int(time.time())
    good = sign_generic(SECRET, body, timestamp).split(",")[1]
    header = f"t={timestamp},v1={'0' * 64},{good}"

    assert post_generic(client, generic, body, signature=header).status_code == 200


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b"not json", "body"),
        (b"[1, 2]", "body"),
        (generic_body(message_id=""), "message_id"),
        (generic_body(**{"from": "someone"}), "from"),
        (generic_body(**{"from": {"address": "not-an-address"}}), "from"),
        (generic_body(references="x"), "references"),
        (generic_body(date="yesterday"), "date"),
        (generic_body(**{"from": {"address": ""}}), "sender"),
        (generic_body(message_id="x" * 300 + "@example.com"), "external_id"),
        (json.dumps({"raw_mime": "%%%"}).encode(), "raw_mime"),
    ],
)
def test_a_malformed_payload_is_400_and_creates_nothing(client, generic, body, field):
    response = post_generic(client, generic, body)

    assert response.status_code == 400, response.content
    assert field in response.json()["error"]
    assert counts() == (0, 0)


def test_raw_mime_in_the_generic_format_is_parsed_like_imap_mail(client, generic):
    raw = customer_mail(7, subject="Lid broken", extra=("Auto-Submitted: auto-replied",))
    body = json.dumps({"raw_mime": base64.b64encode(raw).decode()}).encode()

    response = post_generic(client, generic, body)

    assert response.status_code == 200
    message = m.Message.objects.get(external_id="customer-7@mail.example")
    assert message.automatic and message.automatic_reason == "auto-submitted: auto-replied"


def test_unknown_hooks_wrong_providers_and_inactive_hooks_are_404(client, generic):
    body = generic_body()
    assert post_generic(client, generic, body).status_code == 200
    wrong_provider = client.post(
        f"/hooks/mailgun/{generic.token}/", data=body, content_type="application/json"
    )
    unknown = client.post("/hooks/generic/nope/", data=body, content_type="application/json")
    m.MailWebhook.objects.filter(pk=generic.pk).update(is_active=False)
    inactive = post_generic(client, generic, generic_body(message_id="<other@mail.example>"))

    assert (wrong_provider.status_code, unknown.status_code, inactive.status_code) == (404, 404, 404)


def test_only_post_is_allowed(client, generic):
    assert client.get(generic.path).status_code == 405


def test_a_hook_without_its_secret_answers_503_not_500(client, support_channel):
    hook = m.MailWebhook.objects.create(
        channel=support_channel, provider="generic", secret_env="CSTRACKER_NO_SUCH_VAR"
    )

    response = post_generic(client, hook, generic_body())

    assert response.status_code == 503
    assert "CSTRACKER_NO_SUCH_VAR is not set" in response.json()["error"]


def test_an_oversized_body_is_413(client, generic, settings):
    settings.CSTRACKER_WEBHOOK_MAX_BYTES = 100

    assert post_generic(client, generic, generic_body(text="x" * 200)).status_code == 413


def test_an_inactive_channel_is_a_400_not_a_500(client, generic):
    m.Channel.objects.filter(pk=generic.channel_id).update(is_active=False)

    response = post_generic(client, generic, generic_body())

    assert response.status_code == 400 and "inactive" in response.json()["error"]


def test_the_signature_is_checked_against_our_clock(client, generic):
    with time_machine.travel(datetime(2026, 3, 2, 10, 0, tzinfo=UTC), tick=False):
        stamp = int(datetime(2026, 3, 2, 9, 56, tzinfo=UTC).timestamp())
        fresh = post_generic(client, generic, generic_body(), timestamp=stamp)
    with time_machine.travel(datetime(2026, 3, 2, 10, 2, tzinfo=UTC), tick=False):
        stale = post_generic(
            client, generic, generic_body(message_id="<hook-2@mail.example>"), timestamp=stamp
        )

    assert (fresh.status_code, stale.status_code) == (200, 403)


# --- Mailgun -----------------------------------------------------------------------------------


def multipart(
    fields: list[tuple[str, bytes | str, str | None, str | None]], boundary: str = "XyZbOuNdArY"
) -> tuple[bytes, str]:
    """(body, content type) of multipart/form-data; each field is (name, value, filename, type)."""
    out = b""
    for name, value, filename, content_type in fields:
        value = value.encode() if isinstance(value, str) else value
        disposition = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename else "")
        out += f"--{boundary}\r\nContent-Disposition: {disposition}\r\n".encode()
        if content_type:
            out += f"Content-Type: {content_type}\r\n".encode()
        out += b"\r\n" + value + b"\r\n"
    out += f"--{boundary}--\r\n".encode()
    return out, f"multipart/form-data; boundary={boundary}"


def mailgun_signature(timestamp: int, token: str, key: str = SECRET) -> str:
    return hmac.new(key.encode(), f"{timestamp}{token}".encode(), hashlib.sha256).hexdigest()


def mailgun_fields(
    raw: bytes, *, token: str = "t" * 50, timestamp: int | None = None, key: str = SECRET
) -> list:
    timestamp = int(time.time()) if timestamp is None else timestamp
    return [
        ("timestamp", str(timestamp), None, None),
        ("token", token, None, None),
        ("signature", mailgun_signature(timestamp, token, key), None, None),
        ("recipient", "support@shop.example", None, None),
        ("body-mime", raw, None, None),
    ]


@pytest.fixture
def mailgun(support_channel) -> m.MailWebhook:
    return make_hook(support_channel, "mailgun")


def post_form(client, path: str, fields: list) -> HttpResponse:
    body, content_type = multipart(fields)
    return client.post(path, data=body, content_type=content_type)


def test_a_signed_mailgun_mime_post_becomes_an_inquiry(client, mailgun):
    response = post_form(
        client, mailgun.path + "mime", mailgun_fields(customer_mail(1, subject="Lid broken"))
    )

    assert response.status_code == 200, response.content
    message = m.Message.objects.get(external_id="customer-1@mail.example")
    assert message.inquiry.subject == "Lid broken"


def test_mailgun_parsed_mode_is_rebuilt_from_its_header_list(client, mailgun):
    timestamp, token = int(time.time()), "p" * 50
    headers = [
        ["From", "Buyer <buyer@marketplace.example>"],
        ["Subject", "Lid broken"],
        ["Message-Id", "<parsed-1@mail.example>"],
        ["In-Reply-To", "<earlier@mail.example>"],
        ["Content-Type", 'multipart/mixed; boundary="zzz"'],
    ]
    fields = [
        ("timestamp", str(timestamp), None, None),
        ("token", token, None, None),
        ("signature", mailgun_signature(timestamp, token), None, None),
        ("message-headers", json.dumps(headers), None, None),
        ("body-plain", "The lid arrived broken. Grüße", None, None),
        ("body-html", "<p>The lid arrived broken.</p>", None, None),
        ("attachment-1", b"\x89PNG fake", "lid.png", "image/png"),
    ]

    response = post_form(client, mailgun.path, fields)

    assert response.status_code == 200, response.content
    message = m.Message.objects.get(external_id="parsed-1@mail.example")
    assert (message.sender_address, message.in_reply_to) == (
        "buyer@marketplace.example",
        "earlier@mail.example",
    )
    assert message.body_text.strip() == "The lid arrived broken. Grüße"
    assert [(a.filename, a.content_type, bytes(a.content)) for a in message.attachments.all()] == [
        ("lid.png", "image/png", b"\x89PNG fake")
    ]


def test_a_mailgun_post_with_a_wrong_signature_or_old_timestamp_creates_nothing(client, mailgun):
    raw = customer_mail(1)
    wrong_key = post_form(client, mailgun.path, mailgun_fields(raw, key="not-the-key"))
    old = post_form(client, mailgun.path, mailgun_fields(raw, timestamp=int(time.time()) - 600))
    unsigned = post_form(client, mailgun.path, [("body-mime", raw, None, None)])

    assert (wrong_key.status_code, old.status_code, unsigned.status_code) == (403, 403, 401)
    assert counts() == (0, 0)


def test_a_mailgun_token_reused_with_another_body_is_refused(client, mailgun):
    fields = mailgun_fields(customer_mail(1))
    assert post_form(client, mailgun.path, fields).status_code == 200
    retried = post_form(client, mailgun.path, fields)  # the same delivery again: a duplicate
    tampered = [*fields[:4], ("body-mime", customer_mail(2, sender="evil@example.com"), None, None)]

    response = post_form(client, mailgun.path, tampered)

    assert retried.status_code == 200 and retried.json()["created"] is False
    assert response.status_code == 403 and "already used" in response.json()["error"]
    assert counts() == (1, 1)


def test_mailgun_urlencoded_posts_are_read_too(client, mailgun):
    from urllib.parse import urlencode

    timestamp, token = int(time.time()), "u" * 50
    body = urlencode(
        {
            "timestamp": timestamp,
            "token": token,
            "signature": mailgun_signature(timestamp, token),
            "body-mime": customer_mail(3).decode(),
        }
    )

    response = client.post(mailgun.path, data=body, content_type="application/x-www-form-urlencoded")

    assert (
        response.status_code == 200
        and m.Message.objects.filter(external_id="customer-3@mail.example").exists()
    )


# --- Postmark and SendGrid (basic auth) ---------------------------------------------------------


def basic(password: str, user: str = "cstracker") -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def postmark_payload(**overrides: object) -> bytes:
    data: dict[str, object] = {
        "FromName": "Buyer",
        "MessageStream": "inbound",
        "From": "buyer@marketplace.example",
        "FromFull": {"Email": "buyer@marketplace.example", "Name": "Buyer, The", "MailboxHash": ""},
        "To": "support@shop.example",
        "Subject": "Lid broken",
        "MessageID": "22c74902-a0c1-4511-804f-341342852c90",
        "Date": "Mon, 2 Mar 2026 10:00:00 +0000",
        "TextBody": "The lid arrived broken.",
        "HtmlBody": "<p>The lid arrived broken.</p>",
        "Headers": [
            {"Name": "Message-ID", "Value": "<pm-1@mail.example>"},
            {"Name": "In-Reply-To", "Value": "<earlier@mail.example>"},
        ],
        "Attachments": [
            {
                "Name": "lid.txt",
                "Content": base64.b64encode(b"crack").decode(),
                "ContentType": "text/plain",
                "ContentLength": 5,
            }
        ],
    }
    data.update(overrides)
    return json.dumps(data).encode()


@pytest.fixture
def postmark(support_channel) -> m.MailWebhook:
    return make_hook(support_channel, "postmark")


def test_a_postmark_post_with_basic_auth_becomes_an_inquiry(client, postmark):
    response = client.post(
        postmark.path,
        data=postmark_payload(),
        content_type="application/json",
        HTTP_AUTHORIZATION=basic(SECRET),
    )

    assert response.status_code == 200, response.content
    message = m.Message.objects.get(external_id="pm-1@mail.example")
    assert (message.sender_address, message.sender_name) == ("buyer@marketplace.example", "Buyer, The")
    assert message.in_reply_to == "earlier@mail.example"
    assert [a.filename for a in message.attachments.all()] == ["lid.txt"]


def test_postmarks_own_id_dedupes_a_mail_without_message_id(client, postmark):
    payload = postmark_payload(Headers=[])
    first = client.post(
        postmark.path, data=payload, content_type="application/json", HTTP_AUTHORIZATION=basic(SECRET)
    )
    again = client.post(
        postmark.path, data=payload, content_type="application/json", HTTP_AUTHORIZATION=basic(SECRET)
    )

    assert (first.json()["created"], again.json()["created"]) == (True, False)
    assert (
        m.Message.objects.get().external_id == "22c74902-a0c1-4511-804f-341342852c90@inbound.postmarkapp.com"
    )


def test_postmark_without_or_with_wrong_credentials_creates_nothing(client, postmark):
    none = client.post(postmark.path, data=postmark_payload(), content_type="application/json")
    wrong = client.post(
        postmark.path,
        data=postmark_payload(),
        content_type="application/json",
        HTTP_AUTHORIZATION=basic("guess"),
    )

    assert (none.status_code, wrong.status_code) == (401, 403)
    assert counts() == (0, 0)


def test_postmarks_raw_email_is_preferred_when_included(client, postmark):
    payload = postmark_payload(RawEmail=customer_mail(9, subject="Raw wins").decode())

    client.post(
        postmark.path, data=payload, content_type="application/json", HTTP_AUTHORIZATION=basic(SECRET)
    )

    assert m.Message.objects.get().external_id == "customer-9@mail.example"


def test_a_sendgrid_raw_mime_post_with_basic_auth_becomes_an_inquiry(client, support_channel):
    hook = make_hook(support_channel, "sendgrid")
    body, content_type = multipart(
        [
            ("email", customer_mail(4, subject="Lid broken"), None, None),
            ("to", "support@shop.example", None, None),
        ]
    )

    response = client.post(hook.path, data=body, content_type=content_type, HTTP_AUTHORIZATION=basic(SECRET))
    unauthenticated = client.post(hook.path, data=body, content_type=content_type)

    assert response.status_code == 200, response.content
    assert unauthenticated.status_code == 401
    assert m.Message.objects.get().external_id == "customer-4@mail.example"


def test_sendgrid_without_the_raw_message_says_which_setting_is_missing(client, support_channel):
    hook = make_hook(support_channel, "sendgrid")
    body, content_type = multipart([("text", "hello", None, None)])

    response = client.post(hook.path, data=body, content_type=content_type, HTTP_AUTHORIZATION=basic(SECRET))

    assert response.status_code == 400 and "POST the raw, full MIME message" in response.json()["error"]


@pytest.mark.parametrize(
    "content_type", ["text/plain", "multipart/form-data", "multipart/form-data; boundary=zz"]
)
def test_garbage_form_posts_are_400(client, support_channel, content_type):
    hook = make_hook(support_channel, "sendgrid")

    response = client.post(
        hook.path, data=b"\x00\xff garbage", content_type=content_type, HTTP_AUTHORIZATION=basic(SECRET)
    )

    assert response.status_code == 400


def test_webhook_mail_goes_through_the_loop_guard(client, generic, settings):
    settings.CSTRACKER_LOOP_GUARD_MESSAGES = 2
    statuses = [
        post_generic(client, generic, generic_body(message_id=f"<flood-{n}@mail.example>")).status_code
        for n in range(3)
    ]

    assert statuses == [200, 200, 200]
    held = m.Message.objects.get(external_id="flood-2@mail.example")
    assert held.automatic and held.automatic_reason == "loop guard: sender suspended"
