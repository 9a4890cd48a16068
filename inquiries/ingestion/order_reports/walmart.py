"""Walmart Marketplace's order download (Seller Center → Order Management → Download), pure.

`walmart-orders`: one row per purchase order (PO) line. Headers are read in Seller Center's
words ("PO#", "Order Date", "Ship By", ...) or as the Orders API and Walmart's on-request
reports name the same facts (purchaseOrderId, orderDate, estimatedShipDate, poNum,
trackingNum, cancelReason, ...): docs/orders.md says which names the published documentation
confirms and which it could not.

An order is a purchase order: the PO number is the order's id (what Seller Center keys on and
what Walmart's relay mail names); the customer order number is not stored. A row gives the
order, its line, a shipment when the line has tracking or a ship date, and a cancellation when
the line is cancelled.

`walmart-returns`: Seller Center's returns download (Returns → Download), one row per return
order line, or the Returns API's (GET /v3/returns) fields flattened to one row per line: each
row a `Return` of its PO.

`walmart-cancellations`: the on-request cancellation report (Reports API, reportType
CANCELLATION), one row per cancelled item: a `Cancellation` of its PO that names who cancelled.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from inquiries.ingestion.csv_import import shown
from inquiries.ingestion.order_reports.core import (
    BUYER,
    CANCELLED,
    MARKETPLACE,
    MAX_LENGTHS,
    MERCHANT,
    SELLER,
    SHIPPED,
    UNSHIPPED,
    CancellationFacts,
    Cells,
    LineFacts,
    OrderFacts,
    Record,
    ReportFormat,
    ReturnFacts,
    ShipmentFacts,
)

# Walmart's line statuses (Orders API: Created, Acknowledged, Shipped, Delivered, Cancelled).
_STATUS = {
    "created": UNSHIPPED,
    "acknowledged": UNSHIPPED,
    "unshipped": UNSHIPPED,
    "shipped": SHIPPED,
    "delivered": SHIPPED,
    "cancelled": CANCELLED,
    "canceled": CANCELLED,
}
_FULFILMENT = {
    "seller fulfilled": MERCHANT,
    "seller": MERCHANT,
    "walmart fulfilled": MARKETPLACE,
    "wfs": MARKETPLACE,
}


def walmart_status(value: str) -> str:
    """Our status for a Walmart line status; "" for one we do not know (kept as written)."""
    return _STATUS.get(value.strip().casefold(), "")


def cancelled_by(reason: str) -> str:
    """Who cancelled, from Walmart's cancellation reason code: CUSTOMER_... (the buyer asked) or
    SELLER_... (e.g. SELLER_CANCEL_OUT_OF_STOCK); "" when the reason does not say."""
    code = reason.strip().upper().replace(" ", "_")
    if code.startswith(("CUSTOMER", "BUYER")):
        return BUYER
    if code.startswith("SELLER"):
        return SELLER
    return ""


def _read_orders(cells: Cells) -> Record:
    order, price = _order_of(cells)
    sku = cells.text("sku", limit="sku", required=True)
    line_number = cells.text("line#", limit="shipment_id")
    line = LineFacts(
        sku=sku,
        item_id=cells.text("item id", limit="item_id"),
        title=cells.text("item description", line=False),
        quantity=cells.quantity("qty"),
        price=price,
        item_status=order.marketplace_status[: MAX_LENGTHS["item_status"]],
    )
    shipment = _shipment_of(cells, line_number or sku, service=order.ship_service_level)
    cancellation = (
        _cancellation_of(cells, line_number, sku=sku, item=line.item_id)
        if order.status == CANCELLED
        else None
    )
    cells.check()
    return Record(order=order, line=line, shipment=shipment, cancellation=cancellation)


def _order_of(cells: Cells) -> tuple[OrderFacts, Decimal | None]:
    """The order the row's PO names, and the line's price (the item cost)."""
    order_id = cells.text("po#", limit="order_id", required=True)
    status_word = cells.text("status", limit="marketplace_status", required=True)
    fulfilment = cells.text("fulfillment entity")
    if fulfilment and fulfilment.casefold() not in _FULFILMENT:
        cells.error(
            "fulfillment entity", f"expected Seller Fulfilled or Walmart Fulfilled: {shown(fulfilment)}"
        )
    price, currency = cells.money("item cost")
    currency = cells.code("currency", 3) or currency or "USD"  # Seller Center US writes dollars
    order = OrderFacts(
        order_id=order_id,
        ship_service_level=cells.text("shipping method", limit="ship_service_level"),
        merchant_order_id=cells.text("seller order no", limit="merchant_order_id"),
        purchased_at=cells.timestamp("order date", required=True, dates=True),
        ship_by=cells.timestamp("ship by", day_end=True),
        deliver_by=cells.timestamp("delivery date", day_end=True),
        status=walmart_status(status_word),
        marketplace_status=status_word,
        fulfilment_channel=_FULFILMENT.get(fulfilment.casefold(), ""),
        sales_channel="Walmart.com",
        buyer_name=cells.text("customer name", limit="buyer_name"),
        currency=currency,
        ship_city=cells.text("city", limit="ship_city"),
        ship_state=cells.text("state", limit="ship_state"),
        ship_postal_code=cells.text("zip", limit="ship_postal_code"),
        ship_country="US",
    )
    return order, price


def _shipment_of(cells: Cells, line_key: str, *, service: str) -> ShipmentFacts | None:
    """The line's package, when the row shows it shipped; `line_key`: the PO line, or the SKU."""
    tracking = cells.text("tracking number", limit="tracking_number")
    shipped_at = cells.timestamp("ship date", dates=True)
    delivered_at = cells.timestamp("actual delivery date", dates=True)
    if not (tracking or shipped_at or delivered_at):
        return None
    return ShipmentFacts(
        # One package per tracking number (lines shipped together share it); a line shipped
        # without one is a package of its own.
        shipment_id=tracking or f"line {line_key}"[: MAX_LENGTHS["shipment_id"]],
        carrier=cells.text("carrier", limit="carrier"),
        service=service,
        tracking_number=tracking,
        shipped_at=shipped_at,
        delivered_at=delivered_at,
    )


