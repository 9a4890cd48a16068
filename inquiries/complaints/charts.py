"""Server-side SVG charts: no JavaScript, no CDN, no Django. Every text is escaped.

`daily_bar_chart()` draws one bar per day with a labelled y axis and date labels, and a
<title>/<desc> pair (referenced by aria-labelledby) so screen readers announce what it
shows; pages should also offer the numbers as a table.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import date, timedelta
from html import escape

from inquiries.words import short_date


def fill_days(counts: Mapping[date, int], start: date, end: date) -> list[tuple[date, int]]:
    """One (day, count) pair for every day from `start` to `end` inclusive; missing days are 0."""
    if end < start:
        return []
    return [
        (day, counts.get(day, 0))
        for day in (start + timedelta(days=n) for n in range((end - start).days + 1))
    ]


def _nice_ceiling(value: int) -> int:
    """The smallest of 1, 2, 5, 10, 20, 50... at least `value` (the top of the y axis)."""
    if value <= 1:
        return 1
    # int ** int is typed Any (a negative exponent gives a float); this one is never negative.
    magnitude: int = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 5, 10):
        if step * magnitude >= value:
            return step * magnitude
    return 10 * magnitude


def _label(day: date) -> str:
    return short_date(day.day, day.month)


def daily_bar_chart(
    days: Sequence[tuple[date, int]],
    *,
    title: str,
    description: str,
    chart_id: str = "chart",
    width: int = 640,
    height: int = 220,
    highlight_from: date | None = None,
) -> str:
    """An SVG bar chart of daily counts; days on or after `highlight_from` are drawn darker.

    `chart_id` must be unique on the page (it prefixes the title and desc ids).
    """
    left, right, top, bottom = 36, 8, 12, 30
    plot_w, plot_h = width - left - right, height - top - bottom
    ceiling = _nice_ceiling(max((count for _, count in days), default=0))
    safe_id = escape(chart_id, quote=True)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {width} {height}" '
        f'width="100%" role="img" aria-labelledby="{safe_id}-title {safe_id}-desc" '
        f'preserveAspectRatio="xMidYMid meet" font-family="system-ui, sans-serif" font-size="11">',
        f'<title id="{safe_id}-title">{escape(title)}</title>',
        f'<desc id="{safe_id}-desc">{escape(description)}</desc>',
    ]
    # Horizontal grid lines with their values: 0, the middle and the top.
    for value in sorted({0, ceiling // 2, ceiling}):
        y = top + plot_h - plot_h * value / ceiling
        parts.append(f'<line x1="{left}" y1="{y:.1f}" x2="{width - right}" y2="{y:.1f}" stroke="#dde2ea"/>')
        parts.append(f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" fill="#5a6475">{value}</text>')
    if days:
        slot = plot_w / len(days)
        bar = max(1.0, slot * 0.7)
        # At most about eight date labels, counted back from the last day so it is always labelled.
        every = max(1, math.ceil(len(days) / 8))
        for index, (day, count) in enumerate(days):
            x = left + index * slot + (slot - bar) / 2
            bar_h = plot_h * count / ceiling
            colour = "#1d5bbf" if highlight_from is not None and day >= highlight_from else "#9db4d8"
            parts.append(
                f'<rect x="{x:.1f}" y="{top + plot_h - bar_h:.1f}" width="{bar:.1f}" height="{bar_h:.1f}" '
                f'fill="{colour}"><title>{escape(_label(day))}: {count}</title></rect>'
            )
            if (len(days) - 1 - index) % every == 0:
                parts.append(
                    f'<text x="{left + index * slot + slot / 2:.1f}" y="{height - bottom + 16}" '
                    f'text-anchor="middle" fill="#5a6475">{escape(_label(day))}</text>'
                )
    parts.append(
        f'<line x1="{left}" y1="{top + plot_h}" x2="{width - right}" y2="{top + plot_h}" stroke="#5a6475"/>'
    )
    parts.append("</svg>")
    return "".join(parts)
