"""Business-hours and calendar-time durations side by side, checked against times worked out by hand.

The account works Monday-Friday 09:00-17:00 UTC. Five first replies, in March 2026 (2 March is
a Monday); the business seconds are what the office was open between message and reply:

| message            | reply              | calendar | business                  |
|--------------------|--------------------|----------|---------------------------|
| Mon 2 Mar 10:00    | Mon 2 Mar 11:30    | 1 h 30   | 1 h 30                    |
| Tue 3 Mar 18:00    | Tue 3 Mar 23:00    | 5 h      | 0 (evening)               |
| Wed 4 Mar 16:00    | Thu 5 Mar 10:00    | 18 h     | 2 h (16-17 and 09-10)     |
| Sat 7 Mar 10:00    | Sat 7 Mar 15:00    | 5 h      | 0 (Saturday)              |
| Sun 8 Mar 20:00    | Sun 8 Mar 23:00    | 3 h      | 0 (Sunday)                |
"""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from django.test import Client
from django.urls import reverse

from inquiries import models as m
from inquiries.reports.report import build_report, build_table
from inquiries.reports.scope import ReportChoices, make_scope
from tests import factories
from tests.reports.conftest import customer, reply

pytestmark = pytest.mark.django_db

H = 3600
CONVERSATIONS = [  # (message, reply) in UTC
    (datetime(2026, 3, 2, 10, 0, tzinfo=UTC), datetime(2026, 3, 2, 11, 30, tzinfo=UTC)),
    (datetime(2026, 3, 3, 18, 0, tzinfo=UTC), datetime(2026, 3, 3, 23, 0, tzinfo=UTC)),
    (datetime(2026, 3, 4, 16, 0, tzinfo=UTC), datetime(2026, 3, 5, 10, 0, tzinfo=UTC)),
    (datetime(2026, 3, 7, 10, 0, tzinfo=UTC), datetime(2026, 3, 7, 15, 0, tzinfo=UTC)),
    (datetime(2026, 3, 8, 20, 0, tzinfo=UTC), datetime(2026, 3, 8, 23, 0, tzinfo=UTC)),
]
# Worked out by hand (see the table above), sorted.
BUSINESS = [0, 0, 0, 1.5 * H, 2 * H]
CALENDAR = [1.5 * H, 3 * H, 5 * H, 5 * H, 18 * H]
NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
FIRST_DAY, LAST_DAY = date(2026, 3, 1), date(2026, 3, 9)


@pytest.fixture
def office(account, team, manager, agent):
    calendar = factories.CalendarFactory(
        name="Office", timezone="UTC", is_24x7=False, hours={str(d): [["09:00", "17:00"]] for d in range(5)}
    )
    factories.policy_with_targets(first_reply=4 * H, next_reply=4 * H, resolution=40 * H, calendar=calendar)
    return factories.ChannelFactory(account=account, slug="office")


def converse(channel: m.Channel, agent: object, conversations: list[tuple[datetime, datetime]]) -> None:
    for n, (asked, answered) in enumerate(conversations):
        inquiry = customer(channel, asked, sender=f"c{n}@example.com")
        m.Inquiry.objects.filter(pk=inquiry.pk).update(assignee=agent)
        reply(inquiry, agent, answered)


def scope_for(manager, hours: str):
    choices = ReportChoices.load(manager)
    scope = make_scope(
        accounts=choices.accounts, first_day=FIRST_DAY, last_day=LAST_DAY, now=NOW, hours=hours
    )
    return scope, choices


def first_reply_row(table) -> dict:
    return next(row for row in table.records() if row["clock_kind"] == "first_reply")


def test_the_clocks_store_the_hand_computed_business_seconds(office, agent):
    converse(office, agent, CONVERSATIONS)
    clocks = m.Clock.objects.filter(kind="first_reply").order_by("started_at")
    assert [c.elapsed_seconds for c in clocks] == [1.5 * H, 0, 2 * H, 0, 0]


