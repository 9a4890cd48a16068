"""Complaint cluster pages: the list, the detail with its chart, and the lifecycle forms.

Clusters are reached through `clusters_for(user)`: another team's cluster is a
404 like a missing one. Reading is open to everyone who sees the account; acting on a
cluster (acknowledge, record the action, resolve) is for the account's managers, as the
plan of action is theirs to sign.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.decorators.http import require_GET, require_POST

from inquiries.complaints.charts import daily_bar_chart, fill_days
from inquiries.complaints.rates import subject_of
from inquiries.forms import choice_field
from inquiries.models import Account, Cluster, ClusterKind, ClusterState
from inquiries.selectors.clusters import (
    ClusterFilters,
    cluster_daily_counts,
    cluster_events,
    cluster_members,
    cluster_topics,
    clusters_for,
    filter_clusters,
    get_cluster_for_user,
    merged_clusters,
    recent_member_count,
    with_recent_count,
    with_titles,
)
from inquiries.selectors.people import assignable_users, can_manage_account
from inquiries.services import complaints
from inquiries.services.errors import DomainError
from inquiries.views.http import AuthedRequest

PAGE_SIZE = 50
STATE_CHOICES = [
    ("active", gettext_lazy("Active (not resolved)")),
    ("all", gettext_lazy("All")),
    *ClusterState.choices,
]


class ClusterFilterForm(forms.Form):
    account = forms.TypedChoiceField(
        required=False, coerce=int, empty_value=None, label=gettext_lazy("Account")
    )
    topic = forms.ChoiceField(required=False, label=gettext_lazy("Topic"))
    state = forms.ChoiceField(required=False, choices=STATE_CHOICES, label=gettext_lazy("State"))
    kind = forms.ChoiceField(
        required=False, choices=[("", gettext_lazy("Any")), *ClusterKind.choices], label=gettext_lazy("Kind")
    )
    sku = forms.CharField(required=False, max_length=100, label=gettext_lazy("SKU"))

    def __init__(
        self, data: Mapping[str, Any] | None, *, accounts: list[Account], topics: list[tuple[str, str]]
    ) -> None:
        super().__init__(data)
        choice_field(self, "account").choices = [("", _("All accounts")), *((a.pk, a.name) for a in accounts)]
        choice_field(self, "topic").choices = [("", _("All topics")), *topics]

    def filters(self) -> ClusterFilters:
        if not self.is_valid():
            return ClusterFilters()
        data = self.cleaned_data
        return ClusterFilters(
            account=data["account"],
            topic=data["topic"],
            state=data["state"] or "active",
            kind=data["kind"],
            sku=data["sku"],
        )


class ActionForm(forms.Form):
    root_cause = forms.CharField(
        label=gettext_lazy("Root cause"), widget=forms.Textarea(attrs={"rows": 3}), max_length=5000
    )
    corrective_action = forms.CharField(
        label=gettext_lazy("Corrective action"), widget=forms.Textarea(attrs={"rows": 3}), max_length=5000
    )
    preventive_measure = forms.CharField(
        label=gettext_lazy("Preventive measure"),
        widget=forms.Textarea(attrs={"rows": 2}),
        max_length=5000,
        required=False,
    )
    owner = forms.TypedChoiceField(required=False, coerce=int, empty_value=None, label=gettext_lazy("Owner"))
    action_date = forms.DateField(
        required=False,
        label=gettext_lazy("Action date"),
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text=gettext_lazy("Empty means today."),
    )

    def __init__(
        self,
        data: Mapping[str, Any] | None = None,
        *,
        users: list[User],
        initial: dict[str, object] | None = None,
    ) -> None:
        super().__init__(data, initial=initial)
        self.users = {user.pk: user for user in users}
        choice_field(self, "owner").choices = [("", _("Me")), *((u.pk, u.get_username()) for u in users)]


class ResolveForm(forms.Form):
    note = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), max_length=5000, required=False)


@require_GET
@login_required
def cluster_list(request: AuthedRequest) -> HttpResponse:
    accounts = list(Account.objects.visible_to(request.user))
    topics = [(topic.key, topic.name) for topic in cluster_topics()]
    form = ClusterFilterForm(request.GET or None, accounts=accounts, topics=topics)
    clusters = filter_clusters(clusters_for(request.user), form.filters())
    clusters = with_recent_count(clusters, timezone.now())
    page = Paginator(clusters, PAGE_SIZE).get_page(request.GET.get("page"))
    page.object_list = with_titles(list(page.object_list))
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request, "complaints/cluster_list.html", {"form": form, "page": page, "query": query.urlencode()}
    )


@require_GET
@login_required
def cluster_detail(request: AuthedRequest, pk: int) -> HttpResponse:
    cluster = get_cluster_for_user(request.user, pk)
    return render(request, "complaints/cluster_detail.html", _detail_context(request, cluster))


def _detail_context(request: AuthedRequest, cluster: Cluster, **forms_: forms.Form) -> dict[str, object]:
    can_manage = can_manage_account(request.user, cluster.account_id)
    users = assignable_users(request.user, cluster.account_id) if can_manage else []
    initial: dict[str, object] = {
        "root_cause": cluster.root_cause,
        "corrective_action": cluster.corrective_action,
        "preventive_measure": cluster.preventive_measure,
        "owner": cluster.owner_id,
        "action_date": cluster.action_date,
    }
    days = _chart_days(cluster)
    with_titles([cluster])
    return {
        "cluster": cluster,
        "recent_count": recent_member_count(cluster, timezone.now()),
        "members": cluster_members(cluster)[:200],
        "merged": merged_clusters(cluster),
        "rate_unit": subject_of(cluster).unit if cluster.is_rate else "",
        "events": cluster_events(cluster),
        "days": days,
        "chart": _chart(cluster, days),
        "can_manage": can_manage,
        "action_form": forms_.get("action_form") or ActionForm(initial=initial, users=users),
        "resolve_form": forms_.get("resolve_form") or ResolveForm(),
        "tz": cluster.account.timezone,
    }


def _chart_days(cluster: Cluster) -> list[tuple[date, int]]:
    """Daily complaints up to the latest one: for a burst its window and the baseline
    weeks before it; for a text cluster the days from its first member."""
    tz = ZoneInfo(cluster.account.timezone)
    config = complaints.Config.from_settings()
    end: datetime = cluster.last_seen
    span = (
        config.window + config.baseline
        if cluster.kind == ClusterKind.BURST
        else max(config.window, end - cluster.first_seen + timedelta(days=1))
    )
    start = end - span
    counts = cluster_daily_counts(cluster, start, end, tz)
    return fill_days(counts, start.astimezone(tz).date() + timedelta(days=1), end.astimezone(tz).date())


def _chart(cluster: Cluster, days: list[tuple[date, int]]) -> str:
    window_days = complaints.Config.from_settings().window.days
    highlight = (
        days[-window_days][0] if cluster.kind == ClusterKind.BURST and len(days) >= window_days else None
    )
    what = (
        _("SKU %(sku)s") % {"sku": cluster.sku}
        if cluster.kind == ClusterKind.BURST
        else subject_of(cluster).name
        if cluster.is_rate
        else _("this text cluster")
    )
    total = sum(count for _day, count in days)
    figures = {"total": total, "what": what, "days": len(days), "window": window_days}
    if highlight:
        description = ngettext(
            "%(total)s complaint about %(what)s over %(days)s days; the last %(window)s days, the test window, "
            "are drawn darker.",
            "%(total)s complaints about %(what)s over %(days)s days; the last %(window)s days, the test window, "
            "are drawn darker.",
            total,
        )
    else:
        description = ngettext(
            "%(total)s complaint about %(what)s over %(days)s days.",
            "%(total)s complaints about %(what)s over %(days)s days.",
            total,
        )
    description %= figures
    # Every text in the SVG is escaped by daily_bar_chart, so the markup is safe to embed.
    svg = daily_bar_chart(
        days,
        title=_("Complaints per day, %(what)s") % {"what": what},
        description=description,
        chart_id=f"cluster-{cluster.pk}-chart",
        highlight_from=highlight,
    )
    return mark_safe(svg)


def _managed_cluster(request: AuthedRequest, pk: int) -> Cluster:
    cluster = get_cluster_for_user(request.user, pk)
    if not can_manage_account(request.user, cluster.account_id):
        raise PermissionDenied(_("Only the account's managers act on its clusters."))
    return cluster


def _done(request: AuthedRequest, cluster: Cluster, change: Callable[[], object]) -> HttpResponse:
    """Run one lifecycle service; a refused transition becomes a message, then back to the page."""
    try:
        change()
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("Cluster updated."))
    return redirect("inquiries:cluster_detail", pk=cluster.pk)


@require_POST
@login_required
def acknowledge(request: AuthedRequest, pk: int) -> HttpResponse:
    cluster = _managed_cluster(request, pk)
    return _done(request, cluster, lambda: complaints.acknowledge(cluster=cluster, actor=request.user))


@require_POST
@login_required
def record_action(request: AuthedRequest, pk: int) -> HttpResponse:
    cluster = _managed_cluster(request, pk)
    form = ActionForm(request.POST, users=assignable_users(request.user, cluster.account_id))
    if not form.is_valid():
        context = _detail_context(request, cluster, action_form=form)
        return render(request, "complaints/cluster_detail.html", context, status=400)
    data = form.cleaned_data
    return _done(
        request,
        cluster,
        lambda: complaints.record_action(
            cluster=cluster,
            actor=request.user,
            root_cause=data["root_cause"],
            corrective_action=data["corrective_action"],
            preventive_measure=data["preventive_measure"],
            owner=form.users.get(data["owner"]) if data["owner"] else None,
            action_date=data["action_date"],
        ),
    )


@require_POST
@login_required
def resolve(request: AuthedRequest, pk: int) -> HttpResponse:
    cluster = _managed_cluster(request, pk)
    form = ResolveForm(request.POST)
    note = form.cleaned_data["note"] if form.is_valid() else ""
    return _done(request, cluster, lambda: complaints.resolve(cluster=cluster, actor=request.user, note=note))
