"""Mail pushed by providers' webhooks: the per-channel secret, replay protection by token, and
the refusals noted for the admin.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone

from inquiries import secrets
from inquiries.ingestion.webhooks import Delivery
from inquiries.models import (
    MailWebhook,
    MailWebhookToken,
)
from inquiries.services.mailbox.loop_guard import record_mail
from inquiries.services.recording import Held, RecordResult

# --- webhooks ------------------------------------------------------------------------------


def webhook_secret(hook: MailWebhook) -> str:
    return secrets.resolve(env_name=hook.secret_env, encrypted=hook.secret_encrypted, what="webhook secret")


def record_webhook(
    *, hook: MailWebhook, delivery: Delivery, now: datetime | None = None
) -> RecordResult | Held:
    """Store a verified delivery. A Mailgun token seen before with another body is refused.

    Raises `Rejected` (bad content) or `ReplayError`.
    """
    now = now or timezone.now()
    if delivery.replay_key:
        _remember_token(hook, delivery, now)
    result = record_mail(channel=hook.channel, incoming=delivery.incoming, now=now)
    MailWebhook.objects.filter(pk=hook.pk).update(last_received_at=now)
    return result


class ReplayError(Exception):
    pass


def _remember_token(hook: MailWebhook, delivery: Delivery, now: datetime) -> None:
    # Tokens older than a day are past any signature tolerance: forgetting them is safe.
    MailWebhookToken.objects.filter(webhook=hook, received_at__lt=now - timedelta(days=1)).delete()
    try:
        with transaction.atomic():
            MailWebhookToken.objects.create(
                webhook=hook, token=delivery.replay_key, body_sha256=delivery.body_sha256, received_at=now
            )
    except IntegrityError:
        seen = MailWebhookToken.objects.filter(webhook=hook, token=delivery.replay_key).first()
        if seen is not None and seen.body_sha256 != delivery.body_sha256:
            raise ReplayError("this signed token was already used with another body") from None


def note_webhook_refusal(*, hook: MailWebhook, reason: str, now: datetime | None = None) -> None:
    now = now or timezone.now()
    MailWebhook.objects.filter(pk=hook.pk).update(last_error=f"{now:%Y-%m-%d %H:%M:%S} UTC: {reason}"[:1000])
