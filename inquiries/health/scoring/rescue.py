"""The rescue maths: the open messages whose answer, or lack of one, moves a metric across a
band soonest, and how many messages the reads must fetch to decide it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import timedelta

from inquiries.health.scoring.figures import (
    band_for,
    format_value,
    human_duration,
    late_rate_key,
    window_start_of,
)
from inquiries.health.scoring.model import (
    Band,
    HealthFacts,
    MessageRef,
    RescueItem,
    Rules,
    Unit,
    WindowCounts,
)
from inquiries.words import _, in_sentence, ngettext

# --- rescue ----------------------------------------------------------------------------------

MAX_RESCUE_MESSAGES = 200


def _first(n: int, predicate: Callable[[int], bool]) -> int | None:
    """The smallest k in 1..n with predicate(k), for a predicate that stays true once true."""
    if n < 1 or not predicate(n):
        return None
    low, high = 1, n
    while low < high:
        middle = (low + high) // 2
        if predicate(middle):
            high = middle
        else:
            low = middle + 1
    return low


def messages_to_worsen(window: WindowCounts, pending: int, rules: Rules) -> int | None:
    """How many pending messages going late (in deadline order) first moves the rate to a worse band.

    Each pending message that passes its deadline unanswered adds one to both late and
    counted, so the rate only rises with k.
    """
    current = band_for(window.rate, rules.late_rate_target, rules.at_risk_ratio)

    def worse(k: int) -> bool:
        rate = (window.late + k) / (window.counted + k)
        return band_for(rate, rules.late_rate_target, rules.at_risk_ratio).rank > current.rank

    return _first(pending, worse)


def answers_to_improve(window: WindowCounts, pending: int, rules: Rules) -> int | None:
    """How many pending messages answered on time first move the rate to a better band."""
    current = band_for(window.rate, rules.late_rate_target, rules.at_risk_ratio)
    if current == Band.HEALTHY:
        return None

    def better(m: int) -> bool:
        rate = window.late / (window.counted + m)
        return band_for(rate, rules.late_rate_target, rules.at_risk_ratio).rank < current.rank

    return _first(pending, better)


def rescue_fetch_limit(windows: Sequence[WindowCounts], rules: Rules) -> int:
    """How many pending messages (earliest deadline first) the rescue list needs to see.

    The pending messages of a shorter window are a subset of the longest window's, so a
    window needs its own count plus the ones only the longest window holds.
    """
    if not windows:
        return 0
    longest = windows[-1].pending
    needed = 0
    for window in windows:
        k = max(
            messages_to_worsen(window, window.pending, rules) or 0,
            answers_to_improve(window, window.pending, rules) or 0,
        )
        if k:
            needed = max(needed, k + longest - window.pending)
    return min(needed, MAX_RESCUE_MESSAGES)


def rescue(facts: HealthFacts, rules: Rules) -> list[RescueItem]:
    """What to answer first (assuming nothing else changes: no new messages, no window slide).

    Windows that the same messages move (a message late in the 7-day window is late in the
    30-day one too) share one item naming every rate it moves.
    """
    moves = [move for window in facts.windows for move in _rate_moves(window, facts, rules)]
    groups: dict[tuple[bool, tuple[int, ...]], list[_RateMove]] = {}
    for move in moves:
        groups.setdefault((move.worsens, tuple(m.message_id for m in move.chosen)), []).append(move)
    items = [_rate_item(group, facts) for group in groups.values()]
    if rules.has_atoz:
        items.extend(_atoz_rescue(facts, rules))
    # Losing ground first, soonest first, shortest window first; then what would win it back.
    items.sort(key=lambda item: (not item.worsens, item.crosses_at, _window_days(item.metric_key)))
    return items


def _window_days(key: str) -> int:
    digits = "".join(c for c in key if c.isdigit())
    return int(digits) if key.startswith("late_response_rate_") and digits else 0


@dataclass(frozen=True, slots=True)
class _RateMove:
    window: WindowCounts
    worsens: bool
    chosen: tuple[MessageRef, ...]
    to_value: float
    current: Band
    to_band: Band

    def figures(self) -> str:
        return _("from %(before)s to %(after)s (%(from_band)s → %(to_band)s)") % {
            "before": format_value(self.window.rate, Unit.RATIO),
            "after": format_value(self.to_value, Unit.RATIO),
            "from_band": in_sentence(_(self.current.label)),
            "to_band": in_sentence(_(self.to_band.label)),
        }


def _rate_moves(window: WindowCounts, facts: HealthFacts, rules: Rules) -> list[_RateMove]:
    since = window_start_of(facts, window.days)
    pending = [m for m in facts.pending if m.received_at >= since and m.due_at is not None]
    current = band_for(window.rate, rules.late_rate_target, rules.at_risk_ratio)
    moves = []
    k = messages_to_worsen(window, window.pending, rules)
    if k is not None and k <= len(pending):
        to_value = (window.late + k) / (window.counted + k)
        moves.append(
            _RateMove(
                window,
                True,
                tuple(pending[:k]),
                to_value,
                current,
                band_for(to_value, rules.late_rate_target, rules.at_risk_ratio),
            )
        )
    m = answers_to_improve(window, window.pending, rules)
    if m is not None and m <= len(pending):
        to_value = window.late / (window.counted + m)
        moves.append(
            _RateMove(
                window,
                False,
                tuple(pending[:m]),
                to_value,
                current,
                band_for(to_value, rules.late_rate_target, rules.at_risk_ratio),
            )
        )
    return moves


def _join(clauses: list[str]) -> str:
    if len(clauses) == 1:
        return clauses[0]
    return _("%(first)s and %(last)s") % {"first": ", ".join(clauses[:-1]), "last": clauses[-1]}


def _window_names(days: list[int]) -> str:
    """ "7-day"; "7-, 30- and 90-day" (the windows' names before "late rate")."""
    head = [_("%(days)s-") % {"days": d} for d in days[:-1]]
    return _join([*head, _("%(days)s-day") % {"days": days[-1]}])


def _rates_clause(moves: list[_RateMove]) -> str:
    """ "the 7-day late rate goes from 8.0% to 10.7% (at risk → critical)"; windows with the same
    figures share one clause ("the 7- and 30-day late rates go from ...")."""
    same: dict[str, list[int]] = {}
    for move in moves:
        same.setdefault(move.figures(), []).append(move.window.days)
    if moves[0].worsens:
        first = (_("the %(names)s late rate goes %(figures)s"), _("the %(names)s late rates go %(figures)s"))
    else:
        first = (
            _("the %(names)s late rate improves %(figures)s"),
            _("the %(names)s late rates improve %(figures)s"),
        )
    clauses = []
    for index, (figures, days) in enumerate(same.items()):
        wording = first[len(days) > 1] if index == 0 else _("the %(names)s %(figures)s")
        clauses.append(wording % {"names": _window_names(days), "figures": figures})
    return _join(clauses)


def _rate_item(moves: list[_RateMove], facts: HealthFacts) -> RescueItem:
    first = moves[0]
    chosen = first.chosen
    count = len(chosen)
    act_by, crosses_at = chosen[0].due_at, chosen[-1].due_at
    assert act_by is not None and crosses_at is not None
    values = {
        "count": count,
        "rates": _rates_clause(moves),
        "within": human_duration((crosses_at - facts.as_of).total_seconds()),
        "due": human_duration((act_by - facts.as_of).total_seconds()),
    }
    if first.worsens:
        sentence = ngettext(
            "Answer this message in the next %(within)s or %(rates)s.",
            "Answer these %(count)s in the next %(within)s or %(rates)s.",
            count,
        )
    else:
        sentence = ngettext(
            "Answer this message on time (due in %(due)s) and %(rates)s.",
            "Answer these %(count)s on time (the first is due in %(due)s) and %(rates)s.",
            count,
        )
    sentence %= values
    return RescueItem(
        metric_key=late_rate_key(first.window.days),
        metric_label=", ".join(_("%(days)s-day late rate") % {"days": move.window.days} for move in moves),
        worsens=first.worsens,
        messages=chosen,
        message_count=count,
        act_by=act_by,
        crosses_at=crosses_at,
        from_value=first.window.rate,
        to_value=first.to_value,
        from_status=first.current,
        to_status=first.to_band,
        unit=Unit.RATIO,
        sentence=sentence,
    )


def _atoz_rescue(facts: HealthFacts, rules: Rules) -> list[RescueItem]:
    assert rules.atoz_risk_hours and rules.atoz_critical_hours
    risk = timedelta(hours=rules.atoz_risk_hours)
    critical = timedelta(hours=rules.atoz_critical_hours)
    current = Band.CRITICAL if facts.atoz_critical else Band.AT_RISK if facts.atoz_risk else Band.HEALTHY
    messages = facts.order_messages
    if current == Band.CRITICAL:
        return _atoz_critical_rescue(facts, rules, critical)
    if current == Band.AT_RISK:
        upcoming = [m for m in messages if m.received_at + critical > facts.as_of]
        hours, to_band, wording = (
            rules.atoz_critical_hours,
            Band.CRITICAL,
            _(
                "Answer %(message)s in the next %(within)s: at %(hours)s h unanswered an A-to-z claim on it "
                "can be granted (%(from_band)s → %(to_band)s)."
            ),
        )
        to_value = float(facts.atoz_risk)
        crossing = critical
    else:
        upcoming = [m for m in messages if m.received_at + risk > facts.as_of]
        hours, to_band, wording = (
            rules.atoz_risk_hours,
            Band.AT_RISK,
            _(
                "Answer %(message)s in the next %(within)s: at %(hours)s h unanswered the buyer may file an "
                "A-to-z claim (%(from_band)s → %(to_band)s)."
            ),
        )
        to_value = 1.0
        crossing = risk
    if not upcoming:
        return []
    first = upcoming[0]
    crosses_at = first.received_at + crossing
    message = (
        _("this order message (order %(order)s)") % {"order": first.order_id}
        if first.order_id
        else _("this order message")
    )
    sentence = wording % {
        "message": message,
        "within": human_duration((crosses_at - facts.as_of).total_seconds()),
        "hours": hours,
        "from_band": in_sentence(_(current.label)),
        "to_band": in_sentence(_(to_band.label)),
    }
    return [
        RescueItem(
            metric_key="atoz_risk_count",
            metric_label=_("A-to-z claim risks"),
            worsens=True,
            messages=(first,),
            message_count=1,
            act_by=crosses_at,
            crosses_at=crosses_at,
            from_value=float(facts.atoz_risk),
            to_value=to_value,
            from_status=current,
            to_status=to_band,
            unit=Unit.COUNT,
            sentence=sentence,
        )
    ]


def _atoz_critical_rescue(facts: HealthFacts, rules: Rules, critical: timedelta) -> list[RescueItem]:
    """Critical: every order message unanswered past the critical hours, to answer now."""
    messages = facts.order_messages
    chosen = tuple(m for m in messages if m.received_at + critical <= facts.as_of)
    sentence = ngettext(
        "Answer this order message now: each has been unanswered for %(hours)s h or more, "
        "so an A-to-z claim on it can be granted.",
        "Answer these %(count)s order messages now: each has been unanswered for %(hours)s h or more, "
        "so an A-to-z claim on it can be granted.",
        facts.atoz_critical,
    ) % {"count": facts.atoz_critical, "hours": rules.atoz_critical_hours}
    return [
        RescueItem(
            metric_key="atoz_risk_count",
            metric_label=_("A-to-z claim risks"),
            worsens=False,
            messages=chosen,
            message_count=facts.atoz_critical,
            act_by=facts.as_of,
            crosses_at=facts.as_of,
            from_value=float(facts.atoz_risk),
            to_value=float(facts.atoz_risk - facts.atoz_critical),
            from_status=Band.CRITICAL,
            to_status=Band.AT_RISK if facts.atoz_risk > facts.atoz_critical else Band.HEALTHY,
            unit=Unit.COUNT,
            sentence=sentence,
        )
    ]


def rescue_inquiry_ids(items: Iterable[RescueItem]) -> list[int]:
    """The inquiries behind a rescue list, in the order they first appear."""
    seen: dict[int, None] = {}
    for item in items:
        for message in item.messages:
            if message.inquiry_id is not None:
                seen.setdefault(message.inquiry_id, None)
    return list(seen)
