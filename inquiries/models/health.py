"""Account health: marketplace presets (admin-edited data), daily snapshots, order volumes.

The health metrics themselves are computed from stored facts (messages, inquiries,
clusters) by `inquiries.selectors.health.metrics`; a snapshot only keeps the numbers of one day so
the trend chart needs no recomputation.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone as dj_timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from inquiries import words
from inquiries.models import names
from inquiries.models.choices import Marketplace
from inquiries.models.config import Account
from inquiries.sla.presets import parse_message_rules


class HealthStatus(models.TextChoices):
    NO_DATA = "no_data", _("No data")
    HEALTHY = "healthy", _("Healthy")
    AT_RISK = "at_risk", _("At risk")
    CRITICAL = "critical", _("Critical")


class MarketplacePreset(models.Model):
    """One marketplace's reply rule and health targets (DESIGN section 4), seeded from the facts."""

    marketplace = models.CharField(
        verbose_name=_("marketplace"),
        max_length=16,
        choices=Marketplace.choices,
        unique=True,
        help_text=_("The marketplace these rules apply to."),
    )
    name = models.CharField(verbose_name=_("name"), max_length=100, help_text=_("Shown on the health page."))
    reply_target_seconds = models.PositiveIntegerField(
        verbose_name=_("reply target seconds"),
        null=True,
        blank=True,
        help_text=_(
            "The marketplace's reply deadline in seconds (Amazon 86400 = 24 h). Empty: no marketplace "
            "rule, the late rate is first-reply compliance against the account's SLA policy."
        ),
    )
    reply_business_days_only = models.BooleanField(
        verbose_name=_("reply business days only"),
        default=False,
        help_text=_(
            "Calendar rule: off counts calendar time, weekends and holidays included "
            "(Amazon, Walmart); "
            "on counts Monday to Friday in the account's time zone (eBay's business days)."
        ),
    )
    reply_rule = models.TextField(
        verbose_name=_("reply rule"),
        blank=True,
        help_text=_("The rule in the marketplace's words, for people."),
    )
    rate_name = models.CharField(
        verbose_name=_("rate name"),
        max_length=100,
        help_text=_("The marketplace's name for the late-response metric, e.g. Late Response Rate."),
    )
    late_rate_windows = models.JSONField(
        verbose_name=_("late rate windows"),
        default=list,
        help_text=_("Windows in days over which the late response rate is measured, e.g. [7, 30, 90]."),
    )
    late_rate_target_percent = models.FloatField(
        verbose_name=_("late rate target percent"),
        help_text=_(
            "Highest acceptable share of messages answered late or not at all, in percent (Amazon 10)."
        ),
    )
    at_risk_ratio = models.FloatField(
        verbose_name=_("at risk ratio"),
        default=0.8,
        help_text=_(
            "A metric is 'at risk' once it reaches this share of its target (0.8: a 10% target is at "
            "risk from 8%); above the target it is 'critical'."
        ),
    )
    response_p50_target_seconds = models.PositiveIntegerField(
        verbose_name=_("response p50 target seconds"),
        null=True,
        blank=True,
        help_text=_("Target for the median response time in seconds; empty for none."),
    )
    response_p90_target_seconds = models.PositiveIntegerField(
        verbose_name=_("response p90 target seconds"),
        null=True,
        blank=True,
        help_text=_("Target for the 90th percentile response time in seconds; empty for none."),
    )
    response_mean_target_seconds = models.PositiveIntegerField(
        verbose_name=_("response mean target seconds"),
        null=True,
        blank=True,
        help_text=_("Target for the average response time in seconds; empty for none."),
    )
    atoz_risk_hours = models.PositiveSmallIntegerField(
        verbose_name=_("A-to-z risk hours"),
        null=True,
        blank=True,
        help_text=_(
            "Amazon: an order-related message unanswered this long is an A-to-z claim risk (48). "
            "Empty: no A-to-z metric."
        ),
    )
    atoz_critical_hours = models.PositiveSmallIntegerField(
        verbose_name=_("A-to-z critical hours"),
        null=True,
        blank=True,
        help_text=_(
            "Amazon: unanswered this long, an A-to-z claim can be granted (72); the metric is critical."
        ),
    )
    message_rules = models.JSONField(
        verbose_name=_("message rules"),
        default=list,
        blank=True,
        help_text=_(
            "Reply targets per message type, tried in order; the first that matches a customer message "
            "sets its marketplace clock, the others keep the general target above. Each rule: "
            '{"name": "Regulator complaint", "target_seconds": 3600, "business_days": false, '
            '"senders": ["*@bbb.org"], "phrases": ["\\bAttorney General\\b"], "topics": ["refund"], '
            '"definition": "marketplace", "source": "https://..."}. Phrases are case-insensitive regular '
            "expressions searched in the subject and body; senders are domains or addresses (* matches any "
            "run of characters); topics are topic keys. A rule tests only the conditions it has, and needs "
            "at least one. Business days count Monday to Friday (the account's reply calendar, with its "
            "holidays, if it has one). Applies to messages recorded from a minute after saving."
        ),
    )
    complaint_window_days = models.PositiveSmallIntegerField(
        verbose_name=_("complaint window days"),
        default=30,
        help_text=_("Complaint rates (house indicators) count the inquiries opened in this many days."),
    )
    complaint_target_per_100_orders = models.FloatField(
        verbose_name=_("complaint target per 100 orders"),
        null=True,
        blank=True,
        help_text=_(
            "House target, not a marketplace metric: highest acceptable complaints of one topic per "
            "100 orders (an early warning; the Order Defect Rate is computed from orders). Used when daily "
            "order volumes are known."
        ),
    )
    complaint_target_per_100_inquiries = models.FloatField(
        verbose_name=_("complaint target per 100 inquiries"),
        null=True,
        blank=True,
        help_text=_(
            "Highest acceptable complaints of one topic per 100 inquiries, used when no order "
            "volumes are known (a house default)."
        ),
    )
    cluster_at_risk_severity = models.PositiveSmallIntegerField(
        verbose_name=_("cluster at risk severity"),
        default=3,
        help_text=_("An open cluster of this severity or worse puts the account at risk (3 = high)."),
    )
    cluster_critical_severity = models.PositiveSmallIntegerField(
        verbose_name=_("cluster critical severity"),
        default=4,
        help_text=_("An open cluster of this severity makes the account critical (4 = critical)."),
    )
    rating_healthy_from = models.PositiveSmallIntegerField(
        verbose_name=_("rating healthy from"),
        null=True,
        blank=True,
        help_text=_("Amazon Account Health Rating: healthy from this score (200)."),
    )
    rating_at_risk_from = models.PositiveSmallIntegerField(
        verbose_name=_("rating at risk from"),
        null=True,
        blank=True,
        help_text=_("Amazon Account Health Rating: at risk from this score (100); below is critical."),
    )
    notes = models.TextField(
        verbose_name=_("notes"),
        blank=True,
        help_text=_("Where the targets come from; shown on the health page."),
    )
    updated_at = models.DateTimeField(verbose_name=_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("marketplace preset")
        verbose_name_plural = _("marketplace presets")
        ordering = ["marketplace"]
        constraints = [
            models.CheckConstraint(
                condition=Q(at_risk_ratio__gt=0) & Q(at_risk_ratio__lt=1), name="preset_at_risk_ratio_0_1"
            ),
            models.CheckConstraint(
                condition=Q(late_rate_target_percent__gte=0) & Q(late_rate_target_percent__lte=100),
                name="preset_late_target_percent",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        errors: dict[str, str] = {}
        windows = self.late_rate_windows
        if (
            not isinstance(windows, list)
            or not windows
            or not all(isinstance(d, int) and not isinstance(d, bool) and 1 <= d <= 365 for d in windows)
        ):
            errors["late_rate_windows"] = gettext(
                "Give a list of whole days between 1 and 365, e.g. [7, 30, 90]."
            )
        if not 0 < self.at_risk_ratio < 1:
            errors["at_risk_ratio"] = gettext("Must be between 0 and 1, e.g. 0.8.")
        if not 0 <= self.late_rate_target_percent <= 100:
            errors["late_rate_target_percent"] = gettext("A percentage between 0 and 100.")
        if (self.atoz_risk_hours is None) != (self.atoz_critical_hours is None):
            errors["atoz_critical_hours"] = gettext("Give both A-to-z thresholds, or neither.")
        elif (
            self.atoz_risk_hours is not None
            and self.atoz_critical_hours is not None
            and self.atoz_critical_hours <= self.atoz_risk_hours
        ):
            errors["atoz_critical_hours"] = gettext(
                "Must be longer than the risk threshold (e.g. 72 after 48)."
            )
        if self.cluster_critical_severity < self.cluster_at_risk_severity:
            errors["cluster_critical_severity"] = gettext("Must not be below the at-risk severity.")
        try:
            parse_message_rules(self.message_rules)
        except ValueError as error:
            errors["message_rules"] = str(error)
        if errors:
            raise ValidationError(errors)


class HealthSnapshot(models.Model):
    """An account's health numbers for one local day, written by beat; one row per (account, date)."""

    account = models.ForeignKey(
        Account, verbose_name=_("account"), on_delete=models.CASCADE, related_name="health_snapshots"
    )
    date = models.DateField(verbose_name=_("date"), help_text=_("The day in the account's time zone."))
    as_of = models.DateTimeField(
        verbose_name=_("as of"),
        help_text=_("The instant computed: the end of the day, or the last refresh today."),
    )
    status = models.CharField(verbose_name=_("status"), max_length=16, choices=HealthStatus.choices)
    metrics = models.JSONField(
        verbose_name=_("metrics"),
        default=list,
        help_text=_('[{"key", "value", "target", "status", "numerator", "denominator"}, ...]'),
    )
    computed_at = models.DateTimeField(verbose_name=_("computed at"), default=dj_timezone.now)

    class Meta:
        verbose_name = _("health snapshot")
        verbose_name_plural = _("health snapshots")
        ordering = ["account", "date"]
        constraints = [
            models.UniqueConstraint(fields=["account", "date"], name="health_snapshot_unique_day"),
        ]

    def __str__(self) -> str:
        return f"{self.account_id} {names.day(self.date)}: {self.get_status_display()}"


class OrderVolume(models.Model):
    """Orders an account received on one local day, imported by CSV or the API."""

    account = models.ForeignKey(
        Account, verbose_name=_("account"), on_delete=models.CASCADE, related_name="order_volumes"
    )
    date = models.DateField(verbose_name=_("date"), help_text=_("The day in the account's time zone."))
    orders = models.PositiveIntegerField(verbose_name=_("orders"), help_text=_("Orders received that day."))
    updated_at = models.DateTimeField(verbose_name=_("updated at"), default=dj_timezone.now)

    class Meta:
        verbose_name = _("order volume")
        verbose_name_plural = _("order volumes")
        ordering = ["account", "date"]
        constraints = [
            models.UniqueConstraint(fields=["account", "date"], name="order_volume_unique_day"),
        ]

    def __str__(self) -> str:
        return f"{self.account_id} {names.day(self.date)}: {words.number(self.orders)}"
