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
from django.utils.translation import gettext_lazy as _

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
        max_length=16,
        choices=Marketplace.choices,
        unique=True,
        help_text="The marketplace these rules apply to.",
    )
    name = models.CharField(max_length=100, help_text="Shown on the health page.")
    reply_target_seconds = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="The marketplace's reply deadline in seconds (Amazon 86400 = 24 h). Empty: no marketplace "
        "rule, the late rate is first-reply compliance against the account's SLA policy.",
    )
    reply_business_days_only = models.BooleanField(
        default=False,
        help_text="Calendar rule: off counts calendar time, weekends and holidays included "
        "(Amazon, Walmart); "
        "on counts Monday to Friday in the account's time zone (eBay's business days).",
    )
    reply_rule = models.TextField(blank=True, help_text="The rule in the marketplace's words, for people.")
    rate_name = models.CharField(
        max_length=100,
        help_text="The marketplace's name for the late-response metric, e.g. Late Response Rate.",
    )
    late_rate_windows = models.JSONField(
        default=list,
        help_text="Windows in days over which the late response rate is measured, e.g. [7, 30, 90].",
    )
    late_rate_target_percent = models.FloatField(
        help_text="Highest acceptable share of messages answered late or not at all, in percent (Amazon 10)."
    )
    at_risk_ratio = models.FloatField(
        default=0.8,
        help_text="A metric is 'at risk' once it reaches this share of its target (0.8: a 10% target is at "
        "risk from 8%); above the target it is 'critical'.",
    )
    response_p50_target_seconds = models.PositiveIntegerField(
        null=True, blank=True, help_text="Target for the median response time in seconds; empty for none."
    )
    response_p90_target_seconds = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="Target for the 90th percentile response time in seconds; empty for none.",
    )
    response_mean_target_seconds = models.PositiveIntegerField(
        null=True, blank=True, help_text="Target for the average response time in seconds; empty for none."
    )
    atoz_risk_hours = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        help_text="Amazon: an order-related message unanswered this long is an A-to-z claim risk (48). "
        "Empty: no A-to-z metric.",
    )
    atoz_critical_hours = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        help_text="Amazon: unanswered this long, an A-to-z claim can be granted (72); "
        "the metric is critical.",
    )
    message_rules = models.JSONField(
        default=list,
        blank=True,
        help_text="Reply targets per message type, tried in order; the first that matches a customer message "
        "sets its marketplace clock, the others keep the general target above. Each rule: "
        '{"name": "Regulator complaint", "target_seconds": 3600, "business_days": false, '
        '"senders": ["*@bbb.org"], "phrases": ["\\bAttorney General\\b"], "topics": ["refund"], '
        '"definition": "marketplace", "source": "https://..."}. Phrases are case-insensitive regular '
        "expressions searched in the subject and body; senders are domains or addresses (* matches any "
        "run of characters); topics are topic keys. A rule tests only the conditions it has, and needs "
        "at least one. Business days count Monday to Friday (the account's reply calendar, with its "
        "holidays, if it has one). Applies to messages recorded from a minute after saving.",
    )
    complaint_window_days = models.PositiveSmallIntegerField(
        default=30,
        help_text="Complaint rates (house indicators) count the inquiries opened in this many days.",
    )
    complaint_target_per_100_orders = models.FloatField(
        null=True,
        blank=True,
        help_text="House target, not a marketplace metric: highest acceptable complaints of one topic per "
        "100 orders (an early warning; the Order Defect Rate is computed from orders). Used when daily "
        "order volumes are known.",
    )
    complaint_target_per_100_inquiries = models.FloatField(
        null=True,
        blank=True,
        help_text="Highest acceptable complaints of one topic per 100 inquiries, used when no order "
        "volumes are known (a house default).",
    )
    cluster_at_risk_severity = models.PositiveSmallIntegerField(
        default=3, help_text="An open cluster of this severity or worse puts the account at risk (3 = high)."
    )
    cluster_critical_severity = models.PositiveSmallIntegerField(
        default=4, help_text="An open cluster of this severity makes the account critical (4 = critical)."
    )
    rating_healthy_from = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="Amazon Account Health Rating: healthy from this score (200)."
    )
    rating_at_risk_from = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        help_text="Amazon Account Health Rating: at risk from this score (100); below is critical.",
    )
    notes = models.TextField(blank=True, help_text="Where the targets come from; shown on the health page.")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
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
            errors["late_rate_windows"] = "Give a list of whole days between 1 and 365, e.g. [7, 30, 90]."
        if not 0 < self.at_risk_ratio < 1:
            errors["at_risk_ratio"] = "Must be between 0 and 1, e.g. 0.8."
        if not 0 <= self.late_rate_target_percent <= 100:
            errors["late_rate_target_percent"] = "A percentage between 0 and 100."
        if (self.atoz_risk_hours is None) != (self.atoz_critical_hours is None):
            errors["atoz_critical_hours"] = "Give both A-to-z thresholds, or neither."
        elif (
            self.atoz_risk_hours is not None
            and self.atoz_critical_hours is not None
            and self.atoz_critical_hours <= self.atoz_risk_hours
        ):
            errors["atoz_critical_hours"] = "Must be longer than the risk threshold (e.g. 72 after 48)."
        if self.cluster_critical_severity < self.cluster_at_risk_severity:
            errors["cluster_critical_severity"] = "Must not be below the at-risk severity."
        try:
            parse_message_rules(self.message_rules)
        except ValueError as error:
            errors["message_rules"] = str(error)
        if errors:
            raise ValidationError(errors)


class HealthSnapshot(models.Model):
    """An account's health numbers for one local day, written by beat; one row per (account, date)."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="health_snapshots")
    date = models.DateField(help_text="The day in the account's time zone.")
    as_of = models.DateTimeField(
        help_text="The instant computed: the end of the day, or the last refresh today."
    )
    status = models.CharField(max_length=16, choices=HealthStatus.choices)
    metrics = models.JSONField(
        default=list, help_text='[{"key", "value", "target", "status", "numerator", "denominator"}, ...]'
    )
    computed_at = models.DateTimeField(default=dj_timezone.now)

    class Meta:
        ordering = ["account", "date"]
        constraints = [
            models.UniqueConstraint(fields=["account", "date"], name="health_snapshot_unique_day"),
        ]

    def __str__(self) -> str:
        return f"{self.account_id} {self.date} {self.status}"


class OrderVolume(models.Model):
    """Orders an account received on one local day, imported by CSV or the API."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="order_volumes")
    date = models.DateField(help_text="The day in the account's time zone.")
    orders = models.PositiveIntegerField(help_text="Orders received that day.")
    updated_at = models.DateTimeField(default=dj_timezone.now)

    class Meta:
        ordering = ["account", "date"]
        constraints = [
            models.UniqueConstraint(fields=["account", "date"], name="order_volume_unique_day"),
        ]

    def __str__(self) -> str:
        return f"{self.account_id} {self.date}: {self.orders}"
