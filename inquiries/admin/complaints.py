"""Admin for topic models and labels, and complaint clusters (imported at the end of inquiries/admin.py).

Topic models: each account's trained versions, kept or rejected, with their held-out scores
per topic; an admin can switch which version is active, or switch an account back to the
shipped model. Topic labels: what agents set, read-only.
Clusters: read-only here, scoped to the staff user's accounts; their lifecycle goes through
the cluster pages and the API, so every change writes its event.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext, gettext_lazy, ngettext

from inquiries import models as m
from inquiries.admin.base import ReadOnly, ScopedAdmin


@admin.register(m.TopicModel)
class TopicModelAdmin(ScopedAdmin):
    list_display = [
        "version",
        "account",
        "created_at",
        "outcome",
        "is_active",
        "trained_labels",
        "holdout_labels",
        "holdout",
        "compared",
    ]
    list_filter = ["is_active", "outcome", "account"]
    list_select_related = ["account"]
    fields = [
        "version",
        "account",
        "created_at",
        "outcome",
        "is_active",
        "threshold",
        "trained_labels",
        "holdout_labels",
        "labels_per_topic",
        "scores",
        "labels",
        "sklearn_version",
    ]
    readonly_fields = [
        "version",
        "account",
        "created_at",
        "outcome",
        "is_active",
        "trained_labels",
        "holdout_labels",
        "labels_per_topic",
        "scores",
        "labels",
        "sklearn_version",
    ]
    actions = ["activate", "use_shipped"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # models come from `manage.py train_topics` or the periodic task

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).defer("blob")

    @admin.display(description=gettext_lazy("Held-out macro-F1"))
    def holdout(self, obj: m.TopicModel) -> str:
        score = (obj.metrics or {}).get("candidate")
        return f"{score['macro_f1']:.3f}" if score else "—"

    @admin.display(description=gettext_lazy("Compared with (its macro-F1)"))
    def compared(self, obj: m.TopicModel) -> str:
        score = (obj.metrics or {}).get("compared")
        return f"{score['name']}: {score['macro_f1']:.3f}" if score else "—"

    @admin.display(description=gettext_lazy("Labels per topic (trained / held out)"))
    def labels_per_topic(self, obj: m.TopicModel) -> str:
        counts = (obj.metrics or {}).get("labels_per_topic") or {}
        if not counts:
            return "—"
        return format_html_join(
            ", ", "{}: {} / {}", ((topic, n["trained"], n["held_out"]) for topic, n in counts.items())
        )

    @admin.display(description=gettext_lazy("Scores on the held-out labels"))
    def scores(self, obj: m.TopicModel) -> str:
        metrics = obj.metrics or {}
        candidate, compared = metrics.get("candidate"), metrics.get("compared")
        if not candidate:
            return "—"
        other = {row["topic"]: row for row in (compared or {}).get("topics", [])}
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (
                    row["topic"],
                    row["support"],
                    _score(row, "precision"),
                    _score(row, "recall"),
                    _score(other.get(row["topic"]), "precision"),
                    _score(other.get(row["topic"]), "recall"),
                )
                for row in candidate["topics"]
            ),
        )
        name = compared["name"] if compared else "—"
        return format_html(
            "<p>{}</p><table><thead><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th>"
            "</tr></thead><tbody>{}</tbody></table>",
            metrics.get("definition", ""),
            gettext("topic"),
            gettext("held-out labels"),
            gettext("precision"),
            gettext("recall"),
            gettext("precision (%(model)s)") % {"model": name},
            gettext("recall (%(model)s)") % {"model": name},
            rows,
        )

    @admin.action(description=gettext_lazy("Make the selected version its account's active model"))
    def activate(self, request: HttpRequest, queryset: QuerySet) -> None:
        from inquiries.services.topic_training import activate

        if queryset.count() != 1:
            self.message_user(request, gettext("Select exactly one version to activate."), messages.ERROR)
            return
        chosen = queryset.get()
        if chosen.outcome != m.TopicModelOutcome.KEPT:
            self.message_user(
                request, gettext("A rejected version is not stored: it cannot be used."), messages.ERROR
            )
            return
        model = activate(model=chosen)
        self.message_user(
            request,
            gettext("%(model)s is now active (other processes pick it up within a minute).")
            % {"model": model},
        )

    @admin.action(
        description=gettext_lazy("Switch the selected versions' accounts back to the shipped model")
    )
    def use_shipped(self, request: HttpRequest, queryset: QuerySet) -> None:
        from inquiries.services.topic_training import use_shipped

        accounts = {row.account for row in queryset.select_related("account")}
        for account in accounts:
            use_shipped(account=account)
        self.message_user(
            request,
            ngettext(
                "%(count)s account uses the shipped model again.",
                "%(count)s accounts use the shipped model again.",
                len(accounts),
            )
            % {"count": len(accounts)},
        )


def _score(row: dict[str, Any] | None, key: str) -> str:
    return f"{row[key]:.3f}" if row else "—"


@admin.register(m.TopicLabel)
class TopicLabelAdmin(ReadOnly):
    list_display = ["labelled_at", "account", "inquiry", "topic", "corrected", "labelled_by", "excerpt"]
    list_filter = ["topic", "corrected", "account"]
    list_select_related = ["account", "topic", "labelled_by"]
    raw_id_fields = ["inquiry"]

    @admin.display(description=gettext_lazy("Text"))
    def excerpt(self, obj: m.TopicLabel) -> str:
        return obj.text[:80]


class ClusterMemberInline(admin.TabularInline):
    model = m.ClusterMember
    extra = 0
    can_delete = False
    fields = ("inquiry", "message", "opened_at", "added_at")
    readonly_fields = fields
    raw_id_fields = ["inquiry", "message"]

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class ClusterEventInline(admin.TabularInline):
    model = m.ClusterEvent
    extra = 0
    can_delete = False
    fields = ("at", "kind", "actor", "data")
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
