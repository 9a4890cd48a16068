"""Report digests: a manager's daily or weekly e-mail summary of the SLA reports."""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone as dj_timezone

from inquiries.models.config import Team, validate_timezone


class DigestFrequency(models.TextChoices):
    DAILY = "daily", "Daily"
    WEEKLY = "weekly", "Weekly"


class ReportSubscription(models.Model):
    """One digest e-mail a user receives; `last_sent_at` is claimed by a conditional UPDATE.

    A digest is due once the latest scheduled instant (local `hour`:00, on `weekday` for a
    weekly digest) is later than the last send (or the subscription's creation), so a beat
    that was down sends the missed digest once, late, and never twice.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="report_subscriptions"
    )
    frequency = models.CharField(
        max_length=16, choices=DigestFrequency.choices, default=DigestFrequency.DAILY,
        help_text="Daily covers the 24 hours before the send time; weekly the 7 days before it.",
    )
    hour = models.PositiveSmallIntegerField(
        default=8, validators=[MaxValueValidator(23)], help_text="Local hour (0-23) at which the digest is sent."
    )
    weekday = models.PositiveSmallIntegerField(
        default=0, validators=[MaxValueValidator(6)], help_text="Weekly digests only: 0 = Monday ... 6 = Sunday."
    )
    timezone = models.CharField(
        max_length=64, default="UTC", validators=[validate_timezone],
        help_text="IANA time zone of the send time and of the report's days.",
    )
    teams = models.ManyToManyField(
        Team, blank=True, related_name="+",
        help_text="The accounts of these teams, as far as the user may see them; empty means all the user's accounts.",
    )
    is_active = models.BooleanField(default=True, help_text="Inactive subscriptions are kept but not sent.")
    created_at = models.DateTimeField(default=dj_timezone.now, editable=False)
    last_sent_at = models.DateTimeField(
        null=True, blank=True, editable=False, help_text="When the last digest was claimed for sending."
    )

    class Meta:
        ordering = ["user_id", "frequency"]
        constraints = [
            models.UniqueConstraint(fields=["user", "frequency"], name="report_subscription_once_per_frequency"),
            models.CheckConstraint(condition=Q(hour__lte=23) & Q(weekday__lte=6), name="report_subscription_time"),
        ]

    def __str__(self) -> str:
        return f"{self.get_frequency_display()} report for {self.user}"
