"""Macros (issue 23 point 1): scoping, variables and gaps, actions on send, admin-free API,
hostile text, and the reply checks (point 3) on the page and the API reply path."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.test import Client
from django.urls import reverse

from inquiries import models as m
from inquiries.macro_text import render, unknown_variables
from inquiries.selectors.macros import macros_for
from inquiries.services import DomainError, RecordResult, ReplyChecksFailed, record_message, reply
from inquiries.services.macros import reply_with_macro, save_macro
from tests.conftest import token_client
from tests.factories import UserFactory, incoming

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)>'


def open_inquiry(channel: m.Channel, **overrides: object) -> m.Inquiry:
    result = record_message(channel=channel, incoming=incoming(received_at=T0, **overrides), now=T0)
    assert isinstance(result, RecordResult) and result.inquiry_id is not None
    return m.Inquiry.objects.get(pk=result.inquiry_id)


def macro(**fields: object) -> m.Macro:
    return m.Macro.objects.create(**{"name": "Where is my order", "body": "Hi {customer_name}", **fields})


@pytest.fixture
def amazon(account: m.Account) -> m.Account:
    account.marketplace = m.Marketplace.AMAZON
    account.save()
    return account


# --- variables ------------------------------------------------------------------------------


def test_variables_are_filled_and_a_missing_value_is_a_visible_gap_never_none() -> None:
    rendered = render(
        "Hi {customer_name}, order {order_id} ships as {tracking_number}. {agent_name}",
        {"customer_name": "Ana", "order_id": "", "tracking_number": None, "agent_name": "Alice"},
    )
    assert rendered.text == (
        "Hi Ana, order [[fill in: order id]] ships as [[fill in: tracking number]]. Alice"
    )
    assert rendered.gaps == ("order_id", "tracking_number")
    assert "None" not in rendered.text


def test_an_unknown_variable_is_a_gap_and_the_admin_refuses_it() -> None:
    assert render("Dear {custmer}", {}).text == "Dear [[fill in: custmer]]"
    assert unknown_variables("{custmer} {order_id}") == ["custmer"]


def test_a_reply_with_an_unfilled_gap_is_refused(channel, agent):
    inquiry = open_inquiry(channel)
    with pytest.raises(DomainError, match=r"Fill in the gaps.*\[\[fill in: order id\]\]"):
        reply(inquiry=inquiry, author=agent, body_text="Your order [[fill in: order id]] is late.")


# --- who sees which macro -------------------------------------------------------------------------


def test_personal_macros_are_their_owners_and_team_macros_their_teams(
    channel, agent, teammate, outsider, team, other_team
):
    inquiry = open_inquiry(channel)
    mine = macro(name="Mine", owner=agent)
    macro(name="Bob's", owner=teammate)
    ours = macro(name="Team A", team=team)
    macro(name="Team B", team=other_team)
    assert list(macros_for(agent, inquiry)) == [mine, ours]
    assert list(macros_for(outsider, inquiry)) == []


def test_an_inactive_macro_is_not_offered(channel, agent, team):
    inquiry = open_inquiry(channel)
    macro(team=team, is_active=False)
    assert list(macros_for(agent, inquiry)) == []


# --- actions on send -------------------------------------------------------------------------------


def test_sending_a_macro_applies_its_actions_as_the_same_events_as_manual_changes(channel, agent, team):
    inquiry = open_inquiry(channel)
    refund = m.Topic.objects.get(key="refund")
    used = macro(team=team, set_status=m.Status.PENDING, set_priority=m.Priority.HIGH, set_topic=refund)

    message = reply_with_macro(
        inquiry=inquiry, author=agent, body_text="Refund on its way.", macro=used, now=T0
    )

    inquiry.refresh_from_db()
    assert (inquiry.status, inquiry.priority, inquiry.topic) == ("pending", "high", refund)
    events = {e.kind: e for e in m.InquiryEvent.objects.filter(inquiry=inquiry, at=T0, actor=agent)}
    assert events[m.EventKind.REPLY_WRITTEN].data == {"macro": used.pk}
    assert events[m.EventKind.REPLY_WRITTEN].message == message
    assert events[m.EventKind.STATUS_CHANGED].data == {"from": "new", "to": "pending"}
    assert events[m.EventKind.PRIORITY_CHANGED].data == {"from": "normal", "to": "high"}
    assert events[m.EventKind.TOPIC_CHANGED].data["to"] == "refund"


def test_a_status_chosen_in_the_reply_box_wins_over_the_macros(channel, agent, team):
    inquiry = open_inquiry(channel)
    used = macro(team=team, set_status=m.Status.PENDING)
    reply_with_macro(inquiry=inquiry, author=agent, body_text="Done.", macro=used, status=m.Status.SOLVED)
    inquiry.refresh_from_db()
    assert inquiry.status == m.Status.SOLVED


# --- saving -------------------------------------------------------------------------------------------


def test_a_macro_without_a_team_is_personal_to_its_author(agent):
    saved = save_macro(macro=m.Macro(name="Thanks", body="Thanks, {customer_name}!"), author=agent)
    assert (saved.owner, saved.team) == (agent, None)


def test_saving_a_macro_with_an_unknown_variable_names_the_field(agent):
    with pytest.raises(DomainError) as caught:
        save_macro(macro=m.Macro(name="Typo", body="Hi {custmer_name}"), author=agent)
    assert caught.value.field == "body"
    assert "custmer_name" in caught.value.message


# --- the inquiry page -----------------------------------------------------------------------------


@pytest.fixture
def alice(agent) -> Client:
    client = Client()
    client.force_login(agent)
    return client


def test_the_picker_offers_macros_filled_in_with_hostile_text_inert(alice, channel, agent, team):
    inquiry = open_inquiry(channel, sender_name=HOSTILE, order_id="302-1234567-8912345")
    macro(
        name=f"Evil {HOSTILE}",
        body="Hi {customer_name}, order {order_id}, tracking {tracking_number}",
        team=team,
    )

    page = alice.get(reverse("inquiries:detail", args=[inquiry.pk])).content.decode()

    assert "<script>alert" not in page
    assert "onerror=alert(1)>" not in page
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page
    assert "order 302-1234567-8912345, tracking [[fill in: tracking number]]" in page


@pytest.mark.parametrize("count", [1, 40])
def test_the_inquiry_page_runs_the_same_queries_for_1_and_40_macros(
    alice, channel, agent, team, count, django_assert_num_queries
):
    inquiry = open_inquiry(channel)
    for i in range(count):
        macro(name=f"Macro {i}", team=team if i % 2 else None, owner=None if i % 2 else agent)
    # the 12 of tests/ui/test_queries.py; no linked order, so no tracking number query
    with django_assert_num_queries(12):
        response = alice.get(reverse("inquiries:detail", args=[inquiry.pk]))
    assert len(response.context["macros"]) == count


def test_posting_another_teams_macro_is_refused(alice, channel, other_team):
    inquiry = open_inquiry(channel)
    theirs = macro(team=other_team, set_status=m.Status.SOLVED)
    response = alice.post(
        reverse("inquiries:reply", args=[inquiry.pk]), {"body_text": "Hello", "macro": theirs.pk}
    )
    assert response.status_code == 400
    assert not m.Message.objects.filter(inquiry=inquiry, direction=m.Direction.OUTBOUND).exists()


def test_the_page_warns_about_amazon_rules_and_sends_once_confirmed(alice, channel, amazon):
    inquiry = open_inquiry(channel)
    url = reverse("inquiries:reply", args=[inquiry.pk])
    text = "Sorted! Please leave us a 5-star review at www.acme-gadgets.com"

    refused = alice.post(url, {"body_text": text})
    assert refused.status_code == 400
    assert [f.rule for f in refused.context["reply_findings"]] == ["external_link", "review_request"]
    assert not m.Message.objects.filter(inquiry=inquiry, direction=m.Direction.OUTBOUND).exists()

    sent = alice.post(url, {"body_text": text, "confirm": ["external_link", "review_request"]})
    assert sent.status_code == 302
    event = m.InquiryEvent.objects.get(inquiry=inquiry, kind=m.EventKind.REPLY_WRITTEN)
    assert event.data == {"confirmed_checks": ["external_link", "review_request"]}


def test_a_note_is_never_checked(channel, agent, amazon):
    inquiry = open_inquiry(channel)
    reply(
        inquiry=inquiry,
        author=agent,
        body_text="Customer wants www.acme.com; call +49 30 1234567",
        internal=True,
    )


def test_confirming_one_rule_does_not_confirm_another(channel, agent, amazon):
    inquiry = open_inquiry(channel)
    with pytest.raises(ReplyChecksFailed) as caught:
        reply(
            inquiry=inquiry,
            author=agent,
            body_text="Use coupon THANKS10, or mail me at bob@acme.com",
            confirmed_checks=["marketing"],
        )
    assert [f.rule for f in caught.value.findings] == ["contact_details"]


# --- the API ------------------------------------------------------------------------------------------


def test_the_api_reply_path_answers_400_with_the_rule_names_until_confirmed(api, channel, amazon):
    inquiry = open_inquiry(channel)
    url = f"/api/v1/inquiries/{inquiry.pk}/reply/"
    text = "Mit dem Gutscheincode DANKE15 sparen Sie 15 % Rabatt beim nächsten Kauf."

    refused = api.post(url, {"body_text": text}, format="json")
    assert refused.status_code == 400
    assert refused.json()["reply_checks"] == ["marketing"]
    assert refused.json()["findings"][0]["excerpt"] == "Gutscheincode"

    sent = api.post(url, {"body_text": text, "confirm": ["marketing"]}, format="json")
    assert sent.status_code == 201
    assert m.Message.objects.get(pk=sent.json()["id"]).body_text == text


def test_the_api_reply_path_applies_a_macro_and_hides_other_inquiries(api, channel, other_channel, team):
    inquiry = open_inquiry(channel)
    used = macro(team=team, set_priority=m.Priority.URGENT)
    sent = api.post(
        f"/api/v1/inquiries/{inquiry.pk}/reply/", {"body_text": "On it.", "macro": used.pk}, format="json"
    )
    assert sent.status_code == 201
    inquiry.refresh_from_db()
    assert inquiry.priority == m.Priority.URGENT
    theirs = open_inquiry(other_channel)
    assert (
        api.post(f"/api/v1/inquiries/{theirs.pk}/reply/", {"body_text": "Hi"}, format="json").status_code
        == 404
    )


@pytest.fixture
def staff_agent(agent):
    from django.contrib.auth.models import Permission

    agent.is_staff = True
    agent.save()
    agent.user_permissions.add(*Permission.objects.filter(codename__endswith="_macro"))
    return agent


def test_the_macro_api_lists_own_and_team_macros_only(staff_agent, teammate, team, other_team):
    mine = macro(name="Mine", owner=staff_agent)
    macro(name="Bob's", owner=teammate)
    ours = macro(name="Ours", team=team)
    macro(name="Theirs", team=other_team)
    listed = token_client(staff_agent).get("/api/v1/macros/")
    assert listed.status_code == 200
    assert [row["id"] for row in listed.json()["results"]] == [mine.pk, ours.pk]


def test_the_macro_api_creates_personal_macros_and_refuses_another_teams(staff_agent, other_team):
    client = token_client(staff_agent)
    created = client.post("/api/v1/macros/", {"name": "Thanks", "body": "Thanks {agent_name}"}, format="json")
    assert created.status_code == 201
    assert created.json()["owner"] == staff_agent.pk
    refused = client.post("/api/v1/macros/", {"name": "X", "body": "Y", "team": other_team.pk}, format="json")
    assert refused.status_code == 400
    assert "team" in refused.json()
    typo = client.post("/api/v1/macros/", {"name": "X", "body": "Hi {nmae}"}, format="json")
    assert typo.status_code == 400
    assert "nmae" in typo.json()["body"][0]


@pytest.mark.parametrize("count", [3, 60])
def test_the_macro_list_keeps_its_query_count(superuser, team, count, django_assert_num_queries):
    for i in range(count):
        macro(name=f"Macro {i}", team=team)
    client = token_client(superuser)
    # token, the page of macros (the superuser needs no scoping subqueries)
    with django_assert_num_queries(2):
        response = client.get("/api/v1/macros/")
    assert len(response.json()["results"]) == count


def test_a_staff_users_macro_list_keeps_its_query_count(staff_agent, team, django_assert_num_queries):
    for i in range(30):
        macro(name=f"Macro {i}", team=team if i % 2 else None, owner=None if i % 2 else staff_agent)
    UserFactory(username="someone")
    client = token_client(staff_agent)
    with django_assert_num_queries(4):  # token, permissions (user, groups), the page
        response = client.get("/api/v1/macros/")
    assert len(response.json()["results"]) == 30


# --- the admin ------------------------------------------------------------------------------------------


def test_the_admin_lists_own_and_team_macros_and_saves_personal_ones_for_their_author(
    staff_agent, teammate, team, other_team
):
    macro(name="Bob's private", owner=teammate)
    macro(name="Team B's", team=other_team)
    macro(name="Team A's", team=team)
    client = Client()
    client.force_login(staff_agent)

    listing = client.get("/admin/inquiries/macro/").content.decode()
    assert "Team A&#x27;s" in listing
    assert "Bob&#x27;s private" not in listing and "Team B&#x27;s" not in listing

    added = client.post(
        "/admin/inquiries/macro/add/",
        {"name": "Delay", "body": "Sorry {customer_name}, order {order_id} is late.", "is_active": "on"},
    )
    assert added.status_code == 302
    assert m.Macro.objects.get(name="Delay").owner == staff_agent

    typo = client.post(
        "/admin/inquiries/macro/add/", {"name": "Typo", "body": "Hi {nmae}", "is_active": "on"}
    )
    assert typo.status_code == 200
    assert "Unknown variable(s): nmae" in typo.content.decode()


def test_the_macro_api_stores_hostile_text_faithfully(staff_agent):
    client = token_client(staff_agent)
    body = f"Hi {{customer_name}} {HOSTILE}"
    created = client.post("/api/v1/macros/", {"name": HOSTILE, "body": body}, format="json")
    assert created.status_code == 201
    stored = m.Macro.objects.get(pk=created.json()["id"])
    assert (stored.name, stored.body) == (HOSTILE, body)
    assert client.get(f"/api/v1/macros/{stored.pk}/").json()["body"] == body
