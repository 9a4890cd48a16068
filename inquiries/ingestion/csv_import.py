"""Parse marketplace and helpdesk CSV exports into `IncomingMessage`s.

One row is one message. `parse_csv()` yields each row's physical line number with either
an `IncomingMessage` or a `Rejected` naming the field (and the file's column) at fault, so
an import can report every bad row and go on. Named after its job, not `csv`, so it does
not shadow the standard library module. Pure: no Django.

Our field names (the "cstracker" columns): external_id (required), direction
(inbound/outbound/note, default inbound), sender_address, sender_name, subject, body_text
(or "body"), body_html, received_at, thread_id, in_reply_to, order_id, sku, automatic.
A `mapping` renames: our field -> their column header.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, TextIO
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from inquiries.ingestion.addresses import sender_error
from inquiries.ingestion.email import find_order_id
from inquiries.ingestion.html import html_to_text, sanitize_html
from inquiries.ingestion.types import Direction, IncomingMessage, Rejected

if TYPE_CHECKING:
    from _csv import _reader

FIELDS = (
    "external_id", "direction", "sender_address", "sender_name", "subject", "body_text", "body_html",
    "received_at", "thread_id", "in_reply_to", "order_id", "sku", "automatic",
)  # fmt: skip
REQUIRED_FIELDS = ("external_id",)
# Alternative column names looked up when a field is not mapped explicitly.
ALIASES = {"body_text": ("body",)}

# Limits in characters, from the database columns (ids, names) and RFC 5322 (subject).
MAX_LENGTHS = {
    "external_id": 255,
    "thread_id": 255,
    "in_reply_to": 255,
    "sender_address": 320,
    "sender_name": 200,
    "subject": 998,
    "order_id": 100,
    "sku": 100,
}
MAX_BODY_BYTES = 1024 * 1024  # body_text and body_html, UTF-8 encoded
# The csv module refuses fields over 128 KiB by default; allow more than MAX_BODY_BYTES so
# an over-long body is reported as such, while a runaway field (an unclosed quote) still
# stops at a bound.
CSV_FIELD_LIMIT = 8 * 1024 * 1024

CSV_PRESETS: dict[str, dict[str, str]] = {
    # Our own column names.
    "cstracker": {name: name for name in FIELDS},
    # Examples of how a marketplace or helpdesk export maps; the header names are plausible
    # guesses, not a published format: adjust them to the file in hand.
    "amazon": {
        "external_id": "Message ID",
        "order_id": "Order ID",
        "sender_name": "Buyer Name",
        "sender_address": "Buyer Email",
        "subject": "Subject",
        "body_text": "Message",
        "received_at": "Date",
        "direction": "Direction",
    },
    "zendesk": {
        "external_id": "Id",
        "thread_id": "Id",
        "subject": "Subject",
        "sender_name": "Requester",
        "sender_address": "Requester email",
        "body_text": "Description",
        "received_at": "Created at",
    },
}

_DIRECTIONS = {
    **dict.fromkeys(("inbound", "in", "incoming", "received", "customer", "buyer"), Direction.INBOUND),
    **dict.fromkeys(("outbound", "out", "outgoing", "sent", "agent", "seller", "reply"), Direction.OUTBOUND),
    **dict.fromkeys(("note", "internal"), Direction.NOTE),
}
_BOOLEANS = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False, "": False}
_HAS_TIME_RE = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}")
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")
# NUL bytes (the database rejects them) and lone surrogates (a stream opened with
# errors="surrogateescape"), which could not be stored as UTF-8.
_UNSTORABLE_RE = re.compile("[\x00\ud800-\udfff]")


def open_csv(path: Path) -> TextIO:
    """Open a CSV export for `parse_csv()`.

    UTF-8, with or without a byte-order mark (Excel writes one). Undecodable bytes become
    U+FFFD and the row still goes through: one stray byte should not cost a whole import,
    and the replacement character shows the operator where the damage is.
    `newline=""` lets the csv module see line breaks inside quoted fields.
    """
    return path.open(encoding="utf-8-sig", errors="replace", newline="")


def parse_mapping(spec: str) -> dict[str, str]:
    """Parse "external_id=Message ID,body_text=Message" into {our field: their column}.

    Items are separated by commas (so a column name cannot contain one), spaces around
    names are ignored, empty items are skipped. Raises `ValueError` naming the bad item:
    no "=", an unknown field, an empty column or a field given twice.
    """
    mapping: dict[str, str] = {}
    for item in spec.split(","):
        if not item.strip():
            continue
        field, sep, column = item.partition("=")
        field, column = field.strip(), column.strip()
        if not sep:
            raise ValueError(f"mapping item {item.strip()!r}: expected field=Column")
        if field not in FIELDS:
            raise ValueError(
                f"mapping item {item.strip()!r}: unknown field {field!r}; known: {', '.join(FIELDS)}"
            )
        if not column:
            raise ValueError(f"mapping item {item.strip()!r}: empty column name")
        if field in mapping:
            raise ValueError(f"mapping item {item.strip()!r}: field {field!r} given twice")
        mapping[field] = column
    return mapping


def parse_csv(
    stream: TextIO | Iterable[str],
    *,
    mapping: dict[str, str] | None = None,
    default_direction: str = "inbound",
    default_tz: str = "UTC",
) -> Iterator[tuple[int, IncomingMessage | Rejected]]:
    """An iterator of (line number, IncomingMessage or Rejected), one per data row.

    The first row holds the column headers (matched ignoring case and surrounding spaces).
    `mapping` maps our field names to their headers; fields it leaves out are looked up
    under our own names. A column named in the mapping must exist, except one mapped to
    our own field name (so the "cstracker" preset needs only the columns it uses). Raises
    `ValueError` before yielding anything for an empty file, a missing required or mapped
    column, a column header that appears twice, an unknown field, direction or time zone.

    The line number is the physical line where the row starts, also for rows with line
    breaks inside quoted fields. Blank rows are skipped. `received_at` must be ISO 8601
    with a time; without a UTC offset it is read in `default_tz`; an empty value is
    rejected (without the column, every message gets None, "now"). Future timestamps are
    not checked here: the service compares them with its own clock. NUL bytes are removed,
    body_html is sanitised, and a row with only HTML gets a plain-text body from it.
    """
    _check_mapping(mapping or {})
    default = _direction(default_direction)
    if default is None:
        raise ValueError(f"default_direction: unknown direction {default_direction!r}")
    try:
        zone = ZoneInfo(default_tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"default_tz: unknown time zone {default_tz!r}") from None

    # The limit is global to the csv module; only ever raised, never lowered.
    csv.field_size_limit(max(csv.field_size_limit(), CSV_FIELD_LIMIT))
    # strict: a stray quote is reported on its own row instead of silently swallowing the
    # rows after it into one field.
    reader = csv.reader((_clean(line) for line in stream), strict=True)
    try:
        header = next(reader)
    except StopIteration:
        raise ValueError("empty CSV: no header row") from None
    except csv.Error as exc:
        raise ValueError(f"line 1: the header row is not valid CSV: {exc}") from None
    columns = _resolve_columns(header, mapping or {})
    # Checked above, eagerly: the rows come from a generator, which would defer them.
    return _rows(reader, columns, header, default=default, zone=zone)


def _rows(
    reader: _reader,
    columns: dict[str, tuple[int, str]],
    header: list[str],
    *,
    default: Direction,
    zone: ZoneInfo,
) -> Iterator[tuple[int, IncomingMessage | Rejected]]:
    while True:
        first_line = reader.line_num + 1
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield first_line, Rejected(f"line {first_line}: not valid CSV: {exc}")
            continue
        if not any(cell.strip() for cell in row):
            continue
        try:
            yield first_line, _message(row, columns, header, default=default, zone=zone)
        except Rejected as exc:
            yield first_line, Rejected(f"line {first_line}: {exc.reason}")


def _clean(line: str) -> str:
    return _UNSTORABLE_RE.sub(lambda match: "" if match.group(0) == "\x00" else "\ufffd", line)


def _check_mapping(mapping: dict[str, str]) -> None:
    unknown = sorted(set(mapping) - set(FIELDS))
    if unknown:
        raise ValueError(f"mapping: unknown field(s) {', '.join(unknown)}; known: {', '.join(FIELDS)}")


def _normal(header: str) -> str:
    return header.replace("\ufeff", "").strip().casefold()


def _resolve_columns(header: list[str], mapping: dict[str, str]) -> dict[str, tuple[int, str]]:
    """Our field -> (column index, their header) for every field the file provides."""
    positions: dict[str, int] = {}
    duplicates = set()
    for index, name in enumerate(header):
        key = _normal(name)
        if key in positions:
            duplicates.add(key)
        positions.setdefault(key, index)

    columns: dict[str, tuple[int, str]] = {}
    missing = []
    for field in FIELDS:
        # Mapping a field to its own name is the same as not mapping it.
        explicit = mapping.get(field) if _normal(mapping.get(field, field)) != field else None
        candidates = [explicit] if explicit else [field, *ALIASES.get(field, ())]
        found = next((name for name in candidates if _normal(name) in positions), None)
        if found is not None:
            if _normal(found) in duplicates:
                raise ValueError(f"column {found.strip()!r} appears more than once in the header")
            columns[field] = (positions[_normal(found)], found.strip())
        elif field in REQUIRED_FIELDS or explicit:
            missing.append(f"{explicit or field!r} (for {field})")
    if missing:
        raise ValueError(f"missing column(s): {', '.join(missing)}; the header has: {', '.join(header)}")
    return columns


def _message(
    row: list[str],
    columns: dict[str, tuple[int, str]],
    header: list[str],
    *,
    default: Direction,
    zone: ZoneInfo,
) -> IncomingMessage:
    extra = row[len(header) :]
    if any(cell.strip() for cell in extra):
        raise Rejected(f"expected {len(header)} fields, found {len(row)} (a stray delimiter or quote?)")

    def label(field: str) -> str:
        their = columns[field][1]
        return field if their.casefold() == field else f"{field} (column {their!r})"

    values: dict[str, str] = {}
    for field, (index, _) in columns.items():
        value = row[index] if index < len(row) else ""
        if field not in ("body_text", "body_html"):
            value = value.strip()
        limit = MAX_LENGTHS.get(field)
        if limit is not None and len(value) > limit:
            raise Rejected(f"{label(field)}: longer than {limit} characters ({len(value)})")
        if field in ("body_text", "body_html") and len(value.encode("utf-8", "replace")) > MAX_BODY_BYTES:
            raise Rejected(f"{label(field)}: larger than {MAX_BODY_BYTES // 1024} KiB")
        values[field] = value

    if not values.get("external_id"):
        raise Rejected(f"{label('external_id')}: required")
    direction = default
    if values.get("direction"):
        direction = _direction(values["direction"])
        if direction is None:
            raise Rejected(
                f"{label('direction')}: not inbound, outbound or note: {_shown(values['direction'])}"
            )
    automatic = _BOOLEANS.get(values.get("automatic", "").lower())
    if automatic is None:
        raise Rejected(f"{label('automatic')}: not true/false, 1/0 or yes/no: {_shown(values['automatic'])}")
    received_at = None
    if "received_at" in columns:
        received_at = _timestamp(values["received_at"], zone, label("received_at"))
    for field in ("sender_address", "thread_id", "in_reply_to", "external_id"):
        if _CONTROL_RE.search(values.get(field, "")):
            raise Rejected(f"{label(field)}: contains control characters")
    address_error = sender_error(values.get("sender_address", ""))
    if address_error:
        raise Rejected(f"{label('sender_address')}: {address_error}: {_shown(values['sender_address'])}")

    body_html = sanitize_html(values["body_html"]) if values.get("body_html") else ""
    body_text = values.get("body_text", "")
    if not body_text.strip() and values.get("body_html"):
        body_text = html_to_text(values["body_html"])
    subject = values.get("subject", "")
    return IncomingMessage(
        external_id=values["external_id"],
        direction=direction,
        sender_address=values.get("sender_address", "").lower(),
        sender_name=values.get("sender_name", ""),
        subject=subject,
        body_text=body_text,
        body_html=body_html,
        received_at=received_at,
        automatic=automatic,
        automatic_reason="marked automatic in the CSV" if automatic else "",
        thread_id=values.get("thread_id", ""),
        in_reply_to=values.get("in_reply_to", "").removeprefix("<").removesuffix(">"),
        order_id=values.get("order_id", "") or find_order_id(subject, body_text),
        sku=values.get("sku", ""),
    )


def _direction(value: str) -> Direction | None:
    return _DIRECTIONS.get(value.strip().lower())


def _timestamp(value: str, zone: ZoneInfo, label: str) -> datetime:
    """ISO 8601 with a time of day, as aware UTC; naive values are read in `zone`."""
    if not value:
        raise Rejected(f"{label}: empty (an ISO 8601 timestamp is required)")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise Rejected(f"{label}: not an ISO 8601 timestamp: {_shown(value)}") from None
    if not _HAS_TIME_RE.match(value):
        raise Rejected(f"{label}: a time of day is required: {_shown(value)}")
    if parsed.tzinfo is None:
        # A wall-clock time that a DST change skips or repeats resolves to the earlier
        # offset (fold=0), as zoneinfo does.
        parsed = parsed.replace(tzinfo=zone)
    try:
        return parsed.astimezone(UTC)
    except OverflowError:
        raise Rejected(f"{label}: out of range: {_shown(value)}") from None


def _shown(value: str) -> str:
    """A value quoted for an error message, cut to a readable length."""
    return repr(value if len(value) <= 60 else value[:57] + "...")
