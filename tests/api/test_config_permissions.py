"""The configuration API grants what the admin grants: model permissions plus account scoping.

The attack this closes: a staff user with no model permissions, in team A, patched team A to
add team B's accounts and then read every team B inquiry.
"""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission, User

from inquiries import models as m
from tests.conftest import token_client
from tests.factories import CalendarFactory, ChannelFactory, UserFactory, policy_with_targets

ROUTES = ["accounts", "teams", "channels", "calendars", "sla-policies"]
MODELS = {
    "accounts": "account",
    "teams": "team",
    "channels": "channel",
    "calendars": "calendar",
    "sla-policies": "slapolicy",
}


def grant(user: User, *models: str, actions: tuple[str, ...] = ("view", "add", "change", "delete")) -> None:
    codenames = [f"{action}_{model}" for model in models for action in actions]
    user.user_permissions.add(
        *Permission.objects.filter(content_type__app_label="inquiries", codename__in=codenames)
    )


@pytest.fixture
def scoped_staff(manager: User) -> User:
    """maria, manager of team A and staff, as in the demo."""
    manager.is_staff = True
    manager.save(update_fields=["is_staff"])
    return manager


@pytest.fixture
def world(team, other_team, channel, other_channel):
    calendar_a = CalendarFactory(name="Team A hours")
    calendar_b = CalendarFactory(name="Team B hours")
    other_channel.account.reply_calendar = calendar_b
    other_channel.account.save(update_fields=["reply_calendar"])
    policy_a = policy_with_targets(name="Team A policy", calendar=calendar_a)
    policy_a.accounts.set([channel.account])
    policy_b = policy_with_targets(name="Team B policy")
    policy_b.accounts.set([other_channel.account])
    global_policy = policy_with_targets(name="Everyone")
    return {
        "accounts": (channel.account.pk, other_channel.account.pk),
        "teams": (team.pk, other_team.pk),
        "channels": (channel.slug, other_channel.slug),
        "calendars": (calendar_a.pk, calendar_b.pk),
        "sla-policies": (policy_a.pk, policy_b.pk),
        "global_policy": global_policy.pk,
    }


def _verbs(client, route: str, key: object) -> dict[str, int]:
    return {
        "list": client.get(f"/api/v1/{route}/").status_code,
        "detail": client.get(f"/api/v1/{route}/{key}/").status_code,
        "create": client.post(f"/api/v1/{route}/", {}, format="json").status_code,
        "patch": client.patch(f"/api/v1/{route}/{key}/", {}, format="json").status_code,
        "delete": client.delete(f"/api/v1/{route}/{key}/").status_code,
    }


@pytest.mark.parametrize("route", ROUTES)
def test_a_staff_flag_without_model_permissions_grants_nothing(scoped_staff, world, route):
    own, _ = world[route]

    assert set(_verbs(token_client(scoped_staff), route, own).values()) == {403}


@pytest.mark.parametrize("route", ROUTES)
def test_a_plain_agent_gets_nothing(agent, world, route):
    own, _ = world[route]

    assert set(_verbs(token_client(agent), route, own).values()) == {403}


@pytest.mark.parametrize("route", ROUTES)
def test_view_permission_reads_only_and_only_inside_scope(scoped_staff, world, route):
    grant(scoped_staff, MODELS[route], actions=("view",))
    own, theirs = world[route]
    client = token_client(scoped_staff)

    verbs = _verbs(client, route, own)
    assert verbs == {"list": 200, "detail": 200, "create": 403, "patch": 403, "delete": 403}
    listed = {str(row.get("slug", row["id"])) for row in client.get(f"/api/v1/{route}/").json()["results"]}
    if route == "calendars":  # shared configuration: every staff user with the permission reads it
        assert str(theirs) in listed
    else:
        assert str(own) in listed and str(theirs) not in listed
        assert client.get(f"/api/v1/{route}/{theirs}/").status_code == 404


