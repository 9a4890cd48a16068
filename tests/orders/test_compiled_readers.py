"""The compiled readers of Amazon's two largest reports (`ReportFormat.compile`) read the same
record as the format's full reader for every row: the sample reports, rows generated as
`bench/orders.py` writes them, and the same rows with one cell made unusual in each way the full
reader reads with care or rejects (those go to it)."""

from __future__ import annotations

import io
import random
from dataclasses import replace

import pytest

from inquiries.ingestion.csv_import import Reading, open_csv
from inquiries.ingestion.order_reports import FORMATS, RowRejected, parse_report
from tests.orders.conftest import sample

COMPILED = ["amazon-all-orders", "amazon-fba-shipments"]


def parsed(text_or_path, name: str, *, compiled: bool, zone: str = "America/Los_Angeles") -> list:
    fmt = FORMATS[name] if compiled else replace(FORMATS[name], compile=None)
    if isinstance(text_or_path, str):
        rows = parse_report(io.StringIO(text_or_path), fmt, zone=zone, reading=Reading())
        return [(line, _comparable(item)) for line, item in rows]
    with open_csv(text_or_path) as stream:
        return [(line, _comparable(item)) for line, item in parse_report(stream, fmt, zone=zone)]


def _comparable(item):
    return ("rejected", item.errors) if isinstance(item, RowRejected) else item


@pytest.mark.parametrize("name", COMPILED)
def test_the_samples_read_the_same(name):
    assert FORMATS[name].compile is not None
    assert parsed(sample(name), name, compiled=True) == parsed(sample(name), name, compiled=False)


# Cell values the full reader reads with care, or rejects: each goes through it.
UNUSUAL = [
    "", " padded ", "x" * 101, "x" * 400, "tab\x07bell", "12,50", "1,299.00", "$12.99", "12.999",
    "9999999999999", "-3", "٣", "²", "0003", "99999999", "1e3", "yesterday", "2026-03-01", "03/04/2026 10:00",
    "2026-02-30T10:00:00Z", "Mar-04-26", "afn", "AFN", "Seller", "robot", "us", "USD", "U$D", "ÄB",
    "buyer@example.com", "Buyer@Example.COM", "not an email", "abc123xyz", "a b@example.com",
    "Shipped - Delivered to Buyer", "Pending", "cancelled", "Partially Shipped", "Mystery",
]  # fmt: skip


def _usual(name: str, n: int, rng: random.Random) -> dict[str, str]:
    """Row `n` of a report as Amazon writes it (and bench/orders.py), by column."""
    day, quantity = 1 + n % 28, 1 + rng.randrange(3)
    row = {
        "amazon-order-id": f"111-{n // 2:07d}-{n % 9973:07d}",
        "merchant-order-id": f"M-{n}" if n % 3 else "",
        "purchase-date": f"2026-03-{day:02d}T{n % 24:02d}:{n % 60:02d}:00+00:00",
        "sales-channel": "Amazon.com",
        "ship-service-level": "Expedited" if n % 2 else "Standard",
        "currency": "USD",
        "ship-city": "Springfield",
        "ship-state": "IL",
        "ship-postal-code": f"{62700 + n % 99}",
        "ship-country": "US",
        "sku": f"SKU-{rng.randrange(2000):04d}",
        "product-name": f'Product "deluxe" 12" — édition ☕ {n}',
        "item-price": f"{quantity * (5 + rng.randrange(9500) / 100):.2f}",
        "unread-column": "anything",
    }
    if name == "amazon-all-orders":
        row |= {
            "last-updated-date": f"2026-03-{day:02d}T23:00:00+00:00",
            "order-status": "Shipped" if n % 5 else "Pending",
            "fulfillment-channel": "Amazon" if n % 2 else "Merchant",
            "asin": f"B0{n:08d}",
            "item-status": "Shipped",
            "quantity": str(quantity),
        }
    else:
        row |= {
            "shipment-id": f"D{n // 2:08d}",
            "buyer-email": f"buyer{n}@marketplace.amazon.com",
            "buyer-name": "Pat Doe",
            "quantity-shipped": str(quantity),
            "carrier": "UPS",
            "tracking-number": f"1Z{n:012d}",
            "shipment-date": f"2026-03-{day:02d}T23:30:00+00:00",
            "estimated-arrival-date": f"2026-03-{day:02d}T20:00:00-07:00" if n % 4 else "",
            "fulfillment-center-id": "PHX7",
        }
    return row


def _generated(name: str, count: int, seed: int) -> str:
    """A report of `count` usual rows, then rows with one cell unusual in each way and column."""
    rng = random.Random(seed)
    usual = [_usual(name, n, rng) for n in range(1, count + 1)]
    columns = list(usual[0])
    rows = [[row[column] for column in columns] for row in usual]
    lines = [*rows]
    for index in range(len(columns)):
        for value in UNUSUAL:
            cells = list(rng.choice(rows))
            cells[index] = value
            lines.append(cells)
    lines.append(rows[0][:5])  # a short row
    lines.append([*rows[1], "", ""])  # empty cells beyond the header
    return "".join("\t".join(cells) + "\n" for cells in [columns, *lines])


@pytest.mark.parametrize("name", COMPILED)
def test_generated_and_unusual_rows_read_the_same(name):
    text = _generated(name, 300, seed=7)

    fast, full = parsed(text, name, compiled=True), parsed(text, name, compiled=False)

    assert len(fast) == len(full) >= 300 + 19 * len(UNUSUAL)  # every column made unusual each way
    assert fast == full
    assert any(isinstance(item, tuple) for _, item in full)  # some rejected


@pytest.mark.parametrize("name", COMPILED)
def test_a_file_without_some_optional_columns_reads_the_same(name):
    lines = _generated(name, 50, seed=8).splitlines()
    gone = {"merchant-order-id", "ship-country", "carrier", "asin"}
    dropped = {index for index, column in enumerate(lines[0].split("\t")) if column in gone}
    text = "\n".join(
        "\t".join(cell for index, cell in enumerate(line.split("\t")) if index not in dropped)
        for line in lines
    )

    assert parsed(text, name, compiled=True) == parsed(text, name, compiled=False)
