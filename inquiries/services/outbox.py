"""The outbox: replies on channels cstracker cannot send on itself, handed to the integration.

A public reply on an API (CSV, webhook) channel is stored `queued` like any other and answers
nobody yet. The integration takes it from `GET /api/v1/outbox/` or from a signed
`reply.created` POST (`offer_reply`, when the channel has an active `ReplyWebhook`), sends it
to the customer, and reports back (`report_delivered`, `report_failed`). The clock rules are
e-mail's, through the same functions (`services.delivery`): accepted answers the customer at
that time; failed puts the clocks back and tells the agent.

The webhook is only an offer: whatever happens to the POST, the reply stays queued in the
outbox until the integration reports on it.
"""

from __future__ import annotations

import http.client
import json
import time
from datetime import datetime, timedelta
from typing import Any

from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from inquiries import outbound, secrets
from inquiries.models import ChannelKind, Message, OutboxOffer, ReplyWebhook
from inquiries.services import delivery
from inquiries.services.errors import Conflict, DomainError
from inquiries.services.notifications import sign
from inquiries.services.queue import enqueue_after_commit

State = Message.DeliveryState
EVENT = "reply.created"
CLOCK_SKEW = timedelta(minutes=5)
LEASE = timedelta(minutes=2)  # longer than the task's hard time limit (90 s)
RETRY_CAP = timedelta(minutes=30)  # the task's retry_backoff_max


class TemporaryOfferError(Exception):
    """The receiver did not take the offer this time; the task retries with backoff."""


def reply_payload(reply: Message) -> dict[str, Any]:
    """What the integration needs to send one reply: the outbox item and the webhook's `reply`.

    Reads the reply, its channel, author and inquiry with its customer (join them in)."""
    inquiry = reply.inquiry
    # A reply in the outbox was written in cstracker, on its inquiry (`actions.reply`).
    assert inquiry is not None
    author = reply.author
    return {
        "id": reply.pk,
        "inquiry_id": reply.inquiry_id,
        "channel": reply.channel.slug,
        "external_id": reply.external_id,
        "written_at": reply.received_at.isoformat(),
        "author": {"name": reply.sender_name, "email": author.email if author else ""},
        "to": {"address": inquiry.customer.address, "name": inquiry.customer.name},
        "order_id": inquiry.order_id,
        "subject": reply.subject,
        "body_text": reply.body_text,
        "body_html": reply.body_html,
        "delivery_state": reply.delivery_state,
    }


def offer_reply(*, message_id: int, final_attempt: bool = False, timeout: float = 10.0) -> str:
    """POST `reply.created` for one queued reply, signed with its channel's secret.

    At most one worker sends an offer at a time (conditional UPDATE); an offer the receiver
    took (2xx) is never sent again. A temporary failure raises TemporaryOfferError for the
    task to retry; the last attempt, a refused destination or a missing secret mark the offer
    failed. The reply itself is never touched: it stays in the outbox.
    """
    offer = OutboxOffer.objects.select_related("webhook").filter(message_id=message_id).first()
    if offer is None:
        return "no offer to make"
    if not _claim(offer):
        return f"already {offer.state}"
    offer.refresh_from_db(fields=["attempts"])
    reply = (
        Message.objects.select_related("channel", "author", "inquiry__customer")
        .defer("raw")
        .get(pk=message_id)
    )
    webhook = offer.webhook
    if reply.delivery_state != State.QUEUED or not webhook.is_active:
        # Nothing wrong with the receiver: the integration already reported on the reply (it
        # polls too), or an admin switched the webhook off. The offer is dropped, not retried.
        why = (
            f"the reply is {reply.delivery_state}"
            if reply.delivery_state != State.QUEUED
            else "the webhook is inactive"
        )
        OutboxOffer.objects.filter(pk=offer.pk).update(
            state=OutboxOffer.State.FAILED, last_error=f"not offered: {why}", lease_until=None
        )
        return f"not offered: {why}"
    try:
        secret = secrets.resolve(
            env_name=webhook.secret_env, encrypted=webhook.secret_encrypted, what="reply webhook secret"
        )
    except secrets.SecretError as exc:
        return _finish(offer, OutboxOffer.State.FAILED, str(exc))
    return _post_offer(offer, reply, secret, timeout=timeout, final_attempt=final_attempt)


