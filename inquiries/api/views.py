"""REST API views: generic DRF views; reads come from selectors, writes from services."""

from __future__ import annotations

from typing import Any

import django_filters
from django.db.models import QuerySet
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, status
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import CursorPagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import BaseSerializer, as_serializer_error
from rest_framework.views import APIView

from inquiries import services
from inquiries.api import serializers as s
from inquiries.api.errors import rejection_errors
from inquiries.api.parsers import API_PARSERS
from inquiries.api.permissions import ScopedViewSet, caller
from inquiries.ingestion.types import Rejected
from inquiries.models import Account, Channel, ClockState, Inquiry, InquiryEvent, Priority, Status, Team
from inquiries.selectors.inquiry import events_for, inquiries_for, inquiry_detail_for, with_clock_state
from inquiries.services.config import create_account, create_channel, save_account
from inquiries.services.recording import Held, record_messages


def _record(serializer: s.MessageInSerializer) -> tuple[int, dict[str, Any]]:
    channel, incoming = serializer.to_incoming()
    result = services.record_message(channel=channel, incoming=incoming)
    if isinstance(result, Held):
        return status.HTTP_202_ACCEPTED, s.held_body(result)
    body = {"message_id": result.message.pk, "inquiry_id": result.inquiry_id, "created": result.created}
    return (status.HTTP_201_CREATED if result.created else status.HTTP_200_OK), body


class MessageCreateView(APIView):
    """Record one message. The same (channel, external_id) again answers 200 and changes nothing.
    A reply or note whose parent message has not arrived is held (202) and recorded when it does."""

    parser_classes = API_PARSERS

    @extend_schema(
        request=s.MessageInSerializer,
        responses={201: s.RecordedSerializer, 200: s.RecordedSerializer, 202: s.HeldSerializer},
    )
    def post(self, request: Request) -> Response:
        serializer = s.MessageInSerializer(data=request.data, context={"request": request, "channels": {}})
        serializer.is_valid(raise_exception=True)
        code, body = _record(serializer)
        return Response(body, status=code)


class MessageBatchView(APIView):
    """Record up to 1,000 messages; each item gets its own result, a bad one rejects only itself; a
    reply or note whose parent message has not arrived is held (202) and recorded when it does."""

    parser_classes = API_PARSERS

    @extend_schema(request=s.BatchInSerializer, responses={200: s.BatchResultSerializer})
    def post(self, request: Request) -> Response:
        batch = s.BatchInSerializer(data=request.data)
        batch.is_valid(raise_exception=True)
        # One serializer for every item: its fields are built once, not deep-copied a thousand times.
        serializer = s.MessageInSerializer(context={"request": request, "channels": {}})
        results: list[dict[str, Any] | None] = []
        valid: list[tuple[int, Any]] = []
        for index, item in enumerate(batch.validated_data["messages"]):
            try:
                data = serializer.run_validation(item)
            except ValidationError as exc:
                results.append({"index": index, "status": 400, "errors": as_serializer_error(exc)})
                continue
            results.append(None)
            valid.append((index, serializer.to_incoming(data)))
        outcomes = record_messages([pair for _, pair in valid])
        for (index, _), outcome in zip(valid, outcomes, strict=True):
            if isinstance(outcome, Rejected):
                results[index] = {"index": index, "status": 400, "errors": rejection_errors(outcome.reason)}
            elif isinstance(outcome, Held):
                results[index] = {"index": index, "status": 202, **s.held_body(outcome)}
            else:
                results[index] = {
                    "index": index,
                    "status": 201 if outcome.created else 200,
                    "message_id": outcome.message.pk,
                    "inquiry_id": outcome.inquiry_id,
                    "created": outcome.created,
                }
        return Response({"results": results}, status=status.HTTP_200_OK)


