"""Amazon's flat-file reports, as Seller Central and the Reports API deliver them (pure).

- `amazon-all-orders`: the All Orders report (GET_FLAT_FILE_ALL_ORDERS_DATA_BY_ORDER_DATE_GENERAL
  or ..._BY_LAST_UPDATE_GENERAL), one row per order and SKU.
- `amazon-fba-shipments`: Amazon Fulfilled Shipments (GET_AMAZON_FULFILLED_SHIPMENTS_DATA_GENERAL),
  one row per shipped item.
- `amazon-fba-returns`: FBA customer returns (GET_FBA_FULFILLMENT_CUSTOMER_RETURNS_DATA).
- `amazon-mfn-returns`: seller-fulfilled returns (GET_FLAT_FILE_RETURNS_DATA_BY_RETURN_DATE),
  one row per returned item of a return request.
- `amazon-feedback`: the Feedback Manager download / GET_SELLER_FEEDBACK_DATA.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import time

from inquiries.ingestion.addresses import sender_error
from inquiries.ingestion.csv_import import shown
from inquiries.ingestion.limits import CONTROL_RE
from inquiries.ingestion.order_reports.core import (
    CANCELLED,
    COUNTRIES,
    CURRENCIES,
    MARKETPLACE,
    MAX_LENGTHS,
    MERCHANT,
    PARTIALLY_SHIPPED,
    PENDING,
    SHIPPED,
    UNFULFILLABLE,
    UNSHIPPED,
    Cells,
    CompiledReader,
    FeedbackFacts,
    Layout,
    LineFacts,
    OrderFacts,
    Record,
    Remembered,
    ReportFormat,
    ReturnFacts,
    ShipmentFacts,
    Unusual,
    plain_amount,
    plain_quantity,
    polarity_of_rating,
    words,
)


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


def _fulfilment(cells: Cells, column: str) -> str:
    value = cells.text(column)
    if value and value.casefold() not in _FULFILMENT:
        cells.error(column, f"expected Amazon or Merchant (AFN or MFN): {shown(value)}")
        return ""
    return _FULFILMENT.get(value.casefold(), "")


def _order_id(cells: Cells, column: str) -> str:
    return cells.text(column, limit="order_id", required=True)


def _read_all_orders(cells: Cells) -> Record:
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


def _read_fba_shipments(cells: Cells) -> Record:
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


# The compiled readers of the two largest reports (`ReportFormat.compile`): the same records as
# `_read_all_orders` and `_read_fba_shipments`, for the usual row (a test compares the two on every
# sample and on rows made to be unusual); a row with anything to reject or to read with care goes
# to them (`Unusual`).


def _plain_fulfilment(value: str) -> str:
    if not value:
        return ""
    channel = _FULFILMENT.get(value.casefold())
    if channel is None:
        raise Unusual
    return channel


_ALL_ORDERS_CELLS = (
    "amazon-order-id", "merchant-order-id", "purchase-date", "last-updated-date", "order-status",
    "fulfillment-channel", "sales-channel", "ship-service-level", "currency", "ship-city", "ship-state",
    "ship-postal-code", "ship-country", "sku", "asin", "product-name", "quantity", "item-price", "item-status",
)  # fmt: skip
_ALL_ORDERS_LIMITS = {
    "amazon-order-id": "order_id",
    "merchant-order-id": "merchant_order_id",
    "order-status": "marketplace_status",
    "sales-channel": "sales_channel",
    "ship-service-level": "ship_service_level",
    "ship-city": "ship_city",
    "ship-state": "ship_state",
    "ship-postal-code": "ship_postal_code",
    "sku": "sku",
    "asin": "item_id",
    "item-status": "item_status",
}


def _compile_all_orders(layout: Layout) -> CompiledReader:
    cells = layout.cells(_ALL_ORDERS_CELLS, _ALL_ORDERS_LIMITS)
    stamps, stamp = layout.stamps, layout.stamp
    statuses = Remembered(amazon_order_status)
    channels = Remembered(_plain_fulfilment)

    def read(row: list[str]) -> Record:
        (
            order_id, merchant_order_id, purchased, updated, status_word, channel, sales_channel, service,
            currency, city, state, postal_code, country, sku, item_id, title, quantity, price, item_status,
        ) = cells(row)  # fmt: skip
        if not (order_id and status_word and purchased and sku):  # required
            raise Unusual
        order = OrderFacts(
            order_id=order_id,
            merchant_order_id=merchant_order_id,
            purchased_at=stamps.get(purchased) or stamp(purchased),
            marketplace_updated_at=stamps.get(updated) or stamp(updated),
            status=statuses.get(status_word) or statuses.read(status_word),
            marketplace_status=status_word,
            fulfilment_channel=channels.get(channel) or channels.read(channel),
            sales_channel=sales_channel,
            ship_service_level=service,
            currency=CURRENCIES.get(currency) or CURRENCIES.read(currency),
            ship_city=city,
            ship_state=state,
            ship_postal_code=postal_code,
            ship_country=COUNTRIES.get(country) or COUNTRIES.read(country),
        )
        line = LineFacts(
            sku=sku,
            item_id=item_id,
            title=title,
            quantity=plain_quantity(quantity),
            price=plain_amount(price),
            item_status=item_status,
        )
        return Record(order=order, line=line)

    return read


_SHIPMENT_CELLS = (
    "amazon-order-id", "merchant-order-id", "purchase-date", "sales-channel", "ship-service-level",
    "buyer-email", "buyer-name", "currency", "ship-city", "ship-state", "ship-postal-code", "ship-country",
    "sku", "product-name", "quantity-shipped", "item-price", "shipment-id", "carrier", "tracking-number",
    "shipment-date", "estimated-arrival-date", "fulfillment-center-id",
)  # fmt: skip
_SHIPMENT_LIMITS = {
    "amazon-order-id": "order_id",
    "merchant-order-id": "merchant_order_id",
    "sales-channel": "sales_channel",
    "ship-service-level": "ship_service_level",
    "buyer-email": "buyer_email",
    "buyer-name": "buyer_name",
    "ship-city": "ship_city",
    "ship-state": "ship_state",
    "ship-postal-code": "ship_postal_code",
    "sku": "sku",
    "shipment-id": "shipment_id",
    "carrier": "carrier",
    "tracking-number": "tracking_number",
    "fulfillment-center-id": "warehouse",
}


def _plain_email(value: str) -> str:
    if value and sender_error(value):
        raise Unusual
    return value.lower()


def _compile_fba_shipments(layout: Layout) -> CompiledReader:
    cells = layout.cells(_SHIPMENT_CELLS, _SHIPMENT_LIMITS)
    stamps, stamp = layout.stamps, layout.stamp

    def read(row: list[str]) -> Record:
        (
            order_id, merchant_order_id, purchased, sales_channel, service, buyer_email, buyer_name,
            currency, city, state, postal_code, country, sku, title, quantity, price, shipment_id, carrier,
            tracking_number, shipped, arrival, warehouse,
        ) = cells(row)  # fmt: skip
        if not (order_id and sku and shipment_id and shipped):  # required
            raise Unusual
        order = OrderFacts(
            order_id=order_id,
            merchant_order_id=merchant_order_id,
            purchased_at=stamps.get(purchased) or stamp(purchased),
            status=SHIPPED,
            fulfilment_channel=MARKETPLACE,
            sales_channel=sales_channel,
            ship_service_level=service,
            buyer_email=_plain_email(buyer_email),
            buyer_name=buyer_name,
            currency=CURRENCIES.get(currency) or CURRENCIES.read(currency),
            ship_city=city,
            ship_state=state,
            ship_postal_code=postal_code,
            ship_country=COUNTRIES.get(country) or COUNTRIES.read(country),
        )
        line = LineFacts(sku=sku, title=title, quantity=plain_quantity(quantity), price=plain_amount(price))
        shipment = ShipmentFacts(
            shipment_id=shipment_id,
            carrier=carrier,
            service=service,
            tracking_number=tracking_number,
            shipped_at=stamps.get(shipped) or stamp(shipped),
            estimated_arrival_at=stamps.get(arrival) or stamp(arrival),
            warehouse=warehouse,
        )
        return Record(order=order, line=line, shipment=shipment)

    return read


def _read_fba_returns(cells: Cells) -> Record:
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


def _read_mfn_returns(cells: Cells) -> Record:
    order_id = _order_id(cells, "order id")
    sku = cells.text("merchant sku", limit="sku", required=True)
    requested_on = cells.raw("return request date")
    requested_at = cells.timestamp("return request date", required=True, dates=True)
    rma = cells.raw("amazon rma id")
    returned = ReturnFacts(
        # An RMA names one return request, which may hold several items: with the SKU, one row.
        external_id=(f"{rma}/{sku}" if rma else f"{sku}@{requested_on}")[: MAX_LENGTHS["return_id"]],
        sku=sku,
        item_id=cells.text("asin", limit="item_id"),
        quantity=cells.quantity("return quantity", default=1),
        reason_code=cells.text("return reason", limit="reason_code"),
        disposition=cells.text("resolution", limit="disposition"),
        status=cells.text("return request status", limit="return_status"),
        requested_at=requested_at,
        received_at=cells.timestamp("return delivery date", dates=True),
        refund_amount=cells.amount("refunded amount"),
    )
    if len(rma) > MAX_LENGTHS["return_id"] // 2 or (rma and CONTROL_RE.search(rma)):
        cells.error("amazon rma id", f"not an RMA id: {shown(rma)}")
    order = OrderFacts(
        order_id=order_id,
        purchased_at=cells.timestamp("order date", dates=True),
        fulfilment_channel=MERCHANT,
        currency=cells.code("currency code", 3),
    )
    cells.check()
    return Record(order=order, returned=returned)


def _read_feedback(cells: Cells) -> Record:
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
        polarity=polarity_of_rating(rating),
        text=cells.text("comments", line=False),
        response=cells.text("response", line=False),
        rater_email=cells.email("rater email", "rater_email"),
        left_at=cells.timestamp("date", required=True, reading=day_reading),
    )
    cells.check()
    return Record(order=OrderFacts(order_id=order_id), feedback=feedback)


AMAZON_FORMATS = (
    ReportFormat(
        name="amazon-all-orders",
        title="Amazon All Orders report (flat file)",
        required=("amazon-order-id", "purchase-date", "order-status", "sku", "quantity"),
        optional=words(
            "merchant-order-id last-updated-date fulfillment-channel sales-channel ship-service-level "
            "product-name asin item-status currency item-price ship-city ship-state ship-postal-code "
            "ship-country"
        ),
        carries=frozenset({"order", "line"}),
        owns=frozenset({"order", "line"}),
        read=_read_all_orders,
        compile=_compile_all_orders,
    ),
    ReportFormat(
        name="amazon-fba-shipments",
        title="Amazon Fulfilled Shipments report (flat file)",
        required=("amazon-order-id", "shipment-id", "shipment-date", "sku", "quantity-shipped"),
        optional=words(
            "merchant-order-id purchase-date buyer-email buyer-name product-name currency item-price "
            "ship-service-level carrier tracking-number estimated-arrival-date fulfillment-center-id "
            "sales-channel ship-city ship-state ship-postal-code ship-country"
        ),
        carries=frozenset({"order", "line", "shipment"}),
        owns=frozenset({"shipment"}),
        read=_read_fba_shipments,
        compile=_compile_fba_shipments,
    ),
    ReportFormat(
        name="amazon-fba-returns",
        title="Amazon FBA customer returns report (flat file)",
        required=("return-date", "order-id", "sku"),
        optional=words(
            "asin quantity fulfillment-center-id detailed-disposition reason status "
            "license-plate-number customer-comments"
        ),
        carries=frozenset({"order", "returned"}),
        owns=frozenset({"returned"}),
        read=_read_fba_returns,
        fills=(("received_at", "return-date"),),
    ),
    ReportFormat(
        name="amazon-mfn-returns",
        title="Amazon seller-fulfilled returns report (flat file)",
        required=("order id", "return request date", "merchant sku"),
        optional=(
            "amazon rma id",
            "asin",
            "return quantity",
            "return reason",
            "resolution",
            "return request status",
            "return delivery date",
            "refunded amount",
            "order date",
            "currency code",
        ),
        carries=frozenset({"order", "returned"}),
        owns=frozenset({"returned"}),
        read=_read_mfn_returns,
        fills=(
            ("requested_at", "return request date"),
            ("received_at", "return delivery date"),
            ("refund_amount", "refunded amount"),
        ),
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
