"""Minimum evidence before a model files a complaint (`has_evidence`), in the words of the
symptom lexicon (`lexicon.LEXICON`). No Django. See docs/topics.md.
"""

from __future__ import annotations

import re

from inquiries.complaints.lexicon import LEXICON, stem_pattern
from inquiries.complaints.rules import normalise

# Minimum evidence before the model files a complaint (`has_evidence`; `classify_with_fallback`
# asks for it only below `classifier.EVIDENCE_NOT_NEEDED_AT` confidence): the text must name at
# least one lexicon concept that belongs to that complaint topic. Without it the model's
# answer rests on the topic's prior and on incidental words ("As discussed on the phone." was
# product quality at 0.63). Time words alone ("next week", "semaine") are not evidence of a
# late delivery, and "zurückrufen" (call back) is not "zurück" (send back).
TOPIC_EVIDENCE: dict[str, frozenset[str]] = {
    "quality": frozenset({"defect", "broken"}),
    "damaged": frozenset({"broken", "parcel"}),
    "wrong_item": frozenset({"wrong", "ordered"}),
    "missing": frozenset({"missing", "parts"}),
    "delivery": frozenset({"late", "arrive", "where", "parcel"}),
    "refund": frozenset({"money"}),
    "billing": frozenset({"charge", "money"}),
}
_NOT_EVIDENCE = frozenset({"week", "days", "woche", "tage", "semana", "dias", "semaine", "jours"})
# Symptoms that count as evidence but are not (yet) model features: adding them to LEXICON
# would change the shipped model; they close gaps where one language had no stem for what the
# others name ("hace un zumbido y se apaga": it buzzes and shuts off).
_MORE_EVIDENCE: dict[str, tuple[str, ...]] = {
    "defect": (
        "buzz",
        "shuts off",
        "switches off",
        "brumm",
        "summt",
        "geht aus",
        "schaltet ab",
        "zumbid",
        "ruido",
        "se apaga",
        "bourdonn",
        "bruit",
        "seteint",
        "wobbl",
        "squeak",
        "creak",
        "wackel",
        "knarz",
        "quietsch",
        "tambale",
        "cruj",
        "chirri",
        "bancal",
        "grince",
    ),
}
_EVIDENCE_CONCEPTS = tuple(
    (
        concept,
        stem_pattern(
            [stem for stem in stems if stem not in _NOT_EVIDENCE] + list(_MORE_EVIDENCE.get(concept, ()))
        ),
    )
    for concept, stems in LEXICON.items()
)
_CALL_BACK = re.compile(r"zuruckruf\w*")


def evidence(text: str) -> frozenset[str]:
    """The lexicon concepts that count as evidence in `text` (see `TOPIC_EVIDENCE`)."""
    folded = _CALL_BACK.sub(" ", normalise(text).casefold().replace("'", ""))
    return frozenset(concept for concept, pattern in _EVIDENCE_CONCEPTS if pattern.search(folded))


def has_evidence(text: str, topic: str) -> bool:
    """Whether a model may file `text` under `topic`: always for a topic that is not one of the
    seven complaint topics, else only when the text names one of the topic's concepts."""
    needed = TOPIC_EVIDENCE.get(topic)
    return needed is None or not needed.isdisjoint(evidence(text))
