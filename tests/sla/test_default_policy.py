"""Never silently without clocks: a new account gets the default SLA policy (editable), the
data migration gives one to accounts that have none, an account without any shows a warning on
the queue and health pages and in the API, and a policy change may leave open inquiries alone."""

from __future__ import annotations

from datetime import UTC, datetime
from importlib import import_module

import pytest
from django.apps import apps
from django.test import Client

from inquiries import models as m
from inquiries.services import config, record_message
from tests.conftest import token_client
from tests.factories import AccountFactory, ChannelFactory, incoming, policy_with_targets

pytestmark = pytest.mark.django_db

MONDAY_9 = datetime(2026, 3, 2, 9, tzinfo=UTC)


def test_a_new_account_gets_the_default_policy_on_its_business_hours_and_its_clocks_run(db):
    account = config.create_account(account=m.Account(name="Fresh <b>shop</b>", timezone="Europe/Berlin"))
    channel = ChannelFactory(account=account)

    [policy] = account.slapolicy_set.all()
    assert (policy.position, policy.calendar.timezone) == (1000, "Europe/Berlin")
    assert policy.calendar.hours == {str(d): [["09:00", "17:00"]] for d in range(5)}
    assert {
        (t.priority, t.first_reply_seconds, t.next_reply_seconds, t.resolution_seconds)
        for t in policy.targets.all()
    } == {(p, 86400, 86400, 259200) for p in m.Priority.values}
    # 24 business hours from Monday 10:00 Berlin: three working days of 8 hours.
    result = record_message(channel=channel, incoming=incoming(received_at=MONDAY_9), now=MONDAY_9)
    first = result.message.inquiry.clocks.get(kind=m.ClockKind.FIRST_REPLY)
    assert first.due_at == datetime(2026, 3, 5, 9, tzinfo=UTC)


def test_an_account_a_policy_already_covers_gets_no_default(db):
    policy_with_targets()  # applies to every account
    account = config.create_account(account=m.Account(name="Covered"))
    assert not account.slapolicy_set.exists()
    assert config.ensure_default_policy(account=account) is None


def test_the_data_migration_gives_the_default_to_accounts_without_any_policy(db):
    bare, covered = AccountFactory(name="Bare"), AccountFactory(name="Covered")
    policy_with_targets(name="Covered only").accounts.set([covered])

    import_module("inquiries.migrations.0034_default_sla_policies").add_default_policies(apps, None)
    import_module("inquiries.migrations.0034_default_sla_policies").add_default_policies(apps, None)  # again

    assert [p.name for p in bare.slapolicy_set.all()] == [f"Default: Bare (account {bare.pk})"]
    assert [p.name for p in covered.slapolicy_set.all()] == ["Covered only"]


def test_the_warning_appears_without_a_policy_and_disappears_with_one(superuser, agent, account, channel):
    alice = Client()
    alice.force_login(agent)
    staff = token_client(superuser)

    queue, health = alice.get("/"), alice.get(f"/health/{account.pk}/")
    overview = alice.get("/health/")
    api = staff.get(f"/api/v1/accounts/{account.pk}/").json()

    for page in (queue, health, overview):
        assert page.status_code == 200
        assert 'id="no-policy-warning"' in page.content.decode()
        assert "Team A shop" in page.content.decode()
    assert api["has_sla_policy"] is False and "No active SLA policy" in api["warnings"][0]

    config.ensure_default_policy(account=account)

    for url in ("/", f"/health/{account.pk}/", "/health/"):
        assert 'id="no-policy-warning"' not in alice.get(url).content.decode()
    assert staff.get(f"/api/v1/accounts/{account.pk}/").json() | {"warnings": []} == {
        **api,
        "has_sla_policy": True,
        "warnings": [],
    }


def test_an_account_created_through_the_api_gets_the_default_policy(superuser):
    response = token_client(superuser).post(
        "/api/v1/accounts/", {"name": "API shop", "timezone": "UTC", "marketplace": "shop"}, format="json"
    )

    assert response.status_code == 201, response.json()
    assert response.json()["has_sla_policy"] is True
    assert m.SlaPolicy.objects.filter(accounts__pk=response.json()["id"]).count() == 1


