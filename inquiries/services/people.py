"""A person's own page settings (density, time zone, language): the one place they are written."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from inquiries.models import Density, Language, UserPreference, validate_timezone
from inquiries.services.errors import DomainError


def language_of(user: AbstractBaseUser) -> str:
    """The language `user` reads e-mails in: their preference, else the site's default."""
    language = UserPreference.objects.filter(user_id=user.pk).values_list("language", flat=True).first()
    return language or settings.LANGUAGE_CODE


@transaction.atomic
def set_preferences(
    *,
    user: AbstractBaseUser,
    density: str | None = None,
    time_zone: str | None = None,
    language: str | None = None,
) -> UserPreference:
    """Change the given settings of `user` (None leaves one as it is); a bad value changes nothing."""
    preference, _created = UserPreference.objects.select_for_update().get_or_create(user=user)
    if density is not None:
        if density not in Density.values:
            raise DomainError(
                _("Unknown density %(density)r; use one of %(choices)s.")
                % {"density": density, "choices": ", ".join(Density.values)}
            )
        preference.density = density
    if time_zone is not None:
        preference.time_zone = time_zone.strip()
        if preference.time_zone:
            try:
                validate_timezone(preference.time_zone)
            except ValidationError as exc:
                raise DomainError(exc.messages[0], field="time_zone") from None
    if language is not None:
        if language and language not in Language.values:
            raise DomainError(
                _("Unknown language %(language)r; use one of %(choices)s.")
                % {"language": language, "choices": ", ".join(Language.values)},
                field="language",
            )
        preference.language = language
    preference.save()
    return preference
