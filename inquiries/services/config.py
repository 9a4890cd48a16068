"""Configuration changes that move deadlines: policies (with their targets), calendars (with
their holidays), the marketplace presets (reply targets and message rules), and deleting them;
an account's own marketplace, time zone, reply target and reply calendar.

The API and the admin call these. Each bumps what the clock caches key on (the calendar's
version, the policy's `updated_at`) and queues a recompute of the affected running clocks
after commit, so the recompute sees every row the transaction wrote: the admin saves its
inline rows (holidays, targets) after the service call, in the same transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from django.db import transaction
from django.db.models import F, Model, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from inquiries.models import (
    Account,
    Calendar,
    Channel,
    ChannelKind,
    ClockKind,
    Holiday,
    Inquiry,
    MarketplacePreset,
    Priority,
    RecomputeRun,
    SlaPolicy,
    SlaTarget,
)
from inquiries.selectors import marketplace_rules
from inquiries.services.clocks import inquiries_with_running_clocks
from inquiries.services.errors import Conflict
from inquiries.services.queue import enqueue_after_commit
from inquiries.sla.presets import default_relay_senders

# The default policy every new account gets, so that no account runs silently without clocks:
# first and next reply in 24 business hours, resolution in 72, on the account's business
# calendar (Monday to Friday, 09:00-17:00 in its time zone). Tried after every other policy.
DEFAULT_POLICY_TARGETS = {
    "first_reply_seconds": 24 * 3600,
    "next_reply_seconds": 24 * 3600,
    "resolution_seconds": 72 * 3600,
}
DEFAULT_BUSINESS_HOURS = {str(weekday): [["09:00", "17:00"]] for weekday in range(5)}
DEFAULT_POLICY_POSITION = 1000
# A policy change that moves more open inquiries than this recomputes them on the background queue.
RECOMPUTE_IN_FOREGROUND_MOST = 1000


@transaction.atomic
def create_account(*, account: Account) -> Account:
    """Save a new account and give it the default SLA policy unless a policy already applies."""
    account.save()
    ensure_default_policy(account=account)
    return account


@transaction.atomic
def create_channel(*, channel: Channel) -> Channel:
    """Save a new channel. A new e-mail channel given no relay senders starts with its
    marketplace's (Amazon's and Walmart's relay domains; none for the others): on a marketplace's
    mailbox only relayed buyer messages run the marketplace clock. Editable afterwards."""
    if channel.kind == ChannelKind.EMAIL and not channel.marketplace_senders.strip():
        channel.marketplace_senders = default_relay_senders(channel.account.marketplace)
    channel.save()
    return channel


@transaction.atomic
def ensure_default_policy(*, account: Account) -> SlaPolicy | None:
    """Give `account` its default policy (and business calendar) when no active policy applies to
    it; returns the new policy, or None when one applied already. Editable afterwards like any."""
    if not Account.objects.without_sla_policy().filter(pk=account.pk).exists():
        return None
    label = f"{account.name[:70]} (account {account.pk})"
    calendar = Calendar.objects.create(
        name=f"Business hours: {label}", timezone=account.timezone, hours=DEFAULT_BUSINESS_HOURS
    )
    policy = SlaPolicy(name=f"Default: {label}", position=DEFAULT_POLICY_POSITION, calendar=calendar)
    save_policy(
        policy=policy,
        targets=[{"priority": priority, **DEFAULT_POLICY_TARGETS} for priority in Priority.values],
        accounts=[account],
    )
    return policy


@transaction.atomic
def save_policy(
    *,
    policy: SlaPolicy,
    targets: Iterable[Mapping[str, Any]] | None = None,
    accounts: Iterable[Model] | None = None,
    channels: Iterable[Model] | None = None,
    topics: Iterable[Model] | None = None,
    apply_to_open: bool = True,
) -> int:
    """Save a new or changed policy; returns how many open inquiries get their clocks recomputed.

    `targets` (priority and seconds per clock), when given, replace the policy's targets;
    `accounts`, `channels` and `topics`, when given, replace what it applies to.
    None leaves them as they are. `apply_to_open=False`: the inquiries already open keep the
    policy and deadlines they have; only new inquiries (and later recomputes) pick it.
    """
    policy.save()
    for relation, rows in (("accounts", accounts), ("channels", channels), ("topics", topics)):
        if rows is not None:
            getattr(policy, relation).set(rows)
    if targets is not None:
        policy.targets.all().delete()
        SlaTarget.objects.bulk_create(SlaTarget(policy=policy, **target) for target in targets)
    return policy_changed(policy=policy, apply_to_open=apply_to_open)


@transaction.atomic
def policy_changed(*, policy: SlaPolicy, apply_to_open: bool = True) -> int:
    """Every open inquiry may now pick a different policy, so all running clocks are recomputed,
    clocks the policy measures and an open inquiry lacks are started, and clocks for targets it
    no longer has are cancelled (on the background queue, after commit), unless `apply_to_open`
    is False."""
    SlaPolicy.objects.filter(pk=policy.pk).update(updated_at=timezone.now())  # target edits reload the cache
    if not apply_to_open:
        return 0
    # Running clocks move to the new targets; open inquiries also get the clocks the policy
    # now measures and they lack (those without any clock, under no policy before, among them).
    ids = sorted({*inquiries_with_running_clocks(), *Inquiry.objects.open().values_list("pk", flat=True)})
    # Many open inquiries: the long job goes to the background queue, where it never holds up
    # the work agents wait on; it records its progress in a RecomputeRun row.
    many = len(ids) > RECOMPUTE_IN_FOREGROUND_MOST
    if many:
        # Its progress is stored so that the admin shows how far it has got (the SLA policies page).
        # Shown to every admin who sees the policies page: it names no policy (scoped staff may
        # not see this one).
        run = RecomputeRun.objects.create(reason=f"an SLA policy change (policy {policy.pk})", total=len(ids))
        enqueue_after_commit("recompute_clocks", ids, run.pk, queue="background")
    else:
        enqueue_after_commit("recompute_clocks", ids)
    return len(ids)


@transaction.atomic
def delete_policy(*, policy: SlaPolicy) -> int:
    """Delete a policy. The open inquiries it governed pick another one after commit (or, with
    none left for them, their policy clocks are cancelled, "policy removed"); returns how many."""
    ids = list(inquiries_with_running_clocks(Q(policy=policy) | Q(inquiry__sla_policy=policy)))
    policy.delete()
    enqueue_after_commit("recompute_clocks", ids)
    return len(ids)


@transaction.atomic
def save_calendar(*, calendar: Calendar, holidays: Iterable[Mapping[str, Any]] | None = None) -> int:
    """Save a new or changed calendar; returns how many open inquiries get their clocks recomputed.

    `holidays` (date and name each), when given, replace the calendar's holidays; None leaves
    them as they are.
    """
    calendar.save()
    if holidays is not None:
        calendar.holidays.all().delete()
        Holiday.objects.bulk_create(Holiday(calendar=calendar, **holiday) for holiday in holidays)
    return calendar_changed(calendar=calendar)


@transaction.atomic
def calendar_changed(*, calendar: Calendar) -> int:
    Calendar.objects.filter(pk=calendar.pk).update(version=F("version") + 1)
    calendar.refresh_from_db(fields=["version"])
    ids = list(inquiries_with_running_clocks(Q(calendar=calendar) | Q(policy__calendar=calendar)))
    enqueue_after_commit("recompute_clocks", ids)
    return len(ids)


@transaction.atomic
def delete_calendar(*, calendar: Calendar) -> int:
    """Delete a calendar that no policy uses. Accounts whose marketplace reply rule ran on it go
    back to their marketplace's own calendar: their running clocks are recomputed after commit;
    returns how many inquiries."""
    policies = list(calendar.policies.order_by("position").values_list("name", flat=True)[:3])
    if policies:
        raise Conflict(
            _("Policies still use this calendar (%(policies)s): give them another one first.")
            % {"policies": ", ".join(policies)},
            field="calendar",
            code="in_use",
        )
    ids = list(inquiries_with_running_clocks(Q(calendar=calendar) | Q(policy__calendar=calendar)))
    calendar.delete()
    enqueue_after_commit("recompute_clocks", ids)
    return len(ids)


# The account's fields that set its deadlines: which marketplace's rules apply and, for the
# preset's calendar, in which time zone; its own reply target and reply calendar override them.
ACCOUNT_DEADLINE_FIELDS = ("marketplace", "timezone", "reply_target_seconds", "reply_calendar_id")


@transaction.atomic
def save_account(*, account: Account, write: Callable[[], object] | None = None) -> int:
    """Save a changed account (`write`, e.g. a serializer's save, or `account.save`). When a field
    that sets deadlines changed, the running clocks of its inquiries are recomputed after commit
    (their policy chosen again too); returns how many inquiries."""
    before = Account.objects.filter(pk=account.pk).values(*ACCOUNT_DEADLINE_FIELDS).first()
    (write or account.save)()
    if before is None or all(before[name] == getattr(account, name) for name in ACCOUNT_DEADLINE_FIELDS):
        return 0
    ids = list(inquiries_with_running_clocks(Q(inquiry__account_id=account.pk)))
    enqueue_after_commit("recompute_clocks", ids)
    return len(ids)


@transaction.atomic
def save_preset(*, preset: MarketplacePreset) -> int:
    """Save a new or changed marketplace preset. The running marketplace clocks of its
    marketplace's accounts (and of the marketplace it was for, if that changed) take the new
    reply rules after commit; returns how many open inquiries are recomputed."""
    before = MarketplacePreset.objects.filter(pk=preset.pk).values_list("marketplace", flat=True).first()
    preset.save()
    return _preset_changed({preset.marketplace, before or preset.marketplace})


@transaction.atomic
def delete_preset(*, preset: MarketplacePreset) -> int:
    """Delete a marketplace preset: its marketplace falls back to the built-in facts, and the
    running marketplace clocks of its accounts are recomputed after commit; returns how many."""
    marketplace = preset.marketplace
    preset.delete()
    return _preset_changed({marketplace})


def _preset_changed(marketplaces: set[str]) -> int:
    marketplace_rules.clear_cache()  # this process sees the edit at once; the recompute re-reads them too
    ids = list(
        inquiries_with_running_clocks(
            Q(kind=ClockKind.MARKETPLACE_REPLY, inquiry__account__marketplace__in=sorted(marketplaces))
        )
    )
    enqueue_after_commit("recompute_clocks", ids)
    return len(ids)
