"""Parsing daily order volumes (CSV: account, date, orders). Pure: no Django.

Every bad row is reported with its line number; callers decide whether anything is saved.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

MAX_ORDERS = 10_000_000
COLUMNS = ("account", "date", "orders")


@dataclass(frozen=True, slots=True)
class VolumeRow:
    line: int
    account: str  # an account id or its exact name
    date: date
    orders: int


@dataclass(frozen=True, slots=True)
class RowError:
    line: int
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


def parse_orders(value: object) -> int:
    """A whole, non-negative number of orders; raises ValueError with a readable message."""
    if isinstance(value, bool):
        raise ValueError("orders: a whole number is required")
    if isinstance(value, int):
        number = value
    else:
        text = str(value).strip().replace(",", "").replace("_", "")
        if not text.isdigit():
            raise ValueError(f"orders: {str(value)[:40]!r} is not a whole number of orders")
        number = int(text)
    if not 0 <= number <= MAX_ORDERS:
        raise ValueError(f"orders: must be between 0 and {MAX_ORDERS:,}")
    return number


def parse_date(value: object) -> date:
    try:
        return date.fromisoformat(str(value).strip())
    except ValueError:
        raise ValueError(f"date: {str(value)[:40]!r} is not a date (YYYY-MM-DD)") from None


def read_volumes(lines: Iterable[str]) -> tuple[list[VolumeRow], list[RowError]]:
    """Rows and errors of a CSV with the header `account,date,orders` (any column order)."""
    reader = csv.reader(lines)
    rows: list[VolumeRow] = []
    errors: list[RowError] = []
    try:
        header = [h.strip().lower() for h in next(reader)]
    except StopIteration:
        return [], [RowError(1, "the file is empty; expected the header account,date,orders")]
    except csv.Error as exc:
        return [], [RowError(1, f"unreadable CSV: {exc}")]
    missing = [c for c in COLUMNS if c not in header]
    if missing:
        return [], [
            RowError(1, f"missing column(s) {', '.join(missing)}; expected the header account,date,orders")
        ]
    index = {name: header.index(name) for name in COLUMNS}
    seen: dict[tuple[str, date], int] = {}
    while True:
        try:
            record = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            errors.append(RowError(reader.line_num, f"unreadable CSV: {exc}"))
            break
        line = reader.line_num
        if not any(cell.strip() for cell in record):
            continue
        if len(record) < len(header) or any(cell.strip() for cell in record[len(header) :]):
            hint = " (quote numbers written with a thousands separator)" if len(record) > len(header) else ""
            errors.append(RowError(line, f"expected {len(header)} columns, found {len(record)}{hint}"))
            continue
        account = record[index["account"]].strip()
        if not account:
            errors.append(RowError(line, "account: required (an account id or its exact name)"))
            continue
        try:
            day = parse_date(record[index["date"]])
            orders = parse_orders(record[index["orders"]])
        except ValueError as exc:
            errors.append(RowError(line, str(exc)))
            continue
        if (account, day) in seen:
            errors.append(
                RowError(line, f"{account} on {day} already appears on line {seen[(account, day)]}")
            )
            continue
        seen[(account, day)] = line
        rows.append(VolumeRow(line=line, account=account, date=day, orders=orders))
    return rows, errors
