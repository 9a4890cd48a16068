"""Server-side SVG charts for the reports: pure Python, no JavaScript, no CDN, no Django.

Every chart is an `<svg role="img">` labelled by its own `<title>` and `<desc>` (through
`aria-labelledby`), carries a legend in words, and gives each bar, point or cell a `<title>`
with its exact value. All text is escaped here, so callers may mark the result safe. Pages
show the numbers behind each chart as a table as well: a chart is never the only way in.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from html import escape

from django.utils.formats import number_format

from inquiries import words

FONT = 'font-family="system-ui, -apple-system, Segoe UI, Roboto, DejaVu Sans, sans-serif"'
GRID, AXIS_TEXT, TEXT = "#dde2ea", "#5a6475", "#1b2230"
# Distinguishable for the common colour-vision deficiencies; lines also differ by dash pattern.
PALETTE = ("#1d5bbf", "#c26a00", "#2b8a4b", "#8a3ea8", "#a3231a", "#5a6475")
DASHES = ("", "6 3", "2 3", "8 3 2 3")


@dataclass(frozen=True, slots=True)
class Series:
    name: str
    values: Sequence[float | None]
    color: str = PALETTE[0]
    dash: str = ""


# Tops of an axis whose quarters are round numbers too (1.2 -> 0.3, 0.6, 0.9, 1.2).
NICE_STEPS = (1, 1.2, 1.6, 2, 2.4, 3, 4, 5, 6, 8, 10)


def nice_ceiling(value: float) -> float:
    """The smallest of 1, 1.2, 1.6, 2 ... 8, 10, 12... that is at least `value` (the top of an axis)."""
    if value <= 1:
        return 1
    magnitude = 10 ** math.floor(math.log10(value))
    return next(step * magnitude for step in NICE_STEPS if step * magnitude >= value)


def _number(value: float) -> str:
    """An axis or tooltip number as the reader writes it (thousands separator, decimal mark)."""
    if float(value).is_integer():
        return words.number(int(value))
    return number_format(
        Decimal(f"{value:.1f}"), 1, force_grouping=True
    )  # rounded; number_format cuts floats


def _open(chart_id: str, title: str, description: str, width: int, height: int) -> list[str]:
    safe_id = escape(chart_id, quote=True)
    return [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {width} {height}" width="100%" '
        f'role="img" aria-labelledby="{safe_id}-title {safe_id}-desc" preserveAspectRatio="xMidYMid meet" '
        f'{FONT} font-size="11">',
        f'<title id="{safe_id}-title">{escape(title)}</title>',
        f'<desc id="{safe_id}-desc">{escape(description)}</desc>',
    ]


def _legend(series: Sequence[Series], x: float, y: float, *, lines: bool) -> list[str]:
    parts = ['<g class="legend">']
    for item in series:
        if lines:
            dash = f' stroke-dasharray="{item.dash}"' if item.dash else ""
            parts.append(
                f'<line x1="{x:.1f}" y1="{y - 4:.1f}" x2="{x + 18:.1f}" y2="{y - 4:.1f}" '
                f'stroke="{item.color}" '
                f'stroke-width="2.5"{dash}/>'
            )
        else:
            parts.append(f'<rect x="{x:.1f}" y="{y - 9:.1f}" width="12" height="10" fill="{item.color}"/>')
        label_x = x + (24 if lines else 16)
        parts.append(f'<text x="{label_x:.1f}" y="{y:.1f}" fill="{TEXT}">{escape(item.name)}</text>')
        x = label_x + 7 * len(item.name) + 18
    parts.append("</g>")
    return parts


def _y_axis(top: float, plot_h: float, left: float, right: float, ceiling: float, unit: str) -> list[str]:
    parts = []
    for step in range(5):
        value = ceiling * step / 4
        y = top + plot_h - plot_h * step / 4
        parts.append(
            f'<line x1="{left}" y1="{y:.1f}" x2="{right}" y2="{y:.1f}" stroke="{GRID}" stroke-width="1"/>'
        )
        parts.append(
            f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" fill="{AXIS_TEXT}">'
            f"{escape(_number(value))}{escape(unit)}</text>"
        )
    return parts


def _x_labels(labels: Sequence[str], left: float, slot: float, y: float, *, centred: bool) -> list[str]:
    """At most about ten labels, counted back from the last one so that it always shows."""
    every = max(1, math.ceil(len(labels) / 10))
    parts = []
    for index, label in enumerate(labels):
        if (len(labels) - 1 - index) % every:
            continue
        x = left + index * slot + (slot / 2 if centred else 0)
        parts.append(
            f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="middle" fill="{AXIS_TEXT}">{escape(label)}</text>'
        )
    return parts


def line_chart(
    *,
    chart_id: str,
    title: str,
    description: str,
    x_labels: Sequence[str],
    series: Sequence[Series],
    y_max: float | None = None,
    unit: str = "",
    width: int = 720,
    height: int = 260,
) -> str:
    """Lines over ordered x labels; a None value breaks the line (no data that day)."""
    left, right, top, bottom = 48, 28, 30, 28
    plot_w, plot_h = width - left - right, height - top - bottom
    values = [v for item in series for v in item.values if v is not None]
    ceiling = y_max if y_max is not None else nice_ceiling(max(values, default=0))
    parts = _open(chart_id, title, description, width, height)
    parts += _legend(series, left, 14, lines=True)
    parts += _y_axis(top, plot_h, left, width - right, ceiling, unit)
    count = len(x_labels)
    slot = plot_w / max(count - 1, 1)

    def point(index: int, value: float) -> tuple[float, float]:
        x = left + (index * slot if count > 1 else plot_w / 2)
        return x, top + plot_h - plot_h * min(value, ceiling) / ceiling

    for item in series:
        points = [None if value is None else point(index, value) for index, value in enumerate(item.values)]
        parts += _polylines(item, points)
        parts += _dots(item, points, x_labels, unit)
    parts += (
        _x_labels(x_labels, left, slot, height - 8, centred=False)
        if count > 1
        else [
            f'<text x="{left + plot_w / 2:.1f}" y="{height - 8}" text-anchor="middle" fill="{AXIS_TEXT}">'
            f"{escape(x_labels[0])}</text>"
            if x_labels
            else ""
        ]
    )
    parts.append("</svg>")
    return "".join(parts)


def _polylines(item: Series, points: Sequence[tuple[float, float] | None]) -> list[str]:
    """The series' line: one polyline per run of two or more points, broken where a value is None."""
    dash = f' stroke-dasharray="{item.dash}"' if item.dash else ""
    parts = []
    run: list[str] = []
    for xy in [*points, None]:
        if xy is None:
            if len(run) > 1:
                parts.append(
                    f'<polyline points="{" ".join(run)}" fill="none" stroke="{item.color}" '
                    'stroke-width="2.2" '
                    f'stroke-linejoin="round"{dash}/>'
                )
            run = []
            continue
        run.append(f"{xy[0]:.1f},{xy[1]:.1f}")
    return parts


