"""Parse marketplace and helpdesk CSV exports into `IncomingMessage`s.

One row is one message. `parse_csv()` yields each row's physical line number with either
an `IncomingMessage` or a `Rejected` naming the field (and the file's column) at fault, so
an import can report every bad row and go on. Named after its job, not `csv`, so it does
not shadow the standard library module. Pure: no Django.

Our field names (the "cstracker" columns): external_id (required), direction
(inbound/outbound/note, default inbound), sender_address, sender_name, subject, body_text
(or "body"), body_html, received_at, thread_id, in_reply_to, order_id, sku, automatic,
status (new/open/pending/solved/closed: where the conversation stood after the row) and
solved_at (when it was solved or closed; alone it means solved).
A `mapping` renames: our field -> their column header. `Reading` says how to read values
that real exports write their own way: value maps ("True" means inbound), timestamp formats,
day-first dates, a time for date-only columns, which side of a DST change an ambiguous local
time is on, and ids that spreadsheets wrote as "123.0".
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from datetime import UTC, datetime, time
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, TextIO
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from inquiries.ingestion.addresses import sender_error
from inquiries.ingestion.email import find_order_id
from inquiries.ingestion.html import html_to_text, sanitize_html
from inquiries.ingestion.limits import CONTROL_RE
from inquiries.ingestion.types import Direction, IncomingMessage, Rejected

if TYPE_CHECKING:
    from _csv import _reader

FIELDS = (
    "external_id", "direction", "sender_address", "sender_name", "subject", "body_text", "body_html",
    "received_at", "thread_id", "in_reply_to", "order_id", "sku", "automatic", "status", "solved_at",
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
    # A conversation log of any tool: one row per message, the conversation's id on each row
    # (replies thread by it), who wrote it, inbound/outbound/note (or customer/agent), when.
    "conversation": {
        "external_id": "message_id",
        "thread_id": "thread_id",
        "sender_address": "author",
        "direction": "direction",
        "received_at": "timestamp",
        "body_text": "text",
    },
    # An Amazon-style buyer-message export: the order id threads a conversation (it is the
    # thread id too), so the seller's reply rows (Direction "Seller") attach to the buyer's
    # messages about that order, also when they come first in the file.
    "amazon": {
        "external_id": "Message ID",
        "order_id": "Order ID",
        "thread_id": "Order ID",
        "direction": "Direction",
        "sender_name": "Buyer Name",
        "sender_address": "Buyer Email",
        "subject": "Subject",
        "body_text": "Message",
        "received_at": "Date",
    },
    # Zendesk's ticket CSV (one row per ticket, its description): a starting point to adjust;
    # for comments and statuses use the JSON export (preset zendesk-json).
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
# NUL bytes (the database rejects them) and lone surrogates (a stream opened with
# errors="surrogateescape"), which could not be stored as UTF-8.
_UNSTORABLE_RE = re.compile("[\x00\ud800-\udfff]")


def open_csv(path: Path) -> TextIO:
    """Open a CSV export for `parse_csv()`.

    UTF-8, with or without a byte-order mark (Excel writes one). Undecodable bytes become
    U+FFFD and the row still goes through: one stray byte should not cost a whole import,
    and the replacement character shows the operator where the damage is.
    Rows end at a line feed (or CR LF), so a carriage return alone inside a field, which
    some exports write unquoted (the twcs sample does), does not split its row; a file whose
    lines end with carriage returns only (old Mac exports) is read with those as row ends.
    """
    return decode_csv(path.open("rb"))


def decode_csv(raw: BinaryIO) -> TextIO:
    """`open_csv()` for a file already open in binary (an upload): the same decoding and line
    ends. The stream must be seekable; it is read from its current position."""
    start = raw.tell()
    head = raw.read(64 * 1024)
    raw.seek(start)
    newline = "" if b"\r" in head and b"\n" not in head else "\n"
    return io.TextIOWrapper(raw, encoding="utf-8-sig", errors="replace", newline=newline)


def parse_mapping(spec: str, fields: Sequence[str] = FIELDS) -> dict[str, str]:
    """Parse "external_id=Message ID,body_text=Message" into {our field: their column}.

    `fields` are the names a mapping may use (ours by default; a shape with its own fields,
    such as Freshdesk's ticket export, passes its own).
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
        if field not in fields:
            raise ValueError(
                f"mapping item {item.strip()!r}: unknown field {field!r}; known: {', '.join(fields)}"
            )
        if not column:
            raise ValueError(f"mapping item {item.strip()!r}: empty column name")
        if field in mapping:
            raise ValueError(f"mapping item {item.strip()!r}: field {field!r} given twice")
        mapping[field] = column
    return mapping


# Fields whose values a value map may translate, and what it must translate them to.
MAPPABLE_FIELDS = ("direction", "automatic", "status")
# The statuses a row may give (the models' Status values; this module imports no Django).
STATUSES = ("new", "open", "pending", "solved", "closed")
# Timestamp shapes tried, in order, when no --date-format is given (after ISO 8601 and RFC 2822).
_AUTO_FORMATS = (
    "%a %b %d %H:%M:%S %z %Y",  # Twitter: Tue Oct 31 22:10:47 +0000 2017
    "%Y-%m-%d %H:%M:%S %Z",  # 2024-03-01 10:00:00 UTC
    "%Y/%m/%d %H:%M:%S",
    "%Y/%m/%d %H:%M",
    "%d.%m.%Y %H:%M:%S",  # German exports
    "%d.%m.%Y %H:%M",
)
_SLASH_DATE_RE = re.compile(
    r"^(?P<a>\d{1,2})/(?P<b>\d{1,2})/(?P<year>\d{4})(?:[ T,]+(?P<time>\d{1,2}:\d{2}(?::\d{2})?(?:\s*[AaPp][Mm])?))?$"
)
_DATE_ONLY_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_FLOAT_ID_RE = re.compile(r"^(\d+)\.0+$")
_ID_FIELDS = ("external_id", "in_reply_to", "thread_id")


@dataclass(frozen=True)
class Reading:
    """How to read the values of one export (the import command's options).

    value_maps: our field -> {their value, case-insensitive: ours}, e.g. direction
      {"true": "inbound", "false": "outbound"}; a value a map does not name is read as is.
    date_formats: strptime patterns tried in order instead of the automatic shapes.
    dayfirst: slash dates are DD/MM/YYYY (otherwise MM/DD/YYYY, as US exports write them).
    default_time: the time of day given to a date-only timestamp (otherwise an error).
    fold: for a local time a DST change makes ambiguous or skips, "earlier" or "later"
      (otherwise an error naming the row).
    integer_ids: "123.0" in an id column is read as "123" (spreadsheet and pandas exports
      write integer columns with gaps as floats).
    """

    value_maps: dict[str, dict[str, str]] = dataclass_field(default_factory=dict)
    date_formats: Sequence[str] = ()
    dayfirst: bool = False
    default_time: time | None = None
    fold: str | None = None
    integer_ids: bool = False

    def __post_init__(self) -> None:
        unknown = sorted(set(self.value_maps) - set(MAPPABLE_FIELDS))
        if unknown:
            raise ValueError(
                f"value maps: field(s) {', '.join(unknown)} cannot be mapped; known: {', '.join(MAPPABLE_FIELDS)}"
            )
        if self.fold not in (None, "earlier", "later"):
            raise ValueError(f"fold: expected 'earlier' or 'later', not {self.fold!r}")
        for pattern in self.date_formats:
            if "%" not in pattern:
                raise ValueError(f"date format {pattern!r}: a strptime pattern such as '%d/%m/%Y %H:%M'")


def parse_value_maps(spec: str) -> dict[str, dict[str, str]]:
    """Parse "direction:True=inbound,False=outbound;automatic:Y=yes" into value maps.

    Fields are separated by ";", a field's items by ","; raises `ValueError` naming the bad
    part (no ":", no "=", an unknown field, a value given twice).
    """
    maps: dict[str, dict[str, str]] = {}
    for group in spec.split(";"):
        if not group.strip():
            continue
        name, sep, items = group.partition(":")
        name = name.strip()
        if not sep:
            raise ValueError(f"value map {group.strip()!r}: expected field:their=ours,...")
        if name not in MAPPABLE_FIELDS:
            raise ValueError(
                f"value map {group.strip()!r}: field {name!r} cannot be mapped; known: {', '.join(MAPPABLE_FIELDS)}"
            )
        values = maps.setdefault(name, {})
        for item in items.split(","):
            if not item.strip():
                continue
            theirs, eq, ours = item.partition("=")
            if not eq:
                raise ValueError(f"value map item {item.strip()!r} (for {name}): expected their=ours")
            key = theirs.strip().casefold()
            if key in values:
                raise ValueError(
                    f"value map item {item.strip()!r} (for {name}): {theirs.strip()!r} given twice"
                )
            values[key] = ours.strip()
    return maps


def parse_time_of_day(value: str) -> time:
    """ "HH:MM" or "HH:MM:SS" as a time; `ValueError` otherwise."""
    try:
        return time.fromisoformat(value.strip())
    except ValueError:
        raise ValueError(f"not a time of day (HH:MM): {value!r}") from None


def parse_csv(
    stream: TextIO | Iterable[str],
    *,
    mapping: dict[str, str] | None = None,
    default_direction: str = "inbound",
    default_tz: str = "UTC",
    reading: Reading | None = None,
) -> Iterator[tuple[int, IncomingMessage | Rejected]]:
    """An iterator of (line number, IncomingMessage or Rejected), one per data row.

    The first row holds the column headers (matched ignoring case and surrounding spaces).
    `mapping` maps our field names to their headers; fields it leaves out are looked up
    under our own names. A column named in the mapping must exist, except one mapped to
    our own field name (so the "cstracker" preset needs only the columns it uses). Raises
    `ValueError` before yielding anything for an empty file, a missing required or mapped
    column, a column header that appears twice, an unknown field, direction or time zone.

    The line number is the physical line where the row starts, also for rows with line
    breaks inside quoted fields. Blank rows are skipped. A rejection lists every error of
    its row, and not the line number, which comes with it. `received_at` is read as ISO
    8601, RFC 2822, the Twitter shape, slash dates and a few more (or by `reading`'s
    formats), with a time of day (or `reading.default_time`); without a UTC offset it is
    read in `default_tz`; an empty value is rejected (without the column, every message
    gets None, "now"). Future timestamps are not checked here: the service compares them
    with its own clock. NUL bytes are removed, body_html is sanitised, and a row with only
    HTML gets a plain-text body from it.
    """
    _check_mapping(mapping or {})
    default = _direction(default_direction)
    if default is None:
        raise ValueError(f"default_direction: unknown direction {default_direction!r}")
    try:
        zone = ZoneInfo(default_tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"default_tz: unknown time zone {default_tz!r}") from None

    header, rows = read_rows(stream)
    columns = _resolve_columns(header, mapping or {})
    reading = reading or Reading()
    # Checked above, eagerly: the rows come from a generator, which would defer them.
    return messages_of(
        rows, lambda row: [_message(row, columns, header, default=default, zone=zone, reading=reading)]
    )


def read_rows(stream: TextIO | Iterable[str]) -> tuple[list[str], Iterator[tuple[int, list[str] | Rejected]]]:
    """The header row, and an iterator of (line number, cells or `Rejected`) for the data rows.

    What every CSV shape shares: lines made storable (`clean_lines`), strict quoting, large
    fields allowed up to a bound, blank rows skipped, a row that is not valid CSV rejected on
    its own line. The line number is the physical line where the row starts. Raises
    `ValueError` for an empty file or a header row that is not valid CSV.
    """
    # The limit is global to the csv module; only ever raised, never lowered.
    csv.field_size_limit(max(csv.field_size_limit(), CSV_FIELD_LIMIT))
    # strict: a stray quote is reported on its own row instead of silently swallowing the
    # rows after it into one field.
    reader = csv.reader(clean_lines(stream), strict=True)
    try:
        header = next(reader)
    except StopIteration:
        raise ValueError("empty CSV: no header row") from None
    except csv.Error as exc:
        raise ValueError(f"line 1: the header row is not valid CSV: {exc}") from None
    return header, _rows(reader)


def _rows(reader: _reader) -> Iterator[tuple[int, list[str] | Rejected]]:
    while True:
        first_line = reader.line_num + 1
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield first_line, Rejected(f"not valid CSV: {exc}")
            continue
        if any(cell.strip() for cell in row):
            yield first_line, row


def messages_of(
    rows: Iterator[tuple[int, list[str] | Rejected]],
    build: Callable[[list[str]], Sequence[IncomingMessage]],
) -> Iterator[tuple[int, IncomingMessage | Rejected]]:
    """(line number, message) for each message `build` makes of a row, or (line number,
    `Rejected`) for a row that is not valid CSV or that `build` rejects."""
    for line, row in rows:
        if isinstance(row, Rejected):
            yield line, row
            continue
        try:
            messages = build(row)
        except Rejected as exc:
            yield line, exc
            continue
        for message in messages:
            yield line, message


def clean_lines(lines: Iterable[str], *, quoting: bool = True) -> Iterator[str]:
    """Each line made storable, and a carriage return alone outside quotes read as a space.

    The csv module ends a row at any carriage return outside quotes; one that is not part
    of a line end is a line break inside a field that the exporter forgot to quote. Whether
    it is outside quotes follows from the number of quote characters before it in the row
    (an escaped quote is two). Inside quotes it is kept, as the csv module keeps it.
    `quoting=False` is for files whose quote characters are plain text (tab-separated
    reports read with `csv.QUOTE_NONE`): every carriage return is then outside quotes.
    """
    quoted = False
    for line in lines:
        line = _UNSTORABLE_RE.sub(lambda match: "" if match.group(0) == "\x00" else "\ufffd", line)
        body = line.rstrip("\r\n")
        if "\r" not in body:
            quoted ^= quoting and bool(line.count('"') & 1)
            yield line
            continue
        pieces = body.split("\r")
        out = []
        for piece in pieces[:-1]:
            quoted ^= quoting and bool(piece.count('"') & 1)
            out.append(piece + ("\r" if quoted else " "))
        out.append(pieces[-1])
        quoted ^= quoting and bool(pieces[-1].count('"') & 1)
        yield "".join(out) + line[len(body) :]


def _check_mapping(mapping: dict[str, str]) -> None:
    unknown = sorted(set(mapping) - set(FIELDS))
    if unknown:
        raise ValueError(f"mapping: unknown field(s) {', '.join(unknown)}; known: {', '.join(FIELDS)}")


def normal_header(header: str) -> str:
    """A column header as matched: without a byte-order mark or surrounding spaces, any case."""
    return header.replace("\ufeff", "").strip().casefold()


def _resolve_columns(header: list[str], mapping: dict[str, str]) -> dict[str, tuple[int, str]]:
    """Our field -> (column index, their header) for every field the file provides."""
    positions: dict[str, int] = {}
    duplicates = set()
    for index, name in enumerate(header):
        key = normal_header(name)
        if key in positions:
            duplicates.add(key)
        positions.setdefault(key, index)

    columns: dict[str, tuple[int, str]] = {}
    missing = []
    for field in FIELDS:
        # Mapping a field to its own name is the same as not mapping it.
        explicit = mapping.get(field) if normal_header(mapping.get(field, field)) != field else None
        candidates = [explicit] if explicit else [field, *ALIASES.get(field, ())]
        found = next((name for name in candidates if normal_header(name) in positions), None)
        if found is not None:
            if normal_header(found) in duplicates:
                raise ValueError(f"column {found.strip()!r} appears more than once in the header")
            columns[field] = (positions[normal_header(found)], found.strip())
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
    reading: Reading,
) -> IncomingMessage:
    """The row's message; `Rejected` listing every error of the row, in column order."""
    extra = row[len(header) :]
    if any(cell.strip() for cell in extra):
        raise Rejected(f"expected {len(header)} fields, found {len(row)} (a stray delimiter or quote?)")
    errors: list[str] = []

    def label(field: str) -> str:
        their = columns[field][1]
        return field if their.casefold() == field else f"{field} (column {their!r})"

    values: dict[str, str] = {}
    for field, (index, _) in columns.items():
        value = row[index] if index < len(row) else ""
        if field not in ("body_text", "body_html"):
            value = value.strip()
        mapped = reading.value_maps.get(field, {}).get(value.casefold())
        if mapped is not None:
            value = mapped
        if reading.integer_ids and field in _ID_FIELDS:
            value = _FLOAT_ID_RE.sub(r"\1", value)
        limit = MAX_LENGTHS.get(field)
        if limit is not None and len(value) > limit:
            errors.append(f"{label(field)}: longer than {limit} characters ({len(value)})")
            value = ""
        elif field in ("body_text", "body_html") and len(value.encode("utf-8", "replace")) > MAX_BODY_BYTES:
            errors.append(f"{label(field)}: larger than {MAX_BODY_BYTES // 1024} KiB")
            value = ""
        values[field] = value

    if not values.get("external_id") and not any(e.startswith(label("external_id")) for e in errors):
        errors.append(f"{label('external_id')}: required")
    direction = default
    if values.get("direction"):
        direction = _direction(values["direction"]) or default
        if _direction(values["direction"]) is None:
            hint = " (map values with --map-values)" if "direction" not in reading.value_maps else ""
            errors.append(
                f"{label('direction')}: not inbound, outbound or note: {shown(values['direction'])}{hint}"
            )
    automatic = _BOOLEANS.get(values.get("automatic", "").lower())
    if automatic is None:
        errors.append(f"{label('automatic')}: not true/false, 1/0 or yes/no: {shown(values['automatic'])}")
    received_at = None
    if "received_at" in columns:
        try:
            received_at = read_timestamp(values["received_at"], zone, reading)
        except ValueError as exc:
            errors.append(f"{label('received_at')}: {exc}")
    status = values.get("status", "").lower()
    if status and status not in STATUSES:
        hint = " (map values with --map-values)" if "status" not in reading.value_maps else ""
        errors.append(f"{label('status')}: not {', '.join(STATUSES)}: {shown(values['status'])}{hint}")
        status = ""
    solved_at = None
    if values.get("solved_at"):
        try:
            solved_at = read_timestamp(values["solved_at"], zone, reading)
        except ValueError as exc:
            errors.append(f"{label('solved_at')}: {exc}")
    for field in ("sender_address", "thread_id", "in_reply_to", "external_id"):
        if CONTROL_RE.search(values.get(field, "")):
            errors.append(f"{label(field)}: contains control characters")
            values[field] = ""
    address_error = sender_error(values.get("sender_address", ""))
    if address_error:
        errors.append(f"{label('sender_address')}: {address_error}: {shown(values['sender_address'])}")
    if errors:
        raise Rejected("; ".join(errors))

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
        automatic=bool(automatic),
        automatic_reason="marked automatic in the CSV" if automatic else "",
        thread_id=values.get("thread_id", ""),
        in_reply_to=values.get("in_reply_to", "").removeprefix("<").removesuffix(">"),
        order_id=values.get("order_id", "") or find_order_id(subject, body_text),
        sku=values.get("sku", ""),
        status=status,
        solved_at=solved_at,
    )