def _cancellation_of(cells: Cells, line_number: str, *, sku: str, item: str) -> CancellationFacts:
    """The cancellation of the row's PO line (the row's status says it is cancelled)."""
    reason = cells.text("cancel reason", line=False)
    at = cells.timestamp("cancel date", dates=True)
    return CancellationFacts(
        external_id=cancellation_key(cells, at, item=item, line=line_number, other=f"sku {sku}"),
        cancelled_by=cancelled_by(reason),
        at=at,
        reason=reason,
    )


def cancellation_key(cells: Cells, at: datetime | None, *, item: str, line: str, other: str) -> str:
    """How both Walmart imports key a cancellation, so that one cancellation is stored once and
    two stay two. Walmart cancels a PO line (the Orders API cancels by `lineNumber`; under its
    older single-quantity model every unit is a line of its own, so a PO may hold two lines of
    one SKU and cancel one), and its cancellation report names the item (`catlgItemId`) and the
    day, not the line. So: the item and the local day it was cancelled when the row has both
    (`item 333 2026-03-02`: what the report and an orders download with Item ID and Cancel Date
    share), else the PO line (`line 2`: a download without them), else `other` (the SKU, or the
    order) and the day. Lines of one item cancelled the same day are one cancellation; a buyer's
    and a seller's on different days stay two."""
    day = at.astimezone(cells.zone).date().isoformat() if at else ""
    if item and day:
        key = f"item {item} {day}"
    elif line:
        key = f"line {line}"
    else:
        key = f"{other} {day or 'undated'}"
    return key[: MAX_LENGTHS["cancellation_id"]]


def _po_line(cells: Cells) -> str:
    """The row's PO line as the orders download keys its cancellations and packages."""
    return cells.text("line#", limit="shipment_id")


def _read_returns(cells: Cells) -> Record:
    order_id = cells.text("po#", limit="order_id", required=True)
    sku = cells.text("sku", limit="sku", required=True)
    requested_at = cells.timestamp("return date", required=True, dates=True)
    return_order = cells.text("return order#", limit="return_id")
    return_line = cells.text("return line#", limit="return_id")
    refund, _ = cells.money("refund amount")
    # A return order names the customer's return; its lines tell the items apart. Without the
    # return order number, the SKU and the day the return began are what tell returns apart.
    if return_order:
        key = f"{return_order} line {return_line or _po_line(cells) or sku}"
    else:
        key = f"{sku}@{cells.raw('return date')}"
    returned = ReturnFacts(
        external_id=key[: MAX_LENGTHS["return_id"]],
        sku=sku,
        item_id=cells.text("item id", limit="item_id"),
        quantity=cells.quantity("qty", default=1),
        reason_code=cells.text("return reason", limit="reason_code"),
        buyer_comment=cells.text("customer comments", line=False),
        status=cells.text("return status", limit="return_status"),
        requested_at=requested_at,
        received_at=cells.timestamp("received date", dates=True),
        # Walmart writes a refund as a negative amount (money going back to the customer); the
        # return stores what was refunded.
        refund_amount=None if refund is None else abs(refund),
    )
    cells.check()
    return Record(order=OrderFacts(order_id=order_id), returned=returned)


def _read_cancellations(cells: Cells) -> Record:
    order_id = cells.text("po#", limit="order_id", required=True)
    reason = cells.text("cancel reason", line=False)
    item = cells.text("item id", limit="item_id")
    at = cells.timestamp("cancel date", required=True, dates=True)
    cancellation = CancellationFacts(
        external_id=cancellation_key(cells, at, item=item, line=_po_line(cells), other="order"),
        cancelled_by=cancelled_by(reason),
        at=at,
        reason=reason,
    )
    order = OrderFacts(
        order_id=order_id,
        purchased_at=cells.timestamp("order date", dates=True),
        sales_channel="Walmart.com",
        ship_state=cells.text("state", limit="ship_state"),
    )
    cells.check()
    return Record(order=order, cancellation=cancellation)


