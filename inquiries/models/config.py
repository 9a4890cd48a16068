"""Configuration the admin edits: calendars, accounts, teams, channels, topics, SLA policies."""

from __future__ import annotations

import zoneinfo
from decimal import Decimal
from typing import TYPE_CHECKING, cast

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone as dj_timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from inquiries import words
from inquiries.models import names
from inquiries.models.choices import ChannelKind, Marketplace, Priority, Role

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser, User

    from inquiries.complaints.rules.definitions import RuleKind


def validate_timezone(value: str) -> None:
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValidationError(
            _("Unknown time zone %(value)r; use an IANA name such as 'Europe/Berlin'."),
            params={"value": value},
        ) from None


class Calendar(models.Model):
    """Business hours in a time zone plus holidays; `hours` empty and 24x7 on means always open."""

    name = models.CharField(
        verbose_name=_("name"), max_length=100, unique=True, help_text=_("Shown when picking a calendar.")
    )
    timezone = models.CharField(
        verbose_name=_("timezone"),
        max_length=64,
        default="UTC",
        validators=[validate_timezone],
        help_text=_("IANA time zone name."),
    )
    is_24x7 = models.BooleanField(
        verbose_name=_("is 24x7"),
        default=False,
        help_text=_("Open all day every day (holidays still close unless none are listed)."),
    )
    version = models.PositiveIntegerField(
        verbose_name=_("version"),
        default=1,
        editable=False,
        help_text=_("Bumped on every change so cached calendars are rebuilt."),
    )
    hours = models.JSONField(
        verbose_name=_("hours"),
        default=dict,
        blank=True,
        help_text=_(
            'Weekday (0=Monday) to a list of ["HH:MM", "HH:MM"] pairs; "00:00" as an end means midnight. '
            'Example: {"0": [["09:00", "17:00"]], "1": [["09:00", "12:00"], ["13:00", "17:00"]]}'
        ),
    )

    class Meta:
        ordering = ["name"]
        verbose_name = _("calendar")
        verbose_name_plural = _("calendars")

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        """Reject hours the calendar engine would refuse, with its message (overlaps, never open...)."""
        from inquiries.sla.calendar import BusinessCalendar
        from inquiries.sla.hours import parse_hours

        try:
            hours = None if self.is_24x7 else parse_hours(self.hours)
            BusinessCalendar(self.timezone, hours)
        except (ValueError, TypeError, AttributeError) as exc:
            raise ValidationError({"hours": str(exc)}) from None


class Holiday(models.Model):
    calendar = models.ForeignKey(
        Calendar, verbose_name=_("calendar"), on_delete=models.CASCADE, related_name="holidays"
    )
    date = models.DateField(
        verbose_name=_("date"), help_text=_("A whole local day on which the calendar is closed.")
    )
    name = models.CharField(
        verbose_name=_("name"), max_length=200, blank=True, help_text=_("For people reading the list.")
    )

    class Meta:
        ordering = ["date"]
        constraints = [
            models.UniqueConstraint(fields=["calendar", "date"], name="holiday_unique_per_calendar")
        ]
        verbose_name = _("holiday")
        verbose_name_plural = _("holidays")

    def __str__(self) -> str:
        return f"{names.day(self.date)} {self.name}".strip()


class AccountQuerySet(models.QuerySet["Account"]):
    def visible_to(self, user: User | AnonymousUser | None) -> AccountQuerySet:
        """Accounts of the user's teams; every other scoping in the app builds on this."""
        if user is None or not user.is_authenticated or not user.is_active:
            return self.none()
        if user.is_superuser:
            return self
        return self.filter(teams__memberships__user=user).distinct()

    def with_sla_policy_flag(self) -> AccountQuerySet:
        """Annotate `has_sla_policy`: whether any active policy may apply to the account (one
        naming it, or one naming no account). Without one its inquiries run no policy clocks."""
        policies = SlaPolicy.objects.filter(is_active=True)
        return self.annotate(
            has_sla_policy=models.Exists(policies.filter(accounts=models.OuterRef("pk")))
            | models.Exists(policies.filter(accounts__isnull=True))
        )

    def without_sla_policy(self) -> AccountQuerySet:
        return self.with_sla_policy_flag().filter(has_sla_policy=False)  # type: ignore[misc]  # django-stubs: has_sla_policy is the annotation of with_sla_policy_flag(), which the plugin cannot see