def _direction(value: str) -> Direction | None:
    return _DIRECTIONS.get(value.strip().lower())


def read_timestamp(value: str, zone: ZoneInfo, reading: Reading | None = None) -> datetime:
    """A timestamp cell as aware UTC; `ValueError` saying what is wrong and which option helps.

    With `reading.date_formats` only those patterns are tried; otherwise ISO 8601, RFC 2822,
    the Twitter shape and a few common others, slash dates (month first unless
    `reading.dayfirst`) and date-only ISO dates (with `reading.default_time`). A value without
    a UTC offset is a wall-clock time in `zone`; one that a DST change repeats or skips is an
    error unless `reading.fold` says which side it is on.
    """
    reading = reading or Reading()
    if not value:
        raise ValueError("empty (a timestamp is required)")
    parsed = _parsed(value, reading)
    if parsed.tzinfo is None:
        parsed = _in_zone(parsed, zone, reading.fold, value)
    try:
        return parsed.astimezone(UTC)
    except OverflowError:
        raise ValueError(f"out of range: {shown(value)}") from None


def _parsed(value: str, reading: Reading) -> datetime:
    if reading.date_formats:
        for pattern in reading.date_formats:
            try:
                return datetime.strptime(value, pattern)
            except ValueError:
                continue
        raise ValueError(
            f"does not match --date-format {' or '.join(map(repr, reading.date_formats))}: {shown(value)}"
        )
    if _DATE_ONLY_RE.match(value):
        try:
            day = datetime.fromisoformat(value)
        except ValueError:
            raise ValueError(f"not a valid date: {shown(value)}") from None
        if reading.default_time is None:
            raise ValueError(
                f"a date without a time of day (give --default-time, e.g. 12:00): {shown(value)}"
            )
        return datetime.combine(day.date(), reading.default_time)
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        pass
    else:
        if not _HAS_TIME_RE.match(value):
            raise ValueError(f"a time of day is required: {shown(value)}")
        return parsed
    slash = _SLASH_DATE_RE.match(value)
    if slash:
        return _slash_date(slash, reading, value)
    for pattern in _AUTO_FORMATS:
        try:
            return datetime.strptime(value, pattern)
        except ValueError:
            continue
    try:
        return parsedate_to_datetime(value)  # RFC 2822: Tue, 31 Oct 2017 22:10:47 +0000
    except (TypeError, ValueError, IndexError):
        pass
    raise ValueError(
        f"not a timestamp this import reads (ISO 8601, RFC 2822, DD/MM/YYYY HH:MM and other common "
        f"shapes, or give --date-format): {shown(value)}"
    )