# The PO's names in Seller Center, the Orders API and the on-request reports.
_PO_ALIASES = (
    ("po #", "po#"),
    ("po number", "po#"),
    ("purchase order id", "po#"),
    ("purchaseorderid", "po#"),
    ("ponum", "po#"),
)

WALMART_FORMATS = (
    ReportFormat(
        name="walmart-orders",
        title="Walmart Seller Center orders download",
        required=("po#", "order date", "status", "sku", "qty"),
        optional=(
            "line#",
            "ship by",
            "delivery date",
            "customer name",
            "city",
            "state",
            "zip",
            "item description",
            "shipping method",
            "item cost",
            "currency",
            "carrier",
            "tracking number",
            "ship date",
            "actual delivery date",
            "cancel reason",
            "cancel date",
            "seller order no",
            "fulfillment entity",
            "item id",
        ),
        carries=frozenset({"order", "line", "shipment", "cancellation"}),
        owns=frozenset({"order", "line", "shipment", "cancellation"}),
        read=_read_orders,
        aliases=(
            # Seller Center's other spellings, and the Orders API's / on-request reports' names.
            *_PO_ALIASES,
            ("orderdate", "order date"),
            ("orderplaceddt", "order date"),
            ("line #", "line#"),
            ("line number", "line#"),
            ("linenumber", "line#"),
            ("ship by date", "ship by"),
            ("estimatedshipdate", "ship by"),
            ("estimated ship date", "ship by"),
            ("deliver by", "delivery date"),
            ("estimated delivery date", "delivery date"),
            ("estimateddeliverydate", "delivery date"),
            ("quantity", "qty"),
            ("product name", "item description"),
            ("productname", "item description"),
            ("methodcode", "shipping method"),
            ("carrier name", "carrier"),
            ("trackingnum", "tracking number"),
            ("trackingnumber", "tracking number"),
            ("shipdatetime", "ship date"),
            ("actualdeliverydate", "actual delivery date"),
            ("cancelreason", "cancel reason"),
            ("cancellation reason", "cancel reason"),
            ("canceldate", "cancel date"),
            ("catlgitemid", "item id"),
            ("line status", "status"),
        ),
        fills=(
            ("ship_by", "ship by"),
            ("deliver_by", "delivery date"),
            ("delivered_at", "actual delivery date"),
        ),
    ),
    ReportFormat(
        name="walmart-returns",
        title="Walmart Seller Center returns download",
        required=("po#", "return date", "sku"),
        optional=(
            "return order#",
            "return line#",
            "line#",
            "item id",
            "qty",
            "return reason",
            "customer comments",
            "return status",
            "received date",
            "refund amount",
        ),
        carries=frozenset({"order", "returned"}),
        owns=frozenset({"returned"}),
        read=_read_returns,
        aliases=(
            *_PO_ALIASES,
            ("purchase order number", "po#"),
            ("purchaseorderlinenumber", "line#"),
            ("po line#", "line#"),
            ("po line #", "line#"),
            ("return order #", "return order#"),
            ("return order id", "return order#"),
            ("returnorderid", "return order#"),
            ("return order line#", "return line#"),
            ("return order line #", "return line#"),
            ("returnorderlinenumber", "return line#"),
            ("return order date", "return date"),
            ("returnorderdate", "return date"),
            ("return initiated date", "return date"),
            ("returndate", "return date"),
            ("catlgitemid", "item id"),
            ("quantity", "qty"),
            ("return qty", "qty"),
            ("reason", "return reason"),
            ("returnreason", "return reason"),
            ("customercomments", "customer comments"),
            ("comments", "customer comments"),
            ("status", "return status"),
            ("returnstatus", "return status"),
            ("received on", "received date"),
            ("refund", "refund amount"),
            ("totalrefundamount", "refund amount"),
        ),
        fills=(
            ("requested_at", "return date"),
            ("received_at", "received date"),
            ("refund_amount", "refund amount"),
        ),
    ),
    ReportFormat(
        name="walmart-cancellations",
        title="Walmart cancellation report",
        required=("po#", "cancel date"),
        optional=("cancel reason", "line#", "item id", "order date", "state"),
        carries=frozenset({"order", "cancellation"}),
        owns=frozenset({"cancellation"}),
        read=_read_cancellations,
        aliases=(
            *_PO_ALIASES,
            ("canceldate", "cancel date"),
            ("cancelreason", "cancel reason"),
            ("cancellation reason", "cancel reason"),
            ("line number", "line#"),
            ("linenumber", "line#"),
            ("catlgitemid", "item id"),
            ("orderplaceddt", "order date"),
            ("destinationstate", "state"),
        ),
    ),
)
