"""The bell and the notification list: in-app notifications for the logged-in user only."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from inquiries.models import Notification
from inquiries.services import notifications

PAGE = 50


@login_required
def bell(request: HttpRequest) -> HttpResponse:
    """The unread count, loaded by htmx so pages keep their own fixed query counts."""
    unread = Notification.objects.filter(user=request.user, read_at__isnull=True).count()
    return render(request, "notifications/_bell.html", {"unread": unread})


@login_required
def notification_list(request: HttpRequest) -> HttpResponse:
    items = Notification.objects.filter(user=request.user).order_by("-id")
    before = request.GET.get("before", "")
    if before.isdigit():
        items = items.filter(pk__lt=int(before))
    page = list(items[: PAGE + 1])
    more = len(page) > PAGE
    page = page[:PAGE]
    return render(request, "notifications/list.html", {
        "items": page, "next_before": page[-1].pk if more and page else None,
    })


@login_required
@require_POST
def mark_read(request: HttpRequest) -> HttpResponse:
    ids = [int(v) for v in request.POST.getlist("id") if v.isdigit()]
    notifications.mark_read(user=request.user, notification_ids=ids or None)
    return redirect("inquiries:notifications")
