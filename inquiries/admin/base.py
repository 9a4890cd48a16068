"""The base classes of every admin page: scoping (see `inquiries.scoping`) and read-only views.

Kept apart from `inquiries/admin.py` so that the admin modules by area import these without
importing each other.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from django import forms
from django.contrib import admin
from django.contrib.auth.models import User
from django.db import models
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy

from inquiries import scoping

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise


def staff_user(request: HttpRequest) -> User:
    """The user an admin page acts for: the admin site lets only active staff in
    (`AdminSite.has_permission`), never the anonymous user."""
    return cast(User, request.user)  # AUTH_USER_MODEL is auth.User; the admin site checked it


class ScopedAdmin(admin.ModelAdmin):
    """Every admin page asks `inquiries.scoping` which rows a user may see and change: lists,
    change pages, the choices of every related field and the filter sidebars. On top of
    that, Django's model permissions decide what a staff user may do at all."""

    # A web address typed without a scheme is https (Django 6's default; said now, so that the
    # forms do not change meaning with the upgrade).
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return scoping.scoped(super().get_queryset(request), request.user)

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        kwargs.setdefault("queryset", _choices(db_field, request))
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def formfield_for_manytomany(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        kwargs.setdefault("queryset", _choices(db_field, request))
        return super().formfield_for_manytomany(db_field, request, **kwargs)

    def get_list_filter(self, request: HttpRequest) -> Any:
        # For a user with a limited scope, a filter on a scoped relation (account, channel,
        # team) lists only the values among the rows they can see; superusers see them all.
        if request.user.is_superuser:
            return super().get_list_filter(request)
        return [
            (name, admin.RelatedOnlyFieldListFilter) if _is_scoped_relation(self.model, name) else name
            for name in super().get_list_filter(request)
        ]

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any) -> Any:
        form = super().get_form(request, obj, change, **kwargs)
        required = [
            name for name in scoping.fields_required_of(request.user, self.model) if name in form.base_fields
        ]
        for name in required:
            form.base_fields[name].required = True
        return form

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        allowed = super().has_change_permission(request, obj)
        return allowed and (obj is None or scoping.may_change(request.user, obj))

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        allowed = super().has_delete_permission(request, obj)
        return allowed and (obj is None or scoping.may_change(request.user, obj))


def _choices(db_field: Any, request: HttpRequest) -> QuerySet:
    model = db_field.remote_field.model
    return scoping.scoped(model._default_manager.all(), request.user)


def _is_scoped_relation(model: Any, name: Any) -> bool:
    if not isinstance(name, str) or "__" in name:
        return False
    field = model._meta.get_field(name)
    return bool(field.is_relation) and not isinstance(scoping.rule_for(field.related_model), scoping.Shared)


class ReadOnly(ScopedAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request.user.is_superuser


def secret_field(label: StrOrPromise) -> forms.CharField:
    return forms.CharField(
        label=label,
        required=False,
        strip=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text=gettext_lazy(
            "Write-only: leave empty to keep what is stored. Stored encrypted; never shown again."
        ),
    )