class Account(models.Model):
    """One seller storefront on one marketplace."""

    name = models.CharField(
        verbose_name=_("name"), max_length=200, help_text=_('For example "Acme on Amazon US".')
    )
    marketplace = models.CharField(
        verbose_name=_("marketplace"),
        max_length=16,
        choices=Marketplace.choices,
        default=Marketplace.OTHER,
        help_text=_("Picks the marketplace's reply rule and health targets."),
    )
    timezone = models.CharField(
        verbose_name=_("timezone"),
        max_length=64,
        default="UTC",
        validators=[validate_timezone],
        help_text=_("IANA time zone of the account."),
    )
    reply_target_seconds = models.PositiveIntegerField(
        verbose_name=_("reply target seconds"),
        null=True,
        blank=True,
        help_text=_(
            "The marketplace reply rule in seconds; empty uses the marketplace preset "
            "(Amazon 24 h, Walmart 48 h, eBay 3 business days)."
        ),
    )
    reply_calendar = models.ForeignKey(
        Calendar,
        verbose_name=_("reply calendar"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text=_(
            "Calendar of the marketplace reply rule; empty means calendar time (24x7), as Amazon counts."
        ),
    )
    is_active = models.BooleanField(
        verbose_name=_("is active"), default=True, help_text=_("Inactive accounts ingest nothing.")
    )
    history_starts_on = models.DateField(
        verbose_name=_("history starts on"),
        null=True,
        blank=True,
        help_text=_(
            "The first day (in the account's time zone) of the history this account keeps: messages "
            "received earlier are refused as typos. Empty: 2000-01-01."
        ),
    )
    cluster_rate_percent = models.DecimalField(
        verbose_name=_("cluster rate percent"),
        max_digits=5,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal("0.01")), MaxValueValidator(Decimal("100"))],
        help_text=_(
            "A product (complaints per unit sold) or a carrier (delivery complaints per shipment) at or "
            "above this percentage opens a rate cluster, a house indicator. Empty: "
            "CSTRACKER_CLUSTER_RATE_PERCENT (5)."
        ),
    )
    cluster_rate_min_units = models.PositiveIntegerField(
        verbose_name=_("cluster rate min units"),
        null=True,
        blank=True,
        validators=[MinValueValidator(1)],
        help_text=_(
            "Units sold (or shipments) a product (or carrier) needs in the window before its rate is "
            "judged, so 1 complaint on 2 units opens nothing. Empty: CSTRACKER_CLUSTER_RATE_MIN_UNITS (50)."
        ),
    )
    created_at = models.DateTimeField(verbose_name=_("created at"), default=dj_timezone.now, editable=False)

    objects = AccountQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        verbose_name = _("account")
        verbose_name_plural = _("accounts")

    def __str__(self) -> str:
        return self.name


class Team(models.Model):
    name = models.CharField(
        verbose_name=_("name"), max_length=100, unique=True, help_text=_("A group of agents and managers.")
    )
    accounts = models.ManyToManyField(
        Account,
        verbose_name=_("accounts"),
        blank=True,
        related_name="teams",
        help_text=_("Members see the inquiries of these accounts only."),
    )
    members: models.ManyToManyField[User, Membership] = models.ManyToManyField(
        settings.AUTH_USER_MODEL, verbose_name=_("members"), through="Membership", related_name="teams"
    )

    class Meta:
        ordering = ["name"]
        verbose_name = _("team")
        verbose_name_plural = _("teams")

    def __str__(self) -> str:
        return self.name


