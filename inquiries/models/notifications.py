"""Notifications, preferences, outgoing webhooks, escalation rules and failed tasks.

Each is keyed so it happens once per fact: one notification per (user, event), one
webhook delivery per (endpoint, event), one escalation per (rule, event).
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone as dj_timezone
from django.utils.translation import gettext_lazy as _

from inquiries import outbound
from inquiries.models.config import SlaPolicy, Team


class NotificationKind(models.TextChoices):
    CLOCK_AT_RISK = "clock_at_risk", _("Clock at risk")
    CLOCK_BREACHED = "clock_breached", _("Clock breached")
    CLUSTER = "cluster", _("Complaint cluster")
    ESCALATION = "escalation", _("Escalation")
    REPLY_NOT_DELIVERED = "reply_not_delivered", _("Reply not delivered")


class Notification(models.Model):
    """One in-app notification; e-mail copies are sent from it (immediately or in a digest)."""

    class EmailState(models.TextChoices):
        NONE = "", "No e-mail"
        PENDING = "pending", "Waiting for the digest"
        SENT = "sent", "Sent"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications")
    kind = models.CharField(max_length=32, choices=NotificationKind.choices)
    title = models.CharField(max_length=300)
    body = models.TextField(blank=True)
    url = models.CharField(max_length=500, blank=True)
    inquiry = models.ForeignKey(
        "inquiries.Inquiry", null=True, blank=True, on_delete=models.CASCADE, related_name="notifications"
    )
    event = models.ForeignKey(
        "inquiries.InquiryEvent",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="notifications",
    )
    dedupe_key = models.CharField(max_length=200, help_text="What this notifies about; unique per user.")
    created_at = models.DateTimeField(default=dj_timezone.now)
    read_at = models.DateTimeField(null=True, blank=True)
    email_state = models.CharField(max_length=16, choices=EmailState.choices, default="", blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["user", "dedupe_key"], name="notification_once_per_user"),
        ]
        indexes = [
            models.Index(
                fields=["user", "created_at"], name="notification_unread", condition=models.Q(read_at=None)
            ),
            models.Index(
                fields=["user", "created_at"],
                name="notification_email_pending",
                condition=models.Q(email_state="pending"),
            ),
        ]

    def __str__(self) -> str:
        return self.title


class NotificationPreference(models.Model):
    class EmailMode(models.TextChoices):
        OFF = "off", _("No e-mail")
        IMMEDIATE = "immediate", _("One e-mail per notification")
        DIGEST = "digest", _("A summary every N minutes")

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notification_preference"
    )
    in_app = models.BooleanField(default=True, help_text=_("Show notifications under the bell."))
    email_mode = models.CharField(max_length=16, choices=EmailMode.choices, default=EmailMode.DIGEST)
    digest_minutes = models.PositiveIntegerField(
        default=30, help_text=_("How often a digest is sent, in minutes.")
    )
    kinds = models.JSONField(
        default=list,
        blank=True,
        help_text='Kinds to receive; empty means all. e.g. ["clock_breached", "cluster"].',
    )
    last_digest_at = models.DateTimeField(null=True, blank=True, editable=False)

    def __str__(self) -> str:
        return f"Preferences of {self.user}"

    def clean(self) -> None:
        if self.digest_minutes < 5:
            raise ValidationError({"digest_minutes": _("A digest at most every 5 minutes.")})

    def wants(self, kind: str) -> bool:
        return not self.kinds or kind in self.kinds


class WebhookEndpoint(models.Model):
    name = models.CharField(max_length=100, help_text="For people reading the delivery log.")
    url = models.URLField(max_length=500, help_text="Receives a JSON POST per event.")
    secret = models.CharField(
        max_length=200,
        help_text="Shared secret: each request carries X-Cstracker-Signature: t=<unix time>,v1=<hex HMAC-SHA256 "
        "of '<t>.<raw body>'>. Receivers should reject timestamps older than 5 minutes.",
    )
    kinds = models.JSONField(
        default=list, blank=True, help_text="Notification kinds to send; empty means all."
    )
    teams = models.ManyToManyField(
        Team, blank=True, help_text="Only events of these teams' accounts; empty: all."
    )
    is_active = models.BooleanField(default=True)

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        # The address is checked again at every connection (inquiries/outbound.py); this
        # catches what can never work while the admin is still on the form.
        try:
            outbound.check_webhook_url(self.url)
        except ValueError as exc:
            raise ValidationError({"url": str(exc)}) from None


class WebhookDelivery(models.Model):
    class State(models.TextChoices):
        PENDING = "pending", "Pending"
        SENDING = "sending", "Sending"
        DELIVERED = "delivered", "Delivered"
        FAILED = "failed", "Failed (gave up)"

    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries")
    dedupe_key = models.CharField(max_length=200)
    payload = models.JSONField()
    state = models.CharField(max_length=16, choices=State.choices, default=State.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    last_status_code = models.PositiveIntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=dj_timezone.now)
    next_attempt_at = models.DateTimeField(default=dj_timezone.now)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "webhook deliveries"
        constraints = [
            models.UniqueConstraint(fields=["endpoint", "dedupe_key"], name="webhook_delivery_once"),
        ]
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                name="webhook_delivery_due",
                condition=models.Q(state__in=["pending", "sending"]),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.endpoint} {self.dedupe_key} {self.state}"


class EscalationRule(models.Model):
    class Trigger(models.TextChoices):
        AT_RISK = "clock_at_risk", "Clock at risk"
        BREACHED = "clock_breached", "Clock breached"

    name = models.CharField(max_length=100)
    is_active = models.BooleanField(default=True)
    trigger = models.CharField(max_length=32, choices=Trigger.choices)
    clock_kinds = models.JSONField(
        default=list,
        blank=True,
        help_text='Clock kinds, e.g. ["first_reply", "marketplace_reply"]; empty: all.',
    )
    policy = models.ForeignKey(
        SlaPolicy, null=True, blank=True, on_delete=models.CASCADE, help_text="Only inquiries on this policy."
    )
    team = models.ForeignKey(
        Team,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
        help_text="Only inquiries of this team's accounts.",
    )
    notify_assignee = models.BooleanField(default=True)
    notify_managers = models.BooleanField(default=False, help_text="The managers of the account's teams.")
    reassign_to_team = models.ForeignKey(
        Team,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="Move the inquiry to this team and clear the assignee.",
    )
    raise_priority = models.BooleanField(default=False, help_text="One step up, at most urgent.")

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class EscalationAction(models.Model):
    """The log that makes each rule act once per clock transition."""

    rule = models.ForeignKey(EscalationRule, on_delete=models.CASCADE, related_name="actions")
    event = models.ForeignKey("inquiries.InquiryEvent", on_delete=models.CASCADE, related_name="+")
    acted_at = models.DateTimeField(default=dj_timezone.now)
    summary = models.CharField(max_length=300, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["rule", "event"], name="escalation_once_per_event")]

    def __str__(self) -> str:
        return f"{self.rule} on {self.event_id}"


class FailedTask(models.Model):
    """A task that failed for good (retries exhausted); shown to admins, the queue moves on."""

    task_name = models.CharField(max_length=200)
    task_id = models.CharField(max_length=200, unique=True)
    args = models.JSONField(default=list, blank=True)
    error = models.TextField()
    failed_at = models.DateTimeField(default=dj_timezone.now)
    resolved = models.BooleanField(default=False)

    class Meta:
        ordering = ["-failed_at"]

    def __str__(self) -> str:
        return f"{self.task_name} {self.task_id}"
