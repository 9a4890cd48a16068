"""The errors an admin or an integration is shown speak their language (issue 23): the SLA engine's,
the marketplace rules' and the topic rules' messages refused on an admin form, and the REST API's own
validation errors, which follow the request's Accept-Language.

The pages are read in the pseudo-language of `tests.ui.pseudo` (every text that went through gettext
comes back in ⟦brackets⟧, whether or not its German is in `locale/` yet), so an error that reads
bracketed is one the German catalogue translates. The engine still answers in English outside any
request: the same mistake, checked without one, gives the English message word for word.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator

import pytest
from django.conf import settings
from django.contrib import admin
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db.models import Model
from django.test import Client, RequestFactory
from django.utils import translation

from inquiries import models as m
from inquiries import services
from tests.conftest import token_client
from tests.factories import incoming
from tests.test_policy_editor import form_data as policy_form
from tests.ui.pseudo import OPEN, english_left, pseudo_language

pytestmark = pytest.mark.django_db

OVERLAPPING = '{"0": [["09:00", "13:00"], ["12:00", "17:00"]]}'
NO_CONDITION = '[{"name": "Qwz", "target_seconds": 60}]'


@pytest.fixture(autouse=True)
def english_after_each_test() -> Iterator[None]:
    """The admin activates its user's language in this thread: leave it in the default."""
    yield
    translation.activate(settings.LANGUAGE_CODE)


@pytest.fixture
def german_admin(superuser: User) -> Client:
    services.set_preferences(user=superuser, language="de")
    client = Client()
    client.force_login(superuser)
    return client


def errors(response: object) -> list[str]:
    """The field errors a refused admin form shows next to its fields."""
    page = response.content.decode()  # type: ignore[attr-defined]
    lists = re.findall(r'<ul class="errorlist[^"]*"[^>]*>(.*?)</ul>', page, flags=re.S)
    return [
        html.unescape(item) for found in lists for item in re.findall(r"<li>(.*?)</li>", found, flags=re.S)
    ]


def only_translated(messages: list[str], *, typed: list[str]) -> bool:
    """Every message went through gettext: bracketed, with no English outside the brackets but what
    the admin typed."""
    return bool(messages) and all(OPEN in text and english_left(text, data=typed) == [] for text in messages)


def as_posted(row: Model, superuser: User) -> dict[str, object]:
    """The admin form of `row` as its change page would post it unchanged."""
    request = RequestFactory().get("/")
    request.user = superuser
    form = admin.site._registry[type(row)].get_form(request, row)(instance=row)
    posted: dict[str, object] = {}
    for name in form.fields:
        value = form[name].value()
        if value is True:
            posted[name] = "on"
        elif value is not False:
            posted[name] = "" if value is None else value
    return posted


def test_a_calendar_with_overlapping_hours_is_refused_in_the_admins_language(german_admin):
    form = {"name": "Qwz", "timezone": "Europe/Berlin", "hours": OVERLAPPING}
    form |= {"holidays-TOTAL_FORMS": "0", "holidays-INITIAL_FORMS": "0"}

    with pseudo_language():
        refused = german_admin.post("/admin/inquiries/calendar/add/", form)

    assert refused.status_code == 200
    assert only_translated(errors(refused), typed=["09:00-13:00", "12:00-17:00"]), errors(refused)
    with pytest.raises(ValidationError) as outside:
        m.Calendar(
            name="Qwz", timezone="Europe/Berlin", hours={"0": [["09:00", "13:00"], ["12:00", "17:00"]]}
        ).clean()
    assert outside.value.message_dict["hours"] == ["Monday: intervals 09:00-13:00 and 12:00-17:00 overlap"]


def test_hours_that_are_not_an_object_are_refused_in_the_admins_language(german_admin):
    form = {"name": "Qwz", "timezone": "UTC", "hours": '[["09:00", "17:00"]]'}
    form |= {"holidays-TOTAL_FORMS": "0", "holidays-INITIAL_FORMS": "0"}

    with pseudo_language():
        refused = german_admin.post("/admin/inquiries/calendar/add/", form)

    assert only_translated(errors(refused), typed=[]), errors(refused)
    with pytest.raises(ValidationError) as outside:
        m.Calendar(name="Qwz", timezone="UTC", hours=[["09:00", "17:00"]]).clean()
    assert outside.value.message_dict["hours"] == [
        'Hours must be an object like {"0": [["09:00", "17:00"]]} (0 = Monday).'
    ]


def test_a_topic_rule_that_is_no_regular_expression_is_refused_in_the_admins_language(german_admin):
    topic = m.Topic.objects.create(key="qwz", name="Qwz")
    form = {"key": "qwz", "name": "Qwz", "is_complaint": "on", "health_category": "none", "position": "100"}
    form |= {"rules-TOTAL_FORMS": "1", "rules-INITIAL_FORMS": "0"}
    form |= {"rules-0-kind": "regex", "rules-0-pattern": "broken(", "rules-0-language": "en"}
    form |= {"rules-0-weight": "1", "rules-0-is_active": "on"}

    with pseudo_language():
        refused = german_admin.post(f"/admin/inquiries/topic/{topic.pk}/change/", form)

    # Python's own words about the pattern ("missing ), unterminated subpattern") are the one part
    # no catalogue of ours has; they sit inside the bracketed sentence, after its colon.
    assert only_translated(errors(refused), typed=["broken(", "qwz", "missing", "unterminated", "subpattern"])
    assert not m.TopicRule.objects.filter(topic=topic).exists()
    with pytest.raises(ValidationError) as outside:
        m.TopicRule(topic=topic, kind="regex", pattern="broken(", language="en").clean()
    assert outside.value.message_dict["pattern"][0].startswith(
        "regex rule 'broken(' (qwz, en): invalid regular expression: missing )"
    )


