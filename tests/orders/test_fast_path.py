"""The PostgreSQL fast path (COPY into a staging table, one upsert per table, counts from its
RETURNING; the lines of new orders by COPY into their table) stores the same rows and counts as
the portable path (bulk_create between lookups)."""

from __future__ import annotations

import functools
import io
from datetime import UTC, datetime
from typing import TextIO

import pytest
from django.db import IntegrityError, connection, transaction

from inquiries import models as m
from inquiries.ingestion.csv_import import open_csv
from inquiries.ingestion.order_reports import FORMATS, parse_report
from inquiries.services import bulk
from inquiries.services import orders as order_service
from inquiries.services.orders import import_orders
from tests import factories
from tests.orders.conftest import data, sample
from tests.orders.test_import import LAMP_TITLE

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)

# Earlier rows changed: statuses, a price, titles; one order gains a line.
UPDATED_ORDERS = (
    "amazon-order-id\tpurchase-date\torder-status\tfulfillment-channel\tproduct-name\tsku\tquantity\titem-price\n"
    "111-0000001-0000001\t2026-03-01T10:15:00+00:00\tShipped\tAmazon\tLamp <b>v2</b>\tLAMP-1\t1\t35.00\n"
    "111-0000002-0000002\t2026-03-03T07:30:00+00:00\tCancelled\tMerchant\tKettle\tKETTLE-9\t1\t\n"
    "111-0000002-0000002\tnot a date\tCancelled\tMerchant\tKettle\tKETTLE-10\t1\t\n"
    "111-0000002-0000002\t2026-03-03T07:30:00+00:00\tCancelled\tMerchant\tToaster\tTOASTER-3\t2\t20.00\n"
)


def run_imports(account: m.Account) -> list[str]:
    """The sample reports, an update of earlier rows, then the All Orders sample a second time,
    in batches of two rows (rejected lines fall inside batches): each import's counts."""
    summaries = []
    for name in ("amazon-all-orders", "amazon-fba-shipments", "amazon-fba-returns", "amazon-feedback"):
        with open_csv(sample(name)) as stream:
            summaries.append(import_into(account, name, stream))
    summaries.append(import_into(account, "amazon-all-orders", io.StringIO(UPDATED_ORDERS)))
    with open_csv(sample("amazon-all-orders")) as stream:
        summaries.append(import_into(account, "amazon-all-orders", stream))
    return summaries


def import_into(account: m.Account, fmt: str, stream: TextIO) -> str:
    rows = parse_report(stream, FORMATS[fmt], zone=account.timezone)
    return import_orders(account=account, fmt=FORMATS[fmt], rows=rows, batch_size=2, now=NOW).summary()


def stored(account: m.Account) -> dict[str, object]:
    """Every row the imports stored for the account, without its own ids."""

    def rows(model: type) -> list[tuple[object, ...]]:
        fields = [f.attname for f in model._meta.concrete_fields if f.attname not in {"id", "order_id"}]
        return sorted(
            model.objects.filter(order__account=account).values_list("order__marketplace_order_id", *fields),
            key=repr,
        )

    orders = m.Order.objects.filter(account=account)
    order_fields = [f.attname for f in m.Order._meta.concrete_fields if f.attname not in {"id", "account_id"}]
    return {
        "orders": sorted(orders.values_list(*order_fields), key=repr),
        "lines": rows(m.OrderLine),
        "shipments": rows(m.Shipment),
        "returns": rows(m.Return),
        "feedback": rows(m.Feedback),
        "cancellations": rows(m.Cancellation),
    }


def test_the_fast_path_and_the_portable_path_store_the_same_rows_and_counts(amazon, monkeypatch):
    other = factories.AccountFactory(marketplace=m.Marketplace.AMAZON, timezone=amazon.timezone)

    fast_counts = run_imports(amazon)
    monkeypatch.setattr(order_service, "upsert_rows", functools.partial(bulk.upsert_rows, portable=True))
    monkeypatch.setattr(order_service, "upsert_count", functools.partial(bulk.upsert_count, portable=True))
    monkeypatch.setattr(order_service, "insert_new", functools.partial(bulk.insert_new, portable=True))
    portable_counts = run_imports(other)

    assert fast_counts == portable_counts
    assert stored(amazon) == stored(other)
    # What the sequence did: the update changed two orders and two lines and added one;
    # importing the sample a second time updated what it had stored and created nothing.
    assert fast_counts[4] == (
        "imported=3 rejected=1 orders_created=0 orders_updated=2 lines_created=1 lines_updated=2 "
        "inquiries_linked=0"
    )
    assert fast_counts[5] == (
        "imported=5 rejected=2 orders_created=0 orders_updated=4 lines_created=0 lines_updated=5 "
        "inquiries_linked=0"
    )
    assert m.OrderLine.objects.get(order__account=amazon, sku="LAMP-1").title == LAMP_TITLE


