"""Inbound-parse endpoints for mail providers: /hooks/<provider>/<token>/.

No session, no CSRF: the request proves itself (signature or basic auth, see
`ingestion/webhooks.py`). Answers: 200 for a stored message, a duplicate (so the provider
stops retrying) and a reply held until its parent message arrives; 401/403 when
authentication fails, 400 for a payload that cannot become a message, 404 for an unknown
hook, 413 when too large, 503 when our own secret is not configured. A refusal creates
nothing and is noted on the hook for the admin.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.http import HttpRequest, JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from inquiries.ingestion.types import Rejected
from inquiries.ingestion.webhooks import HookAuthError, HookRequest, receive
from inquiries.models import MailWebhook
from inquiries.secrets import SecretError
from inquiries.services import mailbox as service
from inquiries.services.recording import Held

logger = logging.getLogger(__name__)


@csrf_exempt
@require_POST
def inbound(request: HttpRequest, provider: str, token: str) -> JsonResponse:
    hook = (
        MailWebhook.objects.select_related("channel__account")
        .filter(token=token, provider=provider, is_active=True)
        .first()
    )
    if hook is None:
        return JsonResponse({"error": "unknown webhook"}, status=404)
    limit = settings.CSTRACKER_WEBHOOK_MAX_BYTES
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return _refuse(hook, 400, "malformed Content-Length")
    if length > limit:
        return _refuse(hook, 413, f"body over {limit} bytes")
    body = request.read(limit + 1)  # the raw bytes: signatures are over them, not a re-encoding
    if len(body) > limit:
        return _refuse(hook, 413, f"body over {limit} bytes")
    now = timezone.now()
    hook_request = HookRequest(
        content_type=request.META.get("CONTENT_TYPE", ""),
        body=body,
        headers={name.lower(): value for name, value in request.headers.items()},
    )
    try:
        secret = service.webhook_secret(hook)
    except SecretError as exc:
        logger.error("Mail webhook %s cannot authenticate requests: %s", hook.pk, exc)
        return _refuse(hook, 503, str(exc))
    try:
        delivery = receive(
            hook.provider,
            hook_request,
            secret=secret,
            now=now,
            tolerance_seconds=settings.CSTRACKER_WEBHOOK_TOLERANCE_SECONDS,
        )
        result = service.record_webhook(hook=hook, delivery=delivery, now=now)
    except HookAuthError as exc:
        return _refuse(hook, exc.status, exc.reason)
    except service.ReplayError as exc:
        return _refuse(hook, 403, str(exc))
    except service.SentMailSkipped as exc:
        # The seller's own mail to the BCC address about no conversation we track: taken, not stored.
        logger.info("Mail webhook %s: %s", hook.pk, exc.reason)
        return JsonResponse({"created": False, "skipped": exc.reason}, status=200)
    except Rejected as exc:
        return _refuse(hook, 400, exc.reason)
    if isinstance(result, Held):
        # A reply whose parent message has not arrived: held, and recorded when it does.
        logger.info("Mail webhook %s: %s held until its parent arrives", hook.pk, result.held.external_id)
        return JsonResponse(
            {"created": result.created, "held_id": result.held.pk, "inquiry_id": None}, status=200
        )
    return JsonResponse(
        {"created": result.created, "message_id": result.message.pk, "inquiry_id": result.inquiry_id},
        status=200,
    )


def _refuse(hook: MailWebhook, status: int, reason: str) -> JsonResponse:
    logger.info("Mail webhook %s (%s) refused a request with %s: %s", hook.pk, hook.provider, status, reason)
    service.note_webhook_refusal(hook=hook, reason=f"{status} {reason}")
    return JsonResponse({"error": reason}, status=status)
