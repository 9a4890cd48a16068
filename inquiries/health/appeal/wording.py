"""What an appeal says and in whose words: the causes of each failing metric, the annex columns,
and each marketplace's own wording for its metrics (`wording_for`, `whose`, `ours`).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from inquiries.words import _

ANNEX_LIMIT = 50  # rows per annex table; the full list is a CSV download
LATE_RESPONSES = "late_responses"  # the annex key of the late messages

ORDER_COLUMNS = (
    ("order", "Order"),
    ("purchased", "Purchased"),
    ("buyer", "Buyer"),
    ("items", "SKU (ASIN)"),
    ("ship_by", "Ship by"),
    ("shipped", "Shipped"),
    ("carrier", "Carrier"),
    ("tracking", "Tracking number"),
    ("deliver_by", "Deliver by"),
    ("delivered", "Delivered"),
    ("received", "Message received"),
    ("answered", "Answered"),
    ("note", "Feedback, claim, reason"),
)
MESSAGE_COLUMNS = (
    ("received", "Received"),
    ("answered", "Answered"),
    ("order", "Order"),
    ("note", "Subject"),
)


class CauseKind(StrEnum):
    LATE_SHIPMENT = "late_shipment"
    LATE_DELIVERY = "late_delivery"
    CANCELLATIONS = "cancellations"
    TRACKING = "tracking"
    DEFECTS = "defects"  # negative feedback, guarantee claims, chargebacks, cases
    RETURNS = "returns"
    LATE_RESPONSES = "late_responses"


CAUSE_OF_METRIC: dict[str, CauseKind] = {
    "late_shipment_rate": CauseKind.LATE_SHIPMENT,
    "ebay_late_shipment_rate": CauseKind.LATE_SHIPMENT,
    "on_time_delivery_rate": CauseKind.LATE_DELIVERY,
    "walmart_on_time_delivery_rate": CauseKind.LATE_DELIVERY,
    "pre_fulfilment_cancel_rate": CauseKind.CANCELLATIONS,
    "walmart_cancellation_rate": CauseKind.CANCELLATIONS,
    "valid_tracking_rate": CauseKind.TRACKING,
    "walmart_valid_tracking_rate": CauseKind.TRACKING,
    "order_defect_rate": CauseKind.DEFECTS,
    "transaction_defect_rate": CauseKind.DEFECTS,
    "cases_closed_without_seller_resolution": CauseKind.DEFECTS,
    "walmart_return_rate": CauseKind.RETURNS,
}
CAUSE_ORDER = tuple(CauseKind)


def cause_title(kind: CauseKind, claims: str) -> str:
    return {
        CauseKind.LATE_SHIPMENT: _("Orders shipped late"),
        CauseKind.LATE_DELIVERY: _("Orders delivered after the promised date"),
        CauseKind.CANCELLATIONS: _("Orders cancelled by us before shipping"),
        CauseKind.TRACKING: _("Packages without valid tracking"),
        CauseKind.DEFECTS: _("Negative feedback and %(claims)s") % {"claims": claims},
        CauseKind.RETURNS: _("Orders returned"),
        CauseKind.LATE_RESPONSES: _("Buyer messages answered late or not at all"),
    }[kind]


# --- wording per marketplace ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Wording:
    marketplace: str  # "Amazon": whose definitions the figures follow
    document: str  # what the marketplace calls the document
    shape: str  # one sentence: what the marketplace's guidance asks for, in its terms
    submit: str  # where it goes
    claims: str  # the buyer-protection claims in the marketplace's words


# (marketplace, document, shape, submit, claims) in English; `wording_for` translates them.
WORDINGS: dict[str, tuple[str, str, str, str, str]] = {
    "amazon": (
        "Amazon",
        "Plan of action",
        "As Amazon's plan-of-action guidance asks: for each root cause, the actions taken to resolve the "
        "issue and the steps that prevent it, with the orders and ASINs as evidence.",
        "Submit it from Account Health in Seller Central, with the annex as supporting evidence.",
        "A-to-z Guarantee claims",
    ),
    "walmart": (
        "Walmart",
        "Business plan of action",
        "As Walmart's appeal guidance asks: a description of each performance issue against the Seller "
        "Performance Standards and the steps taken to correct it and to prevent it.",
        "Submit it in an appeal case from Seller Center (Help), with the annex attached.",
        "customer claims",
    ),
    "ebay": (
        "eBay",
        "Seller performance review",
        "eBay evaluates seller performance monthly and removes defects when the seller was not at fault; "
        "each issue below has its cause, the correction and the prevention, and the annex carries the "
        "tracking and delivery facts an adjustment request needs.",
        "Send it with a request for a manual adjustment through eBay's customer service.",
        "Money Back Guarantee cases",
    ),
}
OWN_WORDING = (
    "",
    "Internal review",
    "An internal review against our own service policy: each issue's root cause, the corrective action "
    "and the preventive measure, with the evidence.",
    "",
    "claims",
)


def wording_for(marketplace: str) -> Wording:
    """The marketplace's own terms: an Amazon plan never names Walmart's process, and back."""
    name, document, shape, submit, claims = WORDINGS.get(marketplace, OWN_WORDING)
    return Wording(
        marketplace=name,
        document=_(document),
        shape=_(shape),
        submit=_(submit) if submit else "",
        claims=_(claims),
    )


def whose(wording: Wording) -> str:
    """ "Amazon's definition"; for accounts without a marketplace, our own policy's."""
    if not wording.marketplace:
        return _("our service policy's definition")
    return _("%(marketplace)s's definition") % {"marketplace": wording.marketplace}


def ours(wording: Wording) -> str:
    """How a house indicator is named: never as the marketplace's."""
    if not wording.marketplace:
        return _("cstracker's indicator")
    return _("cstracker's indicator, not one of %(marketplace)s's metrics") % {
        "marketplace": wording.marketplace
    }
