"""Orders and what happens to them: lines, shipments, cancellations, returns, feedback, claims,
and the marketplace's own reported metrics.

Everything here belongs to one account, directly (Order, MarketplaceMetric) or through its
order, and is scoped by `inquiries.scoping` like inquiries. The rows are facts imported from
the marketplace's reports (`inquiries.services.orders`); a value keeps the marketplace's
definition, which each field's help text names. Account health computed from orders is
issue 21; these tables are what it will read.
"""

from __future__ import annotations

from typing import Any

from django.db import models
from django.db.models import Q
from django.utils import formats
from django.utils import timezone as dj_timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from inquiries.marketplaces import MARKETPLACES
from inquiries.models.config import Account

# Column widths shared with the pure parsers (`inquiries.ingestion.order_reports.MAX_LENGTHS`,
# checked equal by a test): an order id is as wide as `Inquiry.order_id`, which it joins.
ORDER_ID_LENGTH = 100
SKU_LENGTH = 100


class OrderStatus(models.TextChoices):
    UNKNOWN = "", _("Unknown (see the marketplace's status)")
    PENDING = "pending", _("Pending")
    UNSHIPPED = "unshipped", _("Unshipped")
    PARTIALLY_SHIPPED = "partially_shipped", _("Partially shipped")
    SHIPPED = "shipped", _("Shipped")
    CANCELLED = "cancelled", _("Cancelled")
    UNFULFILLABLE = "unfulfillable", _("Unfulfillable")


class FulfilmentChannel(models.TextChoices):
    UNKNOWN = "", _("Unknown")
    MERCHANT = "merchant", _("Merchant (seller-fulfilled)")
    MARKETPLACE = "marketplace", _("Marketplace (e.g. Fulfilled by Amazon)")


