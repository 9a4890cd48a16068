"""Parse marketplace order reports (Amazon's flat files) into records. Pure: no Django.

`parse_report(stream, FORMATS[name])` yields each data row's line number with a `Record`
(the order and, by format, its line, shipment, return or feedback) or a `RowRejected`
listing every error of the row, so an import can report each bad line and go on. It reads
one row at a time: memory does not grow with the file.

The formats, with their columns as Seller Central and the Reports API deliver them:

- `amazon-all-orders`: the All Orders report (GET_FLAT_FILE_ALL_ORDERS_DATA_BY_ORDER_DATE_GENERAL
  or ..._BY_LAST_UPDATE_GENERAL), one row per order and SKU.
- `amazon-fba-shipments`: Amazon Fulfilled Shipments (GET_AMAZON_FULFILLED_SHIPMENTS_DATA_GENERAL),
  one row per shipped item.
- `amazon-fba-returns`: FBA customer returns (GET_FBA_FULFILLMENT_CUSTOMER_RETURNS_DATA).
- `amazon-feedback`: the Feedback Manager download / GET_SELLER_FEEDBACK_DATA.

A report is tab-separated (Amazon's flat files, read without quoting: a quote character is
text) or, when its header line has no tab, comma-separated with CSV quoting (the same
report saved from a spreadsheet). Headers match ignoring case and surrounding spaces; other
columns are ignored. Decoding, byte-order marks and line ends are `csv_import.decode_csv`'s,
timestamps `csv_import.read_timestamp`'s (a value without a UTC offset is local time in the
zone given, the account's).

Which report is the source of what: an order's own fields and its lines come from the All
Orders report; a shipment from the shipments report, a return from the returns report,
feedback from the feedback report. The other reports name orders too: `ReportFormat.owns`
says which parts of a record a format may overwrite; the rest are only used to create what
is missing (the service's rule).
"""

from __future__ import annotations

import csv
import itertools
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, time
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    import _csv
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from inquiries.ingestion.addresses import sender_error
from inquiries.ingestion.csv_import import CSV_FIELD_LIMIT, Reading, clean_lines, read_timestamp, shown
from inquiries.ingestion.limits import CONTROL_RE
from inquiries.ingestion.types import Rejected

# The values of `models.OrderStatus` and `models.FulfilmentChannel` (a test keeps them equal).
PENDING, UNSHIPPED, PARTIALLY_SHIPPED, SHIPPED, CANCELLED, UNFULFILLABLE = (
    "pending", "unshipped", "partially_shipped", "shipped", "cancelled", "unfulfillable",
)  # fmt: skip
MERCHANT, MARKETPLACE = "merchant", "marketplace"

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
}
MAX_QUANTITY = 1_000_000
MAX_AMOUNT = Decimal("999999999999.99")  # DecimalField(max_digits=14, decimal_places=2)
_AMOUNT_RE = re.compile(r"^-?\d+(\.\d+)?$")


@dataclass(slots=True)
class OrderFacts:
    order_id: str
    merchant_order_id: str = ""
    purchased_at: datetime | None = None
    marketplace_updated_at: datetime | None = None
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


@dataclass(slots=True)
class ShipmentFacts:
    shipment_id: str
    carrier: str = ""
    service: str = ""
    tracking_number: str = ""
    shipped_at: datetime | None = None
    estimated_arrival_at: datetime | None = None
    warehouse: str = ""


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


@dataclass(slots=True)
class FeedbackFacts:
    rating: int
    text: str = ""
    response: str = ""
    rater_email: str = ""
    left_at: datetime | None = None


@dataclass(slots=True)
class Record:
    """What one report row says: always an order, and by format one of its parts."""

    order: OrderFacts
    line: LineFacts | None = None
    shipment: ShipmentFacts | None = None
    returned: ReturnFacts | None = None
    feedback: FeedbackFacts | None = None


class RowRejected(Rejected):
    """A row that cannot be imported; `errors` names every problem, each with its column."""

    def __init__(self, errors: Sequence[str]) -> None:
        super().__init__("; ".join(errors))
        self.errors = tuple(errors)


