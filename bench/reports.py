"""The 90-day SLA report over a million inquiries: how long it takes and how many queries it runs.

Builds a throwaway PostgreSQL database (`bench/_setup.py`), fills it with bulk SQL
(INSERT ... SELECT generate_series: inquiries, their clocks and messages spread over 100
days across 6 accounts in 4 time zones, 3 teams, 12 agents, 12 channels, every topic), then
times the report the page and `GET /api/v1/reports/sla/` run, grouped by day and by agent, as a
manager who sees all six accounts: median of 5 runs each, with the query count; the same counted
live (without the SLA rollup); the rollup's build and an incremental refresh; the page and each
section it loads by itself (times, breakdowns, volume: median of --section-runs runs), for 90
days and for the page's default period (the last 30 days). Each line also prints the median CPU
time of Python and of the database server process, steadier than wall-clock time on a shared
machine. The database is dropped at the end (unless --keep); --reuse times the page and its
sections again on a database an earlier run kept (no loading, no rollup build).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/cstracker .venv/bin/python bench/reports.py
    .venv/bin/python bench/reports.py --inquiries 20000      # SQLite: a small run only
    ... bench/reports.py --inquiries 200000 --keep           # prints the database's name
    ... bench/reports.py --reuse test_cstracker_1234         # its page and sections again
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, cast

from _setup import describe_database, median, throwaway_database
from django.db import connection
from django.db.backends.utils import CursorWrapper
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

if TYPE_CHECKING:
    from django.contrib.auth.models import User

    from inquiries.reports.scope import ReportChoices, ReportScope

RUNS = 5
SQLITE_LIMIT = 50_000
TEAMS, ACCOUNTS_PER_TEAM, CHANNELS_PER_ACCOUNT, AGENTS_PER_TEAM = 3, 2, 2, 4
ZONES = ("Europe/Berlin", "Europe/Berlin", "America/New_York", "America/New_York", "UTC", "Asia/Kolkata")
MARKETPLACES = ("amazon", "shop", "walmart", "amazon", "ebay", "shop")


def build_world(now: datetime) -> dict:
    """Teams, accounts, channels, agents, a business-hours calendar and a policy (ORM, small)."""
    from django.contrib.auth import get_user_model

    from inquiries import models as m

    calendar = m.Calendar.objects.create(
        name="Bench office",
        timezone="Europe/Berlin",
        hours={str(d): [["09:00", "17:00"]] for d in range(5)},
    )
    policy = m.SlaPolicy.objects.create(name="Bench policy", calendar=calendar)
    for priority in m.Priority.values:
        m.SlaTarget.objects.create(
            policy=policy,
            priority=priority,
            first_reply_seconds=4 * 3600,
            next_reply_seconds=8 * 3600,
            resolution_seconds=3 * 86400,
        )
    users = get_user_model().objects
    manager = users.create_user("bench-manager", "manager@bench.example", "x")
    channels, agents = [], []
    for t in range(TEAMS):
        team = m.Team.objects.create(name=f"Bench team {t + 1}")
        m.Membership.objects.create(team=team, user=manager, role=m.Role.MANAGER)
        team_agents = []
        for a in range(AGENTS_PER_TEAM):
            agent = users.create_user(f"agent-{t + 1}-{a + 1}", f"agent{t}{a}@bench.example", "x")
            m.Membership.objects.create(team=team, user=agent, role=m.Role.AGENT)
            team_agents.append(agent.pk)
        agents.append(team_agents)
        for a in range(ACCOUNTS_PER_TEAM):
            index = t * ACCOUNTS_PER_TEAM + a
            account = m.Account.objects.create(
                name=f"Bench account {index + 1}", timezone=ZONES[index], marketplace=MARKETPLACES[index]
            )
            team.accounts.add(account)
            for c in range(CHANNELS_PER_ACCOUNT):
                channels.append(
                    m.Channel.objects.create(
                        account=account, slug=f"bench-{index}-{c}", name=f"Bench {index + 1}.{c + 1}"
                    )
                )
    return {
        "manager": manager,
        "policy": policy.pk,
        "calendar": calendar.pk,
        "channels": [c.pk for c in channels],
        "channel_accounts": [c.account_id for c in channels],
        "agents": agents,
        "topics": list(m.Topic.objects.values_list("pk", flat=True)),
        "amazon": list(m.Account.objects.filter(marketplace="amazon").values_list("pk", flat=True)),
    }


def _array(values: list[int]) -> str:
    return "ARRAY[" + ",".join(str(int(v)) for v in values) + "]::bigint[]"


def _drop_indexes(cursor: object, tables: list[str]) -> list[str]:
    """Drop the unique constraints and secondary indexes of `tables`; returns the statements
    that create them again."""
    cursor.execute(  # type: ignore[attr-defined]
        """SELECT format('ALTER TABLE %%s ADD CONSTRAINT %%I %%s', conrelid::regclass, conname,
                         pg_get_constraintdef(oid)),
                  format('ALTER TABLE %%s DROP CONSTRAINT %%I', conrelid::regclass, conname)
           FROM pg_constraint WHERE contype = 'u' AND conrelid::regclass::text = ANY(%s)""",
        [tables],
    )
    constraints = cursor.fetchall()  # type: ignore[attr-defined]
    cursor.execute(  # type: ignore[attr-defined]
        """SELECT pg_get_indexdef(i.indexrelid), format('DROP INDEX %%s', i.indexrelid::regclass)
           FROM pg_index AS i
           WHERE i.indrelid::regclass::text = ANY(%s) AND NOT i.indisprimary
             AND NOT EXISTS (SELECT 1 FROM pg_constraint AS c WHERE c.conindid = i.indexrelid)""",
        [tables],
    )
    indexes = cursor.fetchall()  # type: ignore[attr-defined]
    for _, drop in constraints + indexes:
        cursor.execute(drop)  # type: ignore[attr-defined]
    return [create for create, _ in indexes + constraints]


def fill_postgresql(world: dict, inquiries: int, now: datetime) -> None:
    """Bulk INSERT ... SELECT: inquiries, then their clocks and messages from the inquiries."""
    from inquiries import models as m

    tables = [model._meta.db_table for model in (m.Customer, m.Inquiry, m.Clock, m.Message)]
    with connection.cursor() as cursor:
        # Foreign keys are known to hold here, and indexes build faster in one go afterwards than
        # row by row: skip the FK triggers and drop the secondary indexes for the load.
        cursor.execute("SET session_replication_role = replica")
        cursor.execute("SET maintenance_work_mem = '512MB'")
        recreate = _drop_indexes(cursor, tables)
        first_customer = _insert_customers(cursor, world, now)
        _insert_inquiries(cursor, world, inquiries, now, first_customer)
        _insert_clocks(cursor, world, now)
        _insert_messages(cursor)
        for statement in recreate:
            cursor.execute(statement)
        cursor.execute("SET session_replication_role = DEFAULT")
        for model in (m.Customer, m.Inquiry, m.Clock, m.Message):
            cursor.execute(f"VACUUM ANALYZE {model._meta.db_table}")


def _insert_customers(cursor: CursorWrapper, world: dict, now: datetime) -> int:
    """200,000 customers spread over the channels' accounts; returns the first one's id."""
    from inquiries import models as m

    n_channels = len(world["channels"])
    cursor.execute(
        f"""INSERT INTO {m.Customer._meta.db_table} (account_id, address, name, tags, created_at)
        SELECT ({_array(world["channel_accounts"])})[1 + g %% {n_channels}],
               'buyer' || g || '@bench.example', '', '[]'::jsonb, %s
        FROM generate_series(1, 200000) AS g""",
        [now],
    )
    cursor.execute(f"SELECT min(id) FROM {m.Customer._meta.db_table}")
    return cursor.fetchone()[0]


def _insert_inquiries(
    cursor: CursorWrapper, world: dict, inquiries: int, now: datetime, first_customer: int
) -> None:
    """`inquiries` inquiries opened over the last 100 days, with a seeded random() for repeatable data."""
    from inquiries import models as m

    per_team = CHANNELS_PER_ACCOUNT * ACCOUNTS_PER_TEAM
    agents = [a for team in world["agents"] for a in team]
    n_channels = len(world["channels"])
    topics = world["topics"]
    cursor.execute("SELECT setseed(0.42)")
    cursor.execute(
        f"""INSERT INTO {m.Inquiry._meta.db_table} (account_id, channel_id, customer_id, subject,
            status, priority, topic_id, topic_source, assignee_id, team_id, order_id, sku, thread_key,
            sla_policy_id, previous_id, opened_at, last_inbound_at, last_reply_at, solved_at, created_at,
            updated_at)
        SELECT ({_array(world["channel_accounts"])})[1 + c], ({_array(world["channels"])})[1 + c],
               {first_customer} + (g %% 200000), 'Bench inquiry ' || g,
               CASE WHEN opened > %(now)s - interval '2 days'
                    THEN (ARRAY['new','open','pending'])[1 + g %% 3]
                    WHEN r < 0.97 THEN 'solved' ELSE 'open' END,
               (ARRAY['low','normal','normal','normal','high','urgent'])[1 + g %% 6],
               CASE WHEN r < 0.1 THEN NULL ELSE ({_array(topics)})[1 + (g / 7) %% {len(topics)}] END,
               'rules',
               CASE WHEN r > 0.92 THEN NULL
                    ELSE ({_array(agents)})[
                        1 + (c / {per_team}) * {AGENTS_PER_TEAM} + (g / 13) %% {AGENTS_PER_TEAM}]
               END,
               NULL, '', '', '', {world["policy"]}, NULL, opened, opened, NULL, NULL, opened, opened
        FROM (SELECT g, g %% {n_channels} AS c, random() AS r,
                     %(now)s - random() * interval '100 days' AS opened
              FROM generate_series(1, %(n)s) AS g) AS src""",
        {"now": now, "n": inquiries},
    )


def _insert_clocks(cursor: CursorWrapper, world: dict, now: datetime) -> None:
    from inquiries import models as m

    # Clocks: first reply and resolution for every inquiry, a next-reply clock for a third, the
    # marketplace clock on Amazon accounts. Reply delays are skewed (r^2), a few are cancelled, and
    # clocks whose stop would lie in the future are still running or breached.
    cursor.execute(
        f"""INSERT INTO {m.Clock._meta.db_table} (inquiry_id, kind, state, message_id, policy_id,
            calendar_id,
            target_seconds, warn_ratio, started_at, due_at, warn_at, stopped_at, paused_at,
            paused_business_seconds, breached_at, elapsed_seconds, rule_name)
        SELECT id, kind,
               CASE WHEN cancel THEN 'cancelled'
                    WHEN stop > %(now)s THEN CASE WHEN due <= %(now)s THEN 'breached'
                                                  WHEN started + target * 0.75 * interval '1 second'
                                                       <= %(now)s
                                                  THEN 'at_risk' ELSE 'running' END
                    WHEN business <= target THEN 'met' ELSE 'missed' END,
               NULL, CASE WHEN kind = 'marketplace_reply' THEN NULL ELSE {world["policy"]} END,
               CASE WHEN kind = 'marketplace_reply' THEN NULL ELSE {world["calendar"]} END,
               target, 0.75, started, due, started + target * 0.75 * interval '1 second',
               CASE WHEN cancel THEN started + interval '5 minutes'
                    WHEN stop > %(now)s THEN NULL ELSE stop END,
               NULL, 0,
               CASE WHEN NOT cancel AND stop > %(now)s AND due <= %(now)s THEN due END,
               CASE WHEN NOT cancel AND stop <= %(now)s THEN business END, ''
        FROM (
            SELECT i.id, k.kind, k.target, started,
                   started + k.target * interval '1 second' AS due,
                   started + delay * interval '1 second' AS stop,
                   (delay * 0.55)::integer AS business,
                   random() < 0.03 AS cancel
            FROM {m.Inquiry._meta.db_table} AS i
            CROSS JOIN (VALUES ('first_reply', 14400, 40000), ('resolution', 259200, 700000),
                               ('next_reply', 28800, 60000), ('marketplace_reply', 86400, 150000))
                       AS k(kind, target, spread)
            CROSS JOIN LATERAL (
                SELECT CASE WHEN k.kind = 'next_reply' THEN i.opened_at + interval '1 day'
                            ELSE i.opened_at END AS started,
                       (random() ^ 2 * k.spread)::integer AS delay
            ) AS d
            WHERE k.kind IN ('first_reply', 'resolution')
               OR (k.kind = 'next_reply' AND i.id %% 3 = 0)
               OR (k.kind = 'marketplace_reply' AND i.account_id = ANY({_array(world["amazon"])}))
        ) AS clocks
        WHERE started < %(now)s""",
        {"now": now},
    )


def _insert_messages(cursor: CursorWrapper) -> None:
    """One inbound message per inquiry, and the agent's reply where the first-reply clock stopped."""
    from inquiries import models as m

    message_columns = (
        "channel_id, inquiry_id, direction, automatic, automatic_reason, external_id, thread_id, "
        "in_reply_to, "
        '"references", sender_address, sender_name, author_id, subject, body_text, body_html, sent_at, '
        "received_at, raw, order_id, sku, no_response_needed, answered_at, response_due_at, "
        "followed_up_at, "
        "delivery_state, delivery_error, created_at"
    )
    cursor.execute(
        f"""INSERT INTO {m.Message._meta.db_table} ({message_columns})
        SELECT i.channel_id, i.id, 'inbound', false, '', 'bench-in-' || i.id, '', '', '[]'::jsonb,
               'buyer@bench.example', '', NULL, i.subject, 'Where is my order?', '', NULL, i.opened_at,
               NULL, '',
               '', false, c.stopped_at, i.opened_at + interval '1 day', i.opened_at, '', '', i.opened_at
        FROM {m.Inquiry._meta.db_table} AS i
        JOIN {m.Clock._meta.db_table} AS c ON c.inquiry_id = i.id AND c.kind = 'first_reply'"""
    )
    cursor.execute(
        f"""INSERT INTO {m.Message._meta.db_table} ({message_columns})
        SELECT i.channel_id, i.id, 'outbound', false, '', 'bench-out-' || i.id, '', '', '[]'::jsonb,
               'agent@bench.example', '', i.assignee_id, 'Re: ' || i.subject, 'On its way.', '', NULL,
               c.stopped_at, NULL, '', '', false, NULL, NULL, NULL, '', '', c.stopped_at
        FROM {m.Inquiry._meta.db_table} AS i
        JOIN {m.Clock._meta.db_table} AS c ON c.inquiry_id = i.id AND c.kind = 'first_reply'
        WHERE c.state IN ('met', 'missed')"""
    )


