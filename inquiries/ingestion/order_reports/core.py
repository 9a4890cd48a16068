"""What every order report parser shares (pure: no Django): the facts a row reads into, the
cells of a row read by their column's rule, and the report's format. `delimited.parse_report()`
reads a file with them.

Timestamps are `csv_import.read_timestamp`'s (a value without a UTC offset is local time in
the zone given, the account's).
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, time
from decimal import Decimal, InvalidOperation
from typing import Any, TextIO
from zoneinfo import ZoneInfo

from inquiries.ingestion.addresses import sender_error
from inquiries.ingestion.csv_import import Reading, read_timestamp, shown
from inquiries.ingestion.limits import CONTROL_RE
from inquiries.ingestion.types import Rejected

# The values of `models.OrderStatus` and `models.FulfilmentChannel` (a test keeps them equal).
PENDING, UNSHIPPED, PARTIALLY_SHIPPED, SHIPPED, CANCELLED, UNFULFILLABLE = (
    "pending", "unshipped", "partially_shipped", "shipped", "cancelled", "unfulfillable",
)  # fmt: skip
MERCHANT, MARKETPLACE = "merchant", "marketplace"
# The values of `models.CancelledBy` (beside MARKETPLACE; a test keeps them equal).
BUYER, SELLER = "buyer", "seller"
# The values of `models.Polarity`, `models.ClaimKind` and `models.ClaimOutcome` (a test keeps them equal).
POSITIVE, NEUTRAL, NEGATIVE = "positive", "neutral", "negative"
GUARANTEE = "guarantee"
OPEN, FOR_BUYER, RESOLVED = "", "for_buyer", "resolved"

# Widths of the database columns the values go to (a test keeps them equal to the models').
MAX_LENGTHS = {
    "order_id": 100,
    "merchant_order_id": 100,
    "marketplace_status": 100,
    "sales_channel": 100,
    "ship_service_level": 100,
    "buyer_email": 320,
    "buyer_name": 200,
    "ship_city": 100,
    "ship_state": 100,
    "ship_postal_code": 32,
    "sku": 100,
    "item_id": 64,
    "item_status": 64,
    "shipment_id": 100,
    "carrier": 100,
    "tracking_number": 100,
    "warehouse": 32,
    "return_id": 200,
    "reason_code": 100,
    "disposition": 64,
    "return_status": 64,
    "rater_email": 320,
    "cancellation_id": 200,
    "transaction_id": 64,
    "claim_id": 200,
    "claim_status": 64,
}
MAX_QUANTITY = 1_000_000
MAX_AMOUNT = Decimal("999999999999.99")  # DecimalField(max_digits=14, decimal_places=2)
_AMOUNT_RE = re.compile(r"^-?\d+(\.\d+)?$")
# "US $1,299.00", "£8.50", "EUR 12,50", "12,50 €": a currency symbol or code before or after;
# a refund may carry its sign before the symbol ("-$60.00", as Walmart writes refunds).
_MONEY_RE = re.compile(
    r"^(?P<sign>-(?=\D))?(?P<before>[A-Za-z]{1,3} ?\$|[$£€]|[A-Za-z]{3} )?"
    r"\s*(?P<number>-?[\d.,]+)\s*(?P<after>[$£€]|[A-Za-z]{3})?$"
)
_CURRENCIES = {"$": "USD", "US$": "USD", "C$": "CAD", "CA$": "CAD", "AU$": "AUD", "£": "GBP", "€": "EUR"}
_MONTH_DAY_YEAR_RE = re.compile(r"^[A-Za-z]{3}-\d{1,2}-(?P<year>\d{4}|\d{2})\b")
DAY_END = time(23, 59, 59)  # a deadline given as a date: the last second of that day


@dataclass(slots=True)
class OrderFacts:
    order_id: str
    merchant_order_id: str = ""
    purchased_at: datetime | None = None
    marketplace_updated_at: datetime | None = None
    ship_by: datetime | None = None
    deliver_by: datetime | None = None
    status: str = ""
    marketplace_status: str = ""
    fulfilment_channel: str = ""
    sales_channel: str = ""
    ship_service_level: str = ""
    buyer_email: str = ""
    buyer_name: str = ""
    currency: str = ""
    ship_city: str = ""
    ship_state: str = ""
    ship_postal_code: str = ""
    ship_country: str = ""


@dataclass(slots=True)
class LineFacts:
    sku: str
    item_id: str = ""
    title: str = ""
    quantity: int = 0
    price: Decimal | None = None
    item_status: str = ""
    transaction_id: str = ""


@dataclass(slots=True)
class ShipmentFacts:
    shipment_id: str
    carrier: str = ""
    service: str = ""
    tracking_number: str = ""
    shipped_at: datetime | None = None
    estimated_arrival_at: datetime | None = None
    delivered_at: datetime | None = None
    warehouse: str = ""


@dataclass(slots=True)
class CancellationFacts:
    external_id: str  # what tells the order's cancellations apart in the report (e.g. its line)
    cancelled_by: str = ""  # a `models.CancelledBy` value; "" when the report does not say
    at: datetime | None = None
    reason: str = ""


@dataclass(slots=True)
class ReturnFacts:
    external_id: str
    sku: str = ""
    item_id: str = ""
    quantity: int = 1
    reason_code: str = ""
    buyer_comment: str = ""
    disposition: str = ""
    status: str = ""
    warehouse: str = ""
    received_at: datetime | None = None
    requested_at: datetime | None = None
    refund_amount: Decimal | None = None


@dataclass(slots=True)
class FeedbackFacts:
    rating: int | None  # 1-5 stars; None where the marketplace rates by polarity only (eBay)
    polarity: str  # POSITIVE, NEUTRAL or NEGATIVE
    text: str = ""
    response: str = ""
    rater_email: str = ""
    left_at: datetime | None = None
    removed: bool = False


def polarity_of_rating(rating: int) -> str:
    """A star rating's polarity, as the metrics read it (`models.polarity_of_rating`)."""
    if rating <= 2:
        return NEGATIVE
    return NEUTRAL if rating == 3 else POSITIVE


