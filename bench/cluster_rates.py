"""The rate clusters' sweep step for one account with 1,000,000 orders (issue 21, point 5).

    DATABASE_URL=postgres://... python bench/cluster_rates.py [--orders 1000000] [--runs 3]

Builds, in a throwaway database and with set-based SQL, the orders of `bench/health.py` (over 90
days, one UPS package each, feedback on 10%, a 1-star rating on 0.5%) plus one line per order
over 2,000 SKUs (1-3 units), a return on 2% (half of them "DEFECTIVE"), and a complaint inquiry
linked to every 20th order, opened five days after it. Then times `sweep_rates` (every SKU's
complaints per unit sold and every route's delivery complaints per shipment, over 30 days, with
the clusters it opens or refreshes), printing the median, the queries per run and the clusters.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from datetime import timedelta

from _setup import describe_database, median, no_broker, throwaway_database
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from health import build_orders, insert_select

from inquiries.models import (
    Account,
    Channel,
    Cluster,
    Customer,
    Inquiry,
    Marketplace,
    Order,
    OrderLine,
    Return,
    Topic,
)
from inquiries.services.cluster_rates import sweep_rates


def build(orders: int) -> Account:
    account = Account.objects.create(name="Bench on Amazon", marketplace=Marketplace.AMAZON, timezone="UTC")
    channel = Channel.objects.create(account=account, slug="bench", name="Bench")
    now = timezone.now()
    build_orders(account, orders, now)
    mine = f"{Order._meta.db_table} o WHERE o.account_id = %s"
    insert_select(
        OrderLine,
        {
            "order_id": ("o.id", []),
            "sku": ("'SKU-' || (o.id % 2000)", []),
            "quantity": ("1 + o.id % 3", []),
        },
        mine,
        [account.pk],
    )
    insert_select(
        Return,
        {
            "order_id": ("o.id", []),
            "external_id": ("'R' || o.id", []),
            "sku": ("'SKU-' || (o.id % 2000)", []),
            "reason_code": ("CASE WHEN o.id % 100 = 3 THEN 'DEFECTIVE' ELSE 'UNWANTED_ITEM' END", []),
            "buyer_comment": ("'the handle broke'", []),
            "requested_at": ("o.purchased_at + interval '10 days'", []),
        },
        mine + " AND o.id % 50 = 3",
        [account.pk],
    )
    customer = Customer.objects.create(account=account, address="buyer@example.com")
    topics = list(Topic.objects.filter(is_complaint=True).values_list("pk", flat=True))
    topic_array = f"ARRAY[{','.join(str(int(t)) for t in topics)}]::bigint[]"
    insert_select(
        Inquiry,
        {
            "account_id": ("%s", [account.pk]),
            "channel_id": ("%s", [channel.pk]),
            "customer_id": ("%s", [customer.pk]),
            "subject": ("'It arrived broken'", []),
            "status": ("'open'", []),
            "topic_id": (f"({topic_array})[1 + (o.id % {len(topics)})]", []),
            "order_id": ("o.marketplace_order_id", []),
            "linked_order_id": ("o.id", []),
            "opened_at": ("o.purchased_at + interval '5 days'", []),
            "created_at": ("%s", [now]),
            "updated_at": ("%s", [now]),
        },
        mine + " AND o.id % 20 = 0",
        [account.pk],
    )
    with connection.cursor() as cursor:
        for model in (Order, OrderLine, Return, Inquiry):
            cursor.execute(f"VACUUM ANALYZE {model._meta.db_table}")
    return account


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument(
        "--keep", action="store_true", help="keep the database (named bench_rates) afterwards"
    )
    args = parser.parse_args()
    if connection.vendor != "postgresql":
        sys.exit("bench/cluster_rates.py measures PostgreSQL: set DATABASE_URL=postgres://...")
    no_broker()
    name = "bench_rates" if args.keep else f"bench_rates_{os.getpid()}"
    connection.settings_dict.setdefault("TEST", {})["NAME"] = name
    with throwaway_database(keep=args.keep):
        began = time.perf_counter()
        account = build(args.orders)
        print(
            f"{describe_database()}: built {Order.objects.filter(account=account).count():,} orders, "
            f"{Inquiry.objects.filter(account=account).count():,} linked complaints, "
            f"{Return.objects.filter(order__account=account).count():,} returns "
            f"in {time.perf_counter() - began:.1f} s"
        )
        now = timezone.now() - timedelta(days=1)
        walls, queries = [], []
        for _ in range(args.runs):
            with CaptureQueriesContext(connection) as captured:
                started = time.perf_counter()
                result = sweep_rates(now=now)
                walls.append(time.perf_counter() - started)
            queries.append(len(captured))
        print(
            f"sweep_rates over 30 days: median {median(walls) * 1000:.0f} ms over {args.runs} runs "
            f"(first {walls[0] * 1000:.0f} ms), queries per run {queries}; "
            f"last run opened {result.opened}, refreshed {result.refreshed}; "
            f"active rate clusters {Cluster.objects.active().count()}"
        )
        print(f"load average: {' '.join(f'{v:.2f}' for v in os.getloadavg())} on {os.cpu_count()} CPUs")


if __name__ == "__main__":
    main()
