"""Staff API for the reply webhooks of API channels (`/api/v1/reply-webhooks/`).

The same rules as the admin: model permissions plus account scoping (`api.permissions`); the
secret is write-only and stored encrypted (`services.outbox.save_reply_webhook`).
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils.translation import gettext
from rest_framework import serializers
from rest_framework.pagination import CursorPagination

from inquiries.api.parsers import API_PARSERS
from inquiries.api.permissions import ScopedSerializer, ScopedViewSet
from inquiries.models import Channel, ChannelKind, ReplyWebhook
from inquiries.services.outbox import save_reply_webhook


class ReplyWebhookSerializer(ScopedSerializer):
    channel = serializers.SlugRelatedField(
        slug_field="slug", queryset=Channel.objects.exclude(kind=ChannelKind.EMAIL)
    )
    secret = serializers.CharField(
        write_only=True,
        required=False,
        allow_blank=True,
        max_length=500,
        help_text="The signing secret; stored encrypted and never shown. Or name an environment variable.",
    )
    has_secret = serializers.BooleanField(read_only=True)

    class Meta:
        model = ReplyWebhook
        fields = [
            "id",
            "channel",
            "url",
            "is_active",
            "secret_env",
            "secret",
            "has_secret",
            "last_success_at",
            "last_error",
        ]
        read_only_fields = ["last_success_at", "last_error"]

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        attrs = super().validate(attrs)
        if attrs.get("secret") and attrs.get("secret_env"):
            raise serializers.ValidationError(
                {"secret": [gettext("Give a secret or an environment variable name, not both.")]}
            )
        probe = ReplyWebhook(**{k: v for k, v in attrs.items() if k != "secret"})
        if self.instance is not None:
            for field in ("channel", "url", "secret_env"):
                setattr(probe, field, attrs.get(field, getattr(self.instance, field)))
        try:
            probe.clean()
        except DjangoValidationError as exc:
            raise serializers.ValidationError(exc.message_dict) from None
        return attrs

    def create(self, validated_data: dict[str, Any]) -> ReplyWebhook:
        return self.update(ReplyWebhook(), validated_data)

    def update(self, instance: ReplyWebhook, validated_data: dict[str, Any]) -> ReplyWebhook:
        secret = validated_data.pop("secret", "")
        for field, value in validated_data.items():
            setattr(instance, field, value)
        return save_reply_webhook(webhook=instance, secret=secret)


class ById(CursorPagination):
    ordering = ("id",)
    page_size = 100


class ReplyWebhookViewSet(ScopedViewSet):
    queryset = ReplyWebhook.objects.select_related("channel")
    serializer_class = ReplyWebhookSerializer
    pagination_class = ById
    parser_classes = API_PARSERS
