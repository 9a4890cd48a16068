"""The daily rollup of the marketplace metrics from orders (docs/health.md, "The rollup").

One row per account, metric kind (what is counted and the date that anchors it) and local day
of that date in the account's time zone: the day's numerator and denominator with every stored
fact counted, so the health page sums at most a window's worth of rows instead of counting
every order. The import keeps the rows current (`inquiries.services.order_rollup`); the
account's `OrderRollupState` says for which time zone and marketplace they were built, and
the health computation counts live whenever that does not match the account.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from inquiries.models import names
from inquiries.models.config import Account


class OrderRollupState(models.Model):
    """Whether, and for which zone and marketplace, an account's order rollup is built."""

    account = models.OneToOneField(
        Account,
        verbose_name=_("account"),
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="order_rollup",
        help_text=_("The account whose orders are rolled up."),
    )
    timezone = models.CharField(
        verbose_name=_("timezone"),
        max_length=64,
        help_text=_("The account's time zone the days were cut in."),
    )
    marketplace = models.CharField(
        verbose_name=_("marketplace"),
        max_length=32,
        help_text=_("The marketplace whose metrics were rolled up."),
    )
    built_at = models.DateTimeField(
        verbose_name=_("built at"),
        null=True,
        blank=True,
        help_text=_("When the rollup was last built whole (empty: not built for this zone and marketplace)."),
    )
    first_day = models.DateField(
        verbose_name=_("first day"),
        null=True,
        blank=True,
        help_text=_("The first local day the last build counted: a window starting earlier is counted live."),
    )
    rebuild_next_day = models.DateField(
        verbose_name=_("rebuild next day"),
        null=True,
        blank=True,
        help_text=_("A rebuild under way goes on from this local day (empty: none under way)."),
    )

    class Meta:
        verbose_name = _("order rollup state")
        verbose_name_plural = _("order rollup states")

    def __str__(self) -> str:
        return gettext("%(account)s: %(marketplace)s in %(timezone)s") % {
            "account": self.account_id,
            "marketplace": self.marketplace,
            "timezone": self.timezone,
        }


class OrderMetricDay(models.Model):
    """One metric kind's numerator and denominator over the orders (or packages) whose anchor
    date falls on one local day, every stored fact counted whatever its time."""

    account = models.ForeignKey(
        Account, verbose_name=_("account"), on_delete=models.CASCADE, related_name="+", db_index=False
    )
    measure = models.CharField(
        verbose_name=_("measure"), max_length=32, help_text=_("What is counted (`marketplaces.Measure`).")
    )
    anchor = models.CharField(
        verbose_name=_("anchor"),
        max_length=16,
        help_text=_("The date that puts a row in a window (`Anchor`)."),
    )
    day = models.DateField(verbose_name=_("day"), help_text=_("The anchor's day in the account's time zone."))
    numerator = models.PositiveIntegerField(
        verbose_name=_("numerator"), default=0, help_text=_("Rows in the numerator.")
    )
    denominator = models.PositiveIntegerField(
        verbose_name=_("denominator"), default=0, help_text=_("Rows in the denominator.")
    )
    anchor_until = models.DateTimeField(
        verbose_name=_("anchor until"),
        null=True,
        blank=True,
        help_text=_("The latest anchor time of the day's rows (a day still running)."),
    )
    facts_until = models.DateTimeField(
        verbose_name=_("facts until"),
        null=True,
        blank=True,
        help_text=_("The latest time of a fact the counts depend on: before it, count live."),
    )

    class Meta:
        verbose_name = _("order metric day")
        verbose_name_plural = _("order metric days")
        constraints = [
            models.UniqueConstraint(
                fields=["account", "measure", "anchor", "day"], name="order_metric_day_unique"
            ),
        ]

    def __str__(self) -> str:
        return (
            f"{self.account_id} {self.measure}/{self.anchor} {names.day(self.day)}: "
            f"{self.numerator}/{self.denominator}"
        )
