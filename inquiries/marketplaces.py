"""The marketplaces' facts, one table: what each marketplace requires and how it words it. Pure.

One frozen `Marketplace` per marketplace (and one each for own shops and others, which have no
marketplace rule): its display name, its reply deadline and the hours it counts in, the senders
of its buyer-message relay, the message rules its presets start with, the health targets and
bands, the Account Health Rating bands, the words of its appeal, and its metrics from orders
with the published pages they follow. A marketplace fact goes here and nowhere else; the SLA
(`sla.presets`), the health computation (`health.presets`, `health.marketplace_metrics`) and the
plan of action (`health.plan`, `health.appeal`) read it. docs/health.md restates the table for
people.

The admin edits the presets (`MarketplacePreset` rows, seeded from `health.presets`); these
values are the seed and the fallback for a marketplace without a row. Targets that are house
defaults rather than marketplace rules say so in their notes.

Texts stay English here, marked with `gettext_noop` so the catalogues collect them; the modules
that show them translate them (`_()` of `inquiries.words`, `{% translate %}` in the templates).
No imports from the app but `inquiries.words` (pure, no imports): everything else reads this module.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from inquiries import words
from inquiries.words import _, gettext_noop

HOUR = 3600
DAY = 24 * HOUR


# --- metrics from orders ------------------------------------------------------------------


class Anchor(StrEnum):
    """The date that puts an order (or package) in a metric's window."""

    PURCHASED = "purchased"  # Order.purchased_at: order-correlated metrics (ODR, cancellations)
    SHIP_BY = "ship_by"  # Order.ship_by: the latest ship date the marketplace set
    DELIVER_BY = "deliver_by"  # Order.deliver_by: the latest delivery date promised the buyer
    SHIPPED = "shipped"  # Shipment.shipped_at: the package's ship date (per package)


class Measure(StrEnum):
    """What is counted; `inquiries.selectors.health.order_metrics` has one SQL condition per measure."""

    # Negative feedback not removed, A-to-z claim not denied, chargeback: per fulfilment channel,
    # as Amazon reports and judges its Order Defect Rate.
    ORDER_DEFECT_SELLER = "order_defect_seller"
    ORDER_DEFECT_MARKETPLACE = "order_defect_marketplace"
    LATE_SHIPMENT = "late_shipment"  # first shipment after ship_by, or none yet with ship_by passed
    SELLER_CANCEL = "seller_cancel"  # cancelled by the seller before any shipment
    VALID_TRACKING = "valid_tracking"  # a package with a tracking number and a carrier
    ON_TIME_DELIVERY = "on_time_delivery"  # delivered by deliver_by, among deliveries with a scan
    RETURNED = "returned"  # at least one return
    CASE_WITHOUT_SELLER = "case_without_seller"  # a guarantee case decided for the buyer
    TRANSACTION_DEFECT = "transaction_defect"  # seller cancellation or case closed without seller


class Population(StrEnum):
    """Which orders a figure covers, by who fulfils them: ours and the marketplace's figure are
    compared only when they cover the same orders."""

    ALL = "all"  # every fulfilment channel
    SELLER = "seller"  # the seller ships them (Amazon's MFN); an unknown channel counts as the seller's
    MARKETPLACE = "marketplace"  # the marketplace ships them (Amazon's AFN, Walmart's WFS)


# The orders each measure draws from (`inquiries.selectors.health.order_metrics` restricts the
# seller's measures to orders not fulfilled by the marketplace, the marketplace's to those it
# fulfils): shipping, cancelling before shipping and tracking are the seller's doing only where
# the seller ships; Amazon judges the defects of each channel apart.
MEASURE_POPULATION = {
    Measure.ORDER_DEFECT_SELLER: Population.SELLER,
    Measure.ORDER_DEFECT_MARKETPLACE: Population.MARKETPLACE,
    Measure.LATE_SHIPMENT: Population.SELLER,
    Measure.SELLER_CANCEL: Population.SELLER,
    Measure.VALID_TRACKING: Population.SELLER,
    Measure.ON_TIME_DELIVERY: Population.SELLER,
    Measure.RETURNED: Population.ALL,
    Measure.CASE_WITHOUT_SELLER: Population.ALL,
    Measure.TRANSACTION_DEFECT: Population.ALL,
}

