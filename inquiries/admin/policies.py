"""The SLA policy editor for people: targets in hours and minutes, priorities as checkboxes,
and a preview of the deadlines the policy gives a message arriving now."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from django import forms
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext, gettext_lazy

from inquiries import display
from inquiries import models as m
from inquiries.selectors.calendars import business_calendar

TARGET_FIELDS = (
    ("first_reply_seconds", gettext_lazy("First reply")),
    ("next_reply_seconds", gettext_lazy("Next reply")),
    ("resolution_seconds", gettext_lazy("Resolution")),
)


class HoursMinutesWidget(forms.MultiWidget):
    """Two number boxes side by side: hours, then minutes."""

    def __init__(self, attrs: dict | None = None) -> None:
        super().__init__(
            [
                forms.NumberInput(
                    attrs={"min": 0, "step": 1, "class": "hm-hours", "aria-label": gettext_lazy("hours")}
                ),
                forms.NumberInput(
                    attrs={
                        "min": 0,
                        "max": 59,
                        "step": 1,
                        "class": "hm-minutes",
                        "aria-label": gettext_lazy("minutes"),
                    }
                ),
            ],
            attrs,
        )

    def decompress(self, value: int | str | None) -> list[int | None]:
        if value is None or value == "":
            return [None, None]
        return [int(value) // 3600, int(value) % 3600 // 60]


class HoursMinutesField(forms.MultiValueField):
    """A target in hours and minutes, stored in seconds; both empty means no clock."""

    widget = HoursMinutesWidget

    def __init__(self, **kwargs: Any) -> None:
        for key in ("max_value", "min_value", "step_size"):  # from the model's integer field
            kwargs.pop(key, None)
        fields = (
            forms.IntegerField(min_value=0, required=False),
            forms.IntegerField(min_value=0, max_value=59, required=False),
        )
        super().__init__(fields, require_all_fields=False, **kwargs)

    def compress(self, data_list: list[int | None]) -> int | None:
        if not data_list or all(value in (None, "") for value in data_list):
            return None
        hours, minutes = (value or 0 for value in data_list)
        seconds = hours * 3600 + minutes * 60
        if seconds <= 0:
            raise forms.ValidationError(
                gettext("A target must be longer than 0 minutes; leave both empty for no clock.")
            )
        return seconds


HOURS_HELP = gettext_lazy(
    "Hours and minutes on the policy's calendar (business hours if it has them); empty: no clock."
)


class SlaTargetForm(forms.ModelForm):
    first_reply_seconds = HoursMinutesField(
        required=False, label=gettext_lazy("First reply"), help_text=HOURS_HELP
    )
    next_reply_seconds = HoursMinutesField(
        required=False, label=gettext_lazy("Next reply"), help_text=HOURS_HELP
    )
    resolution_seconds = HoursMinutesField(
        required=False, label=gettext_lazy("Resolution"), help_text=HOURS_HELP
    )

    class Meta:
        model = m.SlaTarget
        fields = ["priority", "first_reply_seconds", "next_reply_seconds", "resolution_seconds"]
        # The inline is a table: its column headings are not labels, so each control names itself.
        widgets = {"priority": forms.Select(attrs={"aria-label": gettext_lazy("Priority")})}


class SlaTargetFormSet(forms.BaseInlineFormSet):
    def add_fields(self, form: forms.Form, index: int | None) -> None:
        super().add_fields(form, index)
        if "DELETE" in form.fields:
            form.fields["DELETE"].widget.attrs["aria-label"] = gettext("Delete this target")


class SlaPolicyForm(forms.ModelForm):
    priorities = forms.MultipleChoiceField(
        label=gettext_lazy("priorities"),
        choices=m.Priority.choices,
        widget=forms.CheckboxSelectMultiple,
        required=False,
        help_text=gettext_lazy("The priorities this policy applies to; none ticked matches every priority."),
    )
    apply_to_open = forms.BooleanField(
        required=False,
        initial=True,
        label=gettext_lazy("Apply to open inquiries"),
        help_text=gettext_lazy(
            "Recompute the deadlines of every open inquiry's running clocks with the policies as "
            "saved (in the background; the queue shows the new deadlines as they are done). Unticked: "
            "only inquiries opened from now on use it."
        ),
    )

    class Meta:
        model = m.SlaPolicy
        # The admin's editor: every editable field of the policy, as the admin would show it.
        fields = "__all__"  # noqa: DJ007
        # Checkboxes rather than the admin's two-box filter, whose search icons carry an
        # aria-label on a plain span (an axe-core "serious" violation) and which needs a mouse.
        widgets = {
            "accounts": forms.CheckboxSelectMultiple,
            "channels": forms.CheckboxSelectMultiple,
            "topics": forms.CheckboxSelectMultiple,
        }

    def clean_priorities(self) -> list[str]:
        # Stored in the order of the choices, whatever order the boxes were ticked in.
        chosen = set(self.cleaned_data["priorities"])
        return [value for value in m.Priority.values if value in chosen]


def deadline_preview(policy: m.SlaPolicy, now: datetime | None = None) -> str:
    """An HTML table: when each target falls due for a customer message arriving `now`, on the
    policy's calendar, in the calendar's zone."""
    if policy.pk is None:
        return gettext("Save the policy to see its deadlines.")
    now = now or timezone.now()
    calendar = business_calendar(policy.calendar)
    zone = ZoneInfo(policy.calendar.timezone if policy.calendar else "UTC")
    business = policy.calendar is not None and not policy.calendar.is_24x7

    def cell(seconds: int | None) -> str:
        if seconds is None:
            return format_html('<span class="quiet">{}</span>', gettext("no clock"))
        due = calendar.add(now, seconds).astimezone(zone)
        return format_html(
            "{}<br><small>{}</small>",
            date_format(due, gettext("D j M Y, H:i T")),
            display.target_duration(seconds, business=business, suffix=gettext("business hours")),
        )

    rows = format_html_join(
        "",
        "<tr><th scope='row'>{}</th><td>{}</td><td>{}</td><td>{}</td></tr>",
        (
            (
                target.get_priority_display(),
                cell(target.first_reply_seconds),
                cell(target.next_reply_seconds),
                cell(target.resolution_seconds),
            )
            for target in policy.targets.all()
        ),
    )
    if not rows:
        return gettext("No targets yet: add one per priority below.")
    where = policy.calendar.name if policy.calendar else gettext("24x7 in UTC")
    arriving = gettext(
        'A customer message arriving now, %(now)s (%(zone)s), on the calendar "%(calendar)s", is due:'
    )
    when = date_format(now.astimezone(zone), gettext("D j M Y, H:i T"))
    return format_html(
        '<p>{}</p><table class="deadline-preview"><thead><tr><th>{}</th>{}</tr></thead><tbody>{}</tbody></table>',
        arriving % {"now": when, "zone": zone.key, "calendar": where},
        gettext("Priority"),
        format_html_join("", "<th>{}</th>", ((label,) for _, label in TARGET_FIELDS)),
        rows,
    )