@dataclass(slots=True)
class ClaimFacts:
    external_id: str  # the marketplace's id of the claim (eBay: caseId)
    kind: str = GUARANTEE
    opened_at: datetime | None = None
    decided_at: datetime | None = None
    outcome: str = OPEN
    amount: Decimal | None = None
    status: str = ""


@dataclass(slots=True)
class MetricFacts:
    """The marketplace's own figure for one metric (`models.MarketplaceMetric`)."""

    metric: str  # our key: the health definitions' where one matches (`marketplace_metrics`)
    window_start: datetime
    window_end: datetime
    value: float | None = None
    target: float | None = None
    status: str = ""
    numerator: int | None = None
    denominator: int | None = None
    marketplace_id: str = ""


@dataclass(frozen=True, slots=True)
class LineRef:
    """How eBay's returns, cases and feedback name an order: by its line's item id and
    transaction id. The import finds the order (`Record.order.order_id` is empty until then)."""

    item_id: str
    transaction_id: str


@dataclass(slots=True)
class Record:
    """What one report row says: always an order (or, with `line_ref`, the line that names it),
    and by format one of its parts."""

    order: OrderFacts
    line: LineFacts | None = None
    shipment: ShipmentFacts | None = None
    cancellation: CancellationFacts | None = None
    returned: ReturnFacts | None = None
    feedback: FeedbackFacts | None = None
    claim: ClaimFacts | None = None
    line_ref: LineRef | None = None
    # A marketplace's own figure (the seller performance report): `order` is then empty.
    metric: MetricFacts | None = None


class RowRejected(Rejected):
    """A row that cannot be imported; `errors` names every problem, each with its column."""

    def __init__(self, errors: Sequence[str]) -> None:
        super().__init__("; ".join(errors))
        self.errors = tuple(errors)


class Unusual(Exception):
    """Raised by a compiled reader (`ReportFormat.compile`) for a row it does not read itself:
    the row goes to the format's `read`, which reads it in full (or rejects it)."""


