"""The one shape every ingestion source produces before anything touches the database.

Adapters (API, e-mail files, CSV, IMAP, webhooks) parse their input into an
`IncomingMessage`; the recording engine, `services.record_messages()`, is the only thing
that stores it.
This module imports no Django.
"""

from __future__ import annotations

import base64
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime
from enum import StrEnum
from typing import Any


class Direction(StrEnum):
    INBOUND = "inbound"  # from the customer
    OUTBOUND = "outbound"  # a public reply by us
    NOTE = "note"  # internal note, never seen by the customer


@dataclass(frozen=True, slots=True)
class IncomingAttachment:
    filename: str  # already made safe: no path separators, no control characters
    content_type: str
    size: int
    content: bytes | None = None  # None when the source only gives metadata
    content_id: str = ""
    inline: bool = False


@dataclass(frozen=True, slots=True)
class IncomingMessage:
    external_id: str  # unique per channel (Message-ID, marketplace id, content hash...)
    direction: Direction
    sender_address: str  # normalised (lower-cased) address or marketplace alias; "" if unknown
    sender_name: str = ""
    subject: str = ""
    body_text: str = ""
    body_html: str = ""  # already sanitised by the adapter (nh3); never raw customer HTML
    received_at: datetime | None = None  # our receipt time, aware; None means "now"
    sent_at: datetime | None = None  # the sender's claimed date (e-mail Date header), aware
    automatic: bool = False
    automatic_reason: str = ""  # e.g. "auto-submitted: auto-replied", "bounce", "list"
    thread_id: str = ""  # an explicit conversation id from the source
    in_reply_to: str = ""  # external id of an earlier message
    references: tuple[str, ...] = ()  # e-mail References, oldest first
    order_id: str = ""
    sku: str = ""
    recipient_address: str = ""
    raw: bytes | None = None  # the raw e-mail source, kept for audit
    attachments: tuple[IncomingAttachment, ...] = field(default_factory=tuple)
    # What the adapter had to leave out or guess (parts over a cap, unknown charsets...),
    # for the operator's import log; never shown to the customer.
    notes: tuple[str, ...] = ()
    # The topic the rules gave `topic_text()` where the message was parsed, with the
    # rules' fingerprint (`complaints.rules.topic_hint`); None: classify when storing.
    topic_hint: tuple[str, str] | None = None
    # Where the source says the conversation stood after this message (history from an export
    # or a helpdesk): a status ("solved", "closed", "pending"...) and, for solved or closed, when.
    # The recording engine applies it at `solved_at` (else at the message's time); "" changes nothing.
    status: str = ""
    solved_at: datetime | None = None

    def topic_text(self) -> str:
        """What a new inquiry's topic is decided from."""
        return f"{self.subject}\n{self.body_text}"


class Rejected(Exception):
    """An input item that cannot become a message; `reason` is shown to the operator."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


# --- as JSON, to keep a message for later (held messages) ------------------------------------------

_DATETIMES = ("received_at", "sent_at", "solved_at")
_TUPLES = ("references", "notes")


def incoming_to_json(incoming: IncomingMessage) -> dict[str, Any]:
    """Every field of `incoming` as JSON values: times in ISO 8601 (with their offset, or naive
    as given), bytes in base64, tuples as lists. `incoming_from_json` gives the message back."""
    data = {f.name: getattr(incoming, f.name) for f in fields(IncomingMessage)}
    data["direction"] = str(incoming.direction)
    for name in _DATETIMES:
        data[name] = data[name].isoformat() if data[name] is not None else None
    data["raw"] = _b64(incoming.raw)
    for name in _TUPLES:
        data[name] = list(data[name])
    data["attachments"] = [{**asdict(a), "content": _b64(a.content)} for a in incoming.attachments]
    data["topic_hint"] = list(incoming.topic_hint) if incoming.topic_hint is not None else None
    return data


def incoming_from_json(data: dict[str, Any]) -> IncomingMessage:
    """The message `incoming_to_json` wrote."""
    values = dict(data)
    values["direction"] = Direction(values["direction"])
    for name in _DATETIMES:
        # Messages held before a field existed lack it: its default.
        values[name] = datetime.fromisoformat(values[name]) if values.get(name) is not None else None
    values["raw"] = _unb64(values["raw"])
    for name in _TUPLES:
        values[name] = tuple(values[name])
    values["attachments"] = tuple(
        IncomingAttachment(**{**a, "content": _unb64(a["content"])}) for a in values["attachments"]
    )
    values["topic_hint"] = tuple(values["topic_hint"]) if values["topic_hint"] is not None else None
    return IncomingMessage(**values)


def _b64(value: bytes | None) -> str | None:
    return base64.b64encode(value).decode("ascii") if value is not None else None


def _unb64(value: str | None) -> bytes | None:
    return base64.b64decode(value) if value is not None else None
