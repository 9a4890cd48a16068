"""parse_email(): real-world fixtures, then each known pitfall with a small hand-built mail."""

from __future__ import annotations

import base64
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from inquiries.ingestion.email import (
    MAX_DELIMITER_LINES,
    MAX_MIME_FIELD_CHARS,
    content_hash,
    parse_email,
    safe_filename,
)
from inquiries.ingestion.types import Direction, IncomingMessage, Rejected
from tests.shared_data import SHARED_DATA, shared_file

FLANKER = ("email-flanker-fixtures", "messages")
MAILPARSER = ("email-mailparser-realworld", "mails")


def _fixture_files() -> list[Path]:
    files: list[Path] = []
    for parts in (FLANKER, MAILPARSER):
        folder = SHARED_DATA.joinpath(*parts)
        if folder.is_dir():
            files.extend(sorted(p for p in folder.rglob("*") if p.is_file()))
    return files


def mail(*headers: str, body: bytes | str = b"Hello", eol: bytes = b"\r\n") -> bytes:
    """A raw message from header lines and a body (str bodies are UTF-8 encoded)."""
    if isinstance(body, str):
        body = body.encode("utf-8")
    head = eol.join(h.encode("utf-8", "surrogateescape") for h in headers)
    return head + eol + eol + body


def plain(*headers: str, body: bytes | str = b"Hello") -> bytes:
    return mail("From: Customer <customer@example.com>", "Message-ID: <m1@example.com>", *headers, body=body)


def multipart(subtype: str, parts: list[bytes], *headers: str, boundary: str = "b1") -> bytes:
    body = b"".join(b"--" + boundary.encode() + b"\r\n" + part + b"\r\n" for part in parts)
    body += b"--" + boundary.encode() + b"--\r\n"
    return mail(
        "From: customer@example.com",
        *headers,
        f'Content-Type: multipart/{subtype}; boundary="{boundary}"',
        body=body,
    )


def part(*headers: str, body: bytes | str = b"x") -> bytes:
    if isinstance(body, str):
        body = body.encode("utf-8")
    return b"\r\n".join(h.encode() for h in headers) + b"\r\n\r\n" + body


def assert_storable(message: IncomingMessage) -> None:
    """What the database and the templates rely on, whatever the input was."""
    texts = [message.external_id, message.sender_address, message.sender_name, message.subject]
    texts += [message.body_text, message.body_html, message.in_reply_to, *message.references]
    for text in texts:
        assert "\x00" not in text
        text.encode("utf-8")  # no lone surrogates left from undecodable bytes
    assert 0 < len(message.external_id) <= 255
    assert len(message.in_reply_to) <= 255
    assert message.sender_address == message.sender_address.lower()
    assert message.sent_at is None or message.sent_at.tzinfo is not None
    assert "<script" not in message.body_html.lower()
    assert not re.search(r"<[^>]*\son\w+\s*=", message.body_html, re.IGNORECASE)
    for attachment in message.attachments:
        name = attachment.filename
        assert name and "/" not in name and "\\" not in name and not name.startswith(".")
        assert len(name.encode("utf-8")) <= 255
        assert all(ord(ch) >= 32 for ch in name)
        assert attachment.content is None or attachment.size == len(attachment.content)


# --- the real-world corpus --------------------------------------------------------------


