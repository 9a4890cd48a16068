"""Staff API for SLA configuration: calendars (with holidays) and policies (with targets).

Who may read and write which rows: `inquiries.api.permissions` (model permissions plus
the scoping rules the admin uses).

Writes validate with the models' own clean() and go through the configuration services,
so a change recomputes the running clocks it affects, exactly as an admin edit does.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from rest_framework import serializers
from rest_framework.pagination import CursorPagination

from inquiries.api.permissions import ScopedSerializer, ScopedViewSet
from inquiries.models import Calendar, Holiday, SlaPolicy, SlaTarget
from inquiries.services.config import calendar_changed, delete_policy, policy_changed


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

    @transaction.atomic
    def save(self, **kwargs: Any) -> Calendar:
        holidays = self.validated_data.pop("holidays", None)
        calendar = super().save(**kwargs)
        if holidays is not None:
            calendar.holidays.all().delete()
            Holiday.objects.bulk_create(Holiday(calendar=calendar, **h) for h in holidays)
        calendar_changed(calendar=calendar)
        return calendar


class TargetSerializer(serializers.ModelSerializer):
    class Meta:
        model = SlaTarget
        fields = ["priority", "first_reply_seconds", "next_reply_seconds", "resolution_seconds"]

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        _clean(SlaTarget(**attrs))
        return attrs


class PolicySerializer(ScopedSerializer):
    targets = TargetSerializer(many=True, required=False)

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
            "updated_at",
        ]
        read_only_fields = ["updated_at"]

    def validate_warn_ratio(self, value: float) -> float:
        if not 0 < value < 1:
            raise serializers.ValidationError("The at-risk threshold must be between 0 and 1, e.g. 0.75.")
        return value

    def validate_targets(self, value: list[dict[str, Any]]) -> list[dict[str, Any]]:
        priorities = [t["priority"] for t in value]
        if len(priorities) != len(set(priorities)):
            raise serializers.ValidationError("One target per priority.")
        return value

    @transaction.atomic
    def save(self, **kwargs: Any) -> SlaPolicy:
        targets = self.validated_data.pop("targets", None)
        policy = super().save(**kwargs)
        if targets is not None:
            policy.targets.all().delete()
            SlaTarget.objects.bulk_create(SlaTarget(policy=policy, **t) for t in targets)
        policy_changed(policy=policy)
        return policy


class ById(CursorPagination):
    ordering = ("id",)
    page_size = 100


class CalendarViewSet(ScopedViewSet):
    pagination_class = ById
    serializer_class = CalendarSerializer
    queryset = Calendar.objects.prefetch_related("holidays")


class PolicyViewSet(ScopedViewSet):
    pagination_class = ById
    serializer_class = PolicySerializer
    queryset = SlaPolicy.objects.prefetch_related("targets", "accounts", "channels", "topics")

    def perform_destroy(self, instance: SlaPolicy) -> None:
        delete_policy(policy=instance)
