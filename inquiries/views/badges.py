"""How the agent's pages show states and deadlines: a badge is an icon and a word (never a
colour alone); durations and countdowns in the format app.js uses; a marketplace rule's target
as the marketplace states it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Model
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext, pgettext_lazy

from inquiries import display
from inquiries.models import ClockState
from inquiries.selectors.queue import Urgency


@dataclass(frozen=True, slots=True)
class Badge:
    """A state shown as an icon and a word, never as a colour alone."""

    key: str
    label: object  # a lazy translation: read in the language of the page that shows it
    icon: str


URGENCY_BADGES = {
    Urgency.BREACHED: Badge("breached", gettext_lazy("Breached"), "alert"),
    Urgency.AT_RISK: Badge("at-risk", gettext_lazy("At risk"), "warn"),
    Urgency.RUNNING: Badge("running", gettext_lazy("On track"), "clock"),
    Urgency.NO_CLOCK: Badge("none", gettext_lazy("No clock"), "dash"),
}
CLOCK_BADGES = {
    ClockState.RUNNING: Badge("running", pgettext_lazy("clock", "Running"), "clock"),
    ClockState.AT_RISK: Badge("at-risk", gettext_lazy("At risk"), "warn"),
    ClockState.BREACHED: Badge("breached", gettext_lazy("Breached"), "alert"),
    ClockState.PAUSED: Badge("paused", pgettext_lazy("clock", "Paused"), "pause"),
    ClockState.MET: Badge("met", pgettext_lazy("clock", "Met"), "check"),
    ClockState.MISSED: Badge("missed", pgettext_lazy("clock", "Missed"), "cross"),
    ClockState.CANCELLED: Badge("cancelled", pgettext_lazy("clock", "Cancelled"), "dash"),
}


def show_on(instance: Model, **values: object) -> None:
    """Set what a template shows of a row (a badge, a countdown, a link) on the row itself, so
    that the templates read `clock.badge` beside `clock.kind`. These are not fields: the model
    class declares none of them."""
    for name, value in values.items():
        setattr(instance, name, value)


def duration(seconds: float) -> str:
    """Compact duration, the same format app.js uses for the live countdown. The units (d, h, m)
    are read as symbols in every shipped language."""
    seconds = int(seconds)
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes}m"
    return f"{minutes}m" if minutes else "<1m"


def countdown(due: datetime, now: datetime) -> str:
    left = (due - now).total_seconds()
    if left >= 0:
        return _("%(time)s left") % {"time": duration(left)}
    return _("overdue by %(time)s") % {"time": duration(-left)}


def rule_duration(seconds: int, *, business_days: bool) -> str:
    """A marketplace rule's target as the marketplace states it: "3 business days", "1h", "2d"."""
    if business_days and seconds % 86400 == 0:
        days = seconds // 86400
        return ngettext("%(days)d business day", "%(days)d business days", days) % {"days": days}
    return display.target_duration(seconds, business=business_days, suffix=_("business hours"))
