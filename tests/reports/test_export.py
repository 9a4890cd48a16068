"""CSV export: formula injection neutralised, numbers kept as numbers."""

from __future__ import annotations

import csv
import io
from datetime import date

import pytest

from inquiries.reports.export import neutralise, to_csv
from inquiries.reports.tables import Column, Table


@pytest.mark.parametrize("text", ["=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx", '=HYPERLINK("http://x")'])
def test_cells_a_spreadsheet_would_evaluate_are_escaped(text):
    assert neutralise(text) == "'" + text


@pytest.mark.parametrize(
    ("value", "written"),
    [
        ("plain", "plain"),
        (12, 12),
        (-3, -3),
        (87.5, 87.5),
        (None, ""),
        (date(2026, 3, 2), "2026-03-02"),
        ("a=b", "a=b"),
    ],
)
def test_other_values_are_written_as_they_are(value, written):
    assert neutralise(value) == written


def test_a_table_becomes_csv_with_a_header_of_column_keys():
    table = Table("t", "T", (Column("name", "Name", "text"), Column("n", "N")), (("=cmd|' /C calc'!A0", 3),))
    rows = list(csv.reader(io.StringIO(to_csv(table))))
    assert rows == [["name", "n"], ["'=cmd|' /C calc'!A0", "3"]]
