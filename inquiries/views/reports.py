"""The reports page, its CSV downloads and the digest subscription form.

Every figure comes from `inquiries.reports.report.build_table()`, the same function the API
calls; these views only parse the filters, pick the table and render. Reports cover the
accounts the user may see; a filter naming another team's account, team, agent or channel
is a 404.
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Mapping
from functools import cache
from typing import Any
from urllib.parse import urlencode

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse, HttpResponseRedirect, QueryDict
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.dates import WEEKDAYS
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_POST

from inquiries.forms import choice_field
from inquiries.models import DigestFrequency, Team
from inquiries.reports.export import to_csv
from inquiries.reports.report import LAZY_SECTIONS, TABLE_NAMES, Report, build_report, build_table
from inquiries.reports.scope import DIMENSIONS, GROUP_BY_CHOICES, ReportChoices, ReportFilterForm, ReportScope
from inquiries.reports.tables import Table
from inquiries.services import digests
from inquiries.views.http import AuthedRequest, attachment_header

FILTER_PARAMS = (
    "period",
    "from",
    "to",
    "account",
    "team",
    "agent",
    "channel",
    "topic",
    "priority",
    "hours",
    "group_by",
)


def _filters(
    request: AuthedRequest, group_by: tuple[str, ...]
) -> tuple[ReportChoices, ReportFilterForm, ReportScope | None]:
    choices = ReportChoices.load(request.user)
    form = ReportFilterForm(request.GET, choices=choices, group_by=group_by)
    return choices, form, form.scope(timezone.now())


@require_GET
@login_required
def report_page(request: AuthedRequest) -> HttpResponse:
    """SLA compliance and the backlog for the filters in the query string; the slower sections
    (times, breakdowns, volume) load by themselves with `?section=<name>` (htmx), in parallel."""
    section = request.GET.get("section", "")
    if section and section not in LAZY_SECTIONS:
        raise Http404(_("No such section."))
    choices, form, scope = _filters(request, ("day", "week"))
    if scope is None:
        return render(request, "reports/page.html", {"form": form}, status=400)
    report = build_report(
        scope, choices, form.cleaned_data["group_by"], (section,) if section else ("summary",)
    )
    query = _query(request.GET)
    context = {"form": form, "report": report, "query": query}
    if section:
        if section == "breakdowns":
            context["breakdowns"] = [_sortable(report, request.GET, d, query) for d in DIMENSIONS]
        template = f"reports/_{section}.html" if request.htmx else "reports/section.html"
        return render(request, template, context | {"section": section})
    kept = [(name, value) for name, values in request.GET.lists() if name != "section" for value in values]
    context |= {
        "section_urls": {
            name: f"{reverse('inquiries:reports')}?{urlencode([*kept, ('section', name)])}"
            for name in LAZY_SECTIONS
        },
        "subscriptions": digests.subscriptions_of(request.user),
        "digest_form": SubscriptionForm(teams=_own_teams(request)),
    }
    return render(request, "reports/page.html", context)


@require_GET
@login_required
def report_csv(request: AuthedRequest, table: str) -> HttpResponse:
    """One report table as CSV, for the same filters as the page (breakdowns: `group_by`)."""
    if table not in TABLE_NAMES:
        raise Http404(_("No such report."))
    choices, form, scope = _filters(request, tuple(key for key, _ in GROUP_BY_CHOICES))
    if scope is None:
        return HttpResponse(
            " ".join(" ".join(map(str, e)) for e in form.errors.values()),
            status=400,
            content_type="text/plain; charset=utf-8",
        )
    group_by = form.cleaned_data["group_by"]
    return csv_response(build_table(table, scope, choices, group_by), scope, group_by)


def csv_response(table: Table, scope: ReportScope, group_by: str) -> HttpResponse:
    """A download with a UTF-8 byte order mark, so that spreadsheets read names correctly."""
    suffix = f"-{group_by}" if table.name in ("sla", "breakdown") else ""
    filename = f"cstracker-{table.name}{suffix}-{scope.first_day}-{scope.last_day}.csv"
    response = HttpResponse(("\ufeff" + to_csv(table)).encode(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = attachment_header(filename)
    return response


def _query(params: QueryDict) -> str:
    """The filters of the current page, for links that keep them (CSV downloads, sorting)."""
    return urlencode([(name, value) for name in FILTER_PARAMS for value in params.getlist(name) if value])


def _sortable(report: Report, params: QueryDict, dimension: str, query: str) -> dict:
    """A breakdown sorted by `sort_<dimension>` ("column" or "-column"), with its header links."""
    table = report.breakdowns[dimension]
    wanted = params.get(f"sort_{dimension}", "")
    key, descending = wanted.lstrip("-"), wanted.startswith("-")
    keys = [c.key for c in table.columns]
    if key in keys and key != "group":
        table = table.sorted_by(key, descending=descending)
    else:
        key, descending = "group_label", False
    headers = []
    for column in table.columns[1:]:
        flip = "" if column.key != key or descending else "-"
        state = ("descending" if descending else "ascending") if column.key == key else "none"
        sort_query = f"{query}&" if query else ""
        headers.append(
            {
                "column": column,
                "url": f"?{sort_query}sort_{dimension}={flip}{column.key}#by-{dimension}",
                "sort": state,
            }
        )
    return {
        "dimension": dimension,
        "table": table,
        "headers": headers,
        "csv": f"{reverse('inquiries:report_csv', args=['breakdown'])}?{query}&group_by={dimension}",
    }


@cache
def _zones() -> list[tuple[str, str]]:
    return [(name, name) for name in sorted(zoneinfo.available_timezones())]


class SubscriptionForm(forms.Form):
    """A daily or weekly e-mail of the report, for some of the user's own teams."""

    frequency = forms.ChoiceField(choices=DigestFrequency.choices, label=gettext_lazy("Send"))
    hour = forms.TypedChoiceField(
        choices=[(h, f"{h:02d}:00") for h in range(24)], coerce=int, initial=8, label=gettext_lazy("At")
    )
    weekday = forms.TypedChoiceField(
        # Monday to Sunday in the reader's language (Django's own catalogue has them).
        choices=sorted(WEEKDAYS.items()),
        coerce=int,
        initial=0,
        label=gettext_lazy("On (weekly)"),
    )
    timezone = forms.ChoiceField(label=gettext_lazy("Time zone"), initial="UTC")
    teams = forms.MultipleChoiceField(
        required=False, label=gettext_lazy("Teams (none: all of yours)"), widget=forms.CheckboxSelectMultiple
    )

    def __init__(self, data: Mapping[str, Any] | None = None, *, teams: list[Team]) -> None:
        super().__init__(data)
        choice_field(self, "timezone").choices = _zones()
        choice_field(self, "teams").choices = [(str(t.pk), t.name) for t in teams]


