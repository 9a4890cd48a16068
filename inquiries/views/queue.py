"""The agent's queue: the inbox most urgent first (filters, saved views, keyset pages, the htmx
refresh), the density setting, bulk actions and closing every inquiry that matches the filters.

Every view reaches inquiries through `inquiries_for` (`selectors.inquiry`), so another team's
inquiry is never listed nor changed. Writes call one service per inquiry and redirect.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import User
from django.core.cache import cache
from django.forms import BoundField
from django.http import Http404, HttpResponse, HttpResponseRedirect, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.decorators.http import require_GET, require_POST

from inquiries import services
from inquiries.forms import BulkAction, BulkForm, QueueFilterForm
from inquiries.models import Account, Channel, ClockKind, Inquiry, Status, Topic
from inquiries.selectors.assignment import rota_states
from inquiries.selectors.inquiry import inquiries_for
from inquiries.selectors.people import assignable_users, preference_for
from inquiries.selectors.queue import (
    QueueCursor,
    Urgency,
    accounts_without_policy,
    queue_matching,
    queue_page,
)
from inquiries.views.badges import URGENCY_BADGES, countdown, show_on
from inquiries.views.http import AuthedRequest

# Saved views: named filter sets. Any other combination is saved by bookmarking the URL,
# because every filter lives in the query string.
PRESETS: tuple[tuple[object, dict[str, str]], ...] = (
    (gettext_lazy("My open"), {"assignee": "me"}),
    (gettext_lazy("Unassigned"), {"assignee": "none"}),
    (gettext_lazy("Breached"), {"clock": "breached"}),
    (gettext_lazy("Unassigned Amazon"), {"assignee": "none", "marketplace": "amazon"}),
    (gettext_lazy("Rescue list"), {"clock": "rescue"}),
)
FILTER_PARAMS = ("q", "account", "channel", "marketplace", "status", "topic", "priority", "assignee", "clock")


@require_GET
@login_required
def queue(request: AuthedRequest) -> HttpResponse:
    """The inbox, most urgent first; htmx polls return only the rows (`_rows.html`)."""
    now = timezone.now()
    accounts = list(Account.objects.visible_to(request.user))
    rows_key = _rows_cache_key(request, accounts) if request.htmx else None
    if rows_key is not None and (cached := cache.get(rows_key)) is not None:
        return HttpResponse(cached)
    channels = list(Channel.objects.filter(account__in=accounts).select_related("account"))
    topics = list(Topic.objects.all())
    form = QueueFilterForm(request.GET, accounts=accounts, channels=channels, topics=topics)
    after = QueueCursor.decode(request.GET.get("after", ""))
    page = queue_page(request.user, form.filters(), now=now, after=after)
    urls = _RowUrls()
    for row in page.rows:
        _present_row(row, now, urls)
    context = {"form": form, "page": page, "rows": page.rows, "after": after.encode() if after else ""}
    if request.htmx:
        response = render(request, "inquiries/_rows.html", context)
        if rows_key is not None:
            cache.set(rows_key, response.content, settings.CSTRACKER_QUEUE_ROWS_CACHE_SECONDS)
        return response
    filters = _current_filters(request.GET)
    context |= {
        "density": preference_for(request.user).density,
        "bulk_form": BulkForm(users=assignable_users(request.user), topics=topics),
        "unpoliced": accounts_without_policy(accounts),
        "presets": [(label, urlencode(params), params == filters) for label, params in PRESETS],
        "is_default_view": not filters,
        "rotas": rota_states(request.user, now),
        "query": urlencode(filters),
        "next_query": urlencode({**filters, "after": page.next_cursor.encode()}) if page.next_cursor else "",
    }
    return render(request, "inquiries/queue.html", context)


@require_POST
@login_required
def density(request: AuthedRequest) -> HttpResponse:
    """Remember the user's queue density, then back to the queue with its filters."""
    try:
        services.set_preferences(user=request.user, density=request.POST.get("density", ""))
    except services.DomainError as exc:
        messages.error(request, exc.message)
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(target, {request.get_host()}, require_https=request.is_secure()):
        target = reverse("inquiries:queue")
    return redirect(target)


def _rows_cache_key(request: AuthedRequest, accounts: list[Account]) -> str | None:
    """The key under which the rows of a refresh are shared for a few seconds.

    Every agent's queue refreshes every 15 s, and agents of a team see the same rows: the same
    visible accounts and the same filters give the same rows (countdowns tick in the browser),
    so one rendering serves them all for CSTRACKER_QUEUE_ROWS_CACHE_SECONDS. "Assigned to me"
    is the user's own. None: not cached.
    """
    seconds = settings.CSTRACKER_QUEUE_ROWS_CACHE_SECONDS
    if seconds <= 0:
        return None
    params = sorted((name, value) for name, values in request.GET.lists() for value in values)
    mine = request.user.pk if request.GET.get("assignee") == "me" else None
    # The rows are rendered in the page's language: agents share them per language only.
    raw = repr((sorted(a.pk for a in accounts), params, mine, translation.get_language()))
    return "queue-rows:" + hashlib.sha256(raw.encode()).hexdigest()


def _current_filters(params: QueryDict) -> dict[str, str]:
    return {name: value for name in FILTER_PARAMS if (value := params.get(name))}


class _RowUrls:
    """Each row's links from one reverse() per URL name and page, not two per row."""

    SENTINEL = 987654321

    def __init__(self) -> None:
        self.detail = reverse("inquiries:detail", args=[self.SENTINEL]).split(str(self.SENTINEL))
        self.claim = reverse("inquiries:claim", args=[self.SENTINEL]).split(str(self.SENTINEL))

    @staticmethod
    def fill(parts: list[str], pk: int) -> str:
        return f"{parts[0]}{pk}{parts[1]}"