def test_a_policy_saved_for_open_inquiries_recomputes_them_and_one_saved_without_leaves_them(
    account, channel, django_capture_on_commit_callbacks
):
    policy = policy_with_targets(first_reply=3600)
    inquiry = record_message(
        channel=channel, incoming=incoming(received_at=MONDAY_9), now=MONDAY_9
    ).message.inquiry
    clock = inquiry.clocks.get(kind=m.ClockKind.FIRST_REPLY)
    assert clock.due_at == datetime(2026, 3, 2, 10, tzinfo=UTC)

    m.SlaTarget.objects.filter(policy=policy).update(first_reply_seconds=7200)
    with django_capture_on_commit_callbacks(execute=True) as queued:
        assert config.save_policy(policy=policy, apply_to_open=False) == 0
    assert queued == []
    clock.refresh_from_db()
    assert clock.due_at == datetime(2026, 3, 2, 10, tzinfo=UTC)  # left as it was

    with django_capture_on_commit_callbacks(execute=True):  # the recompute task runs eagerly in tests
        assert config.save_policy(policy=policy) == 1
    clock.refresh_from_db()
    assert clock.due_at == datetime(2026, 3, 2, 11, tzinfo=UTC)
    assert inquiry.events.filter(kind=m.EventKind.CLOCK_RECOMPUTED).exists()


def test_an_account_added_in_the_admin_gets_the_default_policy(superuser):
    admin = Client()
    admin.force_login(superuser)

    response = admin.post(
        "/admin/inquiries/account/add/",
        {"name": "Admin shop", "marketplace": "shop", "timezone": "America/Chicago", "is_active": "on"},
        follow=True,
    )

    assert response.status_code == 200
    account = m.Account.objects.get(name="Admin shop")
    assert account.slapolicy_set.get().calendar.timezone == "America/Chicago"
    assert "default SLA policy" in response.content.decode()


def test_the_policy_api_asks_whether_to_apply_to_open_inquiries(
    superuser, account, channel, django_capture_on_commit_callbacks
):
    staff = token_client(superuser)
    body = {
        "name": "API policy",
        "position": 10,
        "targets": [{"priority": p, "first_reply_seconds": 7200} for p in m.Priority.values],
    }
    policy_with_targets(first_reply=3600)
    record_message(channel=channel, incoming=incoming(received_at=MONDAY_9), now=MONDAY_9)  # clocks running

    with django_capture_on_commit_callbacks(execute=False) as left:
        response = staff.post("/api/v1/sla-policies/", {**body, "apply_to_open": False}, format="json")
    with django_capture_on_commit_callbacks(execute=False) as applied:
        again = staff.post("/api/v1/sla-policies/", {**body, "name": "Applied"}, format="json")

    assert response.status_code == 201 and again.status_code == 201, (response.json(), again.json())
    assert "apply_to_open" not in response.json()
    assert left == [] and len(applied) == 1  # the recompute task, queued after commit


def test_a_policy_change_moving_many_open_inquiries_recomputes_them_on_the_background_queue(
    account, channel, monkeypatch, django_capture_on_commit_callbacks
):
    from inquiries.services import queue

    policy = policy_with_targets(first_reply=3600)
    for n in range(3):
        record_message(channel=channel, incoming=incoming(sender_address=f"c{n}@example.com"), now=None)
    published = []
    monkeypatch.setattr(queue, "safe_delay", lambda task, *args, **kw: published.append((task.name, kw)))

    with django_capture_on_commit_callbacks(execute=True):
        config.save_policy(policy=policy)
    monkeypatch.setattr(config, "RECOMPUTE_IN_FOREGROUND_MOST", 2)
    with django_capture_on_commit_callbacks(execute=True):
        config.save_policy(policy=policy)

    assert published == [
        ("inquiries.tasks.recompute_clocks", {}),
        ("inquiries.tasks.recompute_clocks", {"queue": "background"}),
    ]
