"""Texts built in Python reach the pages in the reader's language (issue 23): the health page, the
plan of action, the reports, the clusters and the notifications.

Each page is rendered in a pseudo-language (`tests.ui.pseudo`: every text that went through gettext
comes back in ⟦brackets⟧) and must show no English word outside the brackets but the data the test
wrote: a text no catalogue can translate fails the test, whether or not its German is in `locale/`
yet. The last test reads the real German catalogue: where it translates one of the metric names, the
page shows the German name and not the English one.
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import polib
import pytest
import time_machine
from django.conf import settings
from django.contrib.auth.models import User
from django.test import TestCase
from django.urls import reverse
from django.utils import translation

from inquiries import models as m
from inquiries import services
from inquiries.services.notifications import notify_for_cluster_events
from inquiries.services.sweep import sweep
from tests.complaints.helpers import make_cluster
from tests.factories import incoming, policy_with_targets
from tests.health.conftest import NOW, answer, ask, client_for, days, hours
from tests.ui.pseudo import english_left, pseudo_language, visible_text

pytestmark = pytest.mark.django_db

SUBJECT = "Qwz"  # a subject in no language
PERIOD = {"from": "2026-02-09", "to": "2026-03-10"}


@pytest.fixture(autouse=True)
def english_after_each_test() -> Iterator[None]:
    """The pages activate their user's language in this thread: leave it in the default."""
    yield
    translation.activate(settings.LANGUAGE_CODE)


@pytest.fixture
def shop(account: m.Account) -> m.Account:
    """Team A's shop on Amazon (its metrics from orders, the A-to-z rule, the appeal wording)."""
    account.marketplace = m.Marketplace.AMAZON
    account.save()
    return account


@pytest.fixture
def at_now() -> Iterator[datetime]:
    with time_machine.travel(NOW, tick=False):
        yield NOW


def a_busy_month(channel: m.Channel) -> None:
    """Answered and late messages, one about to go late, an A-to-z risk, and a cluster."""
    for index in range(45):
        message = ask(channel, NOW - days(1 + index % 6) - hours(index % 5), subject=SUBJECT)
        answer(message, message.received_at + hours(30 if index % 15 == 0 else 2))
    ask(channel, NOW - hours(22), subject=SUBJECT)
    ask(channel, NOW - hours(50), order_id="114-7731", subject=SUBJECT)
    make_cluster(channel, m.Topic.objects.get(key="quality"), sku="QX-1", subject=SUBJECT)


def data(account: m.Account, *, zones: bool = False) -> list[str]:
    """What the test wrote and the people typed: names, subjects, addresses, topics; with `zones`,
    the time zones' names too (a page that offers them in a list)."""
    people = [value for user in User.objects.all() for value in (user.username, user.first_name) if value]
    written = [account.name, SUBJECT, "QX-1", "114-7731", "example.com", "buyer", "Amazon"]
    topics = list(m.Topic.objects.values_list("name", flat=True))
    channels = list(m.Channel.objects.values_list("name", flat=True))
    teams = list(m.Team.objects.values_list("name", flat=True))
    return [*written, *people, *topics, *channels, *teams, *(zoneinfo.available_timezones() if zones else ())]


def in_pseudo_german(user: User, url: str, **query: str) -> str:
    """The page as `user` reads it in the pseudo-language (their language is German)."""
    services.set_preferences(user=user, language="de")
    with pseudo_language():
        response = client_for(user).get(url, query)
    assert response.status_code == 200, url
    body = response.content.decode()
    return body if response["Content-Type"].startswith("text/markdown") else visible_text(body)


def test_the_health_page_has_no_english_outside_the_catalogues(shop, channel, manager, at_now):
    a_busy_month(channel)

    text = in_pseudo_german(manager, reverse("inquiries:health_account", args=[shop.pk]))

    assert english_left(text, data=data(shop)) == []
    # The metrics, their definitions and the rescue sentence went through gettext.
    for wording in (
        "⟦Order Defect Rate (Seller Fulfilled)⟧",
        "⟦Order Defect Rate (Fulfilled by Amazon)⟧",
        "⟦Late response rate, 7 days⟧",
        "⟦Open complaint clusters⟧",
    ):
        assert wording in text
    assert "⟦orders the seller ships (not fulfilled by Amazon), purchased in the window⟧" in text
    assert "⟦orders Fulfilled by Amazon, purchased in the window⟧" in text
    assert "⟦Answer ⟦this order message (order 114-7731)⟧ in the next" in text


def test_the_plan_of_action_has_no_english_outside_the_catalogues(shop, channel, manager, at_now):
    a_busy_month(channel)

    page = in_pseudo_german(manager, reverse("inquiries:health_plan", args=[shop.pk]), **PERIOD)
    markdown = in_pseudo_german(manager, reverse("inquiries:health_plan_md", args=[shop.pk]), **PERIOD)

    assert english_left(page, data=data(shop)) == []
    assert english_left(markdown, data=data(shop)) == []
    assert "⟦Plan of action⟧" in page  # the marketplace's name for the document, from the facts table
    assert "⟦Order Defect Rate (Seller Fulfilled)⟧" in markdown and "⟦not answered⟧" in markdown


