"""From CSV bytes to rows to messages: decoding the file, reading rows with their physical line
numbers (`read_rows`), and one `IncomingMessage` or `Rejected` per row (`parse_csv`).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime
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
from inquiries.ingestion.csv_import.mapping import (
    CSV_FIELD_LIMIT,
    MAX_BODY_BYTES,
    MAX_LENGTHS,
    STATUSES,
    Reading,
    check_mapping,
    resolve_columns,
    shown,
)
from inquiries.ingestion.csv_import.timestamps import read_timestamp

_DIRECTIONS = {
    **dict.fromkeys(("inbound", "in", "incoming", "received", "customer", "buyer"), Direction.INBOUND),
    **dict.fromkeys(("outbound", "out", "outgoing", "sent", "agent", "seller", "reply"), Direction.OUTBOUND),
    **dict.fromkeys(("note", "internal"), Direction.NOTE),
}
_BOOLEANS = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False, "": False}
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


_FLOAT_ID_RE = re.compile(r"^(\d+)\.0+$")
_ID_FIELDS = ("external_id", "in_reply_to", "thread_id")


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
    check_mapping(mapping or {})
    default = _direction(default_direction)
    if default is None:
        raise ValueError(f"default_direction: unknown direction {default_direction!r}")
    try:
        zone = ZoneInfo(default_tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"default_tz: unknown time zone {default_tz!r}") from None

    header, rows = read_rows(stream)
    columns = resolve_columns(header, mapping or {})
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
        if _UNSTORABLE_RE.search(line):  # rare: a search costs half a substitution
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

    values = _cell_values(row, columns, reading, label, errors)
    if not values.get("external_id") and not any(e.startswith(label("external_id")) for e in errors):
        errors.append(f"{label('external_id')}: required")
    direction = _direction_of(values, default, reading, label, errors)
    automatic = _BOOLEANS.get(values.get("automatic", "").lower())
    if automatic is None:
        errors.append(f"{label('automatic')}: not true/false, 1/0 or yes/no: {shown(values['automatic'])}")
    received_at = None
    if "received_at" in columns:
        received_at = _time_of(values["received_at"], label("received_at"), zone, reading, errors)
    status = _status_of(values, reading, label, errors)
    solved_at = None
    if values.get("solved_at"):
        solved_at = _time_of(values["solved_at"], label("solved_at"), zone, reading, errors)
    for field in ("sender_address", "thread_id", "in_reply_to", "external_id"):
        if CONTROL_RE.search(values.get(field, "")):
            errors.append(f"{label(field)}: contains control characters")
            values[field] = ""
    address_error = sender_error(values.get("sender_address", ""))
    if address_error:
        errors.append(f"{label('sender_address')}: {address_error}: {shown(values['sender_address'])}")
    if errors:
        raise Rejected("; ".join(errors))

    return _built(
        values,
        direction=direction,
        automatic=bool(automatic),
        received_at=received_at,
        status=status,
        solved_at=solved_at,
    )


def _direction_of(
    values: dict[str, str],
    default: Direction,
    reading: Reading,
    label: Callable[[str], str],
    errors: list[str],
) -> Direction:
    """The row's direction; `default` when it has none (or one that cannot be read: an error)."""
    if not values.get("direction"):
        return default
    direction = _direction(values["direction"])
    if direction is None:
        hint = " (map values with --map-values)" if "direction" not in reading.value_maps else ""
        errors.append(
            f"{label('direction')}: not inbound, outbound or note: {shown(values['direction'])}{hint}"
        )
        return default
    return direction


def _status_of(
    values: dict[str, str], reading: Reading, label: Callable[[str], str], errors: list[str]
) -> str:
    """The row's status, lower-cased; "" when it has none (or an unknown one: an error)."""
    status = values.get("status", "").lower()
    if status and status not in STATUSES:
        hint = " (map values with --map-values)" if "status" not in reading.value_maps else ""
        errors.append(f"{label('status')}: not {', '.join(STATUSES)}: {shown(values['status'])}{hint}")
        return ""
    return status


def _time_of(value: str, label: str, zone: ZoneInfo, reading: Reading, errors: list[str]) -> datetime | None:
    """The cell's timestamp; None, with the reason noted in `errors`, when it cannot be read."""
    try:
        return read_timestamp(value, zone, reading)
    except ValueError as exc:
        errors.append(f"{label}: {exc}")
        return None


def _cell_values(
    row: list[str],
    columns: dict[str, tuple[int, str]],
    reading: Reading,
    label: Callable[[str], str],
    errors: list[str],
) -> dict[str, str]:
    """Each mapped field's cell, read as `reading` says; a cell over its limit is noted in
    `errors` and read as empty."""
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
    return values


def _built(
    values: dict[str, str],
    *,
    direction: Direction,
    automatic: bool,
    received_at: datetime | None,
    status: str,
    solved_at: datetime | None,
) -> IncomingMessage:
    """The message of a row whose values passed every check."""
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
        status=status,
        solved_at=solved_at,
    )


def _direction(value: str) -> Direction | None:
    return _DIRECTIONS.get(value.strip().lower())