class Layout:
    """How a report's rows are read, worked out once per file: the format's columns and where
    they are, and the timestamps read so far (a report repeats them: an order's lines share its
    dates, a day's shipments their ship date)."""

    # Timestamps remembered at most (then forgotten all at once): memory stays flat.
    REMEMBERED = 4096

    def __init__(
        self,
        columns: dict[str, tuple[int, str]],
        zone: ZoneInfo | None = None,
        reading: Reading | None = None,
        header_width: int = 0,
    ) -> None:
        self.columns = columns
        self.names = tuple(columns)
        indexes = [index for index, _ in columns.values()]
        self.width = max(indexes, default=-1) + 1
        # One C call picks a row's cells in the format's column order.
        self.pick: Callable[[list[str]], tuple[str, ...]] = (
            operator.itemgetter(*indexes)
            if len(indexes) > 1
            else (lambda row: tuple(row[i] for i in indexes))
        )
        self.zone = zone or ZoneInfo("UTC")
        self.reading = reading or Reading()
        # The header's number of cells: a compiled reader reads rows of exactly that many.
        self.header_width = max(header_width, self.width)
        self.timestamps: dict[tuple[str, bool, bool], datetime | str] = {}
        self.stamps: dict[str, datetime] = {}  # `stamp()`'s timestamps read so far

    def timestamp(self, value: str, *, dates: bool = False, day_end: bool = False) -> datetime | str:
        """A non-empty cell's timestamp in the file's zone and reading, or what is wrong with it;
        read once per distinct value (up to `REMEMBERED` at a time)."""
        key = (value, dates, day_end)
        read = self.timestamps.get(key)
        if read is None:
            read = read_report_timestamp(value, self.zone, self.reading, dates=dates, day_end=day_end)
            if len(self.timestamps) >= Layout.REMEMBERED:
                self.timestamps.clear()
            self.timestamps[key] = read
        return read

    # What a compiled reader (`ReportFormat.compile`) is built from.

    def picker(self, names: Sequence[str]) -> Callable[[list[str]], tuple[str, ...]]:
        """The cells of columns `names`, in that order, from a row of `header_width` cells with one
        empty cell appended (a column the file does not have reads as that empty cell): one C call."""
        indexes = [self.columns[name][0] if name in self.columns else self.header_width for name in names]
        return operator.itemgetter(*indexes)

    def cells(self, names: Sequence[str], limits: dict[str, str]) -> Callable[[list[str]], tuple[str, ...]]:
        """A compiled reader's cells of a row: the columns `names` (`picker`), trimmed; `Unusual`
        for a cell longer than its `limits` entry (a `MAX_LENGTHS` name) or any control character."""
        pick, bounds, strip = self.picker(names), length_limits(names, limits), str.strip

        def cells(row: list[str]) -> tuple[str, ...]:
            values = tuple(map(strip, pick(row)))
            if not within(values, bounds):
                raise Unusual
            return values

        return cells

    def stamp(self, value: str) -> datetime | None:
        """`Cells.timestamp()` of a cell that may be empty, with no options: None when empty;
        `Unusual` when the value is not a timestamp (the full reader says why). A compiled reader
        looks the value up in `stamps` first (one C call): `stamps.get(value) or stamp(value)`."""
        if not value:
            return None
        read = self.timestamp(value)
        if isinstance(read, str):
            raise Unusual
        if len(self.stamps) >= Layout.REMEMBERED:
            self.stamps.clear()
        self.stamps[value] = read
        return read


def length_limits(names: Sequence[str], limits: dict[str, str]) -> tuple[int, ...]:
    """For a compiled reader: each column's greatest length `Cells.text()` accepts without an
    error (its `MAX_LENGTHS` entry; a column without a limit, any)."""
    return tuple(MAX_LENGTHS[limits[name]] if name in limits else _UNLIMITED for name in names)


_UNLIMITED = 1 << 62


