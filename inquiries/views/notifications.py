"""The bell and the notification list: in-app notifications for the logged-in user only."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from inquiries import services
from inquiries.middleware import store_language
from inquiries.models import Language, Notification, NotificationPreference
from inquiries.selectors.people import preference_for
from inquiries.services import notifications
from inquiries.views.http import AuthedRequest

PAGE = 50


BELL_ITEMS = 6


def errors_text(form: forms.BaseForm) -> str:
    """The form's errors in one line, each after its field's label (in the reader's language)."""
    return "; ".join(
        f"{form.fields[name].label if name in form.fields else name}: {' '.join(map(str, errors))}"
        for name, errors in form.errors.items()
    )


@login_required
def bell(request: AuthedRequest) -> HttpResponse:
    """The bell: the unread count and a menu of the latest items, loaded by htmx so pages keep
    their own fixed query counts. Without JavaScript the bell is a link to the page."""
    return render(request, "notifications/_bell.html", _bell_context(request, is_open=False))


def _bell_context(request: AuthedRequest, *, is_open: bool) -> dict[str, object]:
    mine = Notification.objects.filter(user=request.user)
    return {
        "unread": mine.filter(read_at__isnull=True).count(),
        "latest": list(mine.order_by("-created_at", "-id")[:BELL_ITEMS]),
        "tz": preference_for(request.user).zone,
        "is_open": is_open,
    }


@login_required
def notification_list(request: AuthedRequest) -> HttpResponse:
    items = Notification.objects.filter(user=request.user).order_by("-id")
    before = request.GET.get("before", "")
    if before.isdigit():
        items = items.filter(pk__lt=int(before))
    page = list(items[: PAGE + 1])
    more = len(page) > PAGE
    page = page[:PAGE]
    preference = NotificationPreference.objects.filter(user=request.user).first() or NotificationPreference()
    page_settings = preference_for(request.user)
    zone = page_settings.zone
    return render(
        request,
        "notifications/list.html",
        {
            "items": page,
            "next_before": page[-1].pk if more and page else None,
            "form": PreferenceForm(instance=preference),
            "zone_form": TimeZoneForm(initial={"time_zone": zone}),
            "language_form": LanguageForm(initial={"language": page_settings.language}),
            "tz": zone,
        },
    )


class TimeZoneForm(forms.Form):
    time_zone = forms.CharField(
        max_length=64,
        required=False,
        label=gettext_lazy("My time zone"),
        help_text=gettext_lazy("An IANA name such as Europe/Berlin; empty means the server's zone."),
    )


class LanguageForm(forms.Form):
    language = forms.ChoiceField(
        choices=[("", gettext_lazy("The browser's language")), *Language.choices],
        required=False,
        label=gettext_lazy("My language"),
        help_text=gettext_lazy("The language of your pages and e-mails."),
    )


@login_required
@require_POST
def language(request: AuthedRequest) -> HttpResponse:
    form = LanguageForm(request.POST)
    if not form.is_valid():
        messages.error(request, errors_text(form))
        return redirect("inquiries:notifications")
    services.set_preferences(user=request.user, language=form.cleaned_data["language"])
    store_language(request, form.cleaned_data["language"])
    # The confirmation is shown on the next page, which speaks the new language: say it in that one.
    translation.activate(form.cleaned_data["language"] or translation.get_language_from_request(request))
    messages.success(request, _("Language saved."))
    return redirect("inquiries:notifications")


@login_required
@require_POST
def time_zone(request: AuthedRequest) -> HttpResponse:
    form = TimeZoneForm(request.POST)
    if form.is_valid():
        try:
            services.set_preferences(user=request.user, time_zone=form.cleaned_data["time_zone"])
        except services.DomainError as exc:
            messages.error(request, _("time_zone: %(error)s") % {"error": exc.message})
        else:
            messages.success(request, _("Time zone saved."))
    return redirect("inquiries:notifications")


class PreferenceForm(forms.ModelForm):
    class Meta:
        model = NotificationPreference
        fields = ["in_app", "email_mode", "digest_minutes"]
        labels = {
            "in_app": gettext_lazy("In app"),
            "email_mode": gettext_lazy("E-mail"),
            "digest_minutes": gettext_lazy("Digest every (minutes)"),
        }


@login_required
@require_POST
def preferences(request: AuthedRequest) -> HttpResponse:
    preference, _created = NotificationPreference.objects.get_or_create(user=request.user)
    form = PreferenceForm(request.POST, instance=preference)
    if form.is_valid():
        form.save()
        messages.success(request, _("Notification settings saved."))
    else:
        messages.error(request, errors_text(form))
    return redirect("inquiries:notifications")


@login_required
@require_POST
def mark_read(request: AuthedRequest) -> HttpResponse:
    ids = [int(v) for v in request.POST.getlist("id") if v.isdigit()]
    notifications.mark_read(user=request.user, notification_ids=ids or None)
    if request.htmx:  # from the bell's menu: the menu again, still open
        return render(request, "notifications/_bell.html", _bell_context(request, is_open=True))
    return redirect("inquiries:notifications")
