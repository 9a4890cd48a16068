"""Who may see and change which configuration rows: the one place the admin and the API ask.

Every model of the app is listed here with its rule. A staff flag alone grants nothing:
Django's model permissions decide *what kind* of row a user may view, add, change or delete
(superusers have them all), and the rules below decide *which rows*:

- by account: rows of the accounts the user's teams work (`Account.objects.visible_to`);
- by team: rows of the user's own teams; a row for no team means "every team" and is
  superusers' only;
- by account set / team set: rows that apply to a set of accounts or teams (an SLA policy,
  a webhook endpoint) are the user's only when the set is not empty and lies inside their scope;
  an empty set means "all" and is superusers' only;
- by owner: the user's own rows (notification preferences, report digests, personal macros);
- shared: configuration every account uses (topics, calendars, marketplace presets); any user
  with the model permission sees it, and a calendar can be changed only by a user whose scope
  holds every account that uses it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.contrib.auth.models import User as AuthUser
from django.db.models import Model, Q, QuerySet

from inquiries import models as m

User = AbstractBaseUser | AnonymousUser | None


def _member(user: User) -> AuthUser | None:
    """The user whose teams and rows the rules read: None unless authenticated and active."""
    if user is None or not user.is_authenticated or not user.is_active:
        return None
    return cast(AuthUser, user)  # AUTH_USER_MODEL is auth.User: an authenticated user is one


def _active(user: User) -> bool:
    return _member(user) is not None


def _unrestricted(user: User) -> bool:
    return _active(user) and bool(getattr(user, "is_superuser", False))


def visible_accounts(user: User) -> QuerySet[m.Account]:
    return m.Account.objects.visible_to(_member(user))


def user_teams(user: User) -> QuerySet[m.Team]:
    member = _member(user)
    if member is None:
        return m.Team.objects.none()
    if member.is_superuser:
        return m.Team.objects.all()
    return m.Team.objects.filter(memberships__user=member)


@dataclass(frozen=True)
class ByAccount:
    path: str

    def limit(self, queryset: QuerySet, user: User) -> QuerySet:
        return queryset.filter(**{f"{self.path}__in": visible_accounts(user).values("pk")})


@dataclass(frozen=True)
class ByTeam:
    path: str

    def limit(self, queryset: QuerySet, user: User) -> QuerySet:
        return queryset.filter(**{f"{self.path}__in": user_teams(user).values("pk")})


@dataclass(frozen=True)
class BySet:
    """Rows applying to a set of accounts (or teams): the set must be non-empty and inside scope."""

    path: str
    of_teams: bool = False

    def limit(self, queryset: QuerySet, user: User) -> QuerySet:
        target = m.Team if self.of_teams else m.Account
        inside = user_teams(user) if self.of_teams else visible_accounts(user)
        outside = target.objects.exclude(pk__in=inside.values("pk")).values("pk")
        return queryset.exclude(**{f"{self.path}__isnull": True}).exclude(**{f"{self.path}__in": outside})


@dataclass(frozen=True)
class ByOwner:
    path: str = "user"

    def limit(self, queryset: QuerySet, user: User) -> QuerySet:
        member = _member(user)  # `scoped` asks only for an active user's rows
        return queryset.none() if member is None else queryset.filter(**{self.path: member.pk})


@dataclass(frozen=True)
class Shared:
    def limit(self, queryset: QuerySet, user: User) -> QuerySet:
        return queryset


@dataclass(frozen=True)
class Either:
    """A row is the user's when any of the rules says so (e.g. own notifications, or the team's)."""

    rules: tuple[Any, ...]

    def limit(self, queryset: QuerySet, user: User) -> QuerySet:
        condition = Q()
        for rule in self.rules:
            condition |= Q(pk__in=rule.limit(queryset.model._default_manager.all(), user).values("pk"))
        return queryset.filter(condition)


RULES: dict[type[Model], Any] = {
    m.Account: ByAccount("pk"),
    m.Channel: ByAccount("account"),
    m.Customer: ByAccount("account"),
    m.Inquiry: ByAccount("account"),
    m.Message: ByAccount("channel__account"),
    m.Attachment: ByAccount("message__channel__account"),
    m.InquiryEvent: ByAccount("inquiry__account"),
    m.Clock: ByAccount("inquiry__account"),
    m.Cluster: ByAccount("account"),
    m.ClusterMember: ByAccount("cluster__account"),
    m.ClusterEvent: ByAccount("cluster__account"),
    m.ComplaintFingerprint: ByAccount("account"),
    m.HealthSnapshot: ByAccount("account"),
    m.OrderVolume: ByAccount("account"),
    m.MailboxConfig: ByAccount("channel__account"),
    m.MailWebhook: ByAccount("channel__account"),
    m.MailWebhookToken: ByAccount("webhook__channel__account"),
    m.SuspendedSender: ByAccount("channel__account"),
    m.HeldMessage: ByAccount("channel__account"),
    m.HeldWait: ByAccount("channel__account"),
    m.OutgoingMail: ByAccount("message__channel__account"),
    m.ReplyWebhook: ByAccount("channel__account"),
    m.OutboxOffer: ByAccount("message__channel__account"),
    m.IdempotencyKey: ByOwner("user"),
    m.SlaRollup: ByAccount("account_id"),
    m.DurationRollup: ByAccount("account_id"),
    m.VolumeRollup: ByAccount("account_id"),
    m.OrderMetricDay: ByAccount("account"),
    m.OrderRollupState: ByAccount("account"),
    m.Order: ByAccount("account"),
    m.OrderLine: ByAccount("order__account"),
    m.Shipment: ByAccount("order__account"),
    m.Cancellation: ByAccount("order__account"),
    m.Return: ByAccount("order__account"),
    m.Feedback: ByAccount("order__account"),
    m.Claim: ByAccount("order__account"),
    m.MarketplaceMetric: ByAccount("account"),
    m.AmazonConnection: ByAccount("account"),
    m.ConnectorRun: ByAccount("account"),
    m.Team: ByTeam("pk"),
    m.Membership: ByTeam("team"),
    m.EscalationRule: ByTeam("team"),
    m.EscalationAction: ByTeam("rule__team"),
    m.SlaPolicy: BySet("accounts"),
    m.SlaTarget: BySet("policy__accounts"),
    m.WebhookEndpoint: BySet("teams", of_teams=True),
    m.WebhookDelivery: BySet("endpoint__teams", of_teams=True),
    m.Rota: ByTeam("team"),
    m.RotaMember: ByTeam("rota__team"),
    m.Macro: Either((ByOwner("owner"), ByTeam("team"))),
    m.Notification: Either((ByOwner("user"), ByAccount("inquiry__account"))),
    m.NotificationPreference: ByOwner("user"),
    m.UserPreference: ByOwner("user"),
    m.ReportSubscription: ByOwner("user"),
    m.Calendar: Shared(),
    m.Holiday: Shared(),
    m.Topic: Shared(),
    m.TopicRule: Shared(),
    m.TopicModel: ByAccount("account"),
    m.TopicLabel: ByAccount("account"),
    m.MarketplacePreset: Shared(),
    m.FailedTask: Shared(),
    m.RecomputeRun: Shared(),  # progress counts only; its reason names no account's data
    m.SlaRollupState: Shared(),
    m.ClusterSweepState: Shared(),
}


def rule_for(model: type[Model]) -> Any | None:
    return RULES.get(model)


def scoped(queryset: QuerySet, user: User) -> QuerySet:
    """The rows of `queryset` this user may see. Models without a rule (users, groups) are
    left to Django's model permissions; unauthenticated or inactive users see nothing."""
    if not _active(user):
        return queryset.none()
    if _unrestricted(user):
        return queryset
    rule = RULES.get(queryset.model)
    return queryset if rule is None else rule.limit(queryset, user)


