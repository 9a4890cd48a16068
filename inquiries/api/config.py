"""Staff API for SLA configuration: calendars (with holidays) and policies (with targets).

Who may read and write which rows: `inquiries.api.permissions` (model permissions plus
the scoping rules the admin uses).

Writes validate with the models' own clean() and go through the configuration services,
so a change recomputes the running clocks it affects, exactly as an admin edit does.
"""

from __future__ import annotations

from typing import Any, TypeVar

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Model
from django.utils.translation import gettext
from rest_framework import serializers
from rest_framework.pagination import CursorPagination

from inquiries.api.permissions import ScopedSerializer, ScopedViewSet
from inquiries.models import Calendar, Holiday, SlaPolicy, SlaTarget
from inquiries.services.config import delete_calendar, delete_policy, save_calendar, save_policy

Row = TypeVar("Row", bound=Model)


def _assign(instance: Row, validated_data: dict[str, Any]) -> Row:
    """The row's own fields from the request; its nested and related rows go to the service."""
    for field, value in validated_data.items():
        setattr(instance, field, value)
    return instance


def _clean(instance: Any) -> None:
    try:
        instance.clean()
    except DjangoValidationError as exc:
        raise serializers.ValidationError(
            exc.message_dict if hasattr(exc, "error_dict") else exc.messages
        ) from None


class HolidaySerializer(serializers.ModelSerializer):
    class Meta:
        model = Holiday
        fields = ["date", "name"]


class CalendarSerializer(ScopedSerializer):
    holidays = HolidaySerializer(many=True, required=False)

    class Meta:
        model = Calendar
        fields = ["id", "name", "timezone", "is_24x7", "hours", "holidays", "version"]
        read_only_fields = ["version"]

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        attrs = super().validate(attrs)
        probe = Calendar(**{k: v for k, v in attrs.items() if k != "holidays"})
        if self.instance is not None:
            for field in ("timezone", "is_24x7", "hours"):
                setattr(probe, field, attrs.get(field, getattr(self.instance, field)))
        _clean(probe)
        return attrs

    def create(self, validated_data: dict[str, Any]) -> Calendar:
        return self.update(Calendar(), validated_data)

    def update(self, instance: Calendar, validated_data: dict[str, Any]) -> Calendar:
        holidays = validated_data.pop("holidays", None)
        save_calendar(calendar=_assign(instance, validated_data), holidays=holidays)
        return instance


class TargetSerializer(serializers.ModelSerializer):
    class Meta:
        model = SlaTarget
        fields = ["priority", "first_reply_seconds", "next_reply_seconds", "resolution_seconds"]

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        _clean(SlaTarget(**attrs))
        return attrs


APPLIES_TO = ("accounts", "channels", "topics")


class PolicySerializer(ScopedSerializer):
    targets = TargetSerializer(many=True, required=False)
    apply_to_open = serializers.BooleanField(
        write_only=True,
        required=False,
        default=True,
        help_text="Recompute the running clocks of open inquiries with this policy (in the background); "
        "false: only inquiries opened from now on use it.",
    )

    class Meta:
        model = SlaPolicy
        fields = [
            "id",
            "name",
            "position",
            "is_active",
            "accounts",
            "channels",
            "topics",
            "priorities",
            "customer_tags",
            "calendar",
            "warn_ratio",
            "targets",
            "apply_to_open",
            "updated_at",
        ]
        read_only_fields = ["updated_at"]

    def validate_warn_ratio(self, value: float) -> float:
        if not 0 < value < 1:
            raise serializers.ValidationError(
                gettext("The at-risk threshold must be between 0 and 1, e.g. 0.75.")
            )
        return value

    def validate_targets(self, value: list[dict[str, Any]]) -> list[dict[str, Any]]:
        priorities = [t["priority"] for t in value]
        if len(priorities) != len(set(priorities)):
            raise serializers.ValidationError(gettext("One target per priority."))
        return value

    def create(self, validated_data: dict[str, Any]) -> SlaPolicy:
        return self.update(SlaPolicy(), validated_data)

    def update(self, instance: SlaPolicy, validated_data: dict[str, Any]) -> SlaPolicy:
        targets = validated_data.pop("targets", None)
        apply_to_open = validated_data.pop("apply_to_open", True)
        relations = {name: validated_data.pop(name) for name in APPLIES_TO if name in validated_data}
        save_policy(
            policy=_assign(instance, validated_data),
            targets=targets,
            apply_to_open=apply_to_open,
            **relations,
        )
        return instance


class ById(CursorPagination):
    ordering = ("id",)
    page_size = 100


class CalendarViewSet(ScopedViewSet):
    pagination_class = ById
    serializer_class = CalendarSerializer
    queryset = Calendar.objects.prefetch_related("holidays")

    def perform_destroy(self, instance: Calendar) -> None:
        delete_calendar(calendar=instance)


class PolicyViewSet(ScopedViewSet):
    pagination_class = ById
    serializer_class = PolicySerializer
    queryset = SlaPolicy.objects.prefetch_related("targets", "accounts", "channels", "topics")

    def perform_destroy(self, instance: SlaPolicy) -> None:
        delete_policy(policy=instance)
