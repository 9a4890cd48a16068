"""Parse Freshdesk's ticket export in CSV (Tickets > Export) into `IncomingMessage`s.

The CSV export has one row per ticket and none of its conversation: its columns are the
ticket's fields (see docs/importing.md). A row becomes what it can honestly say:
- the customer's opening message: the ticket's `Description` at `Created time`, from
  `Email` (else the alias `freshdesk-contact-<Contact ID>`), named `Full name`;
- where the export carries when the ticket was first answered (`Initial response time`, or
  `First response time (in hrs)` after `Created time`), the agent's first reply at that
  time, so the first-reply clock stops where it stopped in Freshdesk; its text is not in the
  export, and the message says so;
- the ticket's status on the later of the two; a resolved or closed ticket comes in solved
  or closed at `Resolved time` (else `Closed time`, else `Last update time`).

Both messages carry the ticket as their thread (`freshdesk-<Ticket ID>`), the opening
message the id the JSON preset gives it (`freshdesk-ticket-<id>`), so a re-run, or the JSON
export of the same ticket, stores it once. A row with any error yields one `Rejected` with
every error, so no ticket comes in half. Timestamps are read as the CSV import reads them
(Freshdesk writes "2024-03-05 14:22:10" in the account's time zone: pass it as `default_tz`).
Pure: no Django.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import replace
from datetime import datetime, timedelta
from typing import TextIO
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from inquiries.ingestion.addresses import sender_error
from inquiries.ingestion.csv_import import (
    MAX_BODY_BYTES,
    MAX_LENGTHS,
    Reading,
    messages_of,
    normal_header,
    read_rows,
    read_timestamp,
    shown,
)
from inquiries.ingestion.email import find_order_id
from inquiries.ingestion.limits import CONTROL_RE
from inquiries.ingestion.types import Direction, IncomingMessage, Rejected

# Our name for each column read -> Freshdesk's header in an English-language account's export.
COLUMNS = {
    "ticket_id": "Ticket ID",
    "subject": "Subject",
    "description": "Description",
    "status": "Status",
    "full_name": "Full name",
    "email": "Email",
    "contact_id": "Contact ID",
    "agent": "Agent",
    "created_at": "Created time",
    "first_response_at": "Initial response time",
    "first_response_hours": "First response time (in hrs)",
    "resolved_at": "Resolved time",
    "closed_at": "Closed time",
    "updated_at": "Last update time",
}
FIELDS = tuple(COLUMNS)
REQUIRED_FIELDS = ("ticket_id", "created_at")

# Freshdesk's built-in statuses (as the export writes them, or as the API's codes) -> ours.
# "Waiting on Customer" is Freshdesk's own pending-on-the-customer status; other custom
# statuses mean what each account made them mean: map them with --map-values.
STATUSES = {
    "open": "open",
    "pending": "pending",
    "resolved": "solved",
    "closed": "closed",
    "waiting on customer": "pending",
    "2": "open",
    "3": "pending",
    "4": "solved",
    "5": "closed",
}
FIRST_RESPONSE_TEXT = "(First reply sent in Freshdesk. The ticket export does not include its text.)"
_HOURS_RE = re.compile(
    r"^(?:(?P<decimal>\d+(?:\.\d+)?)|(?P<hours>\d+):(?P<minutes>[0-5]\d)(?::(?P<seconds>[0-5]\d))?)$"
)
_FLOAT_ID_RE = re.compile(r"^(\d+)\.0+$")


def parse_freshdesk_csv(
    stream: TextIO | Iterable[str],
    *,
    mapping: dict[str, str] | None = None,
    default_tz: str = "UTC",
    reading: Reading | None = None,
) -> Iterator[tuple[int, IncomingMessage | Rejected]]:
    """(line number, message or Rejected) for every ticket row: one or two messages, or one `Rejected`.

    `mapping` overrides `COLUMNS` (our field -> their header), for an export in another
    language. Columns the file lacks are read as empty, except `Ticket ID` and `Created
    time` and any column the mapping names. Raises `ValueError` before yielding anything
    for an empty file, a missing column, a header that appears twice, an unknown zone.
    """
    try:
        zone = ZoneInfo(default_tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"default_tz: unknown time zone {default_tz!r}") from None
    mapping = mapping or {}
    unknown = sorted(set(mapping) - set(FIELDS))
    if unknown:
        raise ValueError(f"mapping: unknown field(s) {', '.join(unknown)}; known: {', '.join(FIELDS)}")
    header, rows = read_rows(stream)
    columns = _columns(header, mapping)
    reading = reading or Reading()
    return messages_of(rows, lambda row: _ticket(row, columns, len(header), zone, reading))


def _columns(header: list[str], mapping: dict[str, str]) -> dict[str, tuple[int, str]]:
    """Our field -> (column index, their header) for every field the file has."""
    positions: dict[str, int] = {}
    for index, name in enumerate(header):
        key = normal_header(name)
        if key in positions:
            raise ValueError(f"column {name.strip()!r} appears more than once in the header")
        positions[key] = index
    columns: dict[str, tuple[int, str]] = {}
    missing = []
    for field, default in COLUMNS.items():
        their = mapping.get(field, default)
        if normal_header(their) in positions:
            columns[field] = (positions[normal_header(their)], their.strip())
        elif field in REQUIRED_FIELDS or field in mapping:
            missing.append(f"{their!r} (for {field})")
    if missing:
        raise ValueError(f"missing column(s): {', '.join(missing)}; the header has: {', '.join(header)}")
    return columns


class _TicketRow:
    """One ticket row's cells by our field names; `errors` collects what reading them found wrong."""

    def __init__(
        self, row: list[str], columns: dict[str, tuple[int, str]], zone: ZoneInfo, reading: Reading
    ) -> None:
        self.row, self.columns, self.zone, self.reading = row, columns, zone, reading
        self.errors: list[str] = []

    def label(self, field: str) -> str:
        return f"{field} (column {self.columns[field][1]!r})"

    def value(self, field: str) -> str:
        index = self.columns[field][0] if field in self.columns else None
        cell = self.row[index] if index is not None and index < len(self.row) else ""
        return cell if field == "description" else cell.strip()

    def timestamp(self, field: str) -> datetime | None:
        if not self.value(field):
            return None
        try:
            return read_timestamp(self.value(field), self.zone, self.reading)
        except ValueError as exc:
            self.errors.append(f"{self.label(field)}: {exc}")
            return None