def within(values: tuple[str, ...], limits: tuple[int, ...]) -> bool:
    """Every value no longer than its limit (`length_limits`), and no control character in any (a
    row with one is read in full: only some columns allow them): C loops only. Required columns
    are the reader's to check (not empty)."""
    return all(map(operator.le, map(len, values), limits)) and CONTROL_RE.search("".join(values)) is None


# A plain amount `Cells.amount()` reads as the Decimal of the same text: ASCII digits, at most two
# decimals, within MAX_AMOUNT. Anything else (a comma, spaces, a sign before a symbol) is read in full.
_PLAIN_AMOUNT_RE = re.compile(r"-?[0-9]{1,12}(?:\.[0-9]{1,2})?")


def plain_amount(value: str) -> Decimal | None:
    """`Cells.amount()` of a plain amount (None when empty); `Unusual` for any other text."""
    if not value:
        return None
    if _PLAIN_AMOUNT_RE.fullmatch(value) is None:
        raise Unusual
    return Decimal(value)


def plain_quantity(value: str) -> int:
    """`Cells.quantity()` of a plain whole number (0 when empty); `Unusual` for any other text."""
    if not value:
        return 0
    if not (value.isascii() and value.isdigit() and len(value) <= 7) or int(value) > MAX_QUANTITY:
        raise Unusual
    return int(value)


def plain_code(value: str, length: int) -> str:
    """`Cells.code()` of an empty cell or a code of `length` ASCII letters; `Unusual` otherwise."""
    if value and not (len(value) == length and value.isascii() and value.isalpha()):
        raise Unusual
    return value.upper()


class Remembered(dict[str, Any]):
    """A compiled reader's readings of a column with few distinct values (codes, statuses):
    `remembered.get(value) or remembered.read(value)` reads each value once (the reading must be
    truthy to be remembered; `Unusual` from it is raised, and nothing remembered)."""

    def __init__(self, read: Callable[[str], Any]) -> None:
        super().__init__()
        self.reading = read

    def read(self, value: str) -> Any:
        result = self.reading(value)
        if result:
            if len(self) >= Layout.REMEMBERED:
                self.clear()
            self[value] = result
        return result


# The codes read so far (they do not depend on the file).
CURRENCIES = Remembered(lambda value: plain_code(value, 3))
COUNTRIES = Remembered(lambda value: plain_code(value, 2))


def read_report_timestamp(
    value: str, zone: ZoneInfo, reading: Reading, *, dates: bool, day_end: bool
) -> datetime | str:
    """`Cells.timestamp()`'s reading of a non-empty value: the timestamp, or what is wrong with it."""
    if day_end:
        reading = replace(reading, default_time=DAY_END)
    elif dates and reading.default_time is None:
        reading = replace(reading, default_time=time(0))
    named = _MONTH_DAY_YEAR_RE.match(value)
    if named:
        try:
            text = datetime.strptime(
                named.group(0).title(), "%b-%d-%y" if len(named["year"]) == 2 else "%b-%d-%Y"
            )
        except ValueError:
            return f"not a date: {shown(value)}"
        value = text.date().isoformat() + value[named.end() :].replace(" ", "T", 1)
    try:
        return read_timestamp(value, zone, reading)
    except ValueError as exc:
        return str(exc)


