"""Marketplace reply rules (DESIGN section 4), as data. Accounts may override them in the admin."""

from __future__ import annotations

import fnmatch
import functools
import re
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


# --- who speaks for the marketplace -----------------------------------------------------------

# The senders of the marketplace's buyer-message relay, per marketplace: only a customer message
# from one of these runs the marketplace's reply clock. Amazon relays buyers through anonymised
# addresses at marketplace.amazon.com, .co.uk, .de ... ; Walmart masks buyers at relay.walmart.com.
# A direct e-mail to the same mailbox is not a marketplace message: Amazon and Walmart only
# measure what went through their messaging.
MARKETPLACE_RELAY_SENDERS: dict[str, tuple[str, ...]] = {
    "amazon": ("marketplace.amazon.*",),
    "walmart": ("relay.walmart.com",),
}

_RELAY_ENTRY = re.compile(r"[a-z0-9*?._+-]+(@[a-z0-9*?.-]+)?")


def default_relay_senders(marketplace: str) -> str:
    """The relay senders a new e-mail channel of this marketplace starts with, one a line."""
    return "\n".join(MARKETPLACE_RELAY_SENDERS.get(marketplace, ()))


@functools.lru_cache(maxsize=256)
def parse_relay_senders(text: str) -> tuple[str, ...]:
    """The entries of a relay-sender list (one a line; blank lines and `#` comments ignored).

    An entry is a domain (`relay.walmart.com`; `*` matches any run of characters, so
    `marketplace.amazon.*` takes every Amazon store) or a whole address (`*@relay.example`).
    Raises `ValueError` naming the line of an entry that is neither.
    """
    entries = []
    for number, line in enumerate(text.splitlines(), start=1):
        entry = line.split("#", 1)[0].strip().lower()
        if not entry:
            continue
        if not _RELAY_ENTRY.fullmatch(entry) or entry.strip("*?.") == "":
            raise ValueError(f"line {number}: {entry!r} is neither a domain nor an address")
        entries.append(entry)
    return tuple(entries)


def is_relay_sender(entries: tuple[str, ...], address: str) -> bool:
    """Whether `address` is one of the relay's senders. No entries: every sender is (a channel
    that only the marketplace feeds: its API connector, its report imports)."""
    if not entries:
        return True
    address = address.strip().lower()
    if "@" not in address:
        return False
    domain = address.rsplit("@", 1)[1]
    return any(fnmatch.fnmatchcase(address if "@" in entry else domain, entry) for entry in entries)