class _Cells:
    """One row's values by column, each read with its column's rule; errors are collected, so a
    rejection lists every problem of the row, in the file's column order."""

    def __init__(self, row: list[str], columns: dict[str, tuple[int, str]], zone: ZoneInfo, reading: Reading):
        width = len(row)
        # The format's cells, trimmed; a row shorter than the header has empty cells at its end.
        self.values = {
            column: (row[index].strip() if index < width else "") for column, (index, _) in columns.items()
        }
        # Most rows have no control character at all: one search, instead of one per cell.
        self.dirty = CONTROL_RE.search("".join(self.values.values())) is not None
        self.columns = columns
        self.zone = zone
        self.reading = reading
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
        self, column: str, *, required: bool = False, reading: Reading | None = None
    ) -> datetime | None:
        value = self.values.get(column, "")
        if not value:
            if required:
                self.error(column, "required")
            return None
        try:
            return read_timestamp(value, self.zone, reading or self.reading)
        except ValueError as exc:
            self.error(column, str(exc))
            return None

    def quantity(self, column: str, *, default: int = 0) -> int:
        value = self.values.get(column, "")
        if not value:
            return default
        if not value.isdigit() or int(value) > MAX_QUANTITY:
            self.error(column, f"not a whole number of units from 0 to {MAX_QUANTITY:,}: {shown(value)}")
            return default
        return int(value)

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


Reader = Callable[[_Cells], Record]


@dataclass(frozen=True)
class ReportFormat:
    name: str
    title: str
    required: tuple[str, ...]
    optional: tuple[str, ...]
    carries: frozenset[str]  # the parts of a record its rows fill: "order", "line", "shipment"...
    owns: frozenset[str]  # those this report is the source of: it may overwrite them
    read: Reader
    aliases: tuple[tuple[str, str], ...] = ()  # (another header, the column it stands for)


def amazon_order_status(value: str) -> str:
    """Our status for Amazon's order-status ("Shipped - Delivered to Buyer" is shipped); "" for a
    value we do not know (kept in the marketplace's words beside it)."""
    word = value.strip().casefold()
    if word.startswith("pending"):
        return PENDING
    if word.replace(" ", "") == "partiallyshipped":
        return PARTIALLY_SHIPPED
    if word.startswith(("shipped", "shipping")) or word == "complete":
        return SHIPPED
    return {
        "unshipped": UNSHIPPED,
        "cancelled": CANCELLED,
        "canceled": CANCELLED,
        "unfulfillable": UNFULFILLABLE,
    }.get(word, "")


_FULFILMENT = {
    "amazon": MARKETPLACE,
    "afn": MARKETPLACE,
    "merchant": MERCHANT,
    "mfn": MERCHANT,
    "seller": MERCHANT,
}


def _fulfilment(cells: _Cells, column: str) -> str:
    value = cells.text(column)
    if value and value.casefold() not in _FULFILMENT:
        cells.error(column, f"expected Amazon or Merchant (AFN or MFN): {shown(value)}")
        return ""
    return _FULFILMENT.get(value.casefold(), "")


def _order_id(cells: _Cells, column: str) -> str:
    return cells.text(column, limit="order_id", required=True)


def _read_all_orders(cells: _Cells) -> Record:
    status_word = cells.text("order-status", limit="marketplace_status", required=True)
    order = OrderFacts(
        order_id=_order_id(cells, "amazon-order-id"),
        merchant_order_id=cells.text("merchant-order-id", limit="merchant_order_id"),
        purchased_at=cells.timestamp("purchase-date", required=True),
        marketplace_updated_at=cells.timestamp("last-updated-date"),
        status=amazon_order_status(status_word),
        marketplace_status=status_word,
        fulfilment_channel=_fulfilment(cells, "fulfillment-channel"),
        sales_channel=cells.text("sales-channel", limit="sales_channel"),
        ship_service_level=cells.text("ship-service-level", limit="ship_service_level"),
        currency=cells.code("currency", 3),
        ship_city=cells.text("ship-city", limit="ship_city"),
        ship_state=cells.text("ship-state", limit="ship_state"),
        ship_postal_code=cells.text("ship-postal-code", limit="ship_postal_code"),
        ship_country=cells.code("ship-country", 2),
    )
    line = LineFacts(
        sku=cells.text("sku", limit="sku", required=True),
        item_id=cells.text("asin", limit="item_id"),
        title=cells.text("product-name", line=False),
        quantity=cells.quantity("quantity"),
        price=cells.amount("item-price"),
        item_status=cells.text("item-status", limit="item_status"),
    )
    cells.check()
    return Record(order=order, line=line)