def _own_teams(request: AuthedRequest) -> list[Team]:
    teams = (
        Team.objects.all()
        if request.user.is_superuser
        else Team.objects.filter(memberships__user=request.user)
    )
    return list(teams.order_by("name"))


@require_POST
@login_required
def subscribe(request: AuthedRequest) -> HttpResponse:
    """Create or change the user's daily or weekly digest."""
    teams = _own_teams(request)
    form = SubscriptionForm(request.POST, teams=teams)
    if form.is_valid():
        data = form.cleaned_data
        digests.subscribe(
            user=request.user,
            frequency=data["frequency"],
            hour=data["hour"],
            weekday=data["weekday"],
            timezone_name=data["timezone"],
            teams=[t for t in teams if str(t.pk) in data["teams"]],
        )
        messages.success(request, _("Digest saved: you will get it by e-mail."))
    else:
        for errors in form.errors.values():
            messages.error(request, " ".join(map(str, errors)))
    return HttpResponseRedirect(reverse("inquiries:reports") + "#digest")


@require_POST
@login_required
def unsubscribe(request: AuthedRequest, pk: int) -> HttpResponse:
    if not digests.unsubscribe(user=request.user, pk=pk):
        raise Http404(_("No such subscription."))
    messages.success(request, _("Digest stopped."))
    return HttpResponseRedirect(reverse("inquiries:reports") + "#digest")
