"""The write API for integrations, and the outbox of API channels.

Acting on an inquiry: `POST /api/v1/inquiries/{id}/<action>/` with the same services the
inquiry page calls, on the inquiries `get_inquiry_for_user` lets the user see (any
other is a 404). The outbox: `GET /api/v1/outbox/` lists the replies waiting for the
integration; `POST /api/v1/replies/{id}/delivered/` and `.../failed/` report on them.
Every POST takes an `Idempotency-Key`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import django_filters
from django.contrib.auth.models import User
from django.db.models import QuerySet
from django.utils.translation import gettext
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
    inline_serializer,
)
from rest_framework import generics, serializers, status
from rest_framework.pagination import CursorPagination
from rest_framework.request import Request
from rest_framework.response import Response

from inquiries import services
from inquiries.api.idempotency import IDEMPOTENCY_HEADER, IdempotentView
from inquiries.api.parsers import API_PARSERS
from inquiries.api.permissions import caller
from inquiries.models import ChannelKind, Inquiry, Message, Priority, Status, Topic
from inquiries.reply_checks import RULE_NAMES
from inquiries.selectors.inquiry import get_inquiry_for_user, get_reply_for_user, outbox_for
from inquiries.selectors.macros import macros_for
from inquiries.selectors.people import assignable_users
from inquiries.services import outbox
from inquiries.services.actions import MAX_BODY
from inquiries.services.delivery import MAX_REASON
from inquiries.services.macros import reply_with_macro

# --- what the API answers ---------------------------------------------------------------------


class InquiryStateSerializer(serializers.ModelSerializer):
    topic: serializers.SlugRelatedField[Topic] = serializers.SlugRelatedField(
        slug_field="key", read_only=True
    )
    assignee: serializers.PrimaryKeyRelatedField[User] = serializers.PrimaryKeyRelatedField(read_only=True)

    class Meta:
        model = Inquiry
        fields = ["id", "status", "priority", "topic", "assignee", "team", "reply_delivery", "updated_at"]
        read_only_fields = fields


class WrittenSerializer(serializers.ModelSerializer):
    """A reply or note just written."""

    route = serializers.SerializerMethodField(
        help_text="`email`: sent through the channel's SMTP server; `outbox`: waits for the integration "
        "(GET /api/v1/outbox/); `note`: internal, sent nowhere."
    )
    written_at = serializers.DateTimeField(source="received_at", read_only=True)

    class Meta:
        model = Message
        fields = ["id", "inquiry_id", "direction", "delivery_state", "route", "written_at"]
        read_only_fields = fields

    def get_route(self, message: Message) -> str:
        if not message.delivery_state:
            return "note"
        return "email" if message.channel.kind == ChannelKind.EMAIL else "outbox"


class ReplyStateSerializer(serializers.ModelSerializer):
    class Meta:
        model = Message
        fields = ["id", "inquiry_id", "delivery_state", "accepted_at", "delivery_error"]
        read_only_fields = fields


_Person = inline_serializer(
    "OutboxPerson", {"name": serializers.CharField(), "email": serializers.CharField()}
)
_Recipient = inline_serializer(
    "OutboxRecipient", {"address": serializers.CharField(), "name": serializers.CharField()}
)


class OutboxItemSerializer(serializers.Serializer):
    """One queued reply, as the outbox lists it and as the `reply.created` webhook carries it."""

    id = serializers.IntegerField(help_text="Report on it at /api/v1/replies/{id}/delivered/ or /failed/.")
    inquiry_id = serializers.IntegerField()
    channel = serializers.CharField(help_text="The channel's slug.")
    external_id = serializers.CharField(help_text="cstracker's id of the reply, stable across offers.")
    written_at = serializers.DateTimeField()
    author = _Person
    to = _Recipient
    order_id = serializers.CharField()
    subject = serializers.CharField()
    body_text = serializers.CharField()
    body_html = serializers.CharField(help_text="Sanitised HTML, or empty.")
    delivery_state = serializers.CharField()

    def to_representation(self, instance: Message) -> dict[str, Any]:
        return outbox.reply_payload(instance)


# --- what the API takes -----------------------------------------------------------------------


class ReplyInSerializer(serializers.Serializer):
    body_text = serializers.CharField(max_length=MAX_BODY)
    body_html = serializers.CharField(required=False, allow_blank=True, max_length=MAX_BODY)
    status = serializers.ChoiceField(
        choices=Status.choices, required=False, help_text="Set the inquiry's status in the same step."
    )
    macro = serializers.IntegerField(
        required=False,
        allow_null=True,
        default=None,
        help_text="A macro of yours or your team's whose actions (status, topic, priority) apply on send.",
    )
    confirm = serializers.ListField(
        child=serializers.ChoiceField(choices=sorted(RULE_NAMES)),
        required=False,
        default=list,
        help_text="Marketplace messaging rules confirmed after a 400 `reply_checks` named them.",
    )


class NoteInSerializer(serializers.Serializer):
    body_text = serializers.CharField(max_length=MAX_BODY)


class AssignInSerializer(serializers.Serializer):
    assignee = serializers.IntegerField(
        allow_null=True, help_text="A user id of a team that works the account; null unassigns."
    )


class StatusInSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=Status.choices)


class PriorityInSerializer(serializers.Serializer):
    priority = serializers.ChoiceField(choices=Priority.choices)


class TopicInSerializer(serializers.Serializer):
    topic = serializers.CharField(
        allow_null=True, help_text="A topic key (GET /api/v1/topics/); null clears it."
    )


class NoBodySerializer(serializers.Serializer):
    pass


class DeliveredInSerializer(serializers.Serializer):
    accepted_at = serializers.DateTimeField(
        required=False,
        help_text="When your provider accepted the reply; the reply answers the customer from then. "
        "Default: now. Not in the future, not before the reply was written.",
    )


class FailedInSerializer(serializers.Serializer):
    reason = serializers.CharField(
        max_length=MAX_REASON, help_text="Shown to the agent, e.g. the provider's error."
    )


def _valid(serializer_class: type[serializers.Serializer], request: Request) -> dict[str, Any]:
    serializer = serializer_class(data=request.data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


_FIELD_ERRORS = OpenApiResponse(
    description='Field-level messages: `{"<field>": ["<what is wrong>"]}`; nothing was written.',
    examples=[
        OpenApiExample("Bad status", {"status": ['"archived" is not a valid choice.']}, response_only=True)
    ],
)
REFUSALS = {
    400: _FIELD_ERRORS,
    404: OpenApiResponse(description="No such inquiry or reply, or one of another team's accounts."),
    409: OpenApiResponse(
        description="It collides with the current state (claimed by someone else; a reply already failed) "
        "or the Idempotency-Key was used for another request; the message says which.",
        examples=[
            OpenApiExample("Claimed", {"assignee": ["Already claimed by bob."]}, response_only=True),
        ],
    ),
}


def _documented(
    request: type[serializers.Serializer],
    response: Mapping[int, object],
    summary: str,
    *examples: OpenApiExample,
):
    return extend_schema_view(
        post=extend_schema(
            summary=summary,
            request=request,
            responses={**response, **REFUSALS},
            parameters=[IDEMPOTENCY_HEADER],
            examples=list(examples),
        )
    )


# --- acting on an inquiry ---------------------------------------------------------------------


class InquiryAction(IdempotentView):
    """Find the inquiry through the user's scope, validate the body, call one service."""

    parser_classes = API_PARSERS
    body: type[serializers.Serializer] = NoBodySerializer

    def act(self, request: Request, **kwargs: Any) -> Response:
        user = caller(request)
        inquiry = get_inquiry_for_user(user, kwargs["pk"])
        data = _valid(self.body, request)
        return self.perform(inquiry, data, user)

    def perform(self, inquiry: Inquiry, data: dict[str, Any], user: User) -> Response:
        raise NotImplementedError

    def state(self, inquiry: Inquiry, user: User) -> Response:
        fresh = get_inquiry_for_user(user, inquiry.pk)
        return Response(InquiryStateSerializer(fresh).data)


