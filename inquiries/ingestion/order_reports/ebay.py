"""eBay's Seller Hub orders report (Seller Hub → Orders → Download report, CSV), pure.

`ebay-orders`: one row per line item; an order of several items has a row of its own first
(the order's number, buyer and dates, no item), then one row per item. The download starts
with a blank line and ends with a summary ("3 record(s) downloaded, from ... to ...", "Seller
ID: ..."): both are skipped. Dates are written "Mar-04-26" (a day, in the site's time: give
`--timezone`); amounts with their currency ("$12.99", "£8.50", "EUR 12,50").

A row with an item gives a line: its SKU is the Custom Label, or the eBay item number when the
listing has none. A row with a tracking number or a shipped date gives a shipment.
"""

from __future__ import annotations

import re

from inquiries.ingestion.order_reports.core import (
    MAX_LENGTHS,
    MERCHANT,
    PENDING,
    SHIPPED,
    UNSHIPPED,
    Cells,
    LineFacts,
    OrderFacts,
    Record,
    ReportFormat,
    ShipmentFacts,
)

# Ship To Country is written as a name; the codes of the countries eBay has sites for.
_COUNTRIES = {
    "united states": "US",
    "canada": "CA",
    "united kingdom": "GB",
    "germany": "DE",
    "france": "FR",
    "italy": "IT",
    "spain": "ES",
    "australia": "AU",
    "austria": "AT",
    "belgium": "BE",
    "ireland": "IE",
    "netherlands": "NL",
    "poland": "PL",
    "switzerland": "CH",
}


def _country(cells: Cells, column: str) -> str:
    """A country code: a two-letter code as written, or the code of a name eBay writes; "" for
    another name (the country is then not stored)."""
    value = cells.text(column)
    if len(value) == 2:
        return cells.code(column, 2)
    return _COUNTRIES.get(value.casefold(), "")


def _read_orders(cells: Cells) -> Record:
    order_id = cells.text("order number", limit="order_id", required=True)
    item_number = cells.text("item number", limit="item_id")
    sku = cells.text("custom label", limit="sku") or item_number
    has_item = bool(sku)
    service = cells.text("shipping service", limit="ship_service_level")
    unit_price, currency = cells.money("sold for")
    quantity = cells.quantity("quantity")
    paid = cells.timestamp("paid on date", dates=True)
    shipped_at = cells.timestamp("shipped on date", dates=True)
    tracking = cells.text("tracking number", limit="tracking_number")
    status = SHIPPED if shipped_at or tracking else (UNSHIPPED if paid else PENDING)
    order = OrderFacts(
        order_id=order_id,
        merchant_order_id=cells.text("sales record number", limit="merchant_order_id"),
        # Required on the order's own row; an item row of a multi-item order may leave it out.
        purchased_at=cells.timestamp("sale date", required=not has_item, dates=True),
        ship_by=cells.timestamp("ship by date", day_end=True),
        # eBay promises a delivery window; its last day is the promise the buyer holds it to.
        deliver_by=cells.timestamp("maximum estimated delivery date", day_end=True),
        status=status,
        fulfilment_channel=MERCHANT,
        sales_channel="eBay",
        ship_service_level=service,
        buyer_email=cells.email("buyer email", "buyer_email"),
        buyer_name=cells.text("buyer name", limit="buyer_name")
        or cells.text("buyer username", limit="buyer_name"),
        currency=currency,
        ship_city=cells.text("ship to city", limit="ship_city"),
        ship_state=cells.text("ship to state", limit="ship_state"),
        ship_postal_code=cells.text("ship to zip", limit="ship_postal_code"),
        ship_country=_country(cells, "ship to country"),
    )
    line = None
    if has_item:
        line = LineFacts(
            sku=sku,
            item_id=item_number,
            title=cells.text("item title", line=False),
            quantity=quantity,
            # "Sold For" is the price of one unit; a line's price is what the buyer paid for all its
            # units, as Amazon's item-price is.
            price=None if unit_price is None else unit_price * max(quantity, 1),
            # With the item number, how eBay's returns, cases and feedback name this line.
            transaction_id=cells.text("transaction id", limit="transaction_id"),
        )
    shipment = None
    if shipped_at or tracking:
        shipment = ShipmentFacts(
            shipment_id=tracking or f"item {sku or order_id}"[: MAX_LENGTHS["shipment_id"]],
            service=service,
            tracking_number=tracking,
            shipped_at=shipped_at,
        )
    cells.check()
    return Record(order=order, line=line, shipment=shipment)


EBAY_FORMATS = (
    ReportFormat(
        name="ebay-orders",
        title="eBay Seller Hub orders report",
        required=("order number", "sale date"),
        optional=(
            "sales record number",
            "buyer username",
            "buyer name",
            "buyer email",
            "ship to city",
            "ship to state",
            "ship to zip",
            "ship to country",
            "item number",
            "item title",
            "custom label",
            "quantity",
            "sold for",
            "paid on date",
            "ship by date",
            "maximum estimated delivery date",
            "shipped on date",
            "tracking number",
            "shipping service",
            "transaction id",
        ),
        carries=frozenset({"order", "line", "shipment"}),
        owns=frozenset({"order", "line", "shipment"}),
        read=_read_orders,
        aliases=(
            ("custom label (sku)", "custom label"),
            ("sku", "custom label"),
            ("ship to zip code", "ship to zip"),
            ("ship to postal code", "ship to zip"),
            ("shipped on", "shipped on date"),
            ("paid on", "paid on date"),
            # The developer program's order report (Merchant Integration Platform) names.
            ("orderid", "order number"),
            ("createddate", "sale date"),
            ("buyerid", "buyer username"),
            ("buyeremail", "buyer email"),
        ),
        fills=(
            ("ship_by", "ship by date"),
            ("deliver_by", "maximum estimated delivery date"),
            ("transaction_id", "transaction id"),
        ),
        footer=re.compile(r"^(\d+ record\(s\) downloaded|seller id\s*:)", re.IGNORECASE),
    ),
)