@pytest.mark.parametrize("path", _fixture_files(), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_fixture_parses_or_is_rejected_with_a_reason(path: Path) -> None:
    try:
        message = parse_email(path.read_bytes())
    except Rejected as exc:
        assert exc.reason
    else:
        assert message.direction == Direction.INBOUND
        assert_storable(message)


def test_the_fixture_folders_are_there_to_test() -> None:
    shared_file(*FLANKER)
    shared_file(*MAILPARSER)
    assert len(_fixture_files()) >= 60


def test_the_endlessly_enclosed_message_finishes_with_its_enclosure_as_one_attachment() -> None:
    raw = shared_file(*FLANKER, "enclosed-endless.eml").read_bytes()

    message = parse_email(raw)

    assert message.subject == "Wow"
    assert message.body_text.strip() == "Hello"
    [enclosed] = message.attachments
    assert enclosed.content_type == "message/rfc822"
    assert enclosed.filename == "thanks.eml"


@pytest.mark.parametrize(
    "name",
    [
        "bounce/delayed.eml",
        "bounce/delayed-broken.eml",
        "bounce/gmail-invalid-address.eml",
        "bounce/gmail-no-dns.eml",
        "bounce/mailbox-full.eml",
        "bounce/no-mx.eml",
        "bounce/office365.eml",
        "bounce/zed.eml",
        "bounce/broken-mime.eml",
        "complaints/aol.eml",
        "complaints/yahoo.eml",
        "disposition-notification.eml",
    ],
)
def test_bounces_reports_and_read_receipts_from_the_corpus_are_automatic(name: str) -> None:
    message = parse_email(shared_file(*FLANKER, name).read_bytes())

    assert message.automatic
    assert message.automatic_reason


def test_a_real_dsn_with_rfc822_headers_is_automatic() -> None:
    message = parse_email(shared_file(*MAILPARSER, "mail_malformed_2.eml").read_bytes())

    assert message.automatic_reason == "bounce"


def test_an_encoded_display_name_with_a_comma_keeps_the_real_address() -> None:
    message = parse_email(shared_file(*MAILPARSER, "mail_test_18.eml").read_bytes())

    assert message.sender_address == "comma.name@example.com"
    assert message.sender_name == "LastßlName, FirstName"


def test_an_address_used_as_display_name_does_not_become_the_sender() -> None:
    # From: alice@example.com <bob@example.com>; replies go to bob.
    message = parse_email(shared_file(*MAILPARSER, "mail_test_19.eml").read_bytes())

    assert message.sender_address == "bob@example.com"
    assert message.sender_name == ""


def test_gb2312_encoded_words_and_body_are_decoded() -> None:
    message = parse_email(shared_file(*MAILPARSER, "mail_test_12.eml").read_bytes())

    assert message.subject == "代开各地增值税发票"
    assert message.sender_name == "张先生"
    assert "增值税发票" in message.body_text


def test_gbk_text_labelled_gb2312_decodes_without_replacement_characters() -> None:
    message = parse_email(shared_file(*MAILPARSER, "mail_test_9.eml").read_bytes())

    assert "\ufffd" not in message.subject
    assert "\ufffd" not in message.body_text


def test_raw_8bit_bytes_in_the_corpus_headers_become_replacement_characters() -> None:
    message = parse_email(shared_file(*FLANKER, "mailformed-headers.eml").read_bytes())

    assert message.subject == "\ufffd!"
    assert message.sender_address == "headers@gmail.com"


# --- rejections -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"", "empty message"),
        (b" \r\n\r\n\t", "empty message"),
        (b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n", "first line is not a header"),
        (b"Hello there,\nthis is a letter, not a mail.\n", "first line is not a header"),
        (b"X-Whatever: 1\n\nno real mail headers", "no From, To, Subject"),
        (b'{"json": true}\n', "no From, To, Subject"),
    ],
)
def test_input_that_is_not_an_email_is_rejected(raw: bytes, reason: str) -> None:
    with pytest.raises(Rejected, match=reason):
        parse_email(raw)


def test_a_message_over_the_size_cap_is_rejected() -> None:
    with pytest.raises(Rejected, match="over the 100-byte limit"):
        parse_email(plain(body=b"x" * 200), max_bytes=100)


def test_a_structure_too_deep_for_the_parser_is_rejected() -> None:
    body = part("Content-Type: text/plain", body="deep")
    for level in range(1500):
        boundary = f"b{level}".encode()
        body = (
            b'Content-Type: multipart/mixed; boundary="' + boundary + b'"\r\n\r\n--' + boundary + b"\r\n"
            + body + b"\r\n--" + boundary + b"--\r\n"
        )  # fmt: skip
    with pytest.raises(Rejected, match="nested too deeply"):
        parse_email(b"From: a@example.com\r\n" + body)


def test_too_many_boundary_lines_are_rejected_before_parsing() -> None:
    parts = [part("Content-Type: text/plain")] * (MAX_DELIMITER_LINES + 1)

    with pytest.raises(Rejected, match="too many MIME parts"):
        parse_email(multipart("mixed", parts))


