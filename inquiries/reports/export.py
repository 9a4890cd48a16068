"""CSV export of report tables, safe to open in a spreadsheet.

A cell that starts with `=`, `+`, `-`, `@`, a tab or a carriage return is read as a formula
by Excel, LibreOffice and Google Sheets ("CSV injection"): customer-controlled text such as
a subject, an account or agent name could run `=HYPERLINK(...)` on a manager's machine.
Such cells get a leading apostrophe, which spreadsheets show as text. Numbers are written
as numbers (a number is never a formula).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable

from inquiries.reports.tables import Table

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value: object) -> object:
    """The value to write in a cell: text that a spreadsheet would evaluate is escaped."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int | float):
        return value
    text = value.isoformat() if hasattr(value, "isoformat") else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def csv_rows(table: Table) -> Iterable[list[object]]:
    yield [column.key for column in table.columns]
    for row in table.rows:
        yield [neutralise(value) for value in row]


def to_csv(table: Table) -> str:
    """The table as CSV text: a header of column keys, then one line per row."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerows(csv_rows(table))
    return buffer.getvalue()
