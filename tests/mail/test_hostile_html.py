"""One e-mail must not stop a mailbox: deeply nested HTML is bounded before any parser sees it,
on every path (IMAP, the API, each provider webhook), and a message that still fails is set
aside as failed while the mailbox moves on.

Before the fix, 20,000 nested <div>s took 2 s to sanitise and 120,000 over 300 s: these tests
feed 1 MB of nesting and check the stored HTML's depth (bench/hostile_html.py prints times).
"""

from __future__ import annotations

from html.parser import HTMLParser

import pytest

from inquiries import models as m
from inquiries.ingestion.html import MAX_DEPTH, bound_html, html_to_text, sanitize_html
from inquiries.services import mailbox as service
from tests.conftest import token_client
from tests.mail.helpers import customer_mail, raw_mail
from tests.mail.test_webhooks import (
    SECRET,
    basic,
    generic_body,
    mailgun_fields,
    make_hook,
    multipart,
    post_form,
    post_generic,
    postmark_payload,
)
from tests.shared_data import shared_file

FLANKER = "email-flanker-fixtures"

MEGABYTE = 1_000_000


def nested(unit: str = "<div>", size: int = MEGABYTE) -> str:
    count = (size - 40) // len(unit)
    return unit * count + "deep words" + "</div>" * min(count, 10)


class _Depth(HTMLParser):
    VOID = {"br", "img", "hr", "col", "wbr", "input", "meta", "link"}

    def __init__(self) -> None:
        super().__init__()
        self.depth = self.deepest = 0

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag not in self.VOID:
            self.depth += 1
            self.deepest = max(self.deepest, self.depth)

    def handle_endtag(self, tag: str) -> None:
        self.depth = max(0, self.depth - 1)


def depth(html: str) -> int:
    parser = _Depth()
    parser.feed(html)
    return parser.deepest


# --- the bound, pure ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "unit",
    [
        "<div>",
        '<div title="<">',  # a "<" inside a quoted value does not hide the tag
        '<div a"b>',  # a quote in an attribute name opens no value
        "<span><i>",
        "<table><tr><td>",
        "<ul><li>",
        "<svg><g>",
    ],
)
def test_nesting_past_the_cap_is_flattened_to_its_text_with_a_note(unit):
    bounded = bound_html(nested(unit))

    assert depth(bounded.html) <= MAX_DEPTH + 5  # html.parser sees a few implied tags twice
    assert any("nested over" in note for note in bounded.notes)
    if "svg" not in unit:  # text inside SVG is drawing, not shown as text
        assert "deep words" in html_to_text(bounded.html)
    # The parser adds implied elements (a <tbody> in each table): still a bounded depth.
    assert depth(sanitize_html(nested(unit))) <= 2 * MAX_DEPTH


def test_sibling_paragraphs_and_list_items_are_not_nesting():
    html = "<p>one" * 5000 + "<ul>" + "<li>item" * 5000 + "</ul>"

    assert bound_html(html).notes == ()


def test_comments_and_scripts_do_not_count_as_nesting():
    html = "<!--" + "<div>" * 5000 + "--><script>" + "<div>" * 5000 + "</script><p>kept</p>"

    assert bound_html(html).notes == ()


def test_real_world_mail_html_is_left_exactly_as_it_was():
    from email import policy
    from email.parser import BytesParser

    seen = 0
    for path in sorted(shared_file(FLANKER).parent.rglob("*.eml")):
        message = BytesParser(policy=policy.compat32).parsebytes(path.read_bytes())
        for part in message.walk():
            if part.get_content_type() != "text/html":
                continue
            payload = part.get_payload(decode=True) or b""
            html = payload.decode("utf-8", "replace")
            assert bound_html(html).html == html, path.name
            seen += 1
    assert seen >= 5


def test_html_past_the_size_cap_is_cut_with_a_note(monkeypatch):
    from inquiries.ingestion import html as module

    monkeypatch.setattr(module, "MAX_HTML_CHARS", 1000)

    bounded = bound_html("<p>" + "x" * 5000 + "</p>")

    assert len(bounded.html) == 1000 and any("cut at" in note for note in bounded.notes)