def _claim(offer: OutboxOffer) -> bool:
    """Lease the offer to this worker: False when another one has it (the sweep's re-queue
    racing a retry finds it leased) or it is finished."""
    now = timezone.now()
    return bool(
        OutboxOffer.objects.filter(
            Q(state=OutboxOffer.State.PENDING) | Q(state=OutboxOffer.State.SENDING, lease_until__lt=now),
            pk=offer.pk,
        ).update(state=OutboxOffer.State.SENDING, attempts=F("attempts") + 1, lease_until=now + LEASE)
    )


def _post_offer(
    offer: OutboxOffer, reply: Message, secret: str, *, timeout: float, final_attempt: bool
) -> str:
    """POST the signed offer to the webhook and record how the receiver answered."""
    body = json.dumps({"event": EVENT, "reply": reply_payload(reply)}, separators=(",", ":")).encode()
    timestamp = int(time.time())
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "cstracker-outbox/1",
        "X-Cstracker-Event": EVENT,
        "X-Cstracker-Delivery": f"offer-{offer.pk}",
        "X-Cstracker-Timestamp": str(timestamp),
        "X-Cstracker-Signature": sign(secret, timestamp, body),
    }
    try:
        answer = outbound.post(offer.webhook.url, body, headers, timeout)
    except (ValueError, outbound.BlockedDestination) as exc:
        return _finish(offer, OutboxOffer.State.FAILED, f"refused: {exc}")
    except (OSError, http.client.HTTPException) as exc:
        return _retry_or_fail(offer, f"{type(exc).__name__}: {exc}", None, final_attempt)
    if 200 <= answer.status < 300:
        return _finish(offer, OutboxOffer.State.OFFERED, "", answer.status)
    detail = f"HTTP {answer.status}"
    if 300 <= answer.status < 400:
        detail += (
            f" redirect to {answer.location[:200]!r} not followed; set the webhook's URL to where it points"
        )
    return _retry_or_fail(offer, detail, answer.status, final_attempt)


def _retry_or_fail(offer: OutboxOffer, error: str, status: int | None, final_attempt: bool) -> str:
    if final_attempt:
        return _finish(
            offer, OutboxOffer.State.FAILED, f"gave up after {offer.attempts} attempts: {error}", status
        )
    _finish(offer, OutboxOffer.State.PENDING, error, status)
    raise TemporaryOfferError(error)


def _finish(offer: OutboxOffer, state: str, error: str, status: int | None = None) -> str:
    now = timezone.now()
    OutboxOffer.objects.filter(pk=offer.pk).update(
        state=state,
        last_error=error[:2000],
        last_status_code=status,
        offered_at=now if state == OutboxOffer.State.OFFERED else None,
        lease_until=None,
        # The task's own retry comes within the backoff's cap; only after that is it lost.
        next_attempt_at=now + RETRY_CAP,
    )
    hook = {"last_success_at": now, "last_error": ""} if not error else {"last_error": error[:2000]}
    ReplyWebhook.objects.filter(pk=offer.webhook_id).update(**hook)
    return f"{state}: {error}" if error else state


def pending_offer_ids(*, now: datetime | None = None, grace: timedelta = timedelta(minutes=10)) -> list[int]:
    """Replies whose offer is unfinished past the grace time (its task was lost): re-queue them."""
    now = now or timezone.now()
    return list(
        OutboxOffer.objects.filter(
            Q(state=OutboxOffer.State.PENDING) | Q(state=OutboxOffer.State.SENDING, lease_until__lt=now),
            next_attempt_at__lte=now - grace,
        ).values_list("message_id", flat=True)[:500]
    )


