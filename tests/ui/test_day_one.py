"""Day-one polish of the pages (issue 23): the Admin link, the favicon, the bell."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from django.contrib.staticfiles import finders
from django.templatetags.static import static
from django.test import Client
from django.urls import reverse

pytestmark = pytest.mark.django_db


def client_for(user: object) -> Client:
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
