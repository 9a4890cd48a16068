"""Large synthetic data sets for benchmarks, built with set-based SQL on PostgreSQL.

    DATABASE_URL=postgres://... python bench/generate.py --inquiries 1000000 [--keep]

As a script it builds the data in a throwaway database, prints row counts and timings,
and drops it again (unless --keep). Other benchmarks import `generate()`.

Every inquiry has a customer message; 85% have a reply (some late); 10% are open (new,
open, pending), the rest solved or closed. Clocks (first reply and marketplace reply per
customer message, resolution per inquiry) match those messages and statuses, and each
inquiry carries the nearest deadline of its active clocks, as the clock service keeps it.
Nothing here is real data.
"""

from __future__ import annotations

import argparse
import time

from _setup import describe_database, throwaway_database
from django.db import connection, transaction

from inquiries.models import Account, Channel, Marketplace, Membership, Role, Team

# One statement per table; %(n)s inquiries, %(days)s days back from %(now)s, ids offset by the
# first inquiry id so generate() can be called on a database that already holds rows.
SQL = {
    "customers": """
        INSERT INTO inquiries_customer (account_id, address, name, tags, created_at)
        SELECT (%(accounts)s)[1 + (g %% array_length(%(accounts)s, 1))], 'buyer' || g || '@example.com',
               'Buyer ' || g, '[]'::jsonb, %(now)s
        FROM generate_series(1, %(customers)s) AS g
    """,
    "inquiries": """
        INSERT INTO inquiries_inquiry (account_id, channel_id, customer_id, subject, status, priority, topic_source,
            order_id, sku, thread_key, opened_at, last_inbound_at, last_reply_at, solved_at, created_at, updated_at,
            assignee_id)
        SELECT c.account_id, ch.channel_id, c.id,
               (ARRAY['Where is my order?','Item arrived broken','Wrong item received','Refund not received',
                      'Question about size','Charged twice'])[1 + g %% 6],
               CASE WHEN g %% 100 < 45 THEN 'solved' WHEN g %% 100 < 90 THEN 'closed'
                    WHEN g %% 100 < 95 THEN 'open' WHEN g %% 100 < 97 THEN 'pending' ELSE 'new' END,
               (ARRAY['low','normal','normal','normal','high','urgent'])[1 + g %% 6],
               '', lpad((g %% 1000)::text, 3, '0') || '-' || lpad(g::text, 7, '0') || '-0000001',
               'SKU-' || (g %% 500), '', t.opened, t.opened, NULL, NULL, t.opened, t.opened,
               (%(agents)s)[1 + g %% array_length(%(agents)s, 1)]
        FROM generate_series(1, %(n)s) AS g
        JOIN inquiries_customer c ON c.id = %(first_customer)s + (g %% %(customers)s)
        JOIN (SELECT account_id, MIN(id) AS channel_id FROM inquiries_channel GROUP BY account_id) ch
          ON ch.account_id = c.account_id
        -- Open inquiries are recent (the last 5 days), the solved and closed ones spread over --days.
        CROSS JOIN LATERAL (
            SELECT %(now)s::timestamptz
                   - random() * (CASE WHEN g %% 100 >= 90 THEN 5 ELSE %(days)s END) * interval '1 day' AS opened
        ) t
    """,
    "inbound": """
        INSERT INTO inquiries_message (channel_id, inquiry_id, direction, automatic, automatic_reason, external_id,
            thread_id, in_reply_to, "references", sender_address, sender_name, subject, body_text, body_html,
            received_at, order_id, sku, no_response_needed, response_due_at, delivery_state, delivery_error,
            created_at, followed_up_at)
        SELECT i.channel_id, i.id, 'inbound', false, '', 'gen-in-' || i.id, '', '', '[]'::jsonb,
               'buyer@example.com', '', i.subject, 'Hello, ' || i.subject, '', i.opened_at, i.order_id, i.sku,
               false, i.opened_at + interval '24 hours', '', '', i.opened_at, i.opened_at
        FROM inquiries_inquiry i WHERE i.id >= %(first_inquiry)s
    """,
    "replies": """
        WITH r AS (
            SELECT i.id, i.channel_id, i.subject,
                   i.opened_at + (power(random(), 3) * interval '40 hours') AS at
            FROM inquiries_inquiry i WHERE i.id >= %(first_inquiry)s AND i.id %% 100 < 85
        )
        INSERT INTO inquiries_message (channel_id, inquiry_id, direction, automatic, automatic_reason, external_id,
            thread_id, in_reply_to, "references", sender_address, sender_name, subject, body_text, body_html,
            received_at, order_id, sku, no_response_needed, delivery_state, delivery_error, created_at)
        SELECT r.channel_id, r.id, 'outbound', false, '', 'gen-out-' || r.id, '', '', '[]'::jsonb,
               'agent@shop.example', '', 'Re: ' || r.subject, 'Thanks, we are on it.', '', r.at, '', '', false,
               '', '', r.at
        FROM r WHERE r.at < %(now)s
    """,
    "answered": """
        UPDATE inquiries_message m SET answered_at = o.received_at
        FROM inquiries_message o
        WHERE m.inquiry_id = o.inquiry_id AND m.direction = 'inbound' AND o.direction = 'outbound'
          AND m.inquiry_id >= %(first_inquiry)s
    """,
    "last_reply": """
        UPDATE inquiries_inquiry i SET last_reply_at = m.received_at,
               solved_at = CASE WHEN i.status IN ('solved', 'closed') THEN m.received_at END
        FROM inquiries_message m
        WHERE m.inquiry_id = i.id AND m.direction = 'outbound' AND i.id >= %(first_inquiry)s
    """,
    "clocks": """
        INSERT INTO inquiries_clock (inquiry_id, kind, state, message_id, policy_id, calendar_id, target_seconds,
            warn_ratio, started_at, due_at, warn_at, stopped_at, paused_at, paused_business_seconds, breached_at,
            elapsed_seconds, rule_name)
        SELECT m.inquiry_id, k.kind,
               CASE WHEN m.answered_at IS NOT NULL THEN
                        CASE WHEN m.answered_at <= m.received_at + k.target * interval '1 second' THEN 'met'
                             ELSE 'missed' END
                    WHEN i.status NOT IN ('new', 'open') THEN 'cancelled'
                    WHEN m.received_at + k.target * interval '1 second' <= %(now)s THEN 'breached'
                    WHEN m.received_at + k.target * 0.75 * interval '1 second' <= %(now)s THEN 'at_risk'
                    ELSE 'running' END,
               m.id, NULL, NULL, k.target, 0.75, m.received_at,
               m.received_at + k.target * interval '1 second', m.received_at + k.target * 0.75 * interval '1 second',
               CASE WHEN m.answered_at IS NOT NULL THEN m.answered_at
                    WHEN i.status NOT IN ('new', 'open') THEN m.received_at END, NULL, 0,
               CASE WHEN m.answered_at IS NULL AND i.status IN ('new', 'open')
                         AND m.received_at + k.target * interval '1 second' <= %(now)s
                    THEN m.received_at + k.target * interval '1 second' END,
               CASE WHEN m.answered_at IS NOT NULL THEN extract(epoch FROM m.answered_at - m.received_at)::int END,
               ''
        FROM inquiries_message m
        JOIN inquiries_inquiry i ON i.id = m.inquiry_id
        CROSS JOIN (VALUES ('first_reply', 14400), ('marketplace_reply', 86400)) AS k(kind, target)
        WHERE m.direction = 'inbound' AND m.inquiry_id >= %(first_inquiry)s
    """,
    # A 72-hour resolution clock on every inquiry: stopped when solved, paused while pending.
    "resolution": """
        INSERT INTO inquiries_clock (inquiry_id, kind, state, message_id, policy_id, calendar_id, target_seconds,
            warn_ratio, started_at, due_at, warn_at, stopped_at, paused_at, paused_business_seconds, breached_at,
            elapsed_seconds, rule_name)
        SELECT i.id, 'resolution',
               CASE WHEN i.status IN ('solved', 'closed') THEN
                        CASE WHEN COALESCE(i.solved_at, i.opened_at) <= i.opened_at + interval '72 hours'
                             THEN 'met' ELSE 'missed' END
                    WHEN i.status = 'pending' THEN 'paused'
                    WHEN i.opened_at + interval '72 hours' <= %(now)s THEN 'breached'
                    WHEN i.opened_at + interval '54 hours' <= %(now)s THEN 'at_risk'
                    ELSE 'running' END,
               NULL, NULL, NULL, 259200, 0.75, i.opened_at, i.opened_at + interval '72 hours',
               i.opened_at + interval '54 hours',
               CASE WHEN i.status IN ('solved', 'closed') THEN COALESCE(i.solved_at, i.opened_at) END,
               CASE WHEN i.status = 'pending' THEN %(now)s END, 0,
               CASE WHEN i.status IN ('new', 'open') AND i.opened_at + interval '72 hours' <= %(now)s
                    THEN i.opened_at + interval '72 hours' END,
               CASE WHEN i.status IN ('solved', 'closed')
                    THEN extract(epoch FROM COALESCE(i.solved_at, i.opened_at) - i.opened_at)::int END,
               ''
        FROM inquiries_inquiry i WHERE i.id >= %(first_inquiry)s
    """,
    # The search document the message trigger keeps (disabled during the load), set-based.
    "documents": """
        UPDATE inquiries_inquiry i
        SET search_document = i.search_document || b.document
        FROM (SELECT inquiry_id, strip(to_tsvector('simple', string_agg(left(body_text, 20000), ' '))) AS document
              FROM inquiries_message WHERE inquiry_id >= %(first_inquiry)s GROUP BY inquiry_id) b
        WHERE i.id = b.inquiry_id
    """,
    # What the clock service keeps on each inquiry: the nearest deadline of its active clocks.
    "queue": """
        UPDATE inquiries_inquiry i
        SET next_due_at = c.next_due, next_warn_at = c.next_warn, next_clock_kind = c.kind,
            market_due_at = c.market_due
        FROM (SELECT inquiry_id, MIN(due_at) AS next_due, MIN(warn_at) AS next_warn,
                     (array_agg(kind ORDER BY due_at, id))[1] AS kind,
                     MIN(due_at) FILTER (WHERE kind = 'marketplace_reply') AS market_due
              FROM inquiries_clock
              WHERE state IN ('running', 'at_risk', 'breached') AND inquiry_id >= %(first_inquiry)s
              GROUP BY inquiry_id) c
        WHERE i.id = c.inquiry_id
    """,
}


