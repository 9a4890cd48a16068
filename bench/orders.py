"""Order report imports and linking inquiries to their orders, on PostgreSQL.

    DATABASE_URL=postgres://... python bench/orders.py [--lines 1000000] [--runs 3] [--inquiries 100000]
                                                      [--part import|link]

Each run writes, in a temporary folder, an Amazon All Orders report of `--lines` order lines
(orders of 1 to 4 lines) and the Amazon Fulfilled Shipments report of the same lines (one
shipment per order), and imports both with `manage.py import_orders` in a child process per
file, into an account of its own (so every run creates what it imports). It prints lines
per second for the order lines with their shipments (both files), and for each file, as the
median of the runs, with each child's peak resident memory, and the peak memory of one
import a tenth the size: flat memory means the import streams.

Then linking: `--inquiries` inquiries naming orders that are not imported yet; an All Orders
report of those orders is imported (each batch links the inquiries of its orders), then
`--runs` times: the links are cleared, the table vacuumed, and `link_inquiries(account_id=...)`,
the catch-up for a whole account, runs alone in a transaction, its commit
included: the median of its seconds is the figure. Each run also prints how
many of the row updates PostgreSQL wrote as heap-only tuples (HOT: no index entry written).

Then deleting: `--runs` times, `--deletes` of those linked orders are deleted through
`services.order_deletion.delete_orders` in a transaction, its commit included (the median of
its seconds), and once more the same number with the foreign key of before migration 0056 put
back for that run (`NOT VALID`, as it was checked: DEFERRABLE INITIALLY DEFERRED), so each
deleted order is checked against the whole inquiry table at the commit.

`--part import` or `--part link` runs one of the two (both by default; `link` includes the
deleting).

Everything runs in a throwaway database; the children publish no Celery tasks.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import resource
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from tempfile import TemporaryDirectory

from _setup import describe_database, median, no_broker, run_child, throwaway_database
from django.db import connection, transaction


def columns(text: str) -> list[str]:
    return text.split()


ORDER_COLUMNS = columns(
    "amazon-order-id merchant-order-id purchase-date last-updated-date order-status fulfillment-channel "
    "sales-channel order-channel ship-service-level product-name sku asin item-status quantity currency "
    "item-price item-tax shipping-price shipping-tax gift-wrap-price gift-wrap-tax item-promotion-discount "
    "ship-promotion-discount ship-city ship-state ship-postal-code ship-country promotion-ids cpf "
    "is-business-order purchase-order-number price-designation"
)
SHIPMENT_COLUMNS = columns(
    "amazon-order-id merchant-order-id shipment-id shipment-item-id amazon-order-item-id "
    "merchant-order-item-id purchase-date payments-date shipment-date reporting-date buyer-email buyer-name "
    "buyer-phone-number sku product-name quantity-shipped currency item-price item-tax shipping-price "
    "shipping-tax gift-wrap-price gift-wrap-tax ship-service-level recipient-name ship-address-1 "
    "ship-address-2 ship-address-3 ship-city ship-state ship-postal-code ship-country ship-phone-number "
    "bill-address-1 bill-address-2 bill-address-3 bill-city bill-state bill-postal-code bill-country "
    "item-promotion-discount ship-promotion-discount carrier tracking-number estimated-arrival-date "
    "fulfillment-center-id fulfillment-channel sales-channel"
)
PRODUCTS = [f"SKU-{n:04d}" for n in range(2000)]


def tsv_row(columns: list[str], values: dict[str, str]) -> str:
    return "\t".join(values.get(column, "") for column in columns) + "\n"


def order_id(prefix: int, n: int) -> str:
    return f"{prefix:03d}-{n:07d}-{n % 9973:07d}"


def write_reports(folder: Path, lines: int, *, prefix: int, seed: int) -> tuple[Path, Path]:
    """An All Orders report of `lines` lines and the shipments report of the same lines."""
    rng = random.Random(seed)
    orders_path, shipments_path = folder / f"orders-{prefix}.txt", folder / f"shipments-{prefix}.txt"
    with orders_path.open("w") as orders, shipments_path.open("w") as shipments:
        orders.write("\t".join(ORDER_COLUMNS) + "\n")
        shipments.write("\t".join(SHIPMENT_COLUMNS) + "\n")
        written, n = 0, 0
        while written < lines:
            n += 1
            oid = order_id(prefix, n)
            day, minute = 1 + n % 28, n % 1440
            purchased = f"2026-03-{day:02d}T{minute // 60:02d}:{minute % 60:02d}:00+00:00"
            shipped = f"2026-03-{day:02d}T23:30:00+00:00"
            fba = n % 3 != 0
            status = "Shipped" if fba or n % 7 else "Unshipped"
            for sku in rng.sample(PRODUCTS, min(1 + rng.randrange(4), lines - written)):
                quantity = 1 + rng.randrange(3)
                item = Item(
                    oid=oid,
                    sku=sku,
                    title=f'Product {sku} "deluxe" 12" — édition ☕',
                    quantity=quantity,
                    price=f"{quantity * (5 + rng.randrange(9500) / 100):.2f}",
                    purchased=purchased,
                    shipped=shipped,
                )
                orders.write(order_line(item, status=status, fba=fba))
                shipments.write(shipment_line(item, prefix=prefix, n=n, day=day))
                written += 1
    return orders_path, shipments_path


@dataclass(frozen=True)
class Item:
    """One line of an order, as both reports show it."""

    oid: str
    sku: str
    title: str
    quantity: int
    price: str
    purchased: str
    shipped: str


def order_line(item: Item, *, status: str, fba: bool) -> str:
    """The item's line in the All Orders report."""
    return tsv_row(
        ORDER_COLUMNS,
        {
            "amazon-order-id": item.oid,
            "purchase-date": item.purchased,
            "last-updated-date": item.shipped,
            "order-status": status,
            "fulfillment-channel": "Amazon" if fba else "Merchant",
            "sales-channel": "Amazon.com",
            "ship-service-level": "Standard",
            "product-name": item.title,
            "sku": item.sku,
            "asin": f"B0{item.sku[-4:]}XYZ1",
            "item-status": status,
            "quantity": str(item.quantity),
            "currency": "USD",
            "item-price": item.price,
            "ship-city": "Seattle",
            "ship-state": "WA",
            "ship-postal-code": "98101",
            "ship-country": "US",
        },
    )


