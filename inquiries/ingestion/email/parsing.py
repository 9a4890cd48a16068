"""Parse one raw e-mail (RFC 5322 / MIME) into an `IncomingMessage`.

`parse_email()` turns one message into an `IncomingMessage` or raises `Rejected`; it never raises
anything else, whatever the bytes. Standard library `email` with `policy.default` (each header
parsed once, `_ParsedMessage`), nh3 through `ingestion/html.py`; no Django.
"""

from __future__ import annotations

import functools
import hashlib
import re
from dataclasses import replace
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import EmailPolicy
from email.utils import parsedate_to_datetime
from typing import cast

from inquiries.ingestion.email.automatic import automatic_reason_of
from inquiries.ingestion.email.bodies import walk_parts
from inquiries.ingestion.email.guards import (
    MAX_DEPTH,
    MAX_HEADER_CHARS,
    MAX_MESSAGE_BYTES,
    MAX_PARTS,
    MAX_REFERENCES,
    check_parse_cost,
    starts_with_header,
)
from inquiries.ingestion.email.senders import recipient_of, sender_of
from inquiries.ingestion.email.text import decode_words, one_line, raw_header
from inquiries.ingestion.email.thread_ids import message_ids_in
from inquiries.ingestion.html import bound_html, html_to_text, sanitize_html
from inquiries.ingestion.relay_mail import amazon_reference, find_reference
from inquiries.ingestion.types import Direction, IncomingMessage, Rejected

# Headers of which at least one appears in anything that is really an e-mail.
_MESSAGE_HEADERS = (
    "from", "sender", "to", "cc", "subject", "date", "message-id", "received", "return-path",
    "delivered-to", "mime-version", "content-type", "in-reply-to", "references",
)  # fmt: skip


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

    def add_header(
        self, _name: str, _value: str, **_params: str | tuple[str, str | None, str] | None
    ) -> None:
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
def _shared_header(name: str, value: str) -> str:
    return policy.default.header_fetch_parse(name, value)


class _ParsePolicy(EmailPolicy):
    def header_fetch_parse(self, name: str, value: str) -> str:  # a header object: a str subclass
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
    if not starts_with_header(raw):
        raise Rejected("not an e-mail: the first line is not a header field")
    check_parse_cost(raw)
    try:
        # The policy's message factory makes EmailMessages (typeshed types the result as Message).
        msg = cast(EmailMessage, BytesParser(policy=_PARSE_POLICY).parsebytes(raw.lstrip(b"\r\n")))
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


def _build(
    msg: EmailMessage, raw: bytes, *, received_at: datetime | None, max_depth: int, max_parts: int
) -> IncomingMessage:
    parts = walk_parts(msg, max_depth=max_depth, max_parts=max_parts)
    html = parts.html or ""
    if html:
        bounded = bound_html(html)
        html = bounded.html
        for note in bounded.notes:
            parts.note(note)
    body_text = parts.plain or ""
    if not body_text.strip() and html:
        body_text = html_to_text(html)
    subject = one_line(decode_words(raw_header(msg, "Subject")[:MAX_HEADER_CHARS]))
    sender_address, sender_name = sender_of(msg)
    message_ids = message_ids_in(raw_header(msg, "Message-ID"))
    references = message_ids_in(raw_header(msg, "References"))
    in_reply_to = message_ids_in(raw_header(msg, "In-Reply-To"))
    automatic_reason = automatic_reason_of(msg, subject)
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
        sent_at=_parse_date(raw_header(msg, "Date")),
        automatic=bool(automatic_reason),
        automatic_reason=automatic_reason,
        in_reply_to=in_reply_to[0] if in_reply_to else "",
        references=tuple(dict.fromkeys(references))[-MAX_REFERENCES:],
        order_id=reference.order_id,
        sku=reference.item,
        recipient_address=recipient_of(msg),
        raw=raw,
        attachments=tuple(parts.attachments),
        notes=tuple(parts.notes),
    )


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
