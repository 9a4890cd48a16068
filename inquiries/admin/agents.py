"""Admin for what agents work with: macros (canned replies), and the rota of automatic assignment."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext, gettext_lazy, ngettext

from inquiries import models as m
from inquiries.admin.base import ScopedAdmin, staff_user
from inquiries.selectors.assignment import rota_state
from inquiries.services.assignment import delete_rota_member, save_rota, save_rota_member
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
        save_macro(macro=obj, author=staff_user(request))

    def delete_model(self, request: HttpRequest, obj: m.Macro) -> None:
        delete_macro(macro=obj)


class RotaMemberInline(admin.TabularInline):
    model = m.RotaMember
    extra = 1
    fields = ["user", "is_active", "capacity", "calendar", "away_from", "away_until"]
    raw_id_fields = ["user"]


@admin.register(m.Rota)
class RotaAdmin(ScopedAdmin):
    """A team's automatic assignment: mode, working hours, capacity, and its agents' places."""

    list_display = ["team", "mode", "calendar", "capacity", "updated_at"]
    list_filter = ["mode"]
    list_select_related = ["team", "calendar"]
    readonly_fields = ["available_now", "last_assigned"]
    inlines = [RotaMemberInline]

    @admin.display(description=gettext_lazy("Available now"))
    def available_now(self, obj: m.Rota) -> str:
        if obj.pk is None:
            return "-"
        if obj.mode == m.AssignmentMode.OFF:
            return gettext("Assignment is off: agents claim inquiries.")
        state = rota_state(obj, timezone.now())
        if state.why_nobody:
            return gettext("Nobody: %(why)s. New inquiries stay unassigned.") % {"why": state.why_nobody}
        return ngettext(
            "%(count)s agent can take an inquiry.", "%(count)s agents can take an inquiry.", state.available
        ) % {"count": state.available}

    def save_model(self, request: HttpRequest, obj: m.Rota, form: Any, change: bool) -> None:
        save_rota(rota=obj)

    def save_formset(self, request: HttpRequest, form: Any, formset: Any, change: bool) -> None:
        for member in formset.save(commit=False):
            save_rota_member(member=member)
        for member in formset.deleted_objects:
            delete_rota_member(member=member)
