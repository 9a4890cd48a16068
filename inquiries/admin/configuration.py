"""The admin of the configuration: accounts, channels, calendars, SLA policies and their
targets, and the read-only inquiries, messages, events and clocks. Saves and deletes of what
moves clocks go through `services.config`."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.db.models import Q, QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext, gettext_lazy, ngettext

from inquiries import models as m
from inquiries import words
from inquiries.admin.base import ReadOnly, ScopedAdmin
from inquiries.admin.policies import SlaPolicyForm, SlaTargetForm, SlaTargetFormSet, deadline_preview
from inquiries.services.config import (
    RECOMPUTE_IN_FOREGROUND_MOST,
    create_account,
    create_channel,
    delete_calendar,
    delete_policy,
    save_account,
    save_calendar,
    save_policy,
)


def recomputing(count: int) -> str:
    """The message of a save or delete whose recompute of `count` open inquiries runs in the background."""
    return ngettext(
        "Recomputing clocks of %(count)s open inquiry in the background.",
        "Recomputing clocks of %(count)s open inquiries in the background.",
        count,
    ) % {"count": count}


class _Recomputing:
    """`RECOMPUTING.format(count)`, as other admin modules call it: the translated message."""

    def format(self, count: int) -> str:
        return recomputing(count)


RECOMPUTING = _Recomputing()


class ConfigurationAdmin(ScopedAdmin):
    """Configuration whose saves and deletes go through a service that recomputes the running
    clocks they move: `save_model` and `delete_model` call it, and deleting a selection
    deletes row by row through `delete_model`."""

    def delete_queryset(self, request: HttpRequest, queryset: Any) -> None:
        for obj in queryset:
            self.delete_model(request, obj)


class HolidayInline(admin.TabularInline):
    model = m.Holiday
    extra = 0


@admin.register(m.Calendar)
class CalendarAdmin(ConfigurationAdmin):
    list_display = ["name", "timezone", "is_24x7", "version"]
    search_fields = ["name"]
    readonly_fields = ["version"]
    inlines = [HolidayInline]

    actions = ["import_holidays"]

    @admin.action(description=gettext_lazy("Import public holidays (country, subdivision, year)"))
    def import_holidays(self, request: HttpRequest, queryset: QuerySet) -> Any:
        from django import forms
        from django.shortcuts import render

        from inquiries.services.errors import DomainError
        from inquiries.services.holidays import import_holidays

        class HolidayForm(forms.Form):
            country = forms.CharField(
                label=gettext_lazy("Country"),
                max_length=3,
                help_text=gettext_lazy("ISO 3166 code, e.g. US, DE, GB."),
            )
            subdivision = forms.CharField(
                label=gettext_lazy("Subdivision"),
                max_length=10,
                required=False,
                help_text=gettext_lazy("e.g. CA, BY; optional."),
            )
            year = forms.IntegerField(label=gettext_lazy("Year"), min_value=1970, max_value=2100)

        form = HolidayForm(request.POST if "apply" in request.POST else None)
        if form.is_valid():
            for calendar in queryset:
                try:
                    added = import_holidays(calendar=calendar, **form.cleaned_data)
                except DomainError as exc:
                    messages.error(request, exc.message)
                    return None
                messages.info(
                    request,
                    ngettext(
                        "%(calendar)s: %(count)s holiday added.",
                        "%(calendar)s: %(count)s holidays added.",
                        added,
                    )
                    % {"calendar": calendar, "count": added},
                )
            return None
        return render(
            request,
            "admin/import_holidays.html",
            {
                "form": form,
                "calendars": queryset,
                "title": gettext("Import public holidays"),
                "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
                "opts": self.model._meta,
            },
        )

    def save_model(self, request: HttpRequest, obj: m.Calendar, form: Any, change: bool) -> None:
        # The holidays inline is saved after this, in the same transaction; the recompute runs
        # after commit, so it sees them.
        messages.info(request, recomputing(save_calendar(calendar=obj)))

    def delete_model(self, request: HttpRequest, obj: m.Calendar) -> None:
        messages.info(request, recomputing(delete_calendar(calendar=obj)))


@admin.register(m.Account)
class AccountAdmin(ScopedAdmin):
    list_display = ["name", "marketplace", "timezone", "reply_target_seconds", "is_active", "last_sync"]
    list_filter = ["marketplace", "is_active"]
    list_select_related = ["amazon_connection"]
    search_fields = ["name"]
    raw_id_fields = ["reply_calendar"]

    @admin.display(description=gettext_lazy("last marketplace sync"))
    def last_sync(self, obj: m.Account) -> str:
        """The account's last connector sync (Amazon connections), or that it has none."""
        connection = getattr(obj, "amazon_connection", None)
        if connection is None:
            return gettext("no connection")
        if connection.last_sync_at is None:
            return gettext("never")
        verdict = gettext("ok") if connection.last_sync_ok else gettext("FAILED")
        return gettext("%(when)s UTC, %(verdict)s") % {
            "when": f"{connection.last_sync_at:%Y-%m-%d %H:%M}",
            "verdict": verdict,
        }

    def save_model(self, request: HttpRequest, obj: m.Account, form: Any, change: bool) -> None:
        if change:
            if moved := save_account(account=obj):
                messages.info(request, recomputing(moved))
            return
        create_account(account=obj)
        if obj.slapolicy_set.exists():
            messages.info(
                request,
                gettext(
                    "It got the default SLA policy (first and next reply 24 h, resolution 72 h, on its "
                    "business hours): edit it under SLA policies."
                ),
            )