class Order(models.Model):
    """One marketplace order of an account, as the marketplace's order report describes it."""

    # Not indexed alone: order_unique_id and order_account_purchased start with it.
    account = models.ForeignKey(
        Account,
        verbose_name=_("account"),
        on_delete=models.CASCADE,
        related_name="orders",
        db_index=False,
        help_text=_("The seller account."),
    )
    marketplace_order_id = models.CharField(
        verbose_name=_("marketplace order id"),
        max_length=ORDER_ID_LENGTH,
        help_text=_(
            "The marketplace's order id (Amazon: amazon-order-id, 3-7-7 digits); unique per account. "
            "Inquiries whose order id equals it are linked to this order."
        ),
    )
    merchant_order_id = models.CharField(
        verbose_name=_("merchant order id"),
        max_length=ORDER_ID_LENGTH,
        blank=True,
        help_text=_("The seller's own order id, when they gave one."),
    )
    purchased_at = models.DateTimeField(
        verbose_name=_("purchased at"),
        null=True,
        blank=True,
        help_text=_("When the buyer placed the order (Amazon: purchase-date)."),
    )
    marketplace_updated_at = models.DateTimeField(
        verbose_name=_("marketplace updated at"),
        null=True,
        blank=True,
        help_text=_("When the marketplace last changed the order (Amazon: last-updated-date)."),
    )
    ship_by = models.DateTimeField(
        verbose_name=_("ship by"),
        null=True,
        blank=True,
        help_text=_(
            "The marketplace's latest ship date: shipped after it, the order counts as late "
            "(Amazon: LatestShipDate)."
        ),
    )
    deliver_by = models.DateTimeField(
        verbose_name=_("deliver by"),
        null=True,
        blank=True,
        help_text=_(
            "The latest delivery date the marketplace promised the buyer (Amazon: LatestDeliveryDate)."
        ),
    )
    status = models.CharField(
        verbose_name=_("status"),
        max_length=20,
        choices=OrderStatus.choices,
        blank=True,
        default=OrderStatus.UNKNOWN,
        help_text=_("The order status, in our words, mapped from the marketplace's."),
    )
    marketplace_status = models.CharField(
        verbose_name=_("marketplace status"),
        max_length=100,
        blank=True,
        help_text=_(
            "The status in the marketplace's own words (Amazon: order-status, e.g. \"Shipped - "
            'Delivered to Buyer").'
        ),
    )
    fulfilment_channel = models.CharField(
        verbose_name=_("fulfilment channel"),
        max_length=16,
        choices=FulfilmentChannel.choices,
        blank=True,
        default=FulfilmentChannel.UNKNOWN,
        help_text=_(
            "Who ships it: the seller (Amazon MFN, 'Merchant') or the marketplace (Amazon AFN, FBA)."
        ),
    )
    sales_channel = models.CharField(
        verbose_name=_("sales channel"),
        max_length=100,
        blank=True,
        help_text=_('Where it was sold (Amazon: sales-channel, e.g. "Amazon.com").'),
    )
    ship_service_level = models.CharField(
        verbose_name=_("ship service level"),
        max_length=100,
        blank=True,
        help_text=_('The shipping speed the buyer chose (e.g. "Standard").'),
    )
    buyer_email = models.CharField(
        verbose_name=_("buyer email"),
        max_length=320,
        blank=True,
        help_text=_("The buyer's address as the marketplace gives it (Amazon: an anonymised relay address)."),
    )
    buyer_name = models.CharField(
        verbose_name=_("buyer name"), max_length=200, blank=True, help_text=_("The buyer's name, when given.")
    )
    currency = models.CharField(
        verbose_name=_("currency"),
        max_length=3,
        blank=True,
        help_text=_("ISO 4217 code of the order's prices."),
    )
    ship_city = models.CharField(
        verbose_name=_("ship city"),
        max_length=100,
        blank=True,
        help_text=_("Where it ships to (Amazon: ship-city)."),
    )
    ship_state = models.CharField(
        verbose_name=_("ship state"), max_length=100, blank=True, help_text=_("Amazon: ship-state.")
    )
    ship_postal_code = models.CharField(
        verbose_name=_("ship postal code"),
        max_length=32,
        blank=True,
        help_text=_("Amazon: ship-postal-code."),
    )
    ship_country = models.CharField(
        verbose_name=_("ship country"), max_length=2, blank=True, help_text=_("ISO 3166 country code.")
    )
    updated_at = models.DateTimeField(
        verbose_name=_("updated at"),
        default=dj_timezone.now,
        help_text=_("When an import last wrote this order in cstracker."),
    )

    class Meta:
        verbose_name = _("order")
        verbose_name_plural = _("orders")
        ordering = ["-purchased_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["account", "marketplace_order_id"], name="order_unique_id"),
        ]
        indexes = [
            # An account's orders by date: the admin's list and the health windows of issue 21.
            models.Index(fields=["account", "purchased_at"], name="order_account_purchased"),
            # The admin's search by order id, across the accounts a user sees.
            models.Index(fields=["marketplace_order_id"], name="order_marketplace_id"),
            # The windows of the marketplace metrics anchored on the ship-by and deliver-by dates
            # (late shipment, on-time delivery; inquiries.selectors.health.order_metrics).
            models.Index(fields=["account", "ship_by"], name="order_account_ship_by"),
            models.Index(fields=["account", "deliver_by"], name="order_account_deliver_by"),
        ]

    def __str__(self) -> str:
        return self.marketplace_order_id


class OrderLine(models.Model):
    """One product of an order: a row of the All Orders report (one per SKU)."""

    order = models.ForeignKey(
        Order,
        verbose_name=_("order"),
        on_delete=models.CASCADE,
        related_name="lines",
        db_index=False,
        help_text=_("The order."),
    )
    sku = models.CharField(
        verbose_name=_("SKU"),
        max_length=SKU_LENGTH,
        help_text=_("The seller's SKU; one line per SKU and order (the report's key)."),
    )
    item_id = models.CharField(
        verbose_name=_("item id"),
        max_length=64,
        blank=True,
        help_text=_("The marketplace's product id (Amazon: ASIN; Walmart/eBay: item id)."),
    )
    title = models.TextField(
        verbose_name=_("title"), blank=True, help_text=_("The product name as the report gives it.")
    )
    quantity = models.PositiveIntegerField(
        verbose_name=_("quantity"), default=0, help_text=_("Units ordered (Amazon: quantity).")
    )
    price = models.DecimalField(
        verbose_name=_("price"),
        max_digits=14,
        decimal_places=2,
        null=True,
        blank=True,
        help_text=_(
            "Amazon's item-price: what the buyer paid for all units of the line (not a unit price), "
            "in the order's currency; empty while the order is pending."
        ),
    )
    item_status = models.CharField(
        verbose_name=_("item status"),
        max_length=64,
        blank=True,
        help_text=_("The line's status in the marketplace's words (Amazon: item-status)."),
    )
    transaction_id = models.CharField(
        verbose_name=_("transaction id"),
        max_length=64,
        blank=True,
        help_text=_(
            "eBay's Transaction ID: with the item id, how eBay's returns, cases and feedback name "
            "the line (the orders download's Transaction ID); empty elsewhere."
        ),
    )

    class Meta:
        verbose_name = _("order line")
        verbose_name_plural = _("order lines")
        ordering = ["order", "sku"]
        constraints = [models.UniqueConstraint(fields=["order", "sku"], name="order_line_unique_sku")]
        # eBay's returns, cases and feedback find their line by (item id, transaction id).
        indexes = [
            models.Index(
                fields=["item_id", "transaction_id"],
                name="order_line_transaction",
                condition=~Q(transaction_id=""),
            )
        ]

    def __str__(self) -> str:
        return f"{self.sku} x {self.quantity}"


