"""Account health over the REST API: the health as of an instant, the daily history, and order
volumes in. Accounts come from `Account.objects.visible_to(user)`: another team's is a 404."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from inquiries.api.parsers import API_PARSERS
from inquiries.api.permissions import caller
from inquiries.health.dates import BadDate, parse_as_of, parse_period
from inquiries.health.marketplace_metrics import POLICY_MARKETPLACES, message_status
from inquiries.health.orders import MAX_ORDERS
from inquiries.health.scoring import Metric
from inquiries.models import HealthStatus
from inquiries.selectors.health.accounts import get_account_for_user, snapshots
from inquiries.selectors.health.order_metrics import account_health_with_orders
from inquiries.selectors.people import can_manage_account
from inquiries.services.health import save_order_volumes

MAX_VOLUMES = 1000


class MetricSerializer(serializers.Serializer):
    key = serializers.CharField()
    value = serializers.FloatField(allow_null=True)
    target = serializers.FloatField(allow_null=True)
    status = serializers.ChoiceField(choices=HealthStatus.choices)
    numerator = serializers.IntegerField(allow_null=True)
    denominator = serializers.IntegerField(allow_null=True)


class RescueSerializer(serializers.Serializer):
    metric = serializers.CharField()
    worsens = serializers.BooleanField(
        help_text="True: not answering in time moves the metric to a worse band."
    )
    message_ids = serializers.ListField(child=serializers.IntegerField())
    inquiry_ids = serializers.ListField(child=serializers.IntegerField())
    message_count = serializers.IntegerField()
    act_by = serializers.DateTimeField()
    crosses_at = serializers.DateTimeField()
    from_value = serializers.FloatField(allow_null=True)
    to_value = serializers.FloatField(allow_null=True)
    from_status = serializers.CharField()
    to_status = serializers.CharField()
    sentence = serializers.CharField()


STATUSES = HealthStatus.choices  # no_data, healthy, at_risk, critical (HealthStatusEnum in the schema)


class OrderRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    marketplace_order_id = serializers.CharField()


class FigureSerializer(serializers.Serializer):
    key = serializers.CharField()
    label = serializers.CharField()  # type: ignore[assignment]  # djangorestframework-stubs: the serializer metaclass takes declared fields out of the class, so one named like a Field attribute overrides nothing
    group = serializers.ChoiceField(choices=["marketplace"])
    definition_by = serializers.CharField(
        help_text="Whose definition: the marketplace's key (amazon, walmart, ebay)."
    )
    value = serializers.FloatField(allow_null=True, help_text="A fraction (0.01 is 1%); null: no data.")
    target = serializers.FloatField()
    higher_is_better = serializers.BooleanField()
    status = serializers.ChoiceField(choices=STATUSES)
    numerator = serializers.IntegerField()
    denominator = serializers.IntegerField()
    counts = serializers.CharField(help_text="What the numerator counts.")
    over = serializers.CharField(help_text="What the denominator counts.")
    window_days = serializers.IntegerField()
    window_start = serializers.DateTimeField()
    window_end = serializers.DateTimeField()
    source = serializers.CharField(help_text="The marketplace's published page the definition follows.")  # type: ignore[assignment]  # djangorestframework-stubs: the serializer metaclass takes declared fields out of the class, so one named like a Field attribute overrides nothing
    failing_count = serializers.IntegerField(help_text="Orders (or packages) that hurt the metric.")
    failing_orders = OrderRefSerializer(many=True, help_text="The latest of them, at most 20.")


class GroupedMetricSerializer(MetricSerializer):
    status = serializers.ChoiceField(choices=STATUSES)
    label = serializers.CharField()  # type: ignore[assignment]  # djangorestframework-stubs: the serializer metaclass takes declared fields out of the class, so one named like a Field attribute overrides nothing
    group = serializers.ChoiceField(choices=["marketplace", "house"])
    definition_by = serializers.CharField(
        help_text="The marketplace's key for its own reply metric; 'policy' for the account's own SLA "
        "policy; 'cstracker' for house indicators."
    )


class HealthSerializer(serializers.Serializer):
    status = serializers.ChoiceField(
        choices=STATUSES, help_text="The worst of the marketplace metrics (house indicators never decide it)."
    )
    as_of = serializers.DateTimeField()
    marketplace_metrics = FigureSerializer(
        many=True, help_text="The marketplace's metrics computed from orders."
    )
    reply_metrics = GroupedMetricSerializer(
        many=True, help_text="Message metrics that decide the status: the marketplace's reply metric."
    )
    house_indicators = GroupedMetricSerializer(
        many=True, help_text="Early warnings; not marketplace metrics."
    )
    metrics = MetricSerializer(many=True, help_text="Every message metric, as stored in the daily snapshots.")
    rescue = RescueSerializer(many=True)


class SnapshotSerializer(serializers.Serializer):
    date = serializers.DateField()
    as_of = serializers.DateTimeField()
    status = serializers.CharField()
    metrics = MetricSerializer(many=True)


class VolumeSerializer(serializers.Serializer):
    date = serializers.DateField()
    orders = serializers.IntegerField(min_value=0, max_value=MAX_ORDERS)


class VolumesInSerializer(serializers.Serializer):
    # What many=True builds; spelled out, as the stubs' BaseSerializer takes no max_length.
    volumes: serializers.ListSerializer[list[dict[str, Any]]] = serializers.ListSerializer(
        child=VolumeSerializer(), allow_empty=False, max_length=MAX_VOLUMES
    )

    def validate_volumes(self, volumes: list[dict[str, Any]]) -> list[dict[str, Any]]:
        days = [v["date"] for v in volumes]
        if len(days) != len(set(days)):
            raise serializers.ValidationError(gettext("Each date may appear only once."))
        return volumes


def _bad_date(exc: BadDate, field: str) -> ValidationError:
    return ValidationError({field: [str(exc)]})


def grouped(metric: Metric, group: str, marketplace: str) -> dict[str, Any]:
    """A message metric with its group and whose definition it is; "no_data" without a value."""
    by = marketplace if group == "marketplace" else "cstracker"
    if group == "marketplace" and marketplace in POLICY_MARKETPLACES:
        by = "policy"
    return {
        **metric.as_dict(),
        "status": message_status(metric.value, metric.status.value).value,
        "label": metric.label,
        "group": group,
        "definition_by": by,
    }


class AccountHealthView(APIView):
    """The account's health as of `as_of` (default now): status, every metric, the rescue list."""

    @extend_schema(
        parameters=[
            OpenApiParameter("id", int, OpenApiParameter.PATH),
            OpenApiParameter(
                "as_of", str, description="ISO 8601 instant, or a date (its end in the account's time zone)."
            ),
        ],
        responses={200: HealthSerializer},
    )
    def get(self, request: Request, pk: int) -> Response:
        account = get_account_for_user(caller(request), pk)
        try:
            as_of = parse_as_of(request.query_params.get("as_of", ""), account.timezone, timezone.now())
        except BadDate as exc:
            raise _bad_date(exc, "as_of") from None
        health = account_health_with_orders(account, as_of)
        report = health.report
        return Response(
            {
                "status": health.status.value,
                "as_of": report.as_of.isoformat(),
                "marketplace_metrics": [figure.as_dict() for figure in health.figures],
                "reply_metrics": [grouped(m, "marketplace", account.marketplace) for m in health.deciding],
                "house_indicators": [grouped(m, "house", account.marketplace) for m in health.house],
                "metrics": [metric.as_dict() for metric in report.metrics],
                "rescue": [item.as_dict() for item in report.rescue],
            }
        )


