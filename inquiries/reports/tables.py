"""A report table: the one shape the page, the CSV export and the API all render.

Rows hold final figures (compliance rounded to 0.1 point, durations to whole seconds), so
every output shows exactly the same numbers; only the page formats them for reading.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, cast

from django.utils.formats import date_format

from inquiries import words

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise

TEXT, COUNT, PCT, SECONDS, DATE, DATETIME, KEY = "text", "count", "pct", "seconds", "date", "datetime", "key"
# Key columns the page shows, as links.
LINKED = ("inquiry",)


@dataclass(frozen=True, slots=True)
class Column:
    key: str
    label: StrOrPromise
    kind: str = COUNT


@dataclass(frozen=True, slots=True)
class Cell:
    text: str
    kind: str
    key: str
    value: object


@dataclass(frozen=True, slots=True)
class Table:
    name: str
    title: str
    columns: tuple[Column, ...]
    rows: tuple[tuple[object, ...], ...]
    # The instant clock states are judged at, for tables that count clocks.
    as_of: datetime | None = None

    def records(self) -> list[dict[str, object]]:
        """Rows as JSON-ready dicts (dates and datetimes in ISO 8601)."""
        return [{c.key: _json(v) for c, v in zip(self.columns, row, strict=True)} for row in self.rows]

    def visible_columns(self) -> list[Column]:
        """Columns a person reads: ids are for CSV and API only, except an inquiry's number."""
        return [c for c in self.columns if c.kind != KEY or c.key in LINKED]

    def display(self) -> list[list[Cell]]:
        """The visible cells of every row, formatted for reading."""
        return [
            [
                Cell(format_value(v, c.kind), c.kind, c.key, v)
                for c, v in zip(self.columns, row, strict=True)
                if c.kind != KEY or c.key in LINKED
            ]
            for row in self.rows
        ]

    def sorted_by(self, key: str, *, descending: bool = False) -> Table:
        """The rows ordered by one column; empty values always last."""
        index = [c.key for c in self.columns].index(key)
        present = [row for row in self.rows if row[index] is not None]
        missing = [row for row in self.rows if row[index] is None]
        present.sort(key=lambda row: _sort_key(row[index]), reverse=descending)
        return replace(self, rows=tuple(present + missing))

    def column(self, key: str) -> list[object]:
        index = [c.key for c in self.columns].index(key)
        return [row[index] for row in self.rows]


def _sort_key(value: object) -> Any:
    return value.casefold() if isinstance(value, str) else value


def _json(value: object) -> object:
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def rounded_pct(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def rounded_seconds(value: float | None) -> int | None:
    return None if value is None else round(value)


def duration(seconds: float) -> str:
    """Compact duration for reading: 45s, 12m, 3h 05m, 2d 4h."""
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds}s"
    minutes, _ = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    days, hours = divmod(hours, 24)
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes:02d}m"
    return f"{minutes}m"


def format_value(value: object, kind: str) -> str:
    if value is None:
        return "–"
    if kind == PCT:
        return words.percent(float(cast("float", value)), 1)
    if kind == SECONDS:
        return duration(float(cast("float", value)))
    if kind == COUNT:
        return words.number(cast("int", value))
    if kind == DATETIME and isinstance(value, datetime):
        return f"{value:%Y-%m-%d %H:%M}"
    if kind == DATE and isinstance(value, date):
        return date_format(value, "D d M Y")  # the weekday and month in the reader's language
    return str(value)


def totals(rows: Sequence[Sequence[int]]) -> list[int]:
    return [sum(column) for column in zip(*rows, strict=True)] if rows else []
