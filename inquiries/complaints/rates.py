"""Absolute complaint rates: a product's complaints per unit sold, a carrier's delivery complaints
per shipment. No Django.

The burst test (`clusters.burst_test`) compares a product with its own past, so a product that
has always been bad never looks unusual. The rate test compares it with a fixed house threshold
instead: at or above `threshold` (a fraction), once the product has `min_units` units sold (or
the carrier that many shipments) in the window and at least `min_complaints` complaints, so one
complaint on two units opens nothing. A rate is a house indicator, never a marketplace metric.

Return reason codes decide whether a return is a complaint: the marketplaces' codes for a
defective, damaged, wrong or not-as-described item are; "no longer needed", "found a better
price" or "ordered by mistake" are the buyer's own reasons and are not.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal, Protocol

from inquiries.words import _

Severity = Literal["low", "medium", "high", "critical"]

# Words of the marketplaces' return reason codes (Amazon: DEFECTIVE, DAMAGED_BY_CARRIER,
# DAMAGED_BY_FC, QUALITY_UNACCEPTABLE, NOT_AS_DESCRIBED, MISSING_PARTS, SWITCHEROO; Walmart's and
# eBay's exports use phrases such as "Item arrived damaged" or "Doesn't work"), matched on the
# code folded to upper-case words joined by "_".
_COMPLAINT_REASON = re.compile(
    r"DEFECT|DAMAGE|BROKEN|FAULTY|QUALITY|NOT_AS_DESCRIBED|MISSING|WRONG_ITEM|SWITCHEROO"
    r"|DOESN_T_WORK|DOES_NOT_WORK|NOT_WORKING|EXPIRED|COUNTERFEIT"
)
# Of those, the ones that name the journey rather than the product: they count for the carrier.
_CARRIER_REASON = re.compile(r"CARRIER|TRANSIT|SHIPPING_DAMAGE|ARRIVED_DAMAGED|NEVER_ARRIVED|UNDELIVER")
_NON_WORD = re.compile(r"[^A-Z0-9]+")


def _folded(code: str) -> str:
    return _NON_WORD.sub("_", code.upper()).strip("_")


def is_complaint_return(reason_code: str) -> bool:
    """Whether a return with this reason code says something is wrong with the item."""
    folded = _folded(reason_code)
    return bool(_COMPLAINT_REASON.search(folded) or _CARRIER_REASON.search(folded))


def is_carrier_return(reason_code: str) -> bool:
    """Whether a return with this reason code blames the delivery (damaged by the carrier, lost)."""
    return bool(_CARRIER_REASON.search(_folded(reason_code)))


def complaint_reasons(codes: Iterable[str]) -> tuple[list[str], list[str]]:
    """Of the distinct reason codes given, those that are complaints and those that blame the carrier."""
    distinct = sorted(set(codes))
    return [c for c in distinct if is_complaint_return(c)], [c for c in distinct if is_carrier_return(c)]


@dataclass(frozen=True, slots=True)
class RateResult:
    """Outcome of `rate_test()`. `rate` is None when there is no denominator ("no data")."""

    flagged: bool
    rate: float | None
    severity: Severity


def rate_test(
    numerator: int, denominator: int, *, threshold: float, min_units: int, min_complaints: int
) -> RateResult:
    """Flagged when `denominator >= min_units`, `numerator >= min_complaints` and
    `numerator / denominator >= threshold`.

    Severity by how far past the threshold: "critical" at 4x or more, "high" at 2x, "medium" at
    1.5x, "low" otherwise (also for a rate back under the threshold: a cluster stays until a
    person resolves it).
    """
    if not 0 < threshold <= 1:
        raise ValueError("threshold must be in (0, 1]")
    if numerator < 0 or denominator < 0:
        raise ValueError("counts cannot be negative")
    if denominator == 0:
        return RateResult(flagged=False, rate=None, severity="low")
    rate = numerator / denominator
    flagged = denominator >= min_units and numerator >= min_complaints and rate >= threshold
    ratio = rate / threshold
    severity: Severity = (
        "critical" if ratio >= 4 else "high" if ratio >= 2 else "medium" if ratio >= 1.5 else "low"
    )
    return RateResult(flagged=flagged, rate=rate, severity=severity)


def route_name(carrier: str, service: str, warehouse: str) -> str:
    """ "UPS Ground from FC-1", with whatever parts are known (in the reader's language)."""
    name = " ".join(part for part in (carrier, service) if part) or _("Unknown carrier")
    return _("%(route)s from %(warehouse)s") % {"route": name, "warehouse": warehouse} if warehouse else name


def rate_title(*, subject: str, said: str, numerator: int | None, denominator: int | None, unit: str) -> str:
    """ "SKU MUG-12: broken, arrived (14 of 230 units, 6.1%)": what, what customers say, the rate.
    `unit` is "units" or "shipments" (`RateSubject.unit`), written in the reader's language."""
    head = f"{subject}: {said}" if said else subject
    if not denominator or numerator is None:
        return head
    figures = {
        "head": head,
        "part": numerator,
        "whole": denominator,
        "rate": f"{numerator / denominator:.1%}",
    }
    if unit == "units":
        return _("%(head)s (%(part)s of %(whole)s units, %(rate)s)") % figures
    return _("%(head)s (%(part)s of %(whole)s shipments, %(rate)s)") % figures


@dataclass(frozen=True, slots=True)
class RateSubject:
    """What a rate cluster measures, from its stored columns."""

    kind: str  # "sku_rate" or "carrier_rate"
    sku: str = ""
    carrier: str = ""
    service: str = ""
    warehouse: str = ""

    @property
    def name(self) -> str:
        if self.kind == "sku_rate":
            return _("SKU %(sku)s") % {"sku": self.sku}
        return route_name(self.carrier, self.service, self.warehouse)

    @property
    def unit(self) -> str:
        """What the denominator counts."""
        return "units" if self.kind == "sku_rate" else "shipments"


class RateCluster(Protocol):
    """What a rate cluster stores (the model's columns), as the titles read it."""

    @property
    def kind(self) -> str: ...
    @property
    def sku(self) -> str: ...
    @property
    def carrier(self) -> str: ...
    @property
    def service(self) -> str: ...
    @property
    def warehouse(self) -> str: ...
    @property
    def said(self) -> str: ...
    @property
    def rate_numerator(self) -> int | None: ...
    @property
    def rate_denominator(self) -> int | None: ...


def subject_of(cluster: RateCluster) -> RateSubject:
    return RateSubject(
        kind=cluster.kind,
        sku=cluster.sku,
        carrier=cluster.carrier,
        service=cluster.service,
        warehouse=cluster.warehouse,
    )


def title_of(cluster: RateCluster) -> str:
    """The rate cluster's title (`rate_title`) from its stored columns."""
    subject = subject_of(cluster)
    return rate_title(
        subject=subject.name,
        said=cluster.said,
        numerator=cluster.rate_numerator,
        denominator=cluster.rate_denominator,
        unit=subject.unit,
    )
