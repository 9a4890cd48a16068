"""Outgoing reply checks: what a marketplace forbids in a message to its buyer. Pure: no Django.

The rules are warnings, not a censor: a reply that trips one is sent only once the agent has
confirmed that rule by name (`unconfirmed`). Each marketplace has its own rule list; a
marketplace without one (own shop, other) is never checked.

Amazon: Seller Central help page "Buyer-Seller Messaging Guidelines" (with "Communication
Guidelines"): no links to sites outside Amazon, no requests for a positive review or feedback,
no marketing or promotional content, and no personal contact details (e-mail addresses, phone
numbers) in messages to buyers. The phrases below are the common ways each is written in
English, German, Spanish and French.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Finding:
    rule: str  # stable name, e.g. "external_link"; the API reports it and the agent confirms it
    title: str  # what the rule forbids, for the agent
    excerpt: str  # the words of the reply that tripped it


def _words(*phrases: str) -> re.Pattern[str]:
    return re.compile(r"(?<!\w)(?:" + "|".join(phrases) + r")(?!\w)", re.IGNORECASE)


_URL_RE = re.compile(
    r"(?:\bhttps?://|\bwww\.)[^\s<>\"']+"
    r"|(?<![@\w.-])(?:[a-z0-9-]+\.)+(?:com|net|org|shop|store|de|es|fr|it|co\.uk|uk|eu|io|info|biz|ly)"
    r"(?:/[^\s<>\"']*)?(?![\w@])",
    re.IGNORECASE,
)
# Amazon's own pages may be linked (order pages, the returns centre): they are not "external".
_AMAZON_HOST_RE = re.compile(r"^(?:https?://)?(?:[\w-]+\.)*amazon\.[a-z.]+(?:/|$)", re.IGNORECASE)

_REVIEW_RE = _words(
    # English
    r"(?:positive|good|great|5[- ]?star|five[- ]star)\s+(?:review|feedback|rating)s?",
    r"(?:leave|write|give|post)\s+(?:us\s+|me\s+)?(?:a\s+|an\s+|your\s+|some\s+)?(?:\w+\s+)?(?:review|feedback|rating)",
    r"rate\s+us",
    r"(?:remove|removing|change|changing|update|updating|revise|revising)\s+(?:your\s+|the\s+)?(?:negative\s+)?(?:review|feedback)",
    # German
    r"positive[nsr]?\s+(?:Bewertung|Rezension|Feedback)(?:en)?",
    r"(?:5|fünf)\s+Sterne(?:n)?",
    r"(?:Bewertung|Rezension|Feedback)\s+(?:hinterlassen|abgeben|schreiben)",
    r"bewerten\s+Sie\s+uns",
    # Spanish
    r"(?:reseña|valoración|opinión|calificación)(?:es)?\s+positivas?",
    r"(?:5|cinco)\s+estrellas",
    r"(?:deje|dejar|déjenos|escriba|escribir)\s+(?:una\s+|su\s+)?(?:reseña|valoración|opinión)",
    # French
    r"(?:avis|commentaire|évaluation)s?\s+positi(?:f|fs|ve|ves)",
    r"(?:5|cinq)\s+étoiles",
    r"(?:laisser|laissez|laissez-nous|donner|écrire)\s+(?:un\s+|votre\s+)?(?:avis|commentaire|évaluation)",
)

_MARKETING_RE = _words(
    # English
    r"(?:discount|promo|promotion|coupon|voucher)\s+codes?",
    r"coupons?",
    r"\d{1,2}\s?%\s+off",
    r"(?:our|my)\s+(?:other|new|latest)\s+(?:products|items|collection|range)",
    r"(?:subscribe|sign\s+up)\s+(?:to|for)\s+(?:our\s+)?newsletter",
    r"newsletter",
    r"follow\s+us",
    r"special\s+offer",
    # German
    r"(?:Gutschein|Rabatt|Aktions)codes?",
    r"Gutscheine?",
    r"\d{1,2}\s?%\s+Rabatt",
    r"unsere[nm]?\s+(?:anderen|neuen|weiteren)\s+(?:Produkte|Artikel|Kollektion)",
    r"folgen\s+Sie\s+uns",
    r"Sonderangebot(?:e)?",
    # Spanish
    r"c[oó]digos?\s+(?:de\s+)?(?:descuento|promoci[oó]n|promocional)",
    r"cup[oó]n(?:es)?",
    r"\d{1,2}\s?%\s+de\s+descuento",
    r"nuestros\s+(?:otros|nuevos)\s+productos",
    r"s[ií]ganos",
    r"bolet[ií]n",
    # French
    r"codes?\s+(?:promo|promotionnel|de\s+réduction)",
    r"bons?\s+de\s+réduction",
    r"\d{1,2}\s?%\s+de\s+réduction",
    r"nos\s+(?:autres|nouveaux)\s+produits",
    r"suivez-nous",
    r"offre\s+spéciale",
)

_EMAIL_RE = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+", re.IGNORECASE)
# Phone numbers: international (+49 ..., 0049 ...), or a run of digit groups with separators,
# 8 to 15 digits in all. Amazon order ids (3-7-7 digits) are taken out first: they are not phones.
_AMAZON_ORDER_RE = re.compile(r"\b\d{3}-\d{7}-\d{7}\b")
_PHONE_RE = re.compile(r"(?<![\w+])(?:\+|00)?\(?\d[\d ()./-]{6,}\d(?![\w])")
_PHONE_WORDS_RE = _words(
    r"call\s+(?:us|me)",
    r"phone",
    r"tel\.?",
    r"whats\s?app",
    r"Telefon",
    r"anrufen",
    r"rufen\s+Sie",
    r"tel[eé]fono",
    r"ll[aá]menos",
    r"t[eé]l[eé]phone",
    r"appelez",
)


def _excerpt(text: str, start: int, end: int) -> str:
    return " ".join(text[start:end].split())[:120]


def _links(text: str) -> Iterable[str]:
    for match in _URL_RE.finditer(text):
        if not _AMAZON_HOST_RE.match(match.group(0)):
            yield match.group(0)


def _phones(text: str) -> Iterable[str]:
    text = _AMAZON_ORDER_RE.sub(" ", text)
    for match in _PHONE_RE.finditer(text):
        found = match.group(0)
        digits = sum(ch.isdigit() for ch in found)
        international = found.startswith(("+", "00"))
        if not 8 <= digits <= 15:
            continue
        context = text[max(0, match.start() - 40) : match.start()]
        if international or _PHONE_WORDS_RE.search(context) or re.search(r"\d[ ./-]\d", found):
            yield found


def external_link(text: str) -> Finding | None:
    links = list(_links(text))
    if not links:
        return None
    return Finding("external_link", "Links to sites outside Amazon are not allowed", links[0][:120])


def review_request(text: str) -> Finding | None:
    match = _REVIEW_RE.search(text)
    if match is None:
        return None
    return Finding(
        "review_request",
        "Asking for a positive review or feedback (or to change one) is not allowed",
        _excerpt(text, match.start(), match.end()),
    )


def marketing(text: str) -> Finding | None:
    match = _MARKETING_RE.search(text)
    if match is None:
        return None
    return Finding(
        "marketing",
        "Marketing and promotions (coupons, other products, newsletters) are not allowed",
        _excerpt(text, match.start(), match.end()),
    )


def contact_details(text: str) -> Finding | None:
    email = _EMAIL_RE.search(text)
    if email is not None:
        return Finding(
            "contact_details", "Personal contact details (e-mail addresses) are not allowed", email.group(0)
        )
    phone = next(iter(_phones(text)), None)
    if phone is not None:
        return Finding(
            "contact_details", "Personal contact details (phone numbers) are not allowed", phone.strip()
        )
    return None


Rule = Callable[[str], Finding | None]

AMAZON_RULES: tuple[Rule, ...] = (external_link, review_request, marketing, contact_details)
RULES: dict[str, tuple[Rule, ...]] = {"amazon": AMAZON_RULES}
RULE_NAMES: frozenset[str] = frozenset({"external_link", "review_request", "marketing", "contact_details"})
POLICY_PAGES: dict[str, str] = {"amazon": "Amazon Seller Central: Buyer-Seller Messaging Guidelines"}


def check(text: str, marketplace: str) -> list[Finding]:
    """Every rule of `marketplace` this reply text breaks, one finding per rule."""
    findings = (rule(text) for rule in RULES.get(marketplace, ()))
    return [finding for finding in findings if finding is not None]


def unconfirmed(findings: Iterable[Finding], confirmed: Iterable[str]) -> list[Finding]:
    """The findings whose rule the agent has not confirmed by name."""
    confirmed = set(confirmed)
    return [finding for finding in findings if finding.rule not in confirmed]