# --- every path ---------------------------------------------------------------------------------


def html_mail(number: int, html: str) -> bytes:
    return raw_mail(
        "From: Buyer <buyer@marketplace.example>",
        "To: support@shop.example",
        "Subject: Nested",
        f"Message-ID: <nested-{number}@mail.example>",
        "MIME-Version: 1.0",
        "Content-Type: text/html; charset=utf-8",
        body=html,
    )


def assert_bounded(message: m.Message) -> None:
    assert depth(message.body_html) <= MAX_DEPTH + 5
    assert "deep words" in message.body_text


@pytest.mark.django_db
def test_the_api_answers_a_megabyte_of_nesting(agent, channel):
    response = token_client(agent).post(
        "/api/v1/messages/",
        {
            "channel": channel.slug,
            "external_id": "nested-api",
            "direction": "inbound",
            "received_at": "2026-03-02T10:00:00Z",
            "sender": {"address": "buyer@example.com"},
            "subject": "Nested",
            "body_html": nested(size=990_000),
        },
        format="json",
    )

    assert response.status_code == 201, response.content[:300]
    assert_bounded(m.Message.objects.get(external_id="nested-api"))


@pytest.mark.django_db
def test_the_generic_webhook_answers_a_megabyte_of_nesting(client, support_channel):
    hook = make_hook(support_channel, "generic")

    response = post_generic(client, hook, generic_body(html=nested(), text=""))

    assert response.status_code == 200, response.content[:300]
    assert_bounded(m.Message.objects.get(channel=support_channel))


@pytest.mark.django_db
def test_the_mailgun_webhook_answers_a_megabyte_of_nesting(client, support_channel):
    hook = make_hook(support_channel, "mailgun")

    response = post_form(client, hook.path + "mime", mailgun_fields(html_mail(1, nested())))

    assert response.status_code == 200, response.content[:300]
    assert_bounded(m.Message.objects.get(channel=support_channel))


@pytest.mark.django_db
def test_the_postmark_webhook_answers_a_megabyte_of_nesting(client, support_channel):
    hook = make_hook(support_channel, "postmark")

    response = client.post(
        hook.path,
        data=postmark_payload(HtmlBody=nested(), TextBody=""),
        content_type="application/json",
        HTTP_AUTHORIZATION=basic(SECRET),
    )

    assert response.status_code == 200, response.content[:300]
    assert_bounded(m.Message.objects.get(channel=support_channel))


@pytest.mark.django_db
def test_the_sendgrid_webhook_answers_a_megabyte_of_nesting(client, support_channel):
    hook = make_hook(support_channel, "sendgrid")
    body, content_type = multipart(
        [("email", html_mail(2, nested()), None, None), ("to", "support@shop.example", None, None)]
    )

    response = client.post(hook.path, data=body, content_type=content_type, HTTP_AUTHORIZATION=basic(SECRET))

    assert response.status_code == 200, response.content[:300]
    assert_bounded(m.Message.objects.get(channel=support_channel))


# --- IMAP: progress per message, a failing message set aside ------------------------------------


@pytest.mark.integration
@pytest.mark.django_db
def test_imap_imports_a_megabyte_of_nesting_and_the_mail_after_it(imap_server, user, mailbox):
    imap_server.append(user, html_mail(3, nested()))
    imap_server.append(user, customer_mail(4, sender="next@marketplace.example"))

    result = service.poll_mailbox(mailbox_id=mailbox.pk)

    assert (result.ok, result.imported, result.failed) == (True, 2, []), result.summary()
    assert_bounded(m.Message.objects.get(external_id="nested-3@mail.example"))


