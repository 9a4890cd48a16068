"""Pictures a mail embeds (cid:) show in its formatted version: the sandboxed frame loads them
through short-lived signed URLs, which name one attachment of one inquiry and nothing else."""

from __future__ import annotations

import base64
import re

import pytest
import time_machine
from django.contrib.auth.models import User
from django.test import Client
from django.utils import timezone

from inquiries import models as m
from inquiries.ingestion.types import IncomingAttachment
from tests.ui.conftest import inbound

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg=="
)


@pytest.fixture
def alice(agent: User) -> Client:
    client = Client()
    client.force_login(agent)
    return client


def with_picture(channel: m.Channel, **attachment: object) -> m.Inquiry:
    values = {
        "filename": "photo.png",
        "content_type": "image/png",
        "size": len(PNG),
        "content": PNG,
        "content_id": "<photo1@mail.example>",
        "inline": True,
    }
    values.update(attachment)
    return inbound(
        channel,
        body_html='<p>See the crack:</p><img src="cid:photo1@mail.example" alt="crack">',
        attachments=(IncomingAttachment(**values),),  # type: ignore[arg-type]
    )


def image_url(page: str) -> str:
    match = re.search(r"src=&quot;(/inquiries/\d+/inline/\d+/[^&]+)&quot;", page)
    assert match, "no inline image URL in the formatted version"
    return match.group(1)


def test_an_embedded_picture_is_served_to_the_frame_without_a_session(alice, channel, policy):
    inquiry = with_picture(channel)

    url = image_url(alice.get(f"/inquiries/{inquiry.pk}/").content.decode())
    response = Client().get(url)  # the sandboxed frame sends no cookie

    assert response.status_code == 200 and response.content == PNG
    assert response["Content-Type"] == "image/png" and response["X-Content-Type-Options"] == "nosniff"


def test_a_signed_url_names_one_attachment_and_expires(alice, channel, policy):
    inquiry = with_picture(channel)
    other = with_picture(channel, filename="other.png")
    url = image_url(alice.get(f"/inquiries/{inquiry.pk}/").content.decode())
    other_attachment = m.Attachment.objects.get(message__inquiry=other)
    token = url.rstrip("/").rsplit("/", 1)[1]

    swapped = Client().get(f"/inquiries/{other.pk}/inline/{other_attachment.pk}/{token}/")
    forged = Client().get(url[:-3] + "xx/")
    with time_machine.travel(timezone.now() + timezone.timedelta(hours=2)):
        expired = Client().get(url)

    assert (swapped.status_code, forged.status_code, expired.status_code) == (404, 404, 404)


def test_only_raster_pictures_are_served_inline(alice, channel, policy):
    inquiry = with_picture(channel, content_type="image/svg+xml", content=b"<svg onload='alert(1)'/>")

    page = alice.get(f"/inquiries/{inquiry.pk}/").content.decode()

    assert "/inline/" not in page and "cid:photo1@mail.example" in page