def test_a_huge_content_type_field_is_rejected_before_parsing() -> None:
    params = "; ".join(f"p{i}=v" for i in range(MAX_MIME_FIELD_CHARS // 5))

    with pytest.raises(Rejected, match="Content-Type header field is over"):
        parse_email(plain(f"Content-Type: text/plain; {params}"))


def test_many_multipart_levels_over_many_lines_are_rejected_before_parsing() -> None:
    opening = b"".join(
        b"Content-Type: multipart/mixed; boundary=b%d\r\n\r\n--b%d\r\n" % (i, i) for i in range(40)
    )
    raw = b"From: a@example.com\r\n" + opening + b"Content-Type: text/plain\r\n\r\n" + b"x\r\n" * 2_000_000

    with pytest.raises(Rejected, match="MIME structure too complex"):
        parse_email(raw)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.one_of(
        st.binary(max_size=2000),
        st.lists(
            st.sampled_from(
                [
                    b"From: a@example.com\r\n",
                    b"From: \xff\xfe <x@\xc3\xa9.com>\n",
                    b"Subject: =?x?Q?=FF?=\r\n",
                    b"Content-Type: multipart/mixed; boundary=z\r\n",
                    b"Content-Type: text/plain; charset=zlib\n",
                    b"Content-Transfer-Encoding: base64\r\n",
                    b"Date: 99 Foo 99999 99:99 +9999\r\n",
                    b"\r\n",
                    b"--z\r\n",
                    b"--z--\r\n",
                    b"=?utf-8?B?////?=",
                    b"\x00",
                    b"<html><script>x</script>",
                    b"Content-Disposition: attachment; filename*=bogus''%FF%2E%2E%2F\r\n",
                    b"(((",
                    b"\n",
                    b"Message-ID: <\x01>\r\n",
                    b"References: <a> <b> garbage <c@d>\r\n",
                    b"Return-Path: <>\r\n",
                    b"Content-Type: message/rfc822\r\n",
                    b"QUJD",
                    b"From ",
                ]
            ),
            max_size=40,
        ).map(b"".join),
    )
)
def test_arbitrary_bytes_give_a_message_or_a_rejection_and_nothing_else(raw: bytes) -> None:
    try:
        message = parse_email(raw)
    except Rejected as exc:
        assert exc.reason
    else:
        assert_storable(message)


# --- charsets and encodings -------------------------------------------------------------


def test_an_undeclared_8bit_utf8_body_is_decoded_as_utf8() -> None:
    message = parse_email(plain(body="Grüße, das Paket ist kaputt".encode()))

    assert message.body_text == "Grüße, das Paket ist kaputt"


def test_undeclared_8bit_bytes_that_are_not_utf8_become_replacement_characters() -> None:
    message = parse_email(plain(body="Grüße".encode("latin-1")))

    assert message.body_text == "Gr\ufffd\ufffde"


def test_an_unknown_charset_name_falls_back_to_utf8_with_a_note() -> None:
    raw = plain("Content-Type: text/plain; charset=x-klingon-8", body=b"caf\xc3\xa9 \xff")

    message = parse_email(raw)

    assert message.body_text == "café \ufffd"
    assert any("x-klingon-8" in note for note in message.notes)


def test_a_wrong_declared_charset_does_not_crash() -> None:
    raw = plain("Content-Type: text/plain; charset=utf-8", body="Pièce cassée".encode("latin-1"))

    assert parse_email(raw).body_text == "Pi\ufffdce cass\ufffde"


def test_a_latin1_label_is_read_as_windows_1252_like_browsers_do() -> None:
    raw = plain("Content-Type: text/plain; charset=iso-8859-1", body="10 € off".encode("cp1252"))

    assert parse_email(raw).body_text == "10 € off"


@pytest.mark.parametrize("charset", ["zlib", "base64", "rot13", "hex"])
def test_a_bytes_codec_name_is_not_used_as_a_charset(charset: str) -> None:
    raw = plain(f"Content-Type: text/plain; charset={charset}", body=b"plain words")

    assert parse_email(raw).body_text == "plain words"


def test_encoded_word_subject_and_sender_name_are_decoded() -> None:
    raw = mail(
        "From: =?utf-8?q?J=C3=BCrgen_M=C3=BCller?= <jm@example.de>",
        "Subject: =?utf-8?B?V2hlcmUgaXMgbXk=?= =?UTF-8?Q?_order=3F_=E2=9C=89?=",
    )

    message = parse_email(raw)

    assert message.sender_name == "Jürgen Müller"
    assert message.subject == "Where is my order? ✉"


def test_a_multibyte_character_split_across_encoded_words_is_joined() -> None:
    euro = "€".encode()
    first = base64.b64encode(b"Price " + euro[:1]).decode()
    second = base64.b64encode(euro[1:]).decode()
    raw = plain(f"Subject: =?utf-8?b?{first}?=\r\n =?utf-8?b?{second}?=")

    assert parse_email(raw).subject == "Price €"


def test_a_broken_encoded_word_is_left_as_written() -> None:
    raw = plain("Subject: before =?utf-8?b?@@@?= after")

    assert parse_email(raw).subject == "before =?utf-8?b?@@@?= after"


def test_an_encoded_word_in_an_unknown_charset_is_decoded_as_utf8() -> None:
    raw = plain("Subject: =?x-unknown?q?caf=C3=A9?=")

    assert parse_email(raw).subject == "café"


def test_raw_8bit_utf8_in_a_header_is_decoded() -> None:
    raw = plain("Subject: Größe falsch".encode().decode("ascii", "surrogateescape"))

    assert parse_email(raw).subject == "Größe falsch"


def test_bare_lf_line_endings_parse_like_crlf() -> None:
    headers = ("From: Ann <ann@example.com>", "Subject: Broken mug", "Message-ID: <lf@example.com>")
    crlf = mail(*headers, body=b"Line one\r\nLine two\r\n")
    lf = mail(*headers, body=b"Line one\nLine two\n", eol=b"\n")

    from_crlf, from_lf = parse_email(crlf), parse_email(lf)

    assert from_lf.subject == from_crlf.subject == "Broken mug"
    assert from_lf.sender_address == from_crlf.sender_address == "ann@example.com"
    assert from_lf.body_text == from_crlf.body_text == "Line one\nLine two\n"


def test_nul_bytes_are_removed_from_text_fields() -> None:
    raw = mail("From: Nu\x00l <nul@example.com>", "Subject: bro\x00ken", body=b"bo\x00dy")

    message = parse_email(raw)

    assert (message.sender_name, message.subject, message.body_text) == ("Nul", "broken", "body")


# --- structure and bodies ---------------------------------------------------------------


def test_the_plain_text_part_is_preferred_and_the_html_part_sanitised() -> None:
    raw = multipart(
        "alternative",
        [
            part("Content-Type: text/plain; charset=utf-8", body="Plain words"),
            part("Content-Type: text/html; charset=utf-8", body="<p onclick='x()'>Rich <b>words</b></p>"),
        ],
    )

    message = parse_email(raw)

    assert message.body_text == "Plain words"
    assert message.body_html == "<p>Rich <b>words</b></p>"


def test_an_html_only_mail_gets_a_text_body_and_hostile_markup_removed() -> None:
    html = (
        "<html><head><style>body{}</style><script>steal()</script></head><body>"
        "<p>Where is my <b>order</b>?</p>"
        '<img src="https://tracker.example/pixel.gif" onerror="alert(1)">'
        '<img src="cid:logo@example">'
        '<a href="javascript:alert(1)">click</a> <a href="https://shop.example/o/1">order</a>'
        "</body></html>"
    )
    raw = plain("Content-Type: text/html; charset=utf-8", body=html)

    message = parse_email(raw)

    assert message.body_text == "Where is my order?\nclick order"
    assert "steal" not in message.body_html and "<script" not in message.body_html
    assert "onerror" not in message.body_html
    assert "tracker.example" not in message.body_html
    assert "javascript:" not in message.body_html
    assert '<img src="cid:logo@example">' in message.body_html
    assert 'href="https://shop.example/o/1" rel="noopener noreferrer nofollow"' in message.body_html


def test_attachments_keep_type_size_content_id_and_inline_flag() -> None:
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 10
    raw = multipart(
        "mixed",
        [
            part("Content-Type: text/plain", body="See the photo"),
            part(
                "Content-Type: image/png",
                "Content-Transfer-Encoding: base64",
                "Content-ID: <photo1@example>",
                "Content-Disposition: inline; filename=broken.png",
                body=base64.b64encode(png),
            ),
            part("Content-Type: application/pdf", "Content-Disposition: attachment", body=b"%PDF"),
        ],
    )

    message = parse_email(raw)

    photo, pdf = message.attachments
    assert (photo.filename, photo.content_type, photo.size, photo.content) == (
        "broken.png",
        "image/png",
        18,
        png,
    )
    assert (photo.content_id, photo.inline) == ("photo1@example", True)
    assert (pdf.filename, pdf.content_type, pdf.inline) == ("attachment-2.pdf", "application/pdf", False)


def test_a_content_id_without_angle_brackets_still_marks_an_inline_image() -> None:
    raw = multipart(
        "related",
        [
            part("Content-Type: text/html", body='<img src="cid:image001.png">'),
            part("Content-Type: image/png", "Content-ID: image001.png", body=b"png"),
        ],
    )

    [image] = parse_email(raw).attachments

    assert (image.content_id, image.inline) == ("image001.png", True)


def test_an_rfc2231_filename_is_decoded_and_stripped_of_its_path() -> None:
    raw = multipart(
        "mixed",
        [
            part("Content-Type: text/plain", body="hi"),
            part(
                "Content-Type: application/octet-stream",
                "Content-Disposition: attachment; filename*=UTF-8''..%2F..%2Fetc%2Fpasswd",
            ),
            part(
                "Content-Type: application/pdf",
                "Content-Disposition: attachment; filename*0*=UTF-8''R%C3%BCck; filename*1*=sendung.pdf",
            ),
        ],
    )

    traversal, continued = parse_email(raw).attachments

    assert traversal.filename == "passwd"
    assert continued.filename == "Rücksendung.pdf"


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("../../etc/passwd", "passwd"),
        ("..\\..\\Windows\\win.ini", "win.ini"),
        (".htaccess", "htaccess"),
        ("...", "attachment-3.pdf"),
        ("", "attachment-3.pdf"),
        (None, "attachment-3.pdf"),
        ("in\x00voice\x07.pdf", "invoice.pdf"),
        ("invoice\u202efdp.exe", "invoicefdp.exe"),  # a right-to-left override disguising .exe
        ('what?<is>:"this"|*.pdf', "what__is___this___.pdf"),
        ("report. ", "report"),
        ("CON.txt", "_CON.txt"),  # Windows device names open a device, whatever the extension
        ("nul", "_nul"),
        ("lpt1.tar.gz", "_lpt1.tar.gz"),
        ("COM¹.pdf", "_COM¹.pdf"),
        ("console.txt", "console.txt"),
        ("CONTRACT.pdf", "CONTRACT.pdf"),
    ],
)
def test_attachment_filenames_are_made_safe(name: str | None, expected: str) -> None:
    assert safe_filename(name, index=3, content_type="application/pdf") == expected


