"""Queueing follow-up work after commit without ever failing the write that caused it."""

from __future__ import annotations

import logging

from django.db import transaction

logger = logging.getLogger(__name__)


def enqueue_after_commit(task_name: str, *args: object) -> None:
    """Queue a Celery task once the transaction commits; a broker outage only logs.

    The database already holds the facts; the periodic sweep redoes whatever a lost
    task would have done, so a failed publish is not an error for the caller.
    """
    from inquiries import tasks

    task = getattr(tasks, task_name)
    transaction.on_commit(lambda: tasks.safe_delay(task, *args), robust=True)