ANCHOR_TEXT = {
    Anchor.PURCHASED: gettext_noop("purchase date"),
    Anchor.SHIP_BY: gettext_noop("latest ship date"),
    Anchor.DELIVER_BY: gettext_noop("latest delivery date"),
    Anchor.SHIPPED: gettext_noop("ship date"),
}


def percent(value: float | None) -> str:
    """A fraction as a percentage, at most two decimals: 0.025 -> "2.5%"; None -> "no data"
    (in the reader's language)."""
    if value is None:
        return _("no data")
    text = f"{value * 100:.2f}".rstrip("0").rstrip(".")
    places = len(text.partition(".")[2])
    return words.percent(float(text), places)


@dataclass(frozen=True, slots=True)
class MetricDefinition:
    """One of a marketplace's own account-health metrics, as it defines it (see
    `health.marketplace_metrics` for how a value is judged against the target)."""

    key: str
    marketplace: str
    label: str
    measure: Measure
    anchor: Anchor
    window_days: int
    target: float  # a fraction: 0.01 is 1%
    higher_is_better: bool
    counts: str  # what the numerator counts, in words
    over: str  # what the denominator counts, in words
    source: str  # the marketplace's published page the definition follows
    # eBay: the window widens to `long_window_days` while the short window holds fewer than
    # `min_transactions` orders (its seller standards' evaluation period).
    long_window_days: int | None = None
    min_transactions: int | None = None

    @property
    def population(self) -> Population:
        """The orders ours counts, by who fulfils them (as `over` says it)."""
        return MEASURE_POPULATION[self.measure]

    @property
    def anchor_text(self) -> str:
        """The anchor date's name, in the reader's language."""
        return _(ANCHOR_TEXT[self.anchor])

    @property
    def target_text(self) -> str:
        """ "below 1%", in the reader's language."""
        sign = _("above %(target)s") if self.higher_is_better else _("below %(target)s")
        return sign % {"target": percent(self.target)}


# --- the parts of a marketplace's facts ------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ReplyDeadline:
    """The general reply deadline for buyer messages; None: the marketplace publishes none."""

    target_seconds: int | None
    business_days_only: bool  # False: calendar time, weekends and holidays included
    rule: str  # the rule in the marketplace's words, for people


@dataclass(frozen=True, slots=True)
class DefaultMessageRule:
    """A reply target for one type of marketplace message, as a preset starts with it (the admin
    edits the preset's copy; `sla.presets.parse_message_rules` reads it)."""

    name: str
    target_seconds: int
    business_days: bool
    phrases: tuple[str, ...]  # case-insensitive regular expressions, searched in subject and body
    source: str  # the marketplace's page that sets the target
    senders: tuple[str, ...] = ()  # relay-sender syntax: a domain, `*` wildcards, a whole address
    topics: tuple[str, ...] = ()  # topic keys
    definition: str = "marketplace"

    def as_preset_json(self) -> dict[str, object]:
        """The rule as a preset's `message_rules` JSON stores it."""
        return {
            "name": self.name,
            "target_seconds": self.target_seconds,
            "business_days": self.business_days,
            "senders": list(self.senders),
            "phrases": list(self.phrases),
            "topics": list(self.topics),
            "definition": self.definition,
            "source": self.source,
        }


@dataclass(frozen=True, slots=True)
class HealthTargets:
    """The health computation's targets and bands (a preset's fields). The defaults are house
    defaults, shared by every marketplace that does not publish its own."""

    rate_name: str  # what the marketplace calls the late-response metric
    notes: str  # which targets are the marketplace's and which are house defaults
    late_rate_windows: tuple[int, ...] = (7, 30, 90)
    late_rate_target_percent: float = 10.0
    at_risk_ratio: float = 0.8
    response_p50_target_seconds: int = 12 * HOUR
    response_p90_target_seconds: int = DAY
    response_mean_target_seconds: int = 12 * HOUR
    atoz_risk_hours: int | None = None
    atoz_critical_hours: int | None = None
    complaint_window_days: int = 30
    complaint_target_per_100_orders: float = 2.0
    complaint_target_per_100_inquiries: float = 25.0
    cluster_at_risk_severity: int = 3
    cluster_critical_severity: int = 4


