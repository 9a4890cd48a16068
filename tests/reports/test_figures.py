"""Every report figure against a straightforward computation over the same rows (tests/reports/oracle.py)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest

from inquiries import models as m
from inquiries.reports.report import build_table
from inquiries.reports.scope import ReportChoices, make_scope
from inquiries.services.rollups import refresh_rollups
from tests import factories
from tests.reports import oracle
from tests.reports.conftest import NOW, T0, customer, reply

pytestmark = pytest.mark.django_db


def records(table_name: str, manager, group_by: str = "day", **filters):
    choices = ReportChoices.load(manager)
    scope = make_scope(
        accounts=choices.accounts,
        first_day=T0.date() - timedelta(days=1),
        last_day=NOW.date(),
        now=NOW,
        **filters,
    )
    return build_table(table_name, scope, choices, group_by).records(), scope


def by_group_and_kind(rows: list[dict]) -> dict:
    keys = ("met", "missed", "breached", "cancelled", "in_progress", "compliance_pct")
    return {
        (row["group"], row["clock_kind"]): {k: row[k] for k in keys}
        for row in rows
        if row["met"] + row["missed"] + row["breached"] + row["cancelled"] + row["in_progress"]
    }


@pytest.mark.parametrize("rollup", [False, True], ids=["live", "rollup"])
@pytest.mark.parametrize("group_by", ["day", "week", "agent", "team", "channel", "topic", "account"])
def test_sla_compliance_matches_a_plain_count_of_the_clocks(history, manager, team, rollup, group_by):
    if rollup:
        refresh_rollups(now=NOW)
    rows, scope = records("sla", manager, group_by)
    clocks = oracle.clocks_in([history["met"].account_id], scope.first_day, scope.last_day, "UTC")
    keys = {
        "day": lambda c: c.started_at.date().isoformat(),
        "week": lambda c: (c.started_at.date() - timedelta(days=c.started_at.weekday())).isoformat(),
        "agent": lambda c: c.inquiry.assignee_id,
        # team A works the account and both agents are in it; nobody set inquiry.team
        "team": lambda c: team.pk if c.inquiry.assignee_id else None,
        "channel": lambda c: c.inquiry.channel_id,
        "topic": lambda c: c.inquiry.topic_id,
        "account": lambda c: c.inquiry.account_id,
    }
    assert by_group_and_kind(rows) == oracle.compliance(clocks, NOW, keys[group_by])
    assert clocks, "the scenario has clocks"


def test_the_scenario_covers_every_outcome(history, manager):
    rows, _ = records("sla", manager, "account")
    totals = {
        key: sum(row[key] for row in rows)
        for key in ("met", "missed", "breached", "cancelled", "in_progress")
    }
    assert all(totals.values()), totals


@pytest.mark.parametrize("hours", ["business", "calendar"])
def test_time_statistics_and_histogram_match_the_stopped_clocks(history, manager, hours):
    durations, scope = records("durations", manager, hours=hours)
    histogram, _ = records("histogram", manager, hours=hours)
    clocks = oracle.clocks_in([history["met"].account_id], scope.first_day, scope.last_day, "UTC")
    for kind in ("first_reply", "resolution"):
        values = oracle.durations(clocks, kind, hours)
        row = next(r for r in durations if r["clock_kind"] == kind)
        assert {
            k: row[k] for k in ("count", "median_seconds", "p90_seconds", "mean_seconds")
        } == oracle.stats(values)
        assert [r["count"] for r in histogram if r["clock_kind"] == kind] == oracle.histogram(values)


def test_breakdowns_match_the_clocks_per_agent(history, manager, agent, teammate):
    rows, scope = records("breakdown", manager, "agent")
    clocks = oracle.clocks_in([history["met"].account_id], scope.first_day, scope.last_day, "UTC")
    expected = oracle.compliance(clocks, NOW, lambda c: c.inquiry.assignee_id)
    for row in rows:
        for kind in ("first_reply", "resolution"):
            figures = expected.get((row["group"], kind))
            assert row[f"{kind}_compliance_pct"] == (figures["compliance_pct"] if figures else None)
            values = oracle.durations(
                [c for c in clocks if c.inquiry.assignee_id == row["group"]], kind, "business"
            )
            assert row[f"{kind}_median_seconds"] == oracle.stats(values)["median_seconds"]
        still = sum(f["breached"] for (g, _), f in expected.items() if g == row["group"])
        assert row["breached"] == still
    assert {row["group_label"] for row in rows} == {"Alice", "Bob", "Unassigned"}


def test_backlog_and_oldest_waiting_match_the_open_inquiries(history, manager):
    backlog, _ = records("backlog", manager)
    expected = oracle.backlog([history["met"].account_id], NOW)
    for row in backlog:
        for status in ("new", "open", "pending"):
            assert row[status] == expected.get((status, row["bucket"]), 0)
    oldest, _ = records("oldest", manager)
    assert [(r["inquiry"], r["waiting_since"]) for r in oldest] == [
        (pk, at.isoformat()) for pk, at in oracle.oldest_waiting([history["met"].account_id])
    ]
    assert history["breached"].pk in [r["inquiry"] for r in oldest]


def test_the_heatmap_counts_messages_in_the_accounts_own_time_zone(history, manager, account):
    rows, scope = records("heatmap", manager)
    expected = oracle.heatmap([account.pk], scope.start, scope.end)
    assert {
        (r["weekday"], r["hour"]): [r["inbound"], r["replies"]] for r in rows if r["inbound"] or r["replies"]
    } == expected
    assert sum(r["inbound"] for r in rows) == 8  # eight customer messages; the automatic one is left out
    assert m.Message.objects.filter(automatic=True, inquiry__account=account).count() == 1


def test_another_teams_account_never_counts(history, manager):
    rows, _ = records("sla", manager, "account")
    assert {row["group"] for row in rows} == {history["met"].account_id}


# --- business hours across a DST weekend ------------------------------------------------------


@pytest.fixture
def berlin(db, team, manager, agent):
    """Team A's only account is in Berlin, with office hours Monday-Friday 09:00-17:00 local."""
    team.accounts.clear()
    account = factories.AccountFactory(name="Berlin shop", timezone="Europe/Berlin")
    team.accounts.add(account)
    calendar = factories.CalendarFactory(
        name="Berlin office",
        timezone="Europe/Berlin",
        is_24x7=False,
        hours={str(d): [["09:00", "17:00"]] for d in range(5)},
    )
    factories.policy_with_targets(
        first_reply=4 * 3600, next_reply=4 * 3600, resolution=16 * 3600, calendar=calendar
    )
    return factories.ChannelFactory(account=account, slug="berlin")


