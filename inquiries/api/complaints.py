"""REST API for topics and complaint clusters: reads through selectors, lifecycle through services.

Clusters are scoped like inquiries (`clusters_for(user)`): another team's cluster
is a 404. Acknowledging, recording the action and resolving are for the account's managers
(403 for others); an impossible transition is a 409 from the services' Conflict.
"""

from __future__ import annotations

from typing import Any

import django_filters
from django.db.models import QuerySet
from django.utils.translation import gettext
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import generics, serializers
from rest_framework.exceptions import PermissionDenied
from rest_framework.pagination import CursorPagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from inquiries.api.parsers import API_PARSERS
from inquiries.api.permissions import caller
from inquiries.complaints.rates import subject_of
from inquiries.models import Cluster, ClusterEvent, ClusterKind, ClusterMember, ClusterState, Topic
from inquiries.selectors.clusters import (
    cluster_members,
    clusters_for,
    get_cluster_for_user,
)
from inquiries.selectors.people import assignable_users, can_manage_account
from inquiries.services import complaints

# --- serializers ------------------------------------------------------------------------------


class TopicSerializer(serializers.ModelSerializer):
    class Meta:
        model = Topic
        fields = ["key", "name", "is_complaint", "health_category", "position"]


class ClusterRateSerializer(serializers.Serializer):
    """The shape of a rate cluster's `rate` (for the API schema): a house indicator, never a
    marketplace metric."""

    numerator = serializers.IntegerField(allow_null=True)
    denominator = serializers.IntegerField(allow_null=True)
    value = serializers.FloatField(allow_null=True, help_text="numerator / denominator; null without units")
    threshold = serializers.FloatField(allow_null=True)
    window_days = serializers.IntegerField(allow_null=True)
    unit = serializers.CharField(help_text="what the denominator counts: units or shipments")
    signals = serializers.DictField(child=serializers.IntegerField(), help_text="signals by source")
    indicator = serializers.CharField(help_text='always "house": cstracker\'s definition')
    definition = serializers.CharField()


class ClusterSerializer(serializers.ModelSerializer):
    account_name = serializers.CharField(source="account.name", read_only=True)
    topic: serializers.SlugRelatedField[Topic] = serializers.SlugRelatedField(
        slug_field="key", read_only=True
    )
    severity = serializers.CharField(source="get_severity_display", read_only=True)
    severity_level = serializers.IntegerField(source="severity", read_only=True)
    owner = serializers.CharField(source="owner.get_username", read_only=True, default=None)
    rate = serializers.SerializerMethodField(
        help_text="Rate clusters only (null otherwise): the complaint rate with its definition. A house "
        "indicator, ours, never a marketplace metric."
    )

    class Meta:
        model = Cluster
        fields = [
            "id",
            "account",
            "account_name",
            "topic",
            "sku",
            "kind",
            "signature",
            "state",
            "first_seen",
            "last_seen",
            "member_count",
            "customer_count",
            "window_count",
            "expected",
            "p_value",
            "severity",
            "severity_level",
            "growth",
            "carrier",
            "service",
            "warehouse",
            "said",
            "rate",
            "merged_into",
            "root_cause",
            "corrective_action",
            "preventive_measure",
            "owner",
            "action_date",
            "created_at",
            "updated_at",
            "resolved_at",
        ]
        read_only_fields = fields

    @extend_schema_field(ClusterRateSerializer(allow_null=True))
    def get_rate(self, cluster: Cluster) -> dict[str, object] | None:
        if not cluster.is_rate:
            return None
        unit = subject_of(cluster).unit
        return {
            "numerator": cluster.rate_numerator,
            "denominator": cluster.rate_denominator,
            "value": cluster.rate,
            "threshold": cluster.rate_threshold,
            "window_days": cluster.rate_window_days,
            "unit": unit,
            "signals": cluster.signals,
            "indicator": "house",
            "definition": RATE_DEFINITIONS[cluster.kind].format(days=cluster.rate_window_days),
        }


RATE_DEFINITIONS: dict[str, str] = {
    ClusterKind.SKU_RATE: "Orders with a complaint message, a complaint return or negative feedback about the "
    "SKU in the last {days} days (an order counts once; a complaint with the SKU and no order counts alone), "
    "over units sold of the SKU in orders purchased in those days, cancelled orders left out. cstracker's "
    "definition, not a marketplace's.",
    ClusterKind.CARRIER_RATE: "Orders with a delivery complaint message or a return blaming the carrier in the "
    "last {days} days, per carrier, service and warehouse of their shipments, over the shipments of that "
    "carrier, service and warehouse shipped in those days. cstracker's definition, not a marketplace's.",
}


class ClusterEventSerializer(serializers.ModelSerializer):
    actor = serializers.CharField(source="actor.get_username", read_only=True, default=None)

    class Meta:
        model = ClusterEvent
        fields = ["id", "kind", "at", "actor", "data"]
        read_only_fields = fields


class ClusterDetailSerializer(ClusterSerializer):
    events = ClusterEventSerializer(many=True, read_only=True)

    class Meta(ClusterSerializer.Meta):
        fields = [*ClusterSerializer.Meta.fields, "events"]
        read_only_fields = fields


