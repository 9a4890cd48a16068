"""The reports page, its CSV downloads and the API: access, agreement, query counts, escaping."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
import time_machine
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from inquiries import models as m
from inquiries.services.rollups import refresh_rollups
from tests.conftest import token_client
from tests.reports.conftest import NOW, T0, customer, reply

pytestmark = pytest.mark.django_db

PERIOD = {"from": (T0 - timedelta(days=1)).date().isoformat(), "to": NOW.date().isoformat()}


def client_for(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def parse_csv(response) -> list[dict]:
    body = b"".join(response.streaming_content) if response.streaming else response.content
    return list(csv.DictReader(io.StringIO(body.decode("utf-8-sig"))))


def as_csv_text(value: object) -> str:
    return "" if value is None else str(value)


def section(user: User, name: str, params: dict) -> object:
    """One of the sections the page loads by itself (htmx)."""
    return client_for(user).get(
        reverse("inquiries:reports"), {**params, "section": name}, headers={"HX-Request": "true"}
    )


@pytest.fixture
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield NOW


def test_the_reports_page_needs_a_login(client):
    response = client.get(reverse("inquiries:reports"))
    assert response.status_code == 302 and "login" in response["Location"]
    assert token_client.__name__  # the API refuses anonymous callers too:
    from rest_framework.test import APIClient

    assert APIClient().get("/api/v1/reports/sla/").status_code in (401, 403)


@pytest.mark.parametrize("rollup", [False, True], ids=["live", "rollup"])
def test_the_page_the_csv_and_the_api_show_the_same_figures(history, manager, frozen, rollup):
    if rollup:
        refresh_rollups(now=NOW)
    page = client_for(manager).get(reverse("inquiries:reports"), PERIOD)
    assert page.status_code == 200
    page_rows = page.context["report"].sla.records()
    assert (page.context["report"].sla.as_of == NOW) is True

    downloaded = parse_csv(client_for(manager).get(reverse("inquiries:report_csv", args=["sla"]), PERIOD))
    api = token_client(manager).get("/api/v1/reports/sla/", {**PERIOD, "group_by": "day"})
    assert api.status_code == 200
    api_csv = parse_csv(token_client(manager).get("/api/v1/reports/sla/", {**PERIOD, "format": "csv"}))

    assert api.json()["rows"] == page_rows
    for rows in (downloaded, api_csv):
        assert rows == [{k: as_csv_text(v) for k, v in row.items()} for row in page_rows]
    assert any(row["met"] for row in page_rows)

    # The breakdown by agent on the page and the API's SLA report grouped by agent agree too.
    breakdowns = section(manager, "breakdowns", PERIOD).context["report"].breakdowns
    by_agent = {row["group"]: row for row in breakdowns["agent"].records()}
    api_agents = (
        token_client(manager).get("/api/v1/reports/sla/", {**PERIOD, "group_by": "agent"}).json()["rows"]
    )
    for row in api_agents:
        if row["clock_kind"] == "first_reply":
            assert by_agent[row["group"]]["first_reply_compliance_pct"] == row["compliance_pct"]
            assert by_agent[row["group"]]["first_reply_counted"] == row["counted"]


@pytest.mark.parametrize("dimension", ["agent", "team", "channel", "topic", "account"])
def test_the_pages_breakdowns_equal_their_csv_and_api_tables(history, manager, frozen, dimension):
    shown = section(manager, "breakdowns", PERIOD).context["report"].breakdowns[dimension].records()
    query = {**PERIOD, "group_by": dimension}
    downloaded = parse_csv(
        client_for(manager).get(reverse("inquiries:report_csv", args=["breakdown"]), query)
    )
    assert downloaded == [{k: as_csv_text(v) for k, v in row.items()} for row in shown]
    assert token_client(manager).get("/api/v1/reports/breakdown/", query).json()["rows"] == shown
    assert shown


def test_the_api_serves_every_table_with_the_page_filters(history, manager, frozen):
    api = token_client(manager)
    for table in ("durations", "histogram", "backlog", "oldest", "heatmap"):
        response = api.get(f"/api/v1/reports/{table}/", PERIOD)
        assert response.status_code == 200, table
        assert response.json()["rows"], table
    breakdown = api.get("/api/v1/reports/breakdown/", {**PERIOD, "group_by": "topic"}).json()
    # "Hello / Hi there": the shipped topic model files greetings as other, not as no topic
    assert {row["group_label"] for row in breakdown["rows"]} == {"Shipping", "Other"}
    high = api.get("/api/v1/reports/sla/", {**PERIOD, "group_by": "account", "priority": "high"}).json()
    assert sum(row["counted"] for row in high["rows"]) == 2  # the one high-priority inquiry: 2 clocks
    assert high["time_zone"] == "UTC" and high["hours"] == "business"
    assert api.get("/api/v1/reports/nonsense/").status_code == 404


@pytest.mark.parametrize("param", ["account", "team", "agent", "channel"])
def test_a_filter_naming_another_teams_rows_is_a_404(
    history, manager, outsider, other_team, other_channel, param
):
    foreign = {
        "account": other_channel.account_id,
        "team": other_team.pk,
        "agent": outsider.pk,
        "channel": other_channel.pk,
    }[param]
    assert client_for(manager).get(reverse("inquiries:reports"), {param: foreign}).status_code == 404
    assert (
        client_for(manager).get(reverse("inquiries:report_csv", args=["sla"]), {param: foreign}).status_code
        == 404
    )
    assert token_client(manager).get("/api/v1/reports/sla/", {param: foreign}).status_code == 404


def test_an_outsider_sees_only_their_own_accounts(history, outsider, frozen):
    rows = (
        token_client(outsider).get("/api/v1/reports/sla/", {**PERIOD, "group_by": "account"}).json()["rows"]
    )
    assert {row["group"] for row in rows} == {history["foreign"].account_id}
    page = client_for(outsider).get(reverse("inquiries:reports"), PERIOD)
    assert [a.name for a in page.context["form"].choices.accounts] == ["Team B shop"]


def test_bad_dates_are_a_400_with_the_reason(manager):
    response = client_for(manager).get(
        reverse("inquiries:reports"), {"from": "2026-03-10", "to": "2026-03-01"}
    )
    assert response.status_code == 400
    assert "The first day is after the last day." in response.content.decode()
    api = token_client(manager).get("/api/v1/reports/sla/", {"from": "2026-03-10", "to": "2026-03-01"})
    assert api.status_code == 400
    assert token_client(manager).get("/api/v1/reports/sla/", {"group_by": "hour"}).status_code == 400
    assert (
        token_client(manager)
        .get("/api/v1/reports/sla/", {"from": "2025-01-01", "to": "2026-03-01"})
        .status_code
        == 400
    )  # more than 400 days


def test_the_csv_neutralises_spreadsheet_formulas(channel, manager, agent, policy, frozen):
    customer(channel, NOW - timedelta(hours=2), sender="x@example.com", subject='=HYPERLINK("http://evil")')
    customer(channel, NOW - timedelta(hours=1), sender="@sum@example.com", subject="+1 -1")
    rows = parse_csv(client_for(manager).get(reverse("inquiries:report_csv", args=["oldest"])))
    assert [row["subject"] for row in rows] == ['\'=HYPERLINK("http://evil")', "'+1 -1"]
    assert rows[1]["customer"] == "'@sum@example.com"
    assert rows[0]["waiting_seconds"] == "7200"  # numbers stay numbers


def test_breakdown_tables_sort_by_any_column(history, manager, frozen):
    page = section(manager, "breakdowns", {**PERIOD, "sort_agent": "-first_reply_counted"})
    agent = next(b for b in page.context["breakdowns"] if b["dimension"] == "agent")
    counted = agent["table"].column("first_reply_counted")
    assert counted == sorted(counted, reverse=True)
    header = next(h for h in agent["headers"] if h["column"].key == "first_reply_counted")
    assert header["sort"] == "descending" and "sort_agent=first_reply_counted" in header["url"]
    html = page.content.decode()
    assert 'aria-sort="descending"' in html


def test_the_page_escapes_what_customers_wrote(channel, manager, policy, frozen):
    customer(channel, NOW - timedelta(hours=1), sender="x@example.com", subject="<script>alert(1)</script>")
    html = client_for(manager).get(reverse("inquiries:reports")).content.decode()
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_a_manager_subscribes_changes_and_stops_the_digest(manager, team, frozen):
    client = client_for(manager)
    form = {
        "frequency": "weekly",
        "hour": "7",
        "weekday": "4",
        "timezone": "Europe/Berlin",
        "teams": [team.pk],
    }
    assert client.post(reverse("inquiries:report_subscribe"), form).status_code == 302
    client.post(reverse("inquiries:report_subscribe"), {**form, "hour": "9"})
    subscription = m.ReportSubscription.objects.get(user=manager)
    assert (subscription.frequency, subscription.hour, subscription.weekday, subscription.timezone) == (
        "weekly",
        9,
        4,
        "Europe/Berlin",
    )
    assert list(subscription.teams.all()) == [team]
    page = client.get(reverse("inquiries:reports"))
    assert "Weekly at 09:00 Europe/Berlin" in " ".join(page.content.decode().split())
    client.post(reverse("inquiries:report_unsubscribe", args=[subscription.pk]))
    assert not m.ReportSubscription.objects.exists()


def test_a_manager_cannot_subscribe_to_another_teams_digest(manager, other_team):
    client_for(manager).post(
        reverse("inquiries:report_subscribe"),
        {"frequency": "daily", "hour": "7", "weekday": "0", "timezone": "UTC", "teams": [other_team.pk]},
    )
    assert not m.ReportSubscription.objects.exists()


def test_nobody_stops_another_users_digest(manager, agent):
    subscription = m.ReportSubscription.objects.create(user=agent)
    response = client_for(manager).post(reverse("inquiries:report_unsubscribe", args=[subscription.pk]))
    assert response.status_code == 404
    assert m.ReportSubscription.objects.filter(pk=subscription.pk).exists()


# --- query counts ----------------------------------------------------------------------------

# Every request: session, user, the five filter lists (accounts, teams, agents, channels, topics),
# the rollup state and the team memberships.
COMMON = 9
# The page: SLA by day, backlog, oldest waiting, the user's teams and digests.
PAGE_QUERIES = COMMON + 5
# The sections the page loads by itself: times (statistics and histogram in one pass);
# breakdowns (every dimension's medians at once, then five compliance counts); volume (the heatmap).
# From the rollups: the same, but the five compliance counts in one query.
SECTION_QUERIES = {"times": COMMON + 1, "breakdowns": COMMON + 6, "volume": COMMON + 1}
ROLLUP_SECTION_QUERIES = SECTION_QUERIES | {"breakdowns": COMMON + 2}
API_QUERIES = 8


def make_inquiries(channel: m.Channel, agent: object, count: int) -> None:
    for i in range(count):
        at = NOW - timedelta(hours=2 + i)
        inquiry = customer(channel, at, sender=f"c{i}@example.com")
        if i % 2:
            reply(inquiry, agent, at + timedelta(minutes=20 + i))


@pytest.mark.parametrize("count", [10, 100])
def test_the_page_and_the_api_run_the_same_queries_for_10_and_100_inquiries(
    channel, manager, agent, policy, count, django_assert_num_queries, frozen
):
    make_inquiries(channel, agent, count)
    client, api = client_for(manager), token_client(manager)
    client.get(reverse("inquiries:reports"))  # the session is loaded once before counting
    with django_assert_num_queries(PAGE_QUERIES):
        response = client.get(reverse("inquiries:reports"), {"hours": "calendar"})
    assert response.status_code == 200
    assert sum(row["counted"] for row in response.context["report"].sla.records()) >= count
    with django_assert_num_queries(API_QUERIES + 1):  # + the token
        assert api.get("/api/v1/reports/sla/", {"group_by": "agent"}).status_code == 200
    for name, queries in SECTION_QUERIES.items():
        with django_assert_num_queries(queries):
            part = client.get(reverse("inquiries:reports"), {"section": name}, headers={"HX-Request": "true"})
        assert part.status_code == 200 and f'id="section-{name}"' in part.content.decode()
    refresh_rollups(now=NOW)  # the same counts when the rollup answers (the breakdowns: fewer)
    with django_assert_num_queries(PAGE_QUERIES):
        assert client.get(reverse("inquiries:reports")).status_code == 200
    with django_assert_num_queries(ROLLUP_SECTION_QUERIES["breakdowns"]):
        client.get(reverse("inquiries:reports"), {"section": "breakdowns"}, headers={"HX-Request": "true"})


def test_a_section_opens_on_its_own_page_without_javascript(history, manager, frozen):
    client = client_for(manager)
    page = client.get(reverse("inquiries:reports"), PERIOD).content.decode()
    assert 'hx-get="/reports/?from=' in page and "section=breakdowns" in page
    alone = client.get(reverse("inquiries:reports"), {**PERIOD, "section": "volume"})
    assert alone.status_code == 200
    assert "<html" in alone.content.decode() and "Volume by weekday and hour" in alone.content.decode()
    assert client.get(reverse("inquiries:reports"), {"section": "nonsense"}).status_code == 404


def test_a_chat_message_without_a_subject_is_titled_by_its_first_words_on_the_page_and_in_the_csv(
    channel, manager, policy, frozen
):
    customer(
        channel,
        NOW - timedelta(hours=2),
        sender="chat@example.com",
        subject="",
        body_text="hi is my <b>parcel</b> coming today or tomorrow because I am away from Friday on",
    )
    title = "hi is my <b>parcel</b> coming today or tomorrow…"
    rows = parse_csv(client_for(manager).get(reverse("inquiries:report_csv", args=["oldest"])))
    assert [row["subject"] for row in rows] == [title]
    html = client_for(manager).get(reverse("inquiries:reports"), PERIOD).content.decode()
    assert "(no subject)" not in html
    assert "hi is my &lt;b&gt;parcel&lt;/b&gt; coming today or tomorrow…" in html  # inert
