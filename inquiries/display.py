"""How texts read where space is short: chat-style messages have no subject. No Django.

A marketplace chat or a WhatsApp-style message arrives without a subject; "(no subject)" in
every list tells an agent nothing, the customer's first words do.
"""

from __future__ import annotations

import re

TITLE_WORDS = 8
PREVIEW_CHARS = 160
_SPACE = re.compile(r"\s+")


def first_words(text: str, words: int = TITLE_WORDS) -> str:
    """The first `words` words of `text` on one line, with "…" when there is more."""
    parts = _SPACE.sub(" ", text).strip().split(" ")
    if parts == [""]:
        return ""
    return " ".join(parts[:words]) + ("…" if len(parts) > words else "")


def title(subject: str, text: str, empty: str = "(no subject)") -> str:
    """The subject; without one, the first words of the customer's text; else `empty` ("(no subject)"
    in the reader's language)."""
    return subject.strip() or first_words(text or "") or empty


def preview(text: str, chars: int = PREVIEW_CHARS) -> str:
    """`text` on one line, cut at a word boundary near `chars` characters, with "…" if cut."""
    line = _SPACE.sub(" ", text or "").strip()
    if len(line) <= chars:
        return line
    cut = line[:chars].rsplit(" ", 1)[0] if " " in line[:chars] else line[:chars]
    return cut.rstrip(" ,.;:") + "…"


def target_duration(seconds: int, *, business: bool, suffix: str = "business hours") -> str:
    """A target or an elapsed time as people count it. On a business calendar, hours are
    business hours and never roll into days ("27h business hours", not "1d 3h": a business
    day is 8 or 9 hours, not 24); around the clock, days are days. `suffix` is "business hours"
    in the reader's language."""
    minutes = seconds // 60
    hours, minutes = divmod(minutes, 60)
    if business:
        text = f"{hours}h {minutes}m" if hours and minutes else (f"{hours}h" if hours else f"{minutes}m")
        return f"{text} {suffix}"
    days, hours = divmod(hours, 24)
    parts = [f"{days}d" if days else "", f"{hours}h" if hours else "", f"{minutes}m" if minutes else ""]
    return " ".join(part for part in parts if part) or "0m"
