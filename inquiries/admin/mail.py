"""Admin for e-mail channels: mailboxes (IMAP/SMTP), provider webhooks, the loop guard, outgoing mail.

Passwords and secrets are write-only: the form has an empty password field that replaces
the stored secret when filled, and the page only says whether one is stored.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext, gettext_lazy, ngettext

from inquiries import models as m
from inquiries import secrets
from inquiries.admin.base import ReadOnly, ScopedAdmin, secret_field
from inquiries.services import mail as mail_service
from inquiries.services import mailbox as mailbox_service

MAX_POLL_NOW = 10  # mailboxes polled inside one admin request


class MailboxForm(forms.ModelForm):
    imap_password = secret_field(gettext_lazy("IMAP password"))
    clear_imap_password = forms.BooleanField(
        required=False, label=gettext_lazy("Remove the stored IMAP password")
    )
    smtp_password = secret_field(gettext_lazy("SMTP password"))
    clear_smtp_password = forms.BooleanField(
        required=False, label=gettext_lazy("Remove the stored SMTP password")
    )

    class Meta:
        model = m.MailboxConfig
        fields = [
            "channel", "is_enabled", "imap_host", "imap_port", "imap_tls", "imap_username", "imap_folder",
            "imap_password_env", "batch_size", "mark_seen", "read_sent_folder", "sent_folder",
            "smtp_host", "smtp_port", "smtp_tls", "smtp_username", "smtp_password_env", "from_address",
        ]  # fmt: skip

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        for kind in ("imap", "smtp"):
            if data.get(f"{kind}_password") and data.get(f"{kind}_password_env"):
                self.add_error(
                    f"{kind}_password", gettext("Give a password or an environment variable name, not both.")
                )
        return data

    def save(self, commit: bool = True) -> m.MailboxConfig:
        mailbox = super().save(commit=False)
        for kind in ("imap", "smtp"):
            password = self.cleaned_data.get(f"{kind}_password")
            if password:
                setattr(mailbox, f"{kind}_password_encrypted", secrets.encrypt(password))
            elif self.cleaned_data.get(f"clear_{kind}_password") or getattr(mailbox, f"{kind}_password_env"):
                # An environment variable replaces a stored password: one source, no surprises.
                setattr(mailbox, f"{kind}_password_encrypted", "")
        if commit:
            mailbox.save()
            self.save_m2m()
        return mailbox


@admin.register(m.MailboxConfig)
class MailboxAdmin(ScopedAdmin):
    form = MailboxForm
    list_display = [
        "channel",
        "imap_host",
        "imap_username",
        "imap_folder",
        "is_enabled",
        "last_polled_at",
        "failures",
        "failed_messages",
        "short_error",
    ]
    list_filter = ["is_enabled"]
    list_select_related = ["channel"]
    search_fields = ["channel__slug", "imap_host", "imap_username", "smtp_host"]
    raw_id_fields = ["channel"]
    actions = ["poll_now"]
    readonly_fields = [
        "imap_password_stored",
        "smtp_password_stored",
        "uidvalidity",
        "last_uid",
        "sent_uidvalidity",
        "sent_last_uid",
        "last_polled_at",
        "last_success_at",
        "last_summary",
        "last_error",
        "failures",
        "next_attempt_at",
        "failed_messages",
    ]
    fieldsets = [
        (None, {"fields": ["channel", "is_enabled"]}),
        (
            gettext_lazy("IMAP (incoming)"),
            {
                "fields": [
                    "imap_host",
                    "imap_port",
                    "imap_tls",
                    "imap_username",
                    "imap_folder",
                    "imap_password_env",
                    "imap_password",
                    "imap_password_stored",
                    "clear_imap_password",
                    "batch_size",
                    "mark_seen",
                    "read_sent_folder",
                    "sent_folder",
                ]
            },
        ),
        (
            gettext_lazy("SMTP (replies)"),
            {
                "fields": [
                    "smtp_host",
                    "smtp_port",
                    "smtp_tls",
                    "smtp_username",
                    "smtp_password_env",
                    "smtp_password",
                    "smtp_password_stored",
                    "clear_smtp_password",
                    "from_address",
                ]
            },
        ),
        (
            gettext_lazy("Status"),
            {
                "fields": [
                    "last_polled_at",
                    "last_success_at",
                    "last_summary",
                    "last_error",
                    "failures",
                    "next_attempt_at",
                    "failed_messages",
                    "uidvalidity",
                    "last_uid",
                    "sent_uidvalidity",
                    "sent_last_uid",
                ]
            },
        ),
    ]

    @admin.display(description=gettext_lazy("stored IMAP password"), boolean=True)
    def imap_password_stored(self, obj: m.MailboxConfig) -> bool:
        return bool(obj.imap_password_encrypted)

    @admin.display(description=gettext_lazy("stored SMTP password"), boolean=True)
    def smtp_password_stored(self, obj: m.MailboxConfig) -> bool:
        return bool(obj.smtp_password_encrypted)

    @admin.display(description=gettext_lazy("last error"))
    def short_error(self, obj: m.MailboxConfig) -> str:
        return obj.last_error[:120]

    @admin.action(description=gettext_lazy("Poll now (ignores the backoff)"))
    def poll_now(self, request: HttpRequest, queryset: QuerySet[m.MailboxConfig]) -> None:
        # In the request on purpose: whoever just entered the settings wants the verdict now.
        for mailbox in queryset.order_by("pk")[:MAX_POLL_NOW]:
            result = mailbox_service.poll_mailbox(mailbox_id=mailbox.pk, force=True)
            level = messages.SUCCESS if result.ok and not result.skipped else messages.WARNING
            if not result.ok:
                level = messages.ERROR
            self.message_user(request, result.summary(), level)
        if queryset.count() > MAX_POLL_NOW:
            self.message_user(
                request,
                gettext("Only the first %(count)s were polled; beat polls the rest.")
                % {"count": MAX_POLL_NOW},
                messages.WARNING,
            )


class MailWebhookForm(forms.ModelForm):
    secret = secret_field(gettext_lazy("secret"))

    class Meta:
        model = m.MailWebhook
        fields = ["channel", "provider", "is_active", "secret_env"]

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        if data.get("secret") and data.get("secret_env"):
            self.add_error("secret", gettext("Give a secret or an environment variable name, not both."))
        elif not (
            data.get("secret") or data.get("secret_env") or (self.instance and self.instance.secret_encrypted)
        ):
            self.add_error(
                "secret", gettext("A webhook needs a secret: store one or name an environment variable.")
            )
        return data

    def save(self, commit: bool = True) -> m.MailWebhook:
        hook = super().save(commit=False)
        if self.cleaned_data.get("secret"):
            hook.secret_encrypted = secrets.encrypt(self.cleaned_data["secret"])
        elif hook.secret_env:
            hook.secret_encrypted = ""
        if commit:
            hook.save()
        return hook


@admin.register(m.MailWebhook)
class MailWebhookAdmin(ScopedAdmin):
    form = MailWebhookForm
    list_display = ["channel", "provider", "is_active", "url_path", "last_received_at", "short_error"]
    list_filter = ["provider", "is_active"]
    list_select_related = ["channel"]
    raw_id_fields = ["channel"]
    readonly_fields = ["url_path", "secret_stored", "last_received_at", "last_error"]
    fields = [
        "channel",
        "provider",
        "is_active",
        "secret_env",
        "secret",
        "secret_stored",
        "url_path",
        "last_received_at",
        "last_error",
    ]

    @admin.display(description=gettext_lazy("URL path (after your site's address)"))
    def url_path(self, obj: m.MailWebhook) -> str:
        return obj.path if obj.pk else gettext("(shown after saving)")

    @admin.display(description=gettext_lazy("stored secret"), boolean=True)
    def secret_stored(self, obj: m.MailWebhook) -> bool:
        return bool(obj.secret_encrypted)

    @admin.display(description=gettext_lazy("last refusal"))
    def short_error(self, obj: m.MailWebhook) -> str:
        return obj.last_error[:120]


@admin.register(m.SuspendedSender)
class SuspendedSenderAdmin(ScopedAdmin):
    list_display = [
        "address",
        "channel",
        "reason",
        "suspended_at",
        "messages_held",
        "released_at",
        "released_by",
    ]
    list_filter = [("released_at", admin.EmptyFieldListFilter), "channel"]
    list_select_related = ["channel", "released_by"]
    search_fields = ["address"]
    actions = ["release"]
    readonly_fields = [
        "channel",
        "address",
        "reason",
        "suspended_at",
        "messages_held",
        "released_at",
        "released_by",
    ]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.action(description=gettext_lazy("Release: let their mail start clocks again"))
    def release(self, request: HttpRequest, queryset: QuerySet[m.SuspendedSender]) -> None:
        now = timezone.now()
        released = sum(
            mailbox_service.release_sender(suspension=suspension, actor=request.user, now=now)
            for suspension in queryset.filter(released_at__isnull=True)
        )
        self.message_user(
            request,
            ngettext(
                "Released %(count)s sender. Messages held so far stay automatic.",
                "Released %(count)s senders. Messages held so far stay automatic.",
                released,
            )
            % {"count": released},
        )


@admin.register(m.OutgoingMail)
class OutgoingMailAdmin(ScopedAdmin):
    list_display = ["message", "state", "attempts", "sent_at", "next_attempt_at", "short_error", "updated_at"]
    list_filter = ["state"]
    list_select_related = ["message"]
    raw_id_fields = ["message"]
    actions = ["retry"]
    readonly_fields = [
        "message",
        "state",
        "attempts",
        "lease_until",
        "next_attempt_at",
        "recipients",
        "last_error",
        "sent_at",
        "created_at",
        "updated_at",
    ]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.display(description=gettext_lazy("last error"))
    def short_error(self, obj: m.OutgoingMail) -> str:
        return obj.last_error[:120]

    @admin.action(description=gettext_lazy("Send failed replies again"))
    def retry(self, request: HttpRequest, queryset: QuerySet[m.OutgoingMail]) -> None:
        queued = sum(
            mail_service.retry_failed(message=item.message) for item in queryset.select_related("message")
        )
        self.message_user(
            request,
            ngettext("Queued %(count)s reply again.", "Queued %(count)s replies again.", queued)
            % {"count": queued},
        )


# --- the outbox of API channels (issue 18) -----------------------------------------------------


class ReplyWebhookForm(MailWebhookForm):
    """The URL and signing secret a channel's replies are offered with; the secret is write-only."""

    url = forms.URLField(
        max_length=500,
        assume_scheme="https",
        label=m.ReplyWebhook._meta.get_field("url").verbose_name,
        help_text=m.ReplyWebhook._meta.get_field("url").help_text,
    )

    class Meta:
        model = m.ReplyWebhook
        fields = ["channel", "url", "is_active", "secret_env"]


