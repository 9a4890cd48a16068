"""Parse raw e-mail (RFC 5322 / MIME) into `IncomingMessage`, and read mail files.

`parse_email()` turns one message into an `IncomingMessage` or raises `Rejected`; it never
raises anything else, whatever the bytes. `iter_mail_source()` reads a single .eml file,
a folder of them, or an mbox file (streamed, so memory stays flat on a multi-GB mbox).
Pure: standard library `email` with `policy.default`, nh3 through `html.py`; no Django.

Choices worth knowing:
- Text that cannot be decoded (unknown or wrong charsets, raw 8-bit header bytes) is
  decoded as UTF-8 with U+FFFD replacement characters; NUL bytes are removed.
- The sender is taken from `From` only when it holds exactly one valid address. An address
  that is not plain ASCII (raw 8-bit bytes, or RFC 6532 UTF-8) is not accepted: we cannot
  be sure what the bytes spell, and look-alike characters can impersonate a customer.
- An attached message (message/rfc822) becomes one `.eml` attachment; its inner parts are
  not walked, its text does not join the body.
- Machine-readable report parts (message/delivery-status, message/feedback-report...) are
  not kept as attachments; the human-readable part is the body and `raw` keeps everything.
- The stdlib parser is slow on some shapes (thousands of parts, deep nesting over many
  lines, huge Content-Type fields); such input is rejected before parsing so that one
  hostile message cannot stall an import (see the MAX_* guards).
"""

from __future__ import annotations

import binascii
import codecs
import contextlib
import functools
import hashlib
import mimetypes
import os
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from email import errors as email_errors
from email import policy
from email.message import EmailMessage, Message
from email.parser import BytesParser
from email.policy import EmailPolicy
from email.utils import getaddresses, parsedate_to_datetime
from pathlib import Path
from typing import BinaryIO

from inquiries.ingestion.html import bound_html, html_to_text, sanitize_html
from inquiries.ingestion.relay_mail import amazon_reference, find_reference
from inquiries.ingestion.types import Direction, IncomingAttachment, IncomingMessage, Rejected

MAX_MESSAGE_BYTES = 25 * 1024 * 1024
MAX_DEPTH = 10  # multipart levels below the top-level message
MAX_PARTS = 200  # MIME parts visited per message
MAX_ID_LENGTH = 255  # the Message.external_id and in_reply_to columns
MAX_REFERENCES = 100
MAX_FILENAME_BYTES = 255  # common file-system limit, and the Attachment.filename column

# Guards checked on the raw bytes before the stdlib parser runs. Its cost grows with the
# number of parts, with lines times enclosing multipart levels (every line is matched
# against every open boundary), and faster than linearly with the length of a Content-Type
# or Content-Disposition field: a 1 MB crafted message could otherwise take minutes.
MAX_DELIMITER_LINES = 10_000  # lines starting with "--": bounds the number of parts
MAX_BOUNDARY_CHECKS = 50_000_000  # lines x multipart sections
MAX_MIME_FIELD_CHARS = 16 * 1024  # one Content-Type / Content-Disposition field, unfolded
# Longest header value handed to the header registry or our decoder; longer values are
# cut (Subject) or not trusted (From): a stored subject is at most 998 characters anyway.
MAX_HEADER_CHARS = 16 * 1024

# Headers of which at least one appears in anything that is really an e-mail.
_MESSAGE_HEADERS = (
    "from", "sender", "to", "cc", "subject", "date", "message-id", "received", "return-path",
    "delivered-to", "mime-version", "content-type", "in-reply-to", "references",
)  # fmt: skip
_FIELD_NAME_RE = re.compile(rb"[!-9;-~]+[ \t]*:")
_MIME_FIELD_RE = re.compile(rb"^content-(?:type|disposition)[ \t]*:", re.IGNORECASE | re.MULTILINE)
_MULTIPART_FIELD_RE = re.compile(rb"^content-type:\s*multipart/", re.IGNORECASE | re.MULTILINE)
# RFC 2047 encoded word; RFC 2231 allows a "*language" suffix on the charset.
_ENCODED_WORD_RE = re.compile(r"=\?([^?\s*]+)(?:\*[^?\s]*)?\?([QqBb])\?([^?\s]*)\?=")
_ID_IN_BRACKETS_RE = re.compile(r"<\s*([^<>\s\x00-\x1f\x7f]+)\s*>")
_BARE_ID_RE = re.compile(r"[^<>\s\x00-\x1f\x7f]+@[^<>\s\x00-\x1f\x7f]+")
_CONTROL_OR_SPACE_RE = re.compile(r"[<>\s\x00-\x1f\x7f]")
_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
# Deliberately narrower than RFC 5322: dot-atom local part, host name with at least one dot.
_ADDRESS_RE = re.compile(rf"{_ATEXT}(?:\.{_ATEXT})*@{_LABEL}(?:\.{_LABEL})+")
_ANGLE_ADDR_RE = re.compile(r"^(?P<name>[^<>]*)<\s*(?P<address>[^<>\s]+)\s*>\s*$")
# A From or To value as most mail writes it: plain words, then one address in angle
# brackets, or the bare address. Nothing in it that the header registry could read in
# another way (quotes, comments, encoded words, groups, obsolete syntax), so it is read
# here directly: the registry's parser costs about a third of parsing a simple message.
_SIMPLE_ADDR = (
    r"[A-Za-z0-9_+-]+(?:\.[A-Za-z0-9_+-]+)*@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+"
)
_SIMPLE_MAILBOX_RE = re.compile(
    rf"(?:(?P<name>[A-Za-z0-9]+(?: [A-Za-z0-9]+)*) )?<(?P<angle>{_SIMPLE_ADDR})>|(?P<bare>{_SIMPLE_ADDR})"
)
_WHITESPACE_RE = re.compile(r"\s+")
_UNSAFE_FILENAME_CHARS_RE = re.compile(r'[<>:"|?*]')
# Header defects that do not make an address doubtful: obsolete-but-common syntax such as
# `John Q. Public <jqp@example.com>`, and 8-bit bytes in the display name.
_HARMLESS_ADDRESS_DEFECTS = (email_errors.ObsoleteHeaderDefect, email_errors.UndecodableBytesDefect)

