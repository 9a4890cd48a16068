"""Replies on channels cstracker cannot send on itself (API, CSV, webhook): the outbox.

A reply written on such a channel stays `queued` until the integration reports it accepted
(`POST /api/v1/replies/{id}/delivered/`) or failed. The integration learns of it by polling
`GET /api/v1/outbox/` or, when the channel has a `ReplyWebhook`, from a signed `reply.created`
POST; `OutboxOffer` is that POST's bookkeeping, never the reply's state: a webhook that fails
leaves the reply queued in the outbox.

`IdempotencyKey` remembers the answer to a write-API POST sent with an `Idempotency-Key`
header, so that a client retrying after a lost answer gets the same answer, not a second write.
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone as dj_timezone

from inquiries import outbound
from inquiries.models.choices import ChannelKind
from inquiries.models.config import Channel
from inquiries.models.inquiries import Message


class ReplyWebhook(models.Model):
    """Where the replies of one API channel are offered: a URL and the secret that signs them.

    The secret is never stored in clear: the name of an environment variable, or a Fernet token
    (`inquiries.secrets`).
    """

    channel = models.OneToOneField(
        Channel,
        on_delete=models.CASCADE,
        related_name="reply_webhook",
        limit_choices_to=~Q(kind=ChannelKind.EMAIL),
        help_text="The API (or CSV, webhook) channel whose replies are offered to this URL.",
    )
    url = models.URLField(
        max_length=500,
        help_text="Receives a signed JSON POST `reply.created` for each reply written on the channel.",
    )
    secret_env = models.CharField(
        max_length=128,
        blank=True,
        help_text="Name of the environment variable holding the signing secret; used when set.",
    )
    secret_encrypted = models.TextField(blank=True, editable=False)
    is_active = models.BooleanField(default=True, help_text="Inactive: replies wait in the outbox only.")
    last_success_at = models.DateTimeField(null=True, blank=True, editable=False)
    last_error = models.TextField(
        blank=True, editable=False, help_text="The last refused or failed offer and why."
    )

    class Meta:
        ordering = ["channel"]
        verbose_name = "reply webhook"

    def __str__(self) -> str:
        return f"reply.created -> {self.url} ({self.channel})"

    @property
    def has_secret(self) -> bool:
        return bool(self.secret_env or self.secret_encrypted)

    def clean(self) -> None:
        errors: dict[str, str] = {}
        if self.channel_id and self.channel.kind == ChannelKind.EMAIL:
            errors["channel"] = "E-mail channels send their replies by SMTP: pick an API channel."
        try:
            outbound.check_webhook_url(self.url)
        except ValueError as exc:
            errors["url"] = str(exc)
        if self.secret_env and not self.secret_env.replace("_", "").isalnum():
            errors["secret_env"] = "An environment variable name: letters, digits and underscores."  # noqa: S105
        if errors:
            raise ValidationError(errors)


class OutboxOffer(models.Model):
    """One reply's `reply.created` POST: the claim that keeps it single, attempts, outcome."""

    class State(models.TextChoices):
        PENDING = "pending", "Pending"
        SENDING = "sending", "Sending"
        OFFERED = "offered", "Offered (the receiver answered 2xx)"
        FAILED = "failed", "Failed (gave up; the reply waits in the outbox)"

    message = models.OneToOneField(Message, on_delete=models.CASCADE, related_name="outbox_offer")
    webhook = models.ForeignKey(ReplyWebhook, on_delete=models.CASCADE, related_name="offers")
    state = models.CharField(max_length=16, choices=State.choices, default=State.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    last_status_code = models.PositiveIntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=dj_timezone.now, editable=False)
    next_attempt_at = models.DateTimeField(
        default=dj_timezone.now, help_text="When the next attempt is due; a task lost before it is re-queued."
    )
    lease_until = models.DateTimeField(
        null=True, blank=True, help_text="An attempt in progress holds the offer until then."
    )
    offered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "outbox offer"
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                name="outbox_offer_unfinished",
                condition=Q(state__in=["pending", "sending"]),
            )
        ]

    def __str__(self) -> str:
        return f"{self.state} {self.message_id}"


class IdempotencyKey(models.Model):
    """The stored answer to one user's POST with an `Idempotency-Key`; expires after
    `CSTRACKER_IDEMPOTENCY_HOURS`. `status_code` is empty while the first request runs."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    fingerprint = models.CharField(max_length=64, help_text="SHA-256 of the method, path and body.")
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    response = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(default=dj_timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "key"], name="idempotency_key_once")]
        indexes = [models.Index(fields=["created_at"], name="idempotency_key_age")]

    def __str__(self) -> str:
        return self.key
