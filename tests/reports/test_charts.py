"""The SVG charts: accessible, escaped, drawn from the numbers given."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from inquiries.reports import charts

SVG = "{http://www.w3.org/2000/svg}"


def parse(svg: str) -> ET.Element:
    return ET.fromstring(svg)


def test_a_line_chart_is_labelled_by_its_title_and_description():
    svg = charts.line_chart(
        chart_id="c1",
        title="Compliance <by day>",
        description="Met & missed",
        x_labels=["1 Mar", "2 Mar", "3 Mar"],
        series=[charts.Series("First reply", [100, None, 50])],
        y_max=100,
        unit="%",
    )
    root = parse(svg)
    assert root.get("role") == "img" and root.get("aria-labelledby") == "c1-title c1-desc"
    assert root.find(f"{SVG}title").text == "Compliance <by day>"
    assert root.find(f"{SVG}desc").text == "Met & missed"
    points = [c.find(f"{SVG}title").text for c in root.iter(f"{SVG}circle")]
    assert points == ["First reply, 1 Mar: 100%", "First reply, 3 Mar: 50%"]
    assert root.find(f"{SVG}polyline") is None  # a gap breaks the line: no two neighbouring points
    assert "<script" not in svg and "First reply" in svg


def test_bars_stack_their_series_and_say_their_values():
    svg = charts.bar_chart(
        chart_id="b",
        title="Backlog",
        description="d",
        categories=["< 1 h", "1-4 h"],
        series=[charts.Series("New", [2, 0]), charts.Series("Open <b>", [3, 1], charts.PALETTE[1])],
    )
    titles = [
        r.find(f"{SVG}title").text for r in parse(svg).iter(f"{SVG}rect") if r.find(f"{SVG}title") is not None
    ]
    assert titles == ["< 1 h, New: 2", "< 1 h, Open <b>: 3", "1-4 h, Open <b>: 1"]
    assert "Open &lt;b&gt;" in svg


def test_a_heatmap_has_one_cell_per_weekday_and_hour():
    values = [[d * 24 + h for h in range(24)] for d in range(7)]
    svg = charts.heatmap(
        chart_id="h",
        title="Volume",
        description="d",
        row_labels=list("MTWTFSS"),
        column_labels=[f"{h:02d}" for h in range(24)],
        values=values,
    )
    cells = [r for r in parse(svg).iter(f"{SVG}rect") if r.find(f"{SVG}title") is not None]
    assert len(cells) == 7 * 24
    assert cells[-1].find(f"{SVG}title").text == "S 23: 167" and cells[-1].get("fill-opacity") == "1.00"


def test_empty_charts_still_draw():
    assert parse(charts.line_chart(chart_id="e", title="t", description="d", x_labels=[], series=[]))
    assert parse(charts.bar_chart(chart_id="e", title="t", description="d", categories=[], series=[]))
    assert parse(
        charts.heatmap(
            chart_id="e", title="t", description="d", row_labels=["M"], column_labels=["00"], values=[[0]]
        )
    )
