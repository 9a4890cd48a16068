"""Webhook input is held to the API's rules: what the API answers with a 400, the webhooks do
too (they answered 500 on a lone surrogate escape and on JSON nested 100,000 deep)."""

from __future__ import annotations

import json

import pytest

from inquiries import models as m
from tests.mail.test_webhooks import (
    SECRET,
    basic,
    generic_body,
    mailgun_fields,
    make_hook,
    post_form,
    post_generic,
    postmark_payload,
)

pytestmark = pytest.mark.django_db

DEEP = b'{"subject": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"


def post_postmark(client, hook: m.MailWebhook, body: bytes):
    return client.post(
        hook.path, data=body, content_type="application/json", HTTP_AUTHORIZATION=basic(SECRET)
    )


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"subject": "Lid \ud800 broken"}, "subject"),
        ({"text": "\udfff"}, "text"),
        ({"from": {"address": "buyer@marketplace.example", "name": "B\ud83d"}}, "from.name"),
        ({"references": ["<a@b>", "\ud800"]}, "references[1]"),
    ],
)
def test_a_lone_surrogate_in_the_generic_webhook_is_a_400_naming_the_field(
    client, support_channel, overrides, field
):
    hook = make_hook(support_channel, "generic")

    response = post_generic(client, hook, generic_body(**overrides))

    assert response.status_code == 400, response.content
    assert field in response.json()["error"] and "surrogate" in response.json()["error"]
    assert m.Message.objects.count() == 0


def test_json_nested_100000_deep_is_a_400_on_the_generic_webhook(client, support_channel):
    hook = make_hook(support_channel, "generic")

    response = post_generic(client, hook, DEEP)

    assert response.status_code == 400
    assert "nested" in response.json()["error"]


def test_json_nested_past_the_limit_is_a_400_on_postmark(client, support_channel):
    hook = make_hook(support_channel, "postmark")
    nested: object = "x"
    for _ in range(40):
        nested = [nested]
    body = json.dumps({"Subject": "x", "Headers": nested})

    assert post_postmark(client, hook, body.encode()).status_code == 400
    assert post_postmark(client, hook, DEEP).status_code == 400


def test_a_lone_surrogate_in_postmark_json_is_a_400(client, support_channel):
    hook = make_hook(support_channel, "postmark")

    response = post_postmark(client, hook, postmark_payload(Subject="\ud800"))

    assert response.status_code == 400 and "Subject" in response.json()["error"]
    assert m.Message.objects.count() == 0


def test_a_lone_surrogate_in_mailgun_headers_is_a_400(client, support_channel):
    hook = make_hook(support_channel, "mailgun")
    fields = [f for f in mailgun_fields(b"") if f[0] != "body-mime"]
    fields.append(("message-headers", json.dumps([["Subject", "\ud800"]]), None, None))

    response = post_form(client, hook.path, fields)

    assert response.status_code == 400, response.content
    assert m.Message.objects.count() == 0


def test_mailgun_and_sendgrid_keep_raw_mime_byte_exact(client, support_channel):
    """The same mail without a Message-ID by webhook and by IMAP must get the same content
    hash, or it is stored twice: the raw bytes must arrive whole, final CRLF included."""
    from inquiries.ingestion.email import content_hash
    from tests.mail.helpers import raw_mail
    from tests.mail.test_webhooks import multipart

    raws = [
        raw_mail(f"From: Buyer <b{n}@marketplace.example>", "To: support@shop.example", f"Subject: No id {n}")
        for n in (1, 2)
    ]
    mailgun = make_hook(support_channel, "mailgun")
    sendgrid = make_hook(support_channel, "sendgrid")
    body, content_type = multipart(
        [("email", raws[1], None, None), ("to", "support@shop.example", None, None)]
    )

    first = post_form(client, mailgun.path + "mime", mailgun_fields(raws[0]))
    second = client.post(
        sendgrid.path, data=body, content_type=content_type, HTTP_AUTHORIZATION=basic(SECRET)
    )

    assert (first.status_code, second.status_code) == (200, 200)
    for raw in raws:
        assert raw.endswith(b"\r\n")
        stored = m.Message.objects.get(external_id=content_hash(raw))
        assert bytes(stored.raw) == raw