class Shipment(models.Model):
    """One parcel of an order, from the marketplace's shipment report or the seller's confirmation."""

    order = models.ForeignKey(
        Order,
        verbose_name=_("order"),
        on_delete=models.CASCADE,
        related_name="shipments",
        db_index=False,
        help_text=_("The order."),
    )
    shipment_id = models.CharField(
        verbose_name=_("shipment id"),
        max_length=100,
        help_text=_(
            "The marketplace's shipment id (Amazon: shipment-id); for seller shipments without one, "
            "the tracking number. Unique per order."
        ),
    )
    carrier = models.CharField(
        verbose_name=_("carrier"),
        max_length=100,
        blank=True,
        help_text=_("As the report names it (Amazon: carrier)."),
    )
    service = models.CharField(
        verbose_name=_("service"),
        max_length=100,
        blank=True,
        help_text=_("The carrier's service or ship level."),
    )
    tracking_number = models.CharField(
        verbose_name=_("tracking number"),
        max_length=100,
        blank=True,
        help_text=_("The carrier's tracking number."),
    )
    shipped_at = models.DateTimeField(
        verbose_name=_("shipped at"),
        null=True,
        blank=True,
        help_text=_("When it left the warehouse (Amazon: shipment-date)."),
    )
    estimated_arrival_at = models.DateTimeField(
        verbose_name=_("estimated arrival at"),
        null=True,
        blank=True,
        help_text=_("The carrier's estimate (Amazon: estimated-arrival-date)."),
    )
    delivered_at = models.DateTimeField(
        verbose_name=_("delivered at"),
        null=True,
        blank=True,
        help_text=_("When the carrier reported delivery, when known."),
    )
    warehouse = models.CharField(
        verbose_name=_("warehouse"),
        max_length=32,
        blank=True,
        help_text=_("The fulfilment centre it left from (Amazon: fulfillment-center-id)."),
    )

    class Meta:
        verbose_name = _("shipment")
        verbose_name_plural = _("shipments")
        ordering = ["order", "shipped_at", "id"]
        constraints = [models.UniqueConstraint(fields=["order", "shipment_id"], name="shipment_unique_id")]
        # The valid tracking rate's window: packages by ship date (inquiries.selectors.health.order_metrics).
        indexes = [models.Index(fields=["shipped_at"], name="shipment_shipped_at")]

    def __str__(self) -> str:
        return self.shipment_id


class CancelledBy(models.TextChoices):
    UNKNOWN = "", _("Unknown")
    BUYER = "buyer", _("Buyer")
    SELLER = "seller", _("Seller")
    MARKETPLACE = "marketplace", _("Marketplace")


class Cancellation(models.Model):
    """An order (or part of it) cancelled: who asked, when, why. A seller cancelling before
    shipment counts in Amazon's pre-fulfilment cancel rate; a buyer's request does not."""

    order = models.ForeignKey(
        Order,
        verbose_name=_("order"),
        on_delete=models.CASCADE,
        related_name="cancellations",
        help_text=_("The order."),
    )
    # Null, not "", for a cancellation entered by hand: NULLs never collide in the unique
    # constraint, so only imported rows (which always have one) are keyed by it.
    external_id = models.CharField(  # noqa: DJ001
        verbose_name=_("external id"),
        max_length=200,
        null=True,
        blank=True,
        help_text=_(
            "What identifies the cancellation in its report, unique per order (Walmart: the PO "
            "line); empty for one entered by hand."
        ),
    )
    cancelled_by = models.CharField(
        verbose_name=_("cancelled by"),
        max_length=16,
        choices=CancelledBy.choices,
        blank=True,
        default="",
        help_text=_("Who cancelled, as the marketplace reports it."),
    )
    at = models.DateTimeField(
        verbose_name=_("at"), null=True, blank=True, help_text=_("When the order was cancelled.")
    )
    reason = models.TextField(
        verbose_name=_("reason"),
        blank=True,
        help_text=_("The reason as given (a code or the buyer's words)."),
    )

    class Meta:
        verbose_name = _("cancellation")
        verbose_name_plural = _("cancellations")
        ordering = ["order", "at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["order", "external_id"], name="cancellation_unique_id"),
        ]

    def __str__(self) -> str:
        return gettext("%(order)s, cancelled by: %(who)s") % {
            "order": self.order_id,
            "who": self.get_cancelled_by_display(),
        }