def test_a_marketplace_rule_without_a_condition_is_refused_in_the_admins_language(german_admin, superuser):
    preset = m.MarketplacePreset.objects.get(marketplace=m.Marketplace.WALMART)
    form = as_posted(preset, superuser) | {"message_rules": NO_CONDITION}

    with pseudo_language():
        refused = german_admin.post(f"/admin/inquiries/marketplacepreset/{preset.pk}/change/", form)

    assert refused.status_code == 200
    assert only_translated(errors(refused), typed=["Qwz"]), errors(refused)
    preset.message_rules = [{"name": "Qwz", "target_seconds": 60}]
    with pytest.raises(ValidationError) as outside:
        preset.clean()
    assert outside.value.message_dict["message_rules"] == [
        "rule 1 (Qwz): give at least one sender, phrase or topic"
    ]


def test_an_sla_policy_with_a_threshold_out_of_range_is_refused_in_the_admins_language(german_admin):
    with pseudo_language():
        refused = german_admin.post(
            "/admin/inquiries/slapolicy/add/", policy_form(name="Qwz", warn_ratio="1.5")
        )

    assert only_translated(errors(refused), typed=[]), errors(refused)
    assert not m.SlaPolicy.objects.filter(name="Qwz").exists()
    with pytest.raises(ValidationError) as outside:
        m.SlaPolicy(name="Qwz", warn_ratio=1.5).clean()
    assert outside.value.message_dict["warn_ratio"] == [
        "The at-risk threshold must be between 0 and 1, e.g. 0.75."
    ]


def test_a_relay_sender_list_entry_is_refused_in_the_admins_language(german_admin, superuser, channel):
    form = as_posted(channel, superuser) | {"marketplace_senders": "<b>relay</b>"}

    with pseudo_language():
        refused = german_admin.post(f"/admin/inquiries/channel/{channel.pk}/change/", form)

    assert only_translated(errors(refused), typed=["<b>relay</b>"]), errors(refused)
    channel.marketplace_senders = "<b>relay</b>"
    with pytest.raises(ValidationError) as outside:
        channel.clean()
    assert outside.value.message_dict["marketplace_senders"] == [
        "line 1: '<b>relay</b>' is neither a domain nor an address"
    ]


# --- the REST API ----------------------------------------------------------------------------


def test_an_api_validation_error_follows_the_requests_accept_language(agent, channel):
    services.set_preferences(user=agent, language="fr")  # the pages' preference: not the API's
    api = token_client(agent)
    body = {"channel": "qwz", "external_id": "q1", "direction": "inbound", "body_text": "Qwz"}

    with pseudo_language():
        german = api.post("/api/v1/messages/", body, format="json", HTTP_ACCEPT_LANGUAGE="de")
    plain = api.post("/api/v1/messages/", body, format="json")

    assert german.status_code == plain.status_code == 400
    assert german["Content-Language"] == "de"
    assert only_translated(german.json()["channel"], typed=["qwz"]), german.json()
    assert plain["Content-Language"] == "en"
    assert plain.json()["channel"] == ["Unknown channel 'qwz'."]


def test_an_api_error_of_the_health_dates_follows_the_requests_accept_language(agent, channel):
    api = token_client(agent)
    url = f"/api/v1/accounts/{channel.account_id}/health/?as_of=Qwz"

    with pseudo_language():
        german = api.get(url, HTTP_ACCEPT_LANGUAGE="de-DE,de;q=0.9")
    plain = api.get(url)

    assert german.status_code == plain.status_code == 400
    assert only_translated(german.json()["as_of"], typed=["'Qwz'"]), german.json()
    assert plain.json()["as_of"] == ["'Qwz' is not a date (YYYY-MM-DD) or a date and time (ISO 8601)."]


def test_the_webhooks_answer_in_english_whatever_the_language(client) -> None:
    with pseudo_language():
        response = client.post(
            "/hooks/generic/qwz/", b"{}", content_type="application/json", HTTP_ACCEPT_LANGUAGE="de"
        )

    assert response["Content-Language"] == "en"


def test_the_api_reads_the_header_and_never_a_language_cookie(agent, channel):
    api = token_client(agent)
    api.cookies[settings.LANGUAGE_COOKIE_NAME] = "fr"
    body = {"channel": "qwz", "external_id": "q1", "direction": "inbound", "body_text": "Qwz"}

    with pseudo_language():
        plain = api.post("/api/v1/messages/", body, format="json")
        german = api.post("/api/v1/messages/", body, format="json", HTTP_ACCEPT_LANGUAGE="xx, de;q=0.5")

    assert plain["Content-Language"] == "en"
    assert plain.json()["channel"] == ["Unknown channel 'qwz'."]
    assert german["Content-Language"] == "de"  # the first language it speaks, after one it does not
    assert only_translated(german.json()["channel"], typed=["qwz"]), german.json()
    assert "Accept-Language" in german["Vary"]


def test_an_idempotent_replay_says_the_language_its_stored_answer_is_in(agent, channel):
    inquiry = services.record_message(channel=channel, incoming=incoming())
    api = token_client(agent)
    url = f"/api/v1/inquiries/{inquiry.inquiry_id}/topic/"

    with pseudo_language():
        first = api.post(
            url,
            {"topic": "qwz"},
            format="json",
            headers={"Idempotency-Key": "k-1"},
            HTTP_ACCEPT_LANGUAGE="de",
        )
    replay = api.post(url, {"topic": "qwz"}, format="json", headers={"Idempotency-Key": "k-1"})

    assert first.status_code == replay.status_code == 400
    assert replay["Idempotent-Replayed"] == "true"
    assert replay.json() == first.json()
    assert first["Content-Language"] == replay["Content-Language"] == "de"
