"""Celery tasks: thin, ids in, one service call each; idempotent, acks late."""

from __future__ import annotations

import logging

from celery import Task, shared_task

logger = logging.getLogger(__name__)

TASK_OPTIONS = {"acks_late": True, "reject_on_worker_lost": True, "max_retries": 5}


def safe_delay(task: Task, *args: object) -> None:
    """Publish a task; if the broker is unreachable, log it: the sweep will catch up."""
    try:
        task.delay(*args)
    except Exception:
        logger.warning("Could not queue %s%r; the next sweep will pick it up", task.name, args, exc_info=True)


@shared_task(**TASK_OPTIONS)
def after_customer_message(message_id: int) -> int:
    from inquiries.services.followup import follow_up_message

    return follow_up_message(message_id=message_id)


@shared_task(**TASK_OPTIONS)
def sweep_clocks() -> str:
    from inquiries.services.sweep import sweep

    return str(sweep())


@shared_task(**TASK_OPTIONS)
def notify_events(event_ids: list[int]) -> int:
    from inquiries.services.notifications import notify_for_events

    return notify_for_events(event_ids=event_ids)


@shared_task(**TASK_OPTIONS)
def recompute_clocks(inquiry_ids: list[int] | None = None) -> int:
    from inquiries.services.clocks import inquiries_with_running_clocks, recompute_many

    return recompute_many(inquiry_ids=inquiry_ids if inquiry_ids is not None else inquiries_with_running_clocks())


@shared_task(**TASK_OPTIONS)
def notify_cluster_events(event_ids: list[int]) -> int:
    from inquiries.services.notifications import notify_for_cluster_events

    return notify_for_cluster_events(event_ids=event_ids)


@shared_task(**TASK_OPTIONS)
def sweep_clusters() -> str:
    from inquiries.services.complaints import sweep_clusters

    return str(sweep_clusters())


@shared_task(**TASK_OPTIONS)
def train_topic_model() -> str:
    from inquiries.services.topic_training import train_topic_model

    model = train_topic_model()
    return f"trained v{model.version}" if model is not None else "skipped: not enough labelled inquiries"