def test_a_long_filename_is_cut_to_255_bytes_keeping_its_extension() -> None:
    name = safe_filename("ä" * 300 + ".jpeg", index=1, content_type="image/jpeg")

    assert name.endswith(".jpeg")
    assert len(name.encode("utf-8")) <= 255


@pytest.mark.parametrize(
    ("content_type", "expected"),
    [("image/jpeg", "attachment-1.jpg"), ("text/csv", "attachment-1.csv"), ("x-foo/bar", "attachment-1.bin")],
)
def test_a_missing_filename_gets_an_extension_from_the_content_type(content_type: str, expected: str) -> None:
    assert safe_filename("", index=1, content_type=content_type) == expected


def test_parts_nested_beyond_the_depth_cap_are_skipped_with_a_note() -> None:
    body = part("Content-Type: text/plain", body="too deep to reach")
    for level in range(5):
        boundary = f"n{level}".encode()
        body = (
            b'Content-Type: multipart/mixed; boundary="' + boundary + b'"\r\n\r\n--' + boundary + b"\r\n"
            + body + b"\r\n--" + boundary + b"--\r\n"
        )  # fmt: skip
    raw = b"From: a@example.com\r\nMessage-ID: <deep@x>\r\n" + body

    shallow = parse_email(raw, max_depth=3)
    deep_enough = parse_email(raw, max_depth=10)

    assert shallow.body_text == ""
    assert any("nested over 3 levels" in note for note in shallow.notes)
    assert deep_enough.body_text == "too deep to reach"
    assert deep_enough.notes == ()


