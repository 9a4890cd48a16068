"""Admin for held messages: agents' replies and notes that came before their parent message.

The list shows each with its state and what it waits for; the actions discard one (it is never
attached) or retry it now (attached if its parent is stored, else held again for a whole
expiry time). Nothing here is edited by hand: the recording engine writes these rows.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext, gettext_lazy, ngettext

from inquiries import models as m
from inquiries.admin.base import ScopedAdmin
from inquiries.services.recording import held as holding
from inquiries.services.recording import retry_held

WAITS_SHOWN = 5  # ids listed per row; a long References header is summed up after these


@admin.register(m.HeldMessage)
class HeldMessageAdmin(ScopedAdmin):
    list_display = [
        "external_id",
        "channel",
        "direction",
        "state",
        "waiting_for",
        "received_at",
        "held_at",
        "expires_at",
        "short_reason",
    ]
    list_filter = ["state", "direction", "channel"]
    list_select_related = ["channel"]
    search_fields = ["external_id", "waits__external_id"]
    ordering = ["-held_at", "-id"]
    actions = ["retry", "discard"]
    fields = (
        "channel",
        "external_id",
        "direction",
        "state",
        "reason",
        "waiting_for",
        "received_at",
        "held_at",
        "expires_at",
        "closed_at",
        "message",
        "sender",
        "subject",
        "body",
    )
    readonly_fields = fields

    def get_queryset(self, request: HttpRequest) -> QuerySet[m.HeldMessage]:
        return super().get_queryset(request).prefetch_related("waits")  # one query for the page

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: m.HeldMessage, form: Any, change: bool) -> None:
        """Every field is read-only: the engine and the actions below change these rows."""

    @admin.display(description=gettext_lazy("waits for"))
    def waiting_for(self, obj: m.HeldMessage) -> str:
        waits = [
            w.external_id
            if w.kind == m.WaitKind.MESSAGE
            else gettext("thread %(id)s") % {"id": w.external_id}
            for w in obj.waits.all()
        ]
        shown = ", ".join(waits[:WAITS_SHOWN])
        if len(waits) <= WAITS_SHOWN:
            return shown
        return gettext("%(shown)s (+%(more)s more)") % {"shown": shown, "more": len(waits) - WAITS_SHOWN}

    @admin.display(description=gettext_lazy("reason"))
    def short_reason(self, obj: m.HeldMessage) -> str:
        return obj.reason[:120]

    @admin.display(description=gettext_lazy("sender"))
    def sender(self, obj: m.HeldMessage) -> str:
        name, address = obj.incoming.get("sender_name", ""), obj.incoming.get("sender_address", "")
        return f"{name} <{address}>" if name else address

    @admin.display(description=gettext_lazy("subject"))
    def subject(self, obj: m.HeldMessage) -> str:
        return obj.incoming.get("subject", "")

    @admin.display(description=gettext_lazy("body (first 2,000 characters)"))
    def body(self, obj: m.HeldMessage) -> str:
        return obj.incoming.get("body_text", "")[:2000]

    @admin.action(
        description=gettext_lazy("Retry now: attach those whose parent is stored, hold the others again")
    )
    def retry(self, request: HttpRequest, queryset: QuerySet[m.HeldMessage]) -> None:
        ids = list(queryset.exclude(state=m.HeldState.ATTACHED).values_list("pk", flat=True))
        attached = retry_held(held_ids=ids)
        self.message_user(
            request,
            gettext(
                "Attached %(attached)s of %(total)s; the others wait for their parent again, for %(days)s days."
            )
            % {"attached": attached, "total": len(ids), "days": settings.CSTRACKER_HELD_EXPIRY_DAYS},
        )

    @admin.action(description=gettext_lazy("Discard: never attach them"))
    def discard(self, request: HttpRequest, queryset: QuerySet[m.HeldMessage]) -> None:
        discarded = holding.discard(
            held_ids=queryset.values_list("pk", flat=True),
            reason=f"discarded by {request.user.get_username()}",
            now=timezone.now(),
        )
        self.message_user(
            request,
            ngettext("Discarded %(count)s held message.", "Discarded %(count)s held messages.", discarded)
            % {"count": discarded},
        )