# Headers that auto-responders and vacation programs set on what they send. Not among them:
# X-Auto-Response-Suppress, which Outlook and Exchange put on ordinary mail from people; it
# asks *others* not to auto-reply, it does not say the mail is automatic.
_AUTOREPLY_HEADERS = (
    "x-autoreply",
    "x-autorespond",
    "x-autoreply-from",
    "x-mail-autoreply",
    "x-autogenerated",
)
_MACHINE_HEADER_VALUES = {
    "x-fc-machinegenerated": "true",  # FirstClass
    "x-post-messageclass": "autoresponder",  # "9; Autoresponder"
    "delivered-to": "autoresponder",
}
# Exchange's out-of-office replies carry no Auto-Submitted, only the suppress header and a
# subject of this shape; either alone is a person's mail.
_AUTO_REPLY_SUBJECT_RE = re.compile(
    r"^(?:automatic reply|auto(?:matic)?[- ]?reply|out of (?:the )?office(?: reply)?|automatische antwort|"
    r"abwesenheitsnotiz|réponse automatique|respuesta automática|risposta automatica)\s*:",
    re.IGNORECASE,
)
_BULK_PRECEDENCE = frozenset({"bulk", "junk", "list", "auto_reply"})
_REPORT_REASONS = {
    "delivery-status": "bounce",
    "feedback-report": "feedback report",
    "disposition-notification": "read receipt",
}
_DAEMON_SENDER_RE = re.compile(
    r"(?:^|[<\s\"])(?:mailer-daemon|mail-daemon|postmaster|no-?reply|do-?not-?reply)(?:@|>|\s|$)",
    re.IGNORECASE,
)
_BOUNCE_SUBJECT_RE = re.compile(
    r"undeliver|undelivered|delivery (?:status|failure|failed|has failed|notification|problem)|returned mail"
    r"|failure notice|mail delivery|could not be delivered|non-?delivery",
    re.IGNORECASE,
)
_ENCLOSED_MESSAGE_TYPES = frozenset({"message/rfc822", "message/global"})
_EXTENSIONS = {"text/plain": ".txt", "message/rfc822": ".eml", "message/global": ".eml"}
# Mail labelled with a legacy charset is routinely written in its Windows/superset
# variant (GBK as "gb2312", windows-1252 as "iso-8859-1"); browsers decode it the same way
# (WHATWG Encoding Standard).
_SUPERSET_CODECS = {
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "euc_kr": "cp949",
    "shift_jis": "cp932",
    "big5": "big5hkscs",
    "iso8859-1": "cp1252",
    "iso8859-9": "cp1254",
    "iso8859-11": "cp874",
}
# The built-in table only: /etc/mime.types differs between machines.
_MIME_TYPES = mimetypes.MimeTypes()


class _ParsedMessage(EmailMessage):
    """An EmailMessage that parses each header field once.

    `policy.default` builds a fresh header object on every lookup, and reading one part's
    type, charset, disposition and file name looks Content-Type up over and over: the
    parsed value is kept until the part's headers change (a parsed message is only read).
    """

    def get(self, name: str, failobj: object = None) -> object:
        cache = self.__dict__.setdefault("_fetched", {})
        key = name.lower()
        if key not in cache:
            cache[key] = super().get(name, _MISSING)
        value = cache[key]
        return failobj if value is _MISSING else value

    def _changed(self) -> None:
        self.__dict__.pop("_fetched", None)

    def __setitem__(self, name: str, val: object) -> None:
        self._changed()
        super().__setitem__(name, val)

    def __delitem__(self, name: str) -> None:
        self._changed()
        super().__delitem__(name)

    def set_raw(self, name: str, value: object) -> None:
        self._changed()
        super().set_raw(name, value)

    def replace_header(self, _name: str, _value: object) -> None:
        self._changed()
        super().replace_header(_name, _value)

    def add_header(self, _name: str, _value: str, **_params: object) -> None:
        self._changed()
        super().add_header(_name, _value, **_params)

    def __setattr__(self, name: str, value: object) -> None:
        if name == "_headers":  # set_boundary(), clear(), clear_content()... swap the whole list
            self._changed()
        super().__setattr__(name, value)


_MISSING = object()

# The MIME fields whose values repeat from message to message ("text/plain; charset=utf-8",
# "base64"...): parsed once per distinct value, as the registry's result depends on the
# field's name and value only and is never changed once made.
_SHARED_HEADERS = frozenset({"content-type", "content-transfer-encoding", "content-disposition"})


