"""What an appeal says and in whose words: the causes of each failing metric, the annex columns,
and each marketplace's own wording for its metrics (`wording_for`, `whose`, `ours`), read from the
marketplace facts table (`inquiries.marketplaces`).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from inquiries.marketplaces import marketplace_facts
from inquiries.words import _, gettext_noop

ANNEX_LIMIT = 50  # rows per annex table; the full list is a CSV download
LATE_RESPONSES = "late_responses"  # the annex key of the late messages

ORDER_COLUMNS = (
    ("order", gettext_noop("Order")),
    ("purchased", gettext_noop("Purchased")),
    ("buyer", gettext_noop("Buyer")),
    ("items", gettext_noop("SKU (ASIN)")),
    ("ship_by", gettext_noop("Ship by")),
    ("shipped", gettext_noop("Shipped")),
    ("carrier", gettext_noop("Carrier")),
    ("tracking", gettext_noop("Tracking number")),
    ("deliver_by", gettext_noop("Deliver by")),
    ("delivered", gettext_noop("Delivered")),
    ("received", gettext_noop("Message received")),
    ("answered", gettext_noop("Answered")),
    ("note", gettext_noop("Feedback, claim, reason")),
)
MESSAGE_COLUMNS = (
    ("received", gettext_noop("Received")),
    ("answered", gettext_noop("Answered")),
    ("order", gettext_noop("Order")),
    ("note", gettext_noop("Subject")),
)


class CauseKind(StrEnum):
    LATE_SHIPMENT = "late_shipment"
    LATE_DELIVERY = "late_delivery"
    CANCELLATIONS = "cancellations"
    TRACKING = "tracking"
    DEFECTS = "defects"  # negative feedback, guarantee claims, chargebacks, cases
    # Amazon's Order Defect Rate, judged per fulfilment channel: a cause per channel
    SELLER_DEFECTS = "seller_defects"
    MARKETPLACE_DEFECTS = "marketplace_defects"
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
    "order_defect_rate": CauseKind.SELLER_DEFECTS,
    "order_defect_rate_afn": CauseKind.MARKETPLACE_DEFECTS,
    "transaction_defect_rate": CauseKind.DEFECTS,
    "cases_closed_without_seller_resolution": CauseKind.DEFECTS,
    "walmart_return_rate": CauseKind.RETURNS,
}
CAUSE_ORDER = tuple(CauseKind)
DEFECT_CAUSES = frozenset({CauseKind.DEFECTS, CauseKind.SELLER_DEFECTS, CauseKind.MARKETPLACE_DEFECTS})


def cause_title(kind: CauseKind, wording: Wording) -> str:
    """The cause's heading, naming the fulfilment channel where the marketplace judges each apart."""
    claims = wording.claims
    return {
        CauseKind.LATE_SHIPMENT: _("Orders shipped late"),
        CauseKind.LATE_DELIVERY: _("Orders delivered after the promised date"),
        CauseKind.CANCELLATIONS: _("Orders cancelled by us before shipping"),
        CauseKind.TRACKING: _("Packages without valid tracking"),
        CauseKind.DEFECTS: _("Negative feedback and %(claims)s") % {"claims": claims},
        CauseKind.SELLER_DEFECTS: _("Negative feedback and %(claims)s on seller-fulfilled orders")
        % {"claims": claims},
        CauseKind.MARKETPLACE_DEFECTS: _(
            "Negative feedback and %(claims)s on orders fulfilled by %(marketplace)s"
        )
        % {"claims": claims, "marketplace": wording.marketplace},
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


def wording_for(marketplace: str) -> Wording:
    """The marketplace's own terms (from the facts table): an Amazon plan never names Walmart's
    process, and back. Accounts without a marketplace get the wording of an internal review."""
    facts = marketplace_facts(marketplace)
    words = facts.wording
    return Wording(
        marketplace="" if facts.own_policy else facts.name,
        document=_(words.document),
        shape=_(words.shape),
        submit=_(words.submit) if words.submit else "",
        claims=_(words.claims),
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
