"""The bell and the notification list: in-app notifications for the logged-in user only."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from inquiries.models import Notification, NotificationPreference
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
    preference = NotificationPreference.objects.filter(user=request.user).first() or NotificationPreference()
    return render(
        request,
        "notifications/list.html",
        {
            "items": page,
            "next_before": page[-1].pk if more and page else None,
            "form": PreferenceForm(instance=preference),
        },
    )


class PreferenceForm(forms.ModelForm):
    class Meta:
        model = NotificationPreference
        fields = ["in_app", "email_mode", "digest_minutes"]


@login_required
@require_POST
def preferences(request: HttpRequest) -> HttpResponse:
    preference, _ = NotificationPreference.objects.get_or_create(user=request.user)
    form = PreferenceForm(request.POST, instance=preference)
    if form.is_valid():
        form.save()
        messages.success(request, "Notification settings saved.")
    else:
        messages.error(request, "; ".join(f"{k}: {' '.join(v)}" for k, v in form.errors.items()))
    return redirect("inquiries:notifications")


@login_required
@require_POST
def mark_read(request: HttpRequest) -> HttpResponse:
    ids = [int(v) for v in request.POST.getlist("id") if v.isdigit()]
    notifications.mark_read(user=request.user, notification_ids=ids or None)
    return redirect("inquiries:notifications")
