"""manage.py import_orders: counts on stdout, every rejected line on stderr, exit status."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from inquiries import models as m
from tests.orders.conftest import sample

pytestmark = pytest.mark.django_db


def run(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("import_orders", *args, stdout=out, stderr=err)
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    return code, out.getvalue(), err.getvalue()


def test_it_prints_the_counts_lists_each_rejected_line_and_exits_1(amazon):
    path = sample("amazon-all-orders")

    code, out, err = run(str(path), "--account", str(amazon.pk), "--format", "amazon-all-orders")

    assert code == 1
    assert out.strip() == (
        "imported=5 rejected=2 orders_created=4 orders_updated=0 lines_created=5 lines_updated=0 "
        "inquiries_linked=0"
    )
    lines = err.strip().splitlines()
    assert [line.split(": ", 1)[0] for line in lines] == [f"{path}:line 5", f"{path}:line 8"]
    assert "amazon-order-id: required; purchase-date: not a timestamp" in lines[0]
    assert m.OrderLine.objects.count() == 5


def test_a_clean_report_exits_0(amazon, tmp_path):
    path = tmp_path / "orders.txt"
    path.write_text(
        "amazon-order-id\tpurchase-date\torder-status\tsku\tquantity\n111-1\t2026-03-01T10:00:00Z\tPending\tA\t1\n"
    )

    code, out, err = run(str(path), "--account", str(amazon.pk), "--format", "amazon-all-orders")

    assert (code, err) == (0, "")
    assert "imported=1 rejected=0 orders_created=1" in out


def test_a_dry_run_reads_everything_and_writes_nothing(amazon):
    code, out, err = run(
        str(sample("amazon-fba-returns")),
        "--account",
        str(amazon.pk),
        "--format",
        "amazon-fba-returns",
        "--dry-run",
    )

    assert code == 1
    assert out.startswith("dry run, nothing written: imported=2 rejected=1 orders_created=2")
    assert "line 4: return-date: required" in err
    assert not m.Order.objects.exists()


def test_dates_are_read_day_first_and_in_the_zone_asked_for(amazon, tmp_path):
    path = tmp_path / "feedback.txt"
    path.write_text("Date\tRating\tOrder ID\n05/03/2026\t2\t111-1\n")

    code, _, _ = run(
        str(path),
        "--account",
        str(amazon.pk),
        "--format",
        "amazon-feedback",
        "--dayfirst",
        "--timezone",
        "UTC",
    )

    assert code == 0
    assert m.Feedback.objects.get().left_at.isoformat() == "2026-03-05T00:00:00+00:00"


def test_a_file_of_another_format_is_refused_naming_the_missing_columns(amazon):
    with pytest.raises(
        CommandError, match=r"not an Amazon All Orders report .*missing column\(s\) amazon-order-id"
    ):
        run(str(sample("amazon-feedback")), "--account", str(amazon.pk), "--format", "amazon-all-orders")


def test_an_unknown_account_format_or_file_is_an_error(amazon, tmp_path):
    with pytest.raises(CommandError, match="no account with id 999999"):
        run(str(sample("amazon-feedback")), "--account", "999999", "--format", "amazon-feedback")
    with pytest.raises(CommandError, match="invalid choice: 'shopify-orders'"):
        run(str(sample("amazon-feedback")), "--account", str(amazon.pk), "--format", "shopify-orders")
    with pytest.raises(CommandError, match="no such file"):
        run(str(tmp_path / "missing.txt"), "--account", str(amazon.pk), "--format", "amazon-feedback")
