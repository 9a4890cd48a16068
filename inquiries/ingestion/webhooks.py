"""Inbound e-mail posted by mail providers: authenticate the request, parse it into an
`IncomingMessage`. No Django, no database.

Providers and how each request is authenticated:
- generic: our own JSON, header `X-Cstracker-Signature: t=<unix seconds>,v1=<hex>` where the
  hex is HMAC-SHA256(secret, f"{t}." + raw body). Several v1 entries may be given (secret
  rotation); one must match. The timestamp must be within the tolerance either way.
- mailgun: a route's forward() post. Mailgun signs `timestamp + token` (not the body) with
  the account's HTTP webhook signing key; the token is single-use, so the caller remembers
  it and refuses the same token with another body (`Delivery.replay_key`).
- postmark, sendgrid: they sign nothing over the body; the URL carries HTTP basic-auth
  credentials (any user name, the secret as password) besides the unguessable token path.

Whatever the provider, mail arrives as, or is rebuilt into, RFC 5322 bytes and goes through
`parse_email`, so Message-ID dedupe, threading headers and automatic-mail detection behave
exactly as for IMAP. Raises `HookAuthError` (401/403) or `Rejected` (400), nothing else.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage, Message
from email.utils import formataddr
from urllib.parse import parse_qsl

from inquiries.ingestion import strict_json
from inquiries.ingestion.addresses import sender_error
from inquiries.ingestion.email import parse_email
from inquiries.ingestion.html import bound_html, html_to_text, sanitize_html
from inquiries.ingestion.types import Direction, IncomingMessage, Rejected

PROVIDERS = ("generic", "mailgun", "postmark", "sendgrid")
SIGNATURE_HEADER = "x-cstracker-signature"
MAX_FIELD_CHARS = 255
# Headers that describe the body we rebuild, not the original's: dropped from provider lists.
_BODY_HEADERS = frozenset({"content-type", "content-transfer-encoding", "mime-version", "content-length"})
_ID_RE = re.compile(r"<?\s*([^<>\s]+)\s*>?")


class HookAuthError(Exception):
    """The request is not from whom it claims; `status` is 401 (no credentials) or 403."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


@dataclass(frozen=True, slots=True)
class HookRequest:
    content_type: str  # the full Content-Type header, parameters included
    body: bytes
    headers: Mapping[str, str]  # lower-cased names


@dataclass(frozen=True, slots=True)
class Delivery:
    incoming: IncomingMessage
    replay_key: str = ""  # a single-use token to remember (Mailgun); "" when none
    body_sha256: str = ""


def receive(
    provider: str, request: HookRequest, *, secret: str, now: datetime, tolerance_seconds: int = 300
) -> Delivery:
    """Authenticate `request` for `provider` with `secret`, then parse it; `now` is receipt time."""
    digest = hashlib.sha256(request.body).hexdigest()
    if provider == "generic":
        _verify_generic(request, secret=secret, now=now, tolerance=tolerance_seconds)
        return Delivery(_parse_generic(request.body, now), body_sha256=digest)
    if provider == "mailgun":
        form = _form(request)
        token = _verify_mailgun(form, secret=secret, now=now, tolerance=tolerance_seconds)
        return Delivery(_parse_mailgun(form, now), replay_key=token, body_sha256=digest)
    if provider == "postmark":
        _verify_basic_auth(request, secret=secret)
        return Delivery(_parse_postmark(request.body, now), body_sha256=digest)
    if provider == "sendgrid":
        _verify_basic_auth(request, secret=secret)
        return Delivery(_parse_sendgrid(_form(request), now), body_sha256=digest)
    raise Rejected(f"provider: unknown provider {provider!r}")


def sign_generic(secret: str, body: bytes, timestamp: int) -> str:
    """The X-Cstracker-Signature value for `body` at `timestamp` (for senders and tests)."""
    return f"t={timestamp},v1={_hmac_hex(secret, str(timestamp).encode() + b'.' + body)}"


# --- authentication ------------------------------------------------------------------------


def _hmac_hex(secret: str, data: bytes) -> str:
    return hmac.new(secret.encode("utf-8"), data, hashlib.sha256).hexdigest()


def _check_timestamp(value: str, *, now: datetime, tolerance: int) -> int:
    try:
        timestamp = int(value)
    except ValueError:
        raise HookAuthError(401, "the timestamp is not a whole number of seconds") from None
    if abs(now.timestamp() - timestamp) > tolerance:
        raise HookAuthError(403, f"the timestamp is more than {tolerance} seconds away from our clock")
    return timestamp


