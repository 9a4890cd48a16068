"""The times, breakdowns and volume sections read the duration and volume rollups when they can,
and then show exactly what the live computation and a plain Python count show."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime, timedelta

import pytest
import time_machine
from django.urls import reverse

from inquiries import models as m
from inquiries.reports import measured, queries
from inquiries.reports.counts import DurationStats
from inquiries.reports.report import build_table
from inquiries.reports.rollup import rollup_counts, rollup_counts_by, rollup_duration_stats, rollup_heatmap
from inquiries.reports.scope import DIMENSIONS, ReportChoices, ReportScope, make_scope
from inquiries.services.rollups import refresh_rollups
from tests import factories
from tests.reports import oracle
from tests.reports.conftest import NOW, T0, customer, reply
from tests.reports.test_views import ROLLUP_SECTION_QUERIES, client_for, make_inquiries

pytestmark = pytest.mark.django_db

GROUPINGS = ("total", *DIMENSIONS)


def scope_for(user, now=NOW, first_day=None, **filters) -> ReportScope:
    choices = ReportChoices.load(user)
    return make_scope(
        accounts=choices.accounts,
        first_day=first_day or T0.date() - timedelta(days=1),
        last_day=now.date(),
        now=now,
        **filters,
    )


def live(scope: ReportScope) -> ReportScope:
    """The same scope with no rollup to read: the figures computed from the clocks."""
    return dataclasses.replace(scope, rollup_as_of=None)


def rounded(stats: DurationStats | None) -> tuple | None:
    """The figures to six decimals (the tables show whole seconds): a mean summed in another
    order may differ in its last binary digits. The histogram is compared on its own."""
    if stats is None:
        return None
    figures = (
        stats.count,
        *(None if v is None else round(v, 6) for v in (stats.mean, stats.median, stats.p90)),
    )
    return (*figures, rounded(stats.other))


def assert_durations_equal_live(scope: ReportScope) -> None:
    from_rollup = rollup_duration_stats(scope, GROUPINGS)
    assert from_rollup is not None
    computed = queries.duration_stats_by(live(scope), GROUPINGS)
    for grouping in GROUPINGS:
        expected = {key: rounded(stats) for key, stats in computed[grouping].items()}
        assert {key: rounded(stats) for key, stats in from_rollup[grouping].items()} == expected, grouping
        if grouping != "total":  # the histogram is counted for the totals only
            assert all(stats.buckets is None for stats in from_rollup[grouping].values())
    histogram = queries.duration_stats_by(live(scope), ("total",))["total"]  # the live one alone
    assert {key: stats.buckets for key, stats in from_rollup["total"].items()} == {
        key: stats.buckets for key, stats in histogram.items()
    }


@pytest.mark.parametrize("hours", ["business", "calendar"])
def test_the_duration_statistics_from_the_rollup_equal_the_live_ones(history, manager, agent, team, hours):
    refresh_rollups(now=NOW)
    assert_durations_equal_live(scope_for(manager, hours=hours))
    shipping = history["shipping"].pk
    for filters in ({"agent_ids": (agent.pk,)}, {"team_ids": (team.pk,)}, {"topic_ids": (shipping,)}):
        assert_durations_equal_live(scope_for(manager, hours=hours, **filters))
    channel = history["met"].channel_id
    assert_durations_equal_live(scope_for(manager, hours=hours, channel_ids=(channel,)))


@pytest.mark.parametrize("hours", ["business", "calendar"])
def test_the_times_tables_from_the_rollup_match_the_stopped_clocks(history, manager, hours):
    refresh_rollups(now=NOW)
    scope = scope_for(manager, hours=hours)
    choices = ReportChoices.load(manager)
    durations = build_table("durations", scope, choices)
    histogram = build_table("histogram", scope, choices).records()
    assert durations.as_of == NOW  # the rollup's refresh, which the page states
    clocks = oracle.clocks_in([history["met"].account_id], scope.first_day, scope.last_day, "UTC")
    for kind in ("first_reply", "resolution"):
        values = oracle.durations(clocks, kind, hours)
        row = next(r for r in durations.records() if r["clock_kind"] == kind)
        assert {
            k: row[k] for k in ("count", "median_seconds", "p90_seconds", "mean_seconds")
        } == oracle.stats(values)
        assert [r["count"] for r in histogram if r["clock_kind"] == kind] == oracle.histogram(values)


def test_a_clock_without_a_business_measurement_counts_in_calendar_time_only(history, manager):
    m.Clock.objects.filter(inquiry=history["met"], kind="first_reply").update(elapsed_seconds=None)
    refresh_rollups(now=NOW)
    business, calendar = (
        rollup_duration_stats(scope_for(manager, hours=h), ("total",)) for h in ("business", "calendar")
    )
    assert business is not None and calendar is not None
    by_business, by_calendar = business["total"][(0, "first_reply")], calendar["total"][(0, "first_reply")]
    assert by_calendar.count == by_business.count + 1
    assert by_calendar.other is not None and by_calendar.other.count == by_business.count
    for hours in ("business", "calendar"):
        assert_durations_equal_live(scope_for(manager, hours=hours))


def test_the_heatmap_from_the_rollup_equals_the_live_one_and_a_plain_count(history, manager, account, team):
    refresh_rollups(now=NOW)
    scope = scope_for(manager)
    cells = rollup_heatmap(scope)
    assert cells is not None and cells == queries.heatmap_counts(live(scope))
    expected = oracle.heatmap([account.pk], scope.start, scope.end)
    assert {cell: list(counts) for cell, counts in cells.items() if any(counts)} == expected
    for filters in ({"channel_ids": (history["met"].channel_id,)}, {"team_ids": (team.pk,)}):
        filtered = scope_for(manager, **filters)
        assert rollup_heatmap(filtered) == queries.heatmap_counts(live(filtered))
    assert build_table("heatmap", scope, ReportChoices.load(manager)).as_of == NOW


def test_the_volume_is_counted_live_under_an_agent_or_topic_filter(history, manager, agent):
    refresh_rollups(now=NOW)
    for filters in ({"agent_ids": (agent.pk,)}, {"topic_ids": (history["shipping"].pk,)}):
        scope = scope_for(manager, **filters)
        assert rollup_heatmap(scope) is None
        assert build_table("heatmap", scope, ReportChoices.load(manager)).as_of is None
    assert rollup_duration_stats(scope_for(manager, priorities=("high",)), ("total",)) is None


def test_a_refresh_brings_new_replies_and_messages_into_the_sections(history, manager, agent, channel):
    refresh_rollups(now=NOW)
    later = NOW + timedelta(minutes=2)
    reply(history["breached"], agent, later)  # a week-old first reply is finally measured (missed)
    newcomer = customer(channel, later, sender="new@example.com")
    reply(newcomer, agent, later + timedelta(minutes=3))
    refreshed = later + timedelta(minutes=5)
    refresh_rollups(now=refreshed)
    for hours in ("business", "calendar"):
        assert_durations_equal_live(scope_for(manager, refreshed, hours=hours))
    scope = scope_for(manager, refreshed)
    assert rollup_heatmap(scope) == queries.heatmap_counts(live(scope))
    assert sum(inbound for inbound, _ in queries.heatmap_counts(scope).values()) == 9


def test_local_days_and_a_half_hour_zone_pick_the_same_messages_and_clocks(db, team, manager, agent):
    """Asia/Kolkata is UTC+5:30: a local hour straddles two UTC days, and the report's local
    days start at 18:30 UTC."""
    team.accounts.clear()
    kolkata = factories.AccountFactory(name="Kolkata shop", timezone="Asia/Kolkata")
    team.accounts.add(kolkata)
    factories.policy_with_targets(first_reply=3600, next_reply=3600, resolution=86400)
    channel = factories.ChannelFactory(account=kolkata, slug="kolkata")
    for n, at in enumerate(
        (
            datetime(2026, 3, 2, 18, 15, tzinfo=UTC),  # 23:45 local on the 2nd
            datetime(2026, 3, 2, 18, 45, tzinfo=UTC),  # 00:15 local on the 3rd
            datetime(2026, 3, 2, 23, 50, tzinfo=UTC),  # 05:20 local; the hour 05:00 began on the UTC 2nd
            datetime(2026, 3, 3, 0, 10, tzinfo=UTC),  # 05:40 local, the same hour, the UTC 3rd
        )
    ):
        inquiry = customer(channel, at, sender=f"k{n}@example.com")
        reply(inquiry, agent, at + timedelta(minutes=20 + 7 * n))
    now = datetime(2026, 3, 5, 12, 0, tzinfo=UTC)
    refresh_rollups(now=now)
    for first in (date(2026, 3, 2), date(2026, 3, 3)):
        scope = scope_for(manager, now, first_day=first)
        assert scope.day_field == "local"
        assert rollup_heatmap(scope) == queries.heatmap_counts(live(scope))
        assert_durations_equal_live(scope)
        assert_breakdown_counts_equal(scope)
    utc = make_scope(
        accounts=[kolkata], first_day=date(2026, 3, 3), last_day=date(2026, 3, 4), now=now, tz="UTC"
    )
    assert utc.day_field == "utc"
    assert rollup_heatmap(utc) == queries.heatmap_counts(live(utc))
    assert sum(inbound for inbound, _ in queries.heatmap_counts(utc).values()) == 1
    assert_durations_equal_live(utc)
    assert_breakdown_counts_equal(utc)


def test_packed_clocks_keep_every_value_exactly():
    clocks = [(3, None, 7, None, 120, 150.123456), (4, 9, None, 2, None, 0.5)]
    unpacked = measured.Measured.unpack([(1, "first_reply", measured.pack(clocks))])
    assert unpacked.clocks.tolist() == [(3, 0, 7, 0, 120, 150.123456), (4, 9, 0, 2, -1, 0.5)]
    assert unpacked.accounts.tolist() == [1, 1]
    with pytest.raises(OverflowError):
        measured.pack([(2**31, None, None, None, 1, 1.0)])


@pytest.mark.parametrize("count", [10, 100])
def test_the_sections_run_the_same_queries_from_the_rollup_for_10_and_100_inquiries(
    channel, manager, agent, policy, count, django_assert_num_queries
):
    make_inquiries(channel, agent, count)
    refresh_rollups(now=NOW)
    client = client_for(manager)
    with time_machine.travel(NOW, tick=False):
        client.get(reverse("inquiries:reports"))  # the session is loaded once before counting
        for name, queries_run in ROLLUP_SECTION_QUERIES.items():
            for hours in ("business", "calendar"):
                with django_assert_num_queries(queries_run):
                    part = client.get(
                        reverse("inquiries:reports"),
                        {"section": name, "hours": hours},
                        headers={"HX-Request": "true"},
                    )
                assert part.status_code == 200 and f'id="section-{name}"' in part.content.decode()
                table = {"times": "durations", "breakdowns": "sla", "volume": "heatmap"}[name]
                if name != "breakdowns":  # read from the rollups, as of their refresh, which the page says
                    assert getattr(part.context["report"], table).as_of == NOW
                    assert "Figures as of 2026-03-11 15:00 UTC" in part.content.decode()
    assert m.DurationRollup.objects.exists() and m.VolumeRollup.objects.exists()


def plain_stats(rows, group_by: str, *, business: bool) -> dict:
    """What `measured.duration_stats` must give, counted plainly: `queries.summarise` (sort and
    interpolate in Python) per (group, kind) of the unpacked records of `rows`."""
    fields = {"agent": 1, "team": 2, "channel": 0, "topic": 3}
    grouped: dict = {}
    for account, kind, clocks in rows:
        for clock in clocks:
            seconds, calendar = clock[4], clock[5]
            if business and seconds is None:
                continue
            if group_by == "total":
                group: object = 0
            elif group_by == "account":
                group = account
            else:
                group = clock[fields[group_by]]  # None: no agent, team or topic
            found, other = grouped.setdefault((group, kind), ([], []))
            found.append(float(seconds if business else calendar))
            if (calendar if business else seconds) is not None:
                other.append(float(calendar if business else seconds))
    return {key: queries.summarise(found, other) for key, (found, other) in grouped.items()}


def assert_stats_equal_plain(rows, *, business: bool) -> None:
    unpacked = measured.Measured.unpack([(a, kind, measured.pack(clocks)) for a, kind, clocks in rows])
    found = measured.duration_stats(unpacked, GROUPINGS, business=business)
    for grouping in GROUPINGS:
        expected = plain_stats(rows, grouping, business=business)
        assert set(found[grouping]) == set(expected), grouping
        for key, stats in expected.items():
            got = found[grouping][key]
            for mine, theirs in ((got, stats), (got.other, stats.other)):
                assert mine is not None and theirs is not None
                # Medians and percentiles exactly (the same ranks, the same interpolation); the
                # mean to the last digits a sum in another order may change.
                assert (mine.count, mine.median, mine.p90) == (theirs.count, theirs.median, theirs.p90)
                assert mine.mean == (None if theirs.mean is None else pytest.approx(theirs.mean, rel=1e-12))
            assert got.buckets == (stats.buckets if grouping == "total" else None), (grouping, key)


@pytest.mark.parametrize("size", [1, 2, 3, 4, 10, 11, 250])
@pytest.mark.parametrize("business", [True, False])
def test_the_statistics_equal_a_plain_count_with_ties_and_even_counts(size, business):
    """Many equal values (a median between two equal ones, a percentile on a tie), odd and
    even counts in every group, groups of one clock, clocks without a business measurement, ids
    too large for a lookup table, calendar seconds with microseconds; every grouping."""
    import random

    rng = random.Random(size * 2 + business)
    rows = []
    for account in (5, 2**40):
        for kind in ("first_reply", "resolution"):
            for _day in range(2):
                clocks = [
                    (
                        rng.choice((3, 4, 2**31 - 1)),
                        rng.choice((None, 9, 2**30)),
                        rng.choice((None, 7)),
                        rng.choice((None, 2, 5)),
                        rng.choice((None, 0, 60, 60, 900, 3600, 3600 * 30, 86400 * 4, rng.randrange(10**6))),
                        rng.choice((0.0, 0.5, 899.999999, 900.0, 3600.25, 3600.25, rng.random() * 10**6)),
                    )
                    for _ in range(rng.randrange(size + 1))
                ]
                rows.append((account, kind, clocks))
    assert_stats_equal_plain(rows, business=business)


def test_the_statistics_leave_out_empty_groups():
    only_calendar = [(1, "first_reply", [(3, 9, None, None, None, 10.0), (3, 9, None, None, None, 20.0)])]
    assert measured.duration_stats(
        measured.Measured.unpack([(a, k, measured.pack(c)) for a, k, c in only_calendar]),
        GROUPINGS,
        business=True,
    ) == {grouping: {} for grouping in GROUPINGS}
    in_calendar = measured.duration_stats(
        measured.Measured.unpack([(a, k, measured.pack(c)) for a, k, c in only_calendar]),
        GROUPINGS,
        business=False,
    )
    assert in_calendar["agent"] == {
        (9, "first_reply"): DurationStats(2, 15.0, 15.0, 19.0, DurationStats(0, None, None, None))
    }
    assert measured.duration_stats(measured.Measured.unpack([]), GROUPINGS, business=False) == {
        grouping: {} for grouping in GROUPINGS
    }
    assert_stats_equal_plain(only_calendar, business=False)
    assert_stats_equal_plain([*only_calendar, (1, "resolution", [])], business=True)


def assert_breakdown_counts_equal(scope: ReportScope) -> None:
    """The breakdowns' compliance counts, all five in one query, are those of one query per
    dimension and of the live count."""
    found = rollup_counts_by(scope, DIMENSIONS)
    assert found is not None and found[1] == scope.rollup_as_of
    for dimension in DIMENSIONS:
        one = rollup_counts(scope, dimension)
        assert one is not None
        expected = sorted(one[0], key=repr)
        assert sorted(found[0][dimension], key=repr) == expected, dimension
        assert sorted(queries.live_compliance_counts(live(scope), dimension), key=repr) == expected


def test_the_breakdowns_count_compliance_in_one_query_as_five_would(
    history, manager, agent, team, django_assert_num_queries
):
    refresh_rollups(now=NOW)
    assert_breakdown_counts_equal(scope_for(manager))
    for filters in (
        {"agent_ids": (agent.pk,)},
        {"team_ids": (team.pk,)},
        {"topic_ids": (history["shipping"].pk,)},
    ):
        assert_breakdown_counts_equal(scope_for(manager, **filters))
    scope = scope_for(manager)
    with django_assert_num_queries(1):
        rollup_counts_by(scope, DIMENSIONS)
    assert rollup_counts_by(scope_for(manager, priorities=("high",)), DIMENSIONS) is None
    counted = queries.compliance_counts_by(live(scope_for(manager)), DIMENSIONS)
    assert {d: sorted(c, key=repr) for d, (c, _) in counted.items()} == {
        d: sorted(queries.live_compliance_counts(live(scope_for(manager)), d), key=repr) for d in DIMENSIONS
    }
