"""The topics and the shape of their rules: the default topic definitions with their health
categories and priority, a rule (`TopicRule`), what matching one found (`RuleMatch`, `TopicHint`),
and when a rule's score decides the topic alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from inquiries.words import _

RuleKind = Literal["keyword", "regex"]

# Only this much of a message is examined. Long quoted e-mail threads add nothing that the
# first screenful doesn't say, and the cap bounds the cost of every regex search.
MAX_TEXT_CHARS = 20_000

HealthCategory = Literal["product_condition", "delivery", "none"]


@dataclass(frozen=True, slots=True)
class TopicDefinition:
    """Default data for one topic (fields as on the Topic model), to seed the database from."""

    key: str
    name: str
    is_complaint: bool
    # Which account-health metric a complaint of this topic moves: Amazon counts
    # "item not as described" / defective under product condition, while damage in transit
    # and late or missing parcels are carrier/delivery problems.
    health_category: HealthCategory


DEFAULT_TOPICS: tuple[TopicDefinition, ...] = (
    TopicDefinition("quality", "Product quality", True, "product_condition"),
    TopicDefinition("damaged", "Damaged in transit", True, "delivery"),
    TopicDefinition("wrong_item", "Wrong item", True, "product_condition"),
    TopicDefinition("missing", "Missing item or parts", True, "product_condition"),
    TopicDefinition("delivery", "Late or no delivery", True, "delivery"),
    TopicDefinition("refund", "Returns and refunds", True, "none"),
    TopicDefinition("billing", "Billing and payment", True, "none"),
    TopicDefinition("question", "Product question", False, "none"),
    # "Where is my order?" before the promised delivery date: a question, not a complaint.
    # After that date it is a delivery complaint (`after_promised_delivery()`).
    TopicDefinition("order_status", "Order status question", False, "none"),
    TopicDefinition("thanks", "Thanks and praise", False, "none"),
    TopicDefinition("other", "Other", False, "none"),
)

# Tie-break order, most specific first: "it arrived smashed, I want a refund" is about the
# damage (the root cause a cluster should count), not about the refund it leads to.
# Topics not listed here (added by an admin) rank after these, alphabetically.
TOPIC_PRIORITY: tuple[str, ...] = (
    "damaged",
    "wrong_item",
    "missing",
    "quality",
    "delivery",
    "refund",
    "billing",
    "order_status",
    "question",
    "thanks",
    "other",
)


def after_promised_delivery(topic: str | None, overdue: bool | None) -> str | None:
    """The topic once the linked order's promised delivery date is known.

    "Where is my order?" (order_status) about an order whose promised delivery date has
    passed (`overdue`) is a delivery complaint; before that date, or without a known date,
    it stays a question. Every other topic is returned as is.
    """
    return "delivery" if topic == "order_status" and overdue else topic


@dataclass(frozen=True, slots=True)
class TopicRule:
    """One piece of evidence for a topic. `language` is an ISO 639-1 code, for the admin."""

    topic: str
    pattern: str
    kind: RuleKind
    language: str
    weight: float = 1.0

    def describe(self) -> str:
        """How a message names the rule, in the reader's language: "keyword rule 'cracked' (damaged, en)"."""
        if self.kind == "keyword":
            text = _("keyword rule %(pattern)r (%(topic)s, %(language)s)")
        elif self.kind == "regex":
            text = _("regex rule %(pattern)r (%(topic)s, %(language)s)")
        else:
            text = _("rule %(pattern)r (%(topic)s, %(language)s)")
        return text % {"pattern": self.pattern, "topic": self.topic, "language": self.language}


@dataclass(frozen=True, slots=True)
class RuleMatch:
    """The winning topic, its summed weight and the patterns that matched, in rule order."""

    topic: str
    score: float
    matched: tuple[str, ...]


# What classifying a message by the rules came to, worked out where it was parsed: the
# rules' fingerprint and the winning topic ("" for none).
TopicHint = tuple[str, str]


# A rule match at least this strong decides the topic on its own; weaker ones (only hints of
# weight 0.5 to 0.8, such as "thanks" or "not received") leave it to the shipped model.
DECISIVE_RULE_SCORE = 1.0


def is_decisive(match: RuleMatch) -> bool:
    """Whether `match` is precise enough to decide the topic without the model."""
    return round(match.score, 9) >= DECISIVE_RULE_SCORE
