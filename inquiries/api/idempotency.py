"""POST views that honour an `Idempotency-Key` header (`services.idempotency`)."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from django.conf import settings
from django.utils import translation
from drf_spectacular.utils import OpenApiParameter
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from inquiries.api.permissions import caller
from inquiries.services import idempotency

IDEMPOTENCY_HEADER = OpenApiParameter(
    idempotency.HEADER,
    str,
    OpenApiParameter.HEADER,
    required=False,
    description=(
        "Optional; any unique string up to 255 printable ASCII characters, e.g. a UUID. The same key "
        "with the same request within 24 hours (CSTRACKER_IDEMPOTENCY_HOURS) answers the stored "
        "response again (header `Idempotent-Replayed: true`) and changes nothing; with another "
        "request it is a 409. Keys are per user."
    ),
)


def fingerprint_of(method: str, path: str, data: Any) -> str:
    """The request as the key promises it: method, path and the parsed body (key order ignored)."""
    body = json.dumps(data, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(f"{method} {path}\n{body}".encode()).hexdigest()


class IdempotentView(APIView):
    """A POST answered by `act()`; with an Idempotency-Key its answer is stored and replayed."""

    def act(self, request: Request, **kwargs: Any) -> Response:
        raise NotImplementedError

    def post(self, request: Request, **kwargs: Any) -> Response:
        key = request.headers.get(idempotency.HEADER)
        if key is None:
            return self.act(request, **kwargs)
        # Django leaves `method` None only on a request built by hand; this one is a dispatched POST.
        method = request.method or "POST"
        outcome = idempotency.begin(
            user=caller(request),
            key=key,
            fingerprint=fingerprint_of(method, request.path, request.data),
        )
        if isinstance(outcome, idempotency.Replay):
            response = Response(outcome.body, status=outcome.status_code)
            response["Idempotent-Replayed"] = "true"
            # The stored answer's texts are in the first request's language (LocaleMiddleware
            # only sets this header when it is missing).
            response["Content-Language"] = outcome.language or settings.LANGUAGE_CODE
            return response
        try:
            try:
                response = self.act(request, **kwargs)
            except Exception as exc:  # the answer to a refused request (400, 404, 409) is stored too
                response = self.handle_exception(exc)
        except BaseException:
            idempotency.release(claim_id=outcome)
            raise
        if response.status_code >= 500:
            idempotency.release(claim_id=outcome)
        else:
            idempotency.finish(
                claim_id=outcome,
                status_code=response.status_code,
                body=response.data,
                language=translation.get_language() or settings.LANGUAGE_CODE,
            )
        return response
