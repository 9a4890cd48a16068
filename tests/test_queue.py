"""Queueing tasks from services (services.queue): by name, after commit, never failing the write."""

from __future__ import annotations

import logging

import pytest
from kombu.exceptions import OperationalError

from inquiries.services import queue

pytestmark = pytest.mark.django_db


def test_a_task_named_by_a_service_is_published_once_the_transaction_commits(
    monkeypatch, django_capture_on_commit_callbacks
):
    published: list[tuple[str, tuple]] = []
    monkeypatch.setattr(queue, "safe_delay", lambda task, *args: published.append((task.name, args)))

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        queue.enqueue_after_commit("notify_events", [1, 2])
    assert published == []

    for callback in callbacks:
        callback()
    assert published == [("inquiries.tasks.notify_events", ([1, 2],))]


def test_an_unknown_task_name_fails_at_the_call_not_after_commit():
    with pytest.raises(KeyError):
        queue.enqueue_after_commit("no_such_task")


def test_a_broker_outage_is_logged_and_the_caller_goes_on(monkeypatch, caplog):
    task = queue.registered_task("sweep_clocks")

    def unreachable(*args: object, **kwargs: object) -> None:
        raise OperationalError("connection refused")

    monkeypatch.setattr(task, "apply_async", unreachable)
    with caplog.at_level(logging.WARNING, logger="inquiries.services.queue"):
        queue.enqueue("sweep_clocks")
    assert "Could not queue inquiries.tasks.sweep_clocks" in caplog.text
