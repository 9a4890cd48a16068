"""Day-one polish of the pages (issue 23): the Admin link, the favicon, the bell."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth.models import Permission, User
from django.contrib.staticfiles import finders
from django.templatetags.static import static
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from inquiries import models as m
from inquiries import services
from tests.ui.conftest import inbound

pytestmark = pytest.mark.django_db


def client_for(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_the_favicon_is_served_by_the_app():
    response = Client().get("/favicon.ico")
    assert response.status_code == 302
    assert response["Location"] == static("favicon.svg")
    # The test client has no collected static files; the file the redirect names is the app's.
    with open(finders.find("favicon.svg"), "rb") as icon:
        assert icon.read().startswith(b"<svg")


def test_the_admin_link_shows_only_to_staff_who_can_use_the_admin(manager, superuser):
    admin_url = reverse("admin:index")
    assert f'href="{admin_url}"' not in client_for(manager).get("/").content.decode()

    manager.is_staff = True
    manager.save()
    # Staff without a single permission would read "You don't have permission to view or edit
    # anything" behind the link.
    assert f'href="{admin_url}"' not in client_for(manager).get("/").content.decode()

    manager.user_permissions.add(Permission.objects.get(codename="view_slapolicy"))
    assert f'href="{admin_url}"' in client_for(manager).get("/").content.decode()
    assert f'href="{admin_url}"' in client_for(superuser).get("/").content.decode()


# --- the bell and the notifications page ---------------------------------------------------


def notify(user: User, title: str, *, at: datetime, read: bool = False) -> m.Notification:
    return m.Notification.objects.create(
        user=user,
        kind=m.NotificationKind.CLOCK_BREACHED,
        title=title,
        url="/",
        dedupe_key=title,
        created_at=at,
        read_at=at if read else None,
    )


def test_the_bell_shows_an_outlined_zero_and_says_all_caught_up(agent):
    html = client_for(agent).get(reverse("inquiries:notifications-bell")).content.decode()
    assert 'aria-label="Notifications: 0 unread"' in html
    assert 'class="bell-count bell-zero">0<' in html and "has-unread" not in html
    assert "You are all caught up" in html


def test_the_bell_menu_lists_the_latest_items_in_the_users_time_zone(agent, django_assert_num_queries):
    noon = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
    for n in range(8):
        notify(agent, f"Breach {n}", at=noon + timedelta(minutes=n), read=n == 0)
    services.set_preferences(user=agent, time_zone="Asia/Tokyo")
    client = client_for(agent)

    with django_assert_num_queries(5):  # session, user, unread count, latest items, page settings
        html = client.get(reverse("inquiries:notifications-bell")).content.decode()

    assert 'aria-label="Notifications: 7 unread"' in html
    assert "Breach 7" in html and "Breach 2" in html and "Breach 1" not in html  # the latest six
    assert "Tue 1 Dec, 21:07 JST" in html  # 12:07 UTC in Tokyo
    page = client.get(reverse("inquiries:notifications")).content.decode()
    assert "Times in Asia/Tokyo" in page and "Tue 1 Dec 2026, 21:07 JST" in page


def test_mark_read_from_the_menu_answers_with_the_menu_and_without_js_with_the_page(agent):
    first = notify(agent, "First", at=timezone.now())
    notify(agent, "Second", at=timezone.now())
    client = client_for(agent)
    url = reverse("inquiries:notifications-read")

    menu = client.post(url, {"id": first.pk}, HTTP_HX_REQUEST="true")
    assert menu.status_code == 200
    html = menu.content.decode()
    assert '<details class="bell-menu" open>' in html and 'aria-label="Notifications: 1 unread"' in html

    page = client.post(url)  # a plain form post (no JavaScript): back to the page
    assert page.status_code == 302 and page["Location"] == reverse("inquiries:notifications")
    assert not m.Notification.objects.filter(user=agent, read_at=None).exists()


def test_a_bad_time_zone_is_refused_with_its_reason_and_nothing_changes(agent):
    services.set_preferences(user=agent, time_zone="Europe/Berlin")
    client = client_for(agent)
    response = client.post(
        reverse("inquiries:notifications-time-zone"), {"time_zone": "Mars/Olympus"}, follow=True
    )
    assert "Unknown time zone &#x27;Mars/Olympus&#x27;" in response.content.decode()
    assert m.UserPreference.objects.get(user=agent).time_zone == "Europe/Berlin"


# --- queue density, preview line, subjectless titles ------------------------------------------


def test_the_density_is_remembered_per_user(agent, teammate, channel, policy):
    inbound(channel)
    alice, bob = client_for(agent), client_for(teammate)
    assert 'class="queue queue-comfortable"' in alice.get("/").content.decode()

    response = alice.post(reverse("inquiries:density"), {"density": "compact", "next": "/?status=open"})
    assert response.status_code == 302 and response["Location"] == "/?status=open"
    assert 'class="queue queue-compact"' in alice.get("/").content.decode()
    assert 'class="queue queue-comfortable"' in bob.get("/").content.decode()

    # An address elsewhere is not followed; an unknown density is explained, nothing changes.
    response = alice.post(
        reverse("inquiries:density"), {"density": "tiny", "next": "https://evil.example/"}, follow=True
    )
    assert response.redirect_chain[0][0] == reverse("inquiries:queue")
    assert "Unknown density" in response.content.decode()
    assert m.UserPreference.objects.get(user=agent).density == "compact"


def test_the_queue_previews_the_latest_customer_words_and_titles_chat_messages(agent, channel, policy):
    chat = inbound(
        channel, subject="", body_text="Hi, my  parcel\nnever arrived and the tracking says delivered"
    )
    inbound(
        channel,
        subject="",
        body_text="<script>alert(1)</script> still nothing, please help",
        thread_id=chat.messages.get().thread_id or "",
        in_reply_to=chat.messages.get().external_id,
        ago=timedelta(minutes=2),
    )
    titled = inbound(
        channel, subject="Where is my order?", body_text="Ordered last week.", sender_address="b@x.example"
    )

    assert chat.messages.count() == 2  # the second message joined the chat
    client = client_for(agent)
    html = client.get("/").content.decode()
    assert "Hi, my parcel never arrived and the tracking…" in html  # the title: its first words
    assert "(no subject)" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; still nothing, please help" in html  # the latest words
    assert "Ordered last week." in html and "Where is my order?" in html
    detail = client.get(reverse("inquiries:detail", args=[chat.pk])).content.decode()
    assert "<h1>Hi, my parcel never arrived and the tracking… <span" in detail
    assert titled.subject == "Where is my order?"


def test_the_customers_other_inquiries_title_a_chat_message_by_its_first_words(agent, channel, policy):
    chat = inbound(
        channel, subject="", body_text="<b>hi</b> is the  kettle\nback in stock? I want one for my mum"
    )
    later = inbound(
        channel, subject="Where is my order?", body_text="Ordered last week.", ago=timedelta(minutes=1)
    )
    assert later.customer_id == chat.customer_id and later.pk != chat.pk

    detail = client_for(agent).get(reverse("inquiries:detail", args=[later.pk])).content.decode()
    others = detail[detail.index(f"{reverse('inquiries:detail', args=[chat.pk])}") :]
    assert others.startswith(
        f'{reverse("inquiries:detail", args=[chat.pk])}">&lt;b&gt;hi&lt;/b&gt; is the kettle back'
    )
    assert "(no subject)" not in detail