class Return(models.Model):
    """Units a buyer sent back: a row of Amazon's FBA customer returns report or Walmart's returns
    download."""

    order = models.ForeignKey(
        Order,
        verbose_name=_("order"),
        on_delete=models.CASCADE,
        related_name="returns",
        db_index=False,
        help_text=_("The order."),
    )
    external_id = models.CharField(
        verbose_name=_("external id"),
        max_length=200,
        help_text=_(
            "What identifies the return in its report, unique per order: Amazon's licence plate "
            "number, or SKU and return date when the report has none."
        ),
    )
    sku = models.CharField(
        verbose_name=_("SKU"), max_length=SKU_LENGTH, blank=True, help_text=_("The seller's SKU returned.")
    )
    item_id = models.CharField(
        verbose_name=_("item id"), max_length=64, blank=True, help_text=_("Amazon: ASIN.")
    )
    quantity = models.PositiveIntegerField(
        verbose_name=_("quantity"), default=1, help_text=_("Units returned (Amazon: quantity).")
    )
    reason_code = models.CharField(
        verbose_name=_("reason code"),
        max_length=100,
        blank=True,
        help_text=_('The marketplace\'s return reason code (Amazon: reason, e.g. "DEFECTIVE").'),
    )
    buyer_comment = models.TextField(
        verbose_name=_("buyer comment"),
        blank=True,
        help_text=_("What the buyer wrote (Amazon: customer-comments)."),
    )
    disposition = models.CharField(
        verbose_name=_("disposition"),
        max_length=64,
        blank=True,
        help_text=_(
            'The state of the returned units (Amazon: detailed-disposition, e.g. "CUSTOMER_DAMAGED").'
        ),
    )
    status = models.CharField(
        verbose_name=_("status"),
        max_length=64,
        blank=True,
        help_text=_("The return's status in the report's words."),
    )
    warehouse = models.CharField(
        verbose_name=_("warehouse"),
        max_length=32,
        blank=True,
        help_text=_("Where it was received (Amazon: fulfillment-center-id)."),
    )
    requested_at = models.DateTimeField(
        verbose_name=_("requested at"), null=True, blank=True, help_text=_("When the buyer asked to return.")
    )
    received_at = models.DateTimeField(
        verbose_name=_("received at"),
        null=True,
        blank=True,
        help_text=_("When the units arrived back (Amazon FBA: return-date)."),
    )
    refund_amount = models.DecimalField(
        verbose_name=_("refund amount"),
        max_digits=14,
        decimal_places=2,
        null=True,
        blank=True,
        help_text=_("Refunded, in the order's currency."),
    )

    class Meta:
        verbose_name = _("return")
        verbose_name_plural = _("returns")
        ordering = ["order", "received_at", "id"]
        constraints = [models.UniqueConstraint(fields=["order", "external_id"], name="return_unique_id")]

    def __str__(self) -> str:
        return f"{self.sku} x {self.quantity}"


class Polarity(models.TextChoices):
    POSITIVE = "positive", _("Positive")
    NEUTRAL = "neutral", _("Neutral")
    NEGATIVE = "negative", _("Negative")


# A star rating's polarity: 1-2 negative, 3 neutral, 4-5 positive (Amazon's Order Defect Rate
# counts 1-2 as negative feedback).
RATING_POLARITY = {
    1: Polarity.NEGATIVE,
    2: Polarity.NEGATIVE,
    3: Polarity.NEUTRAL,
    4: Polarity.POSITIVE,
    5: Polarity.POSITIVE,
}


