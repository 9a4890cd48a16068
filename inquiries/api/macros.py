"""Macros over the API (`/api/v1/macros/`) and the agent's reply path (`/inquiries/<id>/reply/`).

Macros are configuration: model permissions plus `inquiries.scoping` (a user reaches their own
personal macros and their teams' macros), as in the admin. A reply is an agent's action: any
user who can open the inquiry may send one, and a reply that breaks the marketplace's
messaging rules answers 400 naming the rules (`reply_checks`) until the caller confirms them.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.pagination import CursorPagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from inquiries import selectors
from inquiries.api.parsers import API_PARSERS
from inquiries.api.permissions import ScopedSerializer, ScopedViewSet
from inquiries.models import Macro, Status
from inquiries.reply_checks import RULE_NAMES
from inquiries.services.actions import MAX_BODY
from inquiries.services.macros import delete_macro, reply_with_macro, save_macro


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


class ReplyInSerializer(serializers.Serializer):
    body_text = serializers.CharField(max_length=MAX_BODY)
    status = serializers.ChoiceField(choices=Status.choices, required=False, allow_blank=True, default="")
    macro = serializers.IntegerField(
        required=False, allow_null=True, default=None, help_text="A macro whose actions apply on send."
    )
    confirm = serializers.ListField(
        child=serializers.ChoiceField(choices=sorted(RULE_NAMES)),
        required=False,
        default=list,
        help_text="Marketplace messaging rules the agent confirmed after seeing the warnings.",
    )


class ReplyOutSerializer(serializers.Serializer):
    message_id = serializers.IntegerField()
    inquiry_id = serializers.IntegerField()


class InquiryReplyView(APIView):
    """Send a public reply written by the caller. 400 `reply_checks` lists the marketplace rules
    the text may break; send again with those names in `confirm` to send it anyway."""

    parser_classes = API_PARSERS

    @extend_schema(request=ReplyInSerializer, responses={201: ReplyOutSerializer})
    def post(self, request: Request, pk: int) -> Response:
        inquiry = selectors.get_inquiry_for_user(request.user, pk)
        incoming = ReplyInSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        data = incoming.validated_data
        macro = None
        if data["macro"] is not None:
            macro = selectors.macros_for(request.user, inquiry).filter(pk=data["macro"]).first()
            if macro is None:
                raise serializers.ValidationError({"macro": ["No such macro of yours or your team's."]})
        message = reply_with_macro(
            inquiry=inquiry,
            author=request.user,
            body_text=data["body_text"],
            macro=macro,
            status=data["status"] or None,
            confirmed_checks=data["confirm"],
        )
        return Response({"message_id": message.pk, "inquiry_id": inquiry.pk}, status=status.HTTP_201_CREATED)
