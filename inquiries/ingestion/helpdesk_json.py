"""Parse helpdesk ticket exports in JSON (Zendesk, Freshdesk, Gorgias) into `IncomingMessage`s.

One ticket (a "record") becomes its messages in time order: the customer's as inbound, the
agents' public ones as outbound, private ones as notes. Every message of a ticket carries
the ticket as its `thread_id`, so replies attach to it whatever order they come in; the
ticket's last message carries its status and, for solved or closed tickets, when.

The file is read as a stream (ijson): one ticket in memory at a time, so an export of any
size reads in constant memory. `parse_export()` yields (label, IncomingMessage or Rejected),
the label naming the record by its position in the file ("record 3 (ticket 812)"), as the
CSV import names a line. A file that stops being valid JSON ends with a `Rejected` naming
the record where it broke; what came before it stands. Pure: no Django.

Shapes (what each vendor's API returns; see docs/importing.md):
- zendesk: the incremental ticket export, `{"tickets": [...], "users": [...]}`; each ticket
  with `comments` (the comments sideload: `id`, `author_id`, `public`, `plain_body` or `body`,
  `html_body`, `created_at`); its status new/open/pending/hold/solved/closed; the requester is
  `requester_id`, whose `users` entry (if present, anywhere in the file) gives the address;
  the solved time is `metric_set.solved_at`, else `updated_at`.
- freshdesk: a list of tickets as `GET /api/v2/tickets/{id}?include=conversations,requester,stats`
  returns each (or `{"tickets": [...]}`): the ticket's `description_text` is its first message,
  `conversations` (`incoming`, `private`, `body_text`, `body`, `created_at`, `from_email`) the
  rest; status 2 open, 3 pending, 4 resolved (solved), 5 closed, with `stats.resolved_at`,
  `stats.closed_at`.
- gorgias: `{"data": [...]}` (or a list) of tickets with `messages` (`from_agent`, `public`,
  `sender` {email, name}, `body_text`, `body_html`, `created_datetime`); ticket status
  open/closed, with `closed_datetime`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, BinaryIO

import ijson

from inquiries.ingestion.addresses import sender_error
from inquiries.ingestion.csv_import import MAX_BODY_BYTES, MAX_LENGTHS, shown
from inquiries.ingestion.email import find_order_id
from inquiries.ingestion.html import html_to_text, sanitize_html
from inquiries.ingestion.types import Direction, IncomingMessage, Rejected

Record = dict[str, Any]


@dataclass(frozen=True)
class Shape:
    """One vendor's export: where its tickets are and how one becomes messages."""

    name: str
    tickets_key: str  # the top-level key of the ticket list when the file is an object
    messages: Callable[[Record, dict[str, str]], list[IncomingMessage]]
    users_key: str = ""  # a top-level list of people read first for their addresses (Zendesk)


def parse_export(stream: BinaryIO, shape: Shape) -> Iterator[tuple[str, IncomingMessage | Rejected]]:
    """(label, message or Rejected) for every message of every ticket in `stream`, in file order.

    `stream` is binary and seekable (it is read twice when the shape has a users list). A
    ticket that cannot be read yields one `Rejected` for the whole ticket with every reason,
    so a ticket never comes in half. Raises `ValueError` (on iteration, before any message)
    when the file holds no ticket at all: not JSON, empty, or another vendor's shape.
    """
    start = stream.tell()
    users = _users(stream, shape) if shape.users_key else {}
    stream.seek(start)
    prefix = _tickets_prefix(stream, shape)
    stream.seek(start)
    return _messages(stream, shape, prefix, users)


def _tickets_prefix(stream: BinaryIO, shape: Shape) -> str:
    head = stream.read(4096).lstrip(b"\xef\xbb\xbf \t\r\n")
    if head.startswith(b"["):
        return "item"
    if head.startswith(b"{"):
        return f"{shape.tickets_key}.item"
    raise ValueError(
        f"not a {shape.name} JSON export: expected a list of tickets or an object with {shape.tickets_key!r}"
    )


def _users(stream: BinaryIO, shape: Shape) -> dict[str, str]:
    """User id -> e-mail address, from the export's users list (only ids and addresses kept)."""
    found: dict[str, str] = {}
    try:
        for user in ijson.items(stream, f"{shape.users_key}.item"):
            if isinstance(user, dict) and user.get("id") is not None and user.get("email"):
                found[_id(user["id"])] = str(user["email"]).strip().lower()
    except ijson.JSONError:
        pass  # reported with its record number when the tickets are read
    return found


