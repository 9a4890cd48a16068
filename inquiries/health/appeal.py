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
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from zoneinfo import ZoneInfo

from inquiries.health.marketplace_metrics import MarketplaceFigure, Status, percent
from inquiries.health.plan import (
    ClusterStory,
    Plan,
    PlanFacts,
    build_plan,
    late_analysis_points,
    long_date,
    md,
    value_word,
)
from inquiries.health.scoring import Metric, format_value
from inquiries.words import _, ngettext, number

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


def build_appeal(facts: AppealFacts) -> Appeal:
    wording = wording_for(facts.marketplace)
    blocks = _blocks(facts, wording)
    return Appeal(plan=build_plan(facts.plan), case=_case(facts, wording, blocks), blocks=blocks)


def _issue_from_figure(f: MarketplaceFigure, wording: Wording) -> Issue:
    c, d = f.counts, f.definition
    unit = _("packages") if d.anchor == "shipped" else _("orders")
    reported = ""
    if f.reported is not None:
        reported = _("%(marketplace)s reports %(value)s (%(status)s)") % {
            "marketplace": wording.marketplace,
            "value": percent(f.reported.value),
            "status": f.reported.status or "-",
        }
    return Issue(
        label=d.label,
        value=value_word(percent(f.value)),
        target=d.target_text,
        window=_("%(days)s days, %(first)s to %(last)s, by %(anchor)s")
        % {
            "days": c.window_days,
            "first": long_date(c.window_start.date()),
            "last": long_date(c.window_end.date()),
            "anchor": d.anchor_text,
        },
        counts=_("%(part)s of %(whole)s %(unit)s")
        % {"part": number(c.numerator), "whole": number(c.denominator), "unit": unit},
        definition=whose(wording),
        status=_(f.status.label),
        reported=reported,
    )


def _issue_from_metric(metric: Metric, wording: Wording, *, house: bool) -> Issue:
    return Issue(
        label=metric.label,
        value=value_word(format_value(metric.value, metric.unit)),
        target=_("at most %(value)s late") % {"value": format_value(metric.target, metric.unit)}
        if metric.target is not None
        else _("none"),
        window=metric.label.split(", ")[-1],
        counts=_("%(late)s late of %(counted)s messages")
        % {"late": number(metric.numerator or 0), "counted": number(metric.denominator or 0)},
        definition=ours(wording) if house else whose(wording),
        status=_(metric.status.label) if metric.value is not None else _("No data"),
    )


def _failing_metric(metric: Metric) -> bool:
    return metric.value is not None and metric.status.value in ("at_risk", "critical")


def _case(facts: AppealFacts, wording: Wording, blocks: tuple[Block, ...]) -> CaseHeader:
    issues = [_issue_from_figure(f, wording) for f in facts.figures if failing(f.status)]
    issues += [_issue_from_metric(m, wording, house=False) for m in facts.reply_metrics if _failing_metric(m)]
    entered = tuple(_split_items(facts.notice.items))
    counted: Counter[str] = Counter()
    for block in blocks:
        for view in block.annex:
            table = facts.annex.get(view.key)
            counted.update(table.items if table else ())
    return CaseHeader(
        account=facts.plan.account,
        marketplace=wording.marketplace or facts.plan.marketplace,
        document=wording.document,
        shape=wording.shape,
        submit=wording.submit,
        reference=facts.notice.reference.strip(),
        day=long_date(facts.notice.day or facts.plan.prepared),
        issues=tuple(issues),
        items=entered or tuple(item for item, _n in counted.most_common(20)),
        items_entered=bool(entered),
    )


def _split_items(text: str) -> list[str]:
    return [part.strip() for part in text.replace("\n", ",").split(",") if part.strip()][:100]


def _blocks(facts: AppealFacts, wording: Wording) -> tuple[Block, ...]:
    edits = facts.edits or {}
    by_kind: dict[CauseKind, list[MarketplaceFigure]] = {}
    for f in facts.figures:
        kind = CAUSE_OF_METRIC.get(f.key)
        if kind is not None and failing(f.status):
            by_kind.setdefault(kind, []).append(f)
    late_metrics = [m for m in facts.reply_metrics if _failing_metric(m)]
    house_late = [m for m in facts.house_reply_metrics if _failing_metric(m)]
    blocks = []
    for kind in CAUSE_ORDER:
        if kind == CauseKind.LATE_RESPONSES:
            if late_metrics or house_late:
                blocks.append(_late_block(facts, wording, late_metrics, house_late, edits))
            continue
        figures = by_kind.get(kind)
        if figures:
            blocks.append(_order_block(kind, figures, facts, wording, edits))
    blocks += [_cluster_block(story, edits) for story in facts.plan.clusters]
    return tuple(blocks)


def _edited(edits: Mapping[str, str], key: str, part: str, default: str) -> str:
    text = edits.get(f"{key}-{part}")
    return default if text is None else text.strip()