def shipment_line(item: Item, *, prefix: int, n: int, day: int) -> str:
    """The item's line in the shipments report: order `n` of the report numbered `prefix`."""
    return tsv_row(
        SHIPMENT_COLUMNS,
        {
            "amazon-order-id": item.oid,
            "shipment-id": f"S{prefix}{n}",
            "purchase-date": item.purchased,
            "shipment-date": item.shipped,
            "sku": item.sku,
            "product-name": item.title,
            "quantity-shipped": str(item.quantity),
            "currency": "USD",
            "item-price": item.price,
            "ship-service-level": "Standard",
            "carrier": "AMZN_US",
            "tracking-number": f"TBA{prefix}{n:09d}",
            "estimated-arrival-date": f"2026-04-{day:02d}T20:00:00+00:00",
            "fulfillment-center-id": "SEA8",
            "fulfillment-channel": "Amazon",
            "sales-channel": "Amazon.com",
        },
    )


def child_import(path: str, account: int, fmt: str) -> None:
    """Run in a child process: one import_orders, its time, CPU, peak memory and counts as JSON."""
    from django.core.management import call_command

    def cpu() -> float:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return usage.ru_utime + usage.ru_stime

    out = io.StringIO()
    backend = backend_cpu_reader()
    started, cpu_started, backend_started = time.perf_counter(), cpu(), backend()
    call_command("import_orders", path, "--account", str(account), "--format", fmt, stdout=out)
    elapsed = time.perf_counter() - started
    backend_seconds = backend()
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        json.dumps(
            {
                "seconds": elapsed,
                "cpu_seconds": cpu() - cpu_started,
                "peak_mb": peak_mb,
                "summary": out.getvalue(),
                "backend_cpu_seconds": (
                    None
                    if backend_seconds is None or backend_started is None
                    else backend_seconds - backend_started
                ),
            }
        )
    )


