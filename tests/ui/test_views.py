"""The agent's queue and inquiry pages, through Django's test client."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from inquiries import models as m
from inquiries import services
from inquiries.ingestion.types import IncomingAttachment
from inquiries.selectors import queue
from inquiries.selectors.search import search
from inquiries.services import delivery
from tests import factories
from tests.ui.conftest import inbound

pytestmark = pytest.mark.django_db

on_postgres = pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL only")


def client_for(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def queue_ids(response: object) -> list[int]:
    return [row.pk for row in response.context["rows"]]  # type: ignore[attr-defined]


@pytest.fixture
def alice(agent: User) -> Client:
    return client_for(agent)


# --- access -----------------------------------------------------------------------------


def test_pages_redirect_anonymous_visitors_to_the_login(channel, policy):
    inquiry = inbound(channel)
    client = Client()
    for url in (reverse("inquiries:queue"), reverse("inquiries:detail", args=[inquiry.pk])):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("login") + "?next=")
    response = client.post(reverse("inquiries:claim", args=[inquiry.pk]))
    assert response.status_code == 302
    assert m.Inquiry.objects.get(pk=inquiry.pk).assignee is None


def test_the_login_page_logs_an_agent_in(agent):
    client = Client()
    page = client.get(reverse("login"))
    assert b'<label for="id_username">' in page.content
    response = client.post(reverse("login"), {"username": "alice", "password": "password"})
    assert response.status_code == 302
    assert response["Location"] == reverse("inquiries:queue")


def _other_teams_inquiry(other_channel: m.Channel) -> tuple[m.Inquiry, m.Attachment]:
    inquiry = inbound(
        other_channel,
        sender_address="someone@example.org",
        attachments=(IncomingAttachment("invoice.pdf", "application/pdf", 3, b"PDF"),),
    )
    return inquiry, m.Attachment.objects.get(message__inquiry=inquiry)


ACTIONS = [
    ("get", "inquiries:detail", {}),
    ("post", "inquiries:reply", {"body_text": "Hello"}),
    ("post", "inquiries:note", {"body_text": "Psst"}),
    ("post", "inquiries:update", {"status": "solved", "priority": "high", "topic": "", "assignee": ""}),
    ("post", "inquiries:claim", {}),
    ("post", "inquiries:no_response_needed", {}),
]


@pytest.mark.parametrize(("method", "name", "data"), ACTIONS)
def test_another_teams_inquiry_is_a_404_like_a_missing_one(alice, other_channel, policy, method, name, data):
    inquiry, _ = _other_teams_inquiry(other_channel)
    events_before = m.InquiryEvent.objects.filter(inquiry=inquiry).count()
    for pk in (inquiry.pk, inquiry.pk + 1000):
        response = getattr(alice, method)(reverse(name, args=[pk]), data)
        assert response.status_code == 404
    assert m.InquiryEvent.objects.filter(inquiry=inquiry).count() == events_before
    assert m.Message.objects.filter(inquiry=inquiry).count() == 1


def test_another_teams_attachment_is_a_404(alice, other_channel, policy, outsider):
    inquiry, attachment = _other_teams_inquiry(other_channel)
    url = reverse("inquiries:attachment", args=[inquiry.pk, attachment.pk])
    assert alice.get(url).status_code == 404
    assert client_for(outsider).get(url).status_code == 200


def test_bulk_actions_on_another_teams_inquiries_are_a_404(alice, other_channel, policy):
    inquiry, _ = _other_teams_inquiry(other_channel)
    response = alice.post(reverse("inquiries:bulk"), {"ids": [inquiry.pk], "action": "status:solved"})
    assert response.status_code == 404
    assert m.Inquiry.objects.get(pk=inquiry.pk).status == m.Status.NEW


def test_the_queue_never_shows_another_teams_inquiries(alice, channel, other_channel, policy):
    mine = inbound(channel)
    _other_teams_inquiry(other_channel)
    response = alice.get(reverse("inquiries:queue"))
    assert queue_ids(response) == [mine.pk]
    # Another team's account as a filter value is not a choice: it is ignored, never honoured.
    response = alice.get(reverse("inquiries:queue"), {"account": other_channel.account_id})
    assert queue_ids(response) == [mine.pk]


def test_a_superuser_sees_every_account(superuser, channel, other_channel, policy):
    mine = inbound(channel)
    theirs, _ = _other_teams_inquiry(other_channel)
    response = client_for(superuser).get(reverse("inquiries:queue"))
    assert sorted(queue_ids(response)) == sorted([mine.pk, theirs.pk])


POSTS = [
    ("inquiries:reply", {"body_text": "Hello"}),
    ("inquiries:note", {"body_text": "Psst"}),
    ("inquiries:update", {"status": "solved", "priority": "high", "topic": "", "assignee": ""}),
    ("inquiries:claim", {}),
    ("inquiries:no_response_needed", {}),
]


@pytest.mark.parametrize(("name", "data"), POSTS)
def test_every_post_needs_a_csrf_token(agent, channel, policy, name, data):
    inquiry = inbound(channel)
    client = Client(enforce_csrf_checks=True)
    client.force_login(agent)
    assert client.post(reverse(name, args=[inquiry.pk]), data).status_code == 403
    response = client.post(reverse("inquiries:bulk"), {"ids": [inquiry.pk], "action": "status:solved"})
    assert response.status_code == 403
    assert m.InquiryEvent.objects.filter(inquiry=inquiry, actor=agent).count() == 0
    # With the token from the page, the same POST goes through.
    client.get(reverse("inquiries:detail", args=[inquiry.pk]))
    token = client.cookies["csrftoken"].value
    assert (
        client.post(reverse(name, args=[inquiry.pk]), {**data, "csrfmiddlewaretoken": token}).status_code
        == 302
    )


def test_pages_only_answer_their_methods(alice, channel, policy):
    inquiry = inbound(channel)
    assert alice.get(reverse("inquiries:claim", args=[inquiry.pk])).status_code == 405
    assert alice.post(reverse("inquiries:queue")).status_code == 405


# --- queue order, filters, search, pagination ----------------------------------------------


def test_the_queue_puts_breached_first_then_at_risk_then_soonest_due_then_no_clock(
    alice, channel, frozen_now
):
    now = frozen_now
    no_clock_old = inbound(channel, sender_address="n1@example.com", ago=timedelta(hours=5), now=now)
    no_clock_new = inbound(channel, sender_address="n2@example.com", ago=timedelta(hours=4), now=now)
    factories.policy_with_targets(first_reply=3600, next_reply=7200, resolution=86400)
    overdue_1h = inbound(channel, sender_address="a@example.com", ago=timedelta(hours=2), now=now)
    overdue_2h = inbound(channel, sender_address="b@example.com", ago=timedelta(hours=3), now=now)
    at_risk = inbound(channel, sender_address="c@example.com", ago=timedelta(minutes=50), now=now)
    due_in_50m = inbound(channel, sender_address="d@example.com", ago=timedelta(minutes=10), now=now)
    due_in_55m = inbound(channel, sender_address="e@example.com", ago=timedelta(minutes=5), now=now)

    response = alice.get(reverse("inquiries:queue"))

    assert queue_ids(response) == [
        overdue_2h.pk,
        overdue_1h.pk,
        at_risk.pk,
        due_in_50m.pk,
        due_in_55m.pk,
        no_clock_new.pk,
        no_clock_old.pk,
    ]
    rows = {row.pk: row for row in response.context["rows"]}
    assert rows[overdue_2h.pk].badge.label == "Breached"
    assert rows[at_risk.pk].badge.label == "At risk"
    assert rows[due_in_50m.pk].badge.label == "On track"
    assert rows[no_clock_new.pk].badge.label == "No clock"
    assert rows[overdue_2h.pk].due_label == "overdue by 2h 0m"
    assert rows[due_in_50m.pk].due_label == "50m left"
    html = response.content.decode()
    assert 'data-due="' in html
    assert "Breached" in html and "At risk" in html and "On track" in html


def test_a_clock_past_due_counts_as_breached_before_the_sweep_marks_it(alice, channel, policy):
    inquiry = inbound(channel, ago=timedelta(minutes=30))
    m.Clock.objects.filter(inquiry=inquiry).update(due_at=timezone.now() - timedelta(minutes=1))
    services.clocks.refresh_urgency([inquiry.pk])  # what the clock service does after moving a clock
    response = alice.get(reverse("inquiries:queue"), {"clock": "breached"})
    assert queue_ids(response) == [inquiry.pk]
    assert m.Clock.objects.filter(inquiry=inquiry, state=m.ClockState.BREACHED).count() == 0


def test_the_marketplace_clock_has_its_own_column(alice, policy, team, frozen_now):
    amazon = factories.AccountFactory(name="Acme on Amazon", marketplace=m.Marketplace.AMAZON)
    team.accounts.add(amazon)
    channel = factories.ChannelFactory(account=amazon, slug="amazon")
    inquiry = inbound(channel, ago=timedelta(hours=1))
    row = alice.get(reverse("inquiries:queue")).context["rows"][0]
    market = m.Clock.objects.get(inquiry=inquiry, kind=m.ClockKind.MARKETPLACE_REPLY)
    assert row.market_due == market.due_at
    assert row.market_label == "23h 0m left"


def test_filters_narrow_the_queue(alice, agent, teammate, channel, policy, team):
    now = timezone.now()
    quality = m.Topic.objects.get_or_create(key="quality", defaults={"name": "Product quality"})[0]
    second_channel = factories.ChannelFactory(account=channel.account, slug="shop-a-mail", name="Mail")
    amazon = factories.AccountFactory(name="Acme on Amazon", marketplace=m.Marketplace.AMAZON)
    team.accounts.add(amazon)
    amazon_channel = factories.ChannelFactory(account=amazon, slug="amazon")

    breached = inbound(channel, sender_address="a@example.com", ago=timedelta(hours=2), now=now)
    at_risk = inbound(channel, sender_address="b@example.com", ago=timedelta(minutes=50), now=now)
    mine = inbound(second_channel, sender_address="c@example.com", now=now)
    services.assign(inquiry=mine, assignee=agent, actor=agent)
    bobs = inbound(channel, sender_address="d@example.com", now=now)
    services.assign(inquiry=bobs, assignee=teammate, actor=teammate)
    urgent = inbound(channel, sender_address="e@example.com", now=now)
    services.change_priority(inquiry=urgent, priority=m.Priority.URGENT, actor=agent)
    tagged = inbound(channel, sender_address="f@example.com", now=now)
    services.change_topic(inquiry=tagged, topic=quality, actor=agent)
    pending = inbound(channel, sender_address="g@example.com", now=now)
    services.change_status(inquiry=pending, status=m.Status.PENDING, actor=agent)
    solved = inbound(channel, sender_address="h@example.com", now=now)
    services.change_status(inquiry=solved, status=m.Status.SOLVED, actor=agent)
    on_amazon = inbound(amazon_channel, sender_address="i@example.com", now=now)

    def shown(**params: object) -> set[int]:
        return set(queue_ids(alice.get(reverse("inquiries:queue"), params)))

    everything_open = {
        breached.pk,
        at_risk.pk,
        mine.pk,
        bobs.pk,
        urgent.pk,
        tagged.pk,
        pending.pk,
        on_amazon.pk,
    }
    assert shown() == everything_open
    assert shown(status="all") == everything_open | {solved.pk}
    assert shown(status="solved") == {solved.pk}
    assert shown(status="pending") == {pending.pk}
    assert shown(clock="breached") == {breached.pk}
    assert shown(clock="at_risk") == {at_risk.pk}
    assert shown(assignee="me") == {mine.pk}
    assert shown(assignee="none") == everything_open - {mine.pk, bobs.pk}
    assert shown(priority="urgent") == {urgent.pk}
    assert shown(topic="quality") == {tagged.pk}
    # "Hello / Hi there" is a greeting: the shipped topic model files it as other
    assert shown(topic="other") == everything_open - {tagged.pk}
    assert shown(topic="none") == set()
    assert shown(channel=second_channel.pk) == {mine.pk}
    assert shown(account=amazon.pk) == {on_amazon.pk}
    assert shown(marketplace="amazon", assignee="none") == {on_amazon.pk}
    assert shown(assignee="me", account=amazon.pk) == set()
    # A value that is not a choice is ignored rather than failing the page.
    assert shown(priority="enormous") == everything_open


def test_presets_are_links_to_filters_and_mark_the_current_one(alice, channel, policy):
    inbound(channel)
    html = alice.get(
        reverse("inquiries:queue"), {"assignee": "none", "marketplace": "amazon"}
    ).content.decode()
    assert '<a href="?assignee=none&amp;marketplace=amazon" aria-current="page">Unassigned Amazon</a>' in html
    assert '<a href="?assignee=me">My open</a>' in html
    assert '<a href="?clock=breached">Breached</a>' in html
    assert "Bookmark the page" in html


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("parcel", "body"),  # a word of the message body
        ("Refund", "subject"),  # a word of the subject, any case
        ("402-1234567-7654321", "order"),  # an Amazon order id, whole
        ("jane@example.net", "customer"),  # the customer's address
        ("Dupont", "customer"),  # the customer's name
        ("kettle broken", "body"),  # every word must match
    ],
)
def test_search_covers_subject_body_customer_and_order_id(alice, channel, policy, query, expected):
    made = {
        "body": inbound(
            channel,
            sender_address="x@example.com",
            subject="Question",
            body_text="My parcel never came. The kettle arrived broken.",
        ),
        "subject": inbound(channel, sender_address="y@example.com", subject="refund please", body_text="Hi"),
        "order": inbound(
            channel,
            sender_address="z@example.com",
            subject="Order",
            body_text="Hi",
            order_id="402-1234567-7654321",
        ),
        "customer": inbound(
            channel,
            sender_address="jane@example.net",
            sender_name="Jane Dupont",
            subject="Hello",
            body_text="Hi",
        ),
    }
    response = alice.get(reverse("inquiries:queue"), {"q": query})
    assert queue_ids(response) == [made[expected].pk]


def test_search_matches_word_prefixes_and_ignores_tsquery_syntax(alice, channel, policy):
    inquiry = inbound(channel, subject="Damaged packaging", body_text="The box was crushed")
    assert queue_ids(alice.get(reverse("inquiries:queue"), {"q": "packag"})) == [inquiry.pk]
    for hostile in ("!!! & | :*", "'", "crush' | 'x", "(box"):
        assert alice.get(reverse("inquiries:queue"), {"q": hostile}).status_code == 200


@on_postgres
def test_search_on_postgres_uses_the_gin_indexes(agent, channel, policy):
    inbound(channel, subject="Damaged packaging")
    # The search predicate alone: an order id (b-tree) or the document (GIN), as a BitmapOr.
    queryset = search(m.Inquiry.objects.all(), "packaging")
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        sql, params = queryset.query.sql_with_params()
        cursor.execute(f"EXPLAIN {sql}", params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "inquiry_search_document_gin" in plan, plan


def test_pages_are_keyset_paginated_without_offset(alice, agent, channel, policy, monkeypatch):
    monkeypatch.setattr(queue, "QUEUE_PAGE_SIZE", 3)
    now = timezone.now()
    same_time = now - timedelta(minutes=10)
    made = [
        inbound(channel, sender_address=f"c{i}@example.com", received_at=same_time, now=now) for i in range(4)
    ]
    made += [
        inbound(channel, sender_address=f"d{i}@example.com", ago=timedelta(minutes=i), now=now)
        for i in range(4)
    ]

    seen: list[int] = []
    url = reverse("inquiries:queue")
    params: dict[str, str] = {"status": ""}
    with CaptureQueriesContext(connection) as queries:
        while True:
            response = alice.get(url, params)
            seen += queue_ids(response)
            if not response.context["next_query"]:
                break
            params = dict(pair.split("=", 1) for pair in response.context["next_query"].split("&"))
    assert sorted(seen) == sorted(i.pk for i in made)
    assert len(seen) == len(set(seen))
    assert not any("OFFSET" in q["sql"].upper() for q in queries.captured_queries)
    # The same order as one big page.
    everything = queue.queue_page(agent, queue.QueueFilters(), now=timezone.now(), size=100)
    assert seen == [row.pk for row in everything.rows]


def test_a_malformed_cursor_shows_the_first_page(alice, channel, policy):
    inquiry = inbound(channel)
    for token in ("garbage", "9.1.2.3", "0.x.1.2", "1.-.99999999999999999999999.4"):
        response = alice.get(reverse("inquiries:queue"), {"after": token})
        assert response.status_code == 200
        assert queue_ids(response) == [inquiry.pk]


def test_an_htmx_poll_gets_only_the_rows_with_the_same_filters(alice, agent, channel, policy):
    mine = inbound(channel, sender_address="a@example.com")
    services.assign(inquiry=mine, assignee=agent, actor=agent)
    inbound(channel, sender_address="b@example.com")
    response = alice.get(reverse("inquiries:queue"), {"assignee": "me"}, headers={"HX-Request": "true"})
    assert response.templates[0].name == "inquiries/_rows.html"
    html = response.content.decode()
    assert "<html" not in html and "<tbody" not in html
    assert html.count("<tr ") == 1
    assert f'data-id="{mine.pk}"' in html


def test_the_queue_polls_every_15_seconds_and_carries_keyboard_markup(alice, channel, policy):
    inquiry = inbound(channel)
    html = alice.get(reverse("inquiries:queue")).content.decode()
    assert 'hx-trigger="every 15s"' in html
    assert 'hx-include="#filters"' in html
    assert 'id="rows"' in html
    assert f'data-href="{reverse("inquiries:detail", args=[inquiry.pk])}"' in html
    assert f'data-claim-url="{reverse("inquiries:claim", args=[inquiry.pk])}"' in html
    assert 'class="row-link"' in html
    assert 'id="id_q"' in html and 'type="search"' in html
    assert '<form id="claim-form"' in html
    assert "<kbd>j</kbd>" in html and "<kbd>/</kbd>" in html
    assert "/static/vendor/htmx/htmx.min.js" in html and "/static/js/app.js" in html
    assert "https://" not in html  # no CDN
    assert '<label for="id_status">' in html


# --- bulk actions -----------------------------------------------------------------------


def test_bulk_actions_go_through_the_services(alice, agent, teammate, channel, other_channel, policy):
    quality = m.Topic.objects.get_or_create(key="quality", defaults={"name": "Product quality"})[0]
    first = inbound(channel, sender_address="a@example.com")
    second = inbound(channel, sender_address="b@example.com")
    theirs, _ = _other_teams_inquiry(other_channel)
    ids = [first.pk, second.pk, theirs.pk]
    url = reverse("inquiries:bulk")

    response = alice.post(
        url, {"ids": ids, "quick": "assign:me", "query": "assignee=none&bogus=1"}, follow=True
    )
    assert response.redirect_chain[-1][0] == reverse("inquiries:queue") + "?assignee=none"
    assert "Updated 2 inquiries." in response.content.decode()
    assert {i.assignee_id for i in m.Inquiry.objects.filter(pk__in=[first.pk, second.pk])} == {agent.pk}
    assert m.Inquiry.objects.get(pk=theirs.pk).assignee_id is None

    alice.post(url, {"ids": ids, "action": f"assign:{teammate.pk}"})
    assert {i.assignee_id for i in m.Inquiry.objects.filter(pk__in=[first.pk, second.pk])} == {teammate.pk}
    alice.post(url, {"ids": ids, "action": "status:pending"})
    alice.post(url, {"ids": ids, "action": "priority:high"})
    alice.post(url, {"ids": ids, "action": "topic:quality"})
    for inquiry in m.Inquiry.objects.filter(pk__in=[first.pk, second.pk]):
        assert (inquiry.status, inquiry.priority, inquiry.topic_id) == ("pending", "high", quality.pk)
        kinds = set(
            m.InquiryEvent.objects.filter(inquiry=inquiry, actor=agent).values_list("kind", flat=True)
        )
        assert {"assigned", "status_changed", "priority_changed", "topic_changed"} <= kinds
    assert m.Inquiry.objects.get(pk=theirs.pk).status == m.Status.NEW
    alice.post(url, {"ids": ids, "action": "assign:none"})
    assert m.Inquiry.objects.filter(pk__in=[first.pk, second.pk], assignee__isnull=True).count() == 2


def test_a_bulk_action_needs_an_action_and_a_selection(alice, channel, policy):
    inquiry = inbound(channel)
    response = alice.post(reverse("inquiries:bulk"), {"ids": [inquiry.pk], "action": ""}, follow=True)
    assert "Choose an action." in response.content.decode()
    response = alice.post(reverse("inquiries:bulk"), {"action": "status:solved"}, follow=True)
    assert "Select at least one inquiry." in response.content.decode()
    response = alice.post(
        reverse("inquiries:bulk"), {"ids": [inquiry.pk], "action": "status:exploded"}, follow=True
    )
    assert "Select a valid choice" in response.content.decode()
    assert m.Inquiry.objects.get(pk=inquiry.pk).status == m.Status.NEW


def test_nobody_is_assigned_an_inquiry_they_cannot_see(agent, channel, other_channel, policy, other_team):
    # Maria works both teams; Charlie only team B.
    maria = factories.UserFactory(username="maria2")
    m.Membership.objects.create(team=agent.teams.get(), user=maria)
    m.Membership.objects.create(team=other_team, user=maria)
    charlie = factories.UserFactory(username="charlie2")
    m.Membership.objects.create(team=other_team, user=charlie)
    ours = inbound(channel)
    theirs, _ = _other_teams_inquiry(other_channel)
    response = client_for(maria).post(
        reverse("inquiries:bulk"),
        {"ids": [ours.pk, theirs.pk], "action": f"assign:{charlie.pk}"},
        follow=True,
    )
    assert f"#{ours.pk}: charlie2 does not work this inquiry&#x27;s account." in response.content.decode()
    assert m.Inquiry.objects.get(pk=ours.pk).assignee_id is None
    assert m.Inquiry.objects.get(pk=theirs.pk).assignee_id == charlie.pk


# --- inquiry page -------------------------------------------------------------------------


def test_the_inquiry_page_shows_thread_clocks_customer_and_order(alice, channel, policy):
    account = channel.account
    account.timezone = "Europe/Berlin"
    account.save()
    earlier = inbound(channel, sender_address="jane@example.net", subject="Earlier", ago=timedelta(days=3))
    services.change_status(inquiry=earlier, status=m.Status.SOLVED, actor=None)
    inquiry = inbound(
        channel,
        sender_address="jane@example.net",
        sender_name="Jane",
        subject="Broken kettle",
        body_text="It <b>broke</b>\nSecond line",
        body_html="<p>It <b>broke</b></p>",
        order_id="O-77",
        sku="KET-1",
        attachments=(IncomingAttachment("photo.jpg", "image/jpeg", 4, b"JPEG"),),
    )
    response = alice.get(reverse("inquiries:detail", args=[inquiry.pk]))
    html = response.content.decode()
    assert response.status_code == 200
    assert "It &lt;b&gt;broke&lt;/b&gt;\nSecond line" in html  # text, escaped
    assert 'sandbox="" ' in html and 'srcdoc="&lt;p&gt;It &lt;b&gt;broke&lt;/b&gt;&lt;/p&gt;"' in html
    assert "O-77" in html and "KET-1" in html
    assert "photo.jpg" in html
    assert f'href="{reverse("inquiries:detail", args=[earlier.pk])}"' in html
    assert "First reply" in html and "Resolution" in html
    assert "Europe/Berlin" in html and " UTC" in html
    assert "data-local" in html
    assert "Inquiry opened" in html and "Clock started: First reply" in html


def test_a_reply_stops_the_first_reply_clock_once_delivered_and_can_set_a_status(
    alice, agent, channel, policy
):
    inquiry = inbound(channel)
    response = alice.post(
        reverse("inquiries:reply", args=[inquiry.pk]), {"body_text": "On its way!", "status": "pending"}
    )
    assert response.status_code == 302
    first = m.Clock.objects.get(inquiry=inquiry, kind=m.ClockKind.FIRST_REPLY)
    assert first.state == m.ClockState.RUNNING  # written, not delivered yet
    inquiry.refresh_from_db()
    assert inquiry.status == m.Status.PENDING
    reply = m.Message.objects.get(inquiry=inquiry, direction=m.Direction.OUTBOUND)
    assert (reply.author, reply.body_text) == (agent, "On its way!")
    html = alice.get(reverse("inquiries:detail", args=[inquiry.pk])).content.decode()
    assert "Reply not delivered yet" in html and "waiting for the integration" in html
    delivery.accept_reply(message_id=reply.pk, at=timezone.now())
    first.refresh_from_db()
    assert first.state == m.ClockState.MET
    html = alice.get(reverse("inquiries:detail", args=[inquiry.pk])).content.decode()
    assert "Met" in html and "On its way!" in html and "Reply not delivered yet" not in html


def test_an_internal_note_never_stops_a_clock(alice, channel, policy):
    inquiry = inbound(channel)
    alice.post(reverse("inquiries:note", args=[inquiry.pk]), {"body_text": "Check the warehouse"})
    note = m.Message.objects.get(inquiry=inquiry, direction=m.Direction.NOTE)
    assert note.body_text == "Check the warehouse"
    assert m.Clock.objects.get(inquiry=inquiry, kind=m.ClockKind.FIRST_REPLY).state == m.ClockState.RUNNING
    assert "Internal note" in alice.get(reverse("inquiries:detail", args=[inquiry.pk])).content.decode()


def test_an_empty_reply_is_refused_with_the_form_shown_again(alice, channel, policy):
    inquiry = inbound(channel)
    response = alice.post(reverse("inquiries:reply", args=[inquiry.pk]), {"body_text": "   "})
    assert response.status_code == 400
    assert "The reply is empty." in response.content.decode()
    assert not m.Message.objects.filter(inquiry=inquiry, direction=m.Direction.OUTBOUND).exists()


def test_properties_change_through_the_services(alice, agent, teammate, channel, policy):
    m.Topic.objects.get_or_create(key="delivery", defaults={"name": "Late or no delivery"})
    inquiry = inbound(channel)
    data = {"status": "open", "priority": "urgent", "topic": "delivery", "assignee": teammate.pk}
    response = alice.post(reverse("inquiries:update", args=[inquiry.pk]), data)
    assert response.status_code == 302
    inquiry.refresh_from_db()
    assert (inquiry.status, inquiry.priority, inquiry.topic.key, inquiry.assignee) == (
        "open",
        "urgent",
        "delivery",
        teammate,
    )
    assert inquiry.topic_source == "agent"
    kinds = set(m.InquiryEvent.objects.filter(inquiry=inquiry, actor=agent).values_list("kind", flat=True))
    assert {"status_changed", "priority_changed", "topic_changed", "assigned"} <= kinds
    html = alice.get(reverse("inquiries:detail", args=[inquiry.pk])).content.decode()
    assert "Assigned to bob" in html and "Priority changed: Normal → Urgent" in html


def test_a_property_change_the_services_refuse_changes_nothing_and_says_why(
    alice, teammate, channel, policy, monkeypatch
):
    from inquiries import services

    def refuse(**kwargs):
        raise services.DomainError("bob does not work this inquiry's account.", field="assignee")

    monkeypatch.setattr(services, "assign", refuse)
    inquiry = inbound(channel)
    data = {"status": "open", "priority": "urgent", "topic": "", "assignee": teammate.pk}
    response = alice.post(reverse("inquiries:update", args=[inquiry.pk]), data, follow=True)
    assert response.status_code == 200
    assert "Nothing changed: bob does not work this inquiry&#x27;s account." in response.content.decode()
    inquiry.refresh_from_db()
    assert (inquiry.priority, inquiry.assignee) == ("normal", None)  # the priority went back too


def test_a_claim_leaves_one_owner_and_names_them_to_the_other_agent(alice, teammate, agent, channel, policy):
    inquiry = inbound(channel)
    response = alice.post(reverse("inquiries:claim", args=[inquiry.pk]), follow=True)
    assert f"#{inquiry.pk} is yours." in response.content.decode()
    response = client_for(teammate).post(reverse("inquiries:claim", args=[inquiry.pk]), follow=True)
    assert "Already claimed by alice." in response.content.decode()
    assert m.Inquiry.objects.get(pk=inquiry.pk).assignee == agent


def test_a_claim_from_the_queue_returns_to_the_queue(alice, channel, policy):
    inquiry = inbound(channel)
    response = alice.post(reverse("inquiries:claim", args=[inquiry.pk]), {"next": "/?assignee=none"})
    assert response["Location"] == "/?assignee=none"
    response = alice.post(reverse("inquiries:claim", args=[inquiry.pk]), {"next": "https://evil.example/"})
    assert response["Location"] == reverse("inquiries:detail", args=[inquiry.pk])


def test_no_response_needed_cancels_the_reply_clocks(alice, channel, policy):
    inquiry = inbound(channel)
    response = alice.post(reverse("inquiries:no_response_needed", args=[inquiry.pk]), follow=True)
    assert "Marked no response needed: 1 message excluded" in response.content.decode()
    assert m.Clock.objects.get(inquiry=inquiry, kind=m.ClockKind.FIRST_REPLY).state == m.ClockState.CANCELLED
    assert m.Message.objects.get(inquiry=inquiry).no_response_needed


def test_attachments_download_as_attachments_never_inline(alice, channel, policy):
    inquiry = inbound(
        channel,
        attachments=(
            IncomingAttachment('evil".html', "text/html", 29, b"<script>alert(1)</script>"),
            IncomingAttachment("big.bin", "application/octet-stream", 10**9, None),
        ),
    )
    stored, missing = m.Attachment.objects.filter(message__inquiry=inquiry).order_by("id")
    response = alice.get(reverse("inquiries:attachment", args=[inquiry.pk, stored.pk]))
    assert response.status_code == 200
    assert response.content == b"<script>alert(1)</script>"
    assert response["Content-Type"] == "application/octet-stream"
    assert response["Content-Disposition"].startswith("attachment;")
    assert response["X-Content-Type-Options"] == "nosniff"
    # Content we did not keep, and an attachment of another inquiry, are 404s.
    assert alice.get(reverse("inquiries:attachment", args=[inquiry.pk, missing.pk])).status_code == 404
    other = inbound(channel, sender_address="other@example.com")
    assert alice.get(reverse("inquiries:attachment", args=[other.pk, stored.pk])).status_code == 404


def test_a_stored_windows_device_name_downloads_under_a_safe_name(alice, channel, policy):
    inquiry = inbound(channel, attachments=(IncomingAttachment("CON.txt", "text/plain", 2, b"hi"),))
    stored = m.Attachment.objects.get(message__inquiry=inquiry)
    m.Attachment.objects.filter(pk=stored.pk).update(filename="CON.txt")  # as rows stored before the rule

    response = alice.get(reverse("inquiries:attachment", args=[inquiry.pk, stored.pk]))

    assert response["Content-Disposition"] == 'attachment; filename="_CON.txt"'
