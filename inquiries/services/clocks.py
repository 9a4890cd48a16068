"""Clocks on inquiries: start, stop, pause, resume, recompute, and the sweep.

The rules are DESIGN section 3. Every transition writes an InquiryEvent whose `at` is
the instant the fact became true (a warning at warn_at, a breach at due_at), so a
conversation imported afterwards scores exactly as it would have live.
"""

from __future__ import annotations

import functools
import logging
import time as monotonic_time
from collections.abc import Iterable, Iterator, Sequence, Sized
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime, time

from django.db import connection, transaction
from django.db.models import F, OuterRef, Q, Subquery, Value
from django.db.models.functions import Coalesce, Least
from django.utils import timezone

from inquiries.models import (
    OPEN_STATUSES,
    Account,
    Calendar,
    Clock,
    ClockKind,
    ClockState,
    Direction,
    EventKind,
    Inquiry,
    InquiryEvent,
    MarketplacePreset,
    Message,
    RecomputeRun,
    SlaPolicy,
    SlaTarget,
    Status,
)
from inquiries.services.bulk import insert_rows, unsaved, update_rows
from inquiries.sla import clocks as math
from inquiries.sla.calendar import BusinessCalendar
from inquiries.sla.hours import parse_hours
from inquiries.sla.policies import InquiryFacts, PolicyRule, pick
from inquiries.sla.presets import (
    DEFAULT_MESSAGE_RULES,
    MessageRule,
    is_relay_sender,
    matching_rule,
    parse_message_rules,
    parse_relay_senders,
    reply_rule,
)

logger = logging.getLogger(__name__)

ACTIVE = (ClockState.RUNNING, ClockState.AT_RISK, ClockState.BREACHED)
REPLY_KINDS = (ClockKind.FIRST_REPLY, ClockKind.NEXT_REPLY, ClockKind.MARKETPLACE_REPLY)
TARGET_FIELD = {
    ClockKind.FIRST_REPLY: "first_reply_seconds",
    ClockKind.NEXT_REPLY: "next_reply_seconds",
    ClockKind.RESOLUTION: "resolution_seconds",
}
STATE_EVENT = {
    ClockState.AT_RISK: EventKind.CLOCK_AT_RISK,
    ClockState.BREACHED: EventKind.CLOCK_BREACHED,
    ClockState.MET: EventKind.CLOCK_MET,
    ClockState.MISSED: EventKind.CLOCK_MISSED,
    ClockState.CANCELLED: EventKind.CLOCK_CANCELLED,
}
TWENTY_FOUR_SEVEN_UTC = BusinessCalendar("UTC")


# --- calendars ----------------------------------------------------------------------------


@functools.lru_cache(maxsize=256)
def _build_calendar(calendar_id: int, version: int) -> BusinessCalendar:
    calendar = Calendar.objects.get(pk=calendar_id)
    holidays = list(calendar.holidays.values_list("date", flat=True))
    hours = None if calendar.is_24x7 else parse_hours(calendar.hours)
    return BusinessCalendar(calendar.timezone, hours, holidays)


def business_calendar(calendar: Calendar | None) -> BusinessCalendar:
    """The pure calendar for a row; cached per (id, version), the version is bumped on edits."""
    if calendar is None:
        return TWENTY_FOUR_SEVEN_UTC
    return _build_calendar(calendar.pk, calendar.version)


@dataclass(frozen=True, slots=True)
class _Preset:
    target_seconds: int | None
    weekdays_only: bool
    rules: tuple[MessageRule, ...] = ()

    @property
    def uses_topics(self) -> bool:
        return any(rule.topics for rule in self.rules)


@dataclass(frozen=True, slots=True)
class MarketTarget:
    """The marketplace reply target of one customer message, on its calendar."""

    target_seconds: int
    calendar: BusinessCalendar
    calendar_row: Calendar | None
    rule_name: str = ""  # the preset's message rule that set it; "" for the general target


_preset_cache: dict[str, tuple[float, dict[str, _Preset]]] = {}
PRESET_CACHE_SECONDS = 60


def _presets() -> dict[str, _Preset]:
    """Marketplace reply rules as edited in the admin (MarketplacePreset), re-read every minute.

    Falls back to the built-in facts for a marketplace without a row.
    """
    now = monotonic_time.monotonic()
    cached = _preset_cache.get("presets")
    if cached is not None and now - cached[0] < PRESET_CACHE_SECONDS:
        return cached[1]
    rules = {
        row.marketplace: _Preset(row.reply_target_seconds, row.reply_business_days_only, _readable_rules(row))
        for row in MarketplacePreset.objects.all()
    }
    _preset_cache["presets"] = (now, rules)
    return rules


def _readable_rules(row: MarketplacePreset) -> tuple[MessageRule, ...]:
    try:
        return parse_message_rules(row.message_rules)
    except ValueError as error:  # written around the admin's validation: the general target applies
        logger.warning("Marketplace preset %s: unreadable message rules (%s); none applied", row.pk, error)
        return ()


def _preset(marketplace: str) -> _Preset:
    preset = _presets().get(marketplace)
    if preset is not None:
        return preset
    builtin = reply_rule(marketplace)
    rules = parse_message_rules(DEFAULT_MESSAGE_RULES.get(marketplace, []))
    if builtin is None:
        return _Preset(None, False, rules)
    return _Preset(builtin.target_seconds, builtin.hours is not None, rules)


def marketplace_rule(account: Account) -> tuple[int, BusinessCalendar, Calendar | None] | None:
    """The account's general marketplace reply rule: its own override, else the marketplace preset."""
    preset = _preset(account.marketplace)
    target = account.reply_target_seconds or preset.target_seconds
    if not target:
        return None
    if account.reply_calendar_id:
        calendar = account.reply_calendar
        return target, business_calendar(calendar), calendar
    return target, _preset_calendar(account.timezone, preset.weekdays_only), None


