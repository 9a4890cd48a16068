"""Admin for the marketplace connectors: each account's Amazon SP-API connection (credentials
write-only, its last sync on the list) and the record of every report fetched.

The credentials' fields are empty password fields: a value typed replaces the stored one,
encrypted (`inquiries.secrets`); the page only says whether one is stored.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext, gettext_lazy, ngettext

from inquiries import models as m
from inquiries.admin.base import ReadOnly, ScopedAdmin, secret_field
from inquiries.services import spapi

SECRETS = (
    ("client_id", gettext_lazy("LWA client id"), "client_id_encrypted"),
    ("client_secret", gettext_lazy("LWA client secret"), "client_secret_encrypted"),
    ("refresh_token", gettext_lazy("LWA refresh token"), "refresh_token_encrypted"),
)


class AmazonConnectionForm(forms.ModelForm):
    client_id = secret_field(SECRETS[0][1])
    client_secret = secret_field(SECRETS[1][1])
    refresh_token = secret_field(SECRETS[2][1])

    class Meta:
        model = m.AmazonConnection
        fields = [
            "account",
            "is_enabled",
            "region",
            "marketplace_ids",
            "dates_dayfirst",
            "sync_every_hours",
            "lookback_days",
            "next_sync_at",
        ]

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        stored = self.instance if self.instance.pk else None
        for name, label, field in SECRETS:
            if not data.get(name) and not (stored and getattr(stored, field)):
                self.add_error(
                    name, gettext("The %(label)s is required (none is stored yet).") % {"label": label}
                )
        return data

    def save(self, commit: bool = True) -> m.AmazonConnection:
        connection = super().save(commit=False)
        spapi.store_credentials(
            connection=connection,
            client_id=self.cleaned_data.get("client_id") or "",
            client_secret=self.cleaned_data.get("client_secret") or "",
            refresh_token=self.cleaned_data.get("refresh_token") or "",
        )
        if commit:
            connection.save()
        return connection


@admin.register(m.AmazonConnection)
class AmazonConnectionAdmin(ScopedAdmin):
    form = AmazonConnectionForm
    list_display = [
        "account",
        "region",
        "marketplace_ids",
        "is_enabled",
        "sync_every_hours",
        "last_sync_at",
        "last_sync_ok",
        "short_summary",
        "next_sync_at",
    ]
    list_filter = ["is_enabled", "region"]
    list_select_related = ["account"]
    raw_id_fields = ["account"]
    actions = ["sync_soon"]
    readonly_fields = ["credentials_stored", "last_sync_at", "last_sync_ok", "last_sync_summary"]
    fieldsets = [
        (None, {"fields": ["account", "is_enabled", "region", "marketplace_ids", "dates_dayfirst"]}),
        (
            gettext_lazy("Login with Amazon (write-only)"),
            {"fields": ["client_id", "client_secret", "refresh_token", "credentials_stored"]},
        ),
        (gettext_lazy("Schedule"), {"fields": ["sync_every_hours", "lookback_days", "next_sync_at"]}),
        (gettext_lazy("Last sync"), {"fields": ["last_sync_at", "last_sync_ok", "last_sync_summary"]}),
    ]

    @admin.display(description=gettext_lazy("credentials stored"))
    def credentials_stored(self, obj: m.AmazonConnection) -> str:
        stored = [str(label) for _, label, field in SECRETS if getattr(obj, field)]
        return ", ".join(stored) or gettext("none")

    @admin.display(description=gettext_lazy("last sync"))
    def short_summary(self, obj: m.AmazonConnection) -> str:
        return obj.last_sync_summary[:160]

    @admin.action(description=gettext_lazy("Sync now (queued for the worker)"))
    def sync_soon(self, request: HttpRequest, queryset: QuerySet[m.AmazonConnection]) -> None:
        ids = spapi.sync_soon(connection_ids=list(queryset.values_list("pk", flat=True)))
        self.message_user(
            request,
            ngettext(
                "%(count)s connection queued; see Connector runs.",
                "%(count)s connections queued; see Connector runs.",
                len(ids),
            )
            % {"count": len(ids)},
            messages.SUCCESS,
        )


@admin.register(m.ConnectorRun)
class ConnectorRunAdmin(ReadOnly):
    list_display = [
        "account",
        "report_type",
        "started_at",
        "finished_at",
        "state",
        "rows",
        "imported",
        "rejected",
        "short_error",
    ]
    list_filter = ["state", "connector", "report_type"]
    list_select_related = ["account"]
    date_hierarchy = "started_at"
    ordering = ["-started_at"]

    @admin.display(description=gettext_lazy("error"))
    def short_error(self, obj: m.ConnectorRun) -> str:
        return obj.error[:160]
