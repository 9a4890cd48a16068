"""Admin for account health: the marketplace presets (the targets), snapshots and order volumes.

Presets are global configuration (superusers and staff with the permission); snapshots
are read-only facts; order volumes are scoped to the staff user's accounts like the rest.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.http import HttpRequest
from django.utils.translation import gettext_lazy

from inquiries import models as m
from inquiries.admin.base import ScopedAdmin
from inquiries.admin.configuration import RECOMPUTING, ConfigurationAdmin
from inquiries.services.config import delete_preset, save_preset


@admin.register(m.MarketplacePreset)
class MarketplacePresetAdmin(ConfigurationAdmin):
    """A preset's reply rules set the marketplace clocks: saving or deleting one recomputes the
    running clocks of its marketplace's accounts (`services.config`)."""

    list_display = [
        "name",
        "marketplace",
        "reply_target_seconds",
        "reply_business_days_only",
        "late_rate_target_percent",
        "late_rate_windows",
        "atoz_risk_hours",
        "updated_at",
    ]
    readonly_fields = ["updated_at"]
    fieldsets = [
        (None, {"fields": ["marketplace", "name", "notes"]}),
        (
            gettext_lazy("Reply rule"),
            {
                "fields": [
                    "reply_target_seconds",
                    "reply_business_days_only",
                    "reply_rule",
                    "message_rules",
                ]
            },
        ),
        (
            gettext_lazy("Late responses"),
            {"fields": ["rate_name", "late_rate_windows", "late_rate_target_percent", "at_risk_ratio"]},
        ),
        (
            gettext_lazy("Response times"),
            {
                "fields": [
                    "response_p50_target_seconds",
                    "response_p90_target_seconds",
                    "response_mean_target_seconds",
                ]
            },
        ),
        (gettext_lazy("A-to-z claims"), {"fields": ["atoz_risk_hours", "atoz_critical_hours"]}),
        (
            gettext_lazy("Complaints"),
            {
                "fields": [
                    "complaint_window_days",
                    "complaint_target_per_100_orders",
                    "complaint_target_per_100_inquiries",
                    "cluster_at_risk_severity",
                    "cluster_critical_severity",
                ]
            },
        ),
        (
            gettext_lazy("Account Health Rating (Amazon, for reference)"),
            {"fields": ["rating_healthy_from", "rating_at_risk_from"]},
        ),
        (None, {"fields": ["updated_at"]}),
    ]

    def save_model(self, request: HttpRequest, obj: m.MarketplacePreset, form: Any, change: bool) -> None:
        messages.info(request, RECOMPUTING.format(save_preset(preset=obj)))

    def delete_model(self, request: HttpRequest, obj: m.MarketplacePreset) -> None:
        messages.info(request, RECOMPUTING.format(delete_preset(preset=obj)))


@admin.register(m.HealthSnapshot)
class HealthSnapshotAdmin(ScopedAdmin):
    list_display = ["account", "date", "status", "as_of", "computed_at"]
    list_filter = ["status", "account"]
    list_select_related = ["account"]
    date_hierarchy = "date"
    readonly_fields = ["account", "date", "as_of", "status", "metrics", "computed_at"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # written by the daily job and `manage.py health_snapshot`

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(m.OrderVolume)
class OrderVolumeAdmin(ScopedAdmin):
    list_display = ["account", "date", "orders", "updated_at"]
    list_filter = ["account"]
    list_select_related = ["account"]
    date_hierarchy = "date"
    readonly_fields = ["updated_at"]

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name == "account":
            kwargs["queryset"] = m.Account.objects.visible_to(request.user)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)