@dataclass(frozen=True, slots=True)
class RatingBands:
    """A marketplace's own account rating, shown in these bands (never computed)."""

    healthy_from: int
    at_risk_from: int  # below it: critical


@dataclass(frozen=True, slots=True)
class AppealWording:
    """The plan of action in the marketplace's terms (English; `health.appeal` translates)."""

    document: str  # what the marketplace calls the document
    shape: str  # one sentence: what the marketplace's guidance asks for, in its terms
    submit: str  # where it goes
    claims: str  # the buyer-protection claims in the marketplace's words


@dataclass(frozen=True, slots=True)
class Marketplace:
    key: str
    name: str
    reply: ReplyDeadline
    health: HealthTargets
    wording: AppealWording
    relay_senders: tuple[str, ...] = ()  # who may speak for it (its buyer-message relay)
    message_rules: tuple[DefaultMessageRule, ...] = ()
    metrics: tuple[MetricDefinition, ...] = ()
    rating: RatingBands | None = None
    # Its own published reply metric is our late response rate: it decides the account's status.
    reply_metric_is_its_own: bool = False
    # No marketplace: the account's own SLA policy decides (first-reply compliance).
    own_policy: bool = False


# --- sources ------------------------------------------------------------------------------

AMAZON_ODR = gettext_noop("Seller Central help: Order Defect Rate")
AMAZON_LSR = gettext_noop("Seller Central help: Late Shipment Rate")
AMAZON_CR = gettext_noop("Seller Central help: Pre-fulfillment Cancel Rate")
AMAZON_VTR = gettext_noop("Seller Central help: Valid Tracking Rate")
AMAZON_OTDR = gettext_noop("Seller Central help: On-Time Delivery Rate")
WALMART_STANDARDS = gettext_noop("Walmart Marketplace Learn: Seller Performance Standards")
WALMART_CARE_POLICY = (
    "https://marketplacelearn.walmart.com/guides/Order%20management/Customer%20care/Customer-Care-policy"
)
EBAY_STANDARDS = gettext_noop("eBay Seller Center: Seller performance standards policy")
EBAY_RESPONSE_TIMES = "https://www.ebay.co.uk/sellercentre/news/february-2020-index/changes-return-window"

# --- Amazon -------------------------------------------------------------------------------

AMAZON_ORDER_DEFECTS = gettext_noop(
    "orders with negative feedback (1-2 stars, not removed), an A-to-z Guarantee claim not decided for the seller "
    "or withdrawn, or a chargeback not decided for the seller"
)

AMAZON_METRICS = (
    # Amazon reports and judges its Order Defect Rate per fulfilment channel, each against the 1%:
    # the seller performance report's orderDefectRate.mfn and .afn, imported under these keys.
    MetricDefinition(
        "order_defect_rate", "amazon", gettext_noop("Order Defect Rate (Seller Fulfilled)"),
        Measure.ORDER_DEFECT_SELLER, Anchor.PURCHASED, 60, 0.01, False,
        AMAZON_ORDER_DEFECTS,
        gettext_noop("orders the seller ships (not fulfilled by Amazon), purchased in the window"), AMAZON_ODR,
    ),
    MetricDefinition(
        "order_defect_rate_afn", "amazon", gettext_noop("Order Defect Rate (Fulfilled by Amazon)"),
        Measure.ORDER_DEFECT_MARKETPLACE, Anchor.PURCHASED, 60, 0.01, False,
        AMAZON_ORDER_DEFECTS,
        gettext_noop("orders Fulfilled by Amazon, purchased in the window"), AMAZON_ODR,
    ),
    MetricDefinition(
        "late_shipment_rate", "amazon", gettext_noop("Late Shipment Rate"), Measure.LATE_SHIPMENT, Anchor.SHIP_BY, 10,
        0.04, False,
        gettext_noop("orders first shipped after their latest ship date, or not shipped and past it"),
        gettext_noop(
            "orders the seller ships (not fulfilled by the marketplace), cancelled ones excluded, whose latest "
            "ship date falls in the window"
        ), AMAZON_LSR,
    ),
    MetricDefinition(
        "pre_fulfilment_cancel_rate", "amazon", gettext_noop("Pre-fulfilment Cancel Rate"), Measure.SELLER_CANCEL,
        Anchor.PURCHASED, 7, 0.025, False,
        gettext_noop("orders the seller cancelled before shipping any of them"),
        gettext_noop("orders the seller ships (not fulfilled by the marketplace), purchased in the window"), AMAZON_CR,
    ),
    MetricDefinition(
        "valid_tracking_rate", "amazon", gettext_noop("Valid Tracking Rate"), Measure.VALID_TRACKING, Anchor.SHIPPED,
        30,
        0.95, True,
        gettext_noop("packages with a tracking number and a carrier"),
        gettext_noop("packages of orders the seller ships, shipped in the window"), AMAZON_VTR,
    ),
    MetricDefinition(
        "on_time_delivery_rate", "amazon", gettext_noop("On-Time Delivery Rate"), Measure.ON_TIME_DELIVERY,
        Anchor.DELIVER_BY, 14, 0.97, True,
        gettext_noop("orders delivered (first delivery scan) by their latest delivery date"),
        gettext_noop("orders the seller ships with a delivery scan, whose latest delivery date falls in the window"),
        AMAZON_OTDR,
    ),
)  # fmt: skip