def _messages(
    stream: BinaryIO, shape: Shape, prefix: str, users: dict[str, str]
) -> Iterator[tuple[str, IncomingMessage | Rejected]]:
    index = 0
    try:
        for index, ticket in enumerate(ijson.items(stream, prefix, use_float=True), 1):
            label = f"record {index}"
            if not isinstance(ticket, dict):
                yield label, Rejected(f"not a ticket object: {shown(str(ticket))}")
                continue
            if ticket.get("id") is not None:
                label += f" (ticket {_id(ticket['id'])})"
            try:
                messages = shape.messages(ticket, users)
            except Rejected as exc:
                yield label, exc
                continue
            for message in messages:
                yield label, message
    except ijson.JSONError as exc:
        yield (
            f"record {index + 1}",
            Rejected(f"the file stops being valid JSON here ({exc}); nothing after it was read"),
        )
        return
    if index == 0:
        raise ValueError(
            f"no tickets in this file at {prefix.removesuffix('.item') or 'the top level'} "
            f"(an empty export, or not {shape.name}'s shape?)"
        )


# --- shared helpers ---------------------------------------------------------------------------------


def _id(value: object) -> str:
    """An id as text: JSON numbers come as int or Decimal; "12.0" never appears in JSON ids."""
    if isinstance(value, float | Decimal) and value == int(value):
        return str(int(value))
    return str(value).strip()


def _time(value: object, field: str, errors: list[str]) -> datetime | None:
    """An ISO 8601 timestamp with an offset as aware UTC; an error appended otherwise."""
    if value in (None, ""):
        errors.append(f"{field}: required")
        return None
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        errors.append(f"{field}: not an ISO 8601 timestamp: {shown(str(value))}")
        return None
    if parsed.tzinfo is None:
        errors.append(f"{field}: no UTC offset: {shown(str(value))}")
        return None
    return parsed.astimezone(UTC)


def _optional_time(value: object, field: str, errors: list[str]) -> datetime | None:
    return None if value in (None, "") else _time(value, field, errors)


def _text(value: object) -> str:
    return "" if value is None else str(value)


@dataclass
class _Draft:
    """One message of a ticket before the ticket's status is put on its last one."""

    external_id: str
    direction: Direction
    sender_address: str
    sender_name: str
    body_text: str
    body_html: str
    received_at: datetime | None


def _draft(
    *,
    where: str,
    external_id: str,
    direction: Direction,
    sender: str,
    name: str,
    text: str,
    html: str,
    at: object,
    errors: list[str],
) -> _Draft | None:
    """A message of a ticket checked like a CSV row; its errors appended with `where` in front."""
    mine: list[str] = []
    received_at = _time(at, "created_at", mine)
    sender = sender.strip().lower()
    problem = sender_error(sender)
    if problem:
        mine.append(f"sender: {problem}: {shown(sender)}")
    if len(external_id) > MAX_LENGTHS["external_id"]:
        mine.append(f"id: longer than {MAX_LENGTHS['external_id']} characters")
    for field, value in (("body_text", text), ("body_html", html)):
        if len(value.encode("utf-8", "replace")) > MAX_BODY_BYTES:
            mine.append(f"{field}: larger than {MAX_BODY_BYTES // 1024} KiB")
    errors.extend(f"{where}: {error}" for error in mine)
    if mine:
        return None
    clean_html = sanitize_html(html) if html else ""
    if not text.strip() and html:
        text = html_to_text(html)
    return _Draft(
        external_id=external_id,
        direction=direction,
        sender_address=sender,
        sender_name=name.strip()[: MAX_LENGTHS["sender_name"]],
        body_text=text.replace("\x00", ""),
        body_html=clean_html,
        received_at=received_at,
    )


