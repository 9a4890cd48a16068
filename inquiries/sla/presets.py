"""Marketplace reply rules (DESIGN section 4): the reply deadlines, relay senders and message rules
of the marketplace facts table (`inquiries.marketplaces`), read for the clocks. Accounts may override
them in the admin."""

from __future__ import annotations

import fnmatch
import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass

from inquiries.marketplaces import MARKETPLACES
from inquiries.words import _

# --- who speaks for the marketplace -----------------------------------------------------------

_RELAY_ENTRY = re.compile(r"[a-z0-9*?._+-]+(@[a-z0-9*?.-]+)?")


def default_relay_senders(marketplace: str) -> str:
    """The relay senders a new e-mail channel of this marketplace starts with, one a line."""
    # Only a customer message from one of these runs the marketplace's reply clock. A direct
    # e-mail to the same mailbox is not a marketplace message: Amazon and Walmart only measure
    # what went through their messaging.
    facts = MARKETPLACES.get(marketplace)
    return "\n".join(facts.relay_senders if facts else ())


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
            raise ValueError(
                _("line %(line)s: %(entry)r is neither a domain nor an address")
                % {"line": number, "entry": entry}
            )
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


# --- message rules: reply targets per message type --------------------------------------------

# The message rules each marketplace preset starts with (the admin edits them per preset), as the
# presets' JSON stores them. A rule's `phrases` are case-insensitive regular expressions searched in
# the subject and body; `senders` use the relay-sender syntax (a domain, `*` wildcards, or a whole
# address); `topics` are topic keys. The rules themselves, with their sources, are facts of the
# marketplace (`inquiries.marketplaces`).
DEFAULT_MESSAGE_RULES: dict[str, list[dict[str, object]]] = {
    key: [rule.as_preset_json() for rule in facts.message_rules]
    for key, facts in MARKETPLACES.items()
    if facts.message_rules
}

DEFINITIONS = ("marketplace", "ours")
RULE_KEYS = {
    "name",
    "target_seconds",
    "business_days",
    "senders",
    "phrases",
    "topics",
    "definition",
    "source",
}
# Matching reads at most this much of a message: rules look for phrases a notice states early,
# and a pattern is never run over a whole pasted mailbox.
MATCH_CHARS = 20_000


@dataclass(frozen=True, slots=True)
class MessageRule:
    """A reply target for one type of marketplace message, e.g. Walmart's regulator complaints."""

    name: str
    target_seconds: int
    business_days: bool
    senders: tuple[str, ...] = ()
    phrases: tuple[re.Pattern[str], ...] = ()
    topics: tuple[str, ...] = ()
    definition: str = "marketplace"
    source: str = ""


def parse_message_rules(data: object) -> tuple[MessageRule, ...]:
    """The rules of a preset's `message_rules` JSON (a list of objects, see DEFAULT_MESSAGE_RULES).

    Raises `ValueError` naming the rule (its position and name) and the key that is wrong: an
    invalid regular expression, a sender that is neither a domain nor an address, a target that
    is not a positive whole number of seconds, a rule with no condition at all. The message is for the
    admin who wrote the rules: in the language active when it is raised (`inquiries.words`).
    """
    if not isinstance(data, list):
        raise ValueError(_("a list of rules, e.g. [] for none"))
    rules = []
    for number, item in enumerate(data, start=1):
        if not isinstance(item, dict):
            raise ValueError(
                _("rule %(number)s: an object with a name, a target and conditions") % {"number": number}
            )
        unknown = sorted(set(item) - RULE_KEYS)
        if unknown:
            raise ValueError(
                _("%(rule)s: unknown key %(key)r") % {"rule": _where(number, item), "key": unknown[0]}
            )
        name = item.get("name")
        if not isinstance(name, str) or not name.strip():
            raise ValueError(_("rule %(number)s: name: give the rule a name") % {"number": number})
        target = item.get("target_seconds")
        if not isinstance(target, int) or isinstance(target, bool) or target <= 0:
            raise ValueError(
                _("%(rule)s: target_seconds: a positive whole number of seconds (3600 = 1 h)")
                % {"rule": _where(number, item)}
            )
        business_days = item.get("business_days", False)
        if not isinstance(business_days, bool):
            raise ValueError(_("%(rule)s: business_days: true or false") % {"rule": _where(number, item)})
        sender_lines = "\n".join(_strings(item, number, "senders"))
        try:
            senders = parse_relay_senders(sender_lines)
        except ValueError as error:
            raise ValueError(
                _("%(rule)s: senders: %(error)s") % {"rule": _where(number, item), "error": error}
            ) from None
        phrases = []
        for text in _strings(item, number, "phrases"):
            try:
                phrases.append(re.compile(text, re.IGNORECASE))
            except re.error as error:
                raise ValueError(
                    _("%(rule)s: phrases: %(pattern)r is not a valid pattern (%(error)s)")
                    % {"rule": _where(number, item), "pattern": text, "error": error}
                ) from None
        topics = _strings(item, number, "topics")
        if not (senders or phrases or topics):
            raise ValueError(
                _("%(rule)s: give at least one sender, phrase or topic") % {"rule": _where(number, item)}
            )
        definition = item.get("definition", "marketplace")
        if definition not in DEFINITIONS:
            raise ValueError(
                _("%(rule)s: definition: 'marketplace' or 'ours'") % {"rule": _where(number, item)}
            )
        source = item.get("source", "")
        if not isinstance(source, str) or (source and not source.startswith(("https://", "http://"))):
            raise ValueError(
                _("%(rule)s: source: a link to the marketplace's page (https://...)")
                % {"rule": _where(number, item)}
            )
        rules.append(
            MessageRule(
                name=name.strip(),
                target_seconds=target,
                business_days=business_days,
                senders=senders,
                phrases=tuple(phrases),
                topics=tuple(topics),
                definition=str(definition),
                source=source,
            )
        )
    return tuple(rules)


def _where(number: int, item: dict[str, object]) -> str:
    """How a message names the rule: its position and name, "rule 2 (Regulator complaints)"."""
    return _("rule %(number)s (%(name)s)") % {"number": number, "name": item.get("name") or _("no name")}


def _strings(item: dict[str, object], number: int, key: str) -> list[str]:
    value = item.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise ValueError(
            _("%(rule)s: %(key)s: a list of non-empty texts") % {"rule": _where(number, item), "key": key}
        )
    return [v.strip() for v in value]


def matching_rule(
    rules: Sequence[MessageRule], *, sender: str, subject: str, body: str, topic: str | None
) -> MessageRule | None:
    """The first rule, in order, that this customer message matches; None: the general target.

    A rule matches when each kind of condition it has holds: the sender is one of its `senders`,
    the subject or body contains one of its `phrases`, the inquiry's topic is one of its `topics`
    (a rule without a kind of condition does not test it).
    """
    text = f"{subject}\n{body[:MATCH_CHARS]}"
    for rule in rules:
        if rule.senders and not is_relay_sender(rule.senders, sender):
            continue
        if rule.phrases and not any(pattern.search(text) for pattern in rule.phrases):
            continue
        if rule.topics and topic not in rule.topics:
            continue
        return rule
    return None