def test_walking_stops_at_the_part_count_cap_with_a_note() -> None:
    parts = [part("Content-Type: text/plain", body="first")]
    parts += [part("Content-Type: application/octet-stream", body=f"{n}") for n in range(300)]

    message = parse_email(multipart("mixed", parts), max_parts=50)

    assert message.body_text == "first"
    assert len(message.attachments) == 48  # 50 parts: the multipart itself, the text, 48 files
    assert any("stopped after 50 MIME parts" in note for note in message.notes)


def test_an_attached_message_becomes_one_eml_attachment() -> None:
    inner = mail("From: shop@example.com", "Subject: Your order", body="Order 123-4567890-1234567 confirmed")
    raw = multipart(
        "mixed",
        [
            part("Content-Type: text/plain", body="See the forwarded confirmation"),
            part("Content-Type: message/rfc822", body=inner),
        ],
    )

    message = parse_email(raw)

    [forwarded] = message.attachments
    assert (forwarded.filename, forwarded.content_type) == ("attachment-1.eml", "message/rfc822")
    assert forwarded.content is not None and b"Subject: Your order" in forwarded.content
    assert message.body_text == "See the forwarded confirmation"


def test_a_multipart_without_its_boundary_still_gives_its_text() -> None:
    raw = mail(
        "From: a@example.com",
        'Content-Type: multipart/alternative; boundary="missing"',
        body="Just text after all",
    )

    assert parse_email(raw).body_text == "Just text after all"


# --- identity and threading -------------------------------------------------------------


