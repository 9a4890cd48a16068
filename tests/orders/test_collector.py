"""Python's cycle collector is paused during an order import only where the process runs nothing
else meanwhile: the management command and the Celery task (`pause_collector=True`), never the
API upload, whose web worker serves other requests in other threads (gc is process-wide)."""

from __future__ import annotations

import gc
from collections.abc import Iterable, Iterator

import pytest

from inquiries.services import orders
from tests.conftest import token_client
from tests.orders.conftest import sample
from tests.orders.test_api import upload
from tests.orders.test_command import run

pytestmark = pytest.mark.django_db


@pytest.fixture
def collector_seen(monkeypatch) -> list[bool]:
    """Whether the collector was enabled as each row of an import was read."""
    seen: list[bool] = []
    read_ahead = orders.read_ahead

    def watched(rows: Iterable, **options) -> Iterator:
        for row in read_ahead(rows, **options):
            seen.append(gc.isenabled())
            yield row

    monkeypatch.setattr(orders, "read_ahead", watched)
    assert gc.isenabled()
    return seen


def test_the_api_upload_leaves_the_collector_running(amazon, manager, collector_seen):
    assert upload(token_client(manager), amazon, "amazon-all-orders").status_code == 200

    assert collector_seen and all(collector_seen)
    assert gc.isenabled()


def test_the_command_pauses_the_collector_while_it_imports(amazon, collector_seen):
    run(str(sample("amazon-all-orders")), "--account", str(amazon.pk), "--format", "amazon-all-orders")

    assert collector_seen and not any(collector_seen)
    assert gc.isenabled()  # running again afterwards
