"""SLA clocks: stored deadlines, indexed for the sweep."""

from __future__ import annotations

from datetime import datetime

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from inquiries import words
from inquiries.models.config import Calendar, SlaPolicy
from inquiries.models.inquiries import Inquiry, Message


class ClockKind(models.TextChoices):
    FIRST_REPLY = "first_reply", _("First reply")
    NEXT_REPLY = "next_reply", _("Next reply")
    RESOLUTION = "resolution", _("Resolution")
    MARKETPLACE_REPLY = "marketplace_reply", _("Marketplace reply")


class ClockState(models.TextChoices):
    RUNNING = "running", _("Running")
    AT_RISK = "at_risk", _("At risk")
    PAUSED = "paused", _("Paused")
    BREACHED = "breached", _("Breached")
    MET = "met", _("Met")
    MISSED = "missed", _("Missed")
    CANCELLED = "cancelled", _("Cancelled")


ACTIVE_CLOCK_STATES = (ClockState.RUNNING, ClockState.AT_RISK, ClockState.BREACHED)


class Clock(models.Model):
    # Not indexed alone: clock_inquiry_kind starts with it.
    inquiry = models.ForeignKey(
        Inquiry, verbose_name=_("inquiry"), on_delete=models.CASCADE, related_name="clocks", db_index=False
    )
    kind = models.CharField(verbose_name=_("kind"), max_length=32, choices=ClockKind.choices)
    state = models.CharField(
        verbose_name=_("state"), max_length=16, choices=ClockState.choices, default=ClockState.RUNNING
    )
    message = models.ForeignKey(
        Message,
        verbose_name=_("message"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="clocks",
        help_text=_("The customer message that started it (reply clocks)."),
    )
    policy = models.ForeignKey(
        SlaPolicy,
        verbose_name=_("policy"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="clocks",
    )
    calendar = models.ForeignKey(
        Calendar,
        verbose_name=_("calendar"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    target_seconds = models.PositiveIntegerField(verbose_name=_("target seconds"))
    rule_name = models.CharField(
        verbose_name=_("rule name"),
        max_length=100,
        blank=True,
        help_text=_(
            "Marketplace clocks: the preset's message rule that set the target (e.g. Regulator "
            "complaint); empty for the marketplace's general target."
        ),
    )
    warn_ratio = models.FloatField(verbose_name=_("warn ratio"), default=0.75)
    started_at = models.DateTimeField(verbose_name=_("started at"))
    due_at = models.DateTimeField(verbose_name=_("due at"))
    warn_at = models.DateTimeField(verbose_name=_("warn at"))
    stopped_at = models.DateTimeField(verbose_name=_("stopped at"), null=True, blank=True)
    paused_at = models.DateTimeField(verbose_name=_("paused at"), null=True, blank=True)
    paused_business_seconds = models.PositiveIntegerField(
        verbose_name=_("paused business seconds"),
        default=0,
        help_text=_("Business seconds spent paused (pending), added to the due time."),
    )
    breached_at = models.DateTimeField(verbose_name=_("breached at"), null=True, blank=True)
    elapsed_seconds = models.PositiveIntegerField(
        verbose_name=_("elapsed seconds"),
        null=True,
        blank=True,
        help_text=_("Business seconds when stopped."),
    )

    class Meta:
        ordering = ["started_at", "id"]
        indexes = [
            # The sweep's two queries: running clocks reaching warn_at, active ones reaching due_at.
            models.Index(fields=["warn_at"], name="clock_warn_running", condition=Q(state="running")),
            models.Index(
                fields=["due_at"], name="clock_due_active", condition=Q(state__in=["running", "at_risk"])
            ),
            models.Index(fields=["inquiry", "kind", "state"], name="clock_inquiry_kind"),
        ]
        verbose_name = _("clock")
        verbose_name_plural = _("clocks")

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {words.in_sentence(self.get_state_display())}"

    def remaining(self, now: datetime) -> float:
        return (self.due_at - now).total_seconds()