def _annex_view(key: str, title: str, table: AnnexTable | None, *, messages: bool = False) -> AnnexView:
    rows = table.rows if table else ()
    total = table.total if table else 0
    shown = (
        _("first %(shown)s of %(total)s") % {"shown": number(len(rows)), "total": number(total)}
        if len(rows) < total
        else ngettext("%(total)s row", "all %(total)s rows", total) % {"total": number(total)}
    )
    return AnnexView(key=key, title=title, rows=rows, total=total, shown=shown, messages=messages)


def _order_block(
    kind: CauseKind,
    figures: list[MarketplaceFigure],
    facts: AppealFacts,
    wording: Wording,
    edits: Mapping[str, str],
) -> Block:
    evidence = []
    for f in figures:
        issue = _issue_from_figure(f, wording)
        line = _("%(label)s (%(whose)s): %(value)s, %(counts)s; target %(target)s; %(window)s.") % {
            "label": issue.label,
            "whose": issue.definition,
            "value": issue.value,
            "counts": issue.counts,
            "target": issue.target,
            "window": issue.window,
        }
        if issue.reported:
            line += " " + issue.reported + "."
        evidence.append(line)
    annex = tuple(
        _annex_view(
            f.key,
            _("Behind the %(label)s") % {"label": f.definition.label},
            facts.annex.get(f.key),
        )
        for f in figures
    )
    root = _order_root(kind, annex)
    return Block(
        key=kind.value,
        title=cause_title(kind, wording.claims),
        root=_edited(edits, kind.value, "root", root),
        action=_edited(edits, kind.value, "action", ""),
        measure=_edited(edits, kind.value, "measure", ""),
        evidence=tuple(evidence),
        annex=annex,
    )


def _order_root(kind: CauseKind, annex: tuple[AnnexView, ...]) -> str:
    """What the annex's rows have in common, as a starting point; never a guessed cause."""
    rows = [row for view in annex for row in view.rows]
    if not rows or kind not in (CauseKind.LATE_SHIPMENT, CauseKind.LATE_DELIVERY, CauseKind.TRACKING):
        return ""
    carriers = Counter(row.carrier for row in rows if row.carrier)
    if not carriers:
        return ""
    carrier, count = carriers.most_common(1)[0]
    if count * 2 <= len(rows):  # a carrier in common only when most of the rows share it
        return ""
    return _("%(count)s of the %(rows)s orders listed in the annex went with %(carrier)s.") % {
        "count": number(count),
        "rows": number(len(rows)),
        "carrier": carrier,
    }


def _late_block(
    facts: AppealFacts,
    wording: Wording,
    metrics: list[Metric],
    house: list[Metric],
    edits: Mapping[str, str],
) -> Block:
    key = CauseKind.LATE_RESPONSES.value
    evidence = []
    for metric, is_house in [(m, False) for m in metrics] + [(m, True) for m in house]:
        issue = _issue_from_metric(metric, wording, house=is_house)
        evidence.append(
            _("%(label)s (%(whose)s): %(value)s, %(counts)s; target %(target)s.")
            % {
                "label": issue.label,
                "whose": issue.definition,
                "value": issue.value,
                "counts": issue.counts,
                "target": issue.target,
            }
        )
    analysis = facts.plan.late
    points = " ".join(late_analysis_points(facts.plan)) if analysis.total else ""
    return Block(
        key=key,
        title=cause_title(CauseKind.LATE_RESPONSES, wording.claims),
        root=_edited(edits, key, "root", points),
        action=_edited(edits, key, "action", ""),
        measure=_edited(edits, key, "measure", ""),
        evidence=tuple(evidence),
        annex=(
            _annex_view(
                LATE_RESPONSES,
                _("Messages answered after their deadline, or not at all, in the period"),
                facts.annex.get(LATE_RESPONSES),
                messages=True,
            ),
        ),
    )


def _cluster_block(story: ClusterStory, edits: Mapping[str, str]) -> Block:
    cluster = story.cluster
    key = f"cluster-{cluster.cluster_id}"
    evidence = ngettext(
        "%(count)s complaint between %(first)s and %(last)s (a complaint cluster found by cstracker, "
        "%(severity)s severity, %(state)s).",
        "%(count)s complaints between %(first)s and %(last)s (a complaint cluster found by cstracker, "
        "%(severity)s severity, %(state)s).",
        cluster.member_count,
    ) % {
        "count": number(cluster.member_count),
        "first": long_date(cluster.first_seen.date()),
        "last": long_date(cluster.last_seen.date()),
        "severity": cluster.severity_label.lower(),
        "state": cluster.state_label.lower(),
    }
    action = cluster.corrective_action.strip()
    if action and story.action_date:
        action = f"{long_date(story.action_date)}: {action}"
    return Block(
        key=key,
        title=cluster.title,
        root=_edited(edits, key, "root", cluster.root_cause.strip()),
        action=_edited(edits, key, "action", action),
        measure=_edited(edits, key, "measure", cluster.preventive_measure.strip()),
        evidence=(evidence,),
    )


# --- Markdown ---------------------------------------------------------------------------------


