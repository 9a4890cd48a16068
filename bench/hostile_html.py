"""Time to make hostile HTML safe: 1 MB of each nesting pattern through sanitize_html() and
html_to_text(), the two calls every ingestion path makes. Before the depth cap, 20,000 nested
<div>s (220 KB) took 2 s and 120,000 over 300 s; the cap keeps every pattern linear.

Run: .venv/bin/python bench/hostile_html.py   (prints the median of 3 runs per pattern, seconds)
"""

from __future__ import annotations

import statistics
import sys
from pathlib import Path
from time import perf_counter

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from inquiries.ingestion.html import html_to_text, sanitize_html

SIZE = 1_000_000
PATTERNS = {
    "nested div": "<div>",
    'div title="<"': '<div title="<">',
    "unclosed p": "<p>",
    "nested a": "<a href=x>",
    "nested b": "<b>",
    "table/tr/td": "<table><tr><td>",
    "ul/li": "<ul><li>",
    "svg/g": "<svg><g>",
    "dl/dt": "<dl><dt>",
    "div/b/i/u/span": "<div><b><i><u><span>",
}


def median_seconds(call, html: str, runs: int = 3) -> float:
    times = []
    for _ in range(runs):
        start = perf_counter()
        call(html)
        times.append(perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    print(f"{'pattern':18} {'sanitize_html':>14} {'html_to_text':>13}   (1 MB each, median of 3, s)")
    for name, unit in PATTERNS.items():
        html = (unit * (SIZE // len(unit) + 1))[:SIZE]
        print(
            f"{name:18} {median_seconds(sanitize_html, html):14.2f} {median_seconds(html_to_text, html):13.2f}"
        )


if __name__ == "__main__":
    main()