def _verify_generic(request: HookRequest, *, secret: str, now: datetime, tolerance: int) -> None:
    header = request.headers.get(SIGNATURE_HEADER, "")
    if not header:
        raise HookAuthError(401, "missing X-Cstracker-Signature header")
    timestamp = ""
    candidates: list[str] = []
    for item in header.split(","):
        key, _, value = item.strip().partition("=")
        if key == "t":
            timestamp = value
        elif key == "v1":
            candidates.append(value.lower())
    if not timestamp or not candidates:
        raise HookAuthError(401, "X-Cstracker-Signature needs t=<unix time> and v1=<hex signature>")
    _check_timestamp(timestamp, now=now, tolerance=tolerance)
    expected = _hmac_hex(secret, timestamp.encode("ascii", "replace") + b"." + request.body)
    # Compare every candidate, without stopping early, in constant time.
    if not sum(hmac.compare_digest(expected, candidate) for candidate in candidates):
        raise HookAuthError(403, "signature mismatch: the body or the secret differs")


def _verify_mailgun(form: dict[str, list[_Field]], *, secret: str, now: datetime, tolerance: int) -> str:
    timestamp, token, signature = (_text(form, name) for name in ("timestamp", "token", "signature"))
    if not (timestamp and token and signature):
        raise HookAuthError(401, "missing Mailgun timestamp, token or signature")
    _check_timestamp(timestamp, now=now, tolerance=tolerance)
    expected = _hmac_hex(secret, (timestamp + token).encode("utf-8"))
    if not hmac.compare_digest(expected, signature.lower()):
        raise HookAuthError(403, "Mailgun signature mismatch: wrong signing key or altered fields")
    return token[:MAX_FIELD_CHARS]


def _verify_basic_auth(request: HookRequest, *, secret: str) -> None:
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "basic" or not value:
        raise HookAuthError(401, "HTTP basic authentication required (put the credentials in the URL)")
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise HookAuthError(401, "malformed basic authentication header") from None
    _, _, password = decoded.partition(":")
    if not hmac.compare_digest(password.encode("utf-8"), secret.encode("utf-8")):
        raise HookAuthError(403, "wrong basic-auth password")


# --- form bodies ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Field:
    value: bytes
    filename: str | None = None
    content_type: str = ""


def _form(request: HookRequest) -> dict[str, list[_Field]]:
    """Fields of a urlencoded or multipart/form-data body, by name, in order."""
    media_type, params = _content_type(request.content_type)
    fields: dict[str, list[_Field]] = {}
    if media_type == "application/x-www-form-urlencoded":
        try:
            pairs = parse_qsl(request.body.decode("utf-8"), keep_blank_values=True, max_num_fields=1000)
        except (UnicodeDecodeError, ValueError) as exc:
            raise Rejected(f"body: unreadable form data ({exc})") from None
        for name, value in pairs:
            fields.setdefault(name, []).append(_Field(value.encode("utf-8")))
        return fields
    if media_type == "multipart/form-data":
        boundary = params.get("boundary", "")
        if not boundary:
            raise Rejected("body: multipart/form-data without a boundary")
        for field_name, field in _multipart(request.body, boundary.encode("latin-1", "replace")):
            fields.setdefault(field_name, []).append(field)
        return fields
    raise Rejected(f"body: expected form data, got {media_type or 'no content type'}")


def _multipart(body: bytes, boundary: bytes) -> list[tuple[str, _Field]]:
    """Split form data ourselves: linear in the body size, and nothing inside a field is
    interpreted as MIME (a raw e-mail in a field stays bytes)."""
    delimiter = b"--" + boundary
    out: list[tuple[str, _Field]] = []
    pieces = body.split(delimiter)
    if len(pieces) < 3:
        raise Rejected("body: no parts found for the multipart boundary")
    for piece in pieces[1:]:
        if piece.startswith(b"--"):
            break  # the closing delimiter
        piece = piece.removeprefix(b"\r\n").removeprefix(b"\n")
        head, sep, value = piece.partition(b"\r\n\r\n")
        if not sep:
            head, sep, value = piece.partition(b"\n\n")
        if not sep:
            continue
        # The line break before the next delimiter belongs to the delimiter (RFC 2046), and
        # only that one: a raw e-mail's own final CRLF is part of the value.
        value = value[:-2] if value.endswith(b"\r\n") else value.removesuffix(b"\n")
        headers = Message()
        for line in head.decode("utf-8", "replace").splitlines():
            name, colon, header_value = line.partition(":")
            if colon:
                headers[name.strip()] = header_value.strip()
        field_name = headers.get_param("name", header="content-disposition")
        if not isinstance(field_name, str) or not field_name:
            continue
        filename = headers.get_param("filename", header="content-disposition")
        out.append(
            (
                field_name,
                _Field(
                    value,
                    filename if isinstance(filename, str) else None,
                    headers.get_content_type() if "content-type" in headers else "",
                ),
            )
        )
        if len(out) > 1000:
            raise Rejected("body: more than 1000 form fields")
    return out