def measured_rules(account: Account) -> list[tuple[int, BusinessCalendar]]:
    """Every reply target the account's marketplace messages can get (the general one first, then
    the message rules'); empty when the marketplace measures none. For the health computation,
    which measures the messages that have a deadline and needs the longest one."""
    general = marketplace_rule(account)
    targets = [(general[0], general[1])] if general else []
    for rule in _preset(account.marketplace).rules:
        target = _rule_target(account, rule)
        targets.append((target.target_seconds, target.calendar))
    return targets


def message_target(*, inquiry: Inquiry, message: Message) -> MarketTarget | None:
    """The marketplace reply target of a customer message: the first of the preset's message rules
    it matches (`sla.presets.matching_rule`), else the account's general rule; None when neither."""
    account = inquiry.account
    preset = _preset(account.marketplace)
    rule = None
    if preset.rules:
        topic = inquiry.topic.key if preset.uses_topics and inquiry.topic_id else None
        rule = matching_rule(
            preset.rules,
            sender=message.sender_address,
            subject=message.subject,
            body=message.body_text,
            topic=topic,
        )
    if rule is not None:
        return _rule_target(account, rule)
    general = marketplace_rule(account)
    return MarketTarget(*general) if general else None


def _rule_target(account: Account, rule: MessageRule) -> MarketTarget:
    # Business days run on the account's reply calendar when it has one (its holidays), else
    # Monday to Friday in its time zone; a calendar-time rule (Walmart's hour) ignores both.
    if rule.business_days and account.reply_calendar_id:
        row = account.reply_calendar
        return MarketTarget(rule.target_seconds, business_calendar(row), row, rule.name)
    return MarketTarget(
        rule.target_seconds, _preset_calendar(account.timezone, rule.business_days), None, rule.name
    )


def preset_rule(marketplace: str, name: str) -> MessageRule | None:
    """The marketplace preset's message rule of this name, as the preset is now (None: no such rule)."""
    if not name:
        return None
    return next((rule for rule in _preset(marketplace).rules if rule.name == name), None)


def marketplace_calendar(clock: Clock) -> BusinessCalendar:
    """The calendar a marketplace clock counts on: its calendar row, else its rule's or the preset's."""
    if clock.calendar_id is not None:
        return business_calendar(clock.calendar)
    account = clock.inquiry.account
    rule = preset_rule(account.marketplace, clock.rule_name)
    if rule is not None:
        return _preset_calendar(account.timezone, rule.business_days)
    general = marketplace_rule(account)
    return general[1] if general else TWENTY_FOUR_SEVEN_UTC


def from_marketplace(message: Message) -> bool:
    """Whether a customer message came through the marketplace's buyer-message relay (its
    channel's `marketplace_senders`): only those run the marketplace's reply clock. A direct
    e-mail on the same account runs the SLA policy's clocks only, as the marketplace never sees it."""
    try:
        entries = parse_relay_senders(message.channel.marketplace_senders)
    except ValueError:  # written around the admin's validation: the clock runs, as before the list
        logger.warning("Channel %s: unreadable marketplace senders; every sender counts", message.channel_id)
        return True
    return is_relay_sender(entries, message.sender_address)


@functools.lru_cache(maxsize=256)
def _preset_calendar(tz: str, weekdays_only: bool) -> BusinessCalendar:
    if not weekdays_only:
        return BusinessCalendar(tz)
    return BusinessCalendar(tz, {weekday: [(time(0), time(0))] for weekday in range(5)})


# --- policies -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _PolicySet:
    rules: list[PolicyRule]
    policies: dict[int, SlaPolicy]
    targets: dict[tuple[int, str], SlaTarget]


_policy_cache: dict[tuple, _PolicySet] = {}
_pinned_policy_set: ContextVar[_PolicySet | None] = ContextVar("pinned_policy_set", default=None)


@contextmanager
def one_policy_set() -> Iterator[None]:
    """Decide every clock in the block by the policies as they were at its start.

    For a batch of messages: one check for changed policies instead of one per message. A
    policy edited while the batch runs applies from the next batch on.
    """
    token = _pinned_policy_set.set(_policy_set())
    try:
        yield
    finally:
        _pinned_policy_set.reset(token)


