"""The UI in four languages (issue 23): the catalogues, the check that no template text is left
outside the translate tags, and each user's language preference."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import polib
import pytest
from django.conf import settings
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import translation

from inquiries import models as m
from inquiries import services
from inquiries.services import notifications
from tests.ui.conftest import inbound

LOCALE = Path(settings.BASE_DIR) / "locale"
TEMPLATES = Path(settings.BASE_DIR) / "templates"
SHIPPED = [code for code, _name in settings.LANGUAGES if code != "en"]
PLACEHOLDER = re.compile(r"%\(\w+\)[sd]|\{\w+\}")


def catalogue(language: str) -> polib.POFile:
    return polib.pofile(str(LOCALE / language / "LC_MESSAGES" / "django.po"))


def key(entry: polib.POEntry | polib.MOEntry) -> tuple[str, str]:
    return (entry.msgctxt or "", entry.msgid)


@pytest.fixture(autouse=True)
def english_after_each_test() -> Iterator[None]:
    """The test client runs the pages in this thread, and a page activates its user's language:
    leave the thread in the default language for the tests that follow."""
    yield
    translation.activate(settings.LANGUAGE_CODE)


def client_for(client, user):
    client.force_login(user)
    return client


# --- the catalogues ---------------------------------------------------------------------------


@pytest.mark.parametrize("language", SHIPPED)
def test_every_catalogue_entry_is_translated_and_none_is_fuzzy(language: str) -> None:
    po = catalogue(language)
    live = [entry for entry in po if not entry.obsolete]

    assert len(live) > 600
    assert [entry.msgid for entry in live if not entry.translated()] == []
    assert [entry.msgid for entry in live if "fuzzy" in entry.flags] == []
    assert not po.metadata_is_fuzzy
    assert po.metadata["Plural-Forms"].startswith("nplurals=2;")


@pytest.mark.parametrize("language", SHIPPED)
def test_each_compiled_catalogue_is_current_with_its_po(language: str) -> None:
    """The .mo files are committed (a fresh machine needs no gettext): each must say what its
    .po says. Compiled again here with polib, a Python implementation, and compared entry by entry."""
    po = catalogue(language)
    committed = polib.mofile(str(LOCALE / language / "LC_MESSAGES" / "django.mo"))
    fresh = polib.mofile(str(LOCALE / language / "LC_MESSAGES" / "django.mo"))
    fresh.clear()
    for entry in po.translated_entries():
        fresh.append(entry)

    def table(mo: polib.MOFile) -> dict[tuple[str, str], object]:
        return {key(e): (e.msgstr_plural and dict(sorted(e.msgstr_plural.items()))) or e.msgstr for e in mo}

    assert table(committed) == table(polib.mofile(fresh.to_binary()))


@pytest.mark.parametrize("language", SHIPPED)
def test_translations_keep_every_placeholder(language: str) -> None:
    wrong = []
    for entry in catalogue(language).translated_entries():
        # A plural's names are those of both its English forms ("Answer this message" has no
        # count, "Answer these %(count)s" has).
        wanted = sorted(set(PLACEHOLDER.findall(entry.msgid)) | set(PLACEHOLDER.findall(entry.msgid_plural)))
        strings = list(entry.msgstr_plural.values()) if entry.msgid_plural else [entry.msgstr]
        for text in strings:
            # A singular may say "one" in words instead of its count; every other name must stay.
            got = sorted(PLACEHOLDER.findall(text))
            if got != wanted and not (entry.msgid_plural and set(got) <= set(wanted)):
                wrong.append((entry.msgid, text))
    assert wrong == []


# --- no template text outside the translate tags ---------------------------------------------

# Text that is not language, allowed outside the translate tags.
ALLOWED = {
    "cstracker",  # the brand name
    "cs",  # the brand mark in the top bar
    "UTC",  # a time zone's name
    "CSV",  # a file format, linked next to each table
    "GET /api/v1/reports/sla/?",  # the API path shown as code on the reports page
}
CHECKED_ATTRIBUTES = ("title", "aria-label", "placeholder", "alt")


def untranslated(source: str) -> list[str]:
    """The visible words of a template that no translate tag covers."""
    text = re.sub(r"\{#.*?#\}", "", source, flags=re.S)
    text = re.sub(r"\{% comment %\}.*?\{% endcomment %\}", "", text, flags=re.S)
    text = re.sub(r"\{% blocktranslate.*?\{% endblocktranslate %\}", "", text, flags=re.S)
    text = re.sub(r"\{%.*?%\}", "", text, flags=re.S)  # translate tags and every other tag
    text = re.sub(r"\{\{.*?\}\}", "", text, flags=re.S)  # variables, _("…") arguments included
    text = re.sub(r"<(script|style|svg|kbd)\b.*?</\1>", "", text, flags=re.S)  # code, keys
    found = []
    for name in CHECKED_ATTRIBUTES:
        found += [value for value in re.findall(rf'\b{name}="([^"]*)"', text) if re.search("[A-Za-z]", value)]
    words = re.sub(r"<[^>]*>", "\n", text)
    found += [line.strip() for line in words.splitlines() if re.search("[A-Za-z]", line)]
    allowed = re.compile(r"\b(" + "|".join(re.escape(word) for word in ALLOWED) + r")(?!\w)")
    return [item for item in found if re.search("[A-Za-z]", allowed.sub("", re.sub(r"&\w+;", "", item)))]


def test_no_template_text_is_left_outside_the_translate_tags() -> None:
    templates = sorted(p for p in TEMPLATES.rglob("*") if p.suffix in (".html", ".txt"))
    assert len(templates) > 35
    left = {str(p.relative_to(TEMPLATES)): untranslated(p.read_text()) for p in templates}
    assert {name: words for name, words in left.items() if words} == {}


def test_the_check_catches_text_and_attributes_left_in_english() -> None:
    source = (
        '<p title="Due soon">Overdue</p><b>{% translate "Fine" %}</b><span aria-label="{% translate "X" %}">'
    )
    assert untranslated(source) == ["Due soon", "Overdue"]


# --- each user's language -------------------------------------------------------------------


@pytest.mark.django_db
def test_the_users_language_wins_over_the_browsers(client, agent, channel, policy) -> None:
    services.set_preferences(user=agent, language="de")
    inbound(channel, subject="Wo ist mein Paket?")

    page = client_for(client, agent).get(reverse("inquiries:queue"), HTTP_ACCEPT_LANGUAGE="fr")

    html = page.content.decode()
    assert page["Content-Language"] == "de"
    assert '<html lang="de">' in html
    assert "<h1>Warteschlange</h1>" in html and "Betreff" in html and "Wo ist mein Paket?" in html


@pytest.mark.django_db
def test_without_a_preference_the_browsers_language_is_used(client, agent) -> None:
    login = client.get(reverse("login"), HTTP_ACCEPT_LANGUAGE="es-ES,es;q=0.9")
    assert "Iniciar sesión en cstracker" in login.content.decode()

    queue = client_for(client, agent).get(reverse("inquiries:queue"), HTTP_ACCEPT_LANGUAGE="fr")
    assert "<h1>File d'attente</h1>" in queue.content.decode()

    english = client.get(reverse("inquiries:queue"))
    assert "<h1>Queue</h1>" in english.content.decode()


@pytest.mark.django_db
def test_choosing_a_language_switches_the_pages_and_back(client, agent) -> None:
    client_for(client, agent)
    saved = client.post(reverse("inquiries:notifications-language"), {"language": "fr"}, follow=True)

    assert m.UserPreference.objects.get(user=agent).language == "fr"
    assert "Langue enregistrée." in saved.content.decode()
    assert "<h1>File d'attente</h1>" in client.get(reverse("inquiries:queue")).content.decode()

    client.post(reverse("inquiries:notifications-language"), {"language": ""})
    page = client.get(reverse("inquiries:queue"), HTTP_ACCEPT_LANGUAGE="en")
    assert "<h1>Queue</h1>" in page.content.decode()


@pytest.mark.django_db
def test_an_unknown_language_is_refused_and_nothing_changes(client, agent) -> None:
    services.set_preferences(user=agent, language="es")
    page = client_for(client, agent).post(
        reverse("inquiries:notifications-language"), {"language": "xx"}, follow=True
    )

    assert "Mi idioma: " in page.content.decode()  # the error after its field's label, in Spanish
    assert m.UserPreference.objects.get(user=agent).language == "es"
    with pytest.raises(services.DomainError):
        services.set_preferences(user=agent, language="xx")


@pytest.mark.django_db
def test_the_preference_is_read_at_login_and_costs_the_pages_no_query(
    client, agent, teammate, channel, policy
) -> None:
    """The session carries the language: the queue runs the same queries in German as in English."""
    services.set_preferences(user=agent, language="de")
    services.set_preferences(user=teammate, language="")
    inbound(channel)

    def queries_of(user) -> int:
        client.force_login(user)
        client.get(reverse("inquiries:queue"))  # warm the caches shared by every user
        with CaptureQueriesContext(connection) as captured:
            assert client.get(reverse("inquiries:queue")).status_code == 200
        return len(captured)

    assert queries_of(agent) == queries_of(teammate)


@pytest.mark.django_db
def test_dates_on_the_inquiry_page_are_written_the_languages_way(client, agent, channel, policy) -> None:
    inquiry = inbound(channel, received_at=datetime(2026, 3, 2, 9, 30, tzinfo=UTC))
    expected = {
        "de": "Mo, 2. Mär 2026, 09:30 UTC",
        "es": "lun 2 Mar 2026, 09:30 UTC",
        "fr": "lun 2 Mar 2026, 09:30 UTC",
    }
    client_for(client, agent)
    for language, text in expected.items():
        services.set_preferences(user=agent, language=language)
        client.force_login(agent)
        page = client.get(reverse("inquiries:detail", args=[inquiry.pk])).content.decode()
        assert text in page, language


@pytest.mark.django_db
def test_the_plan_of_action_reads_in_the_users_language(client, manager, account, channel) -> None:
    account.marketplace = m.Marketplace.AMAZON
    account.save()
    amazon = account
    services.set_preferences(user=manager, language="fr")
    query = {"from": "2026-02-09", "to": "2026-03-10"}
    text = client_for(client, manager).get(reverse("inquiries:health_plan_md", args=[amazon.pk]), query)

    markdown = text.content.decode()
    assert markdown.startswith(f"# Plan d'action : {amazon.name}\n")
    assert "## Causes premières" in markdown and "du 9 février 2026 au 10 mars 2026" in markdown


@pytest.mark.django_db
def test_notification_mail_is_written_in_the_recipients_language(agent, settings) -> None:
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    services.set_preferences(user=agent, language="es")
    agent.email = "alice@example.com"
    agent.save()
    m.Notification.objects.create(
        user=agent,
        kind=m.NotificationKind.CLOCK_BREACHED,
        title="#1",
        dedupe_key="k1",
        email_state=m.Notification.EmailState.PENDING,
    )

    assert notifications.send_notification_email(user_id=agent.pk, dedupe_key="k1")

    assert "Abrir:" in mail.outbox[0].body
    assert "Recibes esto por tus ajustes de notificaciones de cstracker." in mail.outbox[0].body


@pytest.mark.django_db
def test_the_api_speaks_the_language_its_request_asks_for_and_english_without_one(client, agent) -> None:
    services.set_preferences(user=agent, language="de")  # the pages' preference, not the API's
    client_for(client, agent)

    asked = client.get("/api/v1/inquiries/?status=nonsense", HTTP_ACCEPT_LANGUAGE="es")
    unasked = client.get("/api/v1/inquiries/?status=nonsense")

    assert asked["Content-Language"] == "es"
    assert unasked["Content-Language"] == "en"
