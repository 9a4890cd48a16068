"""Admin for report digests; imported by inquiries/admin.py."""

from __future__ import annotations

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from inquiries.models import ReportSubscription


@admin.register(ReportSubscription)
class ReportSubscriptionAdmin(admin.ModelAdmin):
    """Superusers see every digest; other staff only their own (managers subscribe on the reports page)."""

    list_display = ["user", "frequency", "hour", "weekday", "timezone", "is_active", "last_sent_at"]
    list_filter = ["frequency", "is_active"]
    list_select_related = ["user"]
    search_fields = ["user__username", "user__email"]
    raw_id_fields = ["user"]
    filter_horizontal = ["teams"]
    readonly_fields = ["created_at", "last_sent_at"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[ReportSubscription]:
        queryset = super().get_queryset(request)
        return queryset if request.user.is_superuser else queryset.filter(user=request.user)
