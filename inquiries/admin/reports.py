"""Admin for report digests; imported by inquiries/admin.py."""

from __future__ import annotations

from django.contrib import admin

from inquiries.admin.base import ScopedAdmin
from inquiries.models import ReportSubscription


@admin.register(ReportSubscription)
class ReportSubscriptionAdmin(ScopedAdmin):
    """Superusers see every digest; other staff only their own (managers subscribe on the reports page)."""

    list_display = ["user", "frequency", "hour", "weekday", "timezone", "is_active", "last_sent_at"]
    list_filter = ["frequency", "is_active"]
    list_select_related = ["user"]
    search_fields = ["user__username", "user__email"]
    raw_id_fields = ["user"]
    filter_horizontal = ["teams"]
    readonly_fields = ["created_at", "last_sent_at"]
