"""E-mail channels: the mailbox we poll (IMAP), the server we send through (SMTP), inbound
webhooks from mail providers, the loop guard, and the delivery record of each reply we send.

Passwords and webhook secrets are never stored in clear: either the name of an environment
variable that holds them, or a Fernet token (`inquiries.secrets`). Nothing here shows them
back; `has_*` properties only say whether one is stored.
"""

from __future__ import annotations

import secrets as stdlib_secrets

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone as dj_timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from inquiries import outbound
from inquiries.models.choices import ChannelKind
from inquiries.models.config import Channel
from inquiries.models.inquiries import Message


class TlsMode(models.TextChoices):
    SSL = "ssl", _("TLS from the start (IMAPS 993, SMTPS 465)")
    STARTTLS = "starttls", _("STARTTLS (IMAP 143, submission 587)")
    NONE = "none", _("None: plain text (only for a server on this machine)")


class MailboxConfig(models.Model):
    """The IMAP mailbox of an e-mail channel, the SMTP server its replies leave by, and polling state.

    Polling is by UID: `last_uid` is the highest UID imported while the folder's UIDVALIDITY
    was `uidvalidity`. When the server reports another UIDVALIDITY the UIDs mean nothing any
    more, so the folder is read again from the start and (channel, Message-ID) dedupe keeps
    anything from being imported twice.
    """

    channel = models.OneToOneField(
        Channel,
        verbose_name=_("channel"),
        on_delete=models.CASCADE,
        related_name="mailbox",
        limit_choices_to={"kind": ChannelKind.EMAIL},
        help_text=_("The e-mail channel whose messages arrive in this mailbox."),
    )
    is_enabled = models.BooleanField(
        verbose_name=_("is enabled"), default=True, help_text=_("Disabled mailboxes are not polled.")
    )

    # --- IMAP ---
    imap_host = models.CharField(
        verbose_name=_("IMAP host"),
        max_length=255,
        blank=True,
        help_text=_("IMAP server, e.g. imap.example.com."),
    )
    imap_port = models.PositiveIntegerField(
        verbose_name=_("IMAP port"),
        default=993,
        validators=[MinValueValidator(1), MaxValueValidator(65535)],
        help_text=_("993 for TLS, 143 for STARTTLS."),
    )
    imap_tls = models.CharField(
        verbose_name=_("IMAP TLS"),
        max_length=16,
        choices=TlsMode.choices,
        default=TlsMode.SSL,
        help_text=_("How the connection is encrypted."),
    )
    imap_username = models.CharField(
        verbose_name=_("IMAP username"),
        max_length=255,
        blank=True,
        help_text=_("Login name, often the mailbox address."),
    )
    imap_folder = models.CharField(
        verbose_name=_("IMAP folder"),
        max_length=255,
        default="INBOX",
        help_text=_("The folder to import from."),
    )
    read_sent_folder = models.BooleanField(
        verbose_name=_("read sent folder"),
        default=True,
        help_text=_(
            "Also read the mailbox's sent folder: the seller's own replies sent from a mail client that "
            "thread to a conversation count as replies at their Date. Sent mail that threads to nothing is skipped."
        ),
    )
    sent_folder = models.CharField(
        verbose_name=_("sent folder"),
        max_length=255,
        blank=True,
        help_text=_(
            "The sent folder's name. Empty: the folder the server flags \\Sent (RFC 6154 special use), "
            "else one named Sent, Sent Items or Sent Messages."
        ),
    )
    imap_password_env = models.CharField(
        verbose_name=_("IMAP password env"),
        max_length=128,
        blank=True,
        help_text=_(
            "Name of the environment variable holding the IMAP password. When set, it is used and any "
            "stored password is dropped."
        ),
    )
    imap_password_encrypted = models.TextField(
        verbose_name=_("IMAP password encrypted"), blank=True, editable=False
    )
    batch_size = models.PositiveIntegerField(
        verbose_name=_("batch size"),
        default=50,
        validators=[MinValueValidator(1), MaxValueValidator(1000)],
        help_text=_("At most this many messages are imported per poll; the rest follow on the next polls."),
    )
    mark_seen = models.BooleanField(
        verbose_name=_("mark seen"),
        default=False,
        help_text=_("Set the \\Seen flag on imported messages. Off: the mailbox's flags are left alone."),
    )

    # --- SMTP ---
    smtp_host = models.CharField(
        verbose_name=_("SMTP host"),
        max_length=255,
        blank=True,
        help_text=_("SMTP server replies are sent through."),
    )
    smtp_port = models.PositiveIntegerField(
        verbose_name=_("SMTP port"),
        default=587,
        validators=[MinValueValidator(1), MaxValueValidator(65535)],
        help_text=_("587 for STARTTLS, 465 for TLS."),
    )
    smtp_tls = models.CharField(
        verbose_name=_("SMTP TLS"), max_length=16, choices=TlsMode.choices, default=TlsMode.STARTTLS
    )
    smtp_username = models.CharField(
        verbose_name=_("SMTP username"),
        max_length=255,
        blank=True,
        help_text=_("Empty: send without logging in."),
    )
    smtp_password_env = models.CharField(
        verbose_name=_("SMTP password env"),
        max_length=128,
        blank=True,
        help_text=_("Name of the environment variable holding the SMTP password."),
    )
    smtp_password_encrypted = models.TextField(
        verbose_name=_("SMTP password encrypted"), blank=True, editable=False
    )
    from_address = models.EmailField(
        verbose_name=_("from address"),
        blank=True,
        help_text=_("From address of replies; empty uses the channel's address."),
    )

    # --- polling state (read-only in the admin) ---
    uidvalidity = models.BigIntegerField(verbose_name=_("UIDVALIDITY"), null=True, blank=True, editable=False)
    last_uid = models.BigIntegerField(
        verbose_name=_("last UID"), default=0, editable=False, help_text=_("Highest UID imported.")
    )
    last_polled_at = models.DateTimeField(
        verbose_name=_("last polled at"), null=True, blank=True, editable=False
    )
    last_success_at = models.DateTimeField(
        verbose_name=_("last success at"), null=True, blank=True, editable=False
    )
    last_summary = models.TextField(
        verbose_name=_("last summary"),
        blank=True,
        editable=False,
        help_text=_("What the last successful poll did."),
    )
    last_error = models.TextField(
        verbose_name=_("last error"),
        blank=True,
        editable=False,
        help_text=_("Why the last poll failed; empty after a success."),
    )
    failures = models.PositiveIntegerField(
        verbose_name=_("failures"), default=0, editable=False, help_text=_("Failed polls in a row.")
    )
    next_attempt_at = models.DateTimeField(
        verbose_name=_("next attempt at"),
        null=True,
        blank=True,
        editable=False,
        help_text=_("After failures, the mailbox is not polled before this."),
    )
    lease_until = models.DateTimeField(
        verbose_name=_("lease until"),
        null=True,
        blank=True,
        editable=False,
        help_text=_("A poll in progress holds the mailbox until then."),
    )
    inflight_uid = models.BigIntegerField(
        verbose_name=_("inflight UID"),
        default=0,
        editable=False,
        help_text=_("The UID being imported; kept if the poll dies on it."),
    )
    inflight_attempts = models.PositiveSmallIntegerField(
        verbose_name=_("inflight attempts"),
        default=0,
        editable=False,
        help_text=_(
            "Polls that started on the in-flight UID; past the limit the message is set aside as failed."
        ),
    )
    failed_messages = models.PositiveIntegerField(
        verbose_name=_("failed messages"),
        default=0,
        editable=False,
        help_text=_("Messages set aside as failed (listed under Failed tasks)."),
    )
    # The sent folder's own polling state, as above.
    sent_uidvalidity = models.BigIntegerField(
        verbose_name=_("sent UIDVALIDITY"), null=True, blank=True, editable=False
    )
    sent_last_uid = models.BigIntegerField(
        verbose_name=_("sent last UID"),
        default=0,
        editable=False,
        help_text=_("Highest UID read from the sent folder."),
    )
    sent_inflight_uid = models.BigIntegerField(verbose_name=_("sent inflight UID"), default=0, editable=False)
    sent_inflight_attempts = models.PositiveSmallIntegerField(
        verbose_name=_("sent inflight attempts"), default=0, editable=False
    )

    class Meta:
        verbose_name_plural = _("mailboxes")
        verbose_name = _("mailbox")
        indexes = [models.Index(fields=["next_attempt_at"], name="mailbox_due", condition=Q(is_enabled=True))]

    def __str__(self) -> str:
        return f"{self.imap_username or '?'}@{self.imap_host or '?'} ({self.channel})"

    @property
    def has_imap_password(self) -> bool:
        return bool(self.imap_password_env or self.imap_password_encrypted)

    @property
    def has_smtp_password(self) -> bool:
        return bool(self.smtp_password_env or self.smtp_password_encrypted)

    @property
    def sender_address(self) -> str:
        return self.from_address or (self.channel.address if self.channel_id else "")

    def clean(self) -> None:
        errors: dict[str, str] = {}
        if self.channel_id and self.channel.kind != ChannelKind.EMAIL:
            errors["channel"] = gettext("Pick an e-mail channel.")
        if self.imap_host and not self.imap_username:
            errors["imap_username"] = gettext("The IMAP login name is required with an IMAP server.")
        if self.smtp_host and not self.sender_address:
            errors["from_address"] = gettext("Replies need a From address: set one here or on the channel.")
        for name in ("imap_host", "smtp_host"):
            try:
                outbound.check_literal_host(getattr(self, name))
            except ValueError as exc:
                errors[name] = str(exc)
        for field in ("imap_password_env", "smtp_password_env"):
            value = getattr(self, field)
            if value and not value.replace("_", "").isalnum():
                errors[field] = gettext("An environment variable name: letters, digits and underscores.")
        if errors:
            raise ValidationError(errors)


