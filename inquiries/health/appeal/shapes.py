"""The appeal's data: the facts in (`AppealFacts`, annex tables, notices) and the appeal out
(the case header, its issues, one block per cause with its annex view).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

from inquiries.health.appeal.wording import MESSAGE_COLUMNS, ORDER_COLUMNS
from inquiries.health.marketplace_metrics import MarketplaceFigure, Status
from inquiries.health.plan import (
    Plan,
    PlanFacts,
)
from inquiries.health.scoring import Metric
from inquiries.words import _

# --- facts ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AnnexRow:
    """One order (or message) behind a cause; times already in the account's time zone."""

    order: str  # the marketplace's order id ("" for a message without one)
    purchased: str = ""
    buyer: str = ""
    items: str = ""  # "SKU (ASIN) x 2, ..."
    ship_by: str = ""
    shipped: str = ""
    carrier: str = ""
    tracking: str = ""
    deliver_by: str = ""
    delivered: str = ""
    received: str = ""  # the buyer's messages about it: received ...
    answered: str = ""  # ... and answered (or "not answered")
    note: str = ""  # the feedback, claim, cancellation or return words


@dataclass(frozen=True, slots=True)
class AnnexTable:
    key: str  # a metric key, or LATE_RESPONSES
    rows: tuple[AnnexRow, ...]
    total: int  # M in "first N of M"
    items: tuple[str, ...] = ()  # SKUs/ASINs of the rows' orders, most frequent first


@dataclass(frozen=True, slots=True)
class Notice:
    """What the seller typed from the marketplace's notification; empty fields are defaulted."""

    reference: str = ""
    day: date | None = None
    items: str = ""


@dataclass(frozen=True, slots=True)
class AppealFacts:
    plan: PlanFacts
    marketplace: str  # the account's marketplace key
    time_zone: str
    figures: tuple[MarketplaceFigure, ...]  # the marketplace's metrics from orders, at the period's end
    reply_metrics: tuple[Metric, ...]  # the marketplace's reply metric(s), or our policy's
    house_reply_metrics: tuple[Metric, ...]  # late response rates that are house indicators (eBay)
    annex: Mapping[str, AnnexTable]
    notice: Notice = Notice()
    edits: Mapping[str, str] | None = None  # "<cause>-root" / "-action" / "-measure" -> the seller's text


# --- the appeal -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Issue:
    """One metric at issue, in the case header: the marketplace's figure as it defines it."""

    label: str
    value: str
    target: str
    window: str
    counts: str
    definition: str  # "Amazon's definition" or "cstracker's indicator, ..."
    status: str
    reported: str = ""  # the marketplace's own imported figure


@dataclass(frozen=True, slots=True)
class CaseHeader:
    account: str
    marketplace: str
    document: str
    shape: str
    submit: str
    reference: str
    day: str
    issues: tuple[Issue, ...]
    items: tuple[str, ...]
    items_entered: bool


@dataclass(frozen=True, slots=True)
class AnnexView:
    key: str
    title: str
    rows: tuple[AnnexRow, ...]
    total: int
    shown: str  # "first 50 of 312" or "all 3"
    messages: bool  # rows are messages, not orders

    @property
    def header(self) -> tuple[str, ...]:
        """The column titles, translated: messages have fewer columns than orders."""
        return tuple(_(title) for _name, title in (MESSAGE_COLUMNS if self.messages else ORDER_COLUMNS))

    @property
    def cells(self) -> tuple[tuple[str, ...], ...]:
        names = [name for name, _title in (MESSAGE_COLUMNS if self.messages else ORDER_COLUMNS)]
        return tuple(tuple(getattr(row, name) for name in names) for row in self.rows)


@dataclass(frozen=True, slots=True)
class Block:
    key: str  # the form-field prefix: a CauseKind, or "cluster-<id>"
    title: str
    root: str
    action: str
    measure: str
    evidence: tuple[str, ...]
    annex: tuple[AnnexView, ...] = ()

    @property
    def root_missing(self) -> bool:
        return not self.root.strip()

    @property
    def action_missing(self) -> bool:
        return not self.action.strip()

    @property
    def measure_missing(self) -> bool:
        return not self.measure.strip()


@dataclass(frozen=True, slots=True)
class Appeal:
    plan: Plan
    case: CaseHeader
    blocks: tuple[Block, ...]

    @property
    def has_annex(self) -> bool:
        return any(block.annex for block in self.blocks)


def failing(status: Status) -> bool:
    return status in (Status.AT_RISK, Status.CRITICAL)