def run_downloads(account: m.Account) -> list[str]:
    """Walmart's and eBay's sample downloads, each followed by its update, in batches of two rows."""
    summaries = []
    for name, fmt in (
        ("walmart-orders", "walmart-orders"),
        ("walmart-orders-update", "walmart-orders"),
        ("ebay-orders", "ebay-orders"),
        ("ebay-orders-update", "ebay-orders"),
    ):
        with open_csv(data(name)) as stream:
            summaries.append(import_into(account, fmt, stream))
    return summaries


def test_the_walmart_and_ebay_downloads_store_the_same_rows_by_both_paths(account, monkeypatch):
    other = factories.AccountFactory(timezone=account.timezone)

    fast_counts = run_downloads(account)
    monkeypatch.setattr(order_service, "upsert_rows", functools.partial(bulk.upsert_rows, portable=True))
    monkeypatch.setattr(order_service, "upsert_count", functools.partial(bulk.upsert_count, portable=True))
    monkeypatch.setattr(order_service, "insert_new", functools.partial(bulk.insert_new, portable=True))
    portable_counts = run_downloads(other)

    assert fast_counts == portable_counts
    assert stored(account) == stored(other)
    assert len(stored(account)["cancellations"]) == 2


def test_a_failed_import_still_waits_for_the_disk_for_the_batches_it_stored(amazon, monkeypatch):
    """Batches commit without waiting for the disk; when a later batch fails, the import waits
    once before it raises, so the batches already stored (and maybe reported) are durable."""
    calls = {"store": 0, "flush": 0}
    store = order_service._store

    def store_then_fail(*args, **kwargs):
        calls["store"] += 1
        if calls["store"] == 2:
            raise RuntimeError("the second batch fails")
        store(*args, **kwargs)
        return True  # as if committed without waiting

    monkeypatch.setattr(order_service, "_store", store_then_fail)
    monkeypatch.setattr(
        order_service, "flush_commits", lambda: calls.__setitem__("flush", calls["flush"] + 1)
    )
    with open_csv(sample("amazon-all-orders")) as stream, pytest.raises(RuntimeError, match="second batch"):
        import_into(amazon, "amazon-all-orders", stream)

    assert calls == {"store": 2, "flush": 1}
    assert m.OrderLine.objects.filter(order__account=amazon).exists()  # the first batch stays stored


@pytest.mark.parametrize("portable", [False, True], ids=["copy", "bulk_create"])
def test_a_new_row_that_was_stored_after_all_fails_on_the_unique_constraint(amazon, portable):
    order = m.Order.objects.create(account=amazon, marketplace_order_id="111-0000009-0000009")
    fields = ["order_id", "sku", "quantity"]

    bulk.insert_new(
        m.OrderLine, fields, [(order.pk, "LAMP-1", 1), (order.pk, "LAMP-2", 2)], portable=portable
    )
    with pytest.raises(IntegrityError), transaction.atomic():
        bulk.insert_new(
            m.OrderLine, fields, [(order.pk, "LAMP-3", 1), (order.pk, "LAMP-1", 3)], portable=portable
        )

    assert sorted(order.lines.values_list("sku", "quantity")) == [("LAMP-1", 1), ("LAMP-2", 2)]


@pytest.mark.django_db(transaction=True)
def test_a_batch_in_a_transaction_of_its_own_commits_without_waiting_and_checks_its_keys_in_a_statement(
    amazon,
):
    """Outside a caller's transaction (the command, the Celery task), each batch commits without
    waiting for the disk and runs its deferred foreign-key checks as a statement before its
    commit; the import waits for the disk once at its end. (Other tests run inside a transaction
    of pytest's, where neither applies.)"""
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL's settings")
    seen: list[str] = []

    def watch(execute, sql, params, many, context):
        seen.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(watch), open_csv(sample("amazon-all-orders")) as stream:
        import_into(amazon, "amazon-all-orders", stream)

    assert (
        seen.count("SET LOCAL synchronous_commit = off") == seen.count("SET CONSTRAINTS ALL IMMEDIATE") >= 2
    )
    assert seen[-1] == "SELECT pg_current_xact_id()"  # the one wait for the disk
    assert m.OrderLine.objects.filter(order__account=amazon).count() == 5  # the sample's valid lines

    # A key that points nowhere fails at that statement, inside the batch, not at its commit.
    checked = False
    with pytest.raises(IntegrityError, match="foreign key"), transaction.atomic():
        bulk.insert_new(m.OrderLine, ["order_id", "sku", "quantity"], [(10**9, "LAMP-9", 1)])
        bulk.check_constraints_now()
        checked = True
    assert not checked
