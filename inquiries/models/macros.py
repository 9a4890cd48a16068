"""Macros: canned replies of a team or of one agent, with optional actions applied on send."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone as dj_timezone
from django.utils.translation import gettext_lazy as _

from inquiries.macro_text import unknown_variables
from inquiries.models.choices import Priority, Status
from inquiries.models.config import Team, Topic

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise


class Macro(models.Model):
    """A team macro (team set) is offered to that team's members on its accounts' inquiries;
    a personal macro (owner set) to its owner only. Exactly one of the two is set."""

    name = models.CharField(
        verbose_name=_("name"), max_length=100, help_text=_("What agents type to find it in the reply box.")
    )
    body = models.TextField(
        verbose_name=_("body"),
        help_text=_(
            "The reply text. Variables: {customer_name}, {order_id}, {tracking_number}, {agent_name}; "
            "one without a value is left as a gap the agent must fill."
        ),
    )
    team = models.ForeignKey(
        Team,
        verbose_name=_("team"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="macros",
        help_text=_("A team macro: offered to this team's members. Leave empty for a personal macro."),
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("owner"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="macros",
        help_text=_("A personal macro: offered to this user only. Leave empty for a team macro."),
    )
    set_status = models.CharField(
        verbose_name=_("set status"),
        max_length=16,
        choices=Status.choices,
        blank=True,
        help_text=_("On send, set this status (empty: keep)."),
    )
    set_priority = models.CharField(
        verbose_name=_("set priority"),
        max_length=16,
        choices=Priority.choices,
        blank=True,
        help_text=_("On send, set this priority (empty: keep)."),
    )
    set_topic = models.ForeignKey(
        Topic,
        verbose_name=_("set topic"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text=_("On send, tag the inquiry with this topic (empty: keep)."),
    )
    is_active = models.BooleanField(
        verbose_name=_("is active"), default=True, help_text=_("Inactive macros are not offered.")
    )
    created_at = models.DateTimeField(verbose_name=_("created at"), default=dj_timezone.now, editable=False)
    updated_at = models.DateTimeField(verbose_name=_("updated at"), auto_now=True)

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(team__isnull=True, owner__isnull=False)
                | Q(team__isnull=False, owner__isnull=True),
                name="macro_team_xor_owner",
            )
        ]
        verbose_name = _("macro")
        verbose_name_plural = _("macros")

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        errors: dict[str, StrOrPromise] = {}
        # No team and no owner is fine here: the service makes such a macro its author's own.
        if self.team_id is not None and self.owner_id is not None:
            errors["team"] = _("Give a team (a team macro) or an owner (a personal macro), not both.")
        unknown = unknown_variables(self.body or "")
        if unknown:
            errors["body"] = _(
                "Unknown variable(s): %(names)s. "
                "Use {customer_name}, {order_id}, {tracking_number} or {agent_name}."
            ) % {"names": ", ".join(unknown)}
        if errors:
            raise ValidationError(errors)
