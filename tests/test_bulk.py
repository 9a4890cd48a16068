"""insert_rows(): COPY on PostgreSQL writes exactly what bulk_create would, ids included.

And PlannerStatistics: a bulk load keeps the planner's statistics in step as the tables grow."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext

from inquiries import models as m
from inquiries.services.bulk import PlannerStatistics, insert_new, insert_rows, unsaved, update_rows

pytestmark = pytest.mark.django_db

AT = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


def test_rows_get_their_ids_and_rows_that_point_at_them_are_linked(channel: m.Channel):
    customer = m.Customer.objects.create(account=channel.account, address="a@example.com", tags=["vip"])
    inquiries = [
        m.Inquiry(
            account=channel.account, channel=channel, customer=customer, subject=f"<b>{n}</b>", opened_at=AT
        )
        for n in range(3)
    ]
    # Built on unsaved inquiries, as the batch path does: linked once those have their ids.
    messages = [
        m.Message(
            channel=channel,
            inquiry=inquiry,
            direction="inbound",
            external_id=f"x{n}",
            references=["<a@b>", 'quote " and \\\\ backslash'],
            body_text="tab\tnew\nline \\N not null",
            raw=b"\x00\x01raw",
            received_at=AT,
        )
        for n, inquiry in enumerate(inquiries)
    ]
    insert_rows(m.Inquiry, inquiries)
    insert_rows(m.Message, messages)
    assert all(inquiry.pk and not inquiry._state.adding for inquiry in inquiries)
    stored = {message.external_id: message for message in m.Message.objects.all()}
    for message, inquiry in zip(messages, inquiries, strict=True):
        again = stored[message.external_id]
        assert again.pk == message.pk and again.inquiry_id == inquiry.pk
        assert again.references == ["<a@b>", 'quote " and \\\\ backslash']
        assert again.body_text == "tab\tnew\nline \\N not null"
        assert again.raw is not None and bytes(again.raw) == b"\x00\x01raw"
    assert m.Inquiry.objects.get(pk=inquiries[0].pk).next_clock_kind == ""  # the column's default
    assert m.Inquiry.objects.get(pk=inquiries[2].pk).subject == "<b>2</b>"


def test_a_row_pointing_at_an_unsaved_row_is_refused(channel: m.Channel):
    customer = m.Customer(account=channel.account, address="b@example.com")
    inquiry = m.Inquiry(account=channel.account, channel=channel, customer=customer, opened_at=AT)
    with pytest.raises(ValueError, match="customer"):
        insert_rows(m.Inquiry, [inquiry])
    assert not m.Inquiry.objects.exists()


def test_update_rows_writes_each_rows_own_values_nulls_included(channel: m.Channel):
    customer = m.Customer.objects.create(account=channel.account, address="c@example.com")
    inquiries = [
        m.Inquiry.objects.create(
            account=channel.account, channel=channel, customer=customer, opened_at=AT, last_inbound_at=AT
        )
        for _ in range(3)
    ]
    for n, inquiry in enumerate(inquiries):
        inquiry.order_id = f"o'{n}"  # a quote, as a value
        inquiry.last_inbound_at = None if n == 1 else AT.replace(hour=11 + n)
        inquiry.sku = ["", "S-1", "S-2"][n]
    update_rows(m.Inquiry, inquiries, ["order_id", "last_inbound_at", "sku"])
    stored = m.Inquiry.objects.in_bulk([i.pk for i in inquiries])
    assert [(stored[i.pk].order_id, stored[i.pk].last_inbound_at, stored[i.pk].sku) for i in inquiries] == [
        ("o'0", AT.replace(hour=11), ""),
        ("o'1", None, "S-1"),
        ("o'2", AT.replace(hour=13), "S-2"),
    ]


def _message_rows(channel: m.Channel, start: int, count: int) -> list[m.Message]:
    customer, _ = m.Customer.objects.get_or_create(account=channel.account, address="s@example.com")
    inquiry = m.Inquiry.objects.filter(channel=channel).first() or m.Inquiry.objects.create(
        account=channel.account, channel=channel, customer=customer, subject="s", opened_at=AT
    )
    return [
        m.Message(channel=channel, inquiry=inquiry, direction="inbound", external_id=f"s{n}", received_at=AT)
        for n in range(start, start + count)
    ]


def test_a_bulk_load_analyses_its_tables_each_time_they_have_grown_enough(channel: m.Channel):
    def reltuples() -> float:
        with connection.cursor() as cursor:
            cursor.execute("SELECT reltuples FROM pg_class WHERE relname = 'inquiries_message'")
            return cursor.fetchone()[0]

    # What the table's statistics say before (not always "never analysed": autovacuum may have
    # analysed it after a transactional test that ran earlier left and removed rows).
    before = reltuples() if connection.vendor == "postgresql" else None
    with CaptureQueriesContext(connection) as queries:
        statistics = PlannerStatistics(
            {m.Message: ("channel", "external_id"), m.Inquiry: ("customer",)}, at_least=20
        )
        insert_rows(m.Message, _message_rows(channel, 0, 15))
        statistics.add(15)
        if connection.vendor != "postgresql":
            # SQLite plans without gathered statistics: nothing to do, not one query.
            assert [q for q in queries.captured_queries if "ANALYZE" in q["sql"].upper()] == []
            return
        assert reltuples() == before != 25  # below the threshold: not analysed yet
        insert_rows(m.Message, _message_rows(channel, 15, 10))
        statistics.add(10)
        assert reltuples() == 25  # analysed (rows of this very transaction count)
        # Next time only once the table has doubled: 25 rows more, not 20.
        insert_rows(m.Message, _message_rows(channel, 25, 22))
        statistics.add(22)
        assert reltuples() == 25
        insert_rows(m.Message, _message_rows(channel, 47, 3))
        statistics.add(3)
        assert reltuples() == 50
    analyses = [q["sql"] for q in queries.captured_queries if q["sql"].startswith("ANALYZE")]
    expected = (
        'ANALYZE "inquiries_message" ("channel_id", "external_id"), "inquiries_inquiry" ("customer_id")'
    )
    assert analyses == [expected] * 2


def test_a_load_into_a_large_table_analyses_as_its_own_rows_double(channel: m.Channel):
    """A new channel's rows in a table the statistics know without them: the planner would take
    them for none and scan them all per lookup. So the load analyses as it doubles its own rows."""
    if connection.vendor != "postgresql":
        pytest.skip("SQLite plans without gathered statistics")
    insert_rows(m.Message, _message_rows(channel, 0, 40))
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE inquiries_message")
    with CaptureQueriesContext(connection) as queries:
        statistics = PlannerStatistics({m.Message: ("channel", "external_id")}, at_least=5)
        analysed = []
        for rows in (5, 4, 1, 9, 1, 19, 1):
            statistics.add(rows)
            analysed.append(statistics.written == 0)
    assert analysed == [True, False, True, False, True, False, True]  # after 5, 10, 20, 40 rows
    assert sum(q["sql"].startswith("ANALYZE") for q in queries.captured_queries) == 4


def test_update_rows_refuses_a_repeated_row_when_it_writes_columns_outside_the_model(channel: m.Channel):
    if connection.vendor != "postgresql":
        with pytest.raises(ValueError, match="PostgreSQL only"):
            update_rows(m.Message, [m.Message(pk=1)], ["subject"], extra={"search_seed": ["x"]})
        return
    message = _message_rows(channel, 0, 1)[0]
    insert_rows(m.Message, [message])
    with pytest.raises(ValueError, match="each row once"):
        update_rows(m.Message, [message, message], ["subject"], extra={"search_seed": ["a", "b"]})


def _fields(obj: m.Message) -> dict[str, object]:
    return {
        f.attname: getattr(obj, f.attname) for f in obj._meta.concrete_fields if f.attname != "created_at"
    }


def test_unsaved_builds_what_the_keyword_constructor_builds(channel: m.Channel):
    inquiry = m.Inquiry(account=channel.account, channel=channel, subject="unsaved", opened_at=AT)
    values = {
        "channel": channel,
        "inquiry": inquiry,
        "external_id": "u1",
        "received_at": AT,
        "references": ["a"],
    }
    built, expected = unsaved(m.Message, **values), m.Message(**values)
    assert _fields(built) == _fields(expected)
    assert built._state.adding and built.pk is None
    assert built.inquiry is inquiry and built.channel is channel  # related objects kept, no query
    assert built.parse_notes == [] and built.parse_notes is not unsaved(m.Message, **values).parse_notes
    by_id = unsaved(m.Clock, inquiry_id=7, kind="first_reply", target_seconds=60, started_at=AT)
    assert (by_id.inquiry_id, by_id.message_id, by_id.state) == (7, None, m.Clock(inquiry_id=7).state)
    with pytest.raises(TypeError, match="unexpected colour"):
        unsaved(m.Clock, colour="red")


def test_a_load_may_analyse_with_a_smaller_sample_for_this_analysis_only(channel: m.Channel):
    insert_rows(m.Message, _message_rows(channel, 0, 40))
    with CaptureQueriesContext(connection) as queries:
        statistics = PlannerStatistics({m.Message: ("channel", "external_id")}, at_least=5, sample=10)
        statistics.add(40)
    analyses = [q["sql"] for q in queries.captured_queries if "ANALYZE" in q["sql"].upper()]
    if connection.vendor != "postgresql":
        assert analyses == []  # SQLite plans without gathered statistics
        return
    assert analyses == ['ANALYZE "inquiries_message" ("channel_id", "external_id")']
    assert statistics.written == 0
    with connection.cursor() as cursor:
        cursor.execute("SELECT reltuples FROM pg_class WHERE relname = 'inquiries_message'")
        assert cursor.fetchone()[0] == 40
        cursor.execute("SHOW default_statistics_target")
        assert cursor.fetchone()[0] == "100"  # the smaller target was local to the analysis


def test_a_copy_runs_through_the_connections_execute_wrappers_as_any_statement(channel: m.Channel):
    """COPY goes by psycopg's own cursor; it still passes Django's execute wrappers (the order
    import's parsing thread reads ahead while one runs) and raises Django's errors."""
    if connection.vendor != "postgresql":
        pytest.skip("COPY is PostgreSQL's")
    seen: list[str] = []

    def watch(execute, sql, params, many, context):
        seen.append(sql.split()[0])
        return execute(sql, params, many, context)

    order = m.Order.objects.create(account=channel.account, marketplace_order_id="111-0000001-0000001")
    with connection.execute_wrapper(watch):
        insert_new(m.OrderLine, ["order_id", "sku", "quantity"], [(order.pk, "LAMP-1", 1)])
    assert seen == ["COPY"]
    with pytest.raises(IntegrityError), transaction.atomic():
        insert_new(m.OrderLine, ["order_id", "sku", "quantity"], [(order.pk, "LAMP-1", 2)])
