"""The marketplace presets' reply rules: an account's general reply target, the message rules
(which rule sets a customer message's marketplace target, `message_target`), and the calendar a
marketplace clock counts on (`clock_calendar`, `marketplace_calendar`).

The presets, as edited in the admin, are cached per process for PRESET_CACHE_SECONDS. Read by the
clocks (`services/clocks/`) and the health figures (`measured_rules`).
"""

from __future__ import annotations

import functools
import logging
import time as monotonic_time
from dataclasses import dataclass
from datetime import time

from inquiries.marketplaces import marketplace_facts
from inquiries.models import (
    Account,
    Calendar,
    Clock,
    ClockKind,
    Inquiry,
    MarketplacePreset,
    Message,
)
from inquiries.selectors.calendars import TWENTY_FOUR_SEVEN_UTC, business_calendar
from inquiries.sla.calendar import BusinessCalendar
from inquiries.sla.presets import (
    DEFAULT_MESSAGE_RULES,
    MessageRule,
    is_relay_sender,
    matching_rule,
    parse_message_rules,
    parse_relay_senders,
)

logger = logging.getLogger(__name__)


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

    A marketplace without a row falls back to the facts table (`_preset`).
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


def clear_cache() -> None:
    """Drop this process's copy of the presets: the next read sees the admin's latest edits (a
    recompute starts with it; other processes catch up within PRESET_CACHE_SECONDS)."""
    _preset_cache.clear()


def _readable_rules(row: MarketplacePreset) -> tuple[MessageRule, ...]:
    try:
        return parse_message_rules(row.message_rules)
    except ValueError as error:  # written around the admin's validation: the general target applies
        logger.warning("Marketplace preset %s: unreadable message rules (%s); none applied", row.pk, error)
        return ()


def _preset(marketplace: str) -> _Preset:
    """The marketplace's preset row as edited, else its facts as the seeded row would hold them
    (`health.presets`): its general target, whether it counts business days (eBay does, also for
    an account's own target without a calendar, though eBay sets no general target of its own)
    and its default message rules."""
    preset = _presets().get(marketplace)
    if preset is not None:
        return preset
    reply = marketplace_facts(marketplace).reply
    rules = parse_message_rules(DEFAULT_MESSAGE_RULES.get(marketplace, []))
    return _Preset(reply.target_seconds, reply.business_days_only, rules)


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
        topic = inquiry.topic.key if preset.uses_topics and inquiry.topic is not None else None
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


def clock_calendar(clock: Clock) -> BusinessCalendar:
    """The calendar a clock counts on (a marketplace clock: its rule's or its preset's)."""
    if clock.kind == ClockKind.MARKETPLACE_REPLY:
        return marketplace_calendar(clock)
    return business_calendar(clock.calendar)
