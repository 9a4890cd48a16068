"""A person's own settings for the pages: how dense the queue is, which zone times read in, which
language the pages speak."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from inquiries.models.config import validate_timezone


class Density(models.TextChoices):
    COMFORTABLE = "comfortable", _("Comfortable (preview line)")
    COMPACT = "compact", _("Compact (one line per inquiry)")


class Language(models.TextChoices):
    """The languages the UI ships in (settings.LANGUAGES); each name in its own language, so
    that someone who cannot read the current one still finds theirs."""

    ENGLISH = "en", "English"
    GERMAN = "de", "Deutsch"
    SPANISH = "es", "Español"
    FRENCH = "fr", "Français"


class UserPreference(models.Model):
    """One row per user who changed a setting; without one, the defaults apply."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, verbose_name=_("user"), on_delete=models.CASCADE, related_name="preference"
    )
    density = models.CharField(
        verbose_name=_("density"),
        max_length=16,
        choices=Density.choices,
        default=Density.COMFORTABLE,
        help_text=_("How the queue lists inquiries: with the customer's latest words, or one line each."),
    )
    time_zone = models.CharField(
        verbose_name=_("time zone"),
        max_length=64,
        blank=True,
        validators=[validate_timezone],
        help_text=_(
            "Where this person's own times (notifications) are shown; empty means the server's zone."
        ),
    )
    language = models.CharField(
        verbose_name=_("language"),
        max_length=8,
        choices=Language.choices,
        blank=True,
        help_text=_("The language of this person's pages and e-mails; empty means the browser's language."),
    )

    class Meta:
        verbose_name = _("user preference")
        verbose_name_plural = _("user preferences")

    def __str__(self) -> str:
        return gettext("Page settings of %(user)s") % {"user": self.user}

    @property
    def zone(self) -> str:
        return self.time_zone or settings.TIME_ZONE