STATE = {200: InquiryStateSerializer}


@_documented(
    ReplyInSerializer,
    {201: WrittenSerializer},
    "Reply to the customer (by e-mail or through the outbox)",
    OpenApiExample(
        "Reply and wait on the customer",
        {"body_text": "Sorry! A new lid is on its way.", "status": "pending"},
    ),
)
class ReplyView(InquiryAction):
    body = ReplyInSerializer

    def perform(self, inquiry: Inquiry, data: dict[str, Any], user: User) -> Response:
        macro = None
        if data["macro"] is not None:
            macro = macros_for(user, inquiry).filter(pk=data["macro"]).first()
            if macro is None:
                raise serializers.ValidationError(
                    {"macro": [gettext("No such macro of yours or your team's.")]}
                )
        message = reply_with_macro(
            inquiry=inquiry,
            author=user,
            body_text=data["body_text"],
            body_html=data.get("body_html", ""),
            macro=macro,
            status=data.get("status"),
            confirmed_checks=data["confirm"],
        )
        return Response(WrittenSerializer(message).data, status=status.HTTP_201_CREATED)


@_documented(
    NoteInSerializer,
    {201: WrittenSerializer},
    "Add an internal note (never sent, stops no clock)",
    OpenApiExample("Note", {"body_text": "Replacement lid ordered from the warehouse."}),
)
class NoteView(InquiryAction):
    body = NoteInSerializer

    def perform(self, inquiry: Inquiry, data: dict[str, Any], user: User) -> Response:
        message = services.reply(inquiry=inquiry, author=user, body_text=data["body_text"], internal=True)
        return Response(WrittenSerializer(message).data, status=status.HTTP_201_CREATED)


@_documented(
    AssignInSerializer, STATE, "Assign to a person (or to nobody)", OpenApiExample("Assign", {"assignee": 7})
)
class AssignView(InquiryAction):
    body = AssignInSerializer

    def perform(self, inquiry: Inquiry, data: dict[str, Any], user: User) -> Response:
        assignee = None
        if data["assignee"] is not None:
            people = assignable_users(user, inquiry.account_id)
            assignee = next((p for p in people if p.pk == data["assignee"]), None)
            if assignee is None:
                raise serializers.ValidationError(
                    {
                        "assignee": [
                            gettext("Not an active member of a team that works this inquiry's account.")
                        ]
                    }
                )
        return self.state(services.assign(inquiry=inquiry, assignee=assignee, actor=user), user)


