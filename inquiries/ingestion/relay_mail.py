"""The order and item a marketplace's relayed buyer message names (pure: no Django).

Marketplaces relay buyer messages by e-mail from anonymised addresses: Amazon from
`...@marketplace.amazon.<store>`, Walmart from `...@relay.walmart.com`, eBay from
`...@members.ebay.<site>`. Their notices name the order and often the item, in the subject or
in labelled lines of the body. One small parser per marketplace reads them:

- Amazon: the order number "123-1234567-1234567" (its shape alone is unambiguous; a labelled
  one, "Order ID: ...", before one the buyer quotes in the message), and the ASIN when a line
  labels it ("ASIN: B0...") or a product link carries it (".../dp/B0...").
- Walmart: the purchase order number when labelled ("PO#", "Purchase Order #", "PO Number"),
  else the customer order number when labelled ("Order #" and 15 digits); the SKU when
  labelled. Orders are imported by PO number (docs/orders.md), so only a PO links.
- eBay: the order number "12-12345-12345" (or, labelled "Order number", an older
  "item-transaction" pair), and the 12-digit item number when labelled ("Item ID", "Item
  number") or closing the subject ("... sent a message about <title> #123456789012").

`find_reference(sender, subject, body)` picks the parser by the sender's domain; mail from
anyone else (a buyer writing directly, a forwarded notice) is read for an Amazon order number
only, as before: a bare number means nothing without the marketplace.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

AMAZON_ORDER_RE = re.compile(r"(?<![\d-])\d{3}-\d{7}-\d{7}(?![\d-])")
# "Order ID: 114-...", "Order #114-...", "(Order: 114-...)": the notice's own label, which wins
# over an order number the buyer quotes in the message.
_AMAZON_LABELLED_RE = re.compile(
    r"\border(?:\s*(?:id|number|no\.?))?\s*[:#]\s*#?(\d{3}-\d{7}-\d{7})(?![\d-])", re.IGNORECASE
)
# An ASIN is 10 characters: "B0" and eight letters or digits for most products, an ISBN-10 for books.
_ASIN = r"(B0[A-Z0-9]{8}|\d{9}[\dX])"
_ASIN_RE = re.compile(rf"\bASIN\s*[:#]?\s*{_ASIN}\b|/(?:dp|gp/product)/{_ASIN}\b", re.IGNORECASE)

_WALMART_PO_RE = re.compile(
    r"\b(?:PO|P\.O\.|purchase\s+order)\s*(?:#|no\.?|number|id)?\s*[:#]?\s*(\d{10,15})\b", re.IGNORECASE
)
_WALMART_ORDER_RE = re.compile(r"\border\s*(?:#|no\.?|number)\s*[:#]?\s*(\d{15})\b", re.IGNORECASE)
_SKU_RE = re.compile(r"\bSKU\s*[:#]\s*([A-Za-z0-9][A-Za-z0-9._\-/]{0,99})", re.IGNORECASE)

_EBAY_ORDER_RE = re.compile(r"(?<![\d-])\d{2}-\d{5}-\d{5}(?![\d-])")
_EBAY_LEGACY_ORDER_RE = re.compile(
    r"\border\s*(?:number|no\.?|#|id)\s*[:#]?\s*(\d{12}-\d{12,14})\b", re.IGNORECASE
)
_EBAY_ITEM_RE = re.compile(r"\bitem\s*(?:id|number|no\.?|#)\s*[:#]?\s*(\d{12})\b", re.IGNORECASE)
_EBAY_SUBJECT_ITEM_RE = re.compile(r"#(\d{12})\s*$")


@dataclass(frozen=True, slots=True)
class OrderReference:
    """What a message names: the marketplace's order id and the item (ASIN, eBay item number or
    the seller's SKU), each "" when it names none."""

    order_id: str = ""
    item: str = ""


def _first(pattern: re.Pattern[str], texts: tuple[str, ...]) -> str:
    for text in texts:
        match = pattern.search(text)
        if match:
            return next((group for group in match.groups() if group), match.group(0))
    return ""


def amazon_reference(*texts: str) -> OrderReference:
    """The Amazon order number and ASIN in `texts` (subject first, then body): a labelled order
    number first, else the first one."""
    order_id = _first(_AMAZON_LABELLED_RE, texts) or _first(AMAZON_ORDER_RE, texts)
    return OrderReference(order_id, _first(_ASIN_RE, texts).upper())


def walmart_reference(*texts: str) -> OrderReference:
    """The Walmart purchase order number (else the customer order number) and SKU in `texts`."""
    order_id = _first(_WALMART_PO_RE, texts) or _first(_WALMART_ORDER_RE, texts)
    return OrderReference(order_id, _first(_SKU_RE, texts))


def ebay_reference(subject: str, *texts: str) -> OrderReference:
    """The eBay order number and item number in the subject and `texts`."""
    everything = (subject, *texts)
    order_id = _first(_EBAY_ORDER_RE, everything) or _first(_EBAY_LEGACY_ORDER_RE, everything)
    item = _first(_EBAY_ITEM_RE, everything) or _first(_EBAY_SUBJECT_ITEM_RE, (subject,))
    return OrderReference(order_id, item)


_RELAYS: tuple[tuple[re.Pattern[str], Callable[..., OrderReference]], ...] = (
    (re.compile(r"@marketplace\.amazon\.[a-z.]+$"), amazon_reference),
    (re.compile(r"@relay\.walmart\.com$"), walmart_reference),
    (re.compile(r"@members\.ebay\.[a-z.]+$"), ebay_reference),
)


def find_reference(sender: str, subject: str, body: str) -> OrderReference:
    """The order and item a message names, read by its relay's parser (by the sender's domain);
    for mail from any other sender, an Amazon order number only."""
    address = sender.strip().lower()
    for domain, parser in _RELAYS:
        if domain.search(address):
            return parser(subject, body)
    return OrderReference(amazon_reference(subject, body).order_id)