def _content_type(value: str) -> tuple[str, dict[str, str]]:
    headers = Message()
    headers["content-type"] = value or "application/octet-stream"
    listed = headers.get_params(header="content-type") or []  # None only without the header, set above
    params = {k.lower(): v for k, v in listed[1:] if isinstance(v, str)}
    return headers.get_content_type(), params


def _text(form: dict[str, list[_Field]], name: str) -> str:
    values = form.get(name)
    return values[0].value.decode("utf-8", "replace").strip() if values else ""


# --- providers -----------------------------------------------------------------------------


def _parse_mime(raw: bytes, now: datetime) -> IncomingMessage:
    return parse_email(raw, received_at=now)


def _parse_sendgrid(form: dict[str, list[_Field]], now: datetime) -> IncomingMessage:
    values = form.get("email")
    if not values:
        raise Rejected('email: missing; enable "POST the raw, full MIME message" in SendGrid Inbound Parse')
    return _parse_mime(values[0].value, now)


def _parse_mailgun(form: dict[str, list[_Field]], now: datetime) -> IncomingMessage:
    if "body-mime" in form:  # a route URL ending in "mime": the message as received
        return _parse_mime(form["body-mime"][0].value, now)
    raw_headers = _text(form, "message-headers")
    if not raw_headers:
        raise Rejected("message-headers: missing (and no body-mime)")
    pairs = strict_json.load(raw_headers, what="message-headers")
    try:
        headers = [(str(name), str(value)) for name, value in pairs]
    except (ValueError, TypeError):
        raise Rejected("message-headers: not a JSON list of [name, value] pairs") from None
    attachments = [
        (field.filename or name, field.content_type or "application/octet-stream", field.value)
        for name, fields in form.items()
        if re.fullmatch(r"attachment-\d+", name)
        for field in fields
    ]
    raw = _rebuild(
        headers, text=_text(form, "body-plain"), html=_text(form, "body-html"), attachments=attachments
    )
    return _parse_mime(raw, now)


def _parse_postmark(body: bytes, now: datetime) -> IncomingMessage:
    data = _json_object(body)
    raw_email = data.get("RawEmail")
    if isinstance(raw_email, str) and raw_email.strip():
        return _parse_mime(raw_email.encode("utf-8", "surrogateescape"), now)
    headers: list[tuple[str, str]] = []
    from_full = data.get("FromFull")
    if not isinstance(from_full, dict):
        from_full = {}
    sender = str(from_full.get("Email") or data.get("From") or "")
    headers.append(("From", formataddr((str(from_full.get("Name") or ""), sender)) if sender else ""))
    for name, key in (
        ("To", "To"),
        ("Cc", "Cc"),
        ("Reply-To", "ReplyTo"),
        ("Subject", "Subject"),
        ("Date", "Date"),
    ):
        value = data.get(key)
        if isinstance(value, str) and value:
            headers.append((name, value))
    listed = data.get("Headers")
    if not isinstance(listed, list):
        listed = []
    have = {name.lower() for name, _ in headers}
    for item in listed:
        if isinstance(item, dict) and isinstance(item.get("Name"), str):
            name = item["Name"]
            if name.lower() not in have:
                headers.append((name, str(item.get("Value") or "")))
    if "message-id" not in {name.lower() for name, _ in headers} and isinstance(data.get("MessageID"), str):
        # Postmark's own id keeps retries of one delivery deduplicated.
        headers.append(("Message-ID", f"<{data['MessageID']}@inbound.postmarkapp.com>"))
    attachments: list[tuple[str, str, bytes]] = []
    for item in data.get("Attachments") or []:
        if not isinstance(item, dict):
            continue
        try:
            content = base64.b64decode(str(item.get("Content") or ""), validate=False)
        except (binascii.Error, ValueError):
            raise Rejected("Attachments: content is not base64") from None
        attachments.append(
            (str(item.get("Name") or ""), str(item.get("ContentType") or "application/octet-stream"), content)
        )
    raw = _rebuild(
        headers,
        text=str(data.get("TextBody") or ""),
        html=str(data.get("HtmlBody") or ""),
        attachments=attachments,
    )
    return _parse_mime(raw, now)


