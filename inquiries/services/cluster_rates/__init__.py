"""Rate clusters: a product's complaints per unit sold, a carrier's delivery complaints per shipment
(issue 21, point 5), and one incident as one cluster.

Run by the cluster sweep (`complaints.sweep_clusters`), once per account and sweep, with grouped
counts over the whole account: a handful of queries per account whatever its number of orders,
then a few per flagged product or carrier. As of `now`, over the rate window W
(CSTRACKER_CLUSTER_RATE_WINDOW_DAYS, 30 days), the interval (now - W, now]:

- **per SKU**: the numerator counts *signals* about the SKU: complaint inquiries opened in the
  window (with that SKU, or without a SKU and linked to an order containing it), returns of it
  requested (else received) in the window with a complaint reason code, and negative feedback
  (1-2 stars, not removed) left in the window on an order containing it. An order counts once
  however many signals it has (a message, a return and a feedback about one order are one
  complaint); a complaint inquiry with the SKU but no linked order counts on its own. The
  denominator is the units sold: order line quantities of orders purchased in the window,
  cancelled orders left out.
- **per carrier, service and warehouse**: delivery complaints (topics filed under the delivery
  health category: late or no delivery, damaged in transit) opened in the window and linked to an
  order, and returns blaming the carrier, counted once per order and per shipment triple of that
  order; over the shipments of that triple shipped in the window.

A product or carrier at or above the threshold (the account's, else the setting), with at least
the minimum units and CSTRACKER_CLUSTER_MIN_COMPLAINTS complaints, opens a cluster; its figures
are recomputed on every sweep until someone resolves it. The rates are house indicators: they are
ours, not a marketplace's, and the pages say so.

One module per seam: `counting` (the rates), `sweep` (`sweep_rates`: opening and refreshing rate
clusters) and `merging` (one incident, one cluster). The complaint services call the public
functions as `cluster_rates.<function>`, exposed here.
"""

from inquiries.services.cluster_rates.counting import (
    FEEDBACK,
    INQUIRY,
    RETURN,
    SOURCE_NAMES,
    Rate,
    RateConfig,
    Route,
    carrier_rates,
    route_signature,
    sku_rates,
)
from inquiries.services.cluster_rates.merging import PRIMARY_RANK, merge_incidents, resolve_merged
from inquiries.services.cluster_rates.sweep import (
    SAID_TERMS,
    SAID_TEXTS,
    TEXT_CHARS,
    Evidence,
    RateSweepResult,
    sweep_rates,
)

__all__ = [
    "FEEDBACK",
    "INQUIRY",
    "PRIMARY_RANK",
    "RETURN",
    "SAID_TERMS",
    "SAID_TEXTS",
    "SOURCE_NAMES",
    "TEXT_CHARS",
    "Evidence",
    "Rate",
    "RateConfig",
    "RateSweepResult",
    "Route",
    "carrier_rates",
    "merge_incidents",
    "resolve_merged",
    "route_signature",
    "sku_rates",
    "sweep_rates",
]