def _ticket(
    row: list[str], columns: dict[str, tuple[int, str]], width: int, zone: ZoneInfo, reading: Reading
) -> list[IncomingMessage]:
    """The row's messages in time order, the status on the last; `Rejected` with every error."""
    if any(cell.strip() for cell in row[width:]):
        raise Rejected(f"expected {width} fields, found {len(row)} (a stray delimiter or quote?)")
    cells = _TicketRow(row, columns, zone, reading)
    ticket_id = _ticket_id(cells)
    subject = cells.value("subject")
    if len(subject) > MAX_LENGTHS["subject"]:
        cells.errors.append(
            f"{cells.label('subject')}: longer than {MAX_LENGTHS['subject']} characters ({len(subject)})"
        )
    description = cells.value("description")
    if len(description.encode("utf-8", "replace")) > MAX_BODY_BYTES:
        cells.errors.append(f"{cells.label('description')}: larger than {MAX_BODY_BYTES // 1024} KiB")
    status = _status(cells.value("status"), reading, cells.errors, cells.label)
    address = _customer_address(cells)
    created_at, first_at, solved_at = _times(cells, status)
    if cells.errors:
        raise Rejected("; ".join(cells.errors))

    thread = f"freshdesk-{ticket_id}"
    messages = [
        IncomingMessage(
            external_id=f"freshdesk-ticket-{ticket_id}",
            direction=Direction.INBOUND,
            sender_address=address,
            sender_name=cells.value("full_name")[: MAX_LENGTHS["sender_name"]],
            subject=subject,
            body_text=description,
            received_at=created_at,
            thread_id=thread,
            order_id=find_order_id(subject, description),
        )
    ]
    if first_at is not None:
        messages.append(
            IncomingMessage(
                external_id=f"freshdesk-first-response-{ticket_id}",
                direction=Direction.OUTBOUND,
                sender_address="",
                sender_name=cells.value("agent")[: MAX_LENGTHS["sender_name"]],
                subject=subject,
                body_text=FIRST_RESPONSE_TEXT,
                received_at=first_at,
                thread_id=thread,
            )
        )
    last = messages[-1]
    if solved_at is not None and last.received_at is not None and solved_at < last.received_at:
        # A ticket resolved before its recorded first response (answered after resolving):
        # it was solved no earlier than its last message, as the JSON presets read it.
        solved_at = last.received_at
    messages[-1] = replace(last, status=status, solved_at=solved_at)
    return messages


