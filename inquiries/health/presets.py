"""Marketplace presets (DESIGN section 4) as plain data: the seed of `MarketplacePreset` rows.

The values are the marketplace facts table's (`inquiries.marketplaces`), in the fields of a
preset. The data migration copies these into the database, where admins edit them; the health
computation reads the row and falls back to these values only for a marketplace that has
no row. Targets that are house defaults rather than marketplace rules say so in `notes`.
"""

from __future__ import annotations

from inquiries.marketplaces import MARKETPLACES, Marketplace


def preset_values(facts: Marketplace) -> dict[str, object]:
    """A marketplace's facts as the fields of its preset row."""
    health, rating = facts.health, facts.rating
    return {
        "late_rate_windows": list(health.late_rate_windows),
        "late_rate_target_percent": health.late_rate_target_percent,
        "at_risk_ratio": health.at_risk_ratio,
        "response_p50_target_seconds": health.response_p50_target_seconds,
        "response_p90_target_seconds": health.response_p90_target_seconds,
        "response_mean_target_seconds": health.response_mean_target_seconds,
        "atoz_risk_hours": health.atoz_risk_hours,
        "atoz_critical_hours": health.atoz_critical_hours,
        "complaint_window_days": health.complaint_window_days,
        "complaint_target_per_100_orders": health.complaint_target_per_100_orders,
        "complaint_target_per_100_inquiries": health.complaint_target_per_100_inquiries,
        "cluster_at_risk_severity": health.cluster_at_risk_severity,
        "cluster_critical_severity": health.cluster_critical_severity,
        "rating_healthy_from": rating.healthy_from if rating else None,
        "rating_at_risk_from": rating.at_risk_from if rating else None,
        "message_rules": [rule.as_preset_json() for rule in facts.message_rules],
        "name": facts.name,
        "reply_target_seconds": facts.reply.target_seconds,
        "reply_business_days_only": facts.reply.business_days_only,
        "reply_rule": facts.reply.rule,
        "rate_name": health.rate_name,
        "notes": health.notes,
    }


DEFAULT_PRESETS: dict[str, dict[str, object]] = {
    key: preset_values(facts) for key, facts in MARKETPLACES.items()
}