def test_the_message_id_becomes_the_external_id_without_brackets_in_its_case() -> None:
    raw = mail("From: a@example.com", "Message-ID:  <AbC.123@Mail.Example.COM> ")

    assert parse_email(raw).external_id == "AbC.123@Mail.Example.COM"


def test_without_a_message_id_the_content_hash_is_the_same_for_crlf_and_lf_copies() -> None:
    headers = ("From: a@example.com", "Subject: no id")
    crlf = mail(*headers, body=b"one\r\ntwo\r\n")
    lf = mail(*headers, body=b"one\ntwo\n", eol=b"\n")

    first, second = parse_email(crlf), parse_email(lf)

    assert first.external_id == second.external_id
    assert first.external_id.startswith("sha256:")
    assert parse_email(mail(*headers, body=b"three")).external_id != first.external_id


def test_the_mbox_envelope_line_does_not_change_the_content_hash() -> None:
    raw = mail("From: a@example.com", "Subject: no id", body=b"body\n", eol=b"\n")

    assert content_hash(b"From a@example.com Mon Jan  1 00:00:00 2024\n" + raw + b"\n") == content_hash(raw)


def test_in_reply_to_and_references_are_read_in_order_without_brackets() -> None:
    raw = plain(
        "In-Reply-To: <second@example.com> (John's message)",
        "References: <first@example.com>\r\n <second@example.com> garbage <first@example.com>",
    )

    message = parse_email(raw)

    assert message.in_reply_to == "second@example.com"
    assert message.references == ("first@example.com", "second@example.com")


def test_garbage_threading_headers_are_tolerated() -> None:
    raw = plain("In-Reply-To: your message of yesterday", "References: <<>> < >")

    message = parse_email(raw)

    assert (message.in_reply_to, message.references) == ("", ())


def test_an_over_long_message_id_becomes_a_digest_that_replies_still_match() -> None:
    long_id = "x" * 300 + "@example.com"
    original = parse_email(mail("From: a@example.com", f"Message-ID: <{long_id}>"))
    reply = parse_email(mail("From: b@example.com", f"In-Reply-To: <{long_id}>"))

    assert len(original.external_id) <= 255
    assert original.external_id.startswith("id-sha256:")
    assert reply.in_reply_to == original.external_id


# --- sender -----------------------------------------------------------------------------


def test_the_sender_address_is_lower_cased_and_the_name_kept() -> None:
    message = parse_email(mail('From: "Mary Smith" <Mary.Smith@Example.COM>'))

    assert (message.sender_address, message.sender_name) == ("mary.smith@example.com", "Mary Smith")


def test_a_quoted_display_name_with_a_comma_and_an_address_gives_the_real_address() -> None:
    message = parse_email(mail('From: "a@b.com, x" <real@c.com>'))

    assert message.sender_address == "real@c.com"
    assert message.sender_name == ""  # it looks like an address: not shown to agents


@pytest.mark.parametrize(
    "from_header",
    [
        "From: one@example.com, two@example.com",
        "From: undisclosed-recipients:;",
        "From: not an address",
        "From: <>",
        "From: a@b.com <c@d.com> <e@f.com>",
        'From: "quoted local"@example.com',
        "From: user@localhost",
        "From: " + "(" * 3000 + "a@example.com",
    ],
)
def test_a_from_header_without_exactly_one_valid_address_gives_no_sender(from_header: str) -> None:
    assert parse_email(mail(from_header, "Subject: x")).sender_address == ""


def test_a_raw_8bit_non_ascii_address_is_not_accepted() -> None:
    raw = mail("From: dangl\xfc\xe9@email.com".encode().decode("ascii", "surrogateescape"))

    assert parse_email(raw).sender_address == ""


def test_the_recipient_is_taken_from_delivered_to_or_to() -> None:
    delivered = parse_email(
        mail("From: a@example.com", "Delivered-To: Support@Shop.example", "To: x@y.example")
    )
    addressed = parse_email(mail("From: a@example.com", "To: Team <Help@Shop.example>, other@shop.example"))

    assert delivered.recipient_address == "support@shop.example"
    assert addressed.recipient_address == "help@shop.example"