def _dots(
    item: Series, points: Sequence[tuple[float, float] | None], x_labels: Sequence[str], unit: str
) -> list[str]:
    """A dot per value of the series, its `<title>` the exact value."""
    parts = []
    for index, (xy, value) in enumerate(zip(points, item.values, strict=True)):
        if xy is None or value is None:
            continue
        parts.append(
            f'<circle cx="{xy[0]:.1f}" cy="{xy[1]:.1f}" r="2.6" fill="{item.color}"><title>'
            f"{escape(item.name)}, {escape(x_labels[index])}: {escape(_number(value))}{escape(unit)}"
            "</title></circle>"
        )
    return parts


def bar_chart(
    *,
    chart_id: str,
    title: str,
    description: str,
    categories: Sequence[str],
    series: Sequence[Series],
    unit: str = "",
    width: int = 720,
    height: int = 240,
) -> str:
    """Vertical bars per category, the series stacked bottom-up in the order given."""
    left, right, top, bottom = 48, 12, 30, 28
    plot_w, plot_h = width - left - right, height - top - bottom
    totals = [sum(item.values[i] or 0 for item in series) for i in range(len(categories))]
    ceiling = nice_ceiling(max(totals, default=0))
    parts = _open(chart_id, title, description, width, height)
    if len(series) > 1:
        parts += _legend(series, left, 14, lines=False)
    parts += _y_axis(top, plot_h, left, width - right, ceiling, unit)
    slot = plot_w / max(len(categories), 1)
    bar = max(2.0, slot * 0.62)
    for index, category in enumerate(categories):
        x = left + index * slot + (slot - bar) / 2
        base: float = top + plot_h
        for item in series:
            value: float = item.values[index] or 0
            if value <= 0:
                continue
            h = plot_h * value / ceiling
            base -= h
            parts.append(
                f'<rect x="{x:.1f}" y="{base:.1f}" width="{bar:.1f}" height="{h:.1f}" fill="{item.color}">'
                f"<title>{escape(category)}, {escape(item.name)}: {escape(_number(value))}{escape(unit)}"
                "</title></rect>"
            )
    parts += _x_labels(categories, left, slot, height - 8, centred=True)
    parts.append("</svg>")
    return "".join(parts)


