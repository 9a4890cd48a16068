"""Queueing Celery tasks from the write side, without ever failing the write that caused it.

Services never import `inquiries.tasks` (the tasks import the services): they name a task
and it is looked up in the Celery app's registry, where `InquiriesConfig.ready()` registered
every task of `inquiries.tasks` when the process started.
"""

from __future__ import annotations

import logging
from typing import Any

from celery import Task, current_app
from django.db import transaction

logger = logging.getLogger(__name__)

TASKS_MODULE = "inquiries.tasks"


def registered_task(task_name: str) -> Task:
    """The task `inquiries.tasks.<task_name>`; an unknown name raises `NotRegistered` (a KeyError)."""
    return current_app.tasks[f"{TASKS_MODULE}.{task_name}"]


def safe_delay(task: Task, *args: object, countdown: float | None = None, queue: str | None = None) -> None:
    """Publish a task (on `queue`, else where the routes send it); if the broker is unreachable,
    log it: the sweep will catch up."""
    try:
        task.apply_async(args, countdown=countdown, queue=queue)
    except Exception:
        logger.warning("Could not queue %s%r; the next sweep will pick it up", task.name, args, exc_info=True)


def enqueue(task_name: str, *args: object) -> None:
    """Queue a Celery task now; a broker outage only logs (see `safe_delay`)."""
    safe_delay(registered_task(task_name), *args)


def enqueue_after_commit(task_name: str, *args: object, queue: str | None = None) -> None:
    """Queue a Celery task once the transaction commits; a broker outage only logs.

    The database already holds the facts; the periodic sweep redoes whatever a lost
    task would have done, so a failed publish is not an error for the caller.
    """
    task = registered_task(task_name)
    options: dict[str, Any] = {"queue": queue} if queue else {}
    transaction.on_commit(lambda: safe_delay(task, *args, **options), robust=True)
