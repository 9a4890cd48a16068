"""Marketplace reply rules (DESIGN section 4), as data. Accounts may override them in the admin."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import time

DAY = 24 * 3600


@dataclass(frozen=True, slots=True)
class ReplyRule:
    target_seconds: int
    # None: calendar time, weekends and holidays included. Otherwise weekday -> hours in the
    # account's own time zone (eBay's "business days" are Monday to Friday, all day).
    hours: dict[int, list[tuple[time, time]]] | None = None
    description: str = ""


MARKETPLACE_REPLY_RULES: dict[str, ReplyRule] = {
    "amazon": ReplyRule(
        DAY, None, "Every buyer message answered within 24 hours, weekends and holidays included."
    ),
    "walmart": ReplyRule(2 * DAY, None, "Customer messages answered within 48 hours, weekends included."),
    "ebay": ReplyRule(
        3 * DAY,
        {weekday: [(time(0), time(0))] for weekday in range(5)},
        "Return and item-not-received requests answered within 3 business days.",
    ),
}


def reply_rule(marketplace: str) -> ReplyRule | None:
    """The preset rule of a marketplace; own shops and others have none (internal SLA only)."""
    return MARKETPLACE_REPLY_RULES.get(marketplace)