@pytest.mark.parametrize("hours", ["business", "calendar"])
def test_the_times_table_shows_business_hours_and_calendar_time_side_by_side(office, manager, agent, hours):
    converse(office, agent, CONVERSATIONS)
    scope, choices = scope_for(manager, hours)
    table = build_table("durations", scope, choices)
    row = first_reply_row(table)
    business = {"median": 0, "p90": 6480, "mean": 2520}  # p90: 1.5 h + 0.6 * (2 h - 1.5 h)
    calendar = {"median": 5 * H, "p90": 46080, "mean": 23400}  # p90: 5 h + 0.6 * (18 h - 5 h)
    mine, other = (business, calendar) if hours == "business" else (calendar, business)
    other_name = "calendar" if hours == "business" else "business"
    assert row["count"] == 5
    for stat in ("median", "p90", "mean"):
        assert row[f"{stat}_seconds"] == mine[stat]
        assert row[f"{other_name}_{stat}_seconds"] == other[stat]
    labels = {c.key: c.label for c in table.columns}
    assert labels["median_seconds"].endswith("(business hours)" if hours == "business" else "(calendar time)")
    assert labels[f"{other_name}_median_seconds"].endswith(
        "(calendar time)" if hours == "business" else "(business hours)"
    )
    # Plain check of the medians against the hand lists.
    assert BUSINESS[2] == business["median"] and CALENDAR[2] == calendar["median"]


@pytest.mark.parametrize("hours", ["business", "calendar"])
def test_a_zero_business_median_is_explained(office, manager, agent, hours):
    converse(office, agent, CONVERSATIONS)
    scope, choices = scope_for(manager, hours)
    report = build_report(scope, choices, sections=("times",))
    assert report.duration_notes == [
        "First reply: the median is 0s in business hours but 5h 00m in calendar time: most of these "
        "clocks started and stopped while business hours were closed (nights, weekends, holidays), "
        "and closed time counts as 0 in business hours."
    ]


def test_a_much_smaller_business_median_is_explained(office, manager, agent):
    # Only the overnight reply: 2 h of business hours in 18 h.
    converse(office, agent, CONVERSATIONS[2:3])
    report = build_report(*scope_for(manager, "business"), sections=("times",))
    assert report.duration_notes == [
        "First reply: the median is 2h 00m in business hours but 18h 00m in calendar time: much of "
        "the waiting fell outside business hours, which business-hours figures do not count."
    ]


def test_no_explanation_when_both_agree(office, manager, agent):
    converse(office, agent, CONVERSATIONS[:1])  # answered inside business hours
    report = build_report(*scope_for(manager, "business"), sections=("times",))
    row = first_reply_row(report.durations)
    assert row["median_seconds"] == row["calendar_median_seconds"] == 1.5 * H
    assert report.duration_notes == []


def test_breakdowns_show_both_medians(office, manager, agent):
    converse(office, agent, CONVERSATIONS)
    scope, choices = scope_for(manager, "business")
    rows = build_table("breakdown", scope, choices, "agent").records()
    alice = next(row for row in rows if row["group"] == agent.pk)
    assert alice["first_reply_median_seconds"] == 0
    assert alice["first_reply_calendar_median_seconds"] == 5 * H


def test_the_page_labels_both_figures_and_explains_the_zero(office, manager, agent):
    converse(office, agent, CONVERSATIONS)
    client = Client()
    client.force_login(manager)
    params = {"from": FIRST_DAY.isoformat(), "to": LAST_DAY.isoformat(), "section": "times"}
    html = client.get(reverse("inquiries:reports"), params, headers={"HX-Request": "true"}).content.decode()
    assert "Median (business hours)" in html and "Median (calendar time)" in html
    assert "closed time counts as 0 in business hours" in html
    breakdowns = client.get(
        reverse("inquiries:reports"), {**params, "section": "breakdowns"}, headers={"HX-Request": "true"}
    ).content.decode()
    assert "Median first reply (business hours)" in breakdowns
    assert "Median first reply (calendar time)" in breakdowns
