"""The rota: automatic assignment per team, and each agent's availability in it."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from inquiries.models.config import Calendar, Membership, Team


class AssignmentMode(models.TextChoices):
    OFF = "off", _("Off (agents claim inquiries)")
    ROUND_ROBIN = "round_robin", _("Round robin")
    LEAST_OPEN = "least_open", _("Least open inquiries")


class Rota(models.Model):
    """How a team's new inquiries find an agent. One per team; without one nobody is assigned."""

    team = models.OneToOneField(Team, verbose_name=_("team"), on_delete=models.CASCADE, related_name="rota")
    mode = models.CharField(
        verbose_name=_("mode"),
        max_length=16,
        choices=AssignmentMode.choices,
        default=AssignmentMode.ROUND_ROBIN,
        help_text=_(
            "Round robin takes turns; least open gives each arrival to the agent with the fewest "
            "open inquiries. Off: nothing is assigned automatically."
        ),
    )
    calendar = models.ForeignKey(
        Calendar,
        verbose_name=_("calendar"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text=_(
            "The team's working hours: agents are assigned only while it is open (an agent may "
            "have their own shift calendar). Empty: around the clock."
        ),
    )
    capacity = models.PositiveIntegerField(
        verbose_name=_("capacity"),
        default=25,
        help_text=_("Most open inquiries (new, open, pending) an agent holds before the rota skips them."),
    )
    last_assigned = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("last assigned"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        editable=False,
        help_text=_("Where round robin carries on."),
    )
    updated_at = models.DateTimeField(verbose_name=_("updated at"), auto_now=True)

    class Meta:
        ordering = ["team__name"]
        constraints = [models.CheckConstraint(condition=Q(capacity__gt=0), name="rota_capacity_positive")]
        verbose_name = _("rota")
        verbose_name_plural = _("rotas")

    def __str__(self) -> str:
        return gettext("Rota of %(team)s") % {"team": self.team}


class RotaMember(models.Model):
    """One agent in a team's rota: in or out, their own capacity and shift, out-of-office dates."""

    rota = models.ForeignKey(Rota, verbose_name=_("rota"), on_delete=models.CASCADE, related_name="members")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("user"), on_delete=models.CASCADE, related_name="rota_places"
    )
    is_active = models.BooleanField(
        verbose_name=_("is active"), default=True, help_text=_("In the rota: receives new inquiries.")
    )
    capacity = models.PositiveIntegerField(
        verbose_name=_("capacity"),
        null=True,
        blank=True,
        help_text=_("This agent's limit of open inquiries; empty: the rota's."),
    )
    calendar = models.ForeignKey(
        Calendar,
        verbose_name=_("calendar"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text=_("This agent's shift; empty: the team's working hours."),
    )
    away_from = models.DateField(
        verbose_name=_("away from"),
        null=True,
        blank=True,
        help_text=_("First day out of office (local date of the shift's calendar)."),
    )
    away_until = models.DateField(
        verbose_name=_("away until"),
        null=True,
        blank=True,
        help_text=_("Last day out of office; empty with a first day: until further notice."),
    )

    class Meta:
        ordering = ["rota", "user_id"]
        constraints = [models.UniqueConstraint(fields=["rota", "user"], name="rota_member_unique")]
        verbose_name = _("rota member")
        verbose_name_plural = _("rota members")

    def __str__(self) -> str:
        return gettext("%(user)s in %(rota)s") % {"user": self.user, "rota": self.rota}

    def clean(self) -> None:
        errors = {}
        if self.away_from and self.away_until and self.away_until < self.away_from:
            errors["away_until"] = _("The last day out of office comes before the first.")
        if self.capacity == 0:
            errors["capacity"] = _("A capacity of 0 takes the agent out: untick 'in the rota' instead.")
        if (
            self.rota_id is not None
            and self.user_id is not None
            and not Membership.objects.filter(team_id=self.rota.team_id, user_id=self.user_id).exists()
        ):
            errors["user"] = _("Only a member of the team can be in its rota.")
        if errors:
            raise ValidationError(errors)
