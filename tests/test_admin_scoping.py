"""Every registered admin keeps a scoped staff user inside their teams' accounts.

One walk over `admin.site`: team B's rows carry the word "Zorblax" in every name, subject and
address; team A's manager, staff with every permission of the app, opens each changelist
(with its filter sidebar), each add page (with every related field's choices) and each
autocomplete, and must never see the word.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.apps import apps
from django.contrib import admin
from django.contrib.auth.models import Permission
from django.core.exceptions import FieldError

from inquiries import models as m
from inquiries import scoping, services
from inquiries.admin.base import ScopedAdmin
from tests.factories import CalendarFactory, ChannelFactory, incoming, policy_with_targets

SECRET = "zorblax"


@pytest.fixture
def hidden_world(team, other_team, channel, outsider):
    other = m.Account.objects.create(name="Zorblax B shop", timezone="UTC")
    other_team.accounts.add(other)
    other_team.name = "Zorblax B team"
    other_team.save()
    secret_channel = ChannelFactory(account=other, slug="zorblax-b", name="Zorblax B channel")
    recorded = services.record_message(
        channel=secret_channel,
        incoming=incoming(
            sender_address="zorblax-b@example.com",
            sender_name="Zorblax Buyer",
            subject="Zorblax B subject",
            body_text="Zorblax B body",
        ),
    )
    m.Notification.objects.create(
        user=outsider,
        kind=m.NotificationKind.values[0],
        title="Zorblax B note",
        inquiry_id=recorded.inquiry_id,
    )
    endpoint = m.WebhookEndpoint.objects.create(
        name="Zorblax B hook", url="https://b.example/hook", secret="x"
    )
    endpoint.teams.add(other_team)
    m.WebhookDelivery.objects.create(
        endpoint=endpoint, dedupe_key="Zorblax B key", payload={"subject": "Zorblax"}
    )
    m.EscalationRule.objects.create(name="Zorblax B rule", team=other_team)
    policy = policy_with_targets(name="Zorblax B policy", calendar=CalendarFactory(name="B calendar"))
    policy.accounts.add(other)
    m.HealthSnapshot.objects.create(
        account=other,
        date=datetime(2026, 3, 2, tzinfo=UTC).date(),
        as_of=datetime(2026, 3, 2, tzinfo=UTC),
        status="healthy",
        metrics={},
    )
    m.SuspendedSender.objects.create(
        channel=secret_channel, address="zorblax-b@example.com", reason="Zorblax loop"
    )
    services.record_message(  # held: its parent has not arrived
        channel=secret_channel,
        incoming=incoming(
            external_id="zorblax-b-reply",
            direction="outbound",
            sender_address="agent@zorblax-b.example",
            subject="Zorblax B reply",
            in_reply_to="zorblax-b-parent",
        ),
    )
    # Team A's own rows, so the pages have something of theirs to show.
    services.record_message(channel=channel, incoming=incoming(subject="Team A subject"))
    return other


@pytest.fixture
def scoped_staff(manager):
    manager.is_staff = True
    manager.save(update_fields=["is_staff"])
    manager.user_permissions.add(*Permission.objects.filter(content_type__app_label="inquiries"))
    return manager


def test_every_model_of_the_app_has_a_scoping_rule():
    models = set(apps.get_app_config("inquiries").get_models())

    assert models - set(scoping.RULES) == set()


@pytest.mark.django_db
def test_every_scoping_rule_names_fields_its_model_has(agent):
    broken = []
    for model, rule in scoping.RULES.items():
        try:
            str(rule.limit(model._default_manager.all(), agent).query)
        except FieldError as error:
            broken.append((model.__name__, str(error)[:80]))

    assert broken == []


def test_every_admin_of_the_app_is_scoped():
    unscoped = [
        type(model_admin).__name__
        for model, model_admin in admin.site._registry.items()
        if model._meta.app_label == "inquiries" and not isinstance(model_admin, ScopedAdmin)
    ]

    assert unscoped == []


def test_no_admin_page_shows_a_scoped_staff_user_another_teams_rows(client, scoped_staff, hidden_world):
    client.force_login(scoped_staff)
    leaks = []
    for model, model_admin in admin.site._registry.items():
        if model._meta.app_label != "inquiries":
            continue
        base = f"/admin/{model._meta.app_label}/{model._meta.model_name}/"
        pages = [base, f"{base}?q=B"]  # a search that would match every hidden row
        if model_admin.has_add_permission(_request(scoped_staff)):
            pages.append(f"{base}add/")
        for page in pages:
            response = client.get(page)
            assert response.status_code == 200, (page, response.status_code)
            if SECRET in response.content.decode().lower():
                leaks.append(page)

    assert leaks == []


def test_autocomplete_offers_only_rows_in_scope(client, scoped_staff, hidden_world):
    client.force_login(scoped_staff)

    response = client.get(
        "/admin/autocomplete/",
        {"app_label": "inquiries", "model_name": "slapolicy", "field_name": "accounts", "term": "shop"},
    )

    assert response.status_code in (200, 403)
    assert SECRET not in response.content.decode().lower()


def test_a_superuser_still_sees_every_teams_rows(client, superuser, hidden_world):
    client.force_login(superuser)

    page = client.get("/admin/inquiries/inquiry/").content.decode()

    assert "Zorblax B subject" in page


def test_another_teams_row_answers_as_missing_on_its_change_page(client, scoped_staff, hidden_world):
    client.force_login(scoped_staff)
    inquiry = m.Inquiry.objects.get(account=hidden_world)

    response = client.get(f"/admin/inquiries/inquiry/{inquiry.pk}/change/", follow=True)

    assert SECRET not in response.content.decode().lower()


def _request(user):
    from django.test import RequestFactory

    request = RequestFactory().get("/admin/")
    request.user = user
    return request
