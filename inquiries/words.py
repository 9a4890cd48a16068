"""Translation for the pure modules, which import no Django. Pure: no Django.

The pure modules (the plan of action, for one) write sentences for people. They mark them with
`_()` and `ngettext()` from here, so `manage.py makemessages` collects them like any other text;
`InquiriesConfig.ready()` installs Django's gettext, so they read in the language of the request
or e-mail that shows them. Until then (a pure unit test, a script) they stay English.
"""

from __future__ import annotations

from collections.abc import Callable

_gettext: Callable[[str], str] = lambda text: text  # noqa: E731
_ngettext: Callable[[str, str, int], str] = lambda one, many, n: one if n == 1 else many  # noqa: E731
_number: Callable[[int], str] = lambda n: f"{n:,}"  # noqa: E731


def install(
    gettext: Callable[[str], str], ngettext: Callable[[str, str, int], str], number: Callable[[int], str]
) -> None:
    """Route every `_()`, `ngettext()` and `number()` of the pure modules through these functions."""
    global _gettext, _ngettext, _number
    _gettext, _ngettext, _number = gettext, ngettext, number


def _(text: str) -> str:
    return _gettext(text)


def ngettext(one: str, many: str, n: int) -> str:
    return _ngettext(one, many, n)


def number(n: int) -> str:
    """A count with the reader's thousands separator."""
    return _number(n)
