"""SLA configuration: validation with clear messages, holiday import, the staff API, recomputes."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.test import Client

from inquiries import services
from inquiries.models import Calendar, ClockKind, Holiday, SlaPolicy, SlaTarget
from inquiries.services.holidays import import_holidays
from tests.conftest import token_client
from tests.factories import incoming, policy_with_targets

pytestmark = pytest.mark.django_db


def test_a_calendar_that_is_never_open_is_refused_with_a_message():
    calendar = Calendar(name="closed", timezone="UTC", hours={})
    with pytest.raises(ValidationError) as error:
        calendar.clean()
    assert "hours" in error.value.message_dict


def test_overlapping_intervals_are_refused_with_a_message():
    calendar = Calendar(name="overlap", timezone="UTC", hours={"0": [["09:00", "13:00"], ["12:00", "17:00"]]})
    with pytest.raises(ValidationError) as error:
        calendar.clean()
    assert "overlap" in " ".join(error.value.message_dict["hours"]).lower()


def test_a_zero_target_is_refused_with_a_message():
    with pytest.raises(ValidationError) as error:
        SlaTarget(priority="normal", first_reply_seconds=0).clean()
    assert "positive" in error.value.message_dict["first_reply_seconds"][0]


def test_holidays_of_a_country_and_subdivision_are_imported_once():
    calendar = Calendar.objects.create(
        name="Munich", timezone="Europe/Berlin", hours={str(d): [["09:00", "17:00"]] for d in range(5)}
    )
    added = import_holidays(calendar=calendar, country="DE", subdivision="BY", year=2026)
    assert added >= 12
    assert Holiday.objects.filter(calendar=calendar, date=date(2026, 1, 6)).exists()  # Epiphany, Bavaria only
    assert import_holidays(calendar=calendar, country="DE", subdivision="BY", year=2026) == 0
    calendar.refresh_from_db()
    assert calendar.version > 1


def test_the_holiday_command_reports_what_it_added(capsys):
    Calendar.objects.create(name="US office", timezone="America/New_York", is_24x7=True)
    call_command("import_holidays", "US office", country="US", year=2026)
    assert "added=" in capsys.readouterr().out


def test_a_holiday_added_later_moves_running_deadlines(channel, django_capture_on_commit_callbacks):
    calendar = Calendar.objects.create(
        name="Weekdays", timezone="UTC", hours={str(d): [["09:00", "17:00"]] for d in range(5)}
    )
    policy_with_targets(first_reply=8 * 3600, calendar=calendar)
    monday = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    inquiry = services.record_message(channel=channel, incoming=incoming(received_at=monday), now=monday)
    clock = inquiry.message.inquiry.clocks.get(kind=ClockKind.FIRST_REPLY)
    assert clock.due_at == datetime(2026, 3, 2, 17, 0, tzinfo=UTC)
    Holiday.objects.create(calendar=calendar, date=date(2026, 3, 2), name="Bench holiday")
    from inquiries.services.config import calendar_changed

    with django_capture_on_commit_callbacks(execute=True):
        calendar_changed(calendar=calendar)
    clock.refresh_from_db()
    assert clock.due_at == datetime(2026, 3, 3, 17, 0, tzinfo=UTC)


def test_staff_configure_policies_through_the_api_and_bad_targets_get_field_errors(superuser, agent):
    api = token_client(superuser)
    good = api.post(
        "/api/v1/sla-policies/",
        {
            "name": "API policy",
            "position": 5,
            "warn_ratio": 0.8,
            "targets": [{"priority": "normal", "first_reply_seconds": 3600}],
        },
        format="json",
    )
    assert good.status_code == 201, good.json()
    assert SlaPolicy.objects.get(name="API policy").targets.get().first_reply_seconds == 3600
    bad = api.post(
        "/api/v1/sla-policies/",
        {
            "name": "Bad",
            "warn_ratio": 1.5,
            "targets": [{"priority": "normal", "first_reply_seconds": 0}],
        },
        format="json",
    )
    assert bad.status_code == 400
    assert set(bad.json()) == {"warn_ratio", "targets"}
    closed = api.post("/api/v1/calendars/", {"name": "Closed", "timezone": "UTC", "hours": {}}, format="json")
    assert closed.status_code == 400 and "hours" in closed.json()
    assert token_client(agent).get("/api/v1/sla-policies/").status_code == 403


def _delete_through_the_api(user, policy):
    response = token_client(user).delete(f"/api/v1/sla-policies/{policy.pk}/")
    assert response.status_code == 204


def _delete_in_the_admin(user, policy):
    client = admin_client(user)
    response = client.post(f"/admin/inquiries/slapolicy/{policy.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302


@pytest.mark.parametrize("delete", [_delete_through_the_api, _delete_in_the_admin], ids=["api", "admin"])
def test_deleting_a_policy_moves_its_inquiries_to_the_next_policy_or_stops_their_clocks(
    channel, superuser, delete, django_capture_on_commit_callbacks
):
    monday = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    fallback = policy_with_targets(first_reply=8 * 3600, resolution=None, position=20, name="Fallback")
    policy = policy_with_targets(first_reply=3600, position=10, name="Fast")
    governed = services.record_message(channel=channel, incoming=incoming(received_at=monday), now=monday)
    inquiry = governed.message.inquiry
    assert inquiry.sla_policy == policy

    with django_capture_on_commit_callbacks(execute=True):
        delete(superuser, policy)

    inquiry.refresh_from_db()
    assert not SlaPolicy.objects.filter(pk=policy.pk).exists()
    assert inquiry.sla_policy == fallback
    first = inquiry.clocks.get(kind=ClockKind.FIRST_REPLY)
    assert (first.policy, first.due_at) == (fallback, datetime(2026, 3, 2, 17, 0, tzinfo=UTC))
    # The fallback has no resolution target: that clock is cancelled, not left running unowned.
    resolution = inquiry.clocks.get(kind=ClockKind.RESOLUTION)
    assert resolution.state == "cancelled"
    assert inquiry.next_due_at == first.due_at  # the queue's copy of the nearest deadline

    # With no policy left, the running policy clocks stop with a reason in the timeline.
    with django_capture_on_commit_callbacks(execute=True):
        delete(superuser, fallback)
    assert not inquiry.clocks.filter(
        state__in=["running", "at_risk", "breached"], policy__isnull=True
    ).exclude(kind=ClockKind.MARKETPLACE_REPLY)
    assert inquiry.events.filter(kind="clock_cancelled", data__reason="policy removed").exists()


# --- saving configuration: the API and the admin call the same services ----------------------

WEEKDAYS = {str(d): [["09:00", "17:00"]] for d in range(5)}
MONDAY = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def admin_client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def first_reply_clock(channel, at: datetime = MONDAY):
    recorded = services.record_message(channel=channel, incoming=incoming(received_at=at), now=at)
    assert isinstance(recorded, services.RecordResult) and recorded.message.inquiry is not None
    return recorded.message.inquiry.clocks.get(kind=ClockKind.FIRST_REPLY)


def _holidays_through_the_api(user, calendar):
    response = token_client(user).patch(
        f"/api/v1/calendars/{calendar.pk}/",
        {"holidays": [{"date": "2026-03-02", "name": "Closed"}]},
        format="json",
    )
    assert response.status_code == 200, response.json()


def _holidays_in_the_admin(user, calendar):
    response = admin_client(user).post(
        f"/admin/inquiries/calendar/{calendar.pk}/change/",
        {
            "name": calendar.name,
            "timezone": calendar.timezone,
            "hours": json.dumps(calendar.hours),
            "holidays-TOTAL_FORMS": "1",
            "holidays-INITIAL_FORMS": "0",
            "holidays-0-date": "2026-03-02",
            "holidays-0-name": "Closed",
        },
    )
    assert response.status_code == 302, response.context["errors"]


@pytest.mark.parametrize("save", [_holidays_through_the_api, _holidays_in_the_admin], ids=["api", "admin"])
def test_holidays_saved_through_the_api_or_the_admin_move_running_deadlines(
    channel, superuser, save, django_capture_on_commit_callbacks
):
    calendar = Calendar.objects.create(name="Weekdays", timezone="UTC", hours=WEEKDAYS)
    policy_with_targets(first_reply=8 * 3600, calendar=calendar)
    clock = first_reply_clock(channel)
    assert clock.due_at == datetime(2026, 3, 2, 17, 0, tzinfo=UTC)

    with django_capture_on_commit_callbacks(execute=True):
        save(superuser, calendar)

    assert list(calendar.holidays.values_list("date", "name")) == [(date(2026, 3, 2), "Closed")]
    clock.refresh_from_db()
    assert clock.due_at == datetime(2026, 3, 3, 17, 0, tzinfo=UTC)


def _policy_through_the_api(user, name, position, first_reply):
    response = token_client(user).post(
        "/api/v1/sla-policies/",
        {
            "name": name,
            "position": position,
            "warn_ratio": 0.75,
            "targets": [{"priority": "normal", "first_reply_seconds": first_reply}],
        },
        format="json",
    )
    assert response.status_code == 201, response.json()


def _policy_in_the_admin(user, name, position, first_reply):
    response = admin_client(user).post(
        "/admin/inquiries/slapolicy/add/",
        {
            "name": name,
            "position": position,
            "is_active": "on",
            # no priority ticked: every priority
            "customer_tags": "[]",
            "warn_ratio": "0.75",
            "apply_to_open": "on",  # the form's box, ticked by default
            "targets-TOTAL_FORMS": "1",
            "targets-INITIAL_FORMS": "0",
            "targets-0-priority": "normal",
            # the editor takes hours and minutes
            "targets-0-first_reply_seconds_0": str(first_reply // 3600),
            "targets-0-first_reply_seconds_1": str(first_reply % 3600 // 60),
        },
    )
    assert response.status_code == 302, response.context["errors"]


@pytest.mark.parametrize("add", [_policy_through_the_api, _policy_in_the_admin], ids=["api", "admin"])
def test_a_policy_added_through_the_api_or_the_admin_takes_over_running_clocks_with_its_targets(
    channel, superuser, add, django_capture_on_commit_callbacks
):
    policy_with_targets(first_reply=8 * 3600, position=20, name="Slow")
    clock = first_reply_clock(channel)
    assert clock.due_at == datetime(2026, 3, 2, 17, 0, tzinfo=UTC)

    with django_capture_on_commit_callbacks(execute=True):
        add(superuser, "Fast", 10, 1800)

    fast = SlaPolicy.objects.get(name="Fast")
    clock.refresh_from_db()
    assert (clock.policy, clock.due_at) == (fast, datetime(2026, 3, 2, 9, 30, tzinfo=UTC))
    assert clock.inquiry.sla_policy == fast


def test_targets_replaced_through_the_api_move_running_deadlines(
    channel, superuser, django_capture_on_commit_callbacks
):
    policy = policy_with_targets(first_reply=8 * 3600)
    clock = first_reply_clock(channel)

    with django_capture_on_commit_callbacks(execute=True):
        response = token_client(superuser).patch(
            f"/api/v1/sla-policies/{policy.pk}/",
            {"targets": [{"priority": "normal", "first_reply_seconds": 3600}]},
            format="json",
        )

    assert response.status_code == 200, response.json()
    assert list(policy.targets.values_list("priority", "first_reply_seconds")) == [("normal", 3600)]
    clock.refresh_from_db()
    assert clock.due_at == datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


def test_a_calendar_a_policy_uses_is_not_deleted_and_the_api_says_why(superuser):
    calendar = Calendar.objects.create(name="Weekdays", timezone="UTC", hours=WEEKDAYS)
    policy_with_targets(calendar=calendar, name="Office hours")

    response = token_client(superuser).delete(f"/api/v1/calendars/{calendar.pk}/")

    assert response.status_code == 409
    assert "Office hours" in json.dumps(response.json())
    assert Calendar.objects.filter(pk=calendar.pk).exists()


def _delete_calendar_through_the_api(user, calendar):
    assert token_client(user).delete(f"/api/v1/calendars/{calendar.pk}/").status_code == 204


def _delete_calendar_in_the_admin(user, calendar):
    response = admin_client(user).post(f"/admin/inquiries/calendar/{calendar.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302


@pytest.mark.parametrize(
    "delete", [_delete_calendar_through_the_api, _delete_calendar_in_the_admin], ids=["api", "admin"]
)
def test_deleting_an_accounts_reply_calendar_puts_its_marketplace_clocks_back_on_calendar_time(
    channel, superuser, delete, django_capture_on_commit_callbacks
):
    calendar = Calendar.objects.create(name="Weekdays", timezone="UTC", hours=WEEKDAYS)
    account = channel.account
    account.reply_target_seconds, account.reply_calendar = 8 * 3600, calendar
    account.save()
    friday = datetime(2026, 3, 6, 15, 0, tzinfo=UTC)
    recorded = services.record_message(channel=channel, incoming=incoming(received_at=friday), now=friday)
    clock = recorded.message.inquiry.clocks.get(kind=ClockKind.MARKETPLACE_REPLY)
    assert clock.due_at == datetime(2026, 3, 9, 15, 0, tzinfo=UTC)  # two hours on Friday, six on Monday

    with django_capture_on_commit_callbacks(execute=True):
        delete(superuser, calendar)

    assert not Calendar.objects.filter(pk=calendar.pk).exists()
    clock.refresh_from_db()
    assert (clock.calendar, clock.due_at) == (None, datetime(2026, 3, 6, 23, 0, tzinfo=UTC))
