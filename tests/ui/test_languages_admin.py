"""The admin of the `inquiries` app speaks the reader's language (issue 23): every changelist and
add page of the app's registered models shows no English outside the catalogues.

Each page is read by a superuser whose language is German, in the pseudo-language of
`tests.ui.pseudo`. That pseudo-language replaces the whole German translation Django has loaded,
which is one merged catalogue of every installed app: Django's own admin ("Select %s to change",
"Add", "Save", the filter sidebar, the pagination counts) goes through the same gettext as our
texts and comes back bracketed too. So the check needs no list of Django's strings and no real
German: a word outside the brackets is a text that went through no gettext at all — a field's
label derived from its attribute name, a help text, a model's name, a column, an action or a
fieldset title written as a plain string — and no catalogue could ever translate it. What the
test itself wrote (names, addresses, subjects, the time zone names a select offers) is data and
allowed, as in `test_languages_python.py`.

The rows are made so that the changelists have results (their column headings appear only
then) and the add pages' selects have choices to show.
"""

from __future__ import annotations

import html
import zoneinfo
from collections.abc import Iterator
from datetime import timedelta

import pytest
from django.conf import settings
from django.contrib import admin
from django.contrib.auth.models import User
from django.db.models import Model
from django.test import Client
from django.urls import reverse
from django.utils import timezone, translation

from inquiries import models as m
from inquiries import services
from tests.factories import incoming, policy_with_targets
from tests.ui.pseudo import english_left, pseudo_language, visible_text

pytestmark = pytest.mark.django_db

SUBJECT = "Qwz"  # a subject and name in no language
# Texts of Django's admin that never go through gettext, so no catalogue (Django's or ours) can
# translate them: the boolean icons' alt texts, the search box's icon, and the primary key's
# label "ID" (the same abbreviation in German, Spanish and French).
DJANGO_UNTRANSLATED = ["True", "False", "None", "Search", "ID"]
ACRONYMS = ["API"]  # a channel kind, the same in every language


def _registered() -> list[type[Model]]:
    models = [model for model in admin.site._registry if model._meta.app_label == "inquiries"]
    return sorted(models, key=lambda model: model._meta.model_name or "")


def _addable(model: type[Model]) -> bool:
    """Whether the model's admin has an add page for a superuser (read-only ones have none)."""
    root = User(username="root", is_active=True, is_staff=True, is_superuser=True)
    request = type("Request", (), {"user": root})()
    return admin.site._registry[model].has_add_permission(request)


PAGES = [
    pytest.param(model, page, id=f"{model._meta.model_name}-{page}")
    for model in _registered()
    for page in ("changelist", "add")
    if page == "changelist" or _addable(model)
]


@pytest.fixture(autouse=True)
def english_after_each_test() -> Iterator[None]:
    """The admin activates its user's language in this thread: leave it in the default."""
    yield
    translation.activate(settings.LANGUAGE_CODE)


@pytest.fixture
def rows(channel: m.Channel, manager: User, superuser: User) -> list[str]:
    """A policy, an inquiry with its messages, events and clocks, and a row of each configuration
    the admin edits; returns what the test wrote (the data a page may show as it is)."""
    now = timezone.now()
    policy = policy_with_targets(first_reply=3600, next_reply=7200, resolution=86400)
    calendar = m.Calendar.objects.create(name="Qwz hours", timezone="Europe/Berlin")
    m.Holiday.objects.create(calendar=calendar, date=now.date(), name="Qwz day")
    services.record_message(
        channel=channel, incoming=incoming(received_at=now - timedelta(hours=2), subject=SUBJECT), now=now
    )
    m.Macro.objects.create(name="Qwz", body="Qwz", team=channel.account.teams.first())
    m.RecomputeRun.objects.create(reason="Qwz", total=2, done=1)
    m.WebhookEndpoint.objects.create(name="Qwz", url="https://example.com/")
    m.FailedTask.objects.create(task_name="Qwz", task_id="Qwz-1", error="Qwz")
    m.NotificationPreference.objects.create(user=manager)
    m.ReportSubscription.objects.create(user=manager)
    m.EscalationRule.objects.create(name="Qwz", policy=policy)
    people = [value for user in User.objects.all() for value in (user.username, user.first_name) if value]
    written = [
        SUBJECT,
        channel.account.name,
        channel.slug,
        "https://example.com/",
        "example.com",
        "Europe/Berlin",
        "Amazon",
        "Walmart",
        "eBay",
        *people,
    ]
    topics = [text for row in m.Topic.objects.values_list("name", "key") for text in row]
    customers = [text for row in m.Customer.objects.values_list("name", "address") for text in row]
    messages = list(m.Message.objects.values_list("external_id", flat=True))
    names = [
        name
        for query in (
            m.Channel.objects,
            m.Team.objects,
            m.SlaPolicy.objects,
            m.Calendar.objects,
            m.MarketplacePreset.objects,
        )
        for name in query.values_list("name", flat=True)
    ]
    return [
        *written,
        *topics,
        *customers,
        *messages,
        *names,
        *DJANGO_UNTRANSLATED,
        *ACRONYMS,
        *zoneinfo.available_timezones(),
    ]


@pytest.mark.parametrize(("model", "page"), PAGES)
def test_the_admin_page_has_no_english_outside_the_catalogues(model, page, rows, superuser):
    services.set_preferences(user=superuser, language="de")
    client = Client()
    client.force_login(superuser)
    url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{page}")

    with pseudo_language():
        response = client.get(url)

    assert response.status_code == 200, url
    text = html.unescape(visible_text(response.content.decode()))  # &rsaquo; in the breadcrumbs
    left = english_left(text, data=rows)
    assert left == [], " ".join(sorted(set(left)))
