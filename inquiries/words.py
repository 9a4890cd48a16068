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


def gettext_noop(text: str) -> str:
    """Mark a text for the catalogues where it is defined (a facts table, a constant) and return it
    unchanged: the module that shows it passes it to `_()` then, in the reader's language."""
    return text


# The months as the charts abbreviate them, in the reader's language through `_()`.
SHORT_MONTHS = (
    gettext_noop("Jan"),
    gettext_noop("Feb"),
    gettext_noop("Mar"),
    gettext_noop("Apr"),
    gettext_noop("May"),
    gettext_noop("Jun"),
    gettext_noop("Jul"),
    gettext_noop("Aug"),
    gettext_noop("Sep"),
    gettext_noop("Oct"),
    gettext_noop("Nov"),
    gettext_noop("Dec"),
)


def short_date(day: int, month: int) -> str:
    """ "2 Mar" (a day and a month from 1 to 12), the month in the reader's language."""
    return f"{day} {_(SHORT_MONTHS[month - 1])}"


def number(n: int) -> str:
    """A count with the reader's thousands separator."""
    return _number(n)