class InquiryFilter(django_filters.FilterSet):
    status = django_filters.MultipleChoiceFilter(choices=Status.choices)
    priority = django_filters.MultipleChoiceFilter(choices=Priority.choices)
    account = django_filters.NumberFilter(field_name="account_id")
    channel = django_filters.CharFilter(field_name="channel__slug")
    topic = django_filters.CharFilter(field_name="topic__key")
    order_id = django_filters.CharFilter()
    sku = django_filters.CharFilter()
    clock_state = django_filters.ChoiceFilter(
        choices=[
            (v, v) for v in (ClockState.BREACHED, ClockState.AT_RISK, ClockState.RUNNING, ClockState.PAUSED)
        ],
        method="filter_clock_state",
        help_text="Inquiries with at least one clock in this state.",
    )

    class Meta:
        model = Inquiry
        fields = ["status", "priority", "account", "channel", "topic", "order_id", "sku", "clock_state"]

    def filter_clock_state(self, queryset: QuerySet[Inquiry], name: str, value: str) -> QuerySet[Inquiry]:
        return with_clock_state(queryset, value) if value else queryset


class NewestFirst(CursorPagination):
    ordering = ("-opened_at", "-id")
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200


class InquiryListView(generics.ListAPIView):
    serializer_class = s.InquiryListSerializer
    filterset_class = InquiryFilter
    pagination_class = NewestFirst

    def get_queryset(self) -> QuerySet[Inquiry]:
        return inquiries_for(caller(self.request))


class InquiryDetailView(generics.RetrieveAPIView):
    serializer_class = s.InquiryDetailSerializer

    def get_queryset(self) -> QuerySet[Inquiry]:
        return inquiry_detail_for(caller(self.request))

    def get_serializer_context(self) -> dict[str, Any]:
        return {**super().get_serializer_context(), "now": timezone.now()}


class EventPagination(CursorPagination):
    ordering = ("at", "id")
    page_size = 100


class InquiryEventListView(generics.ListAPIView):
    serializer_class = s.EventSerializer
    pagination_class = EventPagination

    @extend_schema(parameters=[OpenApiParameter("id", int, OpenApiParameter.PATH)])
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    def get_queryset(self) -> QuerySet[InquiryEvent]:
        if getattr(self, "swagger_fake_view", False):  # schema generation has no user or id
            return InquiryEvent.objects.none()
        return events_for(caller(self.request), self.kwargs["pk"])


class ByName(CursorPagination):
    ordering = ("id",)
    page_size = 100


class StaffViewSet(ScopedViewSet):
    """Configuration routes: model permissions and account scoping, as in the admin."""

    pagination_class = ByName
    parser_classes = API_PARSERS


class AccountViewSet(StaffViewSet):
    queryset = Account.objects.with_sla_policy_flag()
    serializer_class = s.AccountSerializer

    def perform_create(self, serializer: BaseSerializer[Account]) -> None:
        # A new account gets the default SLA policy: never silently without clocks.
        account = create_account(account=Account(**serializer.validated_data))
        account.has_sla_policy = True  # type: ignore[attr-defined]  # django-stubs: the annotation of with_sla_policy_flag() is not on the model type
        serializer.instance = account

    def perform_update(self, serializer: BaseSerializer[Account]) -> None:
        # A new marketplace, time zone, reply target or reply calendar moves running clocks.
        assert serializer.instance is not None  # an update has its instance
        save_account(account=serializer.instance, write=serializer.save)


class TeamViewSet(StaffViewSet):
    queryset = Team.objects.prefetch_related("accounts")
    serializer_class = s.TeamSerializer


class ChannelViewSet(StaffViewSet):
    queryset = Channel.objects.all()
    serializer_class = s.ChannelSerializer
    lookup_field = "slug"

    def perform_create(self, serializer: BaseSerializer[Channel]) -> None:
        # A new e-mail channel of Amazon or Walmart starts with the marketplace's relay senders.
        serializer.instance = create_channel(channel=Channel(**serializer.validated_data))
