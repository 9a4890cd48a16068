"""Server-side SVG trend charts for the health page: no JavaScript, no CDN, every text escaped.

`trend_chart()` draws one metric's daily values as a line over the healthy / at-risk /
critical bands of its target, with a dashed target line, labelled axes and a
<title>/<desc> pair for screen readers. Days without a snapshot leave a gap.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date
from html import escape

from inquiries.words import _, short_date

WIDTH, HEIGHT = 320, 120
LEFT, RIGHT, TOP, BOTTOM = 44, 8, 8, 22


def _day(day: date) -> str:
    return short_date(day.day, day.month)


def trend_chart(
    points: Sequence[tuple[date, float | None]],
    *,
    chart_id: str,
    title: str,
    target: float | None,
    at_risk_ratio: float,
    fmt: Callable[[float], str],
) -> str:
    """An SVG line chart of `points` (one per day, oldest first; None is a gap)."""
    values = [v for _, v in points if v is not None]
    top = max([*values, (target or 0) * 1.25, 1e-9])
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    count = max(len(points) - 1, 1)

    def x(index: int) -> float:
        return LEFT + plot_w * index / count

    def y(value: float) -> float:
        return TOP + plot_h * (1 - min(value, top) / top)

    parts = [
        f'<svg class="trend" viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" height="{HEIGHT}" role="img" '
        f'aria-labelledby="{chart_id}-t {chart_id}-d" xmlns="http://www.w3.org/2000/svg">',
        f'<title id="{chart_id}-t">{escape(title)}</title>',
        f'<desc id="{chart_id}-d">{escape(_describe(points, target, fmt))}</desc>',
    ]
    if target is not None and target > 0:
        parts += _target_bands(target, target * at_risk_ratio, y, fmt)
    parts += [
        f'<line class="axis-line" x1="{LEFT}" x2="{LEFT + plot_w}" y1="{TOP + plot_h}" y2="{TOP + plot_h}"/>',
        f'<text class="axis" x="{LEFT - 4}" y="{TOP + plot_h + 3}" text-anchor="end">{escape(fmt(0))}</text>',
    ]
    parts += _line(points, x, y)
    if points:
        parts += [
            f'<text class="axis" x="{LEFT}" y="{HEIGHT - 6}">{escape(_day(points[0][0]))}</text>',
            f'<text class="axis" x="{LEFT + plot_w}" y="{HEIGHT - 6}" text-anchor="end">'
            f"{escape(_day(points[-1][0]))}</text>",
        ]
    if not values:
        parts.append(
            f'<text class="axis" x="{LEFT + plot_w / 2}" y="{TOP + plot_h / 2}" text-anchor="middle">'
            f"{escape(_('No daily snapshots yet'))}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)


def _target_bands(
    target: float, warn: float, y: Callable[[float], float], fmt: Callable[[float], str]
) -> list[str]:
    """The critical band above `target`, the at-risk band between `warn` and it, and the target
    line with its value on the axis."""
    plot_w = WIDTH - LEFT - RIGHT
    return [
        f'<rect class="band-critical" x="{LEFT}" y="{TOP}" width="{plot_w}" height="{y(target) - TOP:.1f}"/>',
        f'<rect class="band-at-risk" x="{LEFT}" y="{y(target):.1f}" width="{plot_w}" '
        f'height="{y(warn) - y(target):.1f}"/>',
        f'<line class="target" x1="{LEFT}" x2="{LEFT + plot_w}" y1="{y(target):.1f}" y2="{y(target):.1f}"/>',
        f'<text class="axis" x="{LEFT - 4}" y="{y(target) + 3:.1f}" text-anchor="end">'
        f"{escape(fmt(target))}</text>",
    ]


def _line(
    points: Sequence[tuple[date, float | None]], x: Callable[[int], float], y: Callable[[float], float]
) -> list[str]:
    """The values as a polyline per run of days with a value; a lone day is a dot."""
    parts = []
    for run in _runs(points):
        if len(run) == 1:
            i, v = run[0]
            parts.append(f'<circle class="line-dot" cx="{x(i):.1f}" cy="{y(v):.1f}" r="2"/>')
        else:
            coordinates = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in run)
            parts.append(f'<polyline class="line" points="{coordinates}"/>')
    return parts


def _runs(points: Sequence[tuple[date, float | None]]) -> list[list[tuple[int, float]]]:
    """Consecutive days with a value, as (index, value) lists: gaps break the line."""
    runs: list[list[tuple[int, float]]] = []
    current: list[tuple[int, float]] = []
    for index, (_day_of_point, value) in enumerate(points):
        if value is None:
            if current:
                runs.append(current)
            current = []
        else:
            current.append((index, value))
    if current:
        runs.append(current)
    return runs


def _describe(
    points: Sequence[tuple[date, float | None]], target: float | None, fmt: Callable[[float], str]
) -> str:
    known = [(d, v) for d, v in points if v is not None]
    if not known:
        return _("No daily values recorded in this period.")
    first, last = known[0], known[-1]
    worst = max(known, key=lambda p: p[1])
    text = _(
        "From %(first)s on %(first_day)s to %(last)s on %(last_day)s; highest %(worst)s on %(worst_day)s."
    ) % {
        "first": fmt(first[1]),
        "first_day": _day(first[0]),
        "last": fmt(last[1]),
        "last_day": _day(last[0]),
        "worst": fmt(worst[1]),
        "worst_day": _day(worst[0]),
    }
    if target is not None:
        text += " " + _("Target %(target)s.") % {"target": fmt(target)}
    return text
