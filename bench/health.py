"""Benchmark one account's full health as of now, with 1,000,000 messages and 1,000,000 orders.

Builds, in a throwaway PostgreSQL database, one Amazon account with two channels,
customers, 250,000 inquiries, 90 days of order volumes and 1,000,000 messages, all written
by INSERT ... SELECT generate_series (no Python loop over rows): customer messages
answered on time, answered late, unanswered, marked "no response needed", automatic
mail, agent replies and internal notes; and 1,000,000 orders over the same 90 days with one
package each, feedback, A-to-z claims and seller cancellations (`--orders`). Then it times
`account_health_with_orders(account, now)` (every message metric, the reasons, the rescue
list and the marketplace's metrics from orders with the orders behind them) five times and
prints the median, with the number of queries; then the order metrics alone. No fact is stored
after the instant of the build. The order metrics are read from their daily rollup, built
first (its time printed), and checked equal to the live computation; `--live` counts them live.
It also checks that the orders listed under each metric are the first of its whole list, and
that the response times equal PostgreSQL's percentile_cont and avg over the answer intervals.

Run: DATABASE_URL=postgres://postgres@127.0.0.1:5432/cstracker .venv/bin/python bench/health.py
     [--messages 1000000] [--orders 1000000] [--runs 5] [--explain] [--slowest N] [--live] [--keep]
Target: median at most 500 ms. Printed: wall time (median of the runs), the CPU time of this
process plus the database backend (what an idle machine would need), and the query count.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from _setup import describe_database, median, throwaway_database
from django.db import connection
from django.db.models import Count, DurationField, ExpressionWrapper, F, Model, Q
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from inquiries.health.scoring import HealthReport
from inquiries.models import (
    Account,
    Cancellation,
    Channel,
    Claim,
    Customer,
    Feedback,
    Inquiry,
    Marketplace,
    Message,
    Order,
    OrderRollupState,
    OrderVolume,
    Shipment,
    Topic,
)
from inquiries.selectors.health.metrics import (
    QUESTION_BEFORE_DELIVERY_TOPIC,
    RESPONSE_TIME_DAYS,
    _complaints,
    planner_settings,
    rules_for,
    with_deadline,
)
from inquiries.selectors.health.order_metrics import (
    FAILING_LIST,
    AccountHealth,
    _failing_rows,
    account_health_with_orders,
    marketplace_figures,
)
from inquiries.services.order_rollup import rebuild, stale_accounts

DAYS = 90
BENCH_ACCOUNT = "Bench on Amazon"
MESSAGES_PER_INQUIRY = 4  # two customer messages, a reply and one more (reply, note or automatic)


def insert_select(
    model: type[Model], expressions: dict[str, tuple[str, list[Any]]], source: str, source_params: list[Any]
) -> None:
    """INSERT INTO model (every column) SELECT ... FROM source: given expressions, else the field default.

    Each expression carries its own parameters, so the column order of the model decides nothing.
    """
    columns: list[str] = []
    selects: list[str] = []
    params: list[Any] = []
    for field in model._meta.concrete_fields:
        if field.primary_key:
            continue
        columns.append(connection.ops.quote_name(field.column))
        if field.column in expressions:
            sql, values = expressions[field.column]
            selects.append(sql.replace(" % ", " %% "))
            params.extend(values)
        else:
            default = field.get_default()
            selects.append("%s")
            params.append(json.dumps(default) if field.get_internal_type() == "JSONField" else default)
    sql = (
        f"INSERT INTO {model._meta.db_table} ({', '.join(columns)}) "
        f"SELECT {', '.join(selects)} FROM {source.replace(' % ', ' %% ')}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, *source_params])


def build_orders(account: Account, orders: int, now: datetime) -> None:
    """`orders` orders over the last 90 days, 70% shipped by the seller; one package each.

    3% shipped after their ship-by date, 2% without tracking, 4% delivered after the promised
    date; feedback on 10% (a twentieth of it 1 star: 0.5% of orders), an A-to-z claim on 0.2%,
    a seller cancellation before shipping on 1%.
    """
    start = now - timedelta(days=DAYS)
    insert_select(
        Order,
        {
            "account_id": ("%s", [account.pk]),
            "marketplace_order_id": ("'114-' || lpad(g::text, 7, '0') || '-0000000'", []),
            "purchased_at": ("%s + (g::float / %s) * interval '90 days'", [start, orders]),
            "ship_by": ("%s + (g::float / %s) * interval '90 days' + interval '2 days'", [start, orders]),
            "deliver_by": ("%s + (g::float / %s) * interval '90 days' + interval '6 days'", [start, orders]),
            "status": ("CASE WHEN g % 100 = 3 THEN 'cancelled' ELSE 'shipped' END", []),
            "fulfilment_channel": ("CASE WHEN g % 10 < 7 THEN 'merchant' ELSE 'marketplace' END", []),
            "updated_at": ("%s", [now]),
        },
        "generate_series(0, %s - 1) AS g",
        [orders],
    )
    build_shipments(account)
    build_order_outcomes(account)
    forget_the_future(account, now)


def forget_the_future(account: Account, now: datetime) -> None:
    """No fact is stored before it happened: packages not shipped by now are not on file,
    deliveries after now not made, feedback, claims and cancellations after now not given yet
    (as the messages' answers after now are not stored)."""
    mine = f"order_id IN (SELECT id FROM {Order._meta.db_table} WHERE account_id = %s)"
    with connection.cursor() as cursor:
        for model, column in (
            (Shipment, "shipped_at"),
            (Feedback, "left_at"),
            (Claim, "opened_at"),
            (Cancellation, "at"),
        ):
            cursor.execute(
                f"DELETE FROM {model._meta.db_table} WHERE {mine} AND {column} > %s", [account.pk, now]
            )
        cursor.execute(
            f"UPDATE {Shipment._meta.db_table} SET delivered_at = NULL WHERE {mine} AND delivered_at > %s",
            [account.pk, now],
        )


def _orders_of(account: Account) -> str:
    return f"{Order._meta.db_table} o WHERE o.account_id = %s"


def build_shipments(account: Account) -> None:
    """One package per order not cancelled: 3% shipped late, 2% untracked, 4% delivered late."""
    mine = _orders_of(account)
    insert_select(
        Shipment,
        {
            "order_id": ("o.id", []),
            "shipment_id": ("'S' || o.id", []),
            "carrier": ("'UPS'", []),
            "tracking_number": ("CASE WHEN o.id % 50 = 1 THEN '' ELSE '1Z' || o.id END", []),
            "shipped_at": (
                "CASE WHEN o.id % 33 = 0 THEN o.ship_by + interval '5 hours' ELSE o.ship_by - interval '30 hours' END",
                [],
            ),
            "delivered_at": (
                "CASE WHEN o.id % 25 = 0 THEN o.deliver_by + interval '1 day' "
                "ELSE o.deliver_by - interval '2 days' END",
                [],
            ),
        },
        mine + " AND o.status <> 'cancelled'",
        [account.pk],
    )


def build_order_outcomes(account: Account) -> None:
    """Feedback on 10% of orders (0.5% of orders 1 star), A-to-z claims on 0.2%, and the
    seller's cancellations."""
    mine = _orders_of(account)
    insert_select(
        Feedback,
        {
            "order_id": ("o.id", []),
            "rating": ("CASE WHEN o.id % 200 = 0 THEN 1 ELSE 5 END", []),
            "polarity": ("CASE WHEN o.id % 200 = 0 THEN 'negative' ELSE 'positive' END", []),
            "left_at": ("o.purchased_at + interval '8 days'", []),
        },
        mine + " AND o.id % 10 = 0",
        [account.pk],
    )
    insert_select(
        Claim,
        {
            "order_id": ("o.id", []),
            "kind": ("'guarantee'", []),
            "opened_at": ("o.purchased_at + interval '9 days'", []),
        },
        mine + " AND o.id % 500 = 7",
        [account.pk],
    )
    insert_select(
        Cancellation,
        {
            "order_id": ("o.id", []),
            "cancelled_by": ("'seller'", []),
            "at": ("o.purchased_at + interval '1 hour'", []),
        },
        mine + " AND o.status = 'cancelled'",
        [account.pk],
    )


def build(messages: int, orders: int) -> Account:
    account = Account.objects.create(name=BENCH_ACCOUNT, marketplace=Marketplace.AMAZON, timezone="UTC")
    one, two = (Channel.objects.create(account=account, slug=f"bench-{n}", name=f"Bench {n}") for n in (1, 2))
    inquiries = messages // MESSAGES_PER_INQUIRY
    now = timezone.now()
    first_inquiry = build_inquiries(account, (one, two), inquiries, now)
    build_messages((one, two), first_inquiry, inquiries, messages, now)
    build_order_volumes(account, now)
    build_orders(account, orders, now)
    with connection.cursor() as cursor:
        for model in (Message, Inquiry, Customer, Order, Shipment, Feedback, Claim, Cancellation):
            cursor.execute(f"VACUUM ANALYZE {model._meta.db_table}")
    return account


def build_inquiries(
    account: Account, channels: tuple[Channel, Channel], inquiries: int, now: datetime
) -> int:
    """A customer for every three inquiries, and the inquiries over 90 days, 40% with a complaint
    topic; returns the first inquiry's id."""
    one, two = channels
    customers = max(1, inquiries // 3)
    start = now - timedelta(days=DAYS)
    topics = list(Topic.objects.filter(is_complaint=True).values_list("pk", flat=True))
    # 40% of inquiries carry a complaint topic: indexes past the array's end give NULL.
    topic_array = f"ARRAY[{','.join(str(int(t)) for t in topics) or 'NULL'}]::bigint[]"
    topic_spread = max(1, round(len(topics) / 0.4))

    insert_select(
        Customer,
        {
            "account_id": ("%s", [account.pk]),
            "address": ("'buyer' || g || '@example.com'", []),
            "name": ("'Buyer ' || g", []),
            "created_at": ("%s", [start]),
        },
        "generate_series(1, %s) AS g",
        [customers],
    )
    first_customer = Customer.objects.filter(account=account).order_by("pk").values_list("pk", flat=True)[0]
    insert_select(
        Inquiry,
        {
            "account_id": ("%s", [account.pk]),
            "channel_id": ("CASE WHEN g % 2 = 1 THEN %s ELSE %s END", [two.pk, one.pk]),
            "customer_id": ("%s + (g % %s)", [first_customer, customers]),
            "subject": ("'Order question ' || g", []),
            "status": ("CASE WHEN g % 5 = 0 THEN 'solved' ELSE 'open' END", []),
            "topic_id": (f"({topic_array})[1 + (g % {topic_spread})]", []),
            "order_id": ("CASE WHEN g % 5 < 3 THEN 'ORD-' || g ELSE '' END", []),
            "opened_at": ("%s + (g::float / %s) * interval '90 days'", [start, inquiries]),
            "created_at": ("%s", [now]),
            "updated_at": ("%s", [now]),
        },
        "generate_series(0, %s - 1) AS g",
        [inquiries],
    )
    return Inquiry.objects.filter(account=account).order_by("pk").values_list("pk", flat=True)[0]


def build_messages(
    channels: tuple[Channel, Channel], first_inquiry: int, inquiries: int, messages: int, now: datetime
) -> None:
    """`messages` messages, four per inquiry; what each is follows from its number."""
    one, two = channels
    start = now - timedelta(days=DAYS)
    # Message g belongs to inquiry g / 4; its slot (g % 4) decides what it is:
    #   0: the opening customer message, 1: a follow-up customer message,
    #   2: the agent's reply, 3: a second reply (60%), a note (20%) or automatic mail (20%).
    # Customer messages (h spreads them evenly): 88% answered within 20 h, 7% answered
    # 24 to 72 h late, 1% unanswered, 4% "no response needed"; an answer that would fall
    # after now is not stored yet, so the last day holds pending messages.
    delay = (
        "CASE WHEN h % 100 < 88 THEN (h % 1200) * interval '1 minute' "
        "WHEN h % 100 < 95 THEN interval '24 hours' + (h % 2880) * interval '1 minute' END"
    )
    inbound = "g % 4 < 2 OR (g % 4 = 3 AND g % 20 >= 16)"
    needs_answer = "g % 4 < 2 AND h % 100 < 96"
    source = (
        "(SELECT g, (g::bigint * 7919) % 1000003 AS h, "
        "%s + ((g / 4)::float / %s) * interval '90 days' + (g % 4) * interval '2 hours' AS received "
        "FROM generate_series(0, %s - 1) AS g) AS s"
    )
    insert_select(
        Message,
        {
            "channel_id": ("CASE WHEN (g / 4) % 2 = 1 THEN %s ELSE %s END", [two.pk, one.pk]),
            "inquiry_id": ("%s + g / 4", [first_inquiry]),
            "direction": (
                f"CASE WHEN {inbound} THEN 'inbound' WHEN g % 4 = 3 AND g % 20 >= 12 THEN 'note' "
                "ELSE 'outbound' END",
                [],
            ),
            "automatic": ("(g % 4 = 3 AND g % 20 >= 16)", []),
            "automatic_reason": (
                "CASE WHEN g % 4 = 3 AND g % 20 >= 16 THEN 'Auto-Submitted' ELSE '' END",
                [],
            ),
            "external_id": ("'b-' || g", []),
            "sender_address": ("'buyer' || (g / 4) || '@example.com'", []),
            "subject": ("'Re: order ' || (g / 4)", []),
            "body_text": ("'Hello, about my order.'", []),
            "received_at": ("received", []),
            "order_id": ("CASE WHEN (g / 4) % 5 < 3 THEN 'ORD-' || (g / 4) ELSE '' END", []),
            "no_response_needed": ("(g % 4 < 2 AND h % 100 >= 96)", []),
            "answered_at": (
                f"CASE WHEN {needs_answer} AND received + ({delay}) <= %s THEN received + ({delay}) END",
                [now],
            ),
            "response_due_at": ("CASE WHEN g % 4 < 2 THEN received + interval '24 hours' END", []),
            "followed_up_at": ("received", []),
            "created_at": ("received", []),
        },
        source,
        [start, inquiries, messages],
    )


def build_order_volumes(account: Account, now: datetime) -> None:
    """A seller this size knows its orders: complaint rates are per 100 orders."""
    insert_select(
        OrderVolume,
        {
            "account_id": ("%s", [account.pk]),
            "date": ("(%s::date - g)", [now.date()]),
            "orders": ("4000 + (g * 37) % 900", []),
            "updated_at": ("%s", [now]),
        },
        "generate_series(0, %s) AS g",
        [DAYS],
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--explain", action="store_true", help="print the plan of every query of one run")
    parser.add_argument(
        "--keep",
        action="store_true",
        help="keep the database (<database>_bench_health_<messages>_<orders>) and reuse it when it exists: "
        "build once, measure often",
    )
    parser.add_argument("--slowest", type=int, default=0, help="print the N slowest queries of the last run")
    parser.add_argument(
        "--live", action="store_true", help="no order rollup: count the order metrics live (as before it)"
    )
    args = parser.parse_args()
    if connection.vendor != "postgresql":
        sys.exit("bench/health.py measures PostgreSQL: set DATABASE_URL=postgres://...")
    # A name of our own: never clobber the database a test run is using.
    # Prefixed with the configured database's name: sessions sharing a server do not clash.
    prefix = connection.settings_dict["NAME"]
    kept = f"{prefix}_bench_health_{args.messages}_{args.orders}"  # one kept database per size
    name = kept if args.keep else f"{prefix}_bench_health_{os.getpid()}"
    connection.settings_dict.setdefault("TEST", {})["NAME"] = name
    with throwaway_database(keep=args.keep):
        began = time.perf_counter()
        account = Account.objects.filter(name=BENCH_ACCOUNT).first() if args.keep else None
        account = account or build(args.messages, args.orders)
        built = time.perf_counter() - began
        stored = Message.objects.filter(channel__account=account).count()
        print(
            f"{describe_database()}: built {stored:,} messages, "
            f"{Inquiry.objects.filter(account=account).count():,} inquiries, "
            f"{Order.objects.filter(account=account).count():,} orders in {built:.1f} s"
        )
        if args.live:  # a kept database's rollup is not read: counted live
            OrderRollupState.objects.filter(pk=account.pk).update(timezone="")
        elif not args.keep or stale_accounts().filter(pk=account.pk).exists():
            began = time.perf_counter()
            rows = rebuild(account)
            print(f"order rollup built: {rows:,} rows in {time.perf_counter() - began:.1f} s")
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid(), current_setting('jit')")
            backend, jit = cursor.fetchone()
        # The computation turns JIT off for its own transaction (metrics.planner_settings).
        health, captured = measure(account, backend, args.runs, f"server jit={jit}")
        measure_orders(account, backend, args.runs)
        report = health.report
        if args.explain:
            explain(captured)
        slowest = sorted(captured.captured_queries, key=lambda q: -float(q["time"]))[: args.slowest]
        for query in slowest:
            print(f"  {float(query['time']) * 1000:7.1f} ms  {' '.join(query['sql'].split())[:160]}")
        if not args.live:
            same = same_as_live(account, health)
            print(f"order metrics from the rollup equal the live computation: {'yes' if same else 'NO'}")
        same = same_complaints(account, health.report.as_of)
        print(f"complaint counts equal a plain join of the inquiries: {'yes' if same else 'NO'}")
        same = same_lists(account, health)
        print(
            f"the failing orders listed equal the first of each metric's whole list: {'yes' if same else 'NO'}"
        )
        same = same_answer_times(account, health.report)
        print(f"response times equal percentile_cont and avg over the intervals: {'yes' if same else 'NO'}")
        print(
            f"status {health.status.value}; "
            + ", ".join(f"{f.key}={f.value:.4g}" for f in health.figures if f.value is not None)
            + "; "
            + ", ".join(f"{m.key}={m.value:.4g}" for m in report.metrics[:4] if m.value is not None)
        )
        print(f"rescue: {report.rescue[0].sentence if report.rescue else '-'}")
        print(
            f"load average while measuring: {' '.join(f'{v:.2f}' for v in os.getloadavg())} "
            f"on {os.cpu_count()} CPUs"
        )


def same_as_live(account: Account, health: AccountHealth) -> bool:
    """Whether the figures read from the rollup are the live computation's, at the same instant."""
    as_of = health.figures[0].counts.window_end if health.figures else timezone.now()
    state = OrderRollupState.objects.get(pk=account.pk)
    OrderRollupState.objects.filter(pk=account.pk).update(timezone="")  # not built: counted live
    try:
        live = marketplace_figures(account, as_of, at_risk_ratio=0.8)
    finally:
        OrderRollupState.objects.filter(pk=account.pk).update(timezone=state.timezone)
    rolled = marketplace_figures(account, as_of, at_risk_ratio=0.8)
    return [f.counts for f in live] == [f.counts for f in rolled]


def same_complaints(account: Account, as_of: datetime) -> bool:
    """Whether the complaint counts per topic (read through the index inquiry_complaint_topic)
    equal the same count written plainly: the inquiries joined to their topic and linked order."""
    rules = rules_for(account)
    start = as_of - timedelta(days=rules.complaint_window_days)
    topics, counted, orders = _complaints(account, as_of, rules)
    opened = Inquiry.objects.filter(account=account, opened_at__gte=start, opened_at__lt=as_of)
    if orders:  # as the computation: with order volumes (not all zero) only complaints count
        opened = opened.filter(topic__is_complaint=True)
    question = Q(topic__key=QUESTION_BEFORE_DELIVERY_TOPIC, linked_order__deliver_by__gt=F("opened_at"))
    rows = opened.values("topic__key").annotate(n=Count("pk"), questions=Count("pk", filter=question))
    plain = {row["topic__key"]: row["n"] - row["questions"] for row in rows}
    total = sum(row["n"] - (row["questions"] if orders is not None else 0) for row in rows)
    return all(t.complaints == plain.get(t.key, 0) for t in topics) and counted == total


def same_lists(account: Account, health: AccountHealth) -> bool:
    """Whether the orders listed under each failing metric are the first of the plain list: every
    row failing it in its whole window, matched through hashed subqueries, latest first."""
    for found in health.figures:
        counts = found.counts
        if counts.failing:
            plain = _failing_rows(account, found.definition, counts.window_start, counts.window_end)
            listed = [(o.order_id, o.marketplace_order_id) for o in counts.orders]
            if listed != list(plain[:FAILING_LIST]):
                return False
    return True


def same_answer_times(account: Account, report: HealthReport) -> bool:
    """Whether the response-time median, 90th percentile and mean equal PostgreSQL's own
    percentile_cont and avg over the answer intervals (to the microsecond)."""
    as_of = report.as_of
    answered = with_deadline(account.pk).filter(
        received_at__gte=as_of - timedelta(days=RESPONSE_TIME_DAYS),
        received_at__lt=as_of,
        answered_at__lte=as_of,
    )
    took = ExpressionWrapper(F("answered_at") - F("received_at"), output_field=DurationField())
    inner, params = answered.annotate(took=took).order_by().values("took").query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT percentile_cont(ARRAY[0.5, 0.9]) WITHIN GROUP (ORDER BY took), avg(took) "
            f"FROM ({inner}) AS answered",
            params,
        )
        (p50, p90), mean = cursor.fetchone()
    figures = [report.metric(f"response_time_{key}_seconds") for key in ("p50", "p90", "mean")]
    return all(
        f is not None and f.value is not None and abs(f.value - plain.total_seconds()) <= 1e-6
        for f, plain in zip(figures, (p50, p90, mean), strict=True)
    )


def cpu_seconds(pid: int) -> float:
    """CPU time of a process on this machine (user + system), from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(
    account: Account, backend: int, runs: int, label: str
) -> tuple[AccountHealth, CaptureQueriesContext]:
    """Median wall time of `runs` computations, and the CPU they cost (this process + the backend).

    On a busy machine wall time includes waiting for a CPU; the CPU time does not, and is
    what an idle machine would take without parallel workers (their CPU is not counted).
    """
    account_health_with_orders(account, timezone.now())  # warm the caches the first run would pay for
    walls, cpus = [], []
    local = Path(f"/proc/{backend}/stat").exists()
    for _ in range(runs):
        with CaptureQueriesContext(connection) as captured:
            cpu = time.process_time() + (cpu_seconds(backend) if local else 0)
            began = time.perf_counter()
            health = account_health_with_orders(account, timezone.now())
            walls.append(time.perf_counter() - began)
            cpus.append(time.process_time() + (cpu_seconds(backend) if local else 0) - cpu)
    cpu_text = f"; CPU median {median(cpus) * 1000:.0f} ms" if local else ""
    print(
        f"account_health_with_orders as of now, {label}: median {median(walls) * 1000:.0f} ms over {runs} runs "
        f"(min {min(walls) * 1000:.0f}, max {max(walls) * 1000:.0f}){cpu_text}, {len(captured)} queries; "
        "target 500 ms"
    )
    return health, captured


def measure_orders(account: Account, backend: int, runs: int) -> None:
    """The marketplace metrics from orders alone (the rollup, or live with --live): median wall
    and CPU of `runs` computations, in the health computation's transaction settings."""
    walls, cpus = [], []
    local = Path(f"/proc/{backend}/stat").exists()
    for _ in range(runs):
        cpu = time.process_time() + (cpu_seconds(backend) if local else 0)
        began = time.perf_counter()
        with planner_settings(), CaptureQueriesContext(connection) as captured:
            marketplace_figures(account, timezone.now(), at_risk_ratio=0.8)
        walls.append(time.perf_counter() - began)
        cpus.append(time.process_time() + (cpu_seconds(backend) if local else 0) - cpu)
    print(
        f"  of which the order metrics alone: median {median(walls) * 1000:.0f} ms "
        f"(CPU {median(cpus) * 1000:.0f} ms), {len(captured)} queries"
    )


def explain(captured: CaptureQueriesContext) -> None:
    with connection.cursor() as cursor:
        for query in captured.captured_queries:
            sql = query["sql"]
            if not sql.lstrip().upper().startswith("SELECT"):
                continue
            cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql)
            plan = "\n".join(row[0] for row in cursor.fetchall())
            print(f"--- {query['time']} s\n{sql[:300]}\n{plan}\n")


if __name__ == "__main__":
    main()
