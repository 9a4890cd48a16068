"""`build_appeal(facts)`: the case (what failed, by whose definition) and one block per cause
(late responses, orders, complaint clusters), each with its annex rows.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping

from inquiries.health.appeal.shapes import (
    AnnexTable,
    AnnexView,
    Appeal,
    AppealFacts,
    Block,
    CaseHeader,
    Issue,
    failing,
)
from inquiries.health.appeal.wording import (
    CAUSE_OF_METRIC,
    CAUSE_ORDER,
    LATE_RESPONSES,
    CauseKind,
    Wording,
    cause_title,
    ours,
    whose,
    wording_for,
)
from inquiries.health.marketplace_metrics import MarketplaceFigure, percent, reported_text
from inquiries.health.plan import (
    ClusterStory,
    build_plan,
    late_analysis_points,
    long_date,
    value_word,
    window_words,
)
from inquiries.health.scoring import Metric, format_value
from inquiries.words import _, in_sentence, ngettext, number


def build_appeal(facts: AppealFacts) -> Appeal:
    wording = wording_for(facts.marketplace)
    blocks = _blocks(facts, wording)
    return Appeal(plan=build_plan(facts.plan), case=_case(facts, wording, blocks), blocks=blocks)


def _issue_from_figure(f: MarketplaceFigure, wording: Wording) -> Issue:
    c, d = f.counts, f.definition
    unit = _("packages") if d.anchor == "shipped" else _("orders")
    reported = ""
    if f.reported is not None:
        reported = _("%(marketplace)s reports %(figures)s") % {
            "marketplace": wording.marketplace,
            "figures": reported_text(f.reported, d.population),
        }
    return Issue(
        label=_(d.label),
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
        window=window_words(metric.key),
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
            _("Behind the %(label)s") % {"label": _(f.definition.label)},
            facts.annex.get(f.key),
        )
        for f in figures
    )
    root = _order_root(kind, annex)
    return Block(
        key=kind.value,
        title=cause_title(kind, wording),
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
        title=cause_title(CauseKind.LATE_RESPONSES, wording),
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
        "severity": in_sentence(cluster.severity_label),
        "state": in_sentence(cluster.state_label),
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