# --- dates ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("date", "expected"),
    [
        ("Mon, 01 Jan 2024 12:00:00 +0200", datetime(2024, 1, 1, 10, 0, tzinfo=UTC)),
        ("Thu, 01 Jan 1970 00:00:00 +0000", datetime(1970, 1, 1, tzinfo=UTC)),
        ("Fri, 31 Dec 9999 23:59:59 +0000", datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)),
        ("Mon, 01 Jan 2024 12:00:00 -0000", datetime(2024, 1, 1, 12, 0, tzinfo=UTC)),
        ("Mon, 01 Jan 2024 12:00:00", datetime(2024, 1, 1, 12, 0, tzinfo=UTC)),
        ("Fri, 31 Dec 9999 23:59:59 -0100", None),  # would overflow into year 10000
        ("yesterday, around noon", None),
        ("Mon, 32 Jan 2024 12:00:00 +0000", None),
        ("Mon, 01 Jan 2024 12:00:00 +9900", None),
        ("", None),
    ],
)
def test_the_date_header_becomes_an_aware_utc_sent_at_or_none(date: str, expected: datetime | None) -> None:
    message = parse_email(mail("From: a@example.com", f"Date: {date}"))

    assert message.sent_at == expected


def test_received_at_comes_from_the_caller_not_the_date_header() -> None:
    received = datetime(2025, 3, 1, 9, 30, tzinfo=UTC)

    message = parse_email(
        mail("From: a@example.com", "Date: Mon, 01 Jan 2024 12:00:00 +0000"), received_at=received
    )

    assert message.received_at == received


def test_the_direction_is_inbound_and_the_raw_bytes_are_kept() -> None:
    raw = plain()

    message = parse_email(raw)

    assert message.direction == Direction.INBOUND
    assert message.raw == raw


# --- automatic mail ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        (["Auto-Submitted: auto-replied"], "auto-submitted: auto-replied"),
        (["Auto-Submitted: Auto-Generated; owner-email=x@example.com"], "auto-submitted: auto-generated"),
        (["X-Autoreply: yes"], "x-autoreply"),
        (["X-Autorespond: vacation"], "x-autorespond"),
        (["X-Autogenerated: Reply"], "x-autogenerated"),
        (["X-AutoReply-From: shop@example.com"], "x-autoreply-from"),
        (["X-FC-MachineGenerated: true"], "x-fc-machinegenerated"),
        (["X-POST-MessageClass: 9; Autoresponder"], "x-post-messageclass"),
        (["Delivered-To: Autoresponder"], "delivered-to"),
        (["X-Precedence: auto_reply"], "precedence: auto_reply"),
        (["X-Auto-Response-Suppress: All", "Subject: Automatic reply: Order 123"], "auto-reply subject"),
        (
            ["X-Auto-Response-Suppress: OOF", "Subject: Automatische Antwort: Bestellung"],
            "auto-reply subject",
        ),
        (["Precedence: bulk"], "precedence: bulk"),
        (["Precedence: auto_reply"], "precedence: auto_reply"),
        (["List-Id: <news.shop.example>"], "list"),
        (["List-Unsubscribe: <mailto:leave@shop.example>"], "list"),
        (["Return-Path: <>"], "null return path"),
        (["X-Cstracker-Loop: shop-a"], "loop"),
    ],
)
def test_an_auto_reply_is_marked_automatic(headers: list[str], reason: str) -> None:
    message = parse_email(plain(*headers))

    assert message.automatic
    assert message.automatic_reason == reason


@pytest.mark.parametrize("suppress", ["All", "DR, OOF", "OOF, AutoReply", "DR, RN, NRN, OOF, AutoReply"])
def test_outlooks_suppress_header_on_a_customers_mail_is_not_automatic(suppress: str) -> None:
    """Outlook and Exchange ask recipients not to auto-reply to ordinary mail; the customer
    still wrote it, so it opens an inquiry and starts its clocks."""
    message = parse_email(plain(f"X-Auto-Response-Suppress: {suppress}", "Subject: My lid arrived broken"))

    assert (message.automatic, message.automatic_reason) == (False, "")


@pytest.mark.parametrize(
    ("report_type", "reason"),
    [
        ("delivery-status", "bounce"),
        ("feedback-report", "feedback report"),
        ("disposition-notification", "read receipt"),
    ],
)
def test_a_multipart_report_is_marked_automatic(report_type: str, reason: str) -> None:
    raw = multipart(
        "report",
        [part("Content-Type: text/plain", body="Your message could not be delivered")],
        boundary="r",
    ).replace(b'boundary="r"', f'report-type={report_type}; boundary="r"'.encode())

    message = parse_email(raw)

    assert (message.automatic, message.automatic_reason) == (True, reason)
    assert message.body_text == "Your message could not be delivered"


def test_a_mailer_daemon_with_a_bounce_subject_is_a_bounce() -> None:
    raw = mail(
        "From: Mail Delivery System <MAILER-DAEMON@mx.example.com>", "Subject: Undelivered Mail Returned"
    )

    assert parse_email(raw).automatic_reason == "bounce"


