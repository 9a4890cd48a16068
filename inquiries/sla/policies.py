"""Pure policy matching: the first policy, by position, whose conditions all hold."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class PolicyRule:
    policy_id: int
    position: int
    account_ids: frozenset[int] = frozenset()
    channel_ids: frozenset[int] = frozenset()
    topic_ids: frozenset[int] = frozenset()
    priorities: frozenset[str] = frozenset()
    customer_tags: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class InquiryFacts:
    account_id: int
    channel_id: int
    topic_id: int | None
    priority: str
    customer_tags: Iterable[str] = ()


def matches(rule: PolicyRule, facts: InquiryFacts) -> bool:
    """An empty condition matches everything; a non-empty one must contain the inquiry's value."""
    if rule.account_ids and facts.account_id not in rule.account_ids:
        return False
    if rule.channel_ids and facts.channel_id not in rule.channel_ids:
        return False
    if rule.topic_ids and facts.topic_id not in rule.topic_ids:
        return False
    if rule.priorities and facts.priority not in rule.priorities:
        return False
    return not (rule.customer_tags and not rule.customer_tags.intersection(facts.customer_tags))


def pick(rules: Sequence[PolicyRule], facts: InquiryFacts) -> int | None:
    for rule in sorted(rules, key=lambda r: (r.position, r.policy_id)):
        if matches(rule, facts):
            return rule.policy_id
    return None
