"""Pure helpers: the SVG trend chart, reading dates people type, Markdown escaping."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from inquiries.health.charts import trend_chart
from inquiries.health.dates import BadDate, parse_as_of, parse_period
from inquiries.health.plan import deadline_name, md

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


def chart(points, **kwargs):
    options = {
        "chart_id": "c",
        "title": "Late <b>rate</b>",
        "target": 0.1,
        "at_risk_ratio": 0.8,
        "fmt": lambda v: f"{v * 100:.0f}%",
    }
    return trend_chart(points, **{**options, **kwargs})


def test_the_trend_chart_draws_bands_a_target_line_and_breaks_at_missing_days():
    days = [date(2026, 3, 1) + timedelta(days=n) for n in range(6)]
    svg = chart(list(zip(days, [0.05, 0.07, None, 0.12, 0.09, None], strict=True)))

    assert svg.startswith("<svg") and svg.endswith("</svg>")
    assert svg.count("<polyline") == 2  # two runs of days with values
    assert 'class="band-critical"' in svg and 'class="band-at-risk"' in svg and 'class="target"' in svg
    assert '<title id="c-t">Late &lt;b&gt;rate&lt;/b&gt;</title>' in svg
    assert "highest 12% on 4 Mar" in svg


def test_a_chart_without_values_says_so():
    svg = chart([(date(2026, 3, 1), None)], target=None)
    assert "No daily snapshots yet" in svg
    assert "band-critical" not in svg


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", NOW),
        ("2026-03-08", datetime(2026, 3, 9, 0, 0, tzinfo=UTC)),
        ("2026-03-10", NOW),  # today: up to now
        ("2026-03-09T08:30", datetime(2026, 3, 9, 8, 30, tzinfo=UTC)),
        ("2026-03-09T08:30:00Z", datetime(2026, 3, 9, 8, 30, tzinfo=UTC)),
        ("2026-03-09T10:30:00+02:00", datetime(2026, 3, 9, 8, 30, tzinfo=UTC)),
    ],
)
def test_as_of_accepts_dates_and_instants(text, expected):
    assert parse_as_of(text, "UTC", NOW) == expected


def test_a_date_ends_at_the_accounts_local_midnight():
    assert parse_as_of("2026-03-08", "Europe/Berlin", NOW) == datetime(2026, 3, 8, 23, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    "text", ["tomorrow", "2026-13-01", "2026-03-11", "2027-01-01T00:00:00Z", "1960-01-01"]
)
def test_as_of_refuses_what_it_cannot_use(text):
    with pytest.raises(BadDate):
        parse_as_of(text, "UTC", NOW)


def test_periods_default_to_the_last_30_days_and_are_checked():
    assert parse_period("", "", "UTC", NOW) == (date(2026, 2, 9), date(2026, 3, 10))
    for first, last in (
        ("2026-03-05", "2026-03-01"),
        ("2026-03-01", "2026-03-11"),
        ("2024-01-01", "2026-03-01"),
        ("x", ""),
    ):
        with pytest.raises(BadDate):
            parse_period(first, last, "UTC", NOW)


def test_markdown_text_is_inert():
    assert md("<script>alert(1)</script> *bold* [link](x)") == (
        "&lt;script&gt;alert(1)&lt;/script&gt; \\*bold\\* \\[link\\](x)"
    )
    assert md("two\nlines") == "two lines"


def test_deadlines_read_as_adjectives():
    assert deadline_name("24 hours") == "24-hour"
    assert deadline_name("3 business days") == "3-business-day"