AMAZON = Marketplace(
    key="amazon",
    name="Amazon",
    reply=ReplyDeadline(
        DAY,
        business_days_only=False,
        rule=gettext_noop(
            "Every buyer message answered within 24 hours, weekends and holidays included. "
            "Auto-replies don't count; messages marked 'no response needed' are excluded."
        ),
    ),
    # Amazon relays buyers through anonymised addresses at marketplace.amazon.com, .co.uk, .de ...
    relay_senders=("marketplace.amazon.*",),
    health=HealthTargets(
        rate_name=gettext_noop("Late Response Rate"),
        response_p90_target_seconds=DAY,
        atoz_risk_hours=48,
        atoz_critical_hours=72,
        complaint_window_days=60,
        complaint_target_per_100_orders=1.0,
        notes=gettext_noop(
            "Late Response Rate over 7, 30 and 90 days, at most 10% late. A buyer may file an "
            "A-to-z claim 48 h after contacting the seller; it is granted when the seller has not "
            "answered in 72 h. Order Defect Rate below 1% over 60 days, computed from orders. House "
            "indicators, not Amazon's: complaints of one topic per 100 orders, held to 1 in 100 over 60 "
            "days. Account Health Rating bands: 200+ healthy, 100-199 at risk, 99 and below critical."
        ),
    ),
    rating=RatingBands(healthy_from=200, at_risk_from=100),
    reply_metric_is_its_own=True,
    wording=AppealWording(
        document=gettext_noop("Plan of action"),
        shape=gettext_noop(
            "As Amazon's plan-of-action guidance asks: for each root cause, the actions taken to resolve "
            "the issue and the steps that prevent it, with the orders and ASINs as evidence."
        ),
        submit=gettext_noop(
            "Submit it from Account Health in Seller Central, with the annex as supporting evidence."
        ),
        claims=gettext_noop("A-to-z Guarantee claims"),
    ),
    metrics=AMAZON_METRICS,
)

# --- Walmart ------------------------------------------------------------------------------

WALMART_METRICS = (
    MetricDefinition(
        "walmart_on_time_delivery_rate", "walmart", gettext_noop("On-Time Delivery Rate"), Measure.ON_TIME_DELIVERY,
        Anchor.DELIVER_BY, 90, 0.90, True,
        gettext_noop("orders delivered (first delivery scan) by their promised delivery date"),
        gettext_noop("orders the seller ships with a delivery scan, whose promised delivery date falls in the window"),
        WALMART_STANDARDS,
    ),
    MetricDefinition(
        "walmart_valid_tracking_rate", "walmart", gettext_noop("Valid Tracking Rate"), Measure.VALID_TRACKING,
        Anchor.SHIPPED, 90, 0.99, True,
        gettext_noop("packages with a tracking number and a carrier"),
        gettext_noop("packages of orders the seller ships, shipped in the window"), WALMART_STANDARDS,
    ),
    MetricDefinition(
        "walmart_cancellation_rate", "walmart", gettext_noop("Cancellation Rate"), Measure.SELLER_CANCEL,
        Anchor.PURCHASED,
        90, 0.02, False,
        gettext_noop("orders the seller cancelled before shipping any of them"),
        gettext_noop("orders the seller ships (not fulfilled by the marketplace), purchased in the window"),
        WALMART_STANDARDS,
    ),
    MetricDefinition(
        "walmart_return_rate", "walmart", gettext_noop("Return Rate"), Measure.RETURNED, Anchor.PURCHASED, 90, 0.06,
        False,
        gettext_noop("orders with at least one return"),
        gettext_noop("orders purchased in the window (all fulfilment channels)"), WALMART_STANDARDS,
    ),
)  # fmt: skip

