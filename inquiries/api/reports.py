"""Report tables through the API: the same `build_table()` as the page and its CSV downloads.

`GET /api/v1/reports/sla/?from=2026-03-01&to=2026-03-31&group_by=week` answers JSON;
`&format=csv` (or `Accept: text/csv`) the same table as CSV. Filters as on the page:
account, team, agent, channel (ids), topic (keys), priority, hours=business|calendar, period.
A filter naming another team's account, team, agent or channel is a 404.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.renderers import BaseRenderer, BrowsableAPIRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from inquiries.api.permissions import caller
from inquiries.reports.export import to_csv
from inquiries.reports.report import TABLE_NAMES, build_table
from inquiries.reports.scope import GROUP_BY_CHOICES, PERIOD_CHOICES, ReportChoices, ReportFilterForm
from inquiries.reports.tables import Column


class CSVRenderer(BaseRenderer):
    """Renders the `table` a report view puts in its response data."""

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(
        self,
        data: Any,
        accepted_media_type: str | None = None,
        renderer_context: Mapping[str, Any] | None = None,
    ) -> str:
        table = data.get("table") if isinstance(data, dict) else None
        if table is None:  # an error answered as CSV: one line of text
            return str(data.get("detail", data)) if isinstance(data, dict) else str(data)
        return to_csv(table)


PARAMETERS = [
    OpenApiParameter(
        "from", OpenApiTypes.DATE, description="First day (inclusive), in the report's time zone."
    ),
    OpenApiParameter("to", OpenApiTypes.DATE, description="Last day (inclusive)."),
    OpenApiParameter(
        "period",
        OpenApiTypes.STR,
        enum=[k for k, _ in PERIOD_CHOICES],
        description="A preset instead of from/to; default 30d.",
    ),
    OpenApiParameter("group_by", OpenApiTypes.STR, enum=[k for k, _ in GROUP_BY_CHOICES]),
    OpenApiParameter("hours", OpenApiTypes.STR, enum=["business", "calendar"]),
    OpenApiParameter("account", OpenApiTypes.INT, many=True),
    OpenApiParameter("team", OpenApiTypes.INT, many=True),
    OpenApiParameter("agent", OpenApiTypes.INT, many=True),
    OpenApiParameter("channel", OpenApiTypes.INT, many=True),
    OpenApiParameter("topic", OpenApiTypes.STR, many=True),
    OpenApiParameter("priority", OpenApiTypes.STR, many=True),
    OpenApiParameter("format", OpenApiTypes.STR, enum=["json", "csv"]),
]
REPORT_RESPONSE = inline_serializer(
    "ReportTable",
    {
        "report": serializers.CharField(),
        "title": serializers.CharField(),
        "from": serializers.DateField(),
        "to": serializers.DateField(),
        "time_zone": serializers.CharField(),
        "time_zone_mixed": serializers.BooleanField(),
        "hours": serializers.CharField(),
        "group_by": serializers.CharField(),
        "as_of": serializers.DateTimeField(),
        "columns": serializers.ListField(child=serializers.DictField()),
        "rows": serializers.ListField(child=serializers.DictField()),
    },
)


class ReportView(APIView):
    """One report table (`sla`, `durations`, `histogram`, `breakdown`, `backlog`, `oldest`, `heatmap`)."""

    renderer_classes = [JSONRenderer, BrowsableAPIRenderer, CSVRenderer]
    table_name = "sla"

    @extend_schema(parameters=PARAMETERS, responses={200: REPORT_RESPONSE})
    def get(self, request: Request, table: str | None = None) -> Response:
        name = table or self.table_name
        if name not in TABLE_NAMES:
            raise Http404(gettext("No such report."))
        choices = ReportChoices.load(caller(request))
        form = ReportFilterForm(
            request.query_params, choices=choices, group_by=tuple(k for k, _ in GROUP_BY_CHOICES)
        )
        scope = form.scope(timezone.now())
        if scope is None:
            raise ValidationError(form.errors.get_json_data())
        group_by = form.cleaned_data["group_by"]
        result = build_table(name, scope, choices, group_by)
        if request.accepted_renderer.format == "csv":
            filename = f"cstracker-{name}-{group_by}-{scope.first_day}-{scope.last_day}.csv"
            return Response(
                {"table": result}, headers={"Content-Disposition": f'attachment; filename="{filename}"'}
            )
        return Response(
            {
                "report": name,
                "title": result.title,
                "from": scope.first_day,
                "to": scope.last_day,
                "time_zone": scope.tz,
                "time_zone_mixed": scope.tz_mixed,
                "hours": scope.hours,
                "group_by": group_by,
                "as_of": result.as_of or scope.now,
                "columns": [_column(c) for c in result.columns],
                "rows": result.records(),
            }
        )


def _column(column: Column) -> dict[str, str]:
    return {"key": column.key, "label": str(column.label), "kind": column.kind}