@admin.register(m.ReplyWebhook)
class ReplyWebhookAdmin(ScopedAdmin):
    form = ReplyWebhookForm
    list_display = ["channel", "url", "is_active", "last_success_at", "short_error"]
    list_filter = ["is_active"]
    list_select_related = ["channel"]
    raw_id_fields = ["channel"]
    readonly_fields = ["secret_stored", "last_success_at", "last_error"]
    fields = [
        "channel",
        "url",
        "is_active",
        "secret_env",
        "secret",
        "secret_stored",
        "last_success_at",
        "last_error",
    ]

    @admin.display(description=gettext_lazy("stored secret"), boolean=True)
    def secret_stored(self, obj: m.ReplyWebhook) -> bool:
        return bool(obj.secret_encrypted)

    @admin.display(description=gettext_lazy("last error"))
    def short_error(self, obj: m.ReplyWebhook) -> str:
        return obj.last_error[:120]


@admin.register(m.OutboxOffer)
class OutboxOfferAdmin(ReadOnly):
    """The `reply.created` POSTs; a failed one leaves its reply waiting in the outbox."""

    list_display = ["message", "webhook", "state", "attempts", "last_status_code", "offered_at", "created_at"]
    list_filter = ["state"]
    list_select_related = ["message", "webhook__channel"]
    raw_id_fields = ["message", "webhook"]
