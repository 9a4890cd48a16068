"""Celery tasks: thin, ids in, one service call each; idempotent, acks late."""

from __future__ import annotations

import logging

from celery import Task, shared_task
from celery.signals import task_failure
from django.conf import settings

from inquiries.services import queue

logger = logging.getLogger(__name__)

TASK_OPTIONS = {"acks_late": True, "reject_on_worker_lost": True, "max_retries": 5}


@shared_task(**TASK_OPTIONS)
def after_customer_message(message_id: int) -> int:
    from inquiries.services.followup import follow_up_messages

    return follow_up_messages(message_ids=[message_id])


@shared_task(**TASK_OPTIONS)
def after_customer_messages(message_ids: list[int]) -> int:
    """The follow-up of a whole imported batch in one task."""
    from inquiries.services.followup import follow_up_messages

    return follow_up_messages(message_ids=message_ids)


@shared_task(**TASK_OPTIONS)
def hand_on_assignments() -> int:
    """Periodic: inquiries of agents gone off go to available ones; waiting ones get an agent."""
    from inquiries.services.assignment import hand_on

    return hand_on()


@shared_task(**TASK_OPTIONS)
def sweep_clocks() -> str:
    from inquiries.services.sweep import sweep

    return str(sweep())


@shared_task(**TASK_OPTIONS)
def notify_events(event_ids: list[int]) -> int:
    from inquiries.services.notifications import notify_for_events

    return notify_for_events(event_ids=event_ids)


@shared_task(**TASK_OPTIONS)
def recompute_clocks(inquiry_ids: list[int] | None = None, run_id: int | None = None) -> int:
    from inquiries.services.clocks import inquiries_with_running_clocks, recompute_many

    return recompute_many(
        inquiry_ids=inquiry_ids if inquiry_ids is not None else inquiries_with_running_clocks(), run_id=run_id
    )


@shared_task(**TASK_OPTIONS, autoretry_for=(OSError,), retry_backoff=True)
def send_notification_email(user_id: int, dedupe_key: str) -> bool:
    from inquiries.services.notifications import send_notification_email as send

    return send(user_id=user_id, dedupe_key=dedupe_key)


@shared_task(**TASK_OPTIONS)
def send_notification_digests() -> int:
    from inquiries.services.notifications import send_notification_digests as send

    return send()


class WebhookTask(Task):
    """Retries with exponential backoff; after the last one the delivery is marked failed."""

    def on_failure(self, exc: BaseException, task_id: str, args: tuple, kwargs: dict, einfo: object) -> None:
        from inquiries.services.notifications import give_up_webhook

        give_up_webhook(delivery_id=args[0] if args else kwargs["delivery_id"], error=str(exc))


@shared_task(
    bind=True,
    base=WebhookTask,
    acks_late=True,
    reject_on_worker_lost=True,
    max_retries=8,
    soft_time_limit=60,
    time_limit=90,
)
def deliver_webhook(self: Task, delivery_id: int) -> bool:
    from inquiries.services.notifications import WebhookFailed, deliver_webhook, postpone_webhook

    try:
        return deliver_webhook(delivery_id=delivery_id)
    except WebhookFailed as exc:
        # Exponential backoff, capped at an hour; the row records when the next try is due so
        # the periodic re-queue only picks up deliveries whose task was really lost.
        countdown = min(5 * 2**self.request.retries, 3600)
        postpone_webhook(delivery_id=delivery_id, seconds=countdown)
        raise self.retry(exc=exc, countdown=countdown) from exc


@shared_task(**TASK_OPTIONS)
def retry_webhooks() -> int:
    """Re-queue deliveries and outbox offers whose task was lost (broker outage); delivered
    ones are never resent."""
    from inquiries.services.notifications import pending_webhook_ids
    from inquiries.services.outbox import pending_offer_ids

    ids = pending_webhook_ids()
    for delivery_id in ids:
        queue.safe_delay(deliver_webhook, delivery_id)
    offers = pending_offer_ids()
    for message_id in offers:
        queue.safe_delay(offer_reply, message_id)
    return len(ids) + len(offers)


@task_failure.connect
def record_failed_task(
    sender: Task | None = None,
    task_id: str = "",
    exception: BaseException | None = None,
    args: tuple = (),
    **kwargs: object,
) -> None:
    """A task that failed for good is kept for an admin to see; the queue moves on."""
    from inquiries.models import FailedTask

    try:
        FailedTask.objects.update_or_create(
            task_id=task_id or "",
            defaults={
                "task_name": getattr(sender, "name", "?"),
                "args": list(args or ()),
                "error": repr(exception)[:5000],
            },
        )
    except Exception:
        logger.exception("could not record the failure of task %s", task_id)


@shared_task(**TASK_OPTIONS)
def notify_cluster_events(event_ids: list[int]) -> int:
    from inquiries.services.notifications import notify_for_cluster_events

    return notify_for_cluster_events(event_ids=event_ids)


@shared_task(**TASK_OPTIONS)
def sweep_clusters(continuation: bool = False) -> str:
    """The periodic cluster sweep, a few seconds at a time: when work remains, the task queues
    its own continuation after as long a pause (the scheduled run leaves a moving sweep alone)."""
    from inquiries.services.complaints import sweep_clusters as sweep

    result = sweep(budget_seconds=settings.CSTRACKER_BACKGROUND_BUDGET_SECONDS, continuation=continuation)
    if not result.done:
        queue.safe_delay(sweep_clusters, True, countdown=settings.CSTRACKER_BACKGROUND_BUDGET_SECONDS)
    return str(result)


