"""Admin for orders and what belongs to them (imported at the end of inquiries/admin.py).

Read-only facts: they come from the marketplace's reports (`manage.py import_orders`, the
upload API), and a later import would overwrite an edit. Every page is scoped to the staff
user's accounts by `ScopedAdmin`; the search box takes a marketplace order id, matched
exactly (an index lookup, not a scan of every order).
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy

from inquiries import models as m
from inquiries import scoping
from inquiries.admin.base import ReadOnly
from inquiries.services.order_deletion import delete_orders


class OrderIdSearch(admin.ModelAdmin):
    """The search box matches the marketplace order id exactly (`order_path` leads to it)."""

    order_path = "marketplace_order_id"
    # Shows the box; the lookup is get_search_results'.
    search_fields = ["marketplace_order_id"]
    search_help_text = gettext_lazy("A marketplace order id, exactly as written (e.g. 111-1234567-1234567).")

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet, search_term: str
    ) -> tuple[QuerySet, bool]:
        term = search_term.strip()
        return (queryset.filter(**{self.order_path: term}) if term else queryset), False


class OrderAccountFilter(admin.SimpleListFilter):
    """An order's account, among the accounts the user may see."""

    title = gettext_lazy("account")
    parameter_name = "account"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [(str(a.pk), a.name) for a in scoping.visible_accounts(request.user).order_by("name")]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        return queryset.filter(order__account=self.value()) if self.value() else queryset


class PartInline(admin.TabularInline):
    extra = 0
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class LineInline(PartInline):
    model = m.OrderLine
    fields = ["sku", "item_id", "transaction_id", "title", "quantity", "price", "item_status"]


class ShipmentInline(PartInline):
    model = m.Shipment
    fields = [
        "shipment_id",
        "carrier",
        "service",
        "tracking_number",
        "shipped_at",
        "delivered_at",
        "warehouse",
    ]


class CancellationInline(PartInline):
    model = m.Cancellation
    fields = ["cancelled_by", "at", "reason"]


class ReturnInline(PartInline):
    model = m.Return
    fields = [
        "sku",
        "quantity",
        "reason_code",
        "buyer_comment",
        "disposition",
        "received_at",
        "refund_amount",
    ]


class FeedbackInline(PartInline):
    model = m.Feedback
    fields = ["polarity", "rating", "text", "left_at", "removed"]


class ClaimInline(PartInline):
    model = m.Claim
    fields = ["external_id", "kind", "status", "opened_at", "decided_at", "outcome", "amount"]


@admin.register(m.Order)
class OrderAdmin(OrderIdSearch, ReadOnly):
    list_display = [
        "marketplace_order_id",
        "account",
        "status",
        "fulfilment_channel",
        "purchased_at",
        "ship_by",
        "updated_at",
    ]
    list_filter = ["account", "status", "fulfilment_channel"]
    list_select_related = ["account"]
    inlines = [LineInline, ShipmentInline, CancellationInline, ReturnInline, FeedbackInline, ClaimInline]

    # Both ways of deleting (the page and the action) unlink the orders' inquiries first.
    def delete_model(self, request: HttpRequest, obj: m.Order) -> None:
        delete_orders(orders=m.Order.objects.filter(pk=obj.pk))

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[m.Order]) -> None:
        delete_orders(orders=queryset)


class OrderPartAdmin(OrderIdSearch, ReadOnly):
    order_path = "order__marketplace_order_id"
    list_filter = [OrderAccountFilter]
    list_select_related = ["order"]
    raw_id_fields = ["order"]


@admin.register(m.OrderLine)
class OrderLineAdmin(OrderPartAdmin):
    list_display = ["order", "sku", "item_id", "quantity", "price", "item_status"]


@admin.register(m.Shipment)
class ShipmentAdmin(OrderPartAdmin):
    list_display = [
        "order",
        "shipment_id",
        "carrier",
        "tracking_number",
        "shipped_at",
        "delivered_at",
        "warehouse",
    ]


@admin.register(m.Cancellation)
class CancellationAdmin(OrderPartAdmin):
    list_display = ["order", "cancelled_by", "at", "reason"]
    list_filter = [OrderAccountFilter, "cancelled_by"]


@admin.register(m.Return)
class ReturnAdmin(OrderPartAdmin):
    list_display = ["order", "sku", "quantity", "reason_code", "disposition", "received_at"]
    list_filter = [OrderAccountFilter, "reason_code"]


@admin.register(m.Feedback)
class FeedbackAdmin(OrderPartAdmin):
    list_display = ["order", "polarity", "rating", "left_at", "removed", "text"]
    list_filter = [OrderAccountFilter, "polarity", "rating", "removed"]


@admin.register(m.Claim)
class ClaimAdmin(OrderPartAdmin):
    list_display = ["order", "external_id", "kind", "status", "opened_at", "decided_at", "outcome", "amount"]
    list_filter = [OrderAccountFilter, "kind", "outcome"]


@admin.register(m.MarketplaceMetric)
class MarketplaceMetricAdmin(ReadOnly):
    list_display = [
        "metric",
        "account",
        "value",
        "target",
        "status",
        "window_start",
        "window_end",
        "reported_at",
    ]
    list_filter = ["account", "metric", "source"]
    list_select_related = ["account"]
    search_fields = ["metric"]
