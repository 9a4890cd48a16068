"""A person's own settings for the pages: how dense the queue is, which zone times read in."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from inquiries.models.config import validate_timezone


class Density(models.TextChoices):
    COMFORTABLE = "comfortable", "Comfortable (preview line)"
    COMPACT = "compact", "Compact (one line per inquiry)"


class UserPreference(models.Model):
    """One row per user who changed a setting; without one, the defaults apply."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="preference")
    density = models.CharField(
        max_length=16,
        choices=Density.choices,
        default=Density.COMFORTABLE,
        help_text="How the queue lists inquiries: with the customer's latest words, or one line each.",
    )
    time_zone = models.CharField(
        max_length=64,
        blank=True,
        validators=[validate_timezone],
        help_text="Where this person's own times (notifications) are shown; empty means the server's zone.",
    )

    def __str__(self) -> str:
        return f"Page settings of {self.user}"

    @property
    def zone(self) -> str:
        return self.time_zone or settings.TIME_ZONE
