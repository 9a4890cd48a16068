"""Marketplace connectors: an account's API credentials and schedule, and a record of each run.

An `AmazonConnection` fetches the account's reports from Amazon's Selling Partner API on its
own schedule (`inquiries.services.spapi`); each report it fetches is one `ConnectorRun`.
The Login with Amazon credentials are stored as Fernet tokens (`inquiries.secrets`), written
by the admin form and never shown back.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from inquiries.models import names
from inquiries.models.config import Account


class SpApiRegion(models.TextChoices):
    NORTH_AMERICA = "na", _("North America (US, CA, MX, BR)")
    EUROPE = "eu", _("Europe, Middle East, India")
    FAR_EAST = "fe", _("Far East (JP, AU, SG)")


class AmazonConnection(models.Model):
    account = models.OneToOneField(
        Account,
        verbose_name=_("account"),
        on_delete=models.CASCADE,
        related_name="amazon_connection",
        help_text=_("The account whose Amazon reports this connection fetches."),
    )
    is_enabled = models.BooleanField(
        verbose_name=_("is enabled"), default=True, help_text=_("A disabled connection fetches nothing.")
    )
    region = models.CharField(
        verbose_name=_("region"),
        max_length=2,
        choices=SpApiRegion.choices,
        default=SpApiRegion.NORTH_AMERICA,
        help_text=_("The Selling Partner API region of the marketplaces (Amazon's endpoint for it)."),
    )
    marketplace_ids = models.CharField(
        verbose_name=_("marketplace ids"),
        max_length=500,
        help_text=_(
            "Amazon's marketplace ids, comma-separated (ATVPDKIKX0DER is amazon.com; Amazon's "
            '"Marketplace IDs" page lists them).'
        ),
    )
    dates_dayfirst = models.BooleanField(
        null=True,
        blank=True,
        verbose_name=_("slash dates day first"),
        help_text=_(
            "How the reports write a date with slashes: day first (DD/MM/YYYY) or month first "
            "(MM/DD/YYYY, as amazon.com does). Empty: by region, day first in Europe and the Far "
            "East, month first in North America. ISO dates read either way."
        ),
    )
    refresh_token_encrypted = models.TextField(
        verbose_name=_("refresh token encrypted"), blank=True, editable=False
    )
    client_id_encrypted = models.TextField(verbose_name=_("client id encrypted"), blank=True, editable=False)
    client_secret_encrypted = models.TextField(
        verbose_name=_("client secret encrypted"), blank=True, editable=False
    )
    sync_every_hours = models.PositiveSmallIntegerField(
        verbose_name=_("sync every hours"),
        default=24,
        help_text=_("Hours between two fetches of the reports (at least 1)."),
    )
    lookback_days = models.PositiveSmallIntegerField(
        verbose_name=_("lookback days"),
        default=30,
        help_text=_(
            "Each fetch asks for the reports of this many days before it (re-importing overlapping "
            "days updates and never duplicates)."
        ),
    )
    next_sync_at = models.DateTimeField(
        verbose_name=_("next sync at"),
        null=True,
        blank=True,
        help_text=_("When the next fetch is due (empty: at the next sweep)."),
    )
    lease_until = models.DateTimeField(verbose_name=_("lease until"), null=True, blank=True, editable=False)
    last_sync_at = models.DateTimeField(
        verbose_name=_("last sync at"),
        null=True,
        blank=True,
        editable=False,
        help_text=_("When the last fetch finished."),
    )
    last_sync_ok = models.BooleanField(verbose_name=_("last sync ok"), null=True, editable=False)
    last_sync_summary = models.TextField(verbose_name=_("last sync summary"), blank=True, editable=False)

    class Meta:
        verbose_name = _("Amazon connection")
        verbose_name_plural = _("Amazon connections")
        constraints = [
            models.CheckConstraint(condition=Q(sync_every_hours__gte=1), name="amazon_sync_at_least_hourly"),
        ]

    def __str__(self) -> str:
        return f"Amazon SP-API: {self.account}"

    @property
    def reads_dayfirst(self) -> bool:
        """Whether its reports' slash dates are read day first: as set, else by region."""
        if self.dates_dayfirst is not None:
            return self.dates_dayfirst
        return self.region != SpApiRegion.NORTH_AMERICA

    @property
    def marketplace_id_list(self) -> list[str]:
        return [part.strip() for part in self.marketplace_ids.split(",") if part.strip()]


class RunState(models.TextChoices):
    RUNNING = "running", _("Running")
    DONE = "done", _("Done")
    FAILED = "failed", _("Failed")
    SKIPPED = "skipped", _("Skipped")


class ConnectorRun(models.Model):
    """One report fetched (or tried) for an account: what, when, how it ended, how many rows."""

    account = models.ForeignKey(
        Account, verbose_name=_("account"), on_delete=models.CASCADE, related_name="connector_runs"
    )
    connector = models.CharField(
        verbose_name=_("connector"),
        max_length=20,
        default="amazon-sp-api",
        help_text=_("Which connector ran."),
    )
    report_type = models.CharField(
        verbose_name=_("report type"),
        max_length=100,
        help_text=_("The marketplace's report type, as it names it."),
    )
    format = models.CharField(
        verbose_name=_("format"),
        max_length=50,
        blank=True,
        help_text=_("The import format the report was read as."),
    )
    started_at = models.DateTimeField(verbose_name=_("started at"))
    finished_at = models.DateTimeField(verbose_name=_("finished at"), null=True, blank=True)
    state = models.CharField(
        verbose_name=_("state"), max_length=10, choices=RunState.choices, default=RunState.RUNNING
    )
    report_id = models.CharField(
        verbose_name=_("report id"), max_length=100, blank=True, help_text=_("Amazon's reportId.")
    )
    document_id = models.CharField(
        verbose_name=_("document id"), max_length=200, blank=True, help_text=_("Amazon's reportDocumentId.")
    )
    rows = models.PositiveIntegerField(
        verbose_name=_("rows"), default=0, help_text=_("Data lines read from the document.")
    )
    imported = models.PositiveIntegerField(
        verbose_name=_("imported"), default=0, help_text=_("Lines stored.")
    )
    rejected = models.PositiveIntegerField(
        verbose_name=_("rejected"), default=0, help_text=_("Lines refused by the importer.")
    )
    error = models.TextField(
        verbose_name=_("error"),
        blank=True,
        help_text=_("Why the run failed or was skipped, or the first rejections."),
    )

    class Meta:
        verbose_name = _("connector run")
        verbose_name_plural = _("connector runs")
        indexes = [models.Index(fields=["account", "-started_at"], name="connector_run_recent")]

    def __str__(self) -> str:
        return gettext("%(report)s for %(account)s at %(moment)s") % {
            "report": self.report_type,
            "account": self.account_id,
            "moment": names.moment(self.started_at),
        }
