"""Columns and how to read their values: our field names, the presets' column names, the
`mapping` (our field -> their column header) and `Reading` (value maps, timestamp formats,
day-first dates, a time for date-only columns, DST choices, ids written as "123.0"), each parsed
from the import's options with an error that names what is wrong.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from datetime import time

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


def check_mapping(mapping: dict[str, str]) -> None:
    unknown = sorted(set(mapping) - set(FIELDS))
    if unknown:
        raise ValueError(f"mapping: unknown field(s) {', '.join(unknown)}; known: {', '.join(FIELDS)}")


def normal_header(header: str) -> str:
    """A column header as matched: without a byte-order mark or surrounding spaces, any case."""
    return header.replace("\ufeff", "").strip().casefold()


def resolve_columns(header: list[str], mapping: dict[str, str]) -> dict[str, tuple[int, str]]:
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


def shown(value: str) -> str:
    """A value quoted for an error message, cut to a readable length."""
    return repr(value if len(value) <= 60 else value[:57] + "...")
