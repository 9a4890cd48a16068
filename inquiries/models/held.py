"""Held messages: agents' replies and notes that arrived before the message they answer.

An import in file order, a later file or a later API call may bring a reply before its parent.
Such a reply is kept here, with the ids it waits for, instead of being refused; the recording
engine attaches it (records it through the same rules) as soon as one of those ids is stored
on its channel, and the expiry sweep gives up on it after `CSTRACKER_HELD_EXPIRY_DAYS`.
Customers' messages are never held: a customer waiting gets an inquiry and a clock at once.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from inquiries import words
from inquiries.models.choices import Direction
from inquiries.models.config import Channel
from inquiries.models.inquiries import Message


class HeldState(models.TextChoices):
    HELD = "held", _("Held: waits for its parent")
    ATTACHED = "attached", _("Attached: recorded when its parent arrived")
    EXPIRED = "expired", _("Expired: its parent never arrived")
    DISCARDED = "discarded", _("Discarded")


class WaitKind(models.TextChoices):
    MESSAGE = "message", _("Message id (In-Reply-To, References)")
    THREAD = "thread", _("Thread id")


class HeldMessage(models.Model):
    """One reply or note waiting for its parent; `incoming` is the message as it came."""

    # Not indexed alone: the unique (channel, external_id) starts with it.
    channel = models.ForeignKey(
        Channel,
        verbose_name=_("channel"),
        on_delete=models.PROTECT,
        related_name="held_messages",
        db_index=False,
    )
    external_id = models.CharField(
        verbose_name=_("external id"),
        max_length=255,
        help_text=_("The message's id on its channel; a second copy is a duplicate of this."),
    )
    direction = models.CharField(verbose_name=_("direction"), max_length=16, choices=Direction.choices)
    received_at = models.DateTimeField(
        verbose_name=_("received at"),
        help_text=_("When it counts as received: its clocks apply at this time when it is attached."),
    )
    incoming = models.JSONField(
        verbose_name=_("incoming"),
        help_text=_(
            "Every field of the message as it came (bytes in base64), recorded from this when "
            "its parent arrives."
        ),
    )
    state = models.CharField(
        verbose_name=_("state"), max_length=16, choices=HeldState.choices, default=HeldState.HELD
    )
    reason = models.CharField(
        verbose_name=_("reason"),
        max_length=500,
        blank=True,
        help_text=_("Why it expired or was discarded, or why a retry failed."),
    )
    held_at = models.DateTimeField(verbose_name=_("held at"), help_text=_("When it was held."))
    expires_at = models.DateTimeField(
        verbose_name=_("expires at"), help_text=_("Held until then; the expiry sweep then marks it expired.")
    )
    closed_at = models.DateTimeField(
        verbose_name=_("closed at"),
        null=True,
        blank=True,
        help_text=_("When it was attached, expired or discarded."),
    )
    message = models.ForeignKey(
        Message,
        verbose_name=_("message"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text=_("The message it became when attached."),
    )

    class Meta:
        ordering = ["received_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["channel", "external_id"], name="held_unique_external_id"),
        ]
        indexes = [
            # The expiry sweep: only what still waits.
            models.Index(fields=["expires_at"], name="held_expiry", condition=Q(state="held")),
        ]
        verbose_name = _("held message")
        verbose_name_plural = _("held messages")

    def __str__(self) -> str:
        return gettext("held %(direction)s %(message)s") % {
            "direction": words.in_sentence(self.get_direction_display()),
            "message": self.external_id,
        }


class HeldWait(models.Model):
    """One id a held message waits for on its channel: "who waits for these ids" is one
    indexed query on (channel, external_id)."""

    held = models.ForeignKey(
        HeldMessage, verbose_name=_("held"), on_delete=models.CASCADE, related_name="waits"
    )
    channel = models.ForeignKey(
        Channel, verbose_name=_("channel"), on_delete=models.CASCADE, related_name="+", db_index=False
    )
    external_id = models.CharField(
        verbose_name=_("external id"), max_length=255, help_text=_("A message id, or a thread id (kind).")
    )
    kind = models.CharField(
        verbose_name=_("kind"), max_length=16, choices=WaitKind.choices, default=WaitKind.MESSAGE
    )

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["channel", "external_id"], name="held_wait_lookup")]
        verbose_name = _("held wait")
        verbose_name_plural = _("held waits")

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.external_id}"
