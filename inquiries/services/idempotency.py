"""`Idempotency-Key` on the write API: the same key and request again gets the stored answer.

Keys belong to the user who sent them and are kept `CSTRACKER_IDEMPOTENCY_HOURS` (24 by
default). The first request with a key claims it (a row with a unique (user, key)); a second
one that arrives while the first still runs is a Conflict, so two retries racing each other
never both write. The answer (any status below 500) is stored with the key; a 500 or a crash
gives the key back, so that the client's retry runs the request again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from inquiries.models import IdempotencyKey
from inquiries.services.errors import Conflict, DomainError

HEADER = "Idempotency-Key"
MAX_KEY = 255


@dataclass(frozen=True, slots=True)
class Replay:
    """The answer stored for the key: send it again, do nothing else."""

    status_code: int
    body: Any
    language: str


def begin(*, user: User, key: str, fingerprint: str, now: datetime | None = None) -> Replay | int:
    """Claim `key` for this request (returns the claim's id) or return the answer stored for it.

    DomainError for a malformed key; Conflict when the key was used for another request, or
    while the request that claimed it is still running.
    """
    now = now or timezone.now()
    if not key or len(key) > MAX_KEY or not key.isascii() or not key.isprintable():
        raise DomainError(
            _("Use 1 to %(max)s printable ASCII characters, e.g. a UUID.") % {"max": MAX_KEY}, field=HEADER
        )
    IdempotencyKey.objects.filter(user=user, created_at__lt=_expiry(now)).delete()
    try:
        with transaction.atomic():
            return IdempotencyKey.objects.create(
                user=user, key=key, fingerprint=fingerprint, created_at=now
            ).pk
    except IntegrityError:
        pass
    stored = IdempotencyKey.objects.filter(user=user, key=key).first()
    if stored is None:  # the first request failed and gave the key back meanwhile
        return begin(user=user, key=key, fingerprint=fingerprint, now=now)
    if stored.fingerprint != fingerprint:
        raise Conflict(
            _(
                "This Idempotency-Key was already used for a different request (another action or "
                "another body). Send a new key with each new request."
            ),
            field=HEADER,
            code="key_reused",
        )
    if stored.status_code is None:
        raise Conflict(
            _("A request with this Idempotency-Key is still running; retry in a moment."),
            field=HEADER,
            code="key_in_use",
        )
    return Replay(stored.status_code, stored.response, stored.language)


def finish(*, claim_id: int, status_code: int, body: Any, language: str = "") -> None:
    """Store the answer to the claimed request, and the language its texts are in; from now on
    the key replays it, in that language whatever the retry asks for."""
    IdempotencyKey.objects.filter(pk=claim_id).update(
        status_code=status_code, response=body, language=language
    )


def release(*, claim_id: int) -> None:
    """The request failed on our side: forget the key so that a retry runs it again."""
    IdempotencyKey.objects.filter(pk=claim_id, status_code__isnull=True).delete()


def purge_expired(*, now: datetime | None = None) -> int:
    """Forget every key past its time (beat, hourly); returns how many."""
    now = now or timezone.now()
    deleted, _ = IdempotencyKey.objects.filter(created_at__lt=_expiry(now)).delete()
    return deleted


def _expiry(now: datetime) -> datetime:
    """Keys created before this have expired."""
    return now - timedelta(hours=settings.CSTRACKER_IDEMPOTENCY_HOURS)
