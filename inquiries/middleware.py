"""The logged-in user's language preference, which wins over the browser's Accept-Language.

The preference is copied into the session when the user logs in (`remember_language`, connected
in `InquiriesConfig.ready()`) and when they change it, so that pages pay no query for it and
their pinned query counts stay as they are. A session from before the preference existed reads
it once and keeps it.

The REST API speaks the language its request asks for with `Accept-Language` and English
without one, whatever the user's page preference or a language cookie: an integration gets the
same texts on every call unless it asks otherwise. The webhooks always answer in English.
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.http import HttpRequest, HttpResponse
from django.utils import translation
from django.utils.translation.trans_real import parse_accept_lang_header

from inquiries.models import UserPreference

SESSION_KEY = "cstracker_language"
API_PATH = "/api/"
HOOK_PATH = "/hooks/"


def remember_language(
    sender: object, request: HttpRequest | None, user: AbstractBaseUser, **kwargs: object
) -> None:
    """On login: keep the user's language (or "" for the browser's) in their new session."""
    if request is not None and hasattr(request, "session"):
        language = UserPreference.objects.filter(user_id=user.pk).values_list("language", flat=True).first()
        request.session[SESSION_KEY] = language or ""


def store_language(request: HttpRequest, language: str) -> None:
    """After the user changed their preference: the session follows, from the next page on."""
    request.session[SESSION_KEY] = language


def api_language(header: str) -> str:
    """The first language of an Accept-Language header that the project speaks, else English.
    Only the header counts: LocaleMiddleware would also read a language cookie, which `Vary`
    does not name, so a shared cache could hand one client's language to another."""
    for code, _quality in parse_accept_lang_header(header):
        if code == "*":
            break
        try:
            return translation.get_supported_language_variant(code)
        except LookupError:
            continue
    return settings.LANGUAGE_CODE


class UserLanguageMiddleware:
    """Activate the user's own language after LocaleMiddleware picked the browser's. The REST API
    keeps the one its request asked for (English without Accept-Language); the webhooks answer in
    English, to senders that read no language."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path.startswith(API_PATH):
            language = api_language(request.META.get("HTTP_ACCEPT_LANGUAGE", ""))
            translation.activate(language)
            request.LANGUAGE_CODE = language
            return self.get_response(request)
        if request.path.startswith(HOOK_PATH):
            translation.activate(settings.LANGUAGE_CODE)
            request.LANGUAGE_CODE = settings.LANGUAGE_CODE
            return self.get_response(request)
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            if SESSION_KEY not in request.session:
                remember_language(None, request, user)
            language = request.session[SESSION_KEY]
            if language:
                translation.activate(language)
                request.LANGUAGE_CODE = language
        return self.get_response(request)