class Cells:
    """One row's values by column, each read with its column's rule; errors are collected, so a
    rejection lists every problem of the row, in the file's column order."""

    def __init__(
        self,
        row: list[str],
        columns: dict[str, tuple[int, str]],
        zone: ZoneInfo,
        reading: Reading,
        layout: Layout | None = None,
    ):
        # The format's cells, trimmed; a row shorter than the header has empty cells at its end.
        if layout is not None and len(row) >= layout.width:
            self.values = dict(zip(layout.names, map(str.strip, layout.pick(row)), strict=True))
        else:
            width = len(row)
            self.values = {
                column: (row[index].strip() if index < width else "")
                for column, (index, _) in columns.items()
            }
        # Most rows have no control character at all: one search, instead of one per cell.
        self.dirty = CONTROL_RE.search("".join(self.values.values())) is not None
        self.columns = columns
        self.zone = zone
        self.reading = reading
        self.layout = layout
        self.errors: list[tuple[int, str]] = []  # (column index, message)

    def raw(self, column: str) -> str:
        return self.values.get(column, "")

    def error(self, column: str, problem: str) -> None:
        index, header = self.columns[column]
        self.errors.append((index, f"{header}: {problem}"))

    def text(
        self, column: str, *, limit: str | None = None, required: bool = False, line: bool = True
    ) -> str:
        """The cell's text, trimmed. `limit` names the MAX_LENGTHS entry; `line`: no control
        characters (ids, names), as opposed to free text (comments) that may hold line breaks.
        A column the file does not have reads as empty (required ones are checked in the header)."""
        value = self.values.get(column, "")
        if not value:
            if required:
                self.error(column, "required")
            return value
        if limit is not None and len(value) > MAX_LENGTHS[limit]:
            self.error(column, f"longer than {MAX_LENGTHS[limit]} characters ({len(value)})")
            return ""
        if line and self.dirty and CONTROL_RE.search(value):
            self.error(column, "contains control characters")
            return ""
        return value

    def timestamp(
        self,
        column: str,
        *,
        required: bool = False,
        reading: Reading | None = None,
        dates: bool = False,
        day_end: bool = False,
    ) -> datetime | None:
        """The cell as an aware UTC timestamp. With `dates`, a date without a time of day is the
        start of that day in the zone; with `day_end` its last second (a deadline given as a date,
        "ship by Mar 4", is met all that day). Otherwise a date alone follows `reading`.
        eBay's "Mar-04-26" is read as a date."""
        value = self.values.get(column, "")
        if not value:
            if required:
                self.error(column, "required")
            return None
        # The file's own reading (not one a reader passes for a column) is remembered by value.
        if self.layout is not None and reading is None:
            read = self.layout.timestamp(value, dates=dates, day_end=day_end)
        else:
            read = read_report_timestamp(
                value, self.zone, reading or self.reading, dates=dates, day_end=day_end
            )
        if isinstance(read, str):
            self.error(column, read)
            return None
        return read

    def quantity(self, column: str, *, default: int = 0) -> int:
        value = self.values.get(column, "")
        if not value:
            return default
        # isdecimal: what int() reads ("²" is a digit, not a decimal: int() refuses it).
        if not value.isdecimal() or int(value) > MAX_QUANTITY:
            self.error(column, f"not a whole number of units from 0 to {MAX_QUANTITY:,}: {shown(value)}")
            return default
        return int(value)

    def money(self, column: str) -> tuple[Decimal | None, str]:
        """An amount with its currency, when the cell names one: "$12.99" and "US $12.99" (USD),
        "C $12.99", "AU $12.99", "£8.50", "EUR 12,50", "12.99 €"; a plain number has none ("")."""
        value = self.values.get(column, "")
        match = _MONEY_RE.match(value)
        if not value or match is None:
            return self.amount(column), ""
        symbol = (match["before"] or match["after"] or "").replace(" ", "").upper()
        if not symbol:
            return self.amount(column), ""
        currency = _CURRENCIES.get(symbol, symbol if len(symbol) == 3 and symbol.isalpha() else None)
        if currency is None:
            self.error(column, f"not an amount in a currency this import knows: {shown(value)}")
            return None, ""
        self.values[column] = (match["sign"] or "") + match["number"]
        return self.amount(column), currency

    def amount(self, column: str) -> Decimal | None:
        """An amount: "1299.00", "1,299.00" (thousands separators) or "12,99" (a decimal comma)."""
        value = self.values.get(column, "")
        if not value:
            return None
        text = value.replace(" ", "")
        if "," in text and "." not in text and re.fullmatch(r"-?\d+,\d{1,2}", text):
            text = text.replace(",", ".")
        else:
            text = text.replace(",", "")
        try:
            amount = Decimal(text) if _AMOUNT_RE.match(text) else None
        except InvalidOperation:
            amount = None
        if amount is None:
            self.error(column, f"not an amount: {shown(value)}")
            return None
        if amount != amount.quantize(Decimal("0.01")):
            self.error(column, f"more than two decimals: {shown(value)}")
            return None
        if abs(amount) > MAX_AMOUNT:
            self.error(column, f"too large: {shown(value)}")
            return None
        return amount

    def code(self, column: str, length: int) -> str:
        """An ISO code of `length` letters (currency, country), upper-cased; empty allowed."""
        value = self.values.get(column, "")
        if value and not (len(value) == length and value.isascii() and value.isalpha()):
            self.error(column, f"not a {length}-letter code: {shown(value)}")
            return ""
        return value.upper()

    def email(self, column: str, limit: str) -> str:
        value = self.text(column, limit=limit)
        problem = sender_error(value)
        if problem:
            self.error(column, f"{problem}: {shown(value)}")
            return ""
        return value.lower()

    def check(self) -> None:
        if self.errors:
            raise RowRejected([message for _, message in sorted(self.errors, key=lambda error: error[0])])


