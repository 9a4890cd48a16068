"""The pages' HTTP types: the request a logged-in page receives, and the download header.

Django builds every request as an `HttpRequest`; `AuthedRequest` only names what is true of
the ones that reach a view behind `login_required`, so that the views pass `request.user` to
the selectors and services as the project's User.
"""

from __future__ import annotations

from django.contrib.auth.models import User
from django.http import HttpRequest
from django.utils.http import content_disposition_header
from django_htmx.middleware import HtmxDetails


class AuthedRequest(HttpRequest):
    """A request to a page behind `login_required` (AUTH_USER_MODEL is auth.User); django-htmx's
    middleware sets `htmx` on every request."""

    user: User
    htmx: HtmxDetails


def attachment_header(filename: str) -> str:
    """The Content-Disposition of a download named `filename`."""
    header = content_disposition_header(as_attachment=True, filename=filename)
    # Django returns None only for an inline response without a filename; its stub has no overload.
    assert header is not None
    return header