def calendar_users_outside_scope(calendar: m.Calendar, user: User) -> bool:
    """True when changing this shared calendar would move clocks of accounts the user does not
    work: an account outside their scope uses it, or a policy that applies beyond their scope."""
    if _unrestricted(user):
        return False
    inside = visible_accounts(user).values("pk")
    if m.Account.objects.filter(reply_calendar=calendar).exclude(pk__in=inside).exists():
        return True
    policies = m.SlaPolicy.objects.filter(calendar=calendar)
    return policies.exclude(
        pk__in=BySet("accounts").limit(m.SlaPolicy.objects.all(), user).values("pk")
    ).exists()


def may_change(user: User, obj: Model) -> bool:
    """Row-level check for a change or delete, on top of the model permission."""
    if _unrestricted(user):
        return True
    if isinstance(obj, m.Calendar):
        return obj.pk is None or not calendar_users_outside_scope(obj, user)
    if isinstance(obj, m.Holiday):
        return may_change(user, obj.calendar)
    if obj.pk is None:
        return True
    return scoped(type(obj)._default_manager.filter(pk=obj.pk), user).exists()


def fields_required_of(user: User, model: type[Model]) -> list[str]:
    """Fields a user without full scope must fill: an empty account or team set, or a missing
    team, would make the row apply to every account, far beyond what they work."""
    if _unrestricted(user):
        return []
    rule = RULES.get(model)
    if isinstance(rule, BySet | ByTeam | ByAccount) and "__" not in rule.path and rule.path != "pk":
        field = model._meta.get_field(rule.path)
        if isinstance(rule, BySet) or getattr(field, "null", False):
            return [rule.path]
    return []
