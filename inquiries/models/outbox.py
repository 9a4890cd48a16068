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

from typing import TYPE_CHECKING

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone as dj_timezone
from django.utils.translation import gettext_lazy as _

from inquiries import outbound
from inquiries.models.choices import ChannelKind
from inquiries.models.config import Channel
from inquiries.models.inquiries import Message

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise


class ReplyWebhook(models.Model):
    """Where the replies of one API channel are offered: a URL and the secret that signs them.

    The secret is never stored in clear: the name of an environment variable, or a Fernet token
    (`inquiries.secrets`).
    """

    channel = models.OneToOneField(
        Channel,
        verbose_name=_("channel"),
        on_delete=models.CASCADE,
        related_name="reply_webhook",
        limit_choices_to=~Q(kind=ChannelKind.EMAIL),
        help_text=_("The API (or CSV, webhook) channel whose replies are offered to this URL."),
    )
    url = models.URLField(
        verbose_name=_("url"),
        max_length=500,
        help_text=_("Receives a signed JSON POST `reply.created` for each reply written on the channel."),
    )
    secret_env = models.CharField(
        verbose_name=_("secret env"),
        max_length=128,
        blank=True,
        help_text=_("Name of the environment variable holding the signing secret; used when set."),
    )
    secret_encrypted = models.TextField(verbose_name=_("secret encrypted"), blank=True, editable=False)
    is_active = models.BooleanField(
        verbose_name=_("is active"), default=True, help_text=_("Inactive: replies wait in the outbox only.")
    )
    last_success_at = models.DateTimeField(
        verbose_name=_("last success at"), null=True, blank=True, editable=False
    )
    last_error = models.TextField(
        verbose_name=_("last error"),
        blank=True,
        editable=False,
        help_text=_("The last refused or failed offer and why."),
    )

    class Meta:
        ordering = ["channel"]
        verbose_name = _("reply webhook")
        verbose_name_plural = _("reply webhooks")

    def __str__(self) -> str:
        return f"reply.created -> {self.url} ({self.channel})"

    @property
    def has_secret(self) -> bool:
        return bool(self.secret_env or self.secret_encrypted)

    def clean(self) -> None:
        errors: dict[str, StrOrPromise] = {}
        if self.channel_id and self.channel.kind == ChannelKind.EMAIL:
            errors["channel"] = _("E-mail channels send their replies by SMTP: pick an API channel.")
        try:
            outbound.check_webhook_url(self.url)
        except ValueError as exc:
            errors["url"] = str(exc)
        if self.secret_env and not self.secret_env.replace("_", "").isalnum():
            errors["secret_env"] = _("An environment variable name: letters, digits and underscores.")
        if errors:
            raise ValidationError(errors)


class OutboxOffer(models.Model):
    """One reply's `reply.created` POST: the claim that keeps it single, attempts, outcome."""

    class State(models.TextChoices):
        PENDING = "pending", _("Pending")
        SENDING = "sending", _("Sending")
        OFFERED = "offered", _("Offered (the receiver answered 2xx)")
        FAILED = "failed", _("Failed (gave up; the reply waits in the outbox)")

    message = models.OneToOneField(
        Message, verbose_name=_("message"), on_delete=models.CASCADE, related_name="outbox_offer"
    )
    webhook = models.ForeignKey(
        ReplyWebhook, verbose_name=_("webhook"), on_delete=models.CASCADE, related_name="offers"
    )
    state = models.CharField(
        verbose_name=_("state"), max_length=16, choices=State.choices, default=State.PENDING
    )
    attempts = models.PositiveIntegerField(verbose_name=_("attempts"), default=0)
    last_status_code = models.PositiveIntegerField(verbose_name=_("last status code"), null=True, blank=True)
    last_error = models.TextField(verbose_name=_("last error"), blank=True)
    created_at = models.DateTimeField(verbose_name=_("created at"), default=dj_timezone.now, editable=False)
    next_attempt_at = models.DateTimeField(
        verbose_name=_("next attempt at"),
        default=dj_timezone.now,
        help_text=_("When the next attempt is due; a task lost before it is re-queued."),
    )
    lease_until = models.DateTimeField(
        verbose_name=_("lease until"),
        null=True,
        blank=True,
        help_text=_("An attempt in progress holds the offer until then."),
    )
    offered_at = models.DateTimeField(verbose_name=_("offered at"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("outbox offer")
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                name="outbox_offer_unfinished",
                condition=Q(state__in=["pending", "sending"]),
            )
        ]
        verbose_name_plural = _("outbox offers")

    def __str__(self) -> str:
        return f"{self.get_state_display()} {self.message_id}"


class IdempotencyKey(models.Model):
    """The stored answer to one user's POST with an `Idempotency-Key`; expires after
    `CSTRACKER_IDEMPOTENCY_HOURS`. `status_code` is empty while the first request runs."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("user"), on_delete=models.CASCADE, related_name="+"
    )
    key = models.CharField(verbose_name=_("key"), max_length=255)
    fingerprint = models.CharField(
        verbose_name=_("fingerprint"), max_length=64, help_text=_("SHA-256 of the method, path and body.")
    )
    status_code = models.PositiveSmallIntegerField(verbose_name=_("status code"), null=True, blank=True)
    response = models.JSONField(verbose_name=_("response"), null=True, blank=True)
    language = models.CharField(
        verbose_name=_("language"),
        max_length=10,
        blank=True,
        help_text=_("The language the stored answer is written in; a replay says so in Content-Language."),
    )
    created_at = models.DateTimeField(verbose_name=_("created at"), default=dj_timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "key"], name="idempotency_key_once")]
        indexes = [models.Index(fields=["created_at"], name="idempotency_key_age")]
        verbose_name = _("idempotency key")
        verbose_name_plural = _("idempotency keys")

    def __str__(self) -> str:
        return self.key
