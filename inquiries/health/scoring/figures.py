"""Bands and figures: which band a value falls in against its target, percentiles, and the
way values and durations are written for people.

Bands for "lower is better" metrics: critical above the target, at risk from `at_risk_ratio` x
target, healthy below that. Rates are fractions (0.1 is 10%).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

from inquiries.health.scoring.model import Band, HealthFacts, Unit
from inquiries.words import _, decimal, percent

# --- bands -----------------------------------------------------------------------------------

EPSILON = 1e-9


def band_for(value: float | None, target: float | None, at_risk_ratio: float) -> Band:
    """Lower is better: critical above the target, at risk from `at_risk_ratio` of it."""
    if value is None or target is None:
        return Band.HEALTHY
    # Rates are ratios of counts: 8 / 100 must meet an 8% threshold computed as 0.1 * 0.8.
    if value > target + EPSILON:
        return Band.CRITICAL
    if target > 0 and value >= target * at_risk_ratio - EPSILON:
        return Band.AT_RISK
    return Band.HEALTHY


def worst(bands: Iterable[Band]) -> Band:
    return max(bands, key=lambda b: b.rank, default=Band.HEALTHY)


def percentile_cont(values: Sequence[float], fraction: float) -> float | None:
    """PostgreSQL's percentile_cont: linear interpolation between the closest ranks."""
    if not values:
        return None
    ordered = sorted(values)
    lower, upper, weight = percentile_ranks(len(ordered), fraction)
    return interpolate(ordered[lower], ordered[upper], weight)


def percentile_ranks(count: int, fraction: float) -> tuple[int, int, float]:
    """The two ranks (0-based, in `count` sorted values, count >= 1) that percentile_cont
    interpolates between, and the weight of the upper one."""
    position = fraction * (count - 1)
    lower = int(position)
    return lower, min(lower + 1, count - 1), position - lower


def interpolate(lower: float, upper: float, weight: float) -> float:
    return lower + (upper - lower) * weight


def late_rate_key(days: int) -> str:
    return f"late_response_rate_{days}d"


# --- formatting (used in sentences; the templates format values themselves) ------------------


def human_duration(seconds: float) -> str:
    seconds = max(0, int(seconds))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    if days:
        return f"{days} d {hours} h" if hours else f"{days} d"
    if hours:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    return f"{minutes} min" if minutes else _("under a minute")


def format_value(value: float | None, unit: Unit) -> str:
    """A value as people read it; without one, "no data" in the reader's language."""
    if value is None:
        return _("no data")
    if unit == Unit.RATIO:
        return percent(value * 100, 1)
    if unit == Unit.SECONDS:
        return human_duration(value)
    if unit in (Unit.PER_100_ORDERS, Unit.PER_100_INQUIRIES):
        return decimal(value, 2)
    return str(int(value))


def window_start_of(facts: HealthFacts, days: int) -> datetime:
    """When the window of `days` days that ends at the facts' as_of begins."""
    return facts.as_of - timedelta(days=days)
