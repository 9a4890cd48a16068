"""Macros over the API (`/api/v1/macros/`).

Macros are configuration: model permissions plus `inquiries.scoping` (a user reaches their own
personal macros and their teams' macros), as in the admin. Replying with one is the write API's
reply action (`inquiries/api/write.py`, `macro` and `confirm` in its body).
"""

from __future__ import annotations

from typing import Any

from rest_framework.pagination import CursorPagination

from inquiries.api.parsers import API_PARSERS
from inquiries.api.permissions import ScopedSerializer, ScopedViewSet
from inquiries.models import Macro
from inquiries.services.macros import delete_macro, save_macro


class MacroSerializer(ScopedSerializer):
    class Meta:
        model = Macro
        fields = [
            "id",
            "name",
            "body",
            "team",
            "owner",
            "set_status",
            "set_priority",
            "set_topic",
            "is_active",
            "updated_at",
        ]
        read_only_fields = ["owner", "updated_at"]

    def create(self, validated_data: dict[str, Any]) -> Macro:
        return self.update(Macro(), validated_data)

    def update(self, instance: Macro, validated_data: dict[str, Any]) -> Macro:
        for field, value in validated_data.items():
            setattr(instance, field, value)
        return save_macro(macro=instance, author=self.context["request"].user)


class ByName(CursorPagination):
    ordering = ("name", "id")
    page_size = 100


class MacroViewSet(ScopedViewSet):
    """Team macros (give `team`) and personal macros (leave `team` empty: the caller owns it)."""

    queryset = Macro.objects.all()
    serializer_class = MacroSerializer
    pagination_class = ByName
    parser_classes = API_PARSERS

    def perform_destroy(self, instance: Macro) -> None:
        delete_macro(macro=instance)