def test_business_hours_across_the_dst_weekend(berlin, manager, agent):
    # Clocks go forward on Sunday 29 March 2026 at 02:00 in Berlin.
    friday = datetime(2026, 3, 27, 15, 0, tzinfo=UTC)  # 16:00 CET, one office hour left
    monday = datetime(2026, 3, 30, 8, 0, tzinfo=UTC)  # 10:00 CEST, one office hour in
    late_sunday = datetime(2026, 3, 29, 21, 30, tzinfo=UTC)  # 23:30 CEST: Sunday in Berlin
    after_midnight = datetime(2026, 3, 29, 22, 30, tzinfo=UTC)  # 00:30 CEST: Monday in Berlin, Sunday in UTC
    weekend = customer(berlin, friday, sender="a@example.com")
    reply(weekend, agent, monday)
    sunday = customer(berlin, late_sunday, sender="b@example.com")
    reply(sunday, agent, monday + timedelta(hours=5))  # 15:00 CEST Monday: 6 office hours
    night = customer(berlin, after_midnight, sender="c@example.com")
    reply(night, agent, monday + timedelta(minutes=30))
    now = datetime(2026, 4, 1, 12, 0, tzinfo=UTC)

    first_reply = m.Clock.objects.get(inquiry=weekend, kind="first_reply")
    assert first_reply.elapsed_seconds == 2 * 3600  # Friday 16-17 and Monday 09-10
    choices = ReportChoices.load(manager)
    scope = make_scope(
        accounts=choices.accounts, first_day=date(2026, 3, 26), last_day=date(2026, 3, 31), now=now
    )
    assert scope.tz == "Europe/Berlin"
    assert scope.start == datetime.combine(date(2026, 3, 26), time(0), tzinfo=UTC) - timedelta(hours=1)

    for hours in ("business", "calendar"):
        hours_scope = make_scope(
            accounts=choices.accounts,
            first_day=scope.first_day,
            last_day=scope.last_day,
            now=now,
            hours=hours,
        )
        clocks = oracle.clocks_in([berlin.account_id], scope.first_day, scope.last_day, "Europe/Berlin")
        durations = build_table("durations", hours_scope, choices).records()
        for kind in ("first_reply", "resolution"):
            row = next(r for r in durations if r["clock_kind"] == kind)
            expected = oracle.stats(oracle.durations(clocks, kind, hours))
            assert {k: row[k] for k in expected} == expected
    calendar_seconds = sorted(oracle.durations(clocks, "first_reply", "calendar"))
    assert 65 * 3600 in calendar_seconds  # Friday 15:00 to Monday 08:00 UTC: 65 real hours, not 66

    for rollup in (False, True):
        if rollup:
            refresh_rollups(now=now)
            scope = make_scope(
                accounts=choices.accounts, first_day=scope.first_day, last_day=scope.last_day, now=now
            )
        table = build_table("sla", scope, choices, "day")
        assert (table.as_of == now) is True
        days = {row["group"]: row for row in table.records() if row["clock_kind"] == "first_reply"}
        assert {
            d: days[d]["met"] + days[d]["missed"] for d in days if days[d]["met"] + days[d]["missed"]
        } == {
            "2026-03-27": 1,
            "2026-03-29": 1,
            "2026-03-30": 1,
        }
        berlin_day = scope.zone
        expected = oracle.compliance(
            clocks, now, lambda c, zone=berlin_day: c.started_at.astimezone(zone).date().isoformat()
        )
        assert by_group_and_kind(table.records()) == expected