WALMART = Marketplace(
    key="walmart",
    name="Walmart",
    reply=ReplyDeadline(
        2 * DAY,
        business_days_only=False,
        rule=gettext_noop(
            "Customer messages answered within 48 hours, weekends included; complaints "
            "made through the Better Business Bureau or an Attorney General within 1 hour."
        ),
    ),
    # Walmart masks buyers at relay.walmart.com.
    relay_senders=("relay.walmart.com",),
    # Walmart names the Better Business Bureau and an Attorney General; the consumer-protection and
    # consumer-affairs phrases are ours (the state offices that forward such complaints).
    message_rules=(
        DefaultMessageRule(
            name=gettext_noop("Regulator complaint"),
            target_seconds=HOUR,
            business_days=False,
            phrases=(
                r"\bbetter business bureau\b",
                r"\bBBB\b",
                r"\battorneys? general\b",
                r"\bconsumer protection\b",
                r"\bconsumer affairs\b",
            ),
            source=WALMART_CARE_POLICY,
        ),
    ),
    health=HealthTargets(
        rate_name=gettext_noop("Seller Response Rate"),
        late_rate_windows=(14, 30, 60, 90),
        late_rate_target_percent=5.0,
        response_p90_target_seconds=2 * DAY,
        response_p50_target_seconds=DAY,
        response_mean_target_seconds=DAY,
        notes=gettext_noop(
            "Seller Response Rate over 14, 30, 60 and 90 days above 95%, i.e. at most 5% "
            "answered late. Complaint-rate targets are house defaults."
        ),
    ),
    reply_metric_is_its_own=True,
    wording=AppealWording(
        document=gettext_noop("Business plan of action"),
        shape=gettext_noop(
            "As Walmart's appeal guidance asks: a description of each performance issue against the "
            "Seller Performance Standards and the steps taken to correct it and to prevent it."
        ),
        submit=gettext_noop(
            "Submit it in an appeal case from Seller Center (Help), with the annex attached."
        ),
        claims=gettext_noop("customer claims"),
    ),
    metrics=WALMART_METRICS,
)

# --- eBay ---------------------------------------------------------------------------------

# eBay publishes no deadline for ordinary buyer messages. Its three business days govern return
# requests and item-not-received requests (eBay Money Back Guarantee), as eBay's notifications of
# them word it: message rules. A buyer's own "I haven't received a tracking number" is an ordinary
# message.
EBAY_METRICS = (
    MetricDefinition(
        "transaction_defect_rate", "ebay", gettext_noop("Transaction Defect Rate"), Measure.TRANSACTION_DEFECT,
        Anchor.PURCHASED, 90, 0.02, False,
        gettext_noop("orders the seller cancelled, or with a case closed without seller resolution"),
        gettext_noop("orders purchased in the window (12 months while the 3 months hold fewer than 400)"),
        EBAY_STANDARDS,
        long_window_days=365, min_transactions=400,
    ),
    MetricDefinition(
        "ebay_late_shipment_rate", "ebay", gettext_noop("Late Shipment Rate"), Measure.LATE_SHIPMENT, Anchor.SHIP_BY,
        90,
        0.07, False,
        gettext_noop("orders first shipped after their handling-time ship date, or not shipped and past it"),
        gettext_noop(
            "orders the seller ships (not fulfilled by the marketplace), cancelled ones excluded, whose ship date "
            "falls in the window (12 months while the 3 months hold fewer than 400)"
        ),
        EBAY_STANDARDS, long_window_days=365, min_transactions=400,
    ),
    MetricDefinition(
        "cases_closed_without_seller_resolution", "ebay", "Cases closed without seller resolution",
        Measure.CASE_WITHOUT_SELLER, Anchor.PURCHASED, 90, 0.003, False,
        gettext_noop("orders with a Money Back Guarantee case decided for the buyer (the seller did not resolve it)"),
        gettext_noop("orders purchased in the window (12 months while the 3 months hold fewer than 400)"),
        EBAY_STANDARDS,
        long_window_days=365, min_transactions=400,
    ),
)  # fmt: skip

