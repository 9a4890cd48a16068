"""The SLA rollup stays equal to a live count of the clocks, and is only used when it can answer."""

from __future__ import annotations

from datetime import timedelta

import pytest

from inquiries import models as m
from inquiries import services, tasks
from inquiries.reports import queries
from inquiries.reports.rollup import rollup_counts
from inquiries.reports.scope import ReportChoices, make_scope
from inquiries.services.rollups import HORIZON_DAYS, REBUILD_CHUNK_DAYS, refresh_rollups
from tests.reports.conftest import NOW, T0, customer, reply

pytestmark = pytest.mark.django_db


def scope_for(user, now, **filters):
    choices = ReportChoices.load(user)
    return make_scope(
        accounts=choices.accounts,
        first_day=T0.date() - timedelta(days=1),
        last_day=now.date(),
        now=now,
        **filters,
    )


def as_set(rows: list) -> set:
    return {(r.group, r.kind, r.met, r.missed, r.breached, r.cancelled, r.in_progress) for r in rows}


def assert_rollup_equals_live(user, now) -> None:
    scope = scope_for(user, now)
    for group_by in ("day", "week", "agent", "team", "channel", "topic", "account", "total"):
        from_rollup = rollup_counts(scope, group_by)
        assert from_rollup is not None, group_by
        rows, as_of = from_rollup
        assert as_set(rows) == as_set(queries.live_compliance_counts(scope, group_by, now=as_of)), group_by


def test_a_refresh_recomputes_the_days_whose_clocks_changed(history, manager, agent, teammate, channel):
    refresh_rollups(now=NOW)
    assert_rollup_equals_live(manager, NOW)

    later = NOW + timedelta(minutes=2)
    reply(history["breached"], agent, later)  # a week-old clock is finally answered (missed)
    services.assign(inquiry=history["met"], assignee=teammate, actor=agent, now=later)  # moves between agents
    customer(channel, later, sender="new@example.com")  # a new day's clocks
    result = refresh_rollups(now=later + timedelta(minutes=1))
    assert not result.rebuilt
    assert result.days == 3  # the answered inquiry's day, the reassigned one's and today
    assert_rollup_equals_live(manager, later + timedelta(minutes=1))


def test_a_clock_passing_its_due_time_shows_as_breached_even_without_a_sweep(channel, manager, policy):
    customer(channel, NOW - timedelta(minutes=50), sender="x@example.com")  # first reply due in 10 minutes
    refresh_rollups(now=NOW)
    later = NOW + timedelta(minutes=15)
    refresh_rollups(now=later)
    rows, _ = rollup_counts(scope_for(manager, later), "total")
    first_reply = next(r for r in rows if r.kind == "first_reply")
    assert (first_reply.breached, first_reply.in_progress) == (1, 0)


def test_a_full_rebuild_runs_once_a_day_and_picks_up_team_changes(history, manager, agent, team):
    refresh_rollups(now=NOW)
    other = m.Team.objects.create(name="Night shift")
    other.accounts.add(history["met"].account)
    m.Membership.objects.filter(user=agent).delete()
    m.Membership.objects.create(team=other, user=agent)  # no inquiry event records this
    assert not refresh_rollups(now=NOW + timedelta(hours=1)).rebuilt
    assert refresh_rollups(now=NOW + timedelta(days=1)).rebuilt
    assert_rollup_equals_live(manager, NOW + timedelta(days=1))


def test_the_rollup_is_not_used_when_it_cannot_answer(history, manager, channel):
    assert rollup_counts(scope_for(manager, NOW), "day") is None  # never built
    refresh_rollups(now=NOW)
    assert rollup_counts(scope_for(manager, NOW), "day") is not None
    assert rollup_counts(scope_for(manager, NOW, priorities=("high",)), "day") is None
    topic = scope_for(manager, NOW, topic_ids=(history["shipping"].pk,))
    rows, _ = rollup_counts(topic, "topic")
    assert as_set(rows) == as_set(queries.live_compliance_counts(topic, "topic"))
    assert rollup_counts(scope_for(manager, NOW + timedelta(minutes=11)), "day") is None  # beat is down
    berlin = make_scope(
        accounts=ReportChoices.load(manager).accounts,
        first_day=NOW.date(),
        last_day=NOW.date(),
        now=NOW,
        tz="Europe/Berlin",
    )
    assert rollup_counts(berlin, "day") is None  # days in a zone it does not store


def test_the_beat_task_refreshes_the_rollup(history, manager, settings):
    # What the task does, not how fast: a loaded machine may need more than the default 5 s budget
    # for the whole first build, and a budget ran out says "rebuild continues".
    settings.CSTRACKER_BACKGROUND_BUDGET_SECONDS = 3600
    assert tasks.refresh_report_rollups.apply().get().startswith("rebuilt")
    assert m.SlaRollupState.objects.get().refreshed_at is not None
    assert m.SlaRollup.objects.exists()


def test_a_rebuild_goes_a_week_per_step_within_its_budget_and_reports_stay_right_meanwhile(history, manager):
    refresh_rollups(now=NOW)
    later = NOW + timedelta(days=1)

    first = refresh_rollups(now=later, budget_seconds=0)  # starts the rebuild: one week of days
    state = m.SlaRollupState.objects.get()
    assert (first.done, first.rebuilt) == (False, False)
    assert state.rebuild_next_day == later.date() - timedelta(days=HORIZON_DAYS - REBUILD_CHUNK_DAYS)
    assert_rollup_equals_live(manager, later)  # the rows refreshed so far still answer

    steps = 1
    while not refresh_rollups(now=later, budget_seconds=0).done:
        steps += 1
    assert steps + 1 == -(-(HORIZON_DAYS + 1) // REBUILD_CHUNK_DAYS)  # calls: the horizon, a week each
    assert m.SlaRollupState.objects.get().rebuilt_at == later
    assert_rollup_equals_live(manager, later)


def test_a_rebuild_drops_the_rows_of_every_rollup_older_than_the_horizon(history, manager):
    refresh_rollups(now=NOW)
    old = NOW.date() - timedelta(days=HORIZON_DAYS + 5)
    m.SlaRollup.objects.create(**{**m.SlaRollup.objects.values().first(), "id": None, "day": old})
    m.DurationRollup.objects.create(day=old, local_day=old, account_id=1, kind="first_reply", clocks=b"")
    m.VolumeRollup.objects.create(
        day=old, local_day=old, weekday=old.isoweekday(), hour=0, account_id=1, channel_id=1, inbound=1
    )

    while not refresh_rollups(now=NOW + timedelta(days=1), rebuild=True, budget_seconds=None).done:
        pass

    for model in (m.SlaRollup, m.DurationRollup, m.VolumeRollup):
        assert not model.objects.filter(day__lt=NOW.date() - timedelta(days=HORIZON_DAYS)).exists(), model


def test_the_beat_task_continues_an_unfinished_rebuild(history, manager, settings):
    settings.CSTRACKER_BACKGROUND_BUDGET_SECONDS = 0

    tasks.refresh_report_rollups.apply().get()  # eager: each continuation runs at once

    state = m.SlaRollupState.objects.get()
    assert state.rebuild_next_day is None and state.rebuilt_at is not None
