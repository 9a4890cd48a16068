"""Reading a delimited order report (pure: no Django): the header matched to the format's
columns, then each data row read into a `Record` by the format's reader, or rejected.

A report is tab-separated (Amazon's flat files, read without quoting: a quote character is
text) or, when its header line has no tab, comma-separated with CSV quoting (Walmart's and
eBay's downloads, or a report saved from a spreadsheet). Headers match ignoring case and
surrounding spaces; other columns are ignored. Decoding, byte-order marks and line ends are
`csv_import.decode_csv`'s.
"""

from __future__ import annotations

import csv
import itertools
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    import _csv
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from inquiries.ingestion.csv_import import CSV_FIELD_LIMIT, Reading, clean_lines
from inquiries.ingestion.order_reports.core import (
    Cells,
    Layout,
    ParsedReport,
    Record,
    ReportFormat,
    RowRejected,
    Unusual,
)


def parse_report(
    stream: TextIO | Iterable[str],
    fmt: ReportFormat,
    *,
    zone: str = "UTC",
    reading: Reading | None = None,
) -> ParsedReport:
    """(line number, Record or RowRejected) for each data row of a report in format `fmt`, and
    the format's columns the file has.

    Raises `ValueError` before yielding anything for an empty file, a header without one of
    the format's required columns, a column header that appears twice, or an unknown zone.
    Line numbers are physical lines (the header is line 1 unless blank lines come before it);
    blank rows, and rows `fmt.footer` recognises, are skipped.
    """
    try:
        tz = ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {zone!r}") from None
    if fmt.parse is not None:
        return fmt.parse(stream, fmt, tz)
    lines = iter(stream)
    first = next(lines, None)
    # Blank lines before the header are skipped (eBay's download starts with one) and counted, so
    # that line numbers stay those of the file.
    blank = 0
    while first is not None and not first.strip("\ufeff,; \t\r\n"):
        blank += 1
        first = next(lines, None)
    if first is None:
        raise ValueError("empty file: no header row")
    tabbed = "\t" in first
    csv.field_size_limit(max(csv.field_size_limit(), CSV_FIELD_LIMIT))
    source = clean_lines(itertools.chain([first], lines), quoting=not tabbed)
    reader: _csv.Reader | TabRows = TabRows(source) if tabbed else csv.reader(source, strict=True)
    try:
        header = next(reader)
    except csv.Error as exc:
        raise ValueError(f"line 1: the header row is not valid CSV: {exc}") from None
    columns = _columns(header, fmt)
    rows = _rows(reader, len(header), columns, fmt, tz, reading or Reading(), offset=blank)
    return ParsedReport(rows, frozenset(columns), fmt)


class TabRows:
    """The rows of a tab-separated file read without quoting (Amazon's flat files), one per line:
    what `csv.reader(lines, delimiter="\t", quoting=csv.QUOTE_NONE)` reads from `clean_lines()`'s
    lines (a line break inside a line is a space by then), with its `line_num` and its error for
    a field over the size limit, at a third of its cost: a str.split per line."""

    def __init__(self, lines: Iterator[str]) -> None:
        self.lines = lines
        self.line_num = 0
        self.limit = csv.field_size_limit()

    def __iter__(self) -> TabRows:
        return self

    def __next__(self) -> list[str]:
        line = next(self.lines)
        self.line_num += 1
        row = line.rstrip("\r\n").split("\t")
        if len(line) > self.limit and max(map(len, row)) > self.limit:
            raise csv.Error(f"field larger than field limit ({self.limit})")
        return row


def _columns(header: list[str], fmt: ReportFormat) -> dict[str, tuple[int, str]]:
    """The format's column -> (index, the file's header) for every column the file has."""
    wanted = {name: name for name in (*fmt.required, *fmt.optional)}
    wanted.update(fmt.aliases)
    columns: dict[str, tuple[int, str]] = {}
    for index, name in enumerate(header):
        key = name.replace("\ufeff", "").strip().casefold()
        column = wanted.get(key)
        if column is None:
            continue
        if column in columns:
            raise ValueError(f"column {name.strip()!r} appears more than once in the header")
        columns[column] = (index, name.strip())
    missing = [name for name in fmt.required if name not in columns]
    if missing:
        shown_header = ", ".join(h.strip() for h in header)[:300]
        article = "an" if fmt.title[0] in "AEIOUaeiou" else "a"
        raise ValueError(
            f"not {article} {fmt.title}: missing column(s) {', '.join(missing)}; the header has: {shown_header}"
        )
    return columns


def _rows(
    reader: _csv.Reader | TabRows,
    width: int,
    columns: dict[str, tuple[int, str]],
    fmt: ReportFormat,
    zone: ZoneInfo,
    reading: Reading,
    *,
    offset: int = 0,
) -> Iterator[tuple[int, Record | RowRejected]]:
    read = fmt.read
    assert read is not None  # a delimited report reads its rows
    layout = Layout(columns, zone, reading, header_width=width)
    # The format's compiled reader reads the usual row of the header's width; any other row, and
    # any row it hands back (`Unusual`), is read in full by `read` through `Cells`.
    fast = fmt.compile(layout) if fmt.compile is not None else None
    line_num = 1
    while True:
        first_line = line_num + 1 + offset
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            line_num = reader.line_num
            yield first_line, RowRejected([f"not valid CSV: {exc}"])
            continue
        line_num = reader.line_num
        if not "".join(row).strip():  # a blank row (one string test, not one per cell)
            continue
        if fmt.footer is not None and fmt.footer.match(row[0].strip()):
            continue
        if len(row) > width and any(cell.strip() for cell in row[width:]):
            yield (
                first_line,
                RowRejected(
                    [f"expected {width} fields, found {len(row)} (a tab or delimiter inside a value?)"]
                ),
            )
            continue
        if fast is not None and len(row) == width:
            row.append("")  # the cell of the columns the file does not have (`Layout.picker`)
            try:
                record = fast(row)
            except Unusual:
                pass
            else:
                yield first_line, record
                continue
        try:
            yield first_line, read(Cells(row, columns, zone, reading, layout))
        except RowRejected as exc:
            yield first_line, exc