EBAY = Marketplace(
    key="ebay",
    name="eBay",
    reply=ReplyDeadline(
        None,
        business_days_only=True,
        rule=gettext_noop(
            "Return and item-not-received requests answered within 3 business days; "
            "eBay sets no deadline for other messages."
        ),
    ),
    message_rules=(
        DefaultMessageRule(
            name=gettext_noop("Return request"),
            target_seconds=3 * DAY,
            business_days=True,
            phrases=(r"\breturn request\b", r"\brequested a return\b", r"\bopened a return\b"),
            source=EBAY_RESPONSE_TIMES,
        ),
        DefaultMessageRule(
            name=gettext_noop("Item not received request"),
            target_seconds=3 * DAY,
            business_days=True,
            phrases=(
                r"\bitem not received\b",
                r"\bhas(n't| not) received (their|the|an?) (item|order)\b",
            ),
            source=EBAY_RESPONSE_TIMES,
        ),
    ),
    health=HealthTargets(
        rate_name=gettext_noop("Share answered late"),
        response_p90_target_seconds=3 * DAY,
        response_p50_target_seconds=DAY,
        response_mean_target_seconds=DAY,
        notes=gettext_noop(
            "eBay measures the share of requests answered in time; the 10% late target and "
            "the complaint-rate targets are house defaults."
        ),
    ),
    wording=AppealWording(
        document=gettext_noop("Seller performance review"),
        shape=gettext_noop(
            "eBay evaluates seller performance monthly and removes defects when the seller was not at "
            "fault; each issue below has its cause, the correction and the prevention, and the annex carries "
            "the tracking and delivery facts an adjustment request needs."
        ),
        submit=gettext_noop(
            "Send it with a request for a manual adjustment through eBay's customer service."
        ),
        claims=gettext_noop("Money Back Guarantee cases"),
    ),
    metrics=EBAY_METRICS,
)

# --- no marketplace: own shops and others -------------------------------------------------

OWN_POLICY_REPLY = ReplyDeadline(
    None,
    business_days_only=False,
    rule=gettext_noop("The account's internal SLA policy only (no marketplace rule)."),
)
OWN_POLICY_HEALTH = HealthTargets(
    rate_name=gettext_noop("First replies late"),
    notes=gettext_noop(
        "No marketplace rule: the late rate is first-reply compliance against the "
        "account's SLA policy. All targets are house defaults."
    ),
)
OWN_POLICY_WORDING = AppealWording(
    document=gettext_noop("Internal review"),
    shape=gettext_noop(
        "An internal review against our own service policy: each issue's root cause, the corrective "
        "action and the preventive measure, with the evidence."
    ),
    submit="",
    claims=gettext_noop("claims"),
)

SHOP = Marketplace(
    key="shop",
    name="Own shop",
    reply=OWN_POLICY_REPLY,
    health=OWN_POLICY_HEALTH,
    wording=OWN_POLICY_WORDING,
    own_policy=True,
)
OTHER = Marketplace(
    key="other",
    name="Other",
    reply=OWN_POLICY_REPLY,
    health=OWN_POLICY_HEALTH,
    wording=OWN_POLICY_WORDING,
    own_policy=True,
)

MARKETPLACES: dict[str, Marketplace] = {m.key: m for m in (AMAZON, WALMART, EBAY, SHOP, OTHER)}


def marketplace_facts(key: str) -> Marketplace:
    """The facts of a marketplace by its key; an unknown key has no marketplace rule (`OTHER`)."""
    return MARKETPLACES.get(key, OTHER)