def _present_row(row: Inquiry, now: datetime, urls: _RowUrls) -> None:
    # The selector's `next_due`, `market_due` and `next_kind` are these fields under other names.
    next_due, market_due, next_kind = row.next_due_at, row.market_due_at, row.next_clock_kind
    show_on(
        row,
        detail_url=urls.fill(urls.detail, row.pk),
        claim_url=urls.fill(urls.claim, row.pk),
        # `urgency` is with_urgency()'s annotation, which QueuePage.rows (plain Inquiry) does not carry.
        badge=URGENCY_BADGES[Urgency(row.urgency)],  # type: ignore[attr-defined]  # annotation, see above
        due_label=countdown(next_due, now) if next_due else "",
        market_label=countdown(market_due, now) if market_due else "",
        next_kind_label=str(ClockKind(next_kind).label) if next_kind else "",
    )


@require_POST
@login_required
def bulk(request: AuthedRequest) -> HttpResponse:
    """Apply one action to the selected inquiries, each through its service.

    Ids the user may not see are ignored; if none of them is visible the answer is 404.
    """
    users, topics = assignable_users(request.user), list(Topic.objects.all())
    form = BulkForm(request.POST, users=users, topics=topics)
    back = _queue_url(request.POST.get("query", ""))
    if not form.is_valid():
        for errors in form.errors.values():
            messages.error(request, " ".join(map(str, errors)))
        return HttpResponseRedirect(back)
    inquiries = list(inquiries_for(request.user).filter(pk__in=form.cleaned_data["ids"]))
    if not inquiries:
        raise Http404(_("No such inquiry."))
    done, skipped = _apply(form.bulk_action(), inquiries, actor=request.user, users=users, topics=topics)
    if done:
        messages.success(
            request,
            ngettext("Updated %(count)d inquiry.", "Updated %(count)d inquiries.", done) % {"count": done},
        )
    for reason in skipped:
        messages.warning(request, reason)
    return HttpResponseRedirect(back)


def _apply(
    action: BulkAction,
    inquiries: list[Inquiry],
    *,
    actor: User,
    users: list[User],
    topics: list[Topic],
) -> tuple[int, list[str]]:
    now, skipped = timezone.now(), []
    assignee = None
    if action.kind == "assign" and action.value != "none":
        assignee = actor if action.value == "me" else next(u for u in users if str(u.pk) == action.value)
    topic = next((t for t in topics if t.key == action.value), None)
    done = 0
    for inquiry in inquiries:
        try:
            if action.kind == "assign":
                services.assign(inquiry=inquiry, assignee=assignee, actor=actor, now=now)
            elif action.kind == "status":
                services.change_status(inquiry=inquiry, status=action.value, actor=actor, now=now)
            elif action.kind == "priority":
                services.change_priority(inquiry=inquiry, priority=action.value, actor=actor, now=now)
            elif action.kind == "topic":
                services.change_topic(inquiry=inquiry, topic=topic, actor=actor, now=now)
        except services.DomainError as exc:
            skipped.append(f"#{inquiry.pk}: {exc.message}")
        else:
            done += 1
    return done, skipped


@login_required
def close_matching(request: AuthedRequest) -> HttpResponse:
    """Close every inquiry matching the queue's filters, all pages: the count is shown first
    (GET) and the POST runs only if it confirms that same count; if the set changed meanwhile,
    the new count is shown to confirm again."""
    if request.method not in ("GET", "POST"):
        return HttpResponse(status=405)
    query = request.GET.urlencode() if request.method == "GET" else request.POST.get("query", "")
    params = QueryDict(query)
    accounts = list(Account.objects.visible_to(request.user))
    channels = list(Channel.objects.filter(account__in=accounts).select_related("account"))
    form = QueueFilterForm(params, accounts=accounts, channels=channels, topics=list(Topic.objects.all()))
    wanted = request.POST.get("to", "")
    to = wanted if wanted in (Status.SOLVED, Status.CLOSED) else Status.CLOSED
    matching = queue_matching(request.user, form.filters(), now=timezone.now()).exclude(status=to)
    count = matching.count()
    if request.method == "POST" and request.POST.get("confirm") == str(count) and count:
        done = services.close_matching(inquiries=matching, actor=request.user, status=to)
        done_text = ngettext("%(count)d inquiry", "%(count)d inquiries", done) % {"count": done}
        messages.success(request, f"{Status(to).label}: {done_text}.")
        return HttpResponseRedirect(_queue_url(query))
    if request.method == "POST":
        messages.warning(
            request,
            _("The matching inquiries changed while you confirmed: %(count)d now.") % {"count": count},
        )
    filters = [(field.label, _shown_value(field)) for field in form if field.value()]
    context = {"count": count, "query": urlencode(_current_filters(params)), "filters": filters, "to": to}
    return render(request, "inquiries/close_matching.html", context)


def _shown_value(field: BoundField) -> str:
    """A filter as the agent chose it: the choice's label, or the text typed (search)."""
    choices = getattr(field.field, "choices", None)
    value = field.value()
    return {str(k): v for k, v in choices}.get(str(value), value) if choices else value


def _queue_url(query: str) -> str:
    """The queue with the given filters; the query string is re-encoded, never echoed."""
    filters = _current_filters(QueryDict(query))
    return reverse("inquiries:queue") + (f"?{urlencode(filters)}" if filters else "")