class Feedback(models.Model):
    """The buyer's seller feedback on an order (one per order, as Amazon allows): a 1-5 star rating
    (Amazon, Walmart) or eBay's Positive, Neutral or Negative. Negative feedback is a defect in
    Amazon's Order Defect Rate unless it was removed."""

    order = models.ForeignKey(
        Order,
        verbose_name=_("order"),
        on_delete=models.CASCADE,
        related_name="feedback",
        db_index=False,
        help_text=_("The order rated."),
    )
    rating = models.PositiveSmallIntegerField(
        verbose_name=_("rating"),
        choices=[
            (1, _("1 (negative)")),
            (2, _("2 (negative)")),
            (3, _("3 (neutral)")),
            (4, _("4 (positive)")),
            (5, _("5 (positive)")),
        ],
        null=True,
        blank=True,
        help_text=_("1 to 5 stars; empty where the marketplace rates by polarity only (eBay)."),
    )
    polarity = models.CharField(
        verbose_name=_("polarity"),
        max_length=8,
        choices=Polarity.choices,
        help_text=_(
            "Positive, neutral or negative: eBay's own word (CommentType), or for a star rating "
            "1-2 negative, 3 neutral, 4-5 positive. The metrics count negative feedback by it."
        ),
    )
    text = models.TextField(verbose_name=_("text"), blank=True, help_text=_("The buyer's comment."))
    response = models.TextField(
        verbose_name=_("response"), blank=True, help_text=_("The seller's public response, if any.")
    )
    rater_email = models.CharField(
        verbose_name=_("rater email"),
        max_length=320,
        blank=True,
        help_text=_("The buyer's address as the report gives it (Amazon: Rater Email)."),
    )
    left_at = models.DateTimeField(
        verbose_name=_("left at"),
        null=True,
        blank=True,
        help_text=_("When it was left (Amazon's report gives the day: midnight, local time)."),
    )
    removed = models.BooleanField(
        verbose_name=_("removed"),
        default=False,
        help_text=_("Removed or struck through by the marketplace: it no longer counts as a defect."),
    )

    class Meta:
        verbose_name = _("feedback")
        verbose_name_plural = _("feedback")
        ordering = ["order", "id"]
        constraints = [
            models.UniqueConstraint(fields=["order"], name="feedback_one_per_order"),
            # A NULL rating passes a CHECK: eBay feedback has none.
            models.CheckConstraint(condition=Q(rating__gte=1) & Q(rating__lte=5), name="feedback_rating_1_5"),
            models.CheckConstraint(condition=Q(polarity__in=Polarity.values), name="feedback_polarity_known"),
        ]
        indexes = [
            # The Order Defect Rate's negative feedback: the list of the orders behind it hashes
            # these few rows (with the time each was left) instead of reading every feedback row
            # (inquiries.selectors.health.order_conditions, `per_row`).
            models.Index(
                fields=["order", "left_at"],
                name="feedback_negative",
                condition=Q(polarity=Polarity.NEGATIVE, removed=False),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.order_id}: {self.shown_rating}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        # A star rating entered without its polarity gets the one the metrics read it as (the
        # importers give both: `order_reports.core.polarity_of_rating`, kept equal by a test).
        if not self.polarity and self.rating is not None:
            self.polarity = RATING_POLARITY.get(self.rating, "")
        super().save(*args, **kwargs)

    @property
    def shown_rating(self) -> str:
        """The rating as the marketplace gave it: "4/5" for stars, eBay's word otherwise."""
        if self.rating is not None:
            return f"{self.rating}/5"
        return str(Polarity(self.polarity).label) if self.polarity else ""


class ClaimKind(models.TextChoices):
    GUARANTEE = "guarantee", _("Marketplace guarantee (Amazon A-to-z)")
    CHARGEBACK = "chargeback", _("Chargeback")


class ClaimOutcome(models.TextChoices):
    OPEN = "", _("Open")
    FOR_BUYER = "for_buyer", _("Decided for the buyer (a defect)")
    FOR_SELLER = "for_seller", _("Decided for the seller")
    WITHDRAWN = "withdrawn", _("Withdrawn by the buyer")
    RESOLVED = "resolved", _("Closed without the marketplace deciding (resolved with the seller)")


class Claim(models.Model):
    """An A-to-z guarantee claim or a chargeback: each is a defect in Amazon's Order Defect Rate."""

    order = models.ForeignKey(
        Order,
        verbose_name=_("order"),
        on_delete=models.CASCADE,
        related_name="claims",
        help_text=_("The order."),
    )
    # Null for a claim entered by hand, as Cancellation.external_id.
    external_id = models.CharField(  # noqa: DJ001
        verbose_name=_("external id"),
        max_length=200,
        null=True,
        blank=True,
        help_text=_(
            "The marketplace's id of the claim, unique per order (eBay: caseId); empty for one "
            "entered by hand."
        ),
    )
    kind = models.CharField(
        verbose_name=_("kind"), max_length=16, choices=ClaimKind.choices, help_text=_("Which kind of claim.")
    )
    opened_at = models.DateTimeField(
        verbose_name=_("opened at"), null=True, blank=True, help_text=_("When the buyer filed it.")
    )
    decided_at = models.DateTimeField(
        verbose_name=_("decided at"), null=True, blank=True, help_text=_("When the marketplace decided it.")
    )
    outcome = models.CharField(
        verbose_name=_("outcome"),
        max_length=16,
        choices=ClaimOutcome.choices,
        blank=True,
        default="",
        help_text=_("The marketplace's decision; for the buyer, it is a defect."),
    )
    amount = models.DecimalField(
        verbose_name=_("amount"),
        max_digits=14,
        decimal_places=2,
        null=True,
        blank=True,
        help_text=_("Claimed, in the order's currency."),
    )
    status = models.CharField(
        verbose_name=_("status"),
        max_length=64,
        blank=True,
        help_text=_("The claim's status in the marketplace's words (eBay: caseStatusEnum, e.g. CS_CLOSED)."),
    )

    class Meta:
        verbose_name = _("claim")
        verbose_name_plural = _("claims")
        ordering = ["order", "opened_at", "id"]
        constraints = [models.UniqueConstraint(fields=["order", "external_id"], name="claim_unique_id")]

    def __str__(self) -> str:
        return gettext("%(kind)s on order %(order)s") % {
            "kind": self.get_kind_display(),
            "order": self.order_id,
        }


class MarketplaceMetric(models.Model):
    """A figure the marketplace itself reported for an account (e.g. Amazon's Order Defect Rate in
    the seller performance report), kept beside the one cstracker computes."""

    account = models.ForeignKey(
        Account,
        verbose_name=_("account"),
        on_delete=models.CASCADE,
        related_name="marketplace_metrics",
        db_index=False,
        help_text=_("The account measured."),
    )
    metric = models.CharField(
        verbose_name=_("metric"),
        max_length=64,
        help_text=_('The marketplace\'s metric, by our key (e.g. "order_defect_rate").'),
    )
    value = models.FloatField(
        verbose_name=_("value"),
        null=True,
        blank=True,
        help_text=_("As reported; a rate as a fraction (0.004)."),
    )
    target = models.FloatField(
        verbose_name=_("target"), null=True, blank=True, help_text=_("The marketplace's target, as reported.")
    )
    status = models.CharField(
        verbose_name=_("status"),
        max_length=32,
        blank=True,
        help_text=_('The marketplace\'s own verdict, in its words (e.g. "GOOD").'),
    )
    numerator = models.PositiveIntegerField(
        verbose_name=_("numerator"), null=True, blank=True, help_text=_("e.g. orders with a defect.")
    )
    denominator = models.PositiveIntegerField(
        verbose_name=_("denominator"), null=True, blank=True, help_text=_("e.g. orders in the window.")
    )
    window_start = models.DateTimeField(
        verbose_name=_("window start"), help_text=_("The start of the marketplace's reporting window.")
    )
    window_end = models.DateTimeField(
        verbose_name=_("window end"), help_text=_("Its end, as the marketplace states it.")
    )
    reported_at = models.DateTimeField(
        verbose_name=_("reported at"), help_text=_("When the marketplace produced the figure.")
    )
    source = models.CharField(
        verbose_name=_("source"),
        max_length=100,
        help_text=_('The report or page it came from (e.g. "GET_V2_SELLER_PERFORMANCE_REPORT").'),
    )

    class Meta:
        verbose_name = _("marketplace metric")
        verbose_name_plural = _("marketplace metrics")
        ordering = ["account", "metric", "-window_end"]
        constraints = [
            models.UniqueConstraint(
                fields=["account", "source", "metric", "window_start", "window_end"],
                name="marketplace_metric_unique_window",
            ),
        ]

    def __str__(self) -> str:
        # The metric's name in the reader's language where it is one of ours; else its key as imported.
        label = next(
            (d.label for f in MARKETPLACES.values() for d in f.metrics if d.key == self.metric), None
        )
        return f"{gettext(label) if label else self.metric}: {formats.localize(self.value)}"