def fill_orm(world: dict, inquiries: int, now: datetime) -> None:
    """The same shape through the ORM, for a small SQLite run (no generate_series)."""
    import random

    from inquiries import models as m

    rng = random.Random(42)
    agents = [a for team in world["agents"] for a in team]
    per_team = CHANNELS_PER_ACCOUNT * ACCOUNTS_PER_TEAM
    customers = m.Customer.objects.bulk_create(
        m.Customer(
            account_id=world["channel_accounts"][g % len(world["channels"])], address=f"b{g}@bench.example"
        )
        for g in range(2000)
    )
    rows = []
    for g in range(inquiries):
        c = g % len(world["channels"])
        opened = now - timedelta(days=100 * rng.random())
        rows.append(
            m.Inquiry(
                account_id=world["channel_accounts"][c],
                channel_id=world["channels"][c],
                customer_id=customers[g % len(customers)].pk,
                subject=f"Bench inquiry {g}",
                status="open" if opened > now - timedelta(days=2) else "solved",
                topic_id=world["topics"][g % len(world["topics"])],
                assignee_id=agents[(c // per_team) * AGENTS_PER_TEAM + g % AGENTS_PER_TEAM],
                sla_policy_id=world["policy"],
                opened_at=opened,
            )
        )
    created = m.Inquiry.objects.bulk_create(rows, batch_size=2000)
    clocks = []
    for inquiry in created:
        for kind, target, spread in (("first_reply", 14400, 40000), ("resolution", 259200, 700000)):
            delay = int(rng.random() ** 2 * spread)
            stop = inquiry.opened_at + timedelta(seconds=delay)
            due = inquiry.opened_at + timedelta(seconds=target)
            done = stop <= now
            clocks.append(
                m.Clock(
                    inquiry=inquiry,
                    kind=kind,
                    target_seconds=target,
                    started_at=inquiry.opened_at,
                    due_at=due,
                    warn_at=due,
                    stopped_at=stop if done else None,
                    elapsed_seconds=int(delay * 0.55) if done else None,
                    state=("met" if delay * 0.55 <= target else "missed")
                    if done
                    else ("breached" if due <= now else "running"),
                )
            )
    m.Clock.objects.bulk_create(clocks, batch_size=2000)


def backend_cpu_seconds() -> float:
    """CPU time (user + system) the database server process of this connection has used so far:
    the SQL's own cost, which wall-clock time on a shared machine hides. PostgreSQL on this
    machine only (read from /proc); parallel query workers are other processes and are not
    counted. 0 elsewhere."""
    if connection.vendor != "postgresql":
        return 0.0
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    # Fields 14 and 15 of proc(5), utime and stime; the split starts at field 3.
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def timed(label: str, work: Callable[[], object], runs: int = RUNS) -> None:
    """Median, min and max wall time of `runs` runs, and the median CPU time of this process
    (Python) and of the database server process (SQL)."""
    durations, python_cpu, sql_cpu, queries = [], [], [], 0
    for _ in range(runs):
        sql_before = backend_cpu_seconds()
        with CaptureQueriesContext(connection) as captured:
            started, cpu_started = time.perf_counter(), time.process_time()
            work()
            durations.append(time.perf_counter() - started)
            python_cpu.append(time.process_time() - cpu_started)
        sql_cpu.append(backend_cpu_seconds() - sql_before)
        queries = len(captured.captured_queries)
    cpu = (
        f"CPU median: Python {median(python_cpu) * 1000:7.1f} ms, database {median(sql_cpu) * 1000:7.1f} ms"
        if connection.vendor == "postgresql"
        else f"CPU median (SQLite runs in this process): {median(python_cpu) * 1000:7.1f} ms"
    )
    print(
        f"{label:<46} median {median(durations) * 1000:8.1f} ms   "
        f"min {min(durations) * 1000:8.1f} ms   max {max(durations) * 1000:8.1f} ms   {queries} queries   {cpu}"
    )


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--inquiries", type=int, default=1_000_000)
    parser.add_argument(
        "--keep", action="store_true", help="keep the database (for EXPLAIN); drop it yourself"
    )
    parser.add_argument("--section-runs", type=int, default=RUNS, help="runs per lazy section (median)")
    parser.add_argument(
        "--reuse",
        metavar="DATABASE",
        help="time the page and its sections on a database kept by an earlier run (--keep), as of its "
        "rollup's last refresh; it is left in place",
    )
    return parser.parse_args()


def load(inquiries: int, now: datetime) -> dict:
    """Build the world and fill it with `inquiries` inquiries; prints what was loaded."""
    from inquiries import models as m

    started = time.perf_counter()
    world = build_world(now)
    (fill_postgresql if connection.vendor == "postgresql" else fill_orm)(world, inquiries, now)
    print(
        f"loaded {m.Inquiry.objects.count():,} inquiries, {m.Clock.objects.count():,} clocks, "
        f"{m.Message.objects.count():,} messages in {time.perf_counter() - started:.1f} s"
    )
    return world


def scope_now(
    manager: User, now: datetime, live: bool = False, days: int = 90
) -> tuple[ReportChoices, ReportScope]:
    """What a request does first: the user's filter lists, then the scope (rollup state, teams)."""
    from inquiries.reports.scope import ReportChoices, make_scope

    today = now.date()
    choices = ReportChoices.load(manager)
    scope = make_scope(
        accounts=choices.accounts, first_day=today - timedelta(days=days - 1), last_day=today, now=now
    )
    return choices, replace(scope, rollup_as_of=None) if live else scope


def sla_table(manager: User, now: datetime, group_by: str, live: bool = False) -> Callable[[], object]:
    """The SLA report's table over 90 days, as the page and the API build it."""
    from inquiries.reports.report import build_table

    def run() -> object:
        choices, scope = scope_now(manager, now, live)
        return build_table("sla", scope, choices, group_by)

    return run


def report_page(
    manager: User, now: datetime, sections: tuple[str, ...], days: int = 90
) -> Callable[[], object]:
    """The report page (or one of its lazily loaded sections) over `days` days."""
    from inquiries.reports.report import build_report

    def run() -> object:
        choices, scope = scope_now(manager, now, days=days)
        return build_report(scope, choices, "day", sections)

    return run


def time_sla_report(manager: User, now: datetime) -> None:
    """Build the rollup, describe the 90-day report, then time it from the rollup and counted live."""
    from inquiries.reports.report import build_table
    from inquiries.services.rollups import refresh_rollups

    started = time.perf_counter()
    print(f"SLA rollup built: {refresh_rollups(now=now)} in {time.perf_counter() - started:.1f} s")
    choices, scope = scope_now(manager, now)
    rows = build_table("sla", scope, choices, "day").records()
    counted = sum(cast(int, r["counted"]) for r in rows if r["clock_kind"] == "first_reply")
    print(
        f"90-day report: {len(rows)} rows by day, {counted:,} first-reply clocks counted, "
        f"time zone {scope.tz}{' (accounts mixed)' if scope.tz_mixed else ''}"
    )
    timed("SLA report, 90 days, by day", sla_table(manager, now, "day"))
    timed("SLA report, 90 days, by agent", sla_table(manager, now, "agent"))
    timed("SLA report, 90 days, by week", sla_table(manager, now, "week"))
    timed("same, counted live (no rollup), by day", sla_table(manager, now, "day", live=True), runs=3)
    timed("same, counted live (no rollup), by agent", sla_table(manager, now, "agent", live=True), runs=3)


def time_rollup_refresh(now: datetime) -> None:
    """An incremental refresh after a minute of work: events on 300 of today's inquiries."""
    from inquiries import models as m
    from inquiries.services.rollups import refresh_rollups

    touched = list(
        m.Inquiry.objects.filter(opened_at__gte=now - timedelta(hours=20)).values_list("pk", flat=True)[:300]
    )
    m.InquiryEvent.objects.bulk_create(
        m.InquiryEvent(inquiry_id=pk, kind=m.EventKind.ASSIGNED, at=now) for pk in touched
    )
    timed("rollup refresh after 300 changed inquiries", lambda: refresh_rollups(now=now), runs=1)


def time_report_page(manager: User, now: datetime, section_runs: int) -> None:
    """The page draws SLA compliance and the backlog; its other sections load by themselves.
    Target: each of these sections in 1 s or less at a million inquiries (issue 23), for the
    page's default period (the last 30 days) as well as for 90 days."""
    from inquiries.reports.report import LAZY_SECTIONS

    timed("report page (compliance, backlog, oldest)", report_page(manager, now, ("summary",)), runs=3)
    for section in LAZY_SECTIONS:
        timed(
            f"  section loaded after it: {section}", report_page(manager, now, (section,)), runs=section_runs
        )
    for section in LAZY_SECTIONS:
        timed(
            f"  the same, 30 days (the default): {section}",
            report_page(manager, now, (section,), 30),
            runs=section_runs,
        )


def reuse(name: str, section_runs: int) -> None:
    """The page and its sections on the kept database `name`, at the instant of its rollup's
    last refresh (the rollup is then fresh and the periods are those of the run that built it)."""
    from django.contrib.auth import get_user_model

    from inquiries import models as m

    connection.close()
    connection.settings_dict["NAME"] = name
    print(f"{describe_database()}, database {name} (reused)")
    state = m.SlaRollupState.objects.get(pk=1)
    if state.refreshed_at is None:
        sys.exit(f"{name}: the rollup was never built")
    print(f"{m.Inquiry.objects.count():,} inquiries, rollup as of {state.refreshed_at:%Y-%m-%d %H:%M:%S} UTC")
    manager = get_user_model().objects.get(username="bench-manager")
    time_report_page(manager, state.refreshed_at, section_runs)


def main() -> None:
    options = parse_args()
    if connection.vendor != "postgresql" and options.inquiries > SQLITE_LIMIT:
        sys.exit(
            f"{describe_database()}: a million rows is a PostgreSQL benchmark. Set DATABASE_URL to a "
            f"PostgreSQL server, or pass --inquiries {SQLITE_LIMIT} or fewer for a small SQLite run."
        )

    if options.reuse:
        reuse(options.reuse, options.section_runs)
        return
    with throwaway_database(keep=options.keep) as name:
        now = timezone.now()
        print(f"{describe_database()}, database {name}")
        world = load(options.inquiries, now)
        time_sla_report(world["manager"], now)
        time_rollup_refresh(now)
        time_report_page(world["manager"], now, options.section_runs)


if __name__ == "__main__":
    main()
