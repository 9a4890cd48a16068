"""Admin for notification settings, outgoing webhooks, escalation rules and failed tasks."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy, ngettext

from inquiries import models as m
from inquiries.admin.base import ScopedAdmin


@admin.register(m.NotificationPreference)
class NotificationPreferenceAdmin(ScopedAdmin):
    list_display = ["user", "in_app", "email_mode", "digest_minutes", "last_digest_at"]
    list_filter = ["email_mode", "in_app"]
    list_select_related = ["user"]
    raw_id_fields = ["user"]
    readonly_fields = ["last_digest_at"]


@admin.register(m.Notification)
class NotificationAdmin(ScopedAdmin):
    list_display = ["created_at", "user", "kind", "title", "read_at", "email_state"]
    list_filter = ["kind", "email_state"]
    list_select_related = ["user"]
    search_fields = ["title", "user__username"]
    raw_id_fields = ["user", "inquiry", "event"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


@admin.register(m.WebhookEndpoint)
class WebhookEndpointAdmin(ScopedAdmin):
    list_display = ["name", "url", "is_active"]
    list_filter = ["is_active"]
    filter_horizontal = ["teams"]


@admin.register(m.WebhookDelivery)
class WebhookDeliveryAdmin(ScopedAdmin):
    list_display = [
        "created_at",
        "endpoint",
        "dedupe_key",
        "state",
        "attempts",
        "last_status_code",
        "delivered_at",
    ]
    list_filter = ["state", "endpoint"]
    list_select_related = ["endpoint"]
    readonly_fields = [
        "endpoint",
        "dedupe_key",
        "payload",
        "state",
        "attempts",
        "last_status_code",
        "last_error",
        "created_at",
        "next_attempt_at",
        "delivered_at",
    ]
    actions = ["redeliver"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.action(description=gettext_lazy("Deliver again (failed deliveries)"))
    def redeliver(self, request: HttpRequest, queryset: QuerySet) -> None:
        from inquiries.services.queue import enqueue

        ids = list(queryset.filter(state=m.WebhookDelivery.State.FAILED).values_list("pk", flat=True))
        m.WebhookDelivery.objects.filter(pk__in=ids).update(state=m.WebhookDelivery.State.PENDING, attempts=0)
        for delivery_id in ids:
            enqueue("deliver_webhook", delivery_id)
        messages.info(
            request,
            ngettext("Queued %(count)s delivery again.", "Queued %(count)s deliveries again.", len(ids))
            % {"count": len(ids)},
        )


@admin.register(m.EscalationRule)
class EscalationRuleAdmin(ScopedAdmin):
    list_display = [
        "name",
        "trigger",
        "is_active",
        "policy",
        "team",
        "notify_assignee",
        "notify_managers",
        "reassign_to_team",
        "raise_priority",
    ]
    list_filter = ["trigger", "is_active"]
    list_select_related = ["policy", "team", "reassign_to_team"]


@admin.register(m.EscalationAction)
class EscalationActionAdmin(ScopedAdmin):
    list_display = ["acted_at", "rule", "event", "summary"]
    list_select_related = ["rule", "event"]
    raw_id_fields = ["event"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(m.FailedTask)
class FailedTaskAdmin(ScopedAdmin):
    list_display = ["failed_at", "task_name", "task_id", "resolved"]
    list_filter = ["resolved", "task_name"]
    readonly_fields = ["task_name", "task_id", "args", "error", "failed_at"]
    actions = ["mark_resolved"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.action(description=gettext_lazy("Mark as resolved"))
    def mark_resolved(self, request: HttpRequest, queryset: QuerySet) -> None:
        queryset.update(resolved=True)
