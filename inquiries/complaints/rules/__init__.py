"""Topic rules: admin-editable keyword and regex rules, several languages, no Django.

The contract:

- A `TopicRule` says "this pattern is evidence for this topic, worth `weight`".
- `compile_rules()` validates and compiles a list of rules once; it raises `ValueError`
  naming the offending rule, so the admin's `clean()` can show the message as is.
- `classify(text, compiled)` scores every topic by the summed weight of its rules that
  match (each rule counts once, however often it occurs) and returns the best topic, or
  `None` when no rule matches. Ties are broken by a fixed topic priority, so the same text
  and rules always give the same answer.

Matching is case-insensitive and accent-insensitive: text and patterns are both folded
with `normalise()` (NFKD, combining marks dropped, "ß" -> "ss", typographic quotes made
ASCII), so "beschädigt", "beschadigt" and "BESCHÄDIGT" are the same word, while
"beschaedigt" (the ASCII spelling Germans type without an umlaut key) is a separate seed.

Keyword rules match whole words or phrases: "wrong item" matches "Wrong   Item!" but
"refund" does not match "refunded". A trailing `*` makes the last word a prefix, so
"refund*" matches "refund", "refunds" and "refunded". Regex rules are Python `re` patterns
searched in the folded text with `re.IGNORECASE`; write them without accents.

One module per seam: `definitions` (topics, the rule and match shapes), `matching` (normalising,
compiling and `classify`) and `defaults` (the seeded rules). The classifier, the topic cache, the
pool, the admin's validation and the migrations import the public names from here.
"""

from inquiries.complaints.rules.defaults import DEFAULT_RULES
from inquiries.complaints.rules.definitions import (
    DECISIVE_RULE_SCORE,
    DEFAULT_TOPICS,
    MAX_TEXT_CHARS,
    TOPIC_PRIORITY,
    HealthCategory,
    RuleKind,
    RuleMatch,
    TopicDefinition,
    TopicHint,
    TopicRule,
    after_promised_delivery,
    is_decisive,
)
from inquiries.complaints.rules.matching import CompiledRules, classify, compile_rules, normalise, topic_hint

__all__ = [
    "DECISIVE_RULE_SCORE",
    "DEFAULT_RULES",
    "DEFAULT_TOPICS",
    "MAX_TEXT_CHARS",
    "TOPIC_PRIORITY",
    "CompiledRules",
    "HealthCategory",
    "RuleKind",
    "RuleMatch",
    "TopicDefinition",
    "TopicHint",
    "TopicRule",
    "after_promised_delivery",
    "classify",
    "compile_rules",
    "is_decisive",
    "normalise",
    "topic_hint",
]