@shared_task(**TASK_OPTIONS)
def expire_held_messages() -> str:
    """Held replies and notes whose parent never arrived: marked expired, logged per channel."""
    from django.utils import timezone

    from inquiries.services.recording.held import expire

    expired = expire(now=timezone.now())
    return ", ".join(f"{slug}: {count} expired" for slug, count in expired.items()) or "none expired"


@shared_task(**TASK_OPTIONS)
def train_topic_model() -> str:
    """Retrain the topic model of every account with enough new labels (hourly)."""
    from inquiries.services.topic_training import learn_all

    results = learn_all()
    return (
        ", ".join(f"v{r.model.version} {'kept' if r.kept else 'rejected'}" for r in results)
        or "nothing to learn"
    )


# --- e-mail channels (issue 9) ---------------------------------------------------------------

from inquiries.services.mail import TemporaryDeliveryError  # noqa: E402  (autoretry_for needs the class)

SEND_RETRIES = 6  # with the backoff below: about an hour of attempts before the reply is marked failed
# Sending a reply (SMTP, or offering it to the integration): 30 s, 1 min, 2 min ... capped at 30 min.
SENDING_OPTIONS = {
    "bind": True,
    "acks_late": True,
    "reject_on_worker_lost": True,
    "max_retries": SEND_RETRIES,
    "retry_backoff": 30,
    "retry_backoff_max": 1800,
    "retry_jitter": True,
}


@shared_task(**SENDING_OPTIONS, autoretry_for=(TemporaryDeliveryError,))
def send_reply_email(self: Task, message_id: int) -> str:
    from inquiries.services.mail import send_reply_email as send

    outcome = send(message_id=message_id, final_attempt=self.request.retries >= SEND_RETRIES)
    return f"{outcome.state}: {outcome.detail}"


@shared_task(**TASK_OPTIONS)
def poll_mailboxes() -> str:
    from inquiries.services.mailbox import sweep

    return sweep()


@shared_task(**TASK_OPTIONS)
def poll_mailbox(mailbox_id: int) -> str:
    from inquiries.services.mailbox import poll_mailbox as poll

    return poll(mailbox_id=mailbox_id).summary()


@shared_task(**TASK_OPTIONS)
def refresh_report_rollups() -> str:
    from inquiries.services.rollups import refresh_rollups

    result = refresh_rollups(budget_seconds=settings.CSTRACKER_BACKGROUND_BUDGET_SECONDS)
    if not result.done:
        queue.safe_delay(refresh_report_rollups, countdown=settings.CSTRACKER_BACKGROUND_BUDGET_SECONDS)
    return str(result)


@shared_task(**TASK_OPTIONS)
def send_due_digests() -> int:
    from inquiries.services.digests import send_due_digests as send

    return send()


# --- account health (issue 7) ---------------------------------------------------------------


@shared_task(**TASK_OPTIONS)
def health_daily_snapshots() -> int:
    """Fill finished days of the last 90 without a final snapshot (idempotent per account and
    day), for a few seconds at a time: when days remain, the task queues its own continuation
    after as long a pause, so a fresh database's backfill never starves other work."""
    from inquiries.services.health import snapshot_missing_days

    fill = snapshot_missing_days(budget_seconds=settings.CSTRACKER_BACKGROUND_BUDGET_SECONDS)
    if not fill.done:
        # As long a pause as the work: the database gets its breath back between steps.
        queue.safe_delay(health_daily_snapshots, countdown=settings.CSTRACKER_BACKGROUND_BUDGET_SECONDS)
    return fill.written


@shared_task(**TASK_OPTIONS)
def health_refresh_today() -> int:
    """Recompute today's snapshot of every active account, as of now."""
    from inquiries.services.health import refresh_today

    return refresh_today()


@shared_task(**TASK_OPTIONS)
def build_order_rollups() -> str:
    """Build the order metrics' rollup of every account with orders whose rollup is missing or
    stale (docs/health.md, "The rollup"), a few seconds at a time: when steps remain, the task
    queues its own continuation after as long a pause."""
    from inquiries.services.order_rollup import build_missing

    result = build_missing(budget_seconds=settings.CSTRACKER_BACKGROUND_BUDGET_SECONDS)
    if not result.done:
        queue.safe_delay(build_order_rollups, countdown=settings.CSTRACKER_BACKGROUND_BUDGET_SECONDS)
    return str(result)


# --- the outbox of API channels (issue 18) ---------------------------------------------------

from inquiries.services.outbox import TemporaryOfferError  # noqa: E402  (autoretry_for needs the class)


@shared_task(**SENDING_OPTIONS, autoretry_for=(TemporaryOfferError,), soft_time_limit=60, time_limit=90)
def offer_reply(self: Task, message_id: int) -> str:
    """Offer one reply to its channel's integration (`reply.created`)."""
    from inquiries.services.outbox import offer_reply as offer

    return offer(message_id=message_id, final_attempt=self.request.retries >= SEND_RETRIES)


@shared_task(**TASK_OPTIONS)
def purge_idempotency_keys() -> int:
    """Forget the write API's Idempotency-Keys past CSTRACKER_IDEMPOTENCY_HOURS."""
    from inquiries.services.idempotency import purge_expired

    return purge_expired()


# --- marketplace connectors (issue 20) --------------------------------------------------------


@shared_task(**TASK_OPTIONS)
def sync_marketplace_connections() -> str:
    """Periodic: queue a sync of each marketplace connection whose own schedule has come due."""
    from inquiries.services.spapi import sweep

    return sweep()


@shared_task(**TASK_OPTIONS)
def sync_amazon_connection(connection_id: int) -> str:
    from inquiries.services.spapi import sync_connection

    runs = sync_connection(connection_id=connection_id)
    return " ".join(f"{run.format}={run.state}" for run in runs) or "not due"