class MembershipInline(admin.TabularInline):
    model = m.Membership
    extra = 0
    raw_id_fields = ["user"]


@admin.register(m.Team)
class TeamAdmin(ScopedAdmin):
    list_display = ["name"]
    search_fields = ["name"]
    filter_horizontal = ["accounts"]
    inlines = [MembershipInline]


@admin.register(m.Channel)
class ChannelAdmin(ScopedAdmin):
    list_display = ["slug", "name", "account", "kind", "is_active"]
    list_filter = ["kind", "is_active", "account"]
    list_select_related = ["account"]
    search_fields = ["slug", "name", "address"]

    def save_model(self, request: HttpRequest, obj: m.Channel, form: Any, change: bool) -> None:
        if change:
            obj.save()
            return
        create_channel(channel=obj)


class TopicRuleInline(admin.TabularInline):
    model = m.TopicRule
    extra = 0


@admin.register(m.Topic)
class TopicAdmin(ScopedAdmin):
    list_display = ["key", "name", "is_complaint", "health_category", "position"]
    list_filter = ["is_complaint", "health_category"]
    search_fields = ["key", "name"]
    inlines = [TopicRuleInline]


@admin.register(m.Customer)
class CustomerAdmin(ScopedAdmin):
    list_display = ["address", "name", "account", "created_at"]
    list_filter = ["account"]
    list_select_related = ["account"]
    search_fields = ["address", "name"]


class MessageInline(admin.StackedInline):
    model = m.Message
    extra = 0
    can_delete = False
    fields = (
        "direction",
        "automatic",
        "automatic_reason",
        "sender_address",
        "subject",
        "received_at",
        "body_text",
    )
    readonly_fields = fields
    show_change_link = True

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(m.Inquiry)
class InquiryAdmin(ReadOnly):
    list_display = [
        "id",
        "subject",
        "account",
        "customer",
        "status",
        "priority",
        "topic",
        "assignee",
        "opened_at",
    ]
    list_filter = ["status", "priority", "account", "topic"]
    list_select_related = ["account", "customer", "topic", "assignee"]
    search_fields = ["subject", "customer__address", "order_id", "sku"]
    date_hierarchy = "opened_at"
    raw_id_fields = ["customer", "assignee", "previous", "channel"]
    inlines = [MessageInline]


@admin.register(m.Message)
class MessageAdmin(ReadOnly):
    list_display = ["id", "external_id", "channel", "direction", "automatic", "sender_address", "received_at"]
    list_filter = ["direction", "automatic", "channel"]
    list_select_related = ["channel"]
    search_fields = ["external_id", "sender_address", "subject"]
    raw_id_fields = ["inquiry"]