def test_a_postmaster_writing_an_ordinary_mail_is_a_person() -> None:
    raw = mail("From: postmaster@example.com", "Subject: Question about my order")

    assert not parse_email(raw).automatic


@pytest.mark.parametrize(
    "headers", [[], ["Auto-Submitted: no"], ["X-Autoreply: no"], ["Precedence: first-class"]]
)
def test_an_ordinary_customer_message_is_not_automatic(headers: list[str]) -> None:
    message = parse_email(plain(*headers))

    assert (message.automatic, message.automatic_reason) == (False, "")


# --- order ids --------------------------------------------------------------------------


def test_an_amazon_order_number_is_taken_from_the_subject_first() -> None:
    raw = plain(
        "Subject: Inquiry from Amazon customer about order 114-1234567-7654321",
        body="Order 999-0000000-0000000 was mentioned too",
    )

    message = parse_email(raw)

    assert message.order_id == "114-1234567-7654321"
    assert message.sku == ""


def test_an_amazon_order_number_is_found_in_the_body() -> None:
    assert (
        parse_email(plain(body="Re order #203-5551234-1112223, it broke")).order_id == "203-5551234-1112223"
    )


def test_longer_digit_runs_are_not_order_numbers() -> None:
    assert parse_email(plain(body="Call 0044-1234567-12345678 or 1114-1234567-1234567")).order_id == ""


# --- shortcuts: plain From and To values read directly, MIME fields parsed once per value ---


def _without_shortcuts(monkeypatch: pytest.MonkeyPatch, raw: bytes) -> IncomingMessage | str:
    from email import policy

    from inquiries.ingestion.email import parsing, senders

    with monkeypatch.context() as patched:
        patched.setattr(senders, "_SIMPLE_MAILBOX_RE", re.compile(r"(?!)"))  # never matches
        patched.setattr(
            parsing, "_PARSE_POLICY", policy.default.clone(message_factory=parsing._ParsedMessage)
        )
        return _parsed(raw)


def _parsed(raw: bytes) -> IncomingMessage | str:
    try:
        return parse_email(raw, received_at=datetime(2026, 3, 2, tzinfo=UTC))
    except Rejected as exc:
        return f"rejected: {exc.reason}"


_NAMES = st.from_regex(r"\A[A-Za-z0-9]{1,12}( [A-Za-z0-9]{1,12}){0,3}\Z")
# Addresses the direct reading takes, and near misses it must leave to the registry.
_PLAIN = st.from_regex(
    r"\A[A-Za-z0-9_+-]{1,70}(\.[A-Za-z0-9_+-]{1,9})?@[a-zA-Z0-9-]{1,12}(\.[A-Za-z0-9-]{1,9}){1,2}\Z"
)
_NEAR = st.from_regex(r"\A[A-Za-z0-9_+.-]{0,70}@?[A-Za-z0-9.-]{0,20}\Z")


@settings(max_examples=400, suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None)
@given(address=st.one_of(_PLAIN, _NEAR), name=st.one_of(st.just(""), _NAMES, st.just("Ann  Lee")))
def test_plain_addresses_read_directly_are_read_as_the_registry_reads_them(monkeypatch, address, name):
    for header in (f"{name} <{address}>", f"<{address}>", address, f"{name}<{address}>"):
        raw = mail(f"From: {header}", f"To: {header}", "Message-ID: <m1@example.com>")
        assert _parsed(raw) == _without_shortcuts(monkeypatch, raw), header


@pytest.mark.parametrize("path", _fixture_files(), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_real_world_mail_parses_the_same_without_the_shortcuts(monkeypatch, path: Path) -> None:
    raw = path.read_bytes()
    assert _parsed(raw) == _without_shortcuts(monkeypatch, raw)


def test_a_mime_field_parsed_once_is_shared_only_by_identical_values() -> None:
    def body(content_type: str, content: bytes) -> str:
        message = _parsed(multipart("mixed", [part(f"Content-Type: {content_type}", body=content)]))
        assert isinstance(message, IncomingMessage), message
        return message.body_text

    assert body("text/plain; charset=utf-8", "caf\u00e9".encode()) == "caf\u00e9"
    assert body("text/plain; charset=latin-1", b"caf\xe9") == "caf\u00e9"
    assert body("text/plain; charset=utf-8", "caf\u00e9".encode()) == "caf\u00e9"  # from the cache
    assert body("text/plain; charset=koi8-r", b"\xc3") == "\u0446"