@functools.lru_cache(maxsize=2048)
def _shared_header(name: str, value: str) -> object:
    return policy.default.header_fetch_parse(name, value)


class _ParsePolicy(EmailPolicy):
    def header_fetch_parse(self, name: str, value: str) -> object:
        if isinstance(value, str) and len(value) <= 200 and name.lower() in _SHARED_HEADERS:
            return _shared_header(name, value)
        return super().header_fetch_parse(name, value)


_PARSE_POLICY = _ParsePolicy(message_factory=_ParsedMessage)  # otherwise policy.default


def parse_email(
    raw: bytes,
    *,
    received_at: datetime | None = None,
    max_bytes: int = MAX_MESSAGE_BYTES,
    max_depth: int = MAX_DEPTH,
    max_parts: int = MAX_PARTS,
) -> IncomingMessage:
    """Parse one raw e-mail into an inbound `IncomingMessage`.

    `received_at` is our receipt time (aware), passed through unchanged; the Date header
    becomes `sent_at`. Raises `Rejected` for input that cannot be an e-mail: empty, over
    `max_bytes`, no header section, or shaped so that the stdlib parser would run for
    minutes or overflow the stack (see the MAX_* guards). Walking stops after `max_parts`
    parts or below `max_depth` multipart levels; what was left out is listed in `notes`
    (the full source stays in `raw`). Never raises anything but `Rejected`.
    """
    if len(raw) > max_bytes:
        raise Rejected(f"message is {len(raw)} bytes, over the {max_bytes}-byte limit")
    if not raw.strip():
        raise Rejected("empty message")
    if not _starts_with_header(raw):
        raise Rejected("not an e-mail: the first line is not a header field")
    _check_parse_cost(raw)
    try:
        msg = BytesParser(policy=_PARSE_POLICY).parsebytes(raw.lstrip(b"\r\n"))
    except RecursionError:
        raise Rejected("nested too deeply to parse (MIME parts or header comments)") from None
    except Exception as exc:  # the parser is lenient by design; anything it still raises is unusable input
        raise Rejected(f"unparsable message: {type(exc).__name__}") from None
    if not any(name in msg for name in _MESSAGE_HEADERS):
        raise Rejected("not an e-mail: no From, To, Subject, Date or Message-ID header")
    return _build(msg, raw, received_at=received_at, max_depth=max_depth, max_parts=max_parts)


def receipt_time(raw: bytes, *, limit: int = 64 * 1024) -> datetime | None:
    """When our side received the mail: the date of the topmost Received header.

    That header is added by the last hop (our mail server), so for an archive import it is
    the receipt time the clocks should start from; the Date header is only the sender's claim.
    None when there is no parsable one.
    """
    head = raw[:limit].replace(b"\r\n", b"\n").split(b"\n\n", 1)[0]
    unfolded = re.sub(rb"\n[ \t]+", b" ", head)
    for line in unfolded.split(b"\n"):
        if line[:9].lower() == b"received:":
            _, sep, date_text = line.rpartition(b";")
            if not sep:
                return None
            try:
                when = parsedate_to_datetime(date_text.decode("ascii", "replace").strip())
            except (TypeError, ValueError, IndexError):
                return None
            return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)
    return None


# Where a delivered message names the address it was delivered to (the envelope recipient),
# then the visible recipients: BCC itself is stripped before delivery.
_RECIPIENT_HEADERS = ("Delivered-To", "X-Original-To", "Envelope-To", "X-Envelope-To", "To", "Cc")


def recipients(raw: bytes, *, limit: int = 64 * 1024) -> set[str]:
    """Every address a message was delivered or written to (lower-cased): the envelope headers
    of the delivering server and To/Cc. For recognising a copy BCC'd to a set address."""
    head = raw[:limit].replace(b"\r\n", b"\n").split(b"\n\n", 1)[0]
    try:
        msg = BytesParser(policy=policy.compat32).parsebytes(head + b"\n\n", headersonly=True)
    except Exception:  # a header block the parser cannot read names no recipient
        return set()
    values = [str(value) for name in _RECIPIENT_HEADERS for value in (msg.get_all(name) or ())]
    return {_valid_address(address.strip().lower()) for _, address in getaddresses(values)} - {""}


def sent_reply(incoming: IncomingMessage, *, now: datetime) -> IncomingMessage:
    """A message the seller sent (found in the sent folder, or a BCC copy) as the outbound reply
    it is: answered at its Date (when the customer got it), else at its receipt time when the
    Date is missing or in the future."""
    sent_at = incoming.sent_at
    at = sent_at if sent_at is not None and sent_at <= now else incoming.received_at
    return replace(incoming, direction=Direction.OUTBOUND, received_at=at)


def content_hash(raw: bytes) -> str:
    """The external id of a message without a Message-ID: "sha256:" and a hex digest.

    Line endings are normalised (CRLF and LF copies of one mail give the same id), an mbox
    "From " envelope line and surrounding blank lines are ignored.
    """
    data = raw.replace(b"\r\n", b"\n").strip(b"\n")
    if data.startswith(b"From "):
        _, _, data = data.partition(b"\n")
    return "sha256:" + hashlib.sha256(data.strip(b"\n")).hexdigest()


def find_order_id(*texts: str) -> str:
    """The first Amazon order number ("123-1234567-1234567") in `texts`, or "" (for imports
    that do not know the sender; mail is read by `relay_mail.find_reference`)."""
    return amazon_reference(*texts).order_id


