"""Which SLA policy applies to an inquiry, and the target seconds it sets for each clock kind.

The active policies are loaded once per fingerprint of the policy tables; `one_policy_set` pins
one set for the length of a batch so that every message of it sees the same rules.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from django.db import connection

from inquiries.models import (
    ClockKind,
    Inquiry,
    SlaPolicy,
    SlaTarget,
)
from inquiries.sla.policies import InquiryFacts, PolicyRule, pick

TARGET_FIELD = {
    ClockKind.FIRST_REPLY: "first_reply_seconds",
    ClockKind.NEXT_REPLY: "next_reply_seconds",
    ClockKind.RESOLUTION: "resolution_seconds",
}


# --- policies -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PolicySet:
    rules: list[PolicyRule]
    policies: dict[int, SlaPolicy]
    targets: dict[tuple[int, str], SlaTarget]


_policy_cache: dict[tuple, PolicySet] = {}
_pinned_policy_set: ContextVar[PolicySet | None] = ContextVar("pinned_policy_set", default=None)


@contextmanager
def one_policy_set() -> Iterator[None]:
    """Decide every clock in the block by the policies as they were at its start.

    For a batch of messages: one check for changed policies instead of one per message. A
    policy edited while the batch runs applies from the next batch on.
    """
    token = _pinned_policy_set.set(active_policy_set())
    try:
        yield
    finally:
        _pinned_policy_set.reset(token)


def active_policy_set() -> PolicySet:
    """All active policies with their targets, reloaded only when one of them changed.

    One aggregate query per call instead of five: ingestion picks a policy for every new
    inquiry. Any change bumps `SlaPolicy.updated_at` (the admin does it for target edits).
    """
    pinned = _pinned_policy_set.get()
    if pinned is not None:
        return pinned
    key = _policy_fingerprint()
    cached = _policy_cache.get(key)
    if cached is not None:
        return cached
    policies = list(
        SlaPolicy.objects.filter(is_active=True)
        .select_related("calendar")
        .prefetch_related("accounts", "channels", "topics", "targets")
    )
    loaded = PolicySet(
        rules=[
            PolicyRule(
                policy_id=p.pk,
                position=p.position,
                account_ids=frozenset(a.pk for a in p.accounts.all()),
                channel_ids=frozenset(c.pk for c in p.channels.all()),
                topic_ids=frozenset(t.pk for t in p.topics.all()),
                priorities=frozenset(p.priorities or ()),
                customer_tags=frozenset(p.customer_tags or ()),
            )
            for p in policies
        ],
        policies={p.pk: p for p in policies},
        targets={(t.policy_id, t.priority): t for p in policies for t in p.targets.all()},
    )
    _policy_cache.clear()
    _policy_cache[key] = loaded
    return loaded


def clear_cache() -> None:
    """Load the policies afresh on next use (tests: a fresh database reuses ids and timestamps)."""
    _policy_cache.clear()


def _policy_fingerprint() -> tuple:
    """A cheap fingerprint of every row that decides policies and targets (one query)."""
    policy = SlaPolicy._meta.db_table
    target = SlaTarget._meta.db_table
    links = [
        SlaPolicy.accounts.through._meta.db_table,
        SlaPolicy.channels.through._meta.db_table,
        SlaPolicy.topics.through._meta.db_table,
    ]
    # Table names come from the models' own metadata, never from input.
    parts = [
        f"(SELECT COUNT(*) FROM {policy})",
        f"(SELECT MAX(updated_at) FROM {policy})",
        f"(SELECT COUNT(*) FROM {target})",
        f"(SELECT SUM(COALESCE(first_reply_seconds, 0) + 3 * COALESCE(next_reply_seconds, 0)"
        f" + 7 * COALESCE(resolution_seconds, 0)) FROM {target})",
        *(f"(SELECT COUNT(*) FROM {link})" for link in links),
    ]
    sql = "SELECT " + ", ".join(parts)
    with connection.cursor() as cursor:
        cursor.execute(sql)
        return tuple(cursor.fetchone())


def select_policy(inquiry: Inquiry, policy_set: PolicySet | None = None) -> SlaPolicy | None:
    facts = InquiryFacts(
        account_id=inquiry.account_id,
        channel_id=inquiry.channel_id,
        topic_id=inquiry.topic_id,
        priority=inquiry.priority,
        customer_tags=inquiry.customer.tags or (),
    )
    policy_set = policy_set or active_policy_set()
    policy_id = pick(policy_set.rules, facts)
    return policy_set.policies.get(policy_id) if policy_id is not None else None


def target_seconds_for(
    policy: SlaPolicy | None, priority: str, kind: str, policy_set: PolicySet | None = None
) -> int | None:
    if policy is None:
        return None
    target = (policy_set or active_policy_set()).targets.get((policy.pk, priority))
    return getattr(target, TARGET_FIELD[ClockKind(kind)]) if target else None


def ensure_policy(inquiry: Inquiry, policy_set: PolicySet) -> SlaPolicy | None:
    if inquiry.sla_policy_id is None:
        policy = select_policy(inquiry, policy_set)
        if policy is not None:
            Inquiry.objects.filter(pk=inquiry.pk).update(sla_policy=policy)
            inquiry.sla_policy = policy
        return policy
    # The loaded set holds every active policy with its calendar: no query for the usual case.
    return policy_set.policies.get(inquiry.sla_policy_id) or inquiry.sla_policy