@admin.register(m.InquiryEvent)
class InquiryEventAdmin(ReadOnly):
    list_display = ["id", "inquiry", "kind", "at", "actor"]
    list_filter = ["kind"]
    list_select_related = ["inquiry", "actor"]
    raw_id_fields = ["inquiry", "message", "clock", "actor"]


class SlaTargetInline(admin.TabularInline):
    model = m.SlaTarget
    form = SlaTargetForm
    formset = SlaTargetFormSet
    extra = 0


@admin.register(m.SlaPolicy)
class SlaPolicyAdmin(ConfigurationAdmin):
    form = SlaPolicyForm
    list_display = ["name", "position", "is_active", "calendar", "warn_ratio"]
    list_editable = ["position", "is_active"]
    list_select_related = ["calendar"]
    readonly_fields = ["deadline_preview"]
    inlines = [SlaTargetInline]

    @admin.display(description=gettext_lazy("Deadline preview"))
    def deadline_preview(self, obj: m.SlaPolicy) -> str:
        return deadline_preview(obj)

    def save_model(self, request: HttpRequest, obj: m.SlaPolicy, form: Any, change: bool) -> None:
        # The targets inline and what the policy applies to are saved after this, in the same
        # transaction; the recompute runs after commit, so it sees them.
        apply_to_open = form.cleaned_data.get("apply_to_open", True)
        count = save_policy(policy=obj, apply_to_open=apply_to_open)
        if apply_to_open:
            progress = (
                " " + gettext("Its progress shows on the SLA policies page.")
                if count > RECOMPUTE_IN_FOREGROUND_MOST
                else ""
            )
            messages.info(request, recomputing(count) + progress)
        else:
            messages.info(
                request, gettext("Saved; the open inquiries keep their deadlines (new ones use this policy).")
            )

    def delete_model(self, request: HttpRequest, obj: m.SlaPolicy) -> None:
        messages.info(request, recomputing(delete_policy(policy=obj)))

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> Any:
        if request.method == "GET":
            show_recompute_progress(request)
        return super().changelist_view(request, extra_context)


RECOMPUTE_SHOWN_AFTER_FINISH = timedelta(hours=1)


def show_recompute_progress(request: HttpRequest) -> None:
    """How far the background recomputes are (the worker stores it as it goes), as messages on the
    SLA policies page: those running and those that finished in the last hour."""
    now = timezone.now()
    runs = m.RecomputeRun.objects.filter(
        Q(finished_at__isnull=True) | Q(finished_at__gte=now - RECOMPUTE_SHOWN_AFTER_FINISH)
    )[:5]
    for run in runs:
        started = timezone.localtime(run.started_at).strftime("%Y-%m-%d %H:%M")
        if run.finished_at is None:
            messages.info(
                request,
                gettext(
                    "Recomputing clocks in the background after %(reason)s: %(done)s of %(total)s "
                    "open inquiries done (started %(started)s; refresh to follow)."
                )
                % {
                    "reason": run.reason,
                    "done": words.number(run.done),
                    "total": words.number(run.total),
                    "started": started,
                },
            )
        else:
            finished = timezone.localtime(run.finished_at).strftime("%H:%M")
            messages.info(
                request,
                gettext(
                    "Recomputed clocks after %(reason)s: %(done)s of %(total)s open inquiries "
                    "(started %(started)s, finished %(finished)s)."
                )
                % {
                    "reason": run.reason,
                    "done": words.number(run.done),
                    "total": words.number(run.total),
                    "started": started,
                    "finished": finished,
                },
            )


@admin.register(m.Clock)
class ClockAdmin(ReadOnly):
    list_display = ["id", "inquiry", "kind", "state", "started_at", "due_at", "stopped_at"]
    list_filter = ["kind", "state"]
    list_select_related = ["inquiry"]
    raw_id_fields = ["inquiry", "message", "policy", "calendar"]