_WINDOWS_RESERVED_RE = re.compile(
    r"(?:CON|PRN|AUX|NUL|COM[0-9¹²³]|LPT[0-9¹²³]|CONIN\$|CONOUT\$)(?:\.|$)", re.IGNORECASE
)


def safe_filename(name: str | None, *, index: int, content_type: str) -> str:
    """A file name that is safe to store and to offer for download.

    Drops directories (both separators), control and invisible format characters (which
    include right-to-left overrides that disguise extensions), characters Windows forbids
    and leading dots; prefixes Windows device names (CON, NUL, COM1...); caps the length
    at 255 UTF-8 bytes keeping the extension. Falls back
    to "attachment-<index><extension guessed from content_type>".
    """
    cleaned = _clean_text(name or "").replace("\\", "/").rsplit("/", 1)[-1]
    cleaned = "".join(ch for ch in cleaned if not unicodedata.category(ch).startswith("C"))
    cleaned = _UNSAFE_FILENAME_CHARS_RE.sub("_", cleaned).lstrip(". ").rstrip(". ")
    if not cleaned:
        return f"attachment-{index}{_extension(content_type)}"
    if _WINDOWS_RESERVED_RE.match(cleaned):
        # "CON.txt", "nul", "LPT1.pdf": Windows opens a device, not a file, whatever the extension.
        cleaned = "_" + cleaned
    if len(cleaned.encode("utf-8")) > MAX_FILENAME_BYTES:
        stem, ext = os.path.splitext(cleaned)
        if len(ext.encode("utf-8")) > 16:
            stem, ext = cleaned, ""
        budget = MAX_FILENAME_BYTES - len(ext.encode("utf-8"))
        stem = stem.encode("utf-8")[:budget].decode("utf-8", "ignore")
        cleaned = stem + ext
    return cleaned


# --- building the message --------------------------------------------------------------