class AccountHealthHistoryView(APIView):
    """Daily snapshots from `from` to `to` (local dates, inclusive; default the last 90 days)."""

    @extend_schema(
        parameters=[
            OpenApiParameter("id", int, OpenApiParameter.PATH),
            OpenApiParameter("from", str, description="First day, YYYY-MM-DD."),
            OpenApiParameter("to", str, description="Last day, YYYY-MM-DD (default today)."),
        ],
        responses={200: inline_serializer("HealthHistory", {"results": SnapshotSerializer(many=True)})},
    )
    def get(self, request: Request, pk: int) -> Response:
        account = get_account_for_user(caller(request), pk)
        try:
            first, last = parse_period(
                request.query_params.get("from", ""),
                request.query_params.get("to", ""),
                account.timezone,
                timezone.now(),
                default_days=90,
            )
        except BadDate as exc:
            raise _bad_date(exc, "from") from None
        rows = snapshots(account, first, last)
        return Response(
            {
                "from": first.isoformat(),
                "to": last.isoformat(),
                "results": [
                    {
                        "date": s.date.isoformat(),
                        "as_of": s.as_of.isoformat(),
                        "status": s.status,
                        "metrics": s.metrics,
                    }
                    for s in rows
                ],
            }
        )


class OrderVolumesView(APIView):
    """Daily order volumes in (managers of the account's team): each day is inserted or replaced."""

    parser_classes = API_PARSERS

    @extend_schema(
        parameters=[OpenApiParameter("id", int, OpenApiParameter.PATH)],
        request=VolumesInSerializer,
        responses={
            200: inline_serializer(
                "VolumesSaved", {"created": serializers.IntegerField(), "updated": serializers.IntegerField()}
            )
        },
    )
    def post(self, request: Request, pk: int) -> Response:
        user = caller(request)
        account = get_account_for_user(user, pk)
        if not can_manage_account(user, account.pk):
            raise PermissionDenied(gettext("Only the account's managers may change its order volumes."))
        payload = VolumesInSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        today = timezone.now().date() + timedelta(days=1)  # a day ahead of UTC covers every time zone
        if any(v["date"] > today for v in payload.validated_data["volumes"]):
            raise ValidationError({"volumes": [gettext("Order volumes cannot be given for future days.")]})
        result = save_order_volumes(
            account=account, volumes=[(v["date"], v["orders"]) for v in payload.validated_data["volumes"]]
        )
        return Response({"created": result.created, "updated": result.updated}, status=status.HTTP_200_OK)