class SuspendedSender(models.Model):
    """A sender the loop guard stopped: their mail is still stored, as automatic, for review.

    Created when one address sends more than the limit within the window (a mail loop with
    an auto-responder, a misconfigured forwarder). Releasing it lets their mail start
    clocks again; what was held stays as it was.
    """

    channel = models.ForeignKey(
        Channel, verbose_name=_("channel"), on_delete=models.CASCADE, related_name="suspended_senders"
    )
    address = models.CharField(
        verbose_name=_("address"), max_length=320, help_text=_("The normalised sender address.")
    )
    reason = models.CharField(verbose_name=_("reason"), max_length=300)
    suspended_at = models.DateTimeField(verbose_name=_("suspended at"), default=dj_timezone.now)
    messages_held = models.PositiveIntegerField(
        verbose_name=_("messages held"),
        default=0,
        help_text=_("Messages stored as automatic since suspension."),
    )
    released_at = models.DateTimeField(verbose_name=_("released at"), null=True, blank=True)
    released_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("released by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    class Meta:
        verbose_name = _("suspended sender")
        verbose_name_plural = _("suspended senders")
        ordering = ["-suspended_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["channel", "address"],
                condition=Q(released_at__isnull=True),
                name="suspended_sender_active_once",
            )
        ]

    def __str__(self) -> str:
        return gettext("%(address)s on %(channel)s") % {"address": self.address, "channel": self.channel}

    @property
    def is_active(self) -> bool:
        return self.released_at is None