@pytest.mark.parametrize("route", ROUTES)
def test_a_superuser_reaches_every_row(superuser, world, route):
    _, theirs = world[route]
    client = token_client(superuser)

    assert client.get(f"/api/v1/{route}/{theirs}/").status_code == 200
    assert client.patch(f"/api/v1/{route}/{theirs}/", {}, format="json").status_code == 200


def test_a_scoped_manager_cannot_add_another_teams_account_to_their_team(scoped_staff, world, other_account):
    grant(scoped_staff, "team")
    team_a, _ = world["teams"]
    own_account, other = world["accounts"]
    client = token_client(scoped_staff)

    response = client.patch(f"/api/v1/teams/{team_a}/", {"accounts": [own_account, other]}, format="json")

    assert response.status_code == 400
    assert "accounts" in response.json()
    assert not m.Team.objects.filter(pk=team_a, accounts=other).exists()
    assert client.get("/api/v1/inquiries/", {"account": other}).json()["results"] == []


def test_a_scoped_manager_cannot_move_a_channel_to_another_teams_account(scoped_staff, world):
    grant(scoped_staff, "channel")
    own_slug, other_slug = world["channels"]
    _, other = world["accounts"]
    client = token_client(scoped_staff)

    moved = client.patch(f"/api/v1/channels/{own_slug}/", {"account": other}, format="json")
    created = client.post(
        "/api/v1/channels/", {"account": other, "slug": "sneaky", "name": "x", "kind": "api"}, format="json"
    )
    edited = client.patch(f"/api/v1/channels/{other_slug}/", {"name": "mine now"}, format="json")

    assert moved.status_code == 400 and "account" in moved.json()
    assert created.status_code == 400 and "account" in created.json()
    assert edited.status_code == 404
    assert not m.Channel.objects.filter(slug="sneaky").exists()


def test_a_scoped_manager_cannot_make_a_policy_that_applies_to_every_account(scoped_staff, world):
    grant(scoped_staff, "slapolicy")
    own_account, _ = world["accounts"]
    client = token_client(scoped_staff)
    body = {"name": "Mine", "position": 1, "warn_ratio": 0.75, "targets": []}

    everyone = client.post("/api/v1/sla-policies/", {**body, "accounts": []}, format="json")
    unnamed = client.post("/api/v1/sla-policies/", body, format="json")
    own = client.post("/api/v1/sla-policies/", {**body, "accounts": [own_account]}, format="json")

    assert everyone.status_code == 400 and "accounts" in everyone.json()
    assert unnamed.status_code == 400 and "accounts" in unnamed.json()
    assert own.status_code == 201, own.json()
    assert client.get(f"/api/v1/sla-policies/{world['global_policy']}/").status_code == 404


def test_a_calendar_another_team_uses_is_read_only_to_a_scoped_manager(scoped_staff, world):
    grant(scoped_staff, "calendar")
    own, theirs = world["calendars"]
    client = token_client(scoped_staff)

    assert client.patch(f"/api/v1/calendars/{theirs}/", {"name": "x"}, format="json").status_code == 403
    assert client.delete(f"/api/v1/calendars/{theirs}/").status_code == 403
    assert client.patch(f"/api/v1/calendars/{own}/", {"name": "Ours"}, format="json").status_code == 200


def test_unauthenticated_requests_are_refused(client, world):
    for route in ROUTES:
        assert client.get(f"/api/v1/{route}/").status_code in (401, 403)


def test_a_new_channel_inside_scope_is_created(scoped_staff, world):
    grant(scoped_staff, "channel")
    own_account, _ = world["accounts"]

    response = token_client(scoped_staff).post(
        "/api/v1/channels/",
        {"account": own_account, "slug": "new-a", "name": "New", "kind": "api"},
        format="json",
    )

    assert response.status_code == 201, response.json()
    assert ChannelFactory._meta.model.objects.get(slug="new-a").account_id == own_account


def test_configuration_lists_keep_their_query_count(superuser, world, django_assert_max_num_queries):
    client = token_client(superuser)
    UserFactory(username="someone")
    for route in ROUTES:
        with django_assert_max_num_queries(8):
            assert client.get(f"/api/v1/{route}/").status_code == 200
