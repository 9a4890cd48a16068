"""A pseudo-language for the tests: every text that goes through gettext comes back wrapped in
⟦ ⟧, so a page rendered in it shows at a glance which of its words no catalogue could ever
translate (they are outside the brackets). It needs no catalogue entry: a text marked for
translation today is bracketed whether or not its German is in `locale/` yet.

`pseudo_language()` installs it as German for the duration of a `with` block (the user's
preference and the middleware pick "de" as usual); `english_left(html)` returns the visible words
of a page that no bracket covers, less the words a test names as data.
"""

from __future__ import annotations

import gettext as gettext_module
import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from django.utils import translation
from django.utils.translation import trans_real

OPEN, CLOSE = "⟦", "⟧"
CONTEXT_SEPARATOR = "\x04"
# Words that are not language: names, formats, units read as symbols.
NOT_LANGUAGE = frozenset({"cstracker", "cs", "UTC", "CSV", "SKU", "ASIN", "min"})


class PseudoTranslation(gettext_module.NullTranslations):
    """German in name, brackets in fact (Django asks a translation for these methods)."""

    def gettext(self, message: str) -> str:
        if CONTEXT_SEPARATOR in message:  # pgettext: the message after its context
            message = message.split(CONTEXT_SEPARATOR, 1)[1]
        return f"{OPEN}{message}{CLOSE}" if message else message

    def ngettext(self, msgid1: str, msgid2: str, n: int) -> str:
        return self.gettext(msgid1 if n == 1 else msgid2)

    def language(self) -> str:
        return "de"

    def to_language(self) -> str:
        return "de"


def _loaded() -> dict[str, object]:
    """Django's cache of loaded translations, by language (its own module global, private)."""
    cache: dict[str, object] = vars(trans_real)["_translations"]
    return cache


@contextmanager
def pseudo_language() -> Iterator[None]:
    """While it lasts, "de" is the pseudo-language (Django's cache of translations holds it)."""
    saved = _loaded().get("de")
    _loaded()["de"] = PseudoTranslation()
    try:
        with translation.override("de"):
            yield
    finally:
        if saved is None:
            _loaded().pop("de", None)
        else:
            _loaded()["de"] = saved


def unbracketed(text: str) -> str:
    """The text with every bracketed span (and the brackets nested in it) taken out."""
    depth, kept = 0, []
    for char in text:
        if char == OPEN:
            depth += 1
        elif char == CLOSE:
            depth = max(0, depth - 1)
        elif depth == 0:
            kept.append(char)
    return "".join(kept)


def visible_text(html: str) -> str:
    """The text a reader sees: no scripts, styles, icons, code, keys or tags; the titles kept."""
    text = re.sub(r"<(script|style|svg|template|code|kbd)\b.*?</\1>", " ", html, flags=re.S)
    titles = " ".join(re.findall(r'\b(?:title|aria-label|placeholder|alt)="([^"]*)"', text))
    text = re.sub(r"<[^>]*>", " ", text)
    return f"{text} {titles}".replace("&#x27;", "'").replace("&quot;", '"').replace("&amp;", "&")


def english_left(text: str, *, data: Iterable[str] = ()) -> list[str]:
    """The words of `text` outside the brackets that are neither data (`data`, numbers, codes)
    nor in `NOT_LANGUAGE`: the English no catalogue can translate."""
    rest = unbracketed(text)
    for value in sorted(data, key=len, reverse=True):
        rest = rest.replace(value, " ")
    words = re.findall(r"[^\W\d_]{2,}", rest)
    return [word for word in words if word not in NOT_LANGUAGE]
