"""The SLA policy editor in the admin (issue 23): hours and minutes, priority checkboxes, a
deadline preview; business-hours targets read as business hours."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.contrib.auth.models import User
from django.test import Client

from inquiries import display
from inquiries import models as m
from inquiries.admin.policies import deadline_preview
from tests import factories
from tests.ui.conftest import inbound

pytestmark = pytest.mark.django_db

ADD_URL = "/admin/inquiries/slapolicy/add/"


def form_data(**overrides: object) -> dict[str, object]:
    data: dict[str, object] = {
        "name": "Weekday support",
        "position": "10",
        "is_active": "on",
        "priorities": ["urgent", "high"],
        "customer_tags": "[]",
        "calendar": "",
        "warn_ratio": "0.75",
        "targets-TOTAL_FORMS": "1",
        "targets-INITIAL_FORMS": "0",
        "targets-MIN_NUM_FORMS": "0",
        "targets-MAX_NUM_FORMS": "1000",
        "targets-0-priority": "high",
        "targets-0-first_reply_seconds_0": "8",
        "targets-0-first_reply_seconds_1": "30",
        "targets-0-next_reply_seconds_0": "",
        "targets-0-next_reply_seconds_1": "",
        "targets-0-resolution_seconds_0": "48",
        "targets-0-resolution_seconds_1": "",
    }
    data.update(overrides)
    return data


@pytest.fixture
def admin_client(superuser: User) -> Client:
    client = Client()
    client.force_login(superuser)
    return client


def test_targets_are_typed_in_hours_and_minutes_and_priorities_ticked(admin_client, monkeypatch):
    monkeypatch.setattr("inquiries.services.queue.safe_delay", lambda *a, **k: None)
    page = admin_client.get(ADD_URL).content.decode()
    assert 'type="checkbox" name="priorities" value="urgent"' in page
    assert 'name="targets-__prefix__-first_reply_seconds_0"' in page  # hours
    assert 'name="targets-__prefix__-first_reply_seconds_1"' in page  # minutes

    response = admin_client.post(ADD_URL, form_data())

    assert response.status_code == 302, response.content.decode()[:3000]
    policy = m.SlaPolicy.objects.get(name="Weekday support")
    assert policy.priorities == ["high", "urgent"]  # in the choices' order, not the ticking order
    target = policy.targets.get()
    assert (target.first_reply_seconds, target.next_reply_seconds, target.resolution_seconds) == (
        8 * 3600 + 30 * 60,
        None,
        48 * 3600,
    )
    change = admin_client.get(f"/admin/inquiries/slapolicy/{policy.pk}/change/").content.decode()
    assert 'name="targets-0-first_reply_seconds_0" value="8"' in change
    assert 'name="targets-0-first_reply_seconds_1" value="30"' in change
    assert "Deadline preview" in change and "is due:" in change


@pytest.mark.parametrize(
    ("hours", "minutes", "message"),
    [
        ("1", "75", "less than or equal to 59"),
        ("0", "0", "longer than 0 minutes"),
        ("-2", "", "greater than"),
    ],
)
def test_a_bad_target_is_refused_next_to_its_field(admin_client, hours, minutes, message):
    response = admin_client.post(
        ADD_URL,
        form_data(**{"targets-0-first_reply_seconds_0": hours, "targets-0-first_reply_seconds_1": minutes}),
    )
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not m.SlaPolicy.objects.exists()


def test_the_preview_counts_business_hours_on_the_policys_calendar():
    # Mon-Fri 9-17 in Berlin: 27 business hours from Monday 10:00 is Thursday 13:00.
    calendar = factories.CalendarFactory(
        name="Berlin office",
        timezone="Europe/Berlin",
        is_24x7=False,
        hours={str(day): [["09:00", "17:00"]] for day in range(5)},
    )
    policy = factories.policy_with_targets(first_reply=27 * 3600, next_reply=None, resolution=None)
    policy.calendar = calendar
    policy.save()
    monday_ten = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)  # 10:00 in Berlin

    html = deadline_preview(policy, now=monday_ten)

    assert "Mon 7 Dec 2026, 10:00 CET" in html
    assert "Thu 10 Dec 2026, 13:00 CET" in html
    assert "27h business hours" in html and "1d 3h" not in html
    assert "no clock" in html


def test_business_hours_never_roll_into_days_but_calendar_hours_do():
    assert display.target_duration(27 * 3600, business=True) == "27h business hours"
    assert display.target_duration(27 * 3600 + 1800, business=True) == "27h 30m business hours"
    assert display.target_duration(45 * 60, business=True) == "45m business hours"
    assert display.target_duration(27 * 3600, business=False) == "1d 3h"
    assert display.target_duration(86400, business=False) == "1d"


def test_the_inquiry_page_shows_a_business_hours_target_as_business_hours(agent, channel):
    calendar = factories.CalendarFactory(
        timezone="Europe/Berlin", is_24x7=False, hours={str(day): [["09:00", "17:00"]] for day in range(5)}
    )
    policy = factories.policy_with_targets(first_reply=27 * 3600, next_reply=None, resolution=None)
    policy.calendar = calendar
    policy.save()
    inquiry = inbound(channel)
    client = Client()
    client.force_login(agent)

    html = client.get(f"/inquiries/{inquiry.pk}/").content.decode()

    assert "<dd>27h business hours</dd>" in html and "1d 3h" not in html