def _ticket_messages(
    *,
    ticket_id: str,
    subject: str,
    drafts: list[_Draft],
    status: str,
    solved_at: datetime | None,
    errors: list[str],
) -> list[IncomingMessage]:
    """The ticket's messages in time order, its status on the last; `Rejected` with every error."""
    if not ticket_id:
        errors.insert(0, "id: required")
    if not drafts and not errors:
        errors.append("no messages")
    if errors:
        raise Rejected("; ".join(errors))
    drafts.sort(key=lambda d: (d.received_at or datetime.min.replace(tzinfo=UTC), d.external_id))
    thread = ticket_id[: MAX_LENGTHS["thread_id"]]
    subject = subject.strip()[: MAX_LENGTHS["subject"]]
    last = len(drafts) - 1
    last_at = drafts[last].received_at
    if solved_at is not None and last_at is not None and solved_at < last_at:
        # Helpdesks stamp a solved time from their own metrics; a last comment added in the same
        # update can carry a later time. The ticket was solved no earlier than its last message.
        solved_at = last_at
    messages = []
    for position, draft in enumerate(drafts):
        closing = position == last
        messages.append(
            IncomingMessage(
                external_id=draft.external_id,
                direction=draft.direction,
                sender_address=draft.sender_address,
                sender_name=draft.sender_name,
                subject=subject,
                body_text=draft.body_text,
                body_html=draft.body_html,
                received_at=draft.received_at,
                thread_id=thread,
                order_id=find_order_id(subject, draft.body_text)
                if draft.direction == Direction.INBOUND
                else "",
                status=status if closing else "",
                solved_at=solved_at if closing and status in ("solved", "closed") else None,
            )
        )
    return messages


# --- Zendesk ------------------------------------------------------------------------------------------

_ZENDESK_STATUSES = {
    "new": "new",
    "open": "open",
    "pending": "pending",
    "hold": "pending",
    "solved": "solved",
    "closed": "closed",
}


def _zendesk(ticket: Record, users: dict[str, str]) -> list[IncomingMessage]:
    errors: list[str] = []
    ticket_id = _id(ticket.get("id") or "")
    requester = _id(ticket.get("requester_id") or "")
    status = _status(ticket.get("status"), _ZENDESK_STATUSES, errors)
    drafts = []
    for number, comment in enumerate(ticket.get("comments") or [], 1):
        if not isinstance(comment, dict):
            errors.append(f"comment {number}: not an object")
            continue
        author = _id(comment.get("author_id") or "")
        public = comment.get("public", True) is not False
        direction = (
            Direction.INBOUND
            if author and author == requester
            else Direction.OUTBOUND
            if public
            else Direction.NOTE
        )
        draft = _draft(
            where=f"comment {number}",
            external_id=f"zendesk-comment-{_id(comment.get('id') or f'{ticket_id}-{number}')}",
            direction=direction,
            sender=users.get(author) or (f"zendesk-user-{author}" if author else ""),
            name="",
            text=_text(comment.get("plain_body") or comment.get("body")),
            html=_text(comment.get("html_body")),
            at=comment.get("created_at"),
            errors=errors,
        )
        if draft is not None:
            drafts.append(draft)
    solved_at = None
    if status in ("solved", "closed"):
        metrics = _mapping(ticket.get("metric_set"))
        solved_at = _optional_time(metrics.get("solved_at") or ticket.get("updated_at"), "solved_at", errors)
    return _ticket_messages(
        ticket_id=f"zendesk-{ticket_id}" if ticket_id else "",
        subject=_text(ticket.get("subject")),
        drafts=drafts,
        status=status,
        solved_at=solved_at,
        errors=errors,
    )


def _status(value: object, known: dict[str, str], errors: list[str]) -> str:
    if value in (None, ""):
        return ""
    found = known.get(str(value).strip().lower())
    if found is None:
        errors.append(f"status: not one of {', '.join(map(str, known))}: {shown(str(value))}")
        return ""
    return found


# --- Freshdesk ----------------------------------------------------------------------------------------

_FRESHDESK_STATUSES = {"2": "open", "3": "pending", "4": "solved", "5": "closed"}


def _freshdesk(ticket: Record, users: dict[str, str]) -> list[IncomingMessage]:
    errors: list[str] = []
    ticket_id = _id(ticket.get("id") or "")
    status = _status(
        _id(ticket["status"]) if ticket.get("status") is not None else None, _FRESHDESK_STATUSES, errors
    )
    requester = _mapping(ticket.get("requester"))
    requester_id = _id(ticket.get("requester_id") or requester.get("id") or "")
    requester_address = _text(requester.get("email")) or (
        f"freshdesk-contact-{requester_id}" if requester_id else ""
    )
    drafts = []
    first = _draft(
        where="description",
        external_id=f"freshdesk-ticket-{ticket_id}",
        direction=Direction.INBOUND,
        sender=requester_address,
        name=_text(requester.get("name")),
        text=_text(ticket.get("description_text")),
        html=_text(ticket.get("description")),
        at=ticket.get("created_at"),
        errors=errors,
    )
    if first is not None:
        drafts.append(first)
    for number, reply in enumerate(ticket.get("conversations") or [], 1):
        if not isinstance(reply, dict):
            errors.append(f"conversation {number}: not an object")
            continue
        draft = _freshdesk_conversation(reply, number, ticket_id, requester_address, errors)
        if draft is not None:
            drafts.append(draft)
    solved_at = None
    if status in ("solved", "closed"):
        stats = _mapping(ticket.get("stats"))
        solved_at = _optional_time(
            stats.get("resolved_at") or stats.get("closed_at") or ticket.get("updated_at"),
            "solved_at",
            errors,
        )
    return _ticket_messages(
        ticket_id=f"freshdesk-{ticket_id}" if ticket_id else "",
        subject=_text(ticket.get("subject")),
        drafts=drafts,
        status=status,
        solved_at=solved_at,
        errors=errors,
    )