def _ticket_id(cells: _TicketRow) -> str:
    ticket_id = cells.value("ticket_id")
    if cells.reading.integer_ids:
        ticket_id = _FLOAT_ID_RE.sub(r"\1", ticket_id)
    if not ticket_id:
        cells.errors.append(f"{cells.label('ticket_id')}: required")
    elif CONTROL_RE.search(ticket_id) or len(ticket_id) > MAX_LENGTHS["thread_id"] - len("freshdesk-ticket-"):
        cells.errors.append(f"{cells.label('ticket_id')}: not a ticket id: {shown(ticket_id)}")
    return ticket_id


def _customer_address(cells: _TicketRow) -> str:
    """The requester's e-mail address; failing that, one made of the Freshdesk contact id."""
    address = cells.value("email").lower()
    if not address and cells.value("contact_id"):
        address = "freshdesk-contact-" + _FLOAT_ID_RE.sub(r"\1", cells.value("contact_id"))
    problem = sender_error(address)
    if problem:
        field = "email" if cells.value("email") else "contact_id"
        cells.errors.append(f"{cells.label(field)}: {problem}: {shown(address)}")
    return address


def _times(cells: _TicketRow, status: str) -> tuple[datetime | None, datetime | None, datetime | None]:
    """When the ticket was created, first answered and (when solved or closed) solved."""
    created_at = cells.timestamp("created_at")
    if "created_at" in cells.columns and not cells.value("created_at"):
        cells.errors.append(f"{cells.label('created_at')}: empty (a timestamp is required)")
    first_at = cells.timestamp("first_response_at")
    if first_at is None and cells.value("first_response_hours") and created_at is not None:
        first_at = _after(
            created_at, cells.value("first_response_hours"), cells.label("first_response_hours"), cells.errors
        )
    if first_at is not None and created_at is not None and first_at < created_at:
        cells.errors.append(f"{cells.label('first_response_at')}: before the ticket was created")
    solved_at = None
    if status in ("solved", "closed"):
        solved_at = (
            cells.timestamp("resolved_at") or cells.timestamp("closed_at") or cells.timestamp("updated_at")
        )
        if solved_at is not None and created_at is not None and solved_at < created_at:
            cells.errors.append(
                f"solved or closed time: before the ticket was created ({solved_at:%Y-%m-%d %H:%M} UTC)"
            )
    return created_at, first_at, solved_at


def _status(value: str, reading: Reading, errors: list[str], label: Callable[[str], str]) -> str:
    if not value:
        return ""
    mapped = reading.value_maps.get("status", {}).get(value.casefold())
    if mapped is not None:
        if mapped.lower() not in ("new", "open", "pending", "solved", "closed"):
            errors.append(f"status: --map-values gives {mapped!r}, not new, open, pending, solved or closed")
            return ""
        return mapped.lower()
    found = STATUSES.get(value.casefold())
    if found is None:
        errors.append(
            f"{label('status')}: not a Freshdesk status this import knows (Open, Pending, Resolved, Closed, "
            f'Waiting on Customer): {shown(value)}; say what it means with --map-values "status:{value}=pending"'
        )
        return ""
    return found


def _after(start: datetime, hours: str, label: str, errors: list[str]) -> datetime | None:
    """`start` plus a duration written as decimal hours ("1.5") or H:MM[:SS] ("1:30")."""
    match = _HOURS_RE.match(hours)
    if match is None:
        errors.append(f"{label}: not a number of hours (1.5 or 1:30): {shown(hours)}")
        return None
    if match["decimal"] is not None:
        return start + timedelta(hours=float(match["decimal"]))
    return start + timedelta(
        hours=int(match["hours"]), minutes=int(match["minutes"]), seconds=int(match["seconds"] or 0)
    )