def local_time(at: datetime | None, zone: ZoneInfo) -> str:
    """An instant in the account's time zone, with the zone's abbreviation; "" when unknown."""
    if at is None:
        return ""
    return at.astimezone(zone).strftime("%Y-%m-%d %H:%M %Z")


def missing_text(part: str) -> str:
    return {
        "root": _("Not recorded yet: say why it happened before sending this plan."),
        "action": _("Not recorded yet: say what was done about it before sending this plan."),
        "measure": _("Not recorded yet: say what stops it from happening again before sending this plan."),
    }[part]


def to_markdown(appeal: Appeal) -> str:
    plan, case = appeal.plan, appeal.case
    out = [f"# {md(plan.title)}", ""]
    out += [
        _("Period: %(period)s") % {"period": plan.period} + "  ",
        _("Prepared: %(date)s") % {"date": plan.prepared},
        "",
        "## " + _("Appeal case"),
        "",
        md(case.shape),
        "",
    ]
    out += [
        f"- **{_('Document')}**: {md(case.document)}",
        f"- **{_('Account')}**: {md(case.account)} ({md(case.marketplace)})",
        f"- **{_('Notice')}**: {md(case.reference) or _('not entered')}, {case.day}",
    ]
    items = ", ".join(md(i) for i in case.items) or _("none found in the orders behind the causes")
    out += [f"- **{_('SKUs and ASINs concerned')}**: {items}", ""]
    if case.issues:
        out += [
            f"| {_('Metric')} | {_('Value')} | {_('Target')} | {_('Window')} | {_('Counts')} | {_('Definition')} |",
            "| --- | --- | --- | --- | --- | --- |",
        ]
        out += [
            f"| {md(i.label)} | {i.value} ({i.status.lower()}) | {i.target} | {md(i.window)} | {i.counts} | "
            f"{md(i.definition)}{'; ' + md(i.reported) if i.reported else ''} |"
            for i in case.issues
        ]
        out += [""]
    else:
        out += [_("No marketplace metric misses its target at the end of the period."), ""]
    if case.submit:
        out += [md(case.submit), ""]
    out += ["## " + _("Summary"), ""]
    for paragraph in plan.summary:
        out += [md(paragraph), ""]
    out += ["## " + _("Root causes"), ""]
    if not appeal.blocks:
        out += [_("No metric misses its target and no complaint cluster was open in this period."), ""]
    for n, block in enumerate(appeal.blocks, start=1):
        out += [f"### {n}. {md(block.title)}", ""]
        for part, heading, text in (
            ("root", _("Root cause"), block.root),
            ("action", _("Corrective actions taken"), block.action),
            ("measure", _("Preventive measures"), block.measure),
        ):
            out += [f"**{heading}**", "", md(text) if text.strip() else missing_text(part), ""]
        out += [f"**{_('Evidence')}**", ""]
        out += [f"- {md(line)}" for line in block.evidence]
        out += [f"- {_('Annex')} {n}.{k}: {md(v.title)} ({v.shown})" for k, v in enumerate(block.annex, 1)]
        out += [""]
    out += plan_evidence_markdown(plan)
    out += _annex_markdown(appeal)
    return "\n".join(out).rstrip() + "\n"


def plan_evidence_markdown(plan: Plan) -> list[str]:
    out = ["## " + _("Evidence"), "", "### " + _("Metrics at the start and the end of the period"), ""]
    out += [
        f"| {_('Metric')} | {_('Definition')} | {_('Start')} | {_('End')} | {_('Target')} |",
        "| --- | --- | --- | --- | --- |",
    ]
    out += [
        f"| {md(r.label)} | {md(r.by)} | {r.before} ({r.before_status.lower()}) | "
        f"{r.after} ({r.after_status.lower()}) | {r.target} |"
        for r in plan.metrics
    ]
    out += ["", "### " + _("Messages in the period"), "", f"| | {_('Messages')} |", "| --- | ---: |"]
    out += [f"| {md(label)} | {value} |" for label, value in plan.counts]
    out += [""]
    if plan.timelines:
        out += ["### " + _("Complaint clusters"), ""]
        for timeline in plan.timelines:
            out += [f"#### {md(timeline.title)}", ""]
            events = [f"- {when}: {md(what)}" for when, what in timeline.events]
            out += events or ["- " + _("No recorded events.")]
            out += [""]
    return out


def _annex_markdown(appeal: Appeal) -> list[str]:
    views = [(n, k, v) for n, b in enumerate(appeal.blocks, 1) for k, v in enumerate(b.annex, 1)]
    if not views:
        return []
    out = ["## " + _("Annex"), ""]
    for n, k, view in views:
        out += [f"### {_('Annex')} {n}.{k}: {md(view.title)} ({view.shown})", ""]
        if not view.rows:
            out += [_("No rows."), ""]
            continue
        out += ["| " + " | ".join(view.header) + " |", "|" + " --- |" * len(view.header)]
        out += ["| " + " | ".join(md(cell) for cell in row) + " |" for row in view.cells]
        if len(view.rows) < view.total:
            out += ["", _("The full list is in the CSV download of this annex.")]
        out += [""]
    return out