def _read_fba_shipments(cells: _Cells) -> Record:
    # Every row is an item Amazon shipped from its own warehouses: the order is shipped, by
    # the marketplace (used only for an order the All Orders report has not brought yet).
    service = cells.text("ship-service-level", limit="ship_service_level")
    order = OrderFacts(
        order_id=_order_id(cells, "amazon-order-id"),
        merchant_order_id=cells.text("merchant-order-id", limit="merchant_order_id"),
        purchased_at=cells.timestamp("purchase-date"),
        status=SHIPPED,
        fulfilment_channel=MARKETPLACE,
        sales_channel=cells.text("sales-channel", limit="sales_channel"),
        ship_service_level=service,
        buyer_email=cells.email("buyer-email", "buyer_email"),
        buyer_name=cells.text("buyer-name", limit="buyer_name"),
        currency=cells.code("currency", 3),
        ship_city=cells.text("ship-city", limit="ship_city"),
        ship_state=cells.text("ship-state", limit="ship_state"),
        ship_postal_code=cells.text("ship-postal-code", limit="ship_postal_code"),
        ship_country=cells.code("ship-country", 2),
    )
    line = LineFacts(
        sku=cells.text("sku", limit="sku", required=True),
        title=cells.text("product-name", line=False),
        quantity=cells.quantity("quantity-shipped"),
        price=cells.amount("item-price"),
    )
    shipment = ShipmentFacts(
        shipment_id=cells.text("shipment-id", limit="shipment_id", required=True),
        carrier=cells.text("carrier", limit="carrier"),
        service=service,
        tracking_number=cells.text("tracking-number", limit="tracking_number"),
        shipped_at=cells.timestamp("shipment-date", required=True),
        estimated_arrival_at=cells.timestamp("estimated-arrival-date"),
        warehouse=cells.text("fulfillment-center-id", limit="warehouse"),
    )
    cells.check()
    return Record(order=order, line=line, shipment=shipment)


def _read_fba_returns(cells: _Cells) -> Record:
    order_id = _order_id(cells, "order-id")
    sku = cells.text("sku", limit="sku", required=True)
    returned_on = cells.raw("return-date") or ""
    received_at = cells.timestamp("return-date", required=True)
    plate = cells.text("license-plate-number", limit="return_id")
    returned = ReturnFacts(
        # A licence plate number names one returned unit; without one, the SKU and the
        # report's own timestamp are what tells two returns of an order apart.
        external_id=plate or f"{sku}@{returned_on}"[: MAX_LENGTHS["return_id"]],
        sku=sku,
        item_id=cells.text("asin", limit="item_id"),
        quantity=cells.quantity("quantity", default=1),
        reason_code=cells.text("reason", limit="reason_code"),
        buyer_comment=cells.text("customer-comments", line=False),
        disposition=cells.text("detailed-disposition", limit="disposition"),
        status=cells.text("status", limit="return_status"),
        warehouse=cells.text("fulfillment-center-id", limit="warehouse"),
        received_at=received_at,
    )
    cells.check()
    return Record(order=OrderFacts(order_id=order_id, fulfilment_channel=MARKETPLACE), returned=returned)


def _read_feedback(cells: _Cells) -> Record:
    order_id = _order_id(cells, "order id")
    rating_text = cells.text("rating", required=True)
    rating = 0
    if rating_text:
        if rating_text in ("1", "2", "3", "4", "5"):
            rating = int(rating_text)
        else:
            cells.error("rating", f"not a rating from 1 to 5: {shown(rating_text)}")
    # The report gives the day only: it is read as the start of that day, local time.
    day_reading = replace(cells.reading, default_time=cells.reading.default_time or time(0))
    feedback = FeedbackFacts(
        rating=rating,
        text=cells.text("comments", line=False),
        response=cells.text("response", line=False),
        rater_email=cells.email("rater email", "rater_email"),
        left_at=cells.timestamp("date", required=True, reading=day_reading),
    )
    cells.check()
    return Record(order=OrderFacts(order_id=order_id), feedback=feedback)


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


