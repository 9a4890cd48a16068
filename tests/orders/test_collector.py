"""Python's cycle collector is paused, and the interpreter's switch interval shortened, during an
order import only where the process runs nothing else meanwhile: the management command and the
Celery task (`own_process=True`), never the API upload, whose web worker serves other requests
in other threads (both settings are process-wide)."""

from __future__ import annotations

import gc
import sys
from collections.abc import Iterator

import pytest

from inquiries.ingestion.read_ahead import ReadAhead
from inquiries.services import orders
from tests.conftest import token_client
from tests.orders.conftest import sample
from tests.orders.test_api import upload
from tests.orders.test_command import run

pytestmark = pytest.mark.django_db

DEFAULT_INTERVAL = 0.005  # Python's


@pytest.fixture
def collector_seen(monkeypatch) -> list[tuple[bool, float]]:
    """Whether the collector was enabled, and the switch interval, as each row of an import was
    read."""
    seen: list[tuple[bool, float]] = []

    class Watched(ReadAhead):
        def __iter__(self) -> Iterator:
            for row in super().__iter__():
                seen.append((gc.isenabled(), sys.getswitchinterval()))
                yield row

    monkeypatch.setattr(orders, "ReadAhead", Watched)
    assert gc.isenabled()
    assert sys.getswitchinterval() == DEFAULT_INTERVAL
    return seen


def test_the_api_upload_leaves_the_collector_running(amazon, manager, collector_seen):
    assert upload(token_client(manager), amazon, "amazon-all-orders").status_code == 200

    assert collector_seen and all(enabled for enabled, _ in collector_seen)
    assert {interval for _, interval in collector_seen} == {DEFAULT_INTERVAL}
    assert gc.isenabled()


def test_the_command_pauses_the_collector_while_it_imports(amazon, collector_seen):
    run(str(sample("amazon-all-orders")), "--account", str(amazon.pk), "--format", "amazon-all-orders")

    assert collector_seen and not any(enabled for enabled, _ in collector_seen)
    assert {round(interval, 6) for _, interval in collector_seen} == {orders.SWITCH_INTERVAL}
    assert gc.isenabled()  # running again afterwards
    assert sys.getswitchinterval() == DEFAULT_INTERVAL


def test_imports_that_overlap_leave_the_settings_tuned_until_the_last_one_ends():
    """Two imports under way in one process (a Celery worker of the threads pool): the first to
    end must not put the settings back under the other."""
    with orders._tuned_process():
        with orders._tuned_process():
            assert not gc.isenabled()
        assert not gc.isenabled()
        assert round(sys.getswitchinterval(), 6) == orders.SWITCH_INTERVAL
    assert gc.isenabled()
    assert sys.getswitchinterval() == DEFAULT_INTERVAL