def _configure() -> tuple[list[int], list[int]]:
    from django.contrib.auth import get_user_model

    accounts = [
        Account.objects.create(name="Bench on Amazon", marketplace=Marketplace.AMAZON),
        Account.objects.create(name="Bench on Walmart", marketplace=Marketplace.WALMART),
        Account.objects.create(name="Bench shop", marketplace=Marketplace.SHOP),
    ]
    team = Team.objects.create(name="Bench team")
    team.accounts.add(*accounts)
    agents = []
    for index in range(8):
        user = get_user_model().objects.create_user(f"bench-agent-{index}", password="bench")
        Membership.objects.create(team=team, user=user, role=Role.AGENT)
        agents.append(user.pk)
    for account in accounts:
        Channel.objects.create(account=account, slug=f"bench-{account.pk}", name=account.name)
    return [a.pk for a in accounts], agents


def generate(*, inquiries: int, days: int = 90, verbose: bool = True) -> dict[str, float]:
    """Create `inquiries` inquiries with messages and clocks; returns seconds per step."""
    if connection.vendor != "postgresql":
        raise SystemExit("bench/generate.py builds data with PostgreSQL SQL; set DATABASE_URL to PostgreSQL.")
    from django.utils import timezone

    timings: dict[str, float] = {}
    with transaction.atomic():
        accounts, agents = _configure()
    with connection.cursor() as cursor:
        cursor.execute("SELECT COALESCE(MAX(id), 0) + 1 FROM inquiries_customer")
        first_customer = cursor.fetchone()[0]
        cursor.execute("SELECT COALESCE(MAX(id), 0) + 1 FROM inquiries_inquiry")
        first_inquiry = cursor.fetchone()[0]
    params = {
        "n": inquiries,
        "customers": max(1, inquiries // 3),
        "days": days,
        "now": timezone.now(),
        "accounts": accounts,
        "agents": agents,
        "first_customer": first_customer,
        "first_inquiry": first_inquiry,
    }
    with connection.cursor() as cursor:
        # Row by row, the trigger would rewrite an inquiry per message; "documents" does it at once.
        cursor.execute("ALTER TABLE inquiries_message DISABLE TRIGGER inquiries_message_document")
    try:
        for step, sql in SQL.items():
            timings[step] = _step(sql, params, verbose=verbose, step=step)
    finally:
        with connection.cursor() as cursor:
            cursor.execute("ALTER TABLE inquiries_message ENABLE TRIGGER inquiries_message_document")
    # The load rewrote every inquiry row several times (documents, deadlines): a live database's
    # autovacuum (tuned for this table in migration 0019) would have removed the dead versions
    # long before anyone searched. Left in place, each GIN scan returns them all for rechecking.
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(
            "VACUUM (ANALYZE) inquiries_customer, inquiries_inquiry, inquiries_message, inquiries_clock"
        )
    timings["vacuum"] = time.perf_counter() - started
    if verbose:
        print(f"  {'vacuum':<11} {'':>10}       {timings['vacuum']:7.1f} s", flush=True)
    return timings


def _step(sql: str, params: dict, *, verbose: bool, step: str) -> float:
    started = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.rowcount
    with connection.cursor() as cursor:
        # Fresh statistics, or the planner joins a million rows as if they were a handful.
        cursor.execute("ANALYZE inquiries_customer, inquiries_inquiry, inquiries_message, inquiries_clock")
    elapsed = time.perf_counter() - started
    if verbose:
        print(f"  {step:<11} {rows:>10,} rows  {elapsed:7.1f} s", flush=True)
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--inquiries", type=int, default=100_000)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--keep", action="store_true", help="keep the database (its name is printed)")
    args = parser.parse_args()
    with throwaway_database(keep=args.keep) as name:
        print(
            f"{describe_database()}, database {name}: generating {args.inquiries:,} inquiries over {args.days} days"
        )
        started = time.perf_counter()
        generate(inquiries=args.inquiries, days=args.days)
        print(f"total {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
