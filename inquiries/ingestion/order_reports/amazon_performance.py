"""Amazon's seller performance report (GET_V2_SELLER_PERFORMANCE_REPORT, JSON), pure.

- `amazon-seller-performance`: the report's `performanceMetrics`, one entry per marketplace,
  each metric of an entry read into a `MetricFacts` (Amazon's own figure, its target, its
  verdict, its counts and its reporting window). Field names from Amazon's published schema
  (selling-partner-api-models, `schemas/reports/accountHealthReport-2020-11-18.json`).

A metric is a "line", numbered from 1 in the file's order (marketplace by marketplace, the
metrics in `METRICS`' order), and a rejected one names its place in the file
(`performanceMetrics[0].lateShipmentRate`) and every problem of it. Metrics the report may
carry and this import does not read (the policy-violation counts, `warningState`) are left.
The file is held in memory whole: it is a few kilobytes per marketplace.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TextIO
from zoneinfo import ZoneInfo

from inquiries.ingestion import strict_json
from inquiries.ingestion.csv_import import Reading, read_timestamp, shown
from inquiries.ingestion.order_reports.core import (
    MetricFacts,
    OrderFacts,
    ParsedReport,
    Record,
    ReportFormat,
    RowRejected,
    json_at,
)
from inquiries.ingestion.types import Rejected

SOURCE = "GET_V2_SELLER_PERFORMANCE_REPORT"  # MarketplaceMetric.source
ACCOUNT_HEALTH_RATING = "account_health_rating"
MAX_COUNT = 2**31 - 1  # PositiveIntegerField


@dataclass(frozen=True)
class _Metric:
    key: str  # MarketplaceMetric.metric
    path: tuple[str, ...]  # where it is in a marketplace's entry
    numerator: tuple[str, ...]  # where its counts are in the metric's object
    denominator: tuple[str, ...]


# Amazon's metric -> ours. The Order Defect Rate comes per fulfilment channel, each kept under
# the key of our ODR over the same channel (seller-fulfilled, Fulfilled by Amazon), beside which
# the health page shows it (docs/health.md, "Like with like").
METRICS = (
    _Metric("order_defect_rate", ("orderDefectRate", "mfn"), ("orderWithDefects", "count"), ("orderCount",)),
    _Metric(
        "order_defect_rate_afn", ("orderDefectRate", "afn"), ("orderWithDefects", "count"), ("orderCount",)
    ),
    _Metric("late_shipment_rate", ("lateShipmentRate",), ("lateShipmentCount",), ("orderCount",)),
    _Metric(
        "pre_fulfilment_cancel_rate", ("prefulfillmentCancelRate",), ("cancellationCount",), ("orderCount",)
    ),
    _Metric("valid_tracking_rate", ("validTrackingRate",), ("validTrackingCount",), ("shipmentCount",)),
    _Metric(
        "on_time_delivery_rate",
        ("onTimeDeliveryRate",),
        ("onTimeDeliveryCount",),
        ("shipmentCountWithValidTracking",),
    ),
    _Metric("invoice_defect_rate", ("invoiceDefectRate",), ("invoiceDefect", "count"), ("orderCount",)),
    _Metric(ACCOUNT_HEALTH_RATING, ("accountHealthRating",), (), ()),
)
_UTC = ZoneInfo("UTC")


def _parse(stream: TextIO | Iterable[str], fmt: ReportFormat, zone: ZoneInfo) -> ParsedReport:
    """Each metric of each marketplace's entry; `ValueError` for a file that is not JSON or has
    no `performanceMetrics` list. Amazon states its windows in UTC: `zone` is not used."""
    try:
        data = strict_json.load("".join(stream), what="file")
    except Rejected as exc:
        raise ValueError(exc.reason) from None
    entries = json_at(data, ("performanceMetrics",))
    if not isinstance(entries, list):
        raise ValueError(f"not {fmt.title}: no performanceMetrics list")
    return ParsedReport(_metrics(entries), frozenset(), fmt)


def _metrics(entries: list[Any]) -> Iterator[tuple[int, Record | RowRejected]]:
    number = 0
    for index, entry in enumerate(entries):
        if not isinstance(entry, dict):
            number += 1
            yield number, RowRejected([f"performanceMetrics[{index}]: not an object: {shown(str(entry))}"])
            continue
        marketplace = entry.get("marketplaceId")
        for spec in METRICS:
            found = json_at(entry, spec.path)
            if found is None:
                continue
            number += 1
            place = f"performanceMetrics[{index}].{'.'.join(spec.path)}"
            try:
                facts = _read(spec, found, place, marketplace)
            except RowRejected as exc:
                yield number, exc
                continue
            yield number, Record(order=OrderFacts(order_id=""), metric=facts)


def _read(spec: _Metric, found: Any, place: str, marketplace: Any) -> MetricFacts:
    if not isinstance(found, dict):
        raise RowRejected([f"{place}: not an object: {shown(str(found))}"])
    entry = _MetricEntry(found, place)
    start, end = entry.when("reportingDateFrom"), entry.when("reportingDateTo")
    if spec.key == ACCOUNT_HEALTH_RATING:
        value, status, target = entry.number(("ahrScore",)), entry.word("ahrStatus"), None
        numerator = denominator = None
    else:
        value, status, target = entry.number(("rate",)), entry.word("status"), entry.number(("targetValue",))
        numerator = entry.number(spec.numerator, count=True)
        denominator = entry.number(spec.denominator, count=True)
    marketplace_id = entry.marketplace_id(marketplace)
    if entry.errors or start is None or end is None:
        raise RowRejected(entry.errors)
    return MetricFacts(
        metric=spec.key,
        window_start=start,
        window_end=end,
        value=value,
        target=target,
        status=status,
        numerator=numerator,
        denominator=denominator,
        marketplace_id=marketplace_id,
    )


class _MetricEntry:
    """One metric's object of the report, at `place`; `errors` collects what reading it found wrong."""

    def __init__(self, found: dict[str, Any], place: str) -> None:
        self.found, self.place = found, place
        self.errors: list[str] = []

    def number(self, path: tuple[str, ...], *, count: bool = False) -> Any:
        value = json_at(self.found, path)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            self.errors.append(f"{self.place}.{'.'.join(path)}: not a number: {shown(str(value))}")
            return None
        if count and (value != int(value) or not 0 <= value <= MAX_COUNT):
            self.errors.append(
                f"{self.place}.{'.'.join(path)}: not a count from 0 to {MAX_COUNT:,}: {shown(str(value))}"
            )
            return None
        return int(value) if count else float(value)

    def when(self, key: str) -> datetime | None:
        value = json_at(self.found, ("reportingDateRange", key))
        if not isinstance(value, str) or not value:
            self.errors.append(f"{self.place}.reportingDateRange.{key}: required")
            return None
        try:
            return read_timestamp(value, _UTC, Reading())
        except ValueError as exc:
            self.errors.append(f"{self.place}.reportingDateRange.{key}: {exc}")
            return None

    def word(self, key: str) -> str:
        value = json_at(self.found, (key,))
        if value is None:
            return ""
        if not isinstance(value, str) or len(value) > 32 or not value.replace("_", "").isalnum():
            self.errors.append(f"{self.place}.{key}: not a status: {shown(str(value))}")
            return ""
        return value

    def marketplace_id(self, marketplace: Any) -> str:
        """The entry's marketplace id; "" when it names none (an error when it names a bad one)."""
        if isinstance(marketplace, str) and len(marketplace) <= 32 and marketplace.isalnum():
            return marketplace
        if marketplace is not None:
            self.errors.append(f"{self.place}: marketplaceId is not an id: {shown(str(marketplace))}")
        return ""


PERFORMANCE_FORMATS = (
    ReportFormat(
        name="amazon-seller-performance",
        title="Amazon seller performance report (JSON)",
        required=(),
        optional=(),
        carries=frozenset({"metric"}),
        owns=frozenset({"metric"}),
        parse=_parse,
    ),
)
