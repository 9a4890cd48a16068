"""Report digests: a manager's daily or weekly e-mail summary of the SLA reports."""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone as dj_timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from inquiries.models import names
from inquiries.models.config import Team, validate_timezone


class DigestFrequency(models.TextChoices):
    DAILY = "daily", _("Daily")
    WEEKLY = "weekly", _("Weekly")


class ReportSubscription(models.Model):
    """One digest e-mail a user receives; `last_sent_at` is claimed by a conditional UPDATE.

    A digest is due once the latest scheduled instant (local `hour`:00, on `weekday` for a
    weekly digest) is later than the last send (or the subscription's creation), so a beat
    that was down sends the missed digest once, late, and never twice.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("user"),
        on_delete=models.CASCADE,
        related_name="report_subscriptions",
    )
    frequency = models.CharField(
        verbose_name=_("frequency"),
        max_length=16,
        choices=DigestFrequency.choices,
        default=DigestFrequency.DAILY,
        help_text=_("Daily covers the 24 hours before the send time; weekly the 7 days before it."),
    )
    hour = models.PositiveSmallIntegerField(
        verbose_name=_("hour"),
        default=8,
        validators=[MaxValueValidator(23)],
        help_text=_("Local hour (0-23) at which the digest is sent."),
    )
    weekday = models.PositiveSmallIntegerField(
        verbose_name=_("weekday"),
        default=0,
        validators=[MaxValueValidator(6)],
        help_text=_("Weekly digests only: 0 = Monday ... 6 = Sunday."),
    )
    timezone = models.CharField(
        verbose_name=_("timezone"),
        max_length=64,
        default="UTC",
        validators=[validate_timezone],
        help_text=_("IANA time zone of the send time and of the report's days."),
    )
    teams = models.ManyToManyField(
        Team,
        verbose_name=_("teams"),
        blank=True,
        related_name="+",
        help_text=_(
            "The accounts of these teams, as far as the user may see them; "
            "empty means all the user's accounts."
        ),
    )
    is_active = models.BooleanField(
        verbose_name=_("is active"),
        default=True,
        help_text=_("Inactive subscriptions are kept but not sent."),
    )
    created_at = models.DateTimeField(verbose_name=_("created at"), default=dj_timezone.now, editable=False)
    last_sent_at = models.DateTimeField(
        verbose_name=_("last sent at"),
        null=True,
        blank=True,
        editable=False,
        help_text=_("When the last digest was claimed for sending."),
    )

    class Meta:
        ordering = ["user_id", "frequency"]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "frequency"], name="report_subscription_once_per_frequency"
            ),
            models.CheckConstraint(
                condition=Q(hour__lte=23) & Q(weekday__lte=6), name="report_subscription_time"
            ),
        ]
        verbose_name = _("report subscription")
        verbose_name_plural = _("report subscriptions")

    def __str__(self) -> str:
        # One sentence per frequency: the adjective agrees with "report" in German, Spanish, French.
        if self.frequency == DigestFrequency.WEEKLY:
            return gettext("Weekly report for %(user)s") % {"user": self.user}
        return gettext("Daily report for %(user)s") % {"user": self.user}


class SlaRollup(models.Model):
    """Clock outcomes per account, channel, assignee, team, topic, clock kind and start day.

    A cache of `Clock` rows that makes the SLA report one small GROUP BY instead of a join
    over every clock of the period. Rebuilt from the clocks by `inquiries.services.rollups`
    only (whole UTC days at a time), never edited; ids are plain integers because a cache
    row must not block or cascade deletes. States are judged as of `SlaRollupState.refreshed_at`.
    """

    day = models.DateField(verbose_name=_("day"), help_text=_("The clocks' start day in UTC."))
    local_day = models.DateField(
        verbose_name=_("local day"), help_text=_("The clocks' start day in the account's time zone.")
    )
    account_id = models.BigIntegerField(verbose_name=_("account id"))
    channel_id = models.BigIntegerField(verbose_name=_("channel id"))
    assignee_id = models.BigIntegerField(
        verbose_name=_("assignee id"),
        null=True,
        help_text=_("The inquiry's assignee; empty when unassigned."),
    )
    team_id = models.BigIntegerField(
        verbose_name=_("team id"),
        null=True,
        help_text=_("The inquiry's team, else the assignee's team working the account; empty: none."),
    )
    topic_id = models.BigIntegerField(
        verbose_name=_("topic id"), null=True, help_text=_("The inquiry's topic; empty when none.")
    )
    kind = models.CharField(verbose_name=_("kind"), max_length=32)
    met = models.PositiveIntegerField(verbose_name=_("met"), default=0)
    missed = models.PositiveIntegerField(verbose_name=_("missed"), default=0)
    breached = models.PositiveIntegerField(
        verbose_name=_("breached"), default=0, help_text=_("Not stopped and past due at the refresh.")
    )
    cancelled = models.PositiveIntegerField(verbose_name=_("cancelled"), default=0)
    in_progress = models.PositiveIntegerField(
        verbose_name=_("in progress"), default=0, help_text=_("Paused, or not stopped and not yet due.")
    )

    class Meta:
        indexes = [
            models.Index(fields=["day"], name="sla_rollup_day"),
            models.Index(fields=["local_day"], name="sla_rollup_local_day"),
        ]
        verbose_name = _("sla rollup")
        verbose_name_plural = _("sla rollups")

    def __str__(self) -> str:
        return f"{self.day} {self.account_id} {self.kind}"


class SlaRollupState(models.Model):
    """The one row (pk 1) that says how fresh `SlaRollup` is."""

    first_day = models.DateField(
        verbose_name=_("first day"), null=True, help_text=_("The earliest UTC day the rollup covers.")
    )
    refreshed_at = models.DateTimeField(
        verbose_name=_("refreshed at"), null=True, help_text=_("States in the rollup are as of this instant.")
    )
    rebuilt_at = models.DateTimeField(
        verbose_name=_("rebuilt at"), null=True, help_text=_("The last full rebuild.")
    )
    event_watermark = models.BigIntegerField(
        verbose_name=_("event watermark"),
        default=0,
        help_text=_("Inquiry events up to this id were looked at by the last refresh."),
    )
    rebuild_next_day = models.DateField(
        verbose_name=_("rebuild next day"),
        null=True,
        blank=True,
        help_text=_("While a full rebuild is under way, the next UTC day it recomputes; empty otherwise."),
    )
    previous_watermark = models.BigIntegerField(
        verbose_name=_("previous watermark"),
        default=0,
        help_text=_(
            "The watermark before it: each refresh looks again from here, so an event whose "
            "transaction committed late is still seen."
        ),
    )

    class Meta:
        verbose_name = _("sla rollup state")
        verbose_name_plural = _("sla rollup states")

    def __str__(self) -> str:
        if self.refreshed_at is None:
            return gettext("SLA rollup, not refreshed yet")
        return gettext("SLA rollup as of %(moment)s") % {"moment": names.moment(self.refreshed_at)}


class DurationRollup(models.Model):
    """The measured first-reply and resolution clocks of one account, clock kind and start day,
    every clock kept, so that medians and percentiles come out exact.

    Medians cannot be added up from counts, so each row holds its clocks themselves, packed as
    fixed-size binary records (`inquiries.reports.measured.CLOCK`: channel, assignee, team and
    topic ids, business seconds, calendar seconds): the report section reads a few hundred rows
    for a month instead of joining half a million clocks to their inquiries. Rebuilt with
    `SlaRollup` (same days, same refresh), never edited; ids are plain integers, as there.
    """

    day = models.DateField(verbose_name=_("day"), help_text=_("The clocks' start day in UTC."))
    local_day = models.DateField(
        verbose_name=_("local day"), help_text=_("The clocks' start day in the account's time zone.")
    )
    account_id = models.BigIntegerField(verbose_name=_("account id"))
    kind = models.CharField(verbose_name=_("kind"), max_length=32)
    clocks = models.BinaryField(
        verbose_name=_("clocks"), help_text=_("The clocks' records, `inquiries.reports.measured.CLOCK` each.")
    )

    class Meta:
        indexes = [
            models.Index(fields=["day"], name="duration_rollup_day"),
            models.Index(fields=["local_day"], name="duration_rollup_local_day"),
        ]
        verbose_name = _("duration rollup")
        verbose_name_plural = _("duration rollups")

    def __str__(self) -> str:
        return f"{self.day} {self.account_id} {self.kind}"


class VolumeRollup(models.Model):
    """Messages counted per account, channel, team and hour in the account's time zone: the
    report's volume heatmap. The same days and refresh as `SlaRollup`; never edited.

    A local hour can straddle two UTC days (Asia/Kolkata is UTC+5:30), so a row is one UTC day
    and one local day and hour: a period of UTC days or of the accounts' local days picks
    exactly its messages.
    """

    day = models.DateField(verbose_name=_("day"), help_text=_("The messages' UTC day (received_at)."))
    local_day = models.DateField(
        verbose_name=_("local day"), help_text=_("The messages' day in the account's time zone.")
    )
    weekday = models.PositiveSmallIntegerField(
        verbose_name=_("weekday"), help_text=_("ISO weekday of local_day: 1 = Monday ... 7 = Sunday.")
    )
    hour = models.PositiveSmallIntegerField(
        verbose_name=_("hour"), help_text=_("The hour (0-23) in the account's time zone.")
    )
    account_id = models.BigIntegerField(verbose_name=_("account id"))
    channel_id = models.BigIntegerField(verbose_name=_("channel id"), help_text=_("The inquiry's channel."))
    team_id = models.BigIntegerField(
        verbose_name=_("team id"),
        null=True,
        help_text=_("The inquiry's team, else the assignee's team working the account; empty: none."),
    )
    inbound = models.PositiveIntegerField(
        verbose_name=_("inbound"), default=0, help_text=_("Customer messages (automatic mail left out).")
    )
    replies = models.PositiveIntegerField(
        verbose_name=_("replies"), default=0, help_text=_("Replies that answer (`answering()`).")
    )

    class Meta:
        indexes = [
            models.Index(fields=["day"], name="volume_rollup_day"),
            models.Index(fields=["local_day"], name="volume_rollup_local_day"),
        ]
        verbose_name = _("volume rollup")
        verbose_name_plural = _("volume rollups")

    def __str__(self) -> str:
        return f"{self.day} {self.account_id} {self.hour}h"