@_documented(NoBodySerializer, STATE, "Claim an unassigned inquiry (409 when someone has it)")
class ClaimView(InquiryAction):
    def perform(self, inquiry: Inquiry, data: dict[str, Any], user: User) -> Response:
        return self.state(services.claim(inquiry=inquiry, user=user), user)


@_documented(StatusInSerializer, STATE, "Change the status", OpenApiExample("Solve", {"status": "solved"}))
class StatusView(InquiryAction):
    body = StatusInSerializer

    def perform(self, inquiry: Inquiry, data: dict[str, Any], user: User) -> Response:
        return self.state(services.change_status(inquiry=inquiry, status=data["status"], actor=user), user)


@_documented(NoBodySerializer, STATE, "Close the inquiry (status closed)")
class CloseView(InquiryAction):
    def perform(self, inquiry: Inquiry, data: dict[str, Any], user: User) -> Response:
        return self.state(services.change_status(inquiry=inquiry, status=Status.CLOSED, actor=user), user)


@_documented(
    PriorityInSerializer,
    STATE,
    "Change the priority (running clocks get the new targets)",
    OpenApiExample("Urgent", {"priority": "urgent"}),
)
class PriorityView(InquiryAction):
    body = PriorityInSerializer

    def perform(self, inquiry: Inquiry, data: dict[str, Any], user: User) -> Response:
        changed = services.change_priority(inquiry=inquiry, priority=data["priority"], actor=user)
        return self.state(changed, user)


@_documented(
    TopicInSerializer,
    STATE,
    "Re-tag the topic (stored as an agent's correction)",
    OpenApiExample("Damaged", {"topic": "damaged"}),
)
class TopicView(InquiryAction):
    body = TopicInSerializer

    def perform(self, inquiry: Inquiry, data: dict[str, Any], user: User) -> Response:
        topic = None
        if data["topic"] is not None:
            topic = Topic.objects.filter(key=data["topic"]).first()
            if topic is None:
                raise serializers.ValidationError(
                    {"topic": [gettext("No topic with the key %(key)r.") % {"key": data["topic"]}]}
                )
        return self.state(services.change_topic(inquiry=inquiry, topic=topic, actor=user), user)


@_documented(
    NoBodySerializer,
    STATE,
    "No response needed: stop the reply clocks, take the messages out of response metrics",
)
class NoResponseNeededView(InquiryAction):
    def perform(self, inquiry: Inquiry, data: dict[str, Any], user: User) -> Response:
        services.mark_no_response_needed(inquiry=inquiry, actor=user)
        return self.state(inquiry, user)


# --- the outbox ---------------------------------------------------------------------------------


class OutboxFilter(django_filters.FilterSet):
    channel = django_filters.CharFilter(field_name="channel__slug", help_text="A channel's slug.")

    class Meta:
        model = Message
        fields = ["channel"]


class OldestFirst(CursorPagination):
    ordering = ("received_at", "id")
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200


class OutboxView(generics.ListAPIView):
    """Replies waiting for the integration, oldest first: send each, then report it delivered or failed."""

    serializer_class = OutboxItemSerializer
    filterset_class = OutboxFilter
    pagination_class = OldestFirst

    def get_queryset(self) -> QuerySet[Message]:
        return outbox_for(caller(self.request))


class ReplyReport(IdempotentView):
    parser_classes = API_PARSERS
    body: type[serializers.Serializer] = NoBodySerializer

    def act(self, request: Request, **kwargs: Any) -> Response:
        reply = get_reply_for_user(caller(request), kwargs["pk"])
        current = self.report(reply, _valid(self.body, request))
        return Response(ReplyStateSerializer(current).data)

    def report(self, reply: Message, data: dict[str, Any]) -> Message:
        raise NotImplementedError


@_documented(
    DeliveredInSerializer,
    {200: ReplyStateSerializer},
    "Report a reply delivered: it answers the customer from `accepted_at`",
    OpenApiExample("Delivered", {"accepted_at": "2026-03-02T10:05:00Z"}),
)
class ReplyDeliveredView(ReplyReport):
    body = DeliveredInSerializer

    def report(self, reply: Message, data: dict[str, Any]) -> Message:
        return outbox.report_delivered(reply=reply, accepted_at=data.get("accepted_at"))


@_documented(
    FailedInSerializer,
    {200: ReplyStateSerializer},
    "Report a reply not delivered: the clocks run again, the agent is told",
    OpenApiExample("Failed", {"reason": "Marketplace API: 400 buyer messaging not allowed for this order"}),
)
class ReplyFailedView(ReplyReport):
    body = FailedInSerializer

    def report(self, reply: Message, data: dict[str, Any]) -> Message:
        return outbox.report_failed(reply=reply, reason=data["reason"])
