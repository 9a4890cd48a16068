"""Configuration routes: the admin's rules, in DRF terms.

A staff flag alone grants nothing. A request needs the staff flag *and* Django's model
permission for what it does (view for reads, add, change, delete), and it sees and touches
only the rows `inquiries.scoping` gives the user, exactly as in the admin.
"""

from __future__ import annotations

from typing import Any, cast

from django.contrib.auth.models import User
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy
from rest_framework import permissions, serializers, viewsets
from rest_framework.relations import ManyRelatedField, RelatedField
from rest_framework.request import Request

from inquiries import scoping

EVERYTHING = gettext_lazy(
    "An empty set applies to every account; only a superuser may set that. "
    "Name the accounts or teams it is for."
)


def caller(request: Request) -> User:
    """The user an API request acts for. Every API view lets only authenticated users in
    (`IsAuthenticated` is the default permission; `ConfigurationPermission` asks more), so by the
    time a view runs `request.user` is a `User`, never the anonymous user."""
    return cast(User, request.user)  # AUTH_USER_MODEL is auth.User; the permissions ran first


class ConfigurationPermission(permissions.DjangoModelPermissions):
    perms_map = {
        **permissions.DjangoModelPermissions.perms_map,
        "GET": ["%(app_label)s.view_%(model_name)s"],
        "HEAD": ["%(app_label)s.view_%(model_name)s"],
    }

    def has_permission(self, request: Request, view: Any) -> bool:
        user = request.user
        return bool(user and user.is_active and user.is_staff) and super().has_permission(request, view)

    def has_object_permission(self, request: Request, view: Any, obj: Any) -> bool:
        return request.method in permissions.SAFE_METHODS or scoping.may_change(request.user, obj)


class ScopedSerializer(serializers.ModelSerializer):
    """Related fields offer only the rows the requesting user may see; a row outside answers
    'Invalid pk', as if it did not exist."""

    def get_fields(self) -> dict[str, serializers.Field]:
        fields = super().get_fields()
        request = self.context.get("request")
        if request is None:  # schema generation
            return fields
        for field in fields.values():
            related = field.child_relation if isinstance(field, ManyRelatedField) else field
            if isinstance(related, RelatedField) and not related.read_only and related.queryset is not None:
                # A ModelSerializer's field holds the model's manager; .all() is its QuerySet.
                related.queryset = scoping.scoped(related.queryset.all(), request.user)
        return fields

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        attrs = super().validate(attrs)
        request = self.context.get("request")
        user = getattr(request, "user", None)
        for name in scoping.fields_required_of(user, self.Meta.model):
            if name in attrs:
                value = attrs[name]
            elif self.instance is None:
                value = None
            else:
                continue
            if value is None or (isinstance(value, list | tuple | QuerySet) and len(value) == 0):
                raise serializers.ValidationError({name: [EVERYTHING]})
        return attrs


class ScopedViewSet(viewsets.ModelViewSet):
    permission_classes = [ConfigurationPermission]

    def get_queryset(self) -> QuerySet:
        return scoping.scoped(super().get_queryset(), self.request.user)
