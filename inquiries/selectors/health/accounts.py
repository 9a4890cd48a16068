"""Reads for the health page, API and export, all scoped by `Account.objects.visible_to(user)`."""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING

from django.db.models import QuerySet
from django.http import Http404

from inquiries.health.scoring import HealthReport, RescueItem, Rules
from inquiries.health.scoring import rescue_inquiry_ids as _rescue_ids
from inquiries.models import Account, HealthSnapshot, MarketplacePreset
from inquiries.selectors.health.metrics import account_health, rules_for

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser, User


def accounts_for(user: User | AnonymousUser) -> QuerySet[Account]:
    return Account.objects.visible_to(user).order_by("name", "pk")


def get_account_for_user(user: User | AnonymousUser, pk: int | str) -> Account:
    """The account if the user may see it; another team's account is a 404, like a missing one."""
    try:
        return accounts_for(user).get(pk=pk)
    except (Account.DoesNotExist, ValueError, TypeError):
        raise Http404("No such account.") from None


def preset_for(account: Account) -> MarketplacePreset | None:
    return MarketplacePreset.objects.filter(marketplace=account.marketplace).first()


def snapshots(account: Account, first: date, last: date) -> QuerySet[HealthSnapshot]:
    return HealthSnapshot.objects.filter(account=account, date__gte=first, date__lte=last).order_by("date")


def latest_snapshots(accounts: list[Account]) -> dict[int, HealthSnapshot]:
    """Each account's most recent snapshot, in one query."""
    rows = (
        HealthSnapshot.objects.filter(account__in=accounts)
        .order_by("account_id", "-date")
        .only("account_id", "date", "as_of", "status", "metrics")
    )
    latest: dict[int, HealthSnapshot] = {}
    for row in rows:
        latest.setdefault(row.account_id, row)
    return latest


def health_for(account: Account, as_of: datetime, rules: Rules | None = None) -> HealthReport:
    return account_health(account, as_of, rules=rules or rules_for(account))


def rescue_inquiry_ids(
    user: User | AnonymousUser, account: Account | int | None = None, *, now: datetime
) -> list[int]:
    """Inquiries holding the messages of the rescue list, most urgent first, for the queue filter.

    Only accounts the user may see; `account` narrows to one (another team's yields nothing).
    """
    accounts = accounts_for(user)
    if account is not None:
        accounts = accounts.filter(pk=account.pk if isinstance(account, Account) else account)
    items: list[RescueItem] = []
    for visible in accounts:
        items.extend(account_health(visible, now).rescue)
    items.sort(key=lambda item: (not item.worsens, item.crosses_at))
    return _rescue_ids(items)