def heatmap(
    *,
    chart_id: str,
    title: str,
    description: str,
    row_labels: Sequence[str],
    column_labels: Sequence[str],
    values: Sequence[Sequence[int]],
    color: str = PALETTE[0],
    width: int = 720,
) -> str:
    """A grid of cells whose opacity grows with the value; the legend names the largest value."""
    left, top, right, legend_h = 40, 8, 8, 26
    cell_w = (width - left - right) / max(len(column_labels), 1)
    cell_h = min(cell_w, 24)
    height = int(top + cell_h * len(row_labels) + 18 + legend_h)
    largest = max((v for row in values for v in row), default=0)
    parts = _open(chart_id, title, description, width, height)
    for r, label in enumerate(row_labels):
        y = top + r * cell_h
        parts.append(
            f'<text x="{left - 6}" y="{y + cell_h / 2 + 4:.1f}" text-anchor="end" fill="{AXIS_TEXT}">'
            f"{escape(label)}</text>"
        )
        for c, column in enumerate(column_labels):
            value = values[r][c]
            opacity = 0.06 + 0.94 * value / largest if largest else 0.06
            parts.append(
                f'<rect x="{left + c * cell_w + 1:.1f}" y="{y + 1:.1f}" width="{cell_w - 2:.1f}" '
                f'height="{cell_h - 2:.1f}" rx="2" fill="{color}" fill-opacity="{opacity:.2f}">'
                f"<title>{escape(label)} {escape(column)}: {escape(_number(value))}</title></rect>"
            )
    axis_y = top + cell_h * len(row_labels) + 13
    for c, column in enumerate(column_labels):
        if c % 3 == 0:
            x = left + c * cell_w + cell_w / 2
            parts.append(
                f'<text x="{x:.1f}" y="{axis_y:.1f}" text-anchor="middle" fill="{AXIS_TEXT}">'
                f"{escape(column)}</text>"
            )
    legend_y = axis_y + 18
    parts.append(f'<text x="{left}" y="{legend_y:.1f}" fill="{AXIS_TEXT}">0</text>')
    for step in range(5):
        parts.append(
            f'<rect x="{left + 14 + step * 18}" y="{legend_y - 10:.1f}" width="16" height="12" rx="2" '
            f'fill="{color}" '
            f'fill-opacity="{0.06 + 0.94 * step / 4:.2f}"/>'
        )
    parts.append(
        f'<text x="{left + 14 + 5 * 18 + 4}" y="{legend_y:.1f}" fill="{AXIS_TEXT}">'
        f"{escape(_number(largest))} "
        "(busiest hour)</text>"
    )
    parts.append("</svg>")
    return "".join(parts)
