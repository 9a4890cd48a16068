"""Small display helpers for the templates: no queries beyond what the user object caches."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django import template
from django.utils.translation import gettext

from inquiries import display

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser, User

register = template.Library()


@register.filter
def can_use_admin(user: User | AnonymousUser) -> bool:
    """Whether the admin would show this user anything: staff with at least one permission.

    ``is_staff`` alone lets a user log into the admin, where someone without permissions reads
    "You don't have permission to view or edit anything". Non-staff users cost no query; for
    staff, the permission lookup is cached on the user object for the request.
    """
    if not (getattr(user, "is_active", False) and getattr(user, "is_staff", False)):
        return False
    return bool(user.is_superuser or user.get_all_permissions())


@register.filter
def titled(subject: str, text: str) -> str:
    """`{{ row.subject|titled:row.first_text }}`: the subject, or the first words of the text."""
    return display.title(subject or "", text or "", empty=gettext("(no subject)"))


@register.filter
def preview(text: str) -> str:
    """The start of a customer's message on one line."""
    return display.preview(text or "")