class Membership(models.Model):
    team = models.ForeignKey(
        Team, verbose_name=_("team"), on_delete=models.CASCADE, related_name="memberships"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("user"), on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(
        verbose_name=_("role"),
        max_length=16,
        choices=Role.choices,
        default=Role.AGENT,
        help_text=_("Agent or manager."),
    )

    class Meta:
        constraints = [models.UniqueConstraint(fields=["team", "user"], name="membership_unique")]
        verbose_name = _("membership")
        verbose_name_plural = _("memberships")

    def __str__(self) -> str:
        return gettext("%(user)s in %(team)s (%(role)s)") % {
            "user": self.user,
            "team": self.team,
            "role": words.in_sentence(self.get_role_display()),
        }


class Channel(models.Model):
    account = models.ForeignKey(
        Account, verbose_name=_("account"), on_delete=models.PROTECT, related_name="channels"
    )
    slug = models.SlugField(
        verbose_name=_("slug"),
        max_length=64,
        unique=True,
        help_text=_("Used by the API and import commands."),
    )
    name = models.CharField(
        verbose_name=_("name"), max_length=200, help_text=_("For people reading the queue.")
    )
    kind = models.CharField(
        verbose_name=_("kind"), max_length=16, choices=ChannelKind.choices, default=ChannelKind.API
    )
    is_active = models.BooleanField(
        verbose_name=_("is active"), default=True, help_text=_("Inactive channels reject new messages.")
    )
    address = models.EmailField(
        verbose_name=_("address"), blank=True, help_text=_("The mailbox address of an e-mail channel.")
    )
    marketplace_senders = models.TextField(
        verbose_name=_("marketplace senders"),
        blank=True,
        help_text=_(
            "The marketplace's buyer-message relay: one sender domain a line (* matches anything, "
            "e.g. marketplace.amazon.*) or a whole address. Only a customer message from one of these runs the "
            "marketplace's reply clock; others run the SLA policy's clocks only. Empty: every customer message "
            "of this channel is a marketplace message. New e-mail channels of Amazon and Walmart accounts start "
            "with the marketplace's relay domains."
        ),
    )
    reply_bcc_address = models.EmailField(
        verbose_name=_("reply bcc address"),
        blank=True,
        help_text=_(
            "Optional: an address the seller's mail client BCCs its replies to. Mail to it from the "
            "channel's own address that threads to a conversation is recorded as a reply sent at its Date."
        ),
    )

    class Meta:
        ordering = ["slug"]
        verbose_name = _("channel")
        verbose_name_plural = _("channels")

    def __str__(self) -> str:
        return self.slug

    def clean(self) -> None:
        from inquiries.sla.presets import parse_relay_senders

        try:
            parse_relay_senders(self.marketplace_senders)
        except ValueError as exc:
            raise ValidationError({"marketplace_senders": str(exc)}) from None


class Topic(models.Model):
    class HealthCategory(models.TextChoices):
        PRODUCT_CONDITION = "product_condition", _("Product condition")
        DELIVERY = "delivery", _("Delivery")
        NONE = "none", _("None")

    key = models.SlugField(
        verbose_name=_("key"), max_length=32, unique=True, help_text=_("Stable identifier used in the API.")
    )
    name = models.CharField(verbose_name=_("name"), max_length=100, help_text=_("Shown to agents."))
    is_complaint = models.BooleanField(
        verbose_name=_("is complaint"), default=True, help_text=_("Counts in complaint rates and clusters.")
    )
    health_category = models.CharField(
        verbose_name=_("health category"),
        max_length=32,
        choices=HealthCategory.choices,
        default=HealthCategory.NONE,
        help_text=_("Which account-health metric complaints of this topic feed."),
    )
    position = models.PositiveSmallIntegerField(
        verbose_name=_("position"), default=100, help_text=_("Order in lists; ties by name.")
    )

    class Meta:
        ordering = ["position", "name"]
        verbose_name = _("topic")
        verbose_name_plural = _("topics")

    def __str__(self) -> str:
        return self.name


class TopicRule(models.Model):
    class Kind(models.TextChoices):
        KEYWORD = "keyword", _("Keyword or phrase")
        REGEX = "regex", _("Regular expression")

    topic = models.ForeignKey(Topic, verbose_name=_("topic"), on_delete=models.CASCADE, related_name="rules")
    kind = models.CharField(verbose_name=_("kind"), max_length=16, choices=Kind.choices, default=Kind.KEYWORD)
    pattern = models.CharField(
        verbose_name=_("pattern"), max_length=500, help_text=_("Whole words, case- and accent-insensitive.")
    )
    language = models.CharField(
        verbose_name=_("language"),
        max_length=8,
        default="en",
        help_text=_("ISO 639-1 code, e.g. en, de, es, fr."),
    )
    weight = models.FloatField(
        verbose_name=_("weight"), default=1.0, help_text=_("Higher wins when several topics match.")
    )
    is_active = models.BooleanField(verbose_name=_("is active"), default=True)

    class Meta:
        ordering = ["topic", "language", "pattern"]
        verbose_name = _("topic rule")
        verbose_name_plural = _("topic rules")

    def __str__(self) -> str:
        return f"{self.topic.key}: {self.pattern}"

    def clean(self) -> None:
        """Refuse a rule the engine cannot use (bad regex, empty match, runaway repetition)."""
        from inquiries.complaints.rules import TopicRule as PureRule
        from inquiries.complaints.rules import compile_rules

        if self.topic_id is None:
            return
        # The field's choices are the pure kinds; a kind outside them is refused by compile_rules too.
        kind = cast("RuleKind", self.kind)
        try:
            compile_rules([PureRule(self.topic.key, self.pattern, kind, self.language, self.weight)])
        except ValueError as exc:
            raise ValidationError({"pattern": str(exc)}) from None


# --- SLA ------------------------------------------------------------------------------


class SlaPolicy(models.Model):
    """Ordered rules: the first active policy whose conditions all match an inquiry wins."""

    name = models.CharField(verbose_name=_("name"), max_length=100, unique=True)
    position = models.PositiveIntegerField(
        verbose_name=_("position"), default=100, help_text=_("Lower positions are tried first.")
    )
    is_active = models.BooleanField(verbose_name=_("is active"), default=True)
    accounts = models.ManyToManyField(
        Account, verbose_name=_("accounts"), blank=True, help_text=_("Empty matches every account.")
    )
    channels = models.ManyToManyField(
        Channel, verbose_name=_("channels"), blank=True, help_text=_("Empty matches every channel.")
    )
    topics = models.ManyToManyField(
        Topic, verbose_name=_("topics"), blank=True, help_text=_("Empty matches every topic.")
    )
    priorities = models.JSONField(
        verbose_name=_("priorities"),
        default=list,
        blank=True,
        help_text=_('Priorities this policy applies to; empty matches all. e.g. ["high"].'),
    )
    customer_tags = models.JSONField(
        verbose_name=_("customer tags"),
        default=list,
        blank=True,
        help_text=_("Matches when the customer has any of these tags; empty matches all."),
    )
    calendar = models.ForeignKey(
        Calendar,
        verbose_name=_("calendar"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="policies",
        help_text=_("Business hours the targets count in; empty means 24x7 in UTC."),
    )
    warn_ratio = models.FloatField(
        verbose_name=_("warn ratio"),
        default=0.75,
        help_text=_("A clock is at risk once this share of its target has elapsed (0 < r < 1)."),
    )

    updated_at = models.DateTimeField(
        verbose_name=_("updated at"),
        auto_now=True,
        help_text=_("Bumped on every change (targets too) so cached policies are reloaded."),
    )

    class Meta:
        ordering = ["position", "id"]
        verbose_name_plural = _("SLA policies")
        verbose_name = _("sla policy")

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        if not 0 < self.warn_ratio < 1:
            raise ValidationError(
                {"warn_ratio": _("The at-risk threshold must be between 0 and 1, e.g. 0.75.")}
            )


class SlaTarget(models.Model):
    policy = models.ForeignKey(
        SlaPolicy, verbose_name=_("policy"), on_delete=models.CASCADE, related_name="targets"
    )
    priority = models.CharField(verbose_name=_("priority"), max_length=16, choices=Priority.choices)
    first_reply_seconds = models.PositiveIntegerField(
        verbose_name=_("first reply seconds"), null=True, blank=True, help_text=_("Empty: no clock.")
    )
    next_reply_seconds = models.PositiveIntegerField(
        verbose_name=_("next reply seconds"), null=True, blank=True, help_text=_("Empty: no clock.")
    )
    resolution_seconds = models.PositiveIntegerField(
        verbose_name=_("resolution seconds"), null=True, blank=True, help_text=_("Empty: no clock.")
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["policy", "priority"], name="sla_target_unique_priority"),
            models.CheckConstraint(
                condition=(Q(first_reply_seconds__isnull=True) | Q(first_reply_seconds__gt=0))
                & (Q(next_reply_seconds__isnull=True) | Q(next_reply_seconds__gt=0))
                & (Q(resolution_seconds__isnull=True) | Q(resolution_seconds__gt=0)),
                name="sla_target_positive",
            ),
        ]
        verbose_name = _("sla target")
        verbose_name_plural = _("sla targets")

    def __str__(self) -> str:
        return f"{self.policy} / {self.get_priority_display()}"

    def clean(self) -> None:
        errors = {
            name: _("A target must be a positive number of seconds; leave it empty for no clock.")
            for name in ("first_reply_seconds", "next_reply_seconds", "resolution_seconds")
            if getattr(self, name) is not None and getattr(self, name) <= 0
        }
        if errors:
            raise ValidationError(errors)


class RecomputeRun(models.Model):
    """One background recompute of open inquiries after a configuration change, with its progress,
    so that an admin sees how far a long one has got (the worker writes `done` as it goes)."""

    reason = models.CharField(
        verbose_name=_("reason"), max_length=200, help_text=_("What was changed, e.g. the policy's name.")
    )
    total = models.PositiveIntegerField(verbose_name=_("total"), help_text=_("Open inquiries to recompute."))
    done = models.PositiveIntegerField(
        verbose_name=_("done"), default=0, help_text=_("Inquiries recomputed so far.")
    )
    started_at = models.DateTimeField(verbose_name=_("started at"), default=dj_timezone.now)
    finished_at = models.DateTimeField(verbose_name=_("finished at"), null=True, blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(done__lte=models.F("total")), name="recompute_done_le_total")
        ]
        verbose_name = _("recompute run")
        verbose_name_plural = _("recompute runs")

    def __str__(self) -> str:
        return gettext("%(reason)s: %(done)s of %(total)s") % {
            "reason": self.reason,
            "done": words.number(self.done),
            "total": words.number(self.total),
        }