class ClusterMemberSerializer(serializers.ModelSerializer):
    inquiry = serializers.IntegerField(source="inquiry_id", read_only=True)
    subject = serializers.CharField(source="inquiry.subject", read_only=True)
    customer = serializers.CharField(source="inquiry.customer.address", read_only=True)
    sku = serializers.CharField(source="inquiry.sku", read_only=True)
    status = serializers.CharField(source="inquiry.status", read_only=True)
    topic = serializers.CharField(source="inquiry.topic.key", read_only=True, default=None)
    message = serializers.IntegerField(source="message_id", read_only=True, allow_null=True)

    class Meta:
        model = ClusterMember
        fields = [
            "inquiry",
            "message",
            "subject",
            "customer",
            "sku",
            "status",
            "topic",
            "opened_at",
            "added_at",
        ]
        read_only_fields = fields


class ActionInSerializer(serializers.Serializer):
    root_cause = serializers.CharField(max_length=5000)
    corrective_action = serializers.CharField(max_length=5000)
    preventive_measure = serializers.CharField(max_length=5000, required=False, allow_blank=True, default="")
    owner = serializers.IntegerField(required=False, allow_null=True, default=None, help_text="A user id.")
    action_date = serializers.DateField(required=False, allow_null=True, default=None)


class ResolveInSerializer(serializers.Serializer):
    note = serializers.CharField(max_length=5000, required=False, allow_blank=True, default="")


# --- views -----------------------------------------------------------------------------------------


class TopicListView(generics.ListAPIView):
    """Every topic, in display order (few rows: not paginated)."""

    serializer_class = TopicSerializer
    pagination_class = None
    queryset = Topic.objects.all()


class ClusterFilter(django_filters.FilterSet):
    account = django_filters.NumberFilter(field_name="account_id")
    topic = django_filters.CharFilter(field_name="topic__key")
    state = django_filters.MultipleChoiceFilter(choices=ClusterState.choices)
    kind = django_filters.ChoiceFilter(choices=ClusterKind.choices)
    sku = django_filters.CharFilter(field_name="sku", lookup_expr="iexact")

    class Meta:
        model = Cluster
        fields = ["account", "topic", "state", "kind", "sku"]


class LatestFirst(CursorPagination):
    ordering = ("-last_seen", "-id")
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200


class ClusterListView(generics.ListAPIView):
    serializer_class = ClusterSerializer
    filterset_class = ClusterFilter
    pagination_class = LatestFirst

    def get_queryset(self) -> QuerySet[Cluster]:
        # One incident, one row: a cluster merged into another is listed there (and readable by id).
        return clusters_for(caller(self.request)).filter(merged_into__isnull=True)


class ClusterDetailView(generics.RetrieveAPIView):
    serializer_class = ClusterDetailSerializer

    def get_queryset(self) -> QuerySet[Cluster]:
        return clusters_for(caller(self.request)).prefetch_related("events__actor")


class MemberPagination(CursorPagination):
    ordering = ("-opened_at", "-id")
    page_size = 100
    page_size_query_param = "page_size"
    max_page_size = 500


class ClusterMemberListView(generics.ListAPIView):
    serializer_class = ClusterMemberSerializer
    pagination_class = MemberPagination

    @extend_schema(parameters=[OpenApiParameter("id", int, OpenApiParameter.PATH)])
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    def get_queryset(self) -> QuerySet[ClusterMember]:
        if getattr(self, "swagger_fake_view", False):  # schema generation has no user or id
            return ClusterMember.objects.none()
        return cluster_members(get_cluster_for_user(caller(self.request), self.kwargs["pk"]))


class _LifecycleView(APIView):
    parser_classes = API_PARSERS

    def managed_cluster(self, pk: int) -> Cluster:
        user = caller(self.request)
        cluster = get_cluster_for_user(user, pk)
        if not can_manage_account(user, cluster.account_id):
            raise PermissionDenied(gettext("Only the account's managers act on its clusters."))
        return cluster

    def answer(self, cluster: Cluster) -> Response:
        fresh = clusters_for(caller(self.request)).prefetch_related("events__actor").get(pk=cluster.pk)
        return Response(ClusterDetailSerializer(fresh).data)


class ClusterAcknowledgeView(_LifecycleView):
    """open -> acknowledged."""

    @extend_schema(request=None, responses={200: ClusterDetailSerializer})
    def post(self, request: Request, pk: int) -> Response:
        cluster = self.managed_cluster(pk)
        return self.answer(complaints.acknowledge(cluster=cluster, actor=caller(request)))


class ClusterActionView(_LifecycleView):
    """Record (or update) the root cause, corrective action, preventive measure, owner and date."""

    @extend_schema(request=ActionInSerializer, responses={200: ClusterDetailSerializer})
    def post(self, request: Request, pk: int) -> Response:
        cluster = self.managed_cluster(pk)
        body = ActionInSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        owner = None
        if data["owner"] is not None:
            allowed = {user.pk: user for user in assignable_users(caller(request), cluster.account_id)}
            owner = allowed.get(data["owner"])
            if owner is None:
                raise serializers.ValidationError(
                    {"owner": [gettext("Not a member of a team working this account.")]}
                )
        cluster = complaints.record_action(
            cluster=cluster,
            actor=caller(request),
            root_cause=data["root_cause"],
            corrective_action=data["corrective_action"],
            preventive_measure=data["preventive_measure"],
            owner=owner,
            action_date=data["action_date"],
        )
        return self.answer(cluster)


class ClusterResolveView(_LifecycleView):
    """Any active state -> resolved."""

    @extend_schema(request=ResolveInSerializer, responses={200: ClusterDetailSerializer})
    def post(self, request: Request, pk: int) -> Response:
        cluster = self.managed_cluster(pk)
        body = ResolveInSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        return self.answer(
            complaints.resolve(cluster=cluster, actor=caller(request), note=body.validated_data["note"])
        )
