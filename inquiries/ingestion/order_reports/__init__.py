"""Parse marketplace order reports (Amazon's flat files, Walmart's and eBay's order downloads) into
records. Pure: no Django.

`parse_report(stream, FORMATS[name])` yields each data row's line number (for eBay's JSON
answers, `ebay_api`, the entry's number) with a `Record`
(the order and, by format, its line, shipment, cancellation, return or feedback) or a
`RowRejected` listing every error of the row, so an import can report each bad line and go
on. It reads one row at a time: memory does not grow with the file.

One module per marketplace (`amazon`, `walmart`, `ebay`) defines its formats and columns
(`amazon_performance` Amazon's seller performance report, read into `MetricFacts`); `core`
holds what they share, `delimited` reads a tab- or comma-separated file. Which report is the
source of what: an order's own fields and its lines come from the orders report; a shipment
from the shipments report (Walmart's and eBay's order downloads carry both), a return from the
returns report, feedback from the feedback report. The other reports name orders too:
`ReportFormat.owns` says which parts of a record a format may overwrite; the rest are only used
to create what is missing (the service's rule).
"""

from __future__ import annotations

from inquiries.ingestion.order_reports.amazon import AMAZON_FORMATS, amazon_order_status
from inquiries.ingestion.order_reports.amazon_performance import PERFORMANCE_FORMATS
from inquiries.ingestion.order_reports.core import (
    BUYER,
    CANCELLED,
    MARKETPLACE,
    MAX_LENGTHS,
    MERCHANT,
    PARTIALLY_SHIPPED,
    PENDING,
    SELLER,
    SHIPPED,
    UNFULFILLABLE,
    UNSHIPPED,
    CancellationFacts,
    ClaimFacts,
    FeedbackFacts,
    LineFacts,
    LineRef,
    MetricFacts,
    OrderFacts,
    Record,
    ReportFormat,
    ReturnFacts,
    RowRejected,
    ShipmentFacts,
)
from inquiries.ingestion.order_reports.delimited import parse_report
from inquiries.ingestion.order_reports.ebay import EBAY_FORMATS
from inquiries.ingestion.order_reports.ebay_api import EBAY_API_FORMATS
from inquiries.ingestion.order_reports.walmart import WALMART_FORMATS

__all__ = [
    "BUYER",
    "CANCELLED",
    "FORMATS",
    "MARKETPLACE",
    "MAX_LENGTHS",
    "MERCHANT",
    "PARTIALLY_SHIPPED",
    "PENDING",
    "SELLER",
    "SHIPPED",
    "UNFULFILLABLE",
    "UNSHIPPED",
    "CancellationFacts",
    "ClaimFacts",
    "FeedbackFacts",
    "LineFacts",
    "LineRef",
    "MetricFacts",
    "OrderFacts",
    "Record",
    "ReportFormat",
    "ReturnFacts",
    "RowRejected",
    "ShipmentFacts",
    "amazon_order_status",
    "parse_report",
    "report_format",
]

FORMATS: dict[str, ReportFormat] = {
    fmt.name: fmt
    for fmt in (*AMAZON_FORMATS, *PERFORMANCE_FORMATS, *WALMART_FORMATS, *EBAY_FORMATS, *EBAY_API_FORMATS)
}


def report_format(name: str) -> ReportFormat:
    """The format called `name`; `ValueError` naming the known ones otherwise."""
    try:
        return FORMATS[name]
    except KeyError:
        raise ValueError(f"unknown format {name!r}; known: {', '.join(sorted(FORMATS))}") from None
