"""eBay's answers about returns, cases and feedback (JSON), pure.

- `ebay-returns`: the Post-Order API's return search (`GET /post-order/v2/return/search`), its
  `members` (ReturnSummaryType).
- `ebay-cases`: the Post-Order API's case search (`GET /post-order/v2/casemanagement/search`),
  its `members` (CaseSummaryType).
- `ebay-feedback`: the Trading API's `GetFeedback` answer (DetailLevel ReturnAll,
  FeedbackReceivedAsSeller) as JSON, its `FeedbackDetailArray.FeedbackDetail` (FeedbackDetailType,
  the elements' names as keys).

A file is one answer, or a JSON array of answers (the pages of one search). Each entry is a
"line", numbered from 1 across the pages, read by the same rules as a report's cells (its
fields by their dotted path, e.g. `creationInfo.item.itemId`), so a rejected entry lists every
error naming its field. None of them names the order: each names the line by item id and
transaction id (`LineRef`), and the import finds the order whose line has them.

A page is held in memory whole (the searches page their answers); the entries are read one at
a time.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TextIO
from zoneinfo import ZoneInfo

from inquiries.ingestion import strict_json
from inquiries.ingestion.csv_import import Reading, shown
from inquiries.ingestion.order_reports.core import (
    FOR_BUYER,
    GUARANTEE,
    NEGATIVE,
    NEUTRAL,
    OPEN,
    POSITIVE,
    RESOLVED,
    Cells,
    ClaimFacts,
    FeedbackFacts,
    LineRef,
    OrderFacts,
    ParsedReport,
    Record,
    ReportFormat,
    ReturnFacts,
    RowRejected,
    json_at,
)
from inquiries.ingestion.types import Rejected

# Where each format's entries are in an answer.
_ENTRIES = {
    "ebay-returns": ("members",),
    "ebay-cases": ("members",),
    "ebay-feedback": ("FeedbackDetailArray", "FeedbackDetail"),
}
# CaseStatusEnum: closed by eBay's customer support (eBay stepped in: not the seller's
# resolution), closed otherwise (between buyer and seller); every other value is still open.
_CASE_OUTCOMES = {"CS_CLOSED": FOR_BUYER, "CLOSED": RESOLVED}
_POLARITIES = {"positive": POSITIVE, "neutral": NEUTRAL, "negative": NEGATIVE}


def _parse(stream: TextIO | Iterable[str], fmt: ReportFormat, zone: ZoneInfo) -> ParsedReport:
    """The entries of an eBay JSON answer (or an array of answers); `ValueError` for a file that
    is not JSON or holds no entry list where the format has it."""
    try:
        data = strict_json.load("".join(stream), what="file")
    except Rejected as exc:
        raise ValueError(exc.reason) from None
    pages = data if isinstance(data, list) else [data]
    path = _ENTRIES[fmt.name]
    entries: list[Any] = []
    for number, page in enumerate(pages, 1):
        found = json_at(page, path)
        if isinstance(found, dict):  # one entry, as an XML answer converted to JSON gives it
            found = [found]
        if not isinstance(found, list):
            raise ValueError(f"not {fmt.title}: answer {number} has no {'.'.join(path)} list")
        entries += found
    columns = {name: (index, name) for index, name in enumerate((*fmt.required, *fmt.optional))}
    return ParsedReport(_entries(entries, columns, fmt, zone), frozenset(columns), fmt)


def _entries(
    entries: list[Any], columns: dict[str, tuple[int, str]], fmt: ReportFormat, zone: ZoneInfo
) -> Iterator[tuple[int, Record | RowRejected]]:
    reading = Reading()
    read = fmt.read
    assert read is not None  # every eBay answer format reads its entries' cells
    for number, entry in enumerate(entries, 1):
        if not isinstance(entry, dict):
            yield number, RowRejected([f"not an object: {shown(str(entry))}"])
            continue
        values: list[str] = []
        problems: list[str] = []
        for name in columns:
            value, problem = _value(json_at(entry, tuple(name.split("."))))
            values.append(value)
            if problem:
                problems.append(name)
        cells = Cells(values, columns, zone, reading)
        for name in problems:
            cells.error(name, f"not a single value: {shown(cells.raw(name))}")
        try:
            yield number, read(cells)
        except RowRejected as exc:
            yield number, exc


def _value(value: Any) -> tuple[str, bool]:
    """A field as a cell's text, and whether it was not a single value (an object or a list,
    kept as its JSON so that the error shows it and no "required" follows it)."""
    if value is None:
        return "", False
    if isinstance(value, bool):
        return ("true" if value else "false"), False
    if isinstance(value, int | float | str):
        return str(value).replace("\x00", "").strip(), False
    return json.dumps(value, ensure_ascii=False), True


def _line_ref(cells: Cells, item: str, transaction: str) -> LineRef:
    return LineRef(
        item_id=cells.text(item, limit="item_id", required=True),
        transaction_id=cells.text(transaction, limit="transaction_id", required=True),
    )


def _amount(cells: Cells, value: str, currency: str) -> Any:
    amount = cells.amount(value)
    cells.code(currency, 3)
    return amount


def _read_return(cells: Cells) -> Record:
    ref = _line_ref(cells, "creationInfo.item.itemId", "creationInfo.item.transactionId")
    returned = ReturnFacts(
        external_id=cells.text("returnId", limit="return_id", required=True),
        item_id=ref.item_id,
        quantity=cells.quantity("creationInfo.item.returnQuantity", default=1),
        reason_code=cells.text("creationInfo.reason", limit="reason_code"),
        buyer_comment=cells.text("creationInfo.comments.content", line=False),
        status=cells.text("status", limit="return_status") or cells.text("state", limit="return_status"),
        requested_at=cells.timestamp("creationInfo.creationDate.value"),
        refund_amount=_amount(
            cells,
            "sellerTotalRefund.actualRefundAmount.value",
            "sellerTotalRefund.actualRefundAmount.currency",
        ),
    )
    cells.check()
    return Record(order=OrderFacts(order_id=""), returned=returned, line_ref=ref)


def _read_case(cells: Cells) -> Record:
    ref = _line_ref(cells, "itemId", "transactionId")
    status = cells.text("caseStatusEnum", limit="claim_status")
    outcome = _CASE_OUTCOMES.get(status.upper(), OPEN)
    last_changed = cells.timestamp("lastModifiedDate.value")
    claim = ClaimFacts(
        external_id=cells.text("caseId", limit="claim_id", required=True),
        kind=GUARANTEE,  # eBay Money Back Guarantee: item not received, or a return escalated
        opened_at=cells.timestamp("creationDate.value"),
        # The summary has no decision date: a closed case was decided when it last changed.
        decided_at=last_changed if outcome != OPEN else None,
        outcome=outcome,
        amount=_amount(cells, "claimAmount.value", "claimAmount.currency"),
        status=status,
    )
    cells.check()
    return Record(order=OrderFacts(order_id=""), claim=claim, line_ref=ref)


def _read_feedback(cells: Cells) -> Record:
    ref = _line_ref(cells, "ItemID", "TransactionID")
    word = cells.text("CommentType", required=True)
    polarity = _POLARITIES.get(word.casefold(), "")
    if word and not polarity:
        # "Withdrawn" and any other word: not a rating the metrics can read.
        cells.error("CommentType", f"not Positive, Neutral or Negative: {shown(word)}")
    role = cells.text("Role")
    if role and role.casefold() != "seller":
        cells.error("Role", f"feedback received as {shown(role)}, not as the seller: not stored")
    feedback = FeedbackFacts(
        rating=None,
        polarity=polarity,
        text=cells.text("CommentText", line=False),
        response=cells.text("FeedbackResponse", line=False),
        left_at=cells.timestamp("CommentTime"),
        # eBay replaced the comment with a note that it was removed: it no longer counts.
        removed=cells.text("CommentReplaced").casefold() == "true",
    )
    cells.check()
    return Record(order=OrderFacts(order_id=""), feedback=feedback, line_ref=ref)


def _format(
    name: str,
    title: str,
    read: Callable[[Cells], Record],
    part: str,
    required: tuple[str, ...],
    optional: tuple[str, ...],
    fills: tuple[tuple[str, str], ...] = (),
) -> ReportFormat:
    return ReportFormat(
        name=name,
        title=title,
        required=required,
        optional=optional,
        carries=frozenset({"order", part}),
        owns=frozenset({part}),
        read=read,
        fills=fills,
        parse=_parse,
    )


EBAY_API_FORMATS = (
    _format(
        "ebay-returns",
        "eBay return search answer",
        _read_return,
        "returned",
        ("returnId", "creationInfo.item.itemId", "creationInfo.item.transactionId"),
        (
            "creationInfo.item.returnQuantity",
            "creationInfo.reason",
            "creationInfo.comments.content",
            "creationInfo.creationDate.value",
            "status",
            "state",
            "sellerTotalRefund.actualRefundAmount.value",
            "sellerTotalRefund.actualRefundAmount.currency",
        ),
        fills=(
            ("requested_at", "creationInfo.creationDate.value"),
            ("refund_amount", "sellerTotalRefund.actualRefundAmount.value"),
        ),
    ),
    _format(
        "ebay-cases",
        "eBay case search answer",
        _read_case,
        "claim",
        ("caseId", "itemId", "transactionId"),
        (
            "caseStatusEnum",
            "creationDate.value",
            "lastModifiedDate.value",
            "claimAmount.value",
            "claimAmount.currency",
        ),
    ),
    _format(
        "ebay-feedback",
        "eBay GetFeedback answer",
        _read_feedback,
        "feedback",
        ("CommentType", "ItemID", "TransactionID"),
        ("CommentText", "CommentTime", "FeedbackResponse", "CommentReplaced", "Role"),
        fills=(("removed", "CommentReplaced"),),
    ),
)
