"""Marketplace presets (DESIGN section 4) as plain data: the seed of `MarketplacePreset` rows.

The data migration copies these into the database, where admins edit them; the health
computation reads the row and falls back to these values only for a marketplace that has
no row. Targets that are house defaults rather than marketplace rules say so in `notes`.
"""

from __future__ import annotations

from inquiries.sla.presets import DEFAULT_MESSAGE_RULES

HOUR = 3600
DAY = 24 * HOUR

# Shared by every preset unless it says otherwise.
COMMON: dict[str, object] = {
    "late_rate_windows": [7, 30, 90],
    "late_rate_target_percent": 10.0,
    "at_risk_ratio": 0.8,
    "response_p50_target_seconds": 12 * HOUR,
    "response_p90_target_seconds": DAY,
    "response_mean_target_seconds": 12 * HOUR,
    "atoz_risk_hours": None,
    "atoz_critical_hours": None,
    "complaint_window_days": 30,
    "complaint_target_per_100_orders": 2.0,
    "complaint_target_per_100_inquiries": 25.0,
    "cluster_at_risk_severity": 3,
    "cluster_critical_severity": 4,
    "rating_healthy_from": None,
    "rating_at_risk_from": None,
    "message_rules": [],
}

DEFAULT_PRESETS: dict[str, dict[str, object]] = {
    "amazon": {
        **COMMON,
        "name": "Amazon",
        "reply_target_seconds": DAY,
        "reply_business_days_only": False,
        "reply_rule": "Every buyer message answered within 24 hours, weekends and holidays included. "
        "Auto-replies don't count; messages marked 'no response needed' are excluded.",
        "rate_name": "Late Response Rate",
        "response_p90_target_seconds": DAY,
        "atoz_risk_hours": 48,
        "atoz_critical_hours": 72,
        "complaint_window_days": 60,
        "complaint_target_per_100_orders": 1.0,
        "rating_healthy_from": 200,
        "rating_at_risk_from": 100,
        "notes": "Late Response Rate over 7, 30 and 90 days, at most 10% late. A buyer may file an "
        "A-to-z claim 48 h after contacting the seller; it is granted when the seller has not "
        "answered in 72 h. Order Defect Rate below 1% over 60 days, computed from orders. House "
        "indicators, not Amazon's: complaints of one topic per 100 orders, held to 1 in 100 over 60 "
        "days. Account Health Rating bands: 200+ healthy, 100-199 at risk, 99 and below critical.",
    },
    "walmart": {
        **COMMON,
        "name": "Walmart",
        "reply_target_seconds": 2 * DAY,
        "reply_business_days_only": False,
        "reply_rule": "Customer messages answered within 48 hours, weekends included; complaints "
        "made through the Better Business Bureau or an Attorney General within 1 hour.",
        "rate_name": "Seller Response Rate",
        "message_rules": DEFAULT_MESSAGE_RULES["walmart"],
        "late_rate_windows": [14, 30, 60, 90],
        "late_rate_target_percent": 5.0,
        "response_p90_target_seconds": 2 * DAY,
        "response_p50_target_seconds": DAY,
        "response_mean_target_seconds": DAY,
        "notes": "Seller Response Rate over 14, 30, 60 and 90 days above 95%, i.e. at most 5% "
        "answered late. Complaint-rate targets are house defaults.",
    },
    "ebay": {
        **COMMON,
        "name": "eBay",
        # No general target: eBay publishes none for ordinary messages. Its 3 business days apply
        # to return and item-not-received requests, through the preset's message rules.
        "reply_target_seconds": None,
        "reply_business_days_only": True,
        "reply_rule": "Return and item-not-received requests answered within 3 business days; "
        "eBay sets no deadline for other messages.",
        "message_rules": DEFAULT_MESSAGE_RULES["ebay"],
        "rate_name": "Share answered late",
        "response_p90_target_seconds": 3 * DAY,
        "response_p50_target_seconds": DAY,
        "response_mean_target_seconds": DAY,
        "notes": "eBay measures the share of requests answered in time; the 10% late target and "
        "the complaint-rate targets are house defaults.",
    },
    "shop": {
        **COMMON,
        "name": "Own shop",
        "reply_target_seconds": None,
        "reply_business_days_only": False,
        "reply_rule": "The account's internal SLA policy only (no marketplace rule).",
        "rate_name": "First replies late",
        "notes": "No marketplace rule: the late rate is first-reply compliance against the "
        "account's SLA policy. All targets are house defaults.",
    },
    "other": {
        **COMMON,
        "name": "Other",
        "reply_target_seconds": None,
        "reply_business_days_only": False,
        "reply_rule": "The account's internal SLA policy only (no marketplace rule).",
        "rate_name": "First replies late",
        "notes": "No marketplace rule: the late rate is first-reply compliance against the "
        "account's SLA policy. All targets are house defaults.",
    },
}