def backend_cpu_reader() -> Callable[[], float | None]:
    """A reader of the CPU seconds (user + system) of this connection's PostgreSQL backend so
    far, from /proc: None when the server runs elsewhere (another machine, another container)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        process = Path(f"/proc/{cursor.fetchone()[0]}")
    ticks = os.sysconf("SC_CLK_TCK")

    def read() -> float | None:
        try:
            # A process of that number here that is no postgres is another machine's backend.
            if not (process / "comm").read_text().startswith("postgres"):
                return None
            fields = (process / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            return None
        return (int(fields[11]) + int(fields[12])) / ticks  # utime, stime (proc(5), after the name)

    return read


def run_import(path: Path, account: int, fmt: str) -> dict:
    return run_child(__file__, "--child", str(path), "--account", str(account), "--format", fmt)


def new_account(name: str) -> int:
    from inquiries.models import Account, Marketplace

    return Account.objects.create(name=name, marketplace=Marketplace.AMAZON).pk


def import_both(folder: Path, lines: int, prefix: int) -> tuple[dict, dict]:
    orders_path, shipments_path = write_reports(folder, lines, prefix=prefix, seed=prefix)
    account = new_account(f"Bench {prefix}")
    orders = run_import(orders_path, account, "amazon-all-orders")
    shipments = run_import(shipments_path, account, "amazon-fba-shipments")
    orders_path.unlink()
    shipments_path.unlink()
    return orders, shipments


def bench_imports(args: argparse.Namespace, folder: Path) -> None:
    def per_100k(child: dict) -> float:
        """The child's user+sys CPU per 100,000 lines: steadier than wall time on a busy machine."""
        return child["cpu_seconds"] * 100_000 / args.lines

    def backend(child: dict) -> str:
        """Its PostgreSQL backend's CPU per 100,000 lines, when it can be read."""
        seconds = child.get("backend_cpu_seconds")
        return "" if seconds is None else f", PostgreSQL {seconds * 100_000 / args.lines:.2f} s"

    both, order_rates, shipment_rates, peaks = [], [], [], []
    for run in range(args.runs):
        orders, shipments = import_both(folder, args.lines, prefix=100 + run)
        both.append(args.lines / (orders["seconds"] + shipments["seconds"]))
        order_rates.append(args.lines / orders["seconds"])
        shipment_rates.append(args.lines / shipments["seconds"])
        peaks.append(max(orders["peak_mb"], shipments["peak_mb"]))
        print(
            f"  run {run + 1}: {both[-1]:,.0f} lines with shipments/s (All Orders {order_rates[-1]:,.0f}/s, "
            f"CPU {orders['cpu_seconds']:.1f} s = {per_100k(orders):.2f} s per 100,000 lines{backend(orders)}, "
            f"peak RSS {orders['peak_mb']:.0f} MB; shipments {shipment_rates[-1]:,.0f}/s, CPU "
            f"{shipments['cpu_seconds']:.1f} s = {per_100k(shipments):.2f} s per 100,000{backend(shipments)}, peak RSS "
            f"{shipments['peak_mb']:.0f} MB); load average {os.getloadavg()[0]:.1f}",
            flush=True,
        )
        print(f"    {orders['summary'].strip()}\n    {shipments['summary'].strip()}", flush=True)
    small_orders, small_shipments = import_both(folder, max(1, args.lines // 10), prefix=199)
    print(
        f"import: median {median(both):,.0f} order lines with their shipments per second (target >= 20,000): "
        f"All Orders {median(order_rates):,.0f} lines/s, shipments {median(shipment_rates):,.0f} rows/s; "
        f"peak RSS median {median(peaks):.0f} MB at {args.lines:,} lines, "
        f"{max(small_orders['peak_mb'], small_shipments['peak_mb']):.0f} MB at {max(1, args.lines // 10):,}"
    )


def bench_linking(args: argparse.Namespace, folder: Path) -> int:
    from inquiries.models import Channel, Customer, Inquiry
    from inquiries.services.orders import link_inquiries

    account = new_account("Bench linking")
    channel = Channel.objects.create(account_id=account, slug="bench-link", name="bench")
    customer = Customer.objects.create(account_id=account, address="buyer@example.com")
    prefix = 300
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO inquiries_inquiry (account_id, channel_id, customer_id, subject, status, priority,
                topic_source, order_id, sku, thread_key, opened_at, created_at, updated_at)
            SELECT %(account)s, %(channel)s, %(customer)s, 'Where is my order?', 'open', 'normal', '',
                   lpad(%(prefix)s::text, 3, '0') || '-' || lpad(g::text, 7, '0') || '-'
                       || lpad((g %% 9973)::text, 7, '0'),
                   '', '', now(), now(), now()
            FROM generate_series(1, %(n)s) AS g
            """,
            {
                "account": account,
                "channel": channel.pk,
                "customer": customer.pk,
                "prefix": prefix,
                "n": args.inquiries,
            },
        )
        cursor.execute("ANALYZE inquiries_inquiry")
    assert Inquiry.objects.filter(order_id=order_id(prefix, 1)).exists()
    orders_path = folder / "linking.txt"
    with orders_path.open("w") as out:
        out.write("amazon-order-id\tpurchase-date\torder-status\tfulfillment-channel\tsku\tquantity\n")
        for n in range(1, args.inquiries + 1):
            out.write(f"{order_id(prefix, n)}\t2026-03-01T10:00:00+00:00\tShipped\tAmazon\tSKU-1\t1\n")
    imported = run_import(orders_path, account, "amazon-all-orders")
    linked_by_import = Inquiry.objects.filter(account_id=account, linked_order__isnull=False).count()
    runs = []
    for run in range(args.runs):
        Inquiry.objects.filter(account_id=account).update(linked_order=None)
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE inquiries_inquiry")
        started = time.perf_counter()
        with transaction.atomic():  # committed inside the timing
            linked = link_inquiries(account_id=account)
            hot = heap_only_updates()
        runs.append(time.perf_counter() - started)
        print(
            f"  link run {run + 1}: {linked:,} linked in {runs[-1]:.2f} s, {hot:,} of the row updates heap-only "
            f"(no index written); load average {os.getloadavg()[0]:.1f}",
            flush=True,
        )
    print(
        f"linking: {linked:,} inquiries linked to their orders after the fact in {median(runs):.2f} s (median of "
        f"{len(runs)}), one UPDATE (target <= 10 s); an All Orders import of their {args.inquiries:,} orders, "
        f"which links them batch by batch ({linked_by_import:,} linked), took {imported['seconds']:.1f} s"
    )
    return account


FOREIGN_KEY = (
    "ALTER TABLE inquiries_inquiry ADD CONSTRAINT bench_linked_order_fk FOREIGN KEY (linked_order_id) "
    "REFERENCES inquiries_order (id) DEFERRABLE INITIALLY DEFERRED NOT VALID"
)


def timed_delete(account: int, count: int, *, with_foreign_key: bool) -> tuple[float, int]:
    """Seconds to delete `count` linked orders of the account, commit included; orders deleted."""
    from inquiries.models import Inquiry, Order
    from inquiries.services.order_deletion import delete_orders

    linked = Inquiry.objects.filter(account_id=account, linked_order__isnull=False)
    pks = list(linked.order_by("linked_order_id").values_list("linked_order_id", flat=True)[:count])
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE inquiries_inquiry")
        if with_foreign_key:
            cursor.execute(FOREIGN_KEY)
    started = time.perf_counter()
    with transaction.atomic():
        deleted = delete_orders(orders=Order.objects.filter(pk__in=pks))
    seconds = time.perf_counter() - started
    if with_foreign_key:
        with connection.cursor() as cursor:
            cursor.execute("ALTER TABLE inquiries_inquiry DROP CONSTRAINT bench_linked_order_fk")
    assert not Inquiry.objects.filter(linked_order_id__in=pks).exists()
    return seconds, deleted


def bench_deleting(args: argparse.Namespace, account: int) -> None:
    from inquiries.models import Inquiry

    rows = Inquiry.objects.count()
    runs = []
    for run in range(args.runs):
        seconds, deleted = timed_delete(account, args.deletes, with_foreign_key=False)
        runs.append(seconds)
        print(
            f"  delete run {run + 1}: {deleted:,} orders in {seconds:.3f} s; load average {os.getloadavg()[0]:.1f}"
        )
    before, deleted = timed_delete(account, args.deletes, with_foreign_key=True)
    print(
        f"deleting: {args.deletes:,} linked orders (of an inquiry table of {rows:,} rows) deleted and their "
        f"inquiries unlinked in {median(runs):.3f} s (median of {len(runs)}), commit included; with the "
        f"foreign key of before migration 0056: {before:.1f} s (one run)"
    )


def heap_only_updates() -> int:
    """The inquiry rows this transaction updated as heap-only tuples (HOT: no index entry)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT n_tup_hot_upd FROM pg_stat_xact_user_tables WHERE relname = %s", ["inquiries_inquiry"]
        )
        row = cursor.fetchone()
        return int(row[0]) if row else 0


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--lines", type=int, default=1_000_000, help="order lines per run")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--inquiries", type=int, default=100_000, help="inquiries to link")
    parser.add_argument("--deletes", type=int, default=2_000, help="linked orders deleted per run")
    parser.add_argument("--part", choices=["import", "link"], help="run only the imports or only the linking")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--account", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--format", help=argparse.SUPPRESS)
    args = parser.parse_args()
    no_broker()
    if args.child:
        child_import(args.child, args.account, args.format)
        return
    if connection.vendor != "postgresql":
        sys.exit("bench/orders.py measures PostgreSQL: set DATABASE_URL=postgres://...")
    with throwaway_database(), TemporaryDirectory() as tmp:
        print(
            f"{describe_database()}; {args.lines:,} order lines per run, {args.runs} runs; "
            f"load average {os.getloadavg()[0]:.2f}",
            flush=True,
        )
        if args.part != "link":
            bench_imports(args, Path(tmp))
        if args.part != "import":
            bench_deleting(args, bench_linking(args, Path(tmp)))


if __name__ == "__main__":
    main()
