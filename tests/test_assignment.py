"""Automatic assignment (issue 23 point 2): round robin, least open, capacity, out of office,
end of shift, batches at a fixed query count, and two arrivals at once on PostgreSQL."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime, timedelta

import pytest
import time_machine
from django.contrib.auth.models import User
from django.db import connection, connections

from inquiries import assignment as pure
from inquiries import models as m
from inquiries.services import RecordResult, record_message
from inquiries.services.assignment import assign_arrivals, hand_on
from tests.factories import CalendarFactory, UserFactory, incoming
from tests.ui.test_queries import QUEUE_QUERIES

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)  # a Monday, 10:00 UTC


# --- the pure choice ---------------------------------------------------------------------------------


def agents(*loads: int, capacity: int = 10) -> list[pure.Agent]:
    return [pure.Agent(user_id=i + 1, load=load, capacity=capacity) for i, load in enumerate(loads)]


def test_round_robin_takes_turns_in_user_order_and_wraps_after_the_last_assigned() -> None:
    rota = pure.Rota(pure.ROUND_ROBIN, agents(0, 0, 0), last_user_id=2)
    assert pure.plan(rota, 4) == [3, 1, 2, 3]


def test_least_open_picks_the_lightest_load_and_ties_go_to_the_lowest_id() -> None:
    rota = pure.Rota(pure.LEAST_OPEN, agents(3, 1, 1))
    assert pure.plan(rota, 4) == [2, 3, 2, 3]


def test_an_agent_at_capacity_is_skipped_and_nobody_free_leaves_the_rest_unassigned() -> None:
    rota = pure.Rota(pure.ROUND_ROBIN, agents(1, 2, capacity=2))
    assert pure.plan(rota, 3) == [1, None, None]
    assert rota.why_nobody() == "2 at capacity"


def test_the_reason_nobody_is_free_counts_each_cause() -> None:
    team = [
        pure.Agent(1, 0, 5, pure.OFF_SHIFT),
        pure.Agent(2, 0, 5, pure.AWAY),
        pure.Agent(3, 5, 5),
        pure.Agent(4, 0, 5, pure.OFF_SHIFT),
    ]
    assert (
        pure.Rota(pure.LEAST_OPEN, team).why_nobody()
        == "2 outside working hours, 1 out of office, 1 at capacity"
    )
    assert pure.Rota(pure.LEAST_OPEN, []).why_nobody() == "nobody is in the rota"


@pytest.mark.parametrize(
    ("away_from", "away_until", "expected"),
    [
        (date(2026, 3, 2), date(2026, 3, 6), pure.AWAY),
        (date(2026, 3, 3), date(2026, 3, 6), ""),
        (date(2026, 2, 20), date(2026, 3, 1), ""),
        (date(2026, 3, 1), None, pure.AWAY),
        (None, None, ""),
    ],
)
def test_out_of_office_covers_both_days_and_an_open_end_runs_on(away_from, away_until, expected) -> None:
    today = date(2026, 3, 2)
    found = pure.absence(in_rota=True, away_from=away_from, away_until=away_until, today=today, on_shift=True)
    assert found == expected


# --- the service ----------------------------------------------------------------------------------------


def arrive(channel: m.Channel, n: int = 1, at: datetime = T0) -> list[m.Inquiry]:
    """n new inquiries (from n customers), recorded without running their follow-up."""
    ids = []
    for i in range(n):
        result = record_message(
            channel=channel,
            incoming=incoming(sender_address=f"buyer{i}-{at.timestamp()}@example.com", received_at=at),
            now=at,
        )
        assert isinstance(result, RecordResult)
        ids.append(result.inquiry_id)
    return list(m.Inquiry.objects.filter(pk__in=ids).order_by("pk"))


def rota_for(
    team: m.Team, *users: User, mode: str = m.AssignmentMode.ROUND_ROBIN, **fields: object
) -> m.Rota:
    rota = m.Rota.objects.create(team=team, mode=mode, **fields)
    for user in users:
        m.RotaMember.objects.create(rota=rota, user=user)
    return rota


def assignees(inquiries: list[m.Inquiry]) -> list[str | None]:
    rows = dict(
        m.Inquiry.objects.filter(pk__in=[i.pk for i in inquiries]).values_list("pk", "assignee__username")
    )
    return [rows[i.pk] for i in inquiries]


@pytest.mark.django_db
def test_arrivals_are_dealt_round_robin_and_each_writes_an_assigned_event(channel, team, agent, teammate):
    rota_for(team, agent, teammate)
    inquiries = arrive(channel, 3)
    assert assign_arrivals(inquiry_ids=[i.pk for i in inquiries], now=T0) == 3
    assert assignees(inquiries) == ["alice", "bob", "alice"]
    event = m.InquiryEvent.objects.get(inquiry=inquiries[1], kind=m.EventKind.ASSIGNED)
    assert event.actor is None
    assert event.data == {"from": None, "to": teammate.pk, "auto": "round_robin", "reason": "arrival"}
    # The turn carries over to the next batch.
    later = arrive(channel, 1, at=T0 + timedelta(minutes=5))
    assign_arrivals(inquiry_ids=[later[0].pk], now=T0 + timedelta(minutes=5))
    assert assignees(later) == ["bob"]


@pytest.mark.django_db
def test_least_open_counts_every_open_inquiry_an_agent_holds(channel, team, agent, teammate):
    rota_for(team, agent, teammate, mode=m.AssignmentMode.LEAST_OPEN)
    held = arrive(channel, 2, at=T0 - timedelta(hours=1))
    m.Inquiry.objects.filter(pk__in=[i.pk for i in held]).update(assignee=agent)
    inquiries = arrive(channel, 3)
    assign_arrivals(inquiry_ids=[i.pk for i in inquiries], now=T0)
    assert assignees(inquiries) == ["bob", "bob", "alice"]


@pytest.mark.django_db
def test_capacity_leaves_the_rest_unassigned_until_a_slot_frees(channel, team, agent, teammate):
    rota = rota_for(team, agent, teammate, capacity=1)
    m.RotaMember.objects.filter(rota=rota, user=teammate).update(capacity=2)
    inquiries = arrive(channel, 4)
    assert assign_arrivals(inquiry_ids=[i.pk for i in inquiries], now=T0) == 3
    assert assignees(inquiries) == ["alice", "bob", "bob", None]
    m.Inquiry.objects.filter(pk=inquiries[0].pk).update(status=m.Status.SOLVED)
    assert hand_on(now=T0 + timedelta(minutes=2)) == 1
    assert assignees(inquiries)[3] == "alice"


@pytest.mark.django_db
def test_an_agent_out_of_office_gets_nothing_and_their_open_inquiries_are_handed_on(
    channel, team, agent, teammate
):
    rota = rota_for(team, agent, teammate)
    mine = arrive(channel, 2, at=T0 - timedelta(days=1))
    m.Inquiry.objects.filter(pk__in=[i.pk for i in mine]).update(assignee=agent)
    m.RotaMember.objects.filter(rota=rota, user=agent).update(
        away_from=date(2026, 3, 2), away_until=date(2026, 3, 4)
    )

    new = arrive(channel, 2)
    assign_arrivals(inquiry_ids=[i.pk for i in new], now=T0)
    assert assignees(new) == ["bob", "bob"]

    assert hand_on(now=T0) == 2
    assert assignees(mine) == ["bob", "bob"]
    event = m.InquiryEvent.objects.filter(inquiry=mine[0], kind=m.EventKind.ASSIGNED).latest("id")
    assert event.data == {"from": agent.pk, "to": teammate.pk, "auto": "round_robin", "reason": "hand on"}


@pytest.mark.django_db
def test_out_of_office_with_nobody_free_puts_the_inquiries_back_in_the_queue(channel, team, agent):
    rota = rota_for(team, agent)
    mine = arrive(channel, 1, at=T0 - timedelta(days=1))
    m.Inquiry.objects.filter(pk=mine[0].pk).update(assignee=agent)
    m.RotaMember.objects.filter(rota=rota, user=agent).update(away_from=date(2026, 3, 1))
    assert hand_on(now=T0) == 1
    assert assignees(mine) == [None]


@pytest.mark.django_db
def test_at_the_end_of_a_shift_open_inquiries_go_to_the_next_shift(channel, team, agent, teammate):
    early = CalendarFactory(
        name="Early", is_24x7=False, hours={str(d): [["06:00", "14:00"]] for d in range(7)}
    )
    late = CalendarFactory(name="Late", is_24x7=False, hours={str(d): [["14:00", "22:00"]] for d in range(7)})
    rota = rota_for(team, agent, teammate)
    m.RotaMember.objects.filter(rota=rota, user=agent).update(calendar=early)
    m.RotaMember.objects.filter(rota=rota, user=teammate).update(calendar=late)
    morning = arrive(channel, 2)
    assign_arrivals(inquiry_ids=[i.pk for i in morning], now=T0)
    assert assignees(morning) == ["alice", "alice"]  # bob's shift has not started

    assert hand_on(now=T0.replace(hour=13)) == 0  # nothing to hand on yet
    assert hand_on(now=T0.replace(hour=14, minute=1)) == 2
    assert assignees(morning) == ["bob", "bob"]


@pytest.mark.django_db
def test_when_everyone_is_off_shift_inquiries_stay_with_their_agent(channel, team, agent):
    office = CalendarFactory(
        name="Office", timezone="Europe/Berlin", is_24x7=False, hours={"0": [["09:00", "17:00"]]}
    )
    rota_for(team, agent, calendar=office)
    inquiries = arrive(channel, 1)
    assign_arrivals(inquiry_ids=[inquiries[0].pk], now=T0)  # 11:00 in Berlin
    assert assignees(inquiries) == ["alice"]
    assert hand_on(now=T0.replace(hour=18)) == 0  # 19:00 in Berlin: nobody to hand on to
    assert assignees(inquiries) == ["alice"]
    night = arrive(channel, 1, at=T0.replace(hour=18))
    assign_arrivals(inquiry_ids=[night[0].pk], now=T0.replace(hour=18))
    assert assignees(night) == [None]


@pytest.mark.django_db
def test_a_rota_that_is_off_or_an_account_without_one_assigns_nobody(
    channel, other_channel, team, other_team, agent, outsider
):
    rota_for(team, agent, mode=m.AssignmentMode.OFF)
    ours, theirs = arrive(channel, 1), arrive(other_channel, 1)
    assert assign_arrivals(inquiry_ids=[ours[0].pk, theirs[0].pk], now=T0) == 0


@pytest.mark.django_db
def test_a_claimed_inquiry_is_never_reassigned_on_arrival(channel, team, agent, teammate):
    rota_for(team, agent)
    inquiries = arrive(channel, 1)
    m.Inquiry.objects.filter(pk=inquiries[0].pk).update(assignee=teammate)
    assert assign_arrivals(inquiry_ids=[inquiries[0].pk], now=T0) == 0
    assert assignees(inquiries) == ["bob"]


@pytest.mark.django_db
def test_the_recording_engine_assigns_a_batch_after_commit(
    channel, team, agent, teammate, django_capture_on_commit_callbacks
):
    from inquiries.services.recording import record_messages

    rota_for(team, agent, teammate)
    batch = [(channel, incoming(sender_address=f"b{i}@example.com", received_at=T0)) for i in range(6)]
    with django_capture_on_commit_callbacks(execute=True):
        results = record_messages(batch, now=T0)
    inquiries = list(m.Inquiry.objects.filter(pk__in=[r.inquiry_id for r in results]).order_by("pk"))
    assert sorted(assignees(inquiries)) == ["alice"] * 3 + ["bob"] * 3


@pytest.mark.django_db
@pytest.mark.parametrize(("arrivals", "people"), [(5, 2), (400, 12)])
def test_a_batch_costs_the_same_queries_whatever_the_messages_and_agents(
    channel, team, arrivals, people, django_assert_max_num_queries
):
    users = [UserFactory(username=f"agent{i}") for i in range(people)]
    for user in users:
        m.Membership.objects.create(team=team, user=user)
    rota_for(team, *users, mode=m.AssignmentMode.LEAST_OPEN, capacity=100)
    ids = [i.pk for i in arrive(channel, arrivals)]
    # savepoint and release, lock the inquiries, routing, lock the rotas, members, loads, the
    # round-robin pointer, the events (SQLite splits a bulk INSERT at 999 parameters: one more
    # per ~120 events); one UPDATE per chosen agent. Never one query per message per agent.
    with django_assert_max_num_queries(9 + people + arrivals // 120):
        assert assign_arrivals(inquiry_ids=ids, now=T0) == arrivals


# --- two arrivals at once ---------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks: PostgreSQL only")
def test_two_arrivals_at_once_never_both_take_the_last_free_slot(channel, team, agent, monkeypatch):
    rota_for(team, agent, capacity=1)
    with monkeypatch.context() as patched:  # record them without their follow-up: the threads assign
        patched.setattr("inquiries.services.queue.safe_delay", lambda *args, **kwargs: None)
        inquiries = arrive(channel, 2)
    barrier = threading.Barrier(2)
    counts = [0, 0]

    def arrive_now(index: int) -> None:
        try:
            barrier.wait(timeout=10)
            counts[index] = assign_arrivals(inquiry_ids=[inquiries[index].pk], now=T0)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=arrive_now, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(counts) == [0, 1]
    assert m.Inquiry.objects.filter(assignee=agent).count() == 1


# --- what people see: the queue's reason and the admin's rota ------------------------------------------


@pytest.fixture
def alice_browser(agent):
    from django.test import Client

    client = Client()
    client.force_login(agent)
    return client


@pytest.mark.django_db
@pytest.mark.parametrize("people", [1, 8])
def test_the_queue_says_why_nobody_is_assigned_in_a_fixed_number_of_queries(
    alice_browser, team, agent, people, django_assert_num_queries
):
    office = CalendarFactory(
        name="Office", timezone="Europe/Berlin", is_24x7=False, hours={"0": [["09:00", "17:00"]]}
    )
    users = [agent] + [UserFactory(username=f"agent{i}") for i in range(people - 1)]
    for user in users[1:]:
        m.Membership.objects.create(team=team, user=user)
    rota_for(team, *users, calendar=office)
    # QUEUE_QUERIES of tests/ui/test_queries.py (which counts the rotas' own query), then the
    # rota members, their loads, the calendar and its holidays
    with time_machine.travel(T0.replace(hour=18), tick=False), django_assert_num_queries(QUEUE_QUERIES + 4):
        page = alice_browser.get("/").content.decode()  # Monday 19:00 in Berlin
    assert (
        f"Automatic assignment, Team A (round robin): new inquiries stay unassigned: nobody can take one "
        f"({people} outside working hours)."
    ) in " ".join(page.split())


@pytest.mark.django_db
def test_the_queue_counts_available_agents(alice_browser, team, agent, teammate):
    rota_for(team, agent, teammate)
    page = " ".join(alice_browser.get("/").content.decode().split())
    assert "Automatic assignment, Team A (round robin): 2 agents available." in page


@pytest.mark.django_db
def test_an_admin_edits_the_rota_and_sees_who_is_available(superuser, team, agent, teammate, outsider):
    from django.test import Client

    rota = rota_for(team, agent, teammate)
    client = Client()
    client.force_login(superuser)
    page = client.get(f"/admin/inquiries/rota/{rota.pk}/change/").content.decode()
    assert "2 agents can take an inquiry." in page

    members = list(rota.members.order_by("user_id"))
    form = {
        "team": team.pk,
        "mode": m.AssignmentMode.LEAST_OPEN,
        "capacity": 10,
        "calendar": "",
        "members-TOTAL_FORMS": 3,
        "members-INITIAL_FORMS": 2,
        "members-MIN_NUM_FORMS": 0,
        "members-MAX_NUM_FORMS": 1000,
    }
    for i, member in enumerate(members):
        form |= {
            f"members-{i}-id": member.pk,
            f"members-{i}-rota": rota.pk,
            f"members-{i}-user": member.user_id,
        }
        form |= {f"members-{i}-is_active": "on"}
    form |= {"members-0-away_from": "2026-03-02", "members-0-away_until": "2026-03-06"}
    form |= {"members-2-rota": rota.pk, "members-2-user": outsider.pk, "members-2-is_active": "on"}
    refused = client.post(f"/admin/inquiries/rota/{rota.pk}/change/", form)
    assert "Only a member of the team can be in its rota." in refused.content.decode()

    form |= {"members-2-user": ""}
    saved = client.post(f"/admin/inquiries/rota/{rota.pk}/change/", form)
    assert saved.status_code == 302
    rota.refresh_from_db()
    assert (rota.mode, rota.capacity) == ("least_open", 10)
    assert rota.members.get(user=agent).away_until == date(2026, 3, 6)
