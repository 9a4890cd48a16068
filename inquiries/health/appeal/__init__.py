"""The plan of action in the shape a marketplace appeal takes. Pure: no Django.

Amazon's Seller Central guidance ("Create a plan of action to reinstate selling privileges")
asks, for each root cause, what caused the issue, what was done to resolve it and what
prevents it from happening again, with evidence for every product under review; Walmart's
("Appeal an account suspension or suppression") a business plan of action describing each
performance issue and the steps that correct it; eBay removes defects on evidence (tracking,
delivery) when the seller was not at fault. docs/health.md cites the pages.

So the plan is: an **appeal case** (the notice: account, marketplace, the metrics at issue with
value, target and window as the marketplace defines them, the SKUs and ASINs concerned, the
date), then **one block per cause** (root cause, immediate corrective action, preventive
measure, evidence), then an **annex** with the orders (or messages) behind each cause.

Causes come from what fails: each marketplace metric from orders that is at risk or critical,
the marketplace's reply metric, and every complaint cluster of the period. Figures in a block's
evidence are the marketplace's metrics; a house indicator appears only named as ours. Nothing
is invented for the seller: a block's text defaults to the facts found and to what the seller
recorded on clusters; what is missing is said to be missing. The seller edits each block's
text before exporting (`Edits`).

One module per seam: `wording` (causes, annex columns, each marketplace's words), `shapes` (the
data in and out), `building` (`build_appeal`) and `markdown` (`to_markdown`). The health page,
the evidence reads and the annex import the public names from here.
"""

from inquiries.health.appeal.building import build_appeal
from inquiries.health.appeal.markdown import local_time, missing_text, plan_evidence_markdown, to_markdown
from inquiries.health.appeal.shapes import (
    AnnexRow,
    AnnexTable,
    AnnexView,
    Appeal,
    AppealFacts,
    Block,
    CaseHeader,
    Issue,
    Notice,
    failing,
)
from inquiries.health.appeal.wording import (
    ANNEX_LIMIT,
    CAUSE_OF_METRIC,
    CAUSE_ORDER,
    DEFECT_CAUSES,
    LATE_RESPONSES,
    MESSAGE_COLUMNS,
    ORDER_COLUMNS,
    CauseKind,
    Wording,
    cause_title,
    ours,
    whose,
    wording_for,
)

__all__ = [
    "ANNEX_LIMIT",
    "CAUSE_OF_METRIC",
    "CAUSE_ORDER",
    "DEFECT_CAUSES",
    "LATE_RESPONSES",
    "MESSAGE_COLUMNS",
    "ORDER_COLUMNS",
    "AnnexRow",
    "AnnexTable",
    "AnnexView",
    "Appeal",
    "AppealFacts",
    "Block",
    "CaseHeader",
    "CauseKind",
    "Issue",
    "Notice",
    "Wording",
    "build_appeal",
    "cause_title",
    "failing",
    "local_time",
    "missing_text",
    "ours",
    "plan_evidence_markdown",
    "to_markdown",
    "whose",
    "wording_for",
]
