"""Order reports in over the REST API: the upload behind `manage.py import_orders`.

The account comes from `Account.objects.visible_to(user)` (another team's is a 404, as
everywhere in the API), and only its managers may import, as for order volumes.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from django.utils.translation import gettext
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.parsers import MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from inquiries.api.permissions import caller
from inquiries.ingestion.csv_import import Reading, decode_csv
from inquiries.ingestion.order_reports import FORMATS, RowRejected, parse_report
from inquiries.models import validate_timezone
from inquiries.selectors.health.accounts import get_account_for_user
from inquiries.selectors.people import can_manage_account
from inquiries.services.orders import import_orders

# Rejected lines listed in an answer; `rejected` counts them all (a file of garbage should
# not make an answer of millions of lines).
MAX_LISTED_REJECTIONS = 1000


class ImportOptionsSerializer(serializers.Serializer):
    format = serializers.ChoiceField(choices=sorted(FORMATS), help_text="The report's format.")
    dry_run = serializers.BooleanField(default=False, help_text="Read and count; write nothing.")
    timezone = serializers.CharField(
        required=False,
        validators=[validate_timezone],
        help_text="Zone of timestamps without a UTC offset (default: the account's).",
    )
    dayfirst = serializers.BooleanField(default=False, help_text="Slash dates are DD/MM/YYYY.")


class ImportFileSerializer(serializers.Serializer):
    file = serializers.FileField(help_text="The report as downloaded (UTF-8, tab- or comma-separated).")


class RejectionSerializer(serializers.Serializer):
    line = serializers.IntegerField()
    errors = serializers.ListField(child=serializers.CharField())  # type: ignore[assignment]  # djangorestframework-stubs: the serializer metaclass takes declared fields out of the class, so one named like a Field attribute overrides nothing


class CountsSerializer(serializers.Serializer):
    created = serializers.IntegerField()
    updated = serializers.IntegerField()


class ImportResultSerializer(serializers.Serializer):
    format = serializers.CharField()
    dry_run = serializers.BooleanField()
    rows = serializers.IntegerField(help_text="Data lines read.")
    imported = serializers.IntegerField(help_text="Lines stored (dry run: that would be).")
    rejected = serializers.IntegerField(help_text="Lines rejected, all of them.")
    counts = serializers.DictField(child=CountsSerializer(), help_text="Rows created and updated, per kind.")
    inquiries_linked = serializers.IntegerField()
    rejections = RejectionSerializer(
        many=True, help_text=f"The first {MAX_LISTED_REJECTIONS} rejected lines."
    )


class ReportFormatNegotiation(DefaultContentNegotiation):
    """Here `?format=` names the report, not a renderer (DRF's URL_FORMAT_OVERRIDE); the answer
    is chosen by the Accept header alone."""

    settings = SimpleNamespace(URL_FORMAT_OVERRIDE=None)  # type: ignore[assignment]  # djangorestframework-stubs: typed as api_settings' class, with URL_FORMAT_OVERRIDE a str; DRF documents None (no override)


class OrderImportView(APIView):
    """Import one order report into the account; every rejected line comes back with its errors."""

    parser_classes = [MultiPartParser]
    content_negotiation_class = ReportFormatNegotiation

    @extend_schema(
        parameters=[OpenApiParameter("id", int, OpenApiParameter.PATH), ImportOptionsSerializer],
        request={"multipart/form-data": ImportFileSerializer},
        responses={
            200: ImportResultSerializer,
            400: inline_serializer("ImportErrors", {"file": serializers.ListField()}),
        },
    )
    def post(self, request: Request, pk: int) -> Response:
        user = caller(request)
        account = get_account_for_user(user, pk)
        if not can_manage_account(user, account.pk):
            raise PermissionDenied(gettext("Only the account's managers may import its orders."))
        options = ImportOptionsSerializer(data=request.query_params)
        options.is_valid(raise_exception=True)
        upload = ImportFileSerializer(data=request.data)
        upload.is_valid(raise_exception=True)
        fmt = FORMATS[options.validated_data["format"]]
        rejections: list[dict[str, Any]] = []

        def rejected(line: int, rejection: RowRejected) -> None:
            if len(rejections) < MAX_LISTED_REJECTIONS:
                rejections.append({"line": line, "errors": list(rejection.errors)})

        stream = decode_csv(upload.validated_data["file"].file)
        try:
            rows = parse_report(
                stream,
                fmt,
                zone=options.validated_data.get("timezone") or account.timezone,
                reading=Reading(dayfirst=options.validated_data["dayfirst"]),
            )
        except ValueError as exc:
            raise ValidationError({"file": [str(exc)]}) from None
        result = import_orders(
            account=account,
            fmt=fmt,
            rows=rows,
            dry_run=options.validated_data["dry_run"],
            on_rejected=rejected,
        )
        return Response({**result.as_dict(), "rejections": rejections})