class OutgoingMail(models.Model):
    """One reply's trip through SMTP: the claim that makes sending idempotent, attempts, outcome.

    `Message.delivery_state` is what agents see (queued, sent, failed); this row is the
    sender's own bookkeeping. `sending` with an expired lease means a worker died mid-send:
    the reply is tried again (at least once delivery; the same Message-ID lets mail
    clients fold a rare duplicate).
    """

    class State(models.TextChoices):
        QUEUED = "queued", _("Queued")
        SENDING = "sending", _("Sending")
        SENT = "sent", _("Sent")
        FAILED = "failed", _("Failed")

    message = models.OneToOneField(
        Message, verbose_name=_("message"), on_delete=models.CASCADE, related_name="outgoing_mail"
    )
    state = models.CharField(
        verbose_name=_("state"), max_length=16, choices=State.choices, default=State.QUEUED
    )
    attempts = models.PositiveIntegerField(verbose_name=_("attempts"), default=0)
    lease_until = models.DateTimeField(verbose_name=_("lease until"), null=True, blank=True)
    next_attempt_at = models.DateTimeField(
        verbose_name=_("next attempt at"),
        null=True,
        blank=True,
        help_text=_("When the retry after a temporary failure is due."),
    )
    recipients = models.JSONField(verbose_name=_("recipients"), default=list, blank=True)
    last_error = models.TextField(verbose_name=_("last error"), blank=True)
    sent_at = models.DateTimeField(verbose_name=_("sent at"), null=True, blank=True)
    created_at = models.DateTimeField(verbose_name=_("created at"), default=dj_timezone.now, editable=False)
    updated_at = models.DateTimeField(verbose_name=_("updated at"), default=dj_timezone.now)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("outgoing mail")
        verbose_name_plural = _("outgoing mail")
        indexes = [
            models.Index(
                fields=["state", "updated_at"],
                name="outgoing_unfinished",
                condition=~Q(state__in=["sent", "failed"]),
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_state_display()} {self.message_id}"


def new_webhook_token() -> str:
    return stdlib_secrets.token_urlsafe(24)


class MailWebhook(models.Model):
    """An inbound-parse endpoint for a mail provider: /hooks/<provider>/<token>/.

    The secret is the provider's signing key (Mailgun), our shared HMAC secret (generic),
    or the HTTP basic-auth password written into the URL given to the provider (Postmark,
    SendGrid), which sign nothing over the body themselves.
    """

    class Provider(models.TextChoices):
        GENERIC = "generic", _("Generic signed JSON (X-Cstracker-Signature)")
        MAILGUN = "mailgun", _("Mailgun inbound route (signed form post)")
        POSTMARK = "postmark", _("Postmark inbound JSON (basic auth)")
        SENDGRID = "sendgrid", _("SendGrid Inbound Parse, raw MIME (basic auth)")

    channel = models.ForeignKey(
        Channel, verbose_name=_("channel"), on_delete=models.CASCADE, related_name="mail_webhooks"
    )
    provider = models.CharField(verbose_name=_("provider"), max_length=16, choices=Provider.choices)
    token = models.CharField(
        verbose_name=_("token"),
        max_length=64,
        unique=True,
        default=new_webhook_token,
        editable=False,
        help_text=_("The secret path segment of the URL."),
    )
    secret_env = models.CharField(
        verbose_name=_("secret env"),
        max_length=128,
        blank=True,
        help_text=_("Name of the environment variable holding the secret; used when set."),
    )
    secret_encrypted = models.TextField(verbose_name=_("secret encrypted"), blank=True, editable=False)
    is_active = models.BooleanField(verbose_name=_("is active"), default=True)
    last_received_at = models.DateTimeField(
        verbose_name=_("last received at"), null=True, blank=True, editable=False
    )
    last_error = models.TextField(
        verbose_name=_("last error"),
        blank=True,
        editable=False,
        help_text=_("The last refused delivery and why."),
    )
    created_at = models.DateTimeField(verbose_name=_("created at"), default=dj_timezone.now, editable=False)

    class Meta:
        verbose_name_plural = _("mail webhooks")
        ordering = ["channel", "provider"]
        verbose_name = _("mail webhook")

    def __str__(self) -> str:
        return f"{self.get_provider_display()} -> {self.channel}"

    @property
    def has_secret(self) -> bool:
        return bool(self.secret_env or self.secret_encrypted)

    @property
    def path(self) -> str:
        return f"/hooks/{self.provider}/{self.token}/"


class MailWebhookToken(models.Model):
    """Mailgun signs a one-time token, not the body: a token seen before with another body is a replay."""

    webhook = models.ForeignKey(
        MailWebhook, verbose_name=_("webhook"), on_delete=models.CASCADE, related_name="+"
    )
    token = models.CharField(verbose_name=_("token"), max_length=200)
    body_sha256 = models.CharField(verbose_name=_("body SHA-256"), max_length=64)
    received_at = models.DateTimeField(verbose_name=_("received at"), default=dj_timezone.now)

    class Meta:
        verbose_name = _("mail webhook token")
        verbose_name_plural = _("mail webhook tokens")
        constraints = [models.UniqueConstraint(fields=["webhook", "token"], name="mail_webhook_token_once")]
        indexes = [models.Index(fields=["received_at"], name="mail_webhook_token_age")]

    def __str__(self) -> str:
        return self.token