@pytest.mark.integration
@pytest.mark.django_db
def test_a_message_that_breaks_the_parser_is_set_aside_and_the_mailbox_moves_on(
    imap_server, user, mailbox, monkeypatch
):
    imap_server.append(user, customer_mail(5, subject="poison"))
    imap_server.append(user, customer_mail(6, sender="next@marketplace.example"))
    real = service.polling.parse_email

    def parse(raw: bytes, **kwargs: object):
        if b"poison" in raw:
            raise RecursionError("maximum recursion depth exceeded")
        return real(raw, **kwargs)

    monkeypatch.setattr(service.polling, "parse_email", parse)

    result = service.poll_mailbox(mailbox_id=mailbox.pk)
    mailbox.refresh_from_db()

    assert (result.ok, result.imported, len(result.failed)) == (True, 1, 1), result.summary()
    assert mailbox.last_uid == 2 and mailbox.failed_messages == 1
    failed = m.FailedTask.objects.get()
    assert "RecursionError" in failed.error and failed.args == [mailbox.pk, 1]
    assert "failed=1" in mailbox.last_summary


@pytest.mark.integration
@pytest.mark.django_db
def test_a_message_a_poll_died_on_twice_is_set_aside_on_the_third(imap_server, user, mailbox):
    imap_server.append(user, customer_mail(7))
    imap_server.append(user, customer_mail(8, sender="next@marketplace.example"))
    # Two polls were killed (hard time limit) while importing uid 1: nothing after _start ran.
    m.MailboxConfig.objects.filter(pk=mailbox.pk).update(inflight_uid=1, inflight_attempts=2)

    result = service.poll_mailbox(mailbox_id=mailbox.pk)
    mailbox.refresh_from_db()

    assert (result.imported, len(result.failed)) == (1, 1), result.summary()
    assert "stopped on it 2 times" in result.failed[0]
    assert (mailbox.last_uid, mailbox.inflight_uid, mailbox.inflight_attempts) == (2, 0, 0)


@pytest.mark.integration
@pytest.mark.django_db
def test_progress_is_saved_after_each_message_not_only_at_the_end(imap_server, user, mailbox, monkeypatch):
    imap_server.append(user, customer_mail(9))
    imap_server.append(user, customer_mail(10, sender="next@marketplace.example"))
    seen: list[int] = []
    real = service.polling._ingest

    def ingest(channel, mail, result, now, **options):
        seen.append(m.MailboxConfig.objects.get(pk=mailbox.pk).last_uid)
        return real(channel, mail, result, now, **options)

    monkeypatch.setattr(service.polling, "_ingest", ingest)

    service.poll_mailbox(mailbox_id=mailbox.pk)

    assert seen == [0, 1]  # the second message starts with the first already saved


# --- body caps and parse notes -----------------------------------------------------------------


@pytest.mark.django_db
def test_a_huge_body_is_cut_with_the_whole_text_attached_and_a_note_shown(client, agent, channel):
    from inquiries.ingestion.limits import FULL_TEXT_NAME, MAX_BODY_TEXT

    text = "Order 123 arrived broken. " * 40_000  # 1 MB
    response = token_client(agent).post(
        "/api/v1/messages/",
        {
            "channel": channel.slug,
            "external_id": "huge",
            "direction": "inbound",
            "received_at": "2026-03-02T10:00:00Z",
            "sender": {"address": "buyer@example.com"},
            "body_text": text[:999_000],
        },
        format="json",
    )

    assert response.status_code == 201, response.content[:300]
    message = m.Message.objects.get(external_id="huge")
    assert len(message.body_text) == MAX_BODY_TEXT
    attached = message.attachments.get(filename=FULL_TEXT_NAME)
    assert bytes(attached.content).decode() == text[:999_000]
    assert any("cut at 200,000" in note for note in message.parse_notes)
    client.force_login(agent)
    page = client.get(f"/inquiries/{message.inquiry_id}/")
    assert "cut at 200,000" in page.content.decode()
    assert len(page.content) < 400_000


@pytest.mark.django_db
def test_parse_notes_of_a_capped_mail_are_stored_with_it(channel):
    from inquiries.ingestion.email import parse_email
    from inquiries.services import record_message

    incoming = parse_email(html_mail(11, nested(size=100_000)))
    message = record_message(channel=channel, incoming=incoming).message

    assert any("nested over" in note for note in message.parse_notes)