def put_back(*, message: Message, actor: User | None = None) -> bool:
    """A failed or bounced outbox reply back in the outbox, unchanged (the agent's "Send again"):
    queued again, and offered again as a new `reply.created` when the channel has a webhook.
    False when the reply is neither failed nor bounced."""
    with transaction.atomic():
        if not delivery.retry_reply(message_id=message.pk, actor=actor):
            return False
        webhook = ReplyWebhook.objects.filter(channel_id=message.channel_id, is_active=True).first()
        if webhook is not None:
            # A new offer (a new X-Cstracker-Delivery id): the receiver may have dropped the old one.
            OutboxOffer.objects.filter(message=message).delete()
            OutboxOffer.objects.create(message=message, webhook=webhook)
            enqueue_after_commit("offer_reply", message.pk)
    return True


# --- the integration's reports ----------------------------------------------------------------


def report_delivered(
    *, reply: Message, accepted_at: datetime | None = None, now: datetime | None = None
) -> Message:
    """The integration sent the reply: it answers the customer from `accepted_at` (default now).

    Idempotent: a reply already delivered stays as it is; a failed one is a Conflict (send
    it again first)."""
    now = now or timezone.now()
    _check_outbox(reply)
    at = accepted_at or now
    if at > now + CLOCK_SKEW:
        raise DomainError(_("The acceptance time is in the future."), field="accepted_at")
    if at < reply.received_at:
        raise DomainError(_("The acceptance time is before the reply was written."), field="accepted_at")
    with transaction.atomic():
        delivery.accept_reply(message_id=reply.pk, at=at, now=now)
        delivery.mark_delivered(message_id=reply.pk, at=at)
        current = Message.objects.defer("raw").get(pk=reply.pk)
    if current.delivery_state in (State.FAILED, State.BOUNCED):
        raise Conflict(
            _("The reply was reported %(state)s (%(error)s); it answers nobody. Write it again to send it.")
            % {"state": current.delivery_state, "error": current.delivery_error},
            field="delivery_state",
            code="not_deliverable",
        )
    return current


def report_failed(*, reply: Message, reason: str, now: datetime | None = None) -> Message:
    """The integration could not send the reply (or it came back): it answers nothing, the
    clocks it stopped run again and the agent is told. Idempotent: a failed reply stays failed."""
    now = now or timezone.now()
    _check_outbox(reply)
    reason = " ".join(reason.split())
    if not reason:
        raise DomainError(_("Say why the reply was not delivered."), field="reason")
    with transaction.atomic():
        current = Message.objects.defer("raw").get(pk=reply.pk)
        bounced = current.delivery_state in Message.ANSWERING_STATES
        delivery.reply_not_delivered(message_id=reply.pk, reason=reason, bounced=bounced, now=now)
        return Message.objects.defer("raw").get(pk=reply.pk)


def _check_outbox(reply: Message) -> None:
    if reply.channel.kind == ChannelKind.EMAIL:
        raise Conflict(
            _("This reply is sent by e-mail: the mail server reports its delivery."),
            field="reply",
            code="not_in_outbox",
        )
    if reply.delivery_state == State.NONE:
        raise Conflict(
            _("This reply was not written in cstracker and has no delivery to report."),
            field="reply",
            code="not_in_outbox",
        )


# --- configuration ------------------------------------------------------------------------------


def save_reply_webhook(*, webhook: ReplyWebhook, secret: str = "") -> ReplyWebhook:
    """Save a channel's reply webhook (already validated with `clean()`); `secret`, when given,
    is stored encrypted, and naming an environment variable drops a stored one."""
    if secret:
        webhook.secret_encrypted = secrets.encrypt(secret)
    elif webhook.secret_env:
        webhook.secret_encrypted = ""
    if not webhook.has_secret:
        raise DomainError(
            _("A reply webhook needs a secret: store one or name an environment variable."), field="secret"
        )
    webhook.save()
    return webhook