Reader = Callable[[Cells], Record]
# A row of the header's width (with one empty cell appended) -> its record; `Unusual` for a row the
# format's `read` must read in full. It reads the same record as `read` for every row it accepts.
CompiledReader = Callable[[list[str]], Record]


@dataclass(frozen=True)
class ReportFormat:
    name: str
    title: str
    required: tuple[str, ...]
    optional: tuple[str, ...]
    carries: frozenset[str]  # the parts of a record its rows fill: "order", "line", "shipment"...
    owns: frozenset[str]  # those this report is the source of: it may overwrite them
    # A row's record from its cells; None for a format whose `parse` builds its records itself.
    read: Reader | None = None
    aliases: tuple[tuple[str, str], ...] = ()  # (another header, the column it stands for)
    # The fields of `SOMETIMES_CARRIED` this report fills, each with its column: a file with that
    # column overwrites the stored value; without it (Amazon's flat files carry no ship-by,
    # deliver-by or delivery date; a Walmart download may lack the delivery date; Amazon's returns
    # report gives no refund, Walmart's no arrival at the warehouse) it leaves it.
    fills: tuple[tuple[str, str], ...] = ()
    # A row that is not data (a download's closing summary line), by its first cell: skipped.
    footer: re.Pattern[str] | None = None
    # A format that is not a delimited report (eBay's API answers, JSON) reads the whole stream
    # itself: `parse_report()` hands it over.
    parse: Callable[[TextIO | Iterable[str], ReportFormat, ZoneInfo], ParsedReport] | None = None
    # For the largest reports: a reader built once per file (its `Layout`) that reads the usual
    # row without `Cells` (no dict, no method call per cell) and hands any other to `read`.
    compile: Callable[[Layout], CompiledReader] | None = None


# The facts' fields only some reports carry (see `ReportFormat.fills`).
SOMETIMES_CARRIED = frozenset(
    {
        "ship_by",
        "deliver_by",
        "delivered_at",
        "received_at",
        "requested_at",
        "refund_amount",
        "removed",
        "transaction_id",  # eBay's orders download has it; its developer-program report does not
    }
)


@dataclass(frozen=True)
class ParsedReport:
    """The rows `parse_report()` reads, one at a time, and which of its format's columns the
    file has (what an import may overwrite depends on it: `filled`)."""

    rows: Iterator[tuple[int, Record | RowRejected]]
    columns: frozenset[str]
    fmt: ReportFormat

    def __iter__(self) -> Iterator[tuple[int, Record | RowRejected]]:
        return self.rows

    @property
    def filled(self) -> frozenset[str]:
        """The fields of `SOMETIMES_CARRIED` this file carries."""
        return frozenset(field for field, column in self.fmt.fills if column in self.columns)


def json_at(data: Any, path: tuple[str, ...]) -> Any:
    """The value at `path` (keys) in decoded JSON; None where a key or an object is missing."""
    for key in path:
        if not isinstance(data, dict):
            return None
        data = data.get(key)
    return data


def words(text: str) -> tuple[str, ...]:
    return tuple(text.split())
