"""Notifications, preferences, outgoing webhooks, escalation rules and failed tasks.

Each is keyed so it happens once per fact: one notification per (user, event), one
webhook delivery per (endpoint, event), one escalation per (rule, event).
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone as dj_timezone
from django.utils.translation import gettext
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
        NONE = "", _("No e-mail")
        PENDING = "pending", _("Waiting for the digest")
        SENT = "sent", _("Sent")

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("user"),
        on_delete=models.CASCADE,
        related_name="notifications",
    )
    kind = models.CharField(verbose_name=_("kind"), max_length=32, choices=NotificationKind.choices)
    title = models.CharField(verbose_name=_("title"), max_length=300)
    body = models.TextField(verbose_name=_("body"), blank=True)
    url = models.CharField(verbose_name=_("url"), max_length=500, blank=True)
    inquiry = models.ForeignKey(
        "inquiries.Inquiry",
        verbose_name=_("inquiry"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="notifications",
    )
    event = models.ForeignKey(
        "inquiries.InquiryEvent",
        verbose_name=_("event"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="notifications",
    )
    dedupe_key = models.CharField(
        verbose_name=_("dedupe key"),
        max_length=200,
        help_text=_("What this notifies about; unique per user."),
    )
    created_at = models.DateTimeField(verbose_name=_("created at"), default=dj_timezone.now)
    read_at = models.DateTimeField(verbose_name=_("read at"), null=True, blank=True)
    email_state = models.CharField(
        verbose_name=_("email state"), max_length=16, choices=EmailState.choices, default="", blank=True
    )

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
        verbose_name = _("notification")
        verbose_name_plural = _("notifications")

    def __str__(self) -> str:
        return self.title


class NotificationPreference(models.Model):
    class EmailMode(models.TextChoices):
        OFF = "off", _("No e-mail")
        IMMEDIATE = "immediate", _("One e-mail per notification")
        DIGEST = "digest", _("A summary every N minutes")

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        verbose_name=_("user"),
        on_delete=models.CASCADE,
        related_name="notification_preference",
    )
    in_app = models.BooleanField(
        verbose_name=_("in app"), default=True, help_text=_("Show notifications under the bell.")
    )
    email_mode = models.CharField(
        verbose_name=_("email mode"), max_length=16, choices=EmailMode.choices, default=EmailMode.DIGEST
    )
    digest_minutes = models.PositiveIntegerField(
        verbose_name=_("digest minutes"), default=30, help_text=_("How often a digest is sent, in minutes.")
    )
    kinds = models.JSONField(
        verbose_name=_("kinds"),
        default=list,
        blank=True,
        help_text=_('Kinds to receive; empty means all. e.g. ["clock_breached", "cluster"].'),
    )
    last_digest_at = models.DateTimeField(
        verbose_name=_("last digest at"), null=True, blank=True, editable=False
    )

    class Meta:
        verbose_name = _("notification preference")
        verbose_name_plural = _("notification preferences")

    def __str__(self) -> str:
        return gettext("Preferences of %(user)s") % {"user": self.user}

    def clean(self) -> None:
        if self.digest_minutes < 5:
            raise ValidationError({"digest_minutes": _("A digest at most every 5 minutes.")})

    def wants(self, kind: str) -> bool:
        return not self.kinds or kind in self.kinds


class WebhookEndpoint(models.Model):
    name = models.CharField(
        verbose_name=_("name"), max_length=100, help_text=_("For people reading the delivery log.")
    )
    url = models.URLField(
        verbose_name=_("url"), max_length=500, help_text=_("Receives a JSON POST per event.")
    )
    secret = models.CharField(
        verbose_name=_("secret"),
        max_length=200,
        help_text=_(
            "Shared secret: each request carries X-Cstracker-Signature: t=<unix time>,v1=<hex HMAC-SHA256 "
            "of '<t>.<raw body>'>. Receivers should reject timestamps older than 5 minutes."
        ),
    )
    kinds = models.JSONField(
        verbose_name=_("kinds"),
        default=list,
        blank=True,
        help_text=_("Notification kinds to send; empty means all."),
    )
    teams = models.ManyToManyField(
        Team,
        verbose_name=_("teams"),
        blank=True,
        help_text=_("Only events of these teams' accounts; empty: all."),
    )
    is_active = models.BooleanField(verbose_name=_("is active"), default=True)

    class Meta:
        verbose_name = _("webhook endpoint")
        verbose_name_plural = _("webhook endpoints")

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
        PENDING = "pending", _("Pending")
        SENDING = "sending", _("Sending")
        DELIVERED = "delivered", _("Delivered")
        FAILED = "failed", _("Failed (gave up)")

    endpoint = models.ForeignKey(
        WebhookEndpoint, verbose_name=_("endpoint"), on_delete=models.CASCADE, related_name="deliveries"
    )
    dedupe_key = models.CharField(verbose_name=_("dedupe key"), max_length=200)
    payload = models.JSONField(verbose_name=_("payload"))
    state = models.CharField(
        verbose_name=_("state"), max_length=16, choices=State.choices, default=State.PENDING
    )
    attempts = models.PositiveIntegerField(verbose_name=_("attempts"), default=0)
    last_status_code = models.PositiveIntegerField(verbose_name=_("last status code"), null=True, blank=True)
    last_error = models.TextField(verbose_name=_("last error"), blank=True)
    created_at = models.DateTimeField(verbose_name=_("created at"), default=dj_timezone.now)
    next_attempt_at = models.DateTimeField(verbose_name=_("next attempt at"), default=dj_timezone.now)
    delivered_at = models.DateTimeField(verbose_name=_("delivered at"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = _("webhook deliveries")
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
        verbose_name = _("webhook delivery")

    def __str__(self) -> str:
        return f"{self.endpoint} {self.dedupe_key} ({self.get_state_display()})"


class EscalationRule(models.Model):
    class Trigger(models.TextChoices):
        AT_RISK = "clock_at_risk", _("Clock at risk")
        BREACHED = "clock_breached", _("Clock breached")

    name = models.CharField(verbose_name=_("name"), max_length=100)
    is_active = models.BooleanField(verbose_name=_("is active"), default=True)
    trigger = models.CharField(verbose_name=_("trigger"), max_length=32, choices=Trigger.choices)
    clock_kinds = models.JSONField(
        verbose_name=_("clock kinds"),
        default=list,
        blank=True,
        help_text=_('Clock kinds, e.g. ["first_reply", "marketplace_reply"]; empty: all.'),
    )
    policy = models.ForeignKey(
        SlaPolicy,
        verbose_name=_("policy"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        help_text=_("Only inquiries on this policy."),
    )
    team = models.ForeignKey(
        Team,
        verbose_name=_("team"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
        help_text=_("Only inquiries of this team's accounts."),
    )
    notify_assignee = models.BooleanField(verbose_name=_("notify assignee"), default=True)
    notify_managers = models.BooleanField(
        verbose_name=_("notify managers"), default=False, help_text=_("The managers of the account's teams.")
    )
    reassign_to_team = models.ForeignKey(
        Team,
        verbose_name=_("reassign to team"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text=_("Move the inquiry to this team and clear the assignee."),
    )
    raise_priority = models.BooleanField(
        verbose_name=_("raise priority"), default=False, help_text=_("One step up, at most urgent.")
    )

    class Meta:
        ordering = ["name"]
        verbose_name = _("escalation rule")
        verbose_name_plural = _("escalation rules")

    def __str__(self) -> str:
        return self.name


class EscalationAction(models.Model):
    """The log that makes each rule act once per clock transition."""

    rule = models.ForeignKey(
        EscalationRule, verbose_name=_("rule"), on_delete=models.CASCADE, related_name="actions"
    )
    event = models.ForeignKey(
        "inquiries.InquiryEvent", verbose_name=_("event"), on_delete=models.CASCADE, related_name="+"
    )
    acted_at = models.DateTimeField(verbose_name=_("acted at"), default=dj_timezone.now)
    summary = models.CharField(verbose_name=_("summary"), max_length=300, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["rule", "event"], name="escalation_once_per_event")]
        verbose_name = _("escalation action")
        verbose_name_plural = _("escalation actions")

    def __str__(self) -> str:
        return gettext("%(rule)s on event %(event)s") % {"rule": self.rule, "event": self.event_id}


class FailedTask(models.Model):
    """A task that failed for good (retries exhausted); shown to admins, the queue moves on."""

    task_name = models.CharField(verbose_name=_("task name"), max_length=200)
    task_id = models.CharField(verbose_name=_("task id"), max_length=200, unique=True)
    args = models.JSONField(verbose_name=_("args"), default=list, blank=True)
    error = models.TextField(verbose_name=_("error"))
    failed_at = models.DateTimeField(verbose_name=_("failed at"), default=dj_timezone.now)
    resolved = models.BooleanField(verbose_name=_("resolved"), default=False)

    class Meta:
        ordering = ["-failed_at"]
        verbose_name = _("failed task")
        verbose_name_plural = _("failed tasks")

    def __str__(self) -> str:
        return f"{self.task_name} {self.task_id}"
