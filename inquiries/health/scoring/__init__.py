"""Account-health scoring: targets, bands, status, reasons and the rescue maths (DESIGN section 6).

Pure: no Django, no clock. `inquiries.selectors.health.metrics` reads counts and a few rows from
the database into `HealthFacts`; `score(facts, rules)` turns them into metrics, each with
its target, a band (healthy, at risk, critical) and the messages or clusters that drive
it, plus the rescue list: the open messages whose answer, or lack of one, moves a metric
across a band soonest.

Bands for "lower is better" metrics: critical above the target, at risk from
`at_risk_ratio` x target, healthy below that. Rates are fractions (0.1 is 10%).

One module per seam: `model` (the dataclasses in and out, the bands), `figures` (bands for a
value, percentiles, writing values), `report` (`score` and one function per metric) and
`rescue` (the rescue list). The health reads, pages, plan and appeal import the public names
from here.
"""

from inquiries.health.scoring.figures import (
    EPSILON,
    band_for,
    format_value,
    human_duration,
    interpolate,
    late_rate_key,
    percentile_cont,
    percentile_ranks,
    worst,
)
from inquiries.health.scoring.model import (
    Band,
    ClusterRef,
    HealthFacts,
    HealthReport,
    MessageRef,
    Metric,
    RescueItem,
    Rules,
    TopicCount,
    Unit,
    WindowCounts,
)
from inquiries.health.scoring.report import score
from inquiries.health.scoring.rescue import (
    MAX_RESCUE_MESSAGES,
    answers_to_improve,
    messages_to_worsen,
    rescue,
    rescue_fetch_limit,
    rescue_inquiry_ids,
)

__all__ = [
    "EPSILON",
    "MAX_RESCUE_MESSAGES",
    "Band",
    "ClusterRef",
    "HealthFacts",
    "HealthReport",
    "MessageRef",
    "Metric",
    "RescueItem",
    "Rules",
    "TopicCount",
    "Unit",
    "WindowCounts",
    "answers_to_improve",
    "band_for",
    "format_value",
    "human_duration",
    "interpolate",
    "late_rate_key",
    "messages_to_worsen",
    "percentile_cont",
    "percentile_ranks",
    "rescue",
    "rescue_fetch_limit",
    "rescue_inquiry_ids",
    "score",
    "worst",
]