FORMATS: dict[str, ReportFormat] = {
    fmt.name: fmt
    for fmt in (
        ReportFormat(
            name="amazon-all-orders",
            title="Amazon All Orders report (flat file)",
            required=("amazon-order-id", "purchase-date", "order-status", "sku", "quantity"),
            optional=_words(
                "merchant-order-id last-updated-date fulfillment-channel sales-channel ship-service-level "
                "product-name asin item-status currency item-price ship-city ship-state ship-postal-code "
                "ship-country"
            ),
            carries=frozenset({"order", "line"}),
            owns=frozenset({"order", "line"}),
            read=_read_all_orders,
        ),
        ReportFormat(
            name="amazon-fba-shipments",
            title="Amazon Fulfilled Shipments report (flat file)",
            required=("amazon-order-id", "shipment-id", "shipment-date", "sku", "quantity-shipped"),
            optional=_words(
                "merchant-order-id purchase-date buyer-email buyer-name product-name currency item-price "
                "ship-service-level carrier tracking-number estimated-arrival-date fulfillment-center-id "
                "sales-channel ship-city ship-state ship-postal-code ship-country"
            ),
            carries=frozenset({"order", "line", "shipment"}),
            owns=frozenset({"shipment"}),
            read=_read_fba_shipments,
        ),
        ReportFormat(
            name="amazon-fba-returns",
            title="Amazon FBA customer returns report (flat file)",
            required=("return-date", "order-id", "sku"),
            optional=_words(
                "asin quantity fulfillment-center-id detailed-disposition reason status "
                "license-plate-number customer-comments"
            ),
            carries=frozenset({"order", "returned"}),
            owns=frozenset({"returned"}),
            read=_read_fba_returns,
        ),
        ReportFormat(
            name="amazon-feedback",
            title="Amazon seller feedback (Feedback Manager download)",
            required=("date", "rating", "order id"),
            optional=("comments", "response", "rater email"),
            carries=frozenset({"order", "feedback"}),
            owns=frozenset({"feedback"}),
            read=_read_feedback,
            aliases=(("your response", "response"),),
        ),
    )
}


def report_format(name: str) -> ReportFormat:
    """The format called `name`; `ValueError` naming the known ones otherwise."""
    try:
        return FORMATS[name]
    except KeyError:
        raise ValueError(f"unknown format {name!r}; known: {', '.join(sorted(FORMATS))}") from None


def parse_report(
    stream: TextIO | Iterable[str],
    fmt: ReportFormat,
    *,
    zone: str = "UTC",
    reading: Reading | None = None,
) -> Iterator[tuple[int, Record | RowRejected]]:
    """(line number, Record or RowRejected) for each data row of a report in format `fmt`.

    Raises `ValueError` before yielding anything for an empty file, a header without one of
    the format's required columns, a column header that appears twice, or an unknown zone.
    Line numbers are physical lines, the header being line 1; blank rows are skipped.
    """
    try:
        tz = ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {zone!r}") from None
    lines = iter(stream)
    first = next(lines, None)
    if first is None or not first.strip():
        raise ValueError("empty file: no header row")
    tabbed = "\t" in first
    csv.field_size_limit(max(csv.field_size_limit(), CSV_FIELD_LIMIT))
    source = clean_lines(itertools.chain([first], lines), quoting=not tabbed)
    reader = (
        csv.reader(source, delimiter="\t", quoting=csv.QUOTE_NONE)
        if tabbed
        else csv.reader(source, strict=True)
    )
    try:
        header = next(reader)
    except csv.Error as exc:
        raise ValueError(f"line 1: the header row is not valid CSV: {exc}") from None
    columns = _columns(header, fmt)
    return _rows(reader, len(header), columns, fmt.read, tz, reading or Reading())


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
        raise ValueError(
            f"not an {fmt.title}: missing column(s) {', '.join(missing)}; the header has: {shown_header}"
        )
    return columns


def _rows(
    reader: _csv.Reader,
    width: int,
    columns: dict[str, tuple[int, str]],
    read: Reader,
    zone: ZoneInfo,
    reading: Reading,
) -> Iterator[tuple[int, Record | RowRejected]]:
    line_num = 1
    while True:
        first_line = line_num + 1
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            line_num = reader.line_num
            yield first_line, RowRejected([f"not valid CSV: {exc}"])
            continue
        line_num = reader.line_num
        if not any(cell.strip() for cell in row):
            continue
        if len(row) > width and any(cell.strip() for cell in row[width:]):
            yield (
                first_line,
                RowRejected(
                    [f"expected {width} fields, found {len(row)} (a tab or delimiter inside a value?)"]
                ),
            )
            continue
        try:
            yield first_line, read(_Cells(row, columns, zone, reading))
        except RowRejected as exc:
            yield first_line, exc
