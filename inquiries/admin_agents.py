"""Admin for what agents work with: macros (canned replies), team and personal."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from inquiries import models as m
from inquiries.admin_base import ScopedAdmin
from inquiries.services.macros import delete_macro, save_macro


@admin.register(m.Macro)
class MacroAdmin(ScopedAdmin):
    list_display = ["name", "team", "owner", "set_status", "set_priority", "set_topic", "is_active"]
    list_filter = ["is_active", "team"]
    list_select_related = ["team", "owner", "set_topic"]
    search_fields = ["name", "body"]
    raw_id_fields = ["owner"]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        # Only a superuser gives a personal macro to someone else; for everyone else a macro
        # without a team is their own (the service sets the owner).
        return [] if request.user.is_superuser else ["owner"]

    def save_model(self, request: HttpRequest, obj: m.Macro, form: Any, change: bool) -> None:
        save_macro(macro=obj, author=request.user)

    def delete_model(self, request: HttpRequest, obj: m.Macro) -> None:
        delete_macro(macro=obj)