def _policy_set() -> _PolicySet:
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
    loaded = _PolicySet(
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


def _policy_fingerprint() -> tuple:
    """A cheap fingerprint of every row that decides policies and targets (one query)."""
    policy = SlaPolicy._meta.db_table
    target = SlaTarget._meta.db_table
    links = [
        SlaPolicy._meta.get_field(name).remote_field.through._meta.db_table
        for name in ("accounts", "channels", "topics")
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


def select_policy(inquiry: Inquiry, policy_set: _PolicySet | None = None) -> SlaPolicy | None:
    facts = InquiryFacts(
        account_id=inquiry.account_id,
        channel_id=inquiry.channel_id,
        topic_id=inquiry.topic_id,
        priority=inquiry.priority,
        customer_tags=inquiry.customer.tags or (),
    )
    policy_set = policy_set or _policy_set()
    policy_id = pick(policy_set.rules, facts)
    return policy_set.policies.get(policy_id) if policy_id is not None else None


def _target(
    policy: SlaPolicy | None, priority: str, kind: str, policy_set: _PolicySet | None = None
) -> int | None:
    if policy is None:
        return None
    target = (policy_set or _policy_set()).targets.get((policy.pk, priority))
    return getattr(target, TARGET_FIELD[kind]) if target else None


def _ensure_policy(inquiry: Inquiry, policy_set: _PolicySet) -> SlaPolicy | None:
    if inquiry.sla_policy_id is None:
        policy = select_policy(inquiry, policy_set)
        if policy is not None:
            Inquiry.objects.filter(pk=inquiry.pk).update(sla_policy=policy)
            inquiry.sla_policy = policy
        return policy
    # The loaded set holds every active policy with its calendar: no query for the usual case.
    return policy_set.policies.get(inquiry.sla_policy_id) or inquiry.sla_policy


def opening_clocks(
    *, inquiry: Inquiry, message: Message, policy_set: _PolicySet, at: datetime
) -> list[Clock]:
    """The unsaved clocks a new inquiry's first customer message starts.

    Resolution and first reply from the inquiry's policy, the marketplace reply clock from the
    account's rule (its deadline is also stamped on the message). One place for both the
    one-message path and the batch path.
    """
    kinds = (ClockKind.RESOLUTION, ClockKind.FIRST_REPLY)
    return _started_clocks(
        inquiry=inquiry, message=message, policy=inquiry.sla_policy, policy_set=policy_set, kinds=kinds, at=at
    )


def follow_up_clocks(
    *,
    inquiry: Inquiry,
    message: Message,
    policy: SlaPolicy | None,
    policy_set: _PolicySet,
    existing: list[Clock],
    at: datetime,
) -> list[Clock]:
    """The unsaved clocks a customer's follow-up at `at` starts, given the inquiry's clocks.

    A reply clock unless one is running (the first reply's if nobody has replied yet, else the
    next reply's), and the marketplace's reply clock, whose deadline is stamped on the message.
    One place for the one-message path and the batch path.
    """
    replying = any(
        c.kind in (ClockKind.FIRST_REPLY, ClockKind.NEXT_REPLY) and c.state in ACTIVE for c in existing
    )
    first = inquiry.last_reply_at is None and all(c.kind != ClockKind.FIRST_REPLY for c in existing)
    kinds = () if replying else (ClockKind.FIRST_REPLY if first else ClockKind.NEXT_REPLY,)
    return _started_clocks(
        inquiry=inquiry, message=message, policy=policy, policy_set=policy_set, kinds=kinds, at=at
    )


def _started_clocks(
    *,
    inquiry: Inquiry,
    message: Message,
    policy: SlaPolicy | None,
    policy_set: _PolicySet,
    kinds: tuple[str, ...],
    at: datetime,
    marketplace: bool = True,
) -> list[Clock]:
    """Unsaved clocks started at `at`: `kinds` from the policy (those it sets a target for), then
    (with `marketplace`) the marketplace's reply clock from the account's rule, its deadline
    stamped on the message."""
    warn_ratio = policy.warn_ratio if policy else 0.75
    calendar_row = policy.calendar if policy else None
    plans: list[tuple[str, int, BusinessCalendar, Calendar | None, SlaPolicy | None]] = []
    for kind in kinds:
        target = _target(policy, inquiry.priority, kind, policy_set)
        if target:
            plans.append((kind, target, business_calendar(calendar_row), calendar_row, policy))
    market = message_target(inquiry=inquiry, message=message) if marketplace else None
    if market is not None and not from_marketplace(message):
        market = None
    if market is not None:
        plans.append(
            (ClockKind.MARKETPLACE_REPLY, market.target_seconds, market.calendar, market.calendar_row, None)
        )
    new = []
    for kind, target, calendar, row, clock_policy in plans:
        clock = _scheduled_clock(
            inquiry=inquiry,
            kind=kind,
            started_at=at,
            target_seconds=target,
            calendar_row=row,
            calendar=calendar,
            warn_ratio=warn_ratio,
            policy=clock_policy,
            message=message,
        )
        new.append(clock)
        if kind == ClockKind.MARKETPLACE_REPLY and market is not None:
            clock.rule_name = market.rule_name
            message.response_due_at = clock.due_at
    return new


def _scheduled_clock(
    *,
    inquiry: Inquiry,
    kind: str,
    started_at: datetime,
    target_seconds: int,
    calendar_row: Calendar | None,
    calendar: BusinessCalendar,
    warn_ratio: float,
    policy: SlaPolicy | None,
    message: Message | None,
) -> Clock:
    """An unsaved running clock with its due and at-risk times on `calendar`."""
    plan = math.schedule(
        calendar, started_at=started_at, target_seconds=target_seconds, warn_ratio=warn_ratio
    )
    return unsaved(
        Clock,
        inquiry=inquiry,
        kind=kind,
        message=message,
        policy=policy,
        calendar=calendar_row,
        target_seconds=target_seconds,
        warn_ratio=warn_ratio,
        started_at=started_at,
        due_at=plan.due_at,
        warn_at=plan.warn_at,
    )


def started_events(clocks: Iterable[Clock]) -> list[InquiryEvent]:
    """The clock_started facts of saved clocks."""
    return [InquiryEvent(**values) for values in started_event_values(clocks)]


def started_event_values(clocks: Iterable[Clock]) -> list[dict[str, object]]:
    """The same facts as column values, for bulk writers that need no model instances."""
    return [
        _event_values(clock, EventKind.CLOCK_STARTED, clock.started_at, target_seconds=clock.target_seconds)
        for clock in clocks
    ]


# --- the inquiry's copy of its nearest deadline ------------------------------------------

URGENCY_FIELDS = ("next_due_at", "next_warn_at", "next_clock_kind", "market_due_at")


def urgency_of(clocks: Iterable[Clock]) -> dict[str, object]:
    """The inquiry's queue fields for these clocks (in id order), as `refresh_urgency` stores them."""
    active = [clock for clock in clocks if clock.state in ACTIVE]
    if not active:
        return {"next_due_at": None, "next_warn_at": None, "next_clock_kind": "", "market_due_at": None}
    first = min(active, key=lambda clock: clock.due_at)  # the first of equals, as ORDER BY due_at, id
    market = [clock.due_at for clock in active if clock.kind == ClockKind.MARKETPLACE_REPLY]
    return {
        "next_due_at": first.due_at,
        "next_warn_at": min(clock.warn_at for clock in active),
        "next_clock_kind": first.kind,
        "market_due_at": min(market) if market else None,
    }


def apply_urgency(inquiry: Inquiry, clocks: Iterable[Clock]) -> None:
    """Set the queue fields on an inquiry not saved yet, so its INSERT writes them."""
    for field, value in urgency_of(clocks).items():
        setattr(inquiry, field, value)


def refresh_urgency(inquiry_ids: Iterable[int], **also: object) -> None:
    """Copy the nearest deadline of each inquiry's active clocks onto the inquiry: one UPDATE.

    Called in the transaction of every clock change that starts, stops, pauses, resumes,
    cancels or moves a clock. The sweep's own transitions (running to at risk to breached)
    keep a clock active and its deadlines unchanged, so they need no refresh. `also`: other
    columns of the inquiries to set in the same UPDATE.
    """
    ids = list(inquiry_ids)
    if not ids:
        return
    active = Clock.objects.filter(inquiry=OuterRef("pk"), state__in=ACTIVE)
    first = active.order_by("due_at", "id")
    Inquiry.objects.filter(pk__in=ids).update(
        **also,
        next_due_at=Subquery(first.values("due_at")[:1]),
        next_warn_at=Subquery(active.order_by("warn_at").values("warn_at")[:1]),
        next_clock_kind=Coalesce(Subquery(first.values("kind")[:1]), Value("")),
        market_due_at=Subquery(
            active.filter(kind=ClockKind.MARKETPLACE_REPLY).order_by("due_at").values("due_at")[:1]
        ),
    )


# --- transitions --------------------------------------------------------------------------


def _event(clock: Clock, kind: str, at: datetime, *, actor: object = None, **data: object) -> InquiryEvent:
    return InquiryEvent(**_event_values(clock, kind, at, actor=actor, **data))


def _event_values(
    clock: Clock, kind: str, at: datetime, *, actor: object = None, **data: object
) -> dict[str, object]:
    """A clock's event as column values (the clock is saved)."""
    return {
        "inquiry_id": clock.inquiry_id,
        "clock_id": clock.pk,
        "kind": kind,
        "at": at,
        "actor_id": getattr(actor, "pk", None),
        "message_id": clock.message_id,
        "data": {"clock_kind": clock.kind, **data},
    }


def clock_calendar(clock: Clock) -> BusinessCalendar:
    """The calendar a clock counts on (a marketplace clock: its rule's or its preset's)."""
    if clock.kind == ClockKind.MARKETPLACE_REPLY:
        return marketplace_calendar(clock)
    return business_calendar(clock.calendar)


def _live_events(clock: Clock, now: datetime) -> list[InquiryEvent]:
    """Set the state of a clock that is not stopped, as of now, with the events it passed."""
    state = math.live_state(now=now, due_at=clock.due_at, warn_at=clock.warn_at)
    events = []
    if state in (ClockState.AT_RISK, ClockState.BREACHED) and clock.warn_at < clock.due_at:
        events.append(_event(clock, EventKind.CLOCK_AT_RISK, clock.warn_at))
    if state == ClockState.BREACHED:
        events.append(_event(clock, EventKind.CLOCK_BREACHED, clock.due_at))
        clock.breached_at = clock.due_at
    else:
        clock.breached_at = None
    clock.state = state
    return events


STOP_FIELDS = (
    "state",
    "stopped_at",
    "elapsed_seconds",
    "paused_at",
    "paused_business_seconds",
    "due_at",
    "warn_at",
)


def stop_clock(
    clock: Clock, *, at: datetime, calendar: BusinessCalendar, actor: object = None
) -> list[InquiryEvent]:
    """Stop a clock at `at`: met when on or before the deadline, missed after it."""
    events = _stopped(clock, at=at, calendar=calendar, actor=actor)
    clock.save(update_fields=STOP_FIELDS)
    return events


def _stopped(
    clock: Clock, *, at: datetime, calendar: BusinessCalendar, actor: object = None
) -> list[InquiryEvent]:
    """`stop_clock` in memory: the caller writes `STOP_FIELDS`."""
    if clock.state == ClockState.PAUSED and clock.paused_at is not None:
        _unpause(clock, at=at, calendar=calendar)
    clock.state = math.stopped_state(stopped_at=at, due_at=clock.due_at)
    clock.stopped_at = at
    clock.elapsed_seconds = math.business_elapsed(
        calendar, started_at=clock.started_at, at=at, paused_seconds=clock.paused_business_seconds
    )
    return [_event(clock, STATE_EVENT[clock.state], at, actor=actor, elapsed_seconds=clock.elapsed_seconds)]


def cancel_clock(clock: Clock, *, at: datetime, actor: object = None, reason: str) -> list[InquiryEvent]:
    clock.state = ClockState.CANCELLED
    clock.stopped_at = at
    clock.save(update_fields=["state", "stopped_at"])
    return [_event(clock, EventKind.CLOCK_CANCELLED, at, actor=actor, reason=reason)]


def _reschedule(clock: Clock, calendar: BusinessCalendar) -> None:
    plan = math.schedule(
        calendar,
        started_at=clock.started_at,
        target_seconds=clock.target_seconds,
        warn_ratio=clock.warn_ratio,
        paused_seconds=clock.paused_business_seconds,
    )
    clock.due_at, clock.warn_at = plan.due_at, plan.warn_at


def _unpause(clock: Clock, *, at: datetime, calendar: BusinessCalendar) -> None:
    assert clock.paused_at is not None
    clock.paused_business_seconds += calendar.elapsed(clock.paused_at, at) if at > clock.paused_at else 0
    clock.paused_at = None
    _reschedule(clock, calendar)


def catch_up(*, inquiry: Inquiry, at: datetime, clocks: list[Clock] | None = None) -> list[InquiryEvent]:
    """Apply the transitions the sweep would have made on this inquiry's clocks by `at`.

    Called before any clock change at `at`: live it is usually a no-op (the sweep ran a
    moment ago); for back-filled history it is what makes an import score exactly as the
    same conversation would have live. `clocks`: the inquiry's clocks, already loaded (they
    are updated in place); else they are read here.
    """
    if clocks is None:
        clocks = list(
            inquiry.clocks.filter(state__in=(ClockState.RUNNING, ClockState.AT_RISK), warn_at__lte=at)
        )
    transitions = CatchUp()
    transitions.apply(clocks, at)
    transitions.write()
    return [InquiryEvent(**values) for values in transitions.events]


class CatchUp:
    """Catch-up transitions worked out in memory (on the clock objects), written together:
    one UPDATE per new state, however many clocks and inquiries."""

    def __init__(self) -> None:
        self.events: list[dict[str, object]] = []
        self.breached: list[int] = []
        self.at_risk: list[int] = []

    def apply(self, clocks: Iterable[Clock], at: datetime) -> list[dict[str, object]]:
        """Move the running and at-risk clocks among `clocks` on to their state at `at`;
        returns the events of these clocks (also kept in `events`)."""
        events = []
        for clock in clocks:
            if clock.state not in (ClockState.RUNNING, ClockState.AT_RISK) or clock.warn_at > at:
                continue
            if clock.due_at <= at:
                if clock.state == ClockState.RUNNING and clock.warn_at < clock.due_at:
                    events.append(_event_values(clock, EventKind.CLOCK_AT_RISK, clock.warn_at))
                events.append(_event_values(clock, EventKind.CLOCK_BREACHED, clock.due_at))
                clock.state, clock.breached_at = ClockState.BREACHED, clock.due_at
                self.breached.append(clock.pk)
            elif clock.state == ClockState.RUNNING:
                events.append(_event_values(clock, EventKind.CLOCK_AT_RISK, clock.warn_at))
                clock.state = ClockState.AT_RISK
                self.at_risk.append(clock.pk)
        self.events += events
        return events

    def write(self) -> None:
        if self.breached:
            Clock.objects.filter(pk__in=self.breached).update(
                state=ClockState.BREACHED, breached_at=F("due_at")
            )
        if self.at_risk:
            Clock.objects.filter(pk__in=self.at_risk).update(state=ClockState.AT_RISK)


# --- reacting to messages and status changes --------------------------------------------


def on_message(
    *,
    inquiry: Inquiry,
    message: Message,
    now: datetime,
    opened: bool = False,
    earlier: Iterable[InquiryEvent] = (),
    inquiry_changes: dict[str, object] | None = None,
) -> None:
    """Start or stop clocks for a stored message (called inside record_message's transaction).

    `opened` says the inquiry was created for this message, so it has no clocks yet.
    `earlier`: the message's own events, written in the same INSERT as the clocks' (after them
    in time, before them in id order). `inquiry_changes`: the inquiry's own columns after a
    customer's follow-up, written in the same UPDATE as its deadline copy.
    """
    if inquiry_changes is not None and (
        message.direction != Direction.INBOUND or message.automatic or opened or message.inquiry_id is None
    ):
        raise ValueError("inquiry_changes: only for a customer's follow-up on an existing inquiry")
    events = list(earlier)
    if message.automatic or message.direction == Direction.NOTE or message.inquiry_id is None:
        InquiryEvent.objects.bulk_create(events)
        return
    if message.direction == Direction.INBOUND:
        loaded = None
        if not opened:  # the clocks are read once, for the catch-up and for what to start
            loaded = list(inquiry.clocks.exclude(state=ClockState.CANCELLED).order_by("id"))
            events += catch_up(inquiry=inquiry, at=message.received_at, clocks=loaded)
        _on_customer_message(
            inquiry=inquiry,
            message=message,
            now=now,
            opened=opened,
            earlier=events,
            existing=loaded,
            inquiry_changes=inquiry_changes or {},
        )
    else:  # a reply; on_reply catches up first
        on_reply(inquiry=inquiry, at=message.received_at, now=now, earlier=events)


def _on_customer_message(
    *,
    inquiry: Inquiry,
    message: Message,
    now: datetime,
    opened: bool,
    earlier: list[InquiryEvent],
    existing: list[Clock] | None = None,
    inquiry_changes: dict[str, object] | None = None,
) -> None:
    at = message.received_at
    policy_set = _policy_set()
    policy = _ensure_policy(inquiry, policy_set)
    if opened:
        # A new inquiry has no clocks yet: start them in one INSERT.
        new = Clock.objects.bulk_create(
            opening_clocks(inquiry=inquiry, message=message, policy_set=policy_set, at=at)
        )
        if message.response_due_at is not None:
            Message.objects.filter(pk=message.pk).update(response_due_at=message.response_due_at)
        if new:
            fields = urgency_of(new)
            Inquiry.objects.filter(pk=inquiry.pk).update(**fields)
            for field, value in fields.items():
                setattr(inquiry, field, value)
        InquiryEvent.objects.bulk_create(earlier + started_events(new))
        return
    events: list[InquiryEvent] = list(earlier)
    if existing is None:
        existing = list(inquiry.clocks.exclude(state=ClockState.CANCELLED).order_by("id"))
    started: list[Clock] = []
    resumed = False
    if ClockKind.RESOLUTION not in {c.kind for c in existing}:  # counted from the opening
        started += _started_clocks(
            inquiry=inquiry,
            message=message,
            policy=policy,
            policy_set=policy_set,
            kinds=(ClockKind.RESOLUTION,),
            at=inquiry.opened_at,
            marketplace=False,
        )
    elif inquiry.status in (Status.NEW, Status.OPEN) and resolution_stands_still(existing):
        events.extend(_resume_resolution(inquiry=inquiry, at=at, now=now))
        resumed = True  # on another copy of the clock than `existing` holds
    due_before = message.response_due_at
    started += follow_up_clocks(
        inquiry=inquiry, message=message, policy=policy, policy_set=policy_set, existing=existing, at=at
    )
    Clock.objects.bulk_create(started)
    events.extend(started_events(started))
    if message.response_due_at != due_before:
        Message.objects.filter(pk=message.pk).update(response_due_at=message.response_due_at)
    InquiryEvent.objects.bulk_create(events)
    if resumed:
        refresh_urgency([inquiry.pk], **(inquiry_changes or {}))
    else:  # every clock of the inquiry is at hand, with its current state and deadlines
        fields = urgency_of([*existing, *started])
        Inquiry.objects.filter(pk=inquiry.pk).update(**fields, **(inquiry_changes or {}))
        for field, value in fields.items():
            setattr(inquiry, field, value)
    # Back-filled history may hold a reply later than this message already: apply it now.
    if inquiry.last_reply_at is not None and inquiry.last_reply_at >= at:
        first_answer_after = first_answer(inquiry, since=at)
        if first_answer_after is not None:
            on_reply(inquiry=inquiry, at=first_answer_after, now=now)


def first_answer(inquiry: Inquiry, *, since: datetime) -> datetime | None:
    """When the inquiry's first answer at or after `since` reached the customer (None: none has)."""
    return (
        Message.objects.answers()
        .filter(inquiry=inquiry, answer_at__gte=since)
        .order_by("answer_at", "id")
        .values_list("answer_at", flat=True)
        .first()
    )


def on_reply(
    *,
    inquiry: Inquiry,
    at: datetime,
    now: datetime,
    actor: object = None,
    earlier: Iterable[InquiryEvent] = (),
) -> None:
    """A public reply by a person at `at` answers every customer message up to it.

    `earlier`: events to write first, in the same INSERT.
    """
    events = [*earlier, *catch_up(inquiry=inquiry, at=at)]
    for clock in inquiry.clocks.filter(
        kind__in=REPLY_KINDS, state__in=ACTIVE, started_at__lte=at
    ).select_related("calendar", "inquiry__account"):
        events.extend(stop_clock(clock, at=at, calendar=clock_calendar(clock), actor=actor))
    InquiryEvent.objects.bulk_create(events)
    refresh_urgency([inquiry.pk])
    Message.objects.filter(
        inquiry=inquiry,
        direction=Direction.INBOUND,
        automatic=False,
        answered_at__isnull=True,
        received_at__lte=at,
    ).update(answered_at=at)


def on_answer_withdrawn(
    *, inquiry: Inquiry, at: datetime, now: datetime, actor: object = None
) -> list[InquiryEvent]:
    """A reply that answered at `at` did not reach the customer after all (it failed or bounced):
    put the reply clocks and the customer messages back as if it had never answered.

    Call it once the reply no longer counts (`Message.objects.answers()` leaves it out), in the
    same transaction. Each reply clock it stopped runs again against its original deadline: the
    next answer still stops it (met or missed), an agent's later "no response needed" cancels it
    (and excuses the messages it had answered), or it is live now (at risk, breached), with the
    warnings and breaches it passed meanwhile. The first/next-reply clocks that customers'
    follow-ups started only because this reply had stopped the one running are cancelled: the
    reopened clock answers for them. Customer messages it answered wait for the next answer.
    Returns the events written.
    """
    later = first_answer(inquiry, since=at)
    if later == at:
        return []  # another answer of the same instant stands: nothing changes
    excusals = InquiryEvent.objects.filter(inquiry=inquiry, kind=EventKind.NO_RESPONSE_NEEDED, at__gt=at)
    if later is not None:
        excusals = excusals.filter(at__lt=later)
    excused = excusals.order_by("at").values_list("at", flat=True).first()
    end = excused or later
    events: list[InquiryEvent] = []
    reopened = list(
        inquiry.clocks.filter(
            kind__in=REPLY_KINDS, state__in=(ClockState.MET, ClockState.MISSED), stopped_at=at
        ).select_related("calendar", "inquiry__account")
    )
    for clock in reopened:
        events.extend(_reopen(clock, until=later, excused=excused, now=now, actor=actor))
    if any(clock.kind != ClockKind.MARKETPLACE_REPLY for clock in reopened):
        started = inquiry.clocks.filter(
            kind__in=(ClockKind.FIRST_REPLY, ClockKind.NEXT_REPLY), started_at__gt=at
        ).exclude(state=ClockState.CANCELLED)
        if end is not None:
            started = started.filter(started_at__lt=end)
        for clock in started:
            events.extend(cancel_clock(clock, at=now, actor=actor, reason="reply not delivered"))
    answered = {"answered_at": None, "no_response_needed": True} if excused else {"answered_at": later}
    Message.objects.filter(
        inquiry=inquiry, direction=Direction.INBOUND, automatic=False, answered_at=at
    ).update(**answered)
    InquiryEvent.objects.bulk_create(events)
    last = Message.objects.answers().filter(inquiry=inquiry).order_by("-answer_at").values("answer_at")[:1]
    refresh_urgency([inquiry.pk], last_reply_at=Subquery(last))
    return events


def _reopen(
    clock: Clock, *, until: datetime | None, excused: datetime | None, now: datetime, actor: object
) -> list[InquiryEvent]:
    """Run a stopped reply clock again from where it stood: cancelled at `excused` (no response
    needed), stopped at `until` (the next answer), or live at `now`."""
    calendar = clock_calendar(clock)
    recorded = set(
        InquiryEvent.objects.filter(
            clock=clock, kind__in=(EventKind.CLOCK_AT_RISK, EventKind.CLOCK_BREACHED)
        ).values_list("kind", flat=True)
    )
    clock.stopped_at = None
    clock.elapsed_seconds = None
    events = [_event(clock, EventKind.CLOCK_RESUMED, now, actor=actor, reason="reply not delivered")]
    events.extend(e for e in _live_events(clock, excused or until or now) if e.kind not in recorded)
    clock.save()
    if excused is not None:
        events.extend(cancel_clock(clock, at=excused, actor=actor, reason="no response needed"))
    elif until is not None:
        events.extend(stop_clock(clock, at=until, calendar=calendar, actor=actor))
    return events


def on_status_change(
    *, inquiry: Inquiry, old: str, new: str, at: datetime, now: datetime, actor: object = None
) -> None:
    """Pause resolution while pending, stop it when solved, resume it when work starts again."""
    events = catch_up(inquiry=inquiry, at=at)
    resolution = (
        inquiry.clocks.filter(kind=ClockKind.RESOLUTION)
        .exclude(state=ClockState.CANCELLED)
        .select_related("calendar")
        .order_by("-started_at")
        .first()
    )
    if resolution is None or old == new:
        InquiryEvent.objects.bulk_create(events)
        return
    calendar = business_calendar(resolution.calendar)
    if new == Status.PENDING and resolution.state in ACTIVE:
        resolution.state = ClockState.PAUSED
        resolution.paused_at = at
        resolution.save(update_fields=["state", "paused_at"])
        events.append(_event(resolution, EventKind.CLOCK_PAUSED, at, actor=actor))
    elif new in (Status.SOLVED, Status.CLOSED) and (
        resolution.state in ACTIVE or resolution.state == ClockState.PAUSED
    ):
        events.extend(stop_clock(resolution, at=at, calendar=calendar, actor=actor))
    elif new in (Status.NEW, Status.OPEN):
        events.extend(_resume_resolution(inquiry=inquiry, at=at, now=now, actor=actor, clock=resolution))
    InquiryEvent.objects.bulk_create(events)
    refresh_urgency([inquiry.pk])


def on_close_many(*, inquiry_ids: Sequence[int], at: datetime, actor: object = None) -> None:
    """`on_status_change` to solved or closed for many inquiries at once (from an open, pending or
    solved status): the same transitions (catch-up to `at`, then the latest resolution clock
    stopped at `at`, met or missed), written in a handful of statements for all of them."""
    ids = list(inquiry_ids)
    if not ids:
        return
    loaded = list(
        Clock.objects.filter(inquiry_id__in=ids)
        .exclude(state=ClockState.CANCELLED)
        .select_related("calendar")
    )
    transitions = CatchUp()
    transitions.apply(loaded, at)
    transitions.write()
    events = [InquiryEvent(**values) for values in transitions.events]
    latest: dict[int, Clock] = {}
    for clock in loaded:
        if clock.kind == ClockKind.RESOLUTION and (
            clock.inquiry_id not in latest or clock.started_at > latest[clock.inquiry_id].started_at
        ):
            latest[clock.inquiry_id] = clock
    stopped = [
        clock for clock in latest.values() if clock.state in ACTIVE or clock.state == ClockState.PAUSED
    ]
    for clock in stopped:
        events.extend(_stopped(clock, at=at, calendar=business_calendar(clock.calendar), actor=actor))
    update_rows(Clock, stopped, STOP_FIELDS)
    insert_rows(InquiryEvent, events)
    refresh_urgency(ids)


def resolution_stands_still(clocks: list[Clock]) -> bool:
    """Whether the latest resolution clock among `clocks` is paused or stopped (resumable)."""
    resolution = [clock for clock in clocks if clock.kind == ClockKind.RESOLUTION]
    if not resolution:
        return False
    latest = max(clock.started_at for clock in resolution)
    return any(
        clock.state in (ClockState.PAUSED, ClockState.MET, ClockState.MISSED)
        for clock in resolution
        if clock.started_at == latest
    )


def _resume_resolution(
    *, inquiry: Inquiry, at: datetime, now: datetime, actor: object = None, clock: Clock | None = None
) -> list[InquiryEvent]:
    """Resume a paused (pending) or stopped (solved, then reopened) resolution clock.

    The time it stood still counts as paused, so the deadline moves out by that much.
    """
    clock = (
        clock
        or inquiry.clocks.filter(kind=ClockKind.RESOLUTION)
        .exclude(state=ClockState.CANCELLED)
        .select_related("calendar")
        .order_by("-started_at")
        .first()
    )
    if clock is None:
        return []
    calendar = business_calendar(clock.calendar)
    if clock.state == ClockState.PAUSED and clock.paused_at is not None:
        _unpause(clock, at=at, calendar=calendar)
    elif clock.state in (ClockState.MET, ClockState.MISSED) and clock.stopped_at is not None:
        if at > clock.stopped_at:
            clock.paused_business_seconds += calendar.elapsed(clock.stopped_at, at)
        clock.stopped_at = None
        clock.elapsed_seconds = None
        _reschedule(clock, calendar)
    else:
        return []
    events = [_event(clock, EventKind.CLOCK_RESUMED, at, actor=actor)]
    # A warning or breach recorded before the pause is not a new fact after it.
    recorded = set(
        InquiryEvent.objects.filter(
            clock=clock, kind__in=(EventKind.CLOCK_AT_RISK, EventKind.CLOCK_BREACHED)
        ).values_list("kind", flat=True)
    )
    breached_at = clock.breached_at
    events.extend(e for e in _live_events(clock, at) if e.kind not in recorded)
    if EventKind.CLOCK_BREACHED in recorded and clock.state == ClockState.BREACHED:
        clock.breached_at = breached_at
    clock.save()
    return events


def cancel_reply_clocks(*, inquiry: Inquiry, at: datetime, actor: object, reason: str) -> int:
    InquiryEvent.objects.bulk_create(catch_up(inquiry=inquiry, at=at))
    events: list[InquiryEvent] = []
    for clock in inquiry.clocks.filter(kind__in=REPLY_KINDS, state__in=ACTIVE):
        events.extend(cancel_clock(clock, at=at, actor=actor, reason=reason))
    InquiryEvent.objects.bulk_create(events)
    refresh_urgency([inquiry.pk])
    return len(events)


def recompute_inquiry(*, inquiry: Inquiry, now: datetime, reselect_policy: bool = True) -> int:
    """Recompute due times of running clocks from their start, keeping paused time."""
    inquiry = Inquiry.objects.select_related("account", "customer", "sla_policy__calendar").get(pk=inquiry.pk)
    if reselect_policy:
        policy = select_policy(inquiry)
        if policy != inquiry.sla_policy:
            Inquiry.objects.filter(pk=inquiry.pk).update(sla_policy=policy)
            inquiry.sla_policy = policy
    policy = inquiry.sla_policy
    events: list[InquiryEvent] = []
    changed = 0
    active = inquiry.clocks.filter(state__in=(*ACTIVE, ClockState.PAUSED))
    for clock in active.select_related("calendar", "message"):
        if clock.kind == ClockKind.MARKETPLACE_REPLY:
            if clock.message is not None:
                market = message_target(inquiry=inquiry, message=clock.message)
            else:  # its message was deleted: nothing to match a rule on
                general = marketplace_rule(inquiry.account)
                market = MarketTarget(*general) if general else None
            if market is None:
                events.extend(cancel_clock(clock, at=now, reason="marketplace rule removed"))
                continue
            clock.target_seconds, calendar, clock.calendar = (
                market.target_seconds,
                market.calendar,
                market.calendar_row,
            )
            clock.rule_name = market.rule_name
        else:
            target = _target(policy, inquiry.priority, clock.kind)
            if not target:
                events.extend(cancel_clock(clock, at=now, reason="policy removed"))
                continue
            clock.target_seconds = target
            clock.policy = policy
            clock.calendar = policy.calendar if policy else None
            clock.warn_ratio = policy.warn_ratio if policy else clock.warn_ratio
            calendar = business_calendar(clock.calendar)
        old_due = clock.due_at
        _reschedule(clock, calendar)
        if clock.state != ClockState.PAUSED:
            already = {
                ClockState.RUNNING: set(),
                ClockState.AT_RISK: {EventKind.CLOCK_AT_RISK},
                ClockState.BREACHED: {EventKind.CLOCK_AT_RISK, EventKind.CLOCK_BREACHED},
            }[clock.state]
            # Only transitions the clock has not recorded yet are new facts; a longer target can
            # also take a breached clock back to running, which the recompute event records.
            events.extend(e for e in _live_events(clock, now) if e.kind not in already)
        clock.save()
        if clock.due_at != old_due:
            changed += 1
            events.append(
                _event(
                    clock,
                    EventKind.CLOCK_RECOMPUTED,
                    now,
                    old_due_at=old_due.isoformat(),
                    due_at=clock.due_at.isoformat(),
                )
            )
    started = _start_missing_clocks(inquiry=inquiry, policy=policy, now=now)
    events.extend(started_events(started))
    for clock in started:
        if clock.state != ClockState.PAUSED:
            events.extend(_live_events(clock, now))
            clock.save(update_fields=["state", "breached_at"])
    InquiryEvent.objects.bulk_create(events)
    refresh_urgency([inquiry.pk])
    return changed + len(started)


def _start_missing_clocks(*, inquiry: Inquiry, policy: SlaPolicy | None, now: datetime) -> list[Clock]:
    """Saved clocks for what the policy measures and an open inquiry has no clock for yet (a
    policy that now sets a resolution target, or the first policy of inquiries that had none),
    started when they would have started had the policy applied from the beginning: resolution
    at the opening, first reply at the first customer message while nobody has replied, next
    reply at the oldest customer message after the last reply. A resolution clock of a pending
    inquiry starts paused now (the wait on the customer began before; its start is not stored)."""
    if policy is None or inquiry.status not in OPEN_STATUSES:
        return []
    clocks = list(inquiry.clocks.values_list("kind", "state"))
    kinds = {kind for kind, _ in clocks if kind != ClockKind.MARKETPLACE_REPLY}
    replying = any(
        kind in (ClockKind.FIRST_REPLY, ClockKind.NEXT_REPLY) and state in ACTIVE for kind, state in clocks
    )
    customer = inquiry.messages.filter(direction=Direction.INBOUND, automatic=False).order_by(
        "received_at", "pk"
    )
    plans: list[tuple[str, datetime, Message | None]] = []
    if ClockKind.RESOLUTION not in kinds:
        plans.append((ClockKind.RESOLUTION, inquiry.opened_at, None))
    if not replying:
        if inquiry.last_reply_at is None:
            first = customer.first() if ClockKind.FIRST_REPLY not in kinds else None
            if first is not None:
                plans.append((ClockKind.FIRST_REPLY, first.received_at, first))
        else:
            waiting = customer.filter(received_at__gt=inquiry.last_reply_at).first()
            if waiting is not None:
                plans.append((ClockKind.NEXT_REPLY, waiting.received_at, waiting))
    calendar = business_calendar(policy.calendar)
    new = []
    for kind, started_at, message in plans:
        target = _target(policy, inquiry.priority, kind)
        if not target:
            continue
        clock = _scheduled_clock(
            inquiry=inquiry,
            kind=kind,
            started_at=started_at,
            target_seconds=target,
            calendar_row=policy.calendar,
            calendar=calendar,
            warn_ratio=policy.warn_ratio,
            policy=policy,
            message=message,
        )
        if kind == ClockKind.RESOLUTION and inquiry.status == Status.PENDING:
            clock.state, clock.paused_at = ClockState.PAUSED, max(now, started_at)
        clock.save()
        new.append(clock)
    return new


RECOMPUTE_PROGRESS_EVERY = 500


def recompute_many(
    *, inquiry_ids: Iterable[int], now: datetime | None = None, run_id: int | None = None
) -> int:
    """Recompute each inquiry's running clocks, one transaction each; logs its progress every
    `RECOMPUTE_PROGRESS_EVERY` inquiries (a policy change may move thousands) and, given the
    `RecomputeRun` a background recompute was started with, stores it there for the admin."""
    now = now or timezone.now()
    total = len(inquiry_ids) if isinstance(inquiry_ids, Sized) else None
    runs = RecomputeRun.objects.filter(pk=run_id)
    changed = done = 0
    for done, inquiry_id in enumerate(inquiry_ids, 1):
        with transaction.atomic():
            inquiry = Inquiry.objects.select_for_update().filter(pk=inquiry_id).first()
            if inquiry is not None:
                changed += recompute_inquiry(inquiry=inquiry, now=now)
        if done % RECOMPUTE_PROGRESS_EVERY == 0:
            logger.info("recompute: %d of %s inquiries done, %d clocks moved", done, total or "?", changed)
            if run_id is not None:
                runs.update(done=Least(done, F("total")))
    if run_id is not None:
        runs.update(done=Least(done, F("total")), finished_at=timezone.now())
    return changed


def inquiries_with_running_clocks(query: Q | None = None) -> Iterable[int]:
    clocks = Clock.objects.filter(state__in=(*ACTIVE, ClockState.PAUSED))
    if query is not None:
        clocks = clocks.filter(query)
    return clocks.values_list("inquiry_id", flat=True).distinct().order_by("inquiry_id").iterator()
