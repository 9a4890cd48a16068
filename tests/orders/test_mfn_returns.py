"""Amazon's seller-fulfilled returns report (GET_FLAT_FILE_RETURNS_DATA_BY_RETURN_DATE): each
returned item a Return of its order, bad lines listed, a second import duplicating nothing; by
the command and the API."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.core.management import call_command

from inquiries import models as m
from tests.conftest import token_client
from tests.orders.conftest import import_sample, sample
from tests.orders.test_api import upload

pytestmark = pytest.mark.django_db
FORMAT = "amazon-mfn-returns"


def test_each_returned_item_is_a_return_of_its_order_and_bad_lines_are_listed(amazon):
    result, rejected = import_sample(amazon, FORMAT)

    assert (result.rows, result.imported, result.rejected) == (4, 3, 1)
    assert [line for line, _ in rejected] == [4]
    assert rejected[0][1].startswith("Order ID: required; Return request date: not a timestamp")
    assert "Return quantity: not a whole number" in rejected[0][1]
    assert "Refunded Amount: more than two decimals: '12.999'" in rejected[0][1]
    kettle = m.Return.objects.get(external_id="DxyzRMA1/KETTLE-1")
    assert kettle.order.marketplace_order_id == "111-0000001-0000001"
    assert kettle.order.fulfilment_channel == m.FulfilmentChannel.MERCHANT
    assert (kettle.reason_code, kettle.status, kettle.disposition) == (
        "AMZ-PG-BAD-DESC",
        "Approved",
        "StandardRefund",
    )
    assert kettle.requested_at == datetime(2026, 3, 1, 9, tzinfo=UTC)
    assert kettle.received_at == datetime(2026, 3, 5, 12, tzinfo=UTC)
    assert kettle.refund_amount == Decimal("29.99")
    assert m.Return.objects.get(external_id="DxyzRMA1/LID-1").quantity == 2
    assert m.Return.objects.filter(external_id__startswith="KETTLE-1@").count() == 1


def test_a_second_import_creates_nothing_twice(amazon):
    import_sample(amazon, FORMAT)

    again, _ = import_sample(amazon, FORMAT)

    assert again.counts["returns"].created == 0
    assert again.counts["orders"].created == 0
    assert m.Return.objects.count() == 3
    assert m.Order.objects.count() == 2


def test_the_command_and_the_api_import_it(amazon, manager):
    path = sample(FORMAT)
    out, err = io.StringIO(), io.StringIO()
    with pytest.raises(SystemExit):
        call_command(
            "import_orders",
            str(path),
            "--account",
            str(amazon.pk),
            "--format",
            FORMAT,
            stdout=out,
            stderr=err,
        )
    assert "imported=3 rejected=1" in out.getvalue()
    assert err.getvalue().startswith(f"{path}:line 4: ")

    body = upload(token_client(manager), amazon, FORMAT).json()
    assert (body["imported"], body["rejected"]) == (3, 1)
    assert body["counts"]["returns"]["created"] == 0
    assert m.Return.objects.count() == 3