def _freshdesk_conversation(
    reply: Record, number: int, ticket_id: str, requester_address: str, errors: list[str]
) -> _Draft | None:
    """A reply, note or customer's message of the ticket: its `number`th conversation."""
    incoming = reply.get("incoming") is True
    private = reply.get("private") is True
    direction = Direction.NOTE if private else Direction.INBOUND if incoming else Direction.OUTBOUND
    user = _id(reply.get("user_id") or "")
    sender = _text(reply.get("from_email")) or (
        requester_address if incoming else f"freshdesk-agent-{user}" if user else ""
    )
    return _draft(
        where=f"conversation {number}",
        external_id=f"freshdesk-conversation-{_id(reply.get('id') or f'{ticket_id}-{number}')}",
        direction=direction,
        sender=_address_of(sender),
        name="",
        text=_text(reply.get("body_text")),
        html=_text(reply.get("body")),
        at=reply.get("created_at"),
        errors=errors,
    )


def _address_of(value: str) -> str:
    """ "Jane <jane@example.com>" (Freshdesk's from_email) as the bare address."""
    value = value.strip()
    if value.endswith(">") and "<" in value:
        return value[value.rindex("<") + 1 : -1]
    return value


# --- Gorgias ------------------------------------------------------------------------------------------

_GORGIAS_STATUSES = {"open": "open", "closed": "closed"}


def _gorgias(ticket: Record, users: dict[str, str]) -> list[IncomingMessage]:
    errors: list[str] = []
    ticket_id = _id(ticket.get("id") or "")
    status = _status(ticket.get("status"), _GORGIAS_STATUSES, errors)
    drafts = []
    for number, message in enumerate(ticket.get("messages") or [], 1):
        if not isinstance(message, dict):
            errors.append(f"message {number}: not an object")
            continue
        sender = _mapping(message.get("sender"))
        from_agent = message.get("from_agent") is True
        public = message.get("public", True) is not False and message.get("channel") != "internal-note"
        direction = Direction.NOTE if not public else Direction.OUTBOUND if from_agent else Direction.INBOUND
        sender_id = _id(sender.get("id") or "")
        draft = _draft(
            where=f"message {number}",
            external_id=f"gorgias-message-{_id(message.get('id') or f'{ticket_id}-{number}')}",
            direction=direction,
            sender=_text(sender.get("email")) or (f"gorgias-user-{sender_id}" if sender_id else ""),
            name=_text(sender.get("name")),
            text=_text(message.get("body_text") or message.get("stripped_text")),
            html=_text(message.get("body_html")),
            at=message.get("created_datetime") or message.get("sent_datetime"),
            errors=errors,
        )
        if draft is not None:
            drafts.append(draft)
    solved_at = None
    if status == "closed":
        solved_at = _optional_time(
            ticket.get("closed_datetime") or ticket.get("updated_datetime"), "closed_datetime", errors
        )
    return _ticket_messages(
        ticket_id=f"gorgias-{ticket_id}" if ticket_id else "",
        subject=_text(ticket.get("subject")),
        drafts=drafts,
        status=status,
        solved_at=solved_at,
        errors=errors,
    )


JSON_SHAPES = {
    "zendesk-json": Shape("Zendesk", "tickets", _zendesk, users_key="users"),
    "freshdesk-json": Shape("Freshdesk", "tickets", _freshdesk),
    "gorgias-json": Shape("Gorgias", "data", _gorgias),
}


def _mapping(value: object) -> dict[str, Any]:
    """`value` when the export gave an object there, else an empty one (a missing or odd field)."""
    return value if isinstance(value, dict) else {}