@dataclass
class _Parts:
    """What walking the MIME tree found."""

    plain: str | None = None
    html: str | None = None
    attachments: list[IncomingAttachment] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def note(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(text)


def _build(
    msg: EmailMessage, raw: bytes, *, received_at: datetime | None, max_depth: int, max_parts: int
) -> IncomingMessage:
    parts = _walk(msg, max_depth=max_depth, max_parts=max_parts)
    html = parts.html or ""
    if html:
        bounded = bound_html(html)
        html = bounded.html
        for note in bounded.notes:
            parts.note(note)
    body_text = parts.plain or ""
    if not body_text.strip() and html:
        body_text = html_to_text(html)
    subject = _one_line(_decode_words(_raw_header(msg, "Subject")[:MAX_HEADER_CHARS]))
    sender_address, sender_name = _sender(msg)
    message_ids = _message_ids(_raw_header(msg, "Message-ID"))
    references = _message_ids(_raw_header(msg, "References"))
    in_reply_to = _message_ids(_raw_header(msg, "In-Reply-To"))
    automatic_reason = _automatic_reason(msg, subject)
    # The relay's notice names the order (and often the item): the engine links the inquiry to
    # that order when it is on file, and the item gives the inquiry its product.
    reference = find_reference(sender_address, subject, body_text)
    return IncomingMessage(
        external_id=message_ids[0] if message_ids else content_hash(raw),
        direction=Direction.INBOUND,
        sender_address=sender_address,
        sender_name=sender_name,
        subject=subject,
        body_text=body_text,
        body_html=sanitize_html(html) if html else "",
        received_at=received_at,
        sent_at=_parse_date(_raw_header(msg, "Date")),
        automatic=bool(automatic_reason),
        automatic_reason=automatic_reason,
        in_reply_to=in_reply_to[0] if in_reply_to else "",
        references=tuple(dict.fromkeys(references))[-MAX_REFERENCES:],
        order_id=reference.order_id,
        sku=reference.item,
        recipient_address=_recipient(msg),
        raw=raw,
        attachments=tuple(parts.attachments),
        notes=tuple(parts.notes),
    )


def _starts_with_header(raw: bytes) -> bool:
    """Whether the first meaningful line is a header field (an mbox "From " line is skipped)."""
    pos = 0
    skipped_envelope = False
    # Real mail sometimes starts with blank or whitespace-only lines; a few are tolerated.
    for _ in range(20):
        end = raw.find(b"\n", pos)
        line = raw[pos:] if end < 0 else raw[pos:end]
        if line.strip():
            if line.startswith(b"From ") and not skipped_envelope:
                skipped_envelope = True
            else:
                return bool(_FIELD_NAME_RE.match(line))
        if end < 0:
            return False
        pos = end + 1
    return False


def _check_parse_cost(raw: bytes) -> None:
    """Reject input whose shape would make the stdlib parser run for minutes."""
    delimiter_lines = raw.count(b"\n--")
    if delimiter_lines > MAX_DELIMITER_LINES:
        raise Rejected(f"too many MIME parts: {delimiter_lines} boundary lines (limit {MAX_DELIMITER_LINES})")
    lines = raw.count(b"\n") + 1
    for multiparts, _ in enumerate(_MULTIPART_FIELD_RE.finditer(raw), start=1):
        if multiparts * lines > MAX_BOUNDARY_CHECKS:
            raise Rejected(f"MIME structure too complex: {multiparts}+ multipart sections in {lines} lines")
    for match in _MIME_FIELD_RE.finditer(raw):
        if _field_length(raw, match.start()) > MAX_MIME_FIELD_CHARS:
            name = match.group(0).rstrip(b": \t").decode("ascii")
            raise Rejected(f"a {name} header field is over {MAX_MIME_FIELD_CHARS} characters")


def _field_length(raw: bytes, start: int) -> int:
    """Length of the header field at `start` with its continuation lines; the scan stops
    just past MAX_MIME_FIELD_CHARS, so it never runs through a large body."""
    limit = min(len(raw), start + MAX_MIME_FIELD_CHARS + 1)
    end = raw.find(b"\n", start, limit)
    while end != -1 and raw[end + 1 : end + 2] in (b" ", b"\t"):
        end = raw.find(b"\n", end + 1, limit)
    return (limit if end == -1 else end) - start


def _walk(msg: EmailMessage, *, max_depth: int, max_parts: int) -> _Parts:
    """Visit the MIME tree in document order without recursion, within the caps."""
    found = _Parts()
    stack: list[tuple[Message, int]] = [(msg, 0)]
    visited = 0
    while stack:
        part, depth = stack.pop()
        visited += 1
        if visited > max_parts:
            found.note(f"stopped after {max_parts} MIME parts; the rest is only in the raw message")
            break
        if depth > max_depth:
            found.note(f"skipped parts nested over {max_depth} levels deep; they are only in the raw message")
            continue
        content_type = _content_type(part)
        payload = part.get_payload()
        if isinstance(payload, list):
            if content_type in _ENCLOSED_MESSAGE_TYPES and payload:
                index = len(found.attachments) + 1
                found.attachments.append(_enclosed_message(part, index=index, found=found))
            elif content_type.startswith("multipart/"):
                stack.extend((child, depth + 1) for child in reversed(payload) if isinstance(child, Message))
            continue
        _leaf(part, content_type, found)
    return found


def _leaf(part: Message, content_type: str, found: _Parts) -> None:
    disposition = _disposition(part)
    filename = _filename(part)
    maintype = content_type.partition("/")[0]
    # A multipart whose boundary never appears arrives as one opaque leaf: its text is
    # still the best body we have.
    is_text_body = content_type in ("text/plain", "text/html") or maintype == "multipart"
    if is_text_body and disposition != "attachment" and not filename:
        if content_type == "text/html":
            if found.html is None:
                found.html = _decode_text(part, found)
                return
        elif found.plain is None:
            found.plain = _decode_text(part, found)
            return
    content = _payload_bytes(part)
    content_id = _content_id(part)
    found.attachments.append(
        IncomingAttachment(
            filename=safe_filename(filename, index=len(found.attachments) + 1, content_type=content_type),
            content_type=content_type[:255],
            size=len(content),
            content=content,
            content_id=content_id,
            inline=disposition == "inline" or (disposition is None and bool(content_id)),
        )
    )


def _enclosed_message(part: Message, *, index: int, found: _Parts) -> IncomingAttachment:
    inner = part.get_payload()[0]
    content: bytes | None
    try:
        # compat32 regenerates without re-folding headers: byte-faithful for well-formed
        # mail and several times faster than policy.default on large enclosures.
        content = inner.as_bytes(policy=policy.compat32)
    except Exception:  # a structure too broken or deep to regenerate; raw keeps the original
        content = None
        found.note("an attached message could not be extracted; it is only in the raw message")
    return IncomingAttachment(
        filename=safe_filename(_filename(part), index=index, content_type="message/rfc822"),
        content_type=_content_type(part),
        size=len(content) if content is not None else 0,
        content=content,
        inline=False,
    )


def _content_type(part: Message) -> str:
    try:
        return part.get_content_type()  # already "text/plain" for an invalid value
    except Exception:  # the header registry failed on a hostile value: an opaque blob
        return "application/octet-stream"


def _content_id(part: Message) -> str:
    """Content-ID without angle brackets; some mailers leave the brackets out."""
    value = _raw_header(part, "Content-ID").strip()
    match = _ID_IN_BRACKETS_RE.search(value)
    if match:
        return _fit_id(match.group(1))
    return _fit_id(value) if value and not _CONTROL_OR_SPACE_RE.search(value) else ""


def _disposition(part: Message) -> str | None:
    try:
        return part.get_content_disposition()
    except Exception:  # an unparsable Content-Disposition counts as absent
        return None


def _filename(part: Message) -> str:
    try:
        name = part.get_filename()  # RFC 2231 and encoded-word names, decoded
    except Exception:  # a malformed parameter list gives no name; a safe one is made up
        return ""
    return _clean_text(name) if isinstance(name, str) else ""


def _payload_bytes(part: Message) -> bytes:
    try:
        data = part.get_payload(decode=True)
    except Exception:  # broken transfer encodings are tolerated by the stdlib; be sure anyway
        data = None
    return data if isinstance(data, bytes) else b""


def _decode_text(part: Message, found: _Parts) -> str:
    data = _payload_bytes(part)
    try:
        charset = part.get_content_charset()
    except Exception:  # an unparsable Content-Type: treat the charset as undeclared
        charset = None
    text = _clean_text(_decode_bytes(data, charset, found))
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _decode_bytes(data: bytes, charset: str | None, found: _Parts | None = None) -> str:
    """Declared charset, else UTF-8, else replacement characters: never raises."""
    if not data:
        return ""
    codec = _text_codec(charset)
    if codec:
        try:
            return data.decode(codec)
        except UnicodeDecodeError:
            pass
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    if charset and not codec and found is not None:
        found.note(f"unknown charset {charset[:40]!r}: decoded as UTF-8 with replacement characters")
    # An undeclared charset defaults to US-ASCII, which would turn every 8-bit byte into
    # U+FFFD; UTF-8 at least keeps the valid sequences.
    fallback = codec if codec and codec != "ascii" else "utf-8"
    return data.decode(fallback, errors="replace")


def _text_codec(charset: str | None) -> str | None:
    if not charset:
        return None
    try:
        info = codecs.lookup(charset)
    except (LookupError, ValueError, TypeError):
        return None
    # codecs.lookup() also finds bytes-to-bytes codecs ("zlib", "base64"): not charsets.
    if not getattr(info, "_is_text_encoding", True):
        return None
    return _SUPERSET_CODECS.get(info.name, info.name)


# --- headers ---------------------------------------------------------------------------


def _clean_text(text: str) -> str:
    """Make parser output safe to store: raw 8-bit bytes (kept by the parser as lone
    surrogates) decoded as UTF-8 with replacement characters, NUL bytes removed."""
    try:
        text = text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    except UnicodeEncodeError:  # surrogates that do not stand for bytes
        text = "".join("\ufffd" if 0xD800 <= ord(ch) <= 0xDFFF else ch for ch in text)
    return text.replace("\x00", "")


def _one_line(text: str) -> str:
    return _WHITESPACE_RE.sub(" ", text).strip()


def _raw_header(msg: Message, name: str) -> str:
    """The first `name` header as it appeared, unfolded, without the header registry.

    Used for headers we interpret ourselves (ids, dates, flags), so a hostile value can
    never reach the registry's parsers.
    """
    wanted = name.lower()
    for key, value in msg.raw_items():
        if key.lower() == wanted:
            return _clean_text(str(value).replace("\r", "").replace("\n", ""))
    return ""


def _decode_words(text: str) -> str:
    """`text` with RFC 2047 encoded words decoded; never raises.

    Our own decoder rather than the header registry: the registry takes quadratic time on
    long headers. Adjacent encoded words in one charset are joined before decoding, since
    mailers split multi-byte characters across words; whitespace between encoded words
    is dropped (RFC 2047 section 6.2). A word that does not decode stays as written.
    """
    out: list[str] = []
    pending = b""
    pending_charset = ""
    position = 0
    for match in _ENCODED_WORD_RE.finditer(text):
        between = text[position : match.start()]
        charset, encoding, payload = match.groups()
        data = _encoded_word_bytes(encoding, payload)
        if data is None:
            continue  # left in place: it is copied with the next stretch of plain text
        if not (pending_charset and not between.strip()):
            out.append(_decode_bytes(pending, pending_charset))
            out.append(between)
            pending, pending_charset = b"", ""
        elif charset.lower() != pending_charset.lower():
            out.append(_decode_bytes(pending, pending_charset))
            pending = b""
        pending += data
        pending_charset = charset
        position = match.end()
    out.append(_decode_bytes(pending, pending_charset))
    out.append(text[position:])
    return _clean_text("".join(out))


def _encoded_word_bytes(encoding: str, payload: str) -> bytes | None:
    data = payload.encode("ascii", "replace")
    try:
        if encoding in "Bb":
            # Strict: the lenient mode skips invalid characters and "decodes" garbage to b"".
            return binascii.a2b_base64(data + b"=" * (-len(data) % 4), strict_mode=True)
        return binascii.a2b_qp(data, header=True)  # Q encoding: "_" is a space
    except (binascii.Error, ValueError):
        return None


def _valid_address(address: str) -> str:
    address = address.strip()
    local, _, _ = address.partition("@")
    if len(address) > 254 or len(local) > 64 or not _ADDRESS_RE.fullmatch(address):
        return ""
    return address.lower()


def _sender(msg: Message) -> tuple[str, str]:
    """(address, display name) from From; the address is "" unless exactly one valid one.

    The header registry is lenient: for `alice@example.com <bob@example.com>` it reports
    alice@example.com, the display name. When it flags the header as invalid we only
    accept a single trailing <angle address>, which is where replies really go. A display
    name containing "@" is dropped: it would show an agent an address that is not the
    sender's.
    """
    address, name = "", ""
    raw_from = _raw_header(msg, "From")
    if not raw_from:
        return "", ""
    simple = _SIMPLE_MAILBOX_RE.fullmatch(raw_from.strip())
    if simple:
        return _valid_address(simple["angle"] or simple["bare"]), simple["name"] or ""
    addresses, trusted = (), False
    if len(raw_from) <= MAX_HEADER_CHARS:  # the registry is slow on very long values
        try:
            header = msg.get("From")
            addresses = header.addresses
            trusted = all(isinstance(defect, _HARMLESS_ADDRESS_DEFECTS) for defect in header.defects)
        except Exception:  # a registry failure is handled like an invalid header
            addresses, trusted = (), False
    if trusted:
        # Several addresses (or none, e.g. a bare group) name no single sender.
        if len(addresses) == 1:
            address = _valid_address(_clean_text(addresses[0].addr_spec))
            name = _clean_text(addresses[0].display_name)
    else:
        match = _ANGLE_ADDR_RE.match(raw_from[:MAX_HEADER_CHARS])
        if match:
            address = _valid_address(match.group("address"))
            name = _decode_words(match.group("name").strip().strip('"'))
    name = _one_line(name)
    if "@" in name:
        name = ""
    return address, name


def _recipient(msg: Message) -> str:
    """The mailbox that received the message: Delivered-To, else the first valid To address."""
    delivered_to = _valid_address(_raw_header(msg, "Delivered-To"))
    raw_to = _raw_header(msg, "To")
    if delivered_to or len(raw_to) > MAX_HEADER_CHARS:
        return delivered_to
    simple = _SIMPLE_MAILBOX_RE.fullmatch(raw_to.strip())
    if simple:
        return _valid_address(simple["angle"] or simple["bare"])
    try:
        header = msg.get("To")
        addresses = header.addresses if header is not None else ()
    except Exception:  # an unparsable To only costs us this convenience field
        return ""
    for candidate in addresses:
        address = _valid_address(_clean_text(candidate.addr_spec))
        if address:
            return address
    return ""


def _message_ids(value: str) -> list[str]:
    """Message ids in `value`, in order, without angle brackets; bare `x@y` tolerated."""
    ids = _ID_IN_BRACKETS_RE.findall(value) or _BARE_ID_RE.findall(value)
    return [_fit_id(message_id) for message_id in ids]


def _fit_id(message_id: str) -> str:
    # Over-long ids become a digest of themselves, so a reply's In-Reply-To still matches.
    if len(message_id) <= MAX_ID_LENGTH:
        return message_id
    return "id-sha256:" + hashlib.sha256(message_id.encode("utf-8")).hexdigest()


def _parse_date(value: str) -> datetime | None:
    """The Date header as an aware UTC datetime; None when it does not parse.

    A date without a zone (or "-0000") is taken as UTC. Dates far in the past or future
    are kept as long as they are representable: judging them is the service's job.
    """
    if not value.strip():
        return None
    try:
        parsed = parsedate_to_datetime(value)
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        return parsed.astimezone(UTC)
    except (ValueError, TypeError, IndexError, OverflowError):
        return None


def _automatic_reason(msg: Message, subject: str) -> str:
    """Why this is machine-sent mail (never starts or stops a clock), or "" for a person."""
    if "x-cstracker-loop" in msg:
        return "loop"
    auto_submitted = _raw_header(msg, "Auto-Submitted").partition(";")[0].strip().lower()
    if auto_submitted and auto_submitted != "no":  # RFC 3834
        return f"auto-submitted: {auto_submitted[:60]}"
    content_type = _content_type(msg)
    if content_type == "multipart/report":
        report_type = _param(msg, "report-type").lower()
        return _REPORT_REASONS.get(report_type, f"report: {report_type[:60]}" if report_type else "report")
    if content_type == "message/delivery-status":
        return "bounce"
    if content_type == "message/disposition-notification":
        return "read receipt"
    if _raw_header(msg, "Return-Path").replace(" ", "") == "<>":
        return "null return path"
    for name in _AUTOREPLY_HEADERS:
        value = _raw_header(msg, name).strip().lower()
        if name in msg and value not in ("no", "false", "0"):
            return name
    for name, marker in _MACHINE_HEADER_VALUES.items():
        if marker in _raw_header(msg, name).lower():
            return name
    if "x-auto-response-suppress" in msg and _AUTO_REPLY_SUBJECT_RE.match(subject):
        return "auto-reply subject"
    for name in ("Precedence", "X-Precedence"):
        precedence = _raw_header(msg, name).strip().lower()
        if precedence in _BULK_PRECEDENCE:
            return f"precedence: {precedence}"
    if "list-id" in msg or "list-unsubscribe" in msg:
        return "list"
    if _DAEMON_SENDER_RE.search(_raw_header(msg, "From")) and _BOUNCE_SUBJECT_RE.search(subject):
        return "bounce"
    return ""


def _param(msg: Message, name: str) -> str:
    try:
        value = msg.get_param(name, header="content-type")
    except Exception:  # an unparsable Content-Type has no usable parameters
        return ""
    return _clean_text(value) if isinstance(value, str) else ""


def _extension(content_type: str) -> str:
    known = _EXTENSIONS.get(content_type) or _MIME_TYPES.guess_extension(content_type)
    return known or (".txt" if content_type.startswith("text/") else ".bin")


# --- reading mail files -----------------------------------------------------------------

_READ_CHUNK = 64 * 1024  # longest piece of a line held at once while streaming an mbox


def iter_mail_source(
    path: Path, *, max_message_bytes: int = MAX_MESSAGE_BYTES
) -> Iterator[tuple[str, bytes | Rejected]]:
    """Yield (label, raw message or Rejected) for every message under `path`.

    `path` may be a single message file, an mbox file (its first line starts with
    "From "), or a folder: every regular file below it in sorted order (a folder's own
    files before its subfolders'), dot-files and dot-folders skipped, each file treated as
    above. The label is the file path, or "path:N" for the N-th message (from 1) of an mbox.
    Over-size messages and unreadable files yield a `Rejected` instead of bytes, and
    reading continues.
    """
    if path.is_dir():
        # Paths as strings: a Path object per file costs more than reading a small message.
        for entry in _entries_below(path):
            yield from _iter_file(entry.path, max_message_bytes)
    else:
        yield from _iter_file(os.fspath(path), max_message_bytes)


def mail_source_size(path: Path) -> int:
    """Bytes in the files `iter_mail_source(path)` reads (files that vanish count 0)."""
    if not path.is_dir():
        return path.stat().st_size
    total = 0
    for entry in _entries_below(path):
        with contextlib.suppress(OSError):
            total += entry.stat().st_size
    return total


def _entries_below(folder: Path | str) -> Iterator[os.DirEntry[str]]:
    # os.scandir's entries know a file from a folder without a stat call each, which a
    # folder of tens of thousands of messages notices; symlinked folders are not entered
    # (as os.walk does), folders that cannot be listed are skipped.
    try:
        with os.scandir(folder) as listing:
            entries = sorted(listing, key=lambda entry: entry.name)
    except OSError:
        return
    subfolders = []
    for entry in entries:
        if entry.name.startswith("."):
            continue
        try:
            if entry.is_dir():
                if not entry.is_symlink():
                    subfolders.append(entry)
            elif entry.is_file():
                yield entry
        except OSError:
            continue
    for subfolder in subfolders:
        yield from _entries_below(subfolder.path)


def _iter_file(path: str, max_message_bytes: int) -> Iterator[tuple[str, bytes | Rejected]]:
    label = path
    try:
        raw = _read_message(path, max_message_bytes)
        if raw is not None and not raw.startswith(b"From "):
            yield label, raw
            return
        # An mbox (streamed, whatever its size) or an over-size message.
        with open(path, "rb") as fh:
            if fh.read(5) == b"From ":
                fh.seek(0)
                yield from _iter_mbox(fh, label, max_message_bytes)
                return
            size = os.fstat(fh.fileno()).st_size
            yield label, Rejected(f"message is {size} bytes, over the {max_message_bytes}-byte limit")
    except OSError as exc:
        yield label, Rejected(f"cannot read {label}: {exc.strerror or exc}")


def _read_message(path: str, limit: int) -> bytes | None:
    """The whole file when it is at most `limit` bytes, else None; None too as soon as its
    first bytes show an mbox, which is then streamed instead of held in memory.

    One open, fstat and read for a small message, without the buffered file object `open()`
    builds, which costs more than reading the message does (a folder of 20,000: 0.4 s
    against 1.0 s).
    """
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_BINARY", 0))
    try:
        size = os.fstat(fd).st_size
        if size > limit:
            return None
        # One byte more than fstat said: a file that grew since shows it at once.
        data = os.read(fd, min(size + 1, _READ_CHUNK))
        if len(data) == size:  # the usual case: all of it at once
            return data
        if data.startswith(b"From "):
            return None
        # A larger message, a short read, or a file that changed since fstat: read to its end.
        chunks, got = [data], len(data)
        while data and got <= limit:
            data = os.read(fd, max(size + 1 - got, _READ_CHUNK))
            chunks.append(data)
            got += len(data)
        return b"".join(chunks) if got <= limit else None
    finally:
        os.close(fd)


def _iter_mbox(fh: BinaryIO, label: str, max_message_bytes: int) -> Iterator[tuple[str, bytes | Rejected]]:
    """Split an mbox stream into messages, holding at most one message in memory.

    A message starts at a line beginning with "From " that follows a blank line (or starts
    the file); that envelope line and the blank line before it are framing, not message.
    mboxrd quoting is undone: ">From ", ">>From "... lose one ">". Lines are read in
    bounded chunks, so one enormous line cannot exhaust memory either.
    """
    number = 0
    chunks: list[bytes] | None = None  # None: no message yet, or the current one is over size
    size = 0
    over_size = False
    at_line_start = True
    previous_blank = True  # the start of the file counts as a blank line
    pending_blank = b""  # a blank line that is framing if a "From " line follows

    def finish() -> tuple[str, bytes | Rejected]:
        if over_size:
            return f"{label}:{number}", Rejected(f"message is over the {max_message_bytes}-byte limit")
        return f"{label}:{number}", b"".join(chunks or ())

    while True:
        piece = fh.readline(_READ_CHUNK)
        if not piece:
            break
        starts_line = at_line_start
        at_line_start = piece.endswith(b"\n")
        if starts_line and previous_blank and piece.startswith(b"From "):
            if number:
                yield finish()
            number += 1
            chunks, size, over_size, pending_blank = [], 0, False, b""
            previous_blank = False
            # Skip the rest of an envelope line longer than one chunk.
            while not at_line_start:
                rest = fh.readline(_READ_CHUNK)
                if not rest:
                    break
                at_line_start = rest.endswith(b"\n")
            continue
        is_blank = starts_line and at_line_start and piece.strip(b"\r\n") == b""
        if starts_line and piece.startswith(b">") and piece.lstrip(b">").startswith(b"From "):
            piece = piece[1:]
        if pending_blank:
            size += _append(chunks, pending_blank, over_size)
            pending_blank = b""
        if is_blank:
            pending_blank = piece
        else:
            size += _append(chunks, piece, over_size)
        if starts_line:
            previous_blank = is_blank
        if not over_size and size > max_message_bytes:
            over_size = True
            chunks = None  # let the memory go; the rest of this message is only counted
    if number:
        yield finish()


def _append(chunks: list[bytes] | None, piece: bytes, over_size: bool) -> int:
    if chunks is not None and not over_size:
        chunks.append(piece)
    return len(piece)