def _parse_generic(body: bytes, now: datetime) -> IncomingMessage:
    """Our JSON: either {"raw_mime": base64 of the message} or the fields below.

    Fields: message_id (or external_id), from {address, name}, subject, text, html,
    in_reply_to, references [..], date (ISO 8601, the sender's), thread_id, order_id, sku,
    automatic, automatic_reason. `received_at` is always our receipt time.
    """
    data = _json_object(body)
    if "raw_mime" in data:
        try:
            raw = base64.b64decode(str(data["raw_mime"]), validate=True)
        except (binascii.Error, ValueError):
            raise Rejected("raw_mime: not base64") from None
        return _parse_mime(raw, now)
    external_id = _message_id(_string(data, "message_id") or _string(data, "external_id"))
    if not external_id:
        raise Rejected("message_id: required (or raw_mime)")
    sender = data.get("from")
    if not isinstance(sender, dict):
        raise Rejected("from: an object with address and name")
    address = _string(sender, "address").lower()
    address_error = sender_error(address, email_only=True)
    if address_error:
        raise Rejected(f"from: {address_error}")
    references = data.get("references") or []
    if not isinstance(references, list) or not all(isinstance(r, str) for r in references):
        raise Rejected("references: a list of message ids")
    html = _string(data, "html")
    automatic = data.get("automatic", False)
    if not isinstance(automatic, bool):
        raise Rejected("automatic: true or false")
    incoming = IncomingMessage(
        external_id=external_id,
        direction=Direction.INBOUND,
        sender_address=address,
        sender_name=_string(sender, "name")[:200],
        subject=" ".join(_string(data, "subject").split())[:998],
        body_text=_string(data, "text") or (html_to_text(html) if html else ""),
        body_html=sanitize_html(html) if html else "",
        received_at=now,
        sent_at=_iso_date(_string(data, "date")),
        automatic=automatic,
        automatic_reason=_string(data, "automatic_reason")[:200] or ("automatic" if automatic else ""),
        thread_id=_string(data, "thread_id"),
        in_reply_to=_message_id(_string(data, "in_reply_to")),
        references=tuple(dict.fromkeys(filter(None, (_message_id(r) for r in references[:100])))),
        order_id=_string(data, "order_id"),
        sku=_string(data, "sku"),
        notes=bound_html(html).notes if html else (),
    )
    for name in ("external_id", "thread_id", "in_reply_to"):
        if len(getattr(incoming, name)) > MAX_FIELD_CHARS:
            raise Rejected(f"{name}: at most {MAX_FIELD_CHARS} characters")
    if len(incoming.order_id) > 100 or len(incoming.sku) > 100:
        raise Rejected(
            "order_id: at most 100 characters"
            if len(incoming.order_id) > 100
            else "sku: at most 100 characters"
        )
    return incoming


def _json_object(body: bytes) -> dict:
    data = strict_json.load(body)
    if not isinstance(data, dict):
        raise Rejected("body: a JSON object expected")
    return data


def _string(data: dict, key: str) -> str:
    value = data.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise Rejected(f"{key}: a string expected")
    return value.strip().replace("\x00", "")


def _message_id(value: str) -> str:
    match = _ID_RE.fullmatch(value.strip())
    return match.group(1) if match else ""


def _iso_date(value: str) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise Rejected("date: ISO 8601 expected, e.g. 2026-03-02T10:00:00Z") from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _rebuild(
    headers: list[tuple[str, str]], *, text: str, html: str, attachments: list[tuple[str, str, bytes]]
) -> bytes:
    """RFC 5322 bytes from a provider's header list and decoded bodies.

    The original headers are kept as written (one line each); the body structure is new
    (UTF-8 text, optional HTML alternative, attachments), so the original's Content-*
    headers are dropped.
    """
    body = EmailMessage()
    body.set_content(text or "", charset="utf-8")
    if html:
        body.add_alternative(html, subtype="html", charset="utf-8")
    for filename, content_type, content in attachments:
        maintype, _, subtype = content_type.partition("/")
        if not subtype or maintype in ("multipart", "message"):
            # message/* and multipart/* would be parsed as structure; pass them as opaque bytes.
            maintype, subtype = "application", "octet-stream"
        body.add_attachment(content, maintype=maintype, subtype=subtype, filename=filename or None)
    lines = []
    for name, value in headers:
        name = name.strip()
        if not name or name.lower() in _BODY_HEADERS or not re.fullmatch(r"[!-9;-~]+", name):
            continue
        clean = " ".join(value.replace("\x00", "").split())
        if name.lower() == "date" and not clean:
            continue
        lines.append(f"{name}: {clean}".encode("utf-8", "surrogateescape"))
    return b"\r\n".join(lines) + b"\r\n" + body.as_bytes()
