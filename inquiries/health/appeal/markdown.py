"""The appeal written as Markdown (`to_markdown`), with its annex and the plan's evidence,
times in the account's local time, and a visible mark where text is still to be written.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from inquiries.health.appeal.shapes import Appeal
from inquiries.health.plan import (
    Plan,
    md,
)
from inquiries.words import _

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
            f"| {md(i.label)} | {i.value} ({i.status}) | {i.target} | {md(i.window)} | {i.counts} | "
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
        f"| {md(r.label)} | {md(r.by)} | {r.before} ({r.before_status}) | "
        f"{r.after} ({r.after_status}) | {r.target} |"
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
