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
_decimal: Callable[[float, int], str] = lambda value, places: f"{value:.{places}f}"  # noqa: E731


def install(
    gettext: Callable[[str], str],
    ngettext: Callable[[str, str, int], str],
    number: Callable[[int], str],
    decimal: Callable[[float, int], str] | None = None,
) -> None:
    """Route every `_()`, `ngettext()`, `number()` and `decimal()` of the pure modules through these
    functions."""
    global _gettext, _ngettext, _number, _decimal
    _gettext, _ngettext, _number = gettext, ngettext, number
    if decimal is not None:
        _decimal = decimal


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


def in_sentence(label: str) -> str:
    """A label (a status, a severity) inside a sentence: its first letter lower-cased, the rest as
    written, so German keeps its nouns' capitals ("Keine Daten" -> "keine Daten", not "keine daten")."""
    return label[:1].lower() + label[1:]


def decimal(value: float, places: int) -> str:
    """A number with `places` decimals and the reader's decimal mark: 8.7 in English, 8,7 in German."""
    return _decimal(value, places)


def percent(value: float, places: int = 1) -> str:
    """A percentage (`value` already times 100) as the reader writes it: "8.7%" in English, "8,7 %" in
    German and French (the space a no-break one, as their typography wants)."""
    return _("%(number)s%%") % {"number": decimal(value, places)}
