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

One module per seam: `mapping` (fields, presets, `Reading`), `timestamps` (`read_timestamp`)
and `rows` (`parse_csv`, `read_rows`). The import command, the order reports and the other
importers take the public names from here.
"""

from inquiries.ingestion.csv_import.mapping import (
    ALIASES,
    CSV_FIELD_LIMIT,
    CSV_PRESETS,
    FIELDS,
    MAPPABLE_FIELDS,
    MAX_BODY_BYTES,
    MAX_LENGTHS,
    REQUIRED_FIELDS,
    STATUSES,
    Reading,
    normal_header,
    parse_mapping,
    parse_time_of_day,
    parse_value_maps,
    shown,
)
from inquiries.ingestion.csv_import.rows import (
    clean_lines,
    decode_csv,
    messages_of,
    open_csv,
    parse_csv,
    read_rows,
)
from inquiries.ingestion.csv_import.timestamps import read_timestamp

__all__ = [
    "ALIASES",
    "CSV_FIELD_LIMIT",
    "CSV_PRESETS",
    "FIELDS",
    "MAPPABLE_FIELDS",
    "MAX_BODY_BYTES",
    "MAX_LENGTHS",
    "REQUIRED_FIELDS",
    "STATUSES",
    "Reading",
    "clean_lines",
    "decode_csv",
    "messages_of",
    "normal_header",
    "open_csv",
    "parse_csv",
    "parse_mapping",
    "parse_time_of_day",
    "parse_value_maps",
    "read_rows",
    "read_timestamp",
    "shown",
]
