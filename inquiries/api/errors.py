"""One exception handler: domain errors become 400/409 answers with a field-level message."""

from __future__ import annotations

import logging
from typing import Any

from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from inquiries.ingestion.types import Rejected
from inquiries.services.errors import Conflict, DomainError, ReplyChecksFailed

logger = logging.getLogger(__name__)


def rejection_errors(reason: str) -> dict[str, list[str]]:
    """`Rejected("received_at: in the future")` -> {"received_at": ["in the future"]}."""
    field, sep, message = reason.partition(": ")
    if sep and field.replace("_", "").isalnum() and " " not in field:
        return {field: [message]}
    return {"non_field_errors": [reason]}


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, ReplyChecksFailed):
        findings = [{"rule": f.rule, "title": f.title, "excerpt": f.excerpt} for f in exc.findings]
        body = {
            "reply_checks": [f.rule for f in exc.findings],
            "body_text": [exc.message],
            "findings": findings,
        }
        return Response(body, status=status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, Conflict):
        return Response({exc.field: [exc.message]}, status=status.HTTP_409_CONFLICT)
    if isinstance(exc, DomainError):
        return Response({exc.field: [exc.message]}, status=status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, Rejected):
        return Response(rejection_errors(exc.reason), status=status.HTTP_400_BAD_REQUEST)
    return drf_exception_handler(exc, context)
