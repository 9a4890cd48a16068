"""Persona fixtures: alice (agent) and bob (teammate) work team A's account; charlie (outsider)
works team B's; maria manages team A; root is a superuser."""

from __future__ import annotations

import os

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from inquiries import models as m
from tests.factories import AccountFactory, ChannelFactory, TeamFactory, UserFactory

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # Playwright's sync API runs in an event loop


@pytest.fixture(autouse=True)
def _no_broker(settings: pytest.FixtureRequest) -> None:
    """Tests run tasks eagerly unless they start a real worker themselves."""
    settings.CELERY_TASK_ALWAYS_EAGER = True
    from cstracker.celery import app

    app.conf.task_always_eager = True


@pytest.fixture(autouse=True)
def _local_test_servers(settings: pytest.FixtureRequest) -> None:
    """The test SMTP, IMAP and webhook receivers listen on loopback, which the outbound policy
    refuses by default; tests of the policy itself set these back."""
    settings.CSTRACKER_OUTBOUND_ALLOW = ["127.0.0.0/8", "::1"]
    settings.CSTRACKER_WEBHOOK_ALLOW_HTTP = True


@pytest.fixture(autouse=True)
def _fresh_queue_rows(settings: pytest.FixtureRequest) -> None:
    """Tests look at the rows right after changing them; the shared rendering has its own test."""
    settings.CSTRACKER_QUEUE_ROWS_CACHE_SECONDS = 0


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings: pytest.FixtureRequest) -> None:
    """PBKDF2 costs ~0.4 s per persona; tests check access rules, not hash strength."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _fresh_caches() -> None:
    """Per-process caches are keyed by row id and version; test databases reuse ids."""
    from django.core.cache import cache

    from inquiries.selectors import calendars, marketplace_rules, topics
    from inquiries.services.clocks import policies

    cache.clear()  # API throttle counters
    calendars.clear_cache()
    policies.clear_cache()
    marketplace_rules.clear_cache()
    topics.clear_cache()


@pytest.fixture(autouse=True)
def _seeded_rows(request: pytest.FixtureRequest) -> None:
    """Transactional tests flush the whole database when they end, the rows that data
    migrations seed (topics, marketplace presets) included; put them back for the next test."""
    if request.node.get_closest_marker("django_db") is None:
        return
    from importlib import import_module

    from django.apps import apps

    from inquiries.models import MarketplacePreset, Topic

    if not Topic.objects.exists():
        import_module("inquiries.migrations.0005_seed_topics").seed(apps, None)
        from inquiries.selectors import topics

        topics.clear_cache()  # the topics have new ids now
    if not MarketplacePreset.objects.exists():
        import_module("inquiries.migrations.0009_seed_marketplace_presets").seed(apps, None)


@pytest.fixture(autouse=True)
def _queue_fields_follow_clocks(request: pytest.FixtureRequest):
    """Every test that touches the database ends with each inquiry's copy of its nearest
    deadline (what the queue sorts on) equal to what its clocks say: a clock change that
    forgot `refresh_urgency` fails whichever test made it."""
    uses_db = request.node.get_closest_marker("django_db") is not None or {"db", "transactional_db"} & set(
        request.fixturenames
    )
    if not uses_db:
        yield
        return
    request.getfixturevalue("_django_db_helper")  # set up before this fixture, torn down after it
    yield
    from inquiries.services.clocks import URGENCY_FIELDS, urgency_of

    clocks: dict[int, list[m.Clock]] = {}
    for clock in m.Clock.objects.order_by("id").only("inquiry_id", "kind", "state", "due_at", "warn_at"):
        clocks.setdefault(clock.inquiry_id, []).append(clock)
    wrong = {
        row["id"]: row
        for row in m.Inquiry.objects.values("id", *URGENCY_FIELDS)
        if {f: row[f] for f in URGENCY_FIELDS} != urgency_of(clocks.get(row["id"], []))
    }
    assert not wrong, f"queue fields out of step with the clocks: {wrong}"


@pytest.fixture
def account(db: None) -> m.Account:
    return AccountFactory(name="Team A shop")


@pytest.fixture
def channel(account: m.Account) -> m.Channel:
    return ChannelFactory(account=account, slug="shop-a")


@pytest.fixture
def other_account(db: None) -> m.Account:
    return AccountFactory(name="Team B shop")


@pytest.fixture
def other_channel(other_account: m.Account) -> m.Channel:
    return ChannelFactory(account=other_account, slug="shop-b")


@pytest.fixture
def team(account: m.Account) -> m.Team:
    team = TeamFactory(name="Team A")
    team.accounts.add(account)
    return team


@pytest.fixture
def other_team(other_account: m.Account) -> m.Team:
    team = TeamFactory(name="Team B")
    team.accounts.add(other_account)
    return team


@pytest.fixture
def agent(team: m.Team):
    user = UserFactory(username="alice", first_name="Alice")
    m.Membership.objects.create(team=team, user=user, role=m.Role.AGENT)
    return user


@pytest.fixture
def teammate(team: m.Team):
    user = UserFactory(username="bob", first_name="Bob")
    m.Membership.objects.create(team=team, user=user, role=m.Role.AGENT)
    return user


@pytest.fixture
def outsider(other_team: m.Team):
    user = UserFactory(username="charlie", first_name="Charlie")
    m.Membership.objects.create(team=other_team, user=user, role=m.Role.AGENT)
    return user


@pytest.fixture
def manager(team: m.Team):
    user = UserFactory(username="maria", first_name="Maria")
    m.Membership.objects.create(team=team, user=user, role=m.Role.MANAGER)
    return user


@pytest.fixture
def superuser(db: None):
    return UserFactory(username="root", is_staff=True, is_superuser=True)


def token_client(user: object) -> APIClient:
    client = APIClient()
    token, _ = Token.objects.get_or_create(user=user)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


@pytest.fixture
def api(agent: object) -> APIClient:
    """alice's API client, authenticated by token."""
    return token_client(agent)


CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict) -> dict:
    """Playwright drives Debian's Chromium package; it never downloads a browser."""
    return {**browser_type_launch_args, "executable_path": "/usr/bin/chromium", "args": CHROMIUM_ARGS}
