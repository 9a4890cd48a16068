"""What a complaint cluster is about, in a few words, for its title (in the reader's language:
`inquiries.words`). No Django.

"Near-identical texts" nine times in a list says nothing; the words the members share do.
A cluster's title is its product (the burst's SKU, or the one SKU all its members name) and
its top terms: the words found in the most member texts, common English words, numbers and
words shorter than three letters left out. Ties go to the word that comes first in the texts.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache

from inquiries.words import _

# Words every complaint uses, which would top every cluster's list.
_GENERIC = frozenset(
    {"hello", "dear", "thanks", "thank", "regards", "please", "order", "ordered", "item", "received", "just"}
)
_WORD = re.compile(r"[^\W\d_]{3,}")
TERMS = 3


@dataclass(frozen=True, slots=True)
class ClusterText:
    """One member's complaint: its subject and body (either may be empty), and its SKU."""

    text: str
    sku: str = ""


@cache
def _stop_words() -> frozenset[str]:
    # Imported here: every process that loads the URLconf imports this module, and
    # scikit-learn takes a second to import.
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    english: frozenset[str] = ENGLISH_STOP_WORDS  # scikit-learn ships no type hints
    return english | _GENERIC


def top_terms(texts: Sequence[str], *, count: int = TERMS) -> list[str]:
    """The `count` words found in the most texts (each text counts a word once)."""
    stop = _stop_words()
    documents: Counter[str] = Counter()
    first_seen: dict[str, int] = {}
    for text in texts:
        words = [w for w in _WORD.findall(text.casefold()) if w not in stop]
        for word in words:
            first_seen.setdefault(word, len(first_seen))
        documents.update(set(words))
    ranked = sorted(documents, key=lambda word: (-documents[word], first_seen[word]))
    return ranked[:count]


def cluster_title(*, kind: str, sku: str, members: Sequence[ClusterText]) -> str:
    """ "SKU X-1: zipper, broken, jacket" for a burst or a text cluster about one product;
    "zipper, broken, jacket" for a text cluster across products; the kind's name without texts."""
    skus = {member.sku for member in members}
    product = sku or (skus.pop() if len(skus) == 1 else "")
    terms = ", ".join(top_terms([member.text for member in members]))
    if product and terms:
        return _("SKU %(sku)s: %(terms)s") % {"sku": product, "terms": terms}
    if product:
        return _("SKU %(sku)s") % {"sku": product}
    if terms:
        return terms.capitalize()
    return _("Burst about one product") if kind == "burst" else _("Near-identical texts")
