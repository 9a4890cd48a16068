"""The UI in German, Spanish and French in a real browser (issue 23): a user with that language
sees the queue and the inquiry page in it, dates included, and switching the preference
switches the pages. Playwright drives Debian's Chromium (see tests/conftest.py)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from playwright.sync_api import Page, expect

from inquiries import services
from tests.ui.conftest import inbound

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

# What a few known places read in each language; the date is the customer message's
# (Monday 2 March 2026, 09:30 UTC) as the inquiry page writes it.
SEEN = {
    "de": {
        "queue": "Warteschlange",
        "subject": "Betreff",
        "assign": "Mir zuweisen",
        "conversation": "Verlauf",
        "clocks": "SLA-Fristen",
        "date": "Mo, 2. Mär 2026, 09:30 UTC",
        "language": "Meine Sprache",
    },
    "es": {
        "queue": "Cola",
        "subject": "Asunto",
        "assign": "Asignármelas",
        "conversation": "Conversación",
        "clocks": "Plazos del SLA",
        "date": "lun 2 Mar 2026, 09:30 UTC",
        "language": "Mi idioma",
    },
    "fr": {
        "queue": "File d'attente",
        "subject": "Objet",
        "assign": "M'assigner",
        "conversation": "Conversation",
        "clocks": "Délais SLA",
        "date": "lun 2 Mar 2026, 09:30 UTC",
        "language": "Ma langue",
    },
}


def log_in(page: Page, base_url: str, queue_heading: str) -> None:
    """The login page speaks the browser's language (English here); the queue the user's."""
    page.goto(f"{base_url}/")
    expect(page.get_by_role("heading", name="Log in to cstracker")).to_be_visible()
    page.locator("#id_username").fill("alice")
    page.locator("#id_password").fill("password")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name=queue_heading, exact=True)).to_be_visible()


@pytest.mark.parametrize("language", sorted(SEEN))
def test_a_user_sees_the_queue_and_the_inquiry_page_in_their_language(
    page: Page, live_server: object, channel, agent, policy, language: str
) -> None:
    seen = SEEN[language]
    services.set_preferences(user=agent, language=language)
    inquiry = inbound(channel, subject="Paket", received_at=datetime(2026, 3, 2, 9, 30, tzinfo=UTC))
    base = live_server.url  # type: ignore[attr-defined]

    log_in(page, base, seen["queue"])

    expect(page.locator("html")).to_have_attribute("lang", language)
    expect(page.get_by_role("columnheader", name=seen["subject"], exact=True)).to_be_visible()
    expect(page.get_by_role("button", name=seen["assign"])).to_be_visible()
    page.get_by_role("link", name="Paket", exact=True).click()
    expect(page).to_have_url(f"{base}/inquiries/{inquiry.pk}/")
    expect(page.get_by_role("heading", name=seen["conversation"], exact=True)).to_be_visible()
    expect(page.get_by_role("heading", name=seen["clocks"], exact=True)).to_be_visible()
    expect(page.locator(".msg-head time").first).to_have_text(seen["date"])


def test_switching_the_preference_switches_the_pages(page: Page, live_server: object, agent) -> None:
    services.set_preferences(user=agent, language="de")
    base = live_server.url  # type: ignore[attr-defined]
    log_in(page, base, "Warteschlange")

    page.goto(f"{base}/notifications/")
    page.locator("#id_language").select_option("es")
    page.get_by_role("button", name="Sprache speichern").click()
    expect(page.locator(".flash")).to_contain_text("Idioma guardado.")
    expect(page.get_by_role("heading", name=SEEN["es"]["language"])).to_be_visible()

    page.locator("#id_language").select_option("fr")
    page.get_by_role("button", name="Guardar idioma").click()
    expect(page.locator(".flash")).to_contain_text("Langue enregistrée.")
    page.get_by_role("link", name="File d'attente", exact=True).click()
    expect(page.get_by_role("heading", name="File d'attente", exact=True)).to_be_visible()

    page.goto(f"{base}/notifications/")
    page.locator("#id_language").select_option("en")
    page.get_by_role("button", name="Enregistrer la langue").click()
    expect(page.get_by_role("heading", name="My language")).to_be_visible()
