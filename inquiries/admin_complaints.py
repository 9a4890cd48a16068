"""Admin for topic models and complaint clusters (imported at the end of inquiries/admin.py).

Topic models: read-only history; an admin can switch which version is active (roll back).
Clusters: read-only here, scoped to the staff user's accounts; their lifecycle goes through
the cluster pages and the API, so every change writes its event.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from inquiries import models as m
from inquiries.admin_base import ReadOnly, ScopedAdmin


@admin.register(m.TopicModel)
class TopicModelAdmin(ScopedAdmin):
    list_display = [
        "version",
        "created_at",
        "is_active",
        "threshold",
        "agent_samples",
        "rule_samples",
        "holdout",
    ]
    list_filter = ["is_active"]
    fields = [
        "version",
        "created_at",
        "is_active",
        "threshold",
        "agent_samples",
        "rule_samples",
        "labels",
        "sklearn_version",
        "metrics",
    ]
    readonly_fields = [
        "version",
        "created_at",
        "is_active",
        "agent_samples",
        "rule_samples",
        "labels",
        "sklearn_version",
        "metrics",
    ]
    actions = ["activate"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # models come from `manage.py train_topics` or the daily task

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).defer("blob")

    @admin.display(description="Held-out macro-F1")
    def holdout(self, obj: m.TopicModel) -> str:
        holdout = (obj.metrics or {}).get("holdout")
        return f"{holdout['macro_f1']:.3f}" if holdout else "—"

    @admin.action(description="Make the selected version the active model")
    def activate(self, request: HttpRequest, queryset: QuerySet) -> None:
        from inquiries.services.topic_training import activate

        if queryset.count() != 1:
            self.message_user(request, "Select exactly one version to activate.", messages.ERROR)
            return
        model = activate(model=queryset.get())
        self.message_user(request, f"{model} is now active (other processes pick it up within a minute).")


class ClusterMemberInline(admin.TabularInline):
    model = m.ClusterMember
    extra = 0
    can_delete = False
    fields = ["inquiry", "message", "opened_at", "added_at"]
    readonly_fields = fields
    raw_id_fields = ["inquiry", "message"]

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class ClusterEventInline(admin.TabularInline):
    model = m.ClusterEvent
    extra = 0
    can_delete = False
    fields = ["at", "kind", "actor", "data"]
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(m.Cluster)
class ClusterAdmin(ReadOnly):
    list_display = ["id", "account", "topic", "sku", "kind", "state", "severity", "member_count", "last_seen"]
    list_filter = ["state", "kind", "severity", "topic"]
    list_select_related = ["account", "topic"]
    search_fields = ["sku", "signature"]
    raw_id_fields = ["owner"]
    inlines = [ClusterMemberInline, ClusterEventInline]