def _slash_date(match: re.Match[str], reading: Reading, value: str) -> datetime:
    first, second = int(match["a"]), int(match["b"])
    day, month = (first, second) if reading.dayfirst else (second, first)
    if month > 12:
        other = "without --dayfirst" if reading.dayfirst else "with --dayfirst"
        raise ValueError(f"month {month} does not exist: read the dates {other}? {shown(value)}")
    clock = match["time"]
    if clock is None:
        if reading.default_time is None:
            raise ValueError(
                f"a date without a time of day (give --default-time, e.g. 12:00): {shown(value)}"
            )
        at = reading.default_time
    else:
        text = clock.replace(" ", "").upper()
        pattern = (
            ("%I:%M:%S%p" if text.count(":") == 2 else "%I:%M%p")
            if text[-1] == "M"
            else ("%H:%M:%S" if text.count(":") == 2 else "%H:%M")
        )
        try:
            at = datetime.strptime(text, pattern).time()
        except ValueError:
            raise ValueError(f"not a time of day: {shown(value)}") from None
    try:
        return datetime.combine(datetime(int(match["year"]), month, day).date(), at)
    except ValueError:
        raise ValueError(f"not a valid date: {shown(value)}") from None


def _in_zone(naive: datetime, zone: ZoneInfo, fold: str | None, value: str) -> datetime:
    """`naive` as a wall-clock time in `zone`, refusing one a DST change repeats or skips."""
    earlier, later = naive.replace(tzinfo=zone, fold=0), naive.replace(tzinfo=zone, fold=1)
    if earlier.utcoffset() == later.utcoffset():
        return earlier
    # The offsets differ: either the hour happens twice (autumn) or never (spring).
    repeated = earlier.astimezone(UTC).astimezone(zone).replace(tzinfo=None) == naive
    if fold is None:
        what = (
            "happens twice (the clocks went back)" if repeated else "does not exist (the clocks went forward)"
        )
        raise ValueError(
            f"{shown(value)} in {zone.key} {what}: say which with --fold earlier or --fold later"
        )
    chosen = earlier if fold == "earlier" else later
    if not repeated:
        # In a gap, fold=0 reads the time with the offset before the change, fold=1 after it;
        # "earlier" is the earlier instant, which is the one read with the later offset.
        chosen = later if fold == "earlier" else earlier
    return chosen


def shown(value: str) -> str:
    """A value quoted for an error message, cut to a readable length."""
    return repr(value if len(value) <= 60 else value[:57] + "...")