def test_the_reports_and_their_sections_have_no_english_outside_the_catalogues(
    shop, channel, manager, at_now
):
    a_busy_month(channel)
    url = reverse("inquiries:reports")

    pages = [in_pseudo_german(manager, url)]
    pages += [in_pseudo_german(manager, url, section=name) for name in ("times", "breakdowns", "volume")]

    for text in pages:
        assert english_left(text, data=data(shop, zones=True)) == []
    assert "⟦By agent⟧" in pages[2] and "⟦Median first reply (⟦business hours⟧)⟧" in pages[2]


def test_the_cluster_pages_and_titles_have_no_english_outside_the_catalogues(shop, channel, manager, at_now):
    a_busy_month(channel)
    cluster = m.Cluster.objects.get()
    texts = make_cluster(channel, m.Topic.objects.get(key="quality"), subject="", members=2)
    m.Cluster.objects.filter(pk=texts.pk).update(kind=m.ClusterKind.NEAR_DUPLICATE, sku="")
    m.Inquiry.objects.filter(subject="").update(sku="")

    listing = in_pseudo_german(manager, reverse("inquiries:cluster_list"))
    detail = in_pseudo_german(manager, reverse("inquiries:cluster_detail", args=[cluster.pk]))

    assert english_left(listing, data=data(shop)) == []
    assert english_left(detail, data=data(shop)) == []
    assert "⟦Near-identical texts⟧" in listing  # the title of a cluster whose texts share no word


def test_each_recipient_gets_clock_notifications_in_their_language(channel, agent, manager):
    """A breach tells the account's agent (German) and its manager (English): one row each, each
    written in its reader's language."""
    policy_with_targets(first_reply=3600, next_reply=None, resolution=None)
    started = NOW - hours(2)
    services.record_message(
        channel=channel, incoming=incoming(received_at=started, subject=SUBJECT), now=started
    )
    services.set_preferences(user=agent, language="de")
    with (
        pseudo_language(),
        time_machine.travel(NOW, tick=False),
        TestCase.captureOnCommitCallbacks(execute=True),
    ):
        sweep()

    german = m.Notification.objects.get(user=agent, kind=m.NotificationKind.CLOCK_BREACHED)
    english = m.Notification.objects.get(user=manager, kind=m.NotificationKind.CLOCK_BREACHED)
    assert (
        german.title.startswith("⟦#")
        and english_left(german.title + german.body, data=data(channel.account)) == []
    )
    assert english.title.startswith("#") and "breached" in english.title and "⟦" not in english.body


def test_cluster_notifications_and_the_notifications_page_have_no_english_outside_the_catalogues(
    shop, channel, manager, at_now
):
    services.set_preferences(user=manager, language="de")
    cluster = make_cluster(channel, m.Topic.objects.get(key="quality"), sku="QX-1", subject=SUBJECT)
    event = m.ClusterEvent.objects.create(cluster=cluster, kind=m.ClusterEventKind.OPENED, at=NOW)
    with pseudo_language():
        assert notify_for_cluster_events(event_ids=[event.pk], now=NOW) == 1

    note = m.Notification.objects.get(user=manager)
    assert note.title.startswith("⟦Cluster opened: ")
    assert english_left(note.title + " " + note.body, data=data(shop)) == []
    page = in_pseudo_german(manager, reverse("inquiries:notifications"))
    languages = ["English", "Deutsch", "Español", "Français"]  # each language's name in itself
    assert english_left(page, data=[*data(shop, zones=True), *languages]) == []


# --- the German catalogue ---------------------------------------------------------------------

# Amazon's German names for its metrics (Seller Central on amazon.de; its help calls the ODR "Rate
# an Bestellmängeln", the channels "Versand durch Verkäufer" and "Versand durch Amazon"); where a
# name is not certain, the English one follows in parentheses, as sellers also meet it.
GERMAN = {
    "Order Defect Rate (Seller Fulfilled)": "Rate an Bestellmängeln (Versand durch Verkäufer)",
    "Order Defect Rate (Fulfilled by Amazon)": "Rate an Bestellmängeln (Versand durch Amazon)",
    "Late Shipment Rate": "Quote verspäteter Lieferungen (Late Shipment Rate)",
    "Pre-fulfilment Cancel Rate": "Stornoquote vor Versand (Pre-fulfilment Cancel Rate)",
    "Valid Tracking Rate": "Rate gültiger Sendungsverfolgungsnummern (Valid Tracking Rate)",
}


def test_in_german_the_health_page_names_amazons_metrics_in_amazons_german(shop, channel, manager, at_now):
    """Every listed name the German catalogue translates reads in German on the page (the
    catalogues gain this branch's texts when they are next extracted and translated; the entries
    already there are checked now)."""
    catalogue = polib.pofile(str(Path(settings.LOCALE_PATHS[0]) / "de" / "LC_MESSAGES" / "django.po"))
    known = {entry.msgid: entry.msgstr for entry in catalogue.translated_entries()}
    a_busy_month(channel)
    services.set_preferences(user=manager, language="de")

    page = visible_text(
        client_for(manager).get(reverse("inquiries:health_account", args=[shop.pk])).content.decode()
    )

    for english, german in GERMAN.items():
        if english in known:
            assert known[english] == german
            assert german in page
            assert english not in page.replace(german, "")  # the English name only inside the German one
    assert "Gefährdet" in page  # the account's status (at risk), from a catalogue entry there already
    # The bands the "Answer first" badges name ("...: gefährdet → kritisch"), from entries there already.
    assert "gefährdet → kritisch" in page
