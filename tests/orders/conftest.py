"""Sample reports (tests/orders/samples/, hand-written rows with hostile text and bad lines) and
an Amazon account of team A."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import Permission
from django.core.management import call_command
from django.test import Client

from inquiries import models as m
from inquiries.ingestion.csv_import import open_csv
from inquiries.ingestion.order_reports import FORMATS, parse_report
from inquiries.services.orders import OrderImport, import_orders

SAMPLES = Path(__file__).parent / "samples"
DATA = Path(__file__).parent / "data"


def sample(name: str) -> Path:
    return SAMPLES / f"{name}.txt"


def data(name: str) -> Path:
    """tests/orders/data/NAME.csv: the Walmart and eBay downloads written for the tests."""
    return DATA / f"{name}.csv"


def import_sample(account: m.Account, name: str, **options: Any) -> tuple[OrderImport, list[tuple[int, str]]]:
    """Import tests/orders/samples/NAME.txt into the account: the result and the rejections."""
    return import_file(account, sample(name), name, **options)


def import_file(
    account: m.Account, path: Path, fmt: str, **options: Any
) -> tuple[OrderImport, list[tuple[int, str]]]:
    """Import the report at `path`, in format `fmt`, into the account: the result and the rejections."""
    rejected: list[tuple[int, str]] = []
    with open_csv(path) as stream:
        result = import_orders(
            account=account,
            fmt=FORMATS[fmt],
            rows=parse_report(stream, FORMATS[fmt], zone=account.timezone),
            on_rejected=lambda line, rejection: rejected.append((line, rejection.reason)),
            **options,
        )
    return result, rejected


@pytest.fixture
def amazon(account: m.Account) -> m.Account:
    """Team A's account, on Amazon US (timestamps without an offset are Los Angeles time)."""
    account.marketplace = m.Marketplace.AMAZON
    account.timezone = "America/Los_Angeles"
    account.save()
    return account


@pytest.fixture
def staff(manager) -> Client:
    """Team A's manager, staff with every permission of the app."""
    manager.is_staff = True
    manager.save(update_fields=["is_staff"])
    manager.user_permissions.add(*Permission.objects.filter(content_type__app_label="inquiries"))
    client = Client()
    client.force_login(manager)
    return client


def on_marketplace(account: m.Account, marketplace: str, zone: str = "America/Los_Angeles") -> m.Account:
    account.marketplace = marketplace
    account.timezone = zone
    account.save()
    return account


@pytest.fixture
def walmart(account: m.Account) -> m.Account:
    """Team A's account, on Walmart (days without a time are Los Angeles days)."""
    return on_marketplace(account, m.Marketplace.WALMART)


@pytest.fixture
def ebay(account: m.Account) -> m.Account:
    return on_marketplace(account, m.Marketplace.EBAY)


def run_import_command(path: Path, account: m.Account, fmt: str) -> tuple[int | str | None, str, str]:
    """`manage.py import_orders PATH --account ID --format FMT`: its exit status, stdout, stderr."""
    out, err = io.StringIO(), io.StringIO()
    with pytest.raises(SystemExit) as exit_status:
        call_command(
            "import_orders", str(path), "--account", str(account.pk), "--format", fmt, stdout=out, stderr=err
        )
    return exit_status.value.code, out.getvalue(), err.getvalue()
