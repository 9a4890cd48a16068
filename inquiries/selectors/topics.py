"""Topic assignment at ingestion: the seller's learned model where confident, the rules where
decisive, the shipped model where confident, else the rules' weak hints.

`topic_for_text(text)` returns `(topic, source)`, source being "classifier" (the seller's
model), "rules" or "shipped" (the model that ships with cstracker, `complaints.shipped`),
or `(None, "")` when none has enough evidence. Such an inquiry is left without a topic
rather than filed under "other": "nothing matched" stays visible in the queue (its topic
filter has a "none" choice) and is never fed back into training as if someone had said
"other".

The admin's rules and the active model are read from the database and cached per process
for `CACHE_SECONDS`, so an admin edit takes effect within a minute everywhere without a
query per message. Each account's active model (`services.topic_training`) is loaded once
per process and forgotten when it is no longer active.
A rule that does not compile (saved before validation existed, or by SQL) is skipped with
a warning: one bad rule must not stop ingestion.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import cast

from django.conf import settings

from inquiries.complaints import shipped
from inquiries.complaints.classifier import (
    ModelVersionError,
    TopicSource,
    TrainedModel,
    classify_with_fallback,
)
from inquiries.complaints.evidence import has_evidence
from inquiries.complaints.rules import CompiledRules, RuleKind, TopicHint, TopicRule, compile_rules
from inquiries.models import Topic, TopicModel
from inquiries.models import TopicRule as TopicRuleRow

logger = logging.getLogger(__name__)

CACHE_SECONDS = 60.0
SOURCES = {TopicSource.MODEL: "classifier", TopicSource.RULES: "rules", TopicSource.SHIPPED: "shipped"}


@dataclass(frozen=True, slots=True)
class _Loaded:
    expires: float
    rules: CompiledRules
    topics: dict[str, Topic]
    # account id (None: the model for every account without its own) -> (model id, threshold)
    active: dict[int | None, tuple[int, float]]


_lock = threading.Lock()
_cache: _Loaded | None = None
# Loaded models by row id: a row's bytes never change, so a model is loaded once per process.
_models: dict[int, TrainedModel | None] = {}
# The shipped model never changes while a process runs: loaded once, kept (not in `_cache`).
_shipped_lock = threading.Lock()
_shipped: shipped.ShippedModel | None = None


def clear_cache() -> None:
    """Forget the cached rules and models (tests, and after training in this process)."""
    global _cache
    with _lock:
        _cache = None
        _models.clear()


def topic_for_text(
    text: str, hint: TopicHint | None = None, *, account_id: int | None = None
) -> tuple[Topic | None, str]:
    """The topic of a new inquiry of account `account_id` from `text`, and its source.

    The account's active model decides first where it is confident and takes the shipped
    model's place after the rules; an account without one uses the shipped model.
    `hint` is what the same rules said about the same text where the message was parsed
    (`rules.topic_hint`); it stands for classifying again here when no learned model is
    active for the account and the rules have not changed since.
    """
    loaded = _load()
    model, threshold = _active_model(loaded, account_id)
    if hint is not None and model is None and hint[0] == loaded.rules.fingerprint and hint[1]:
        topic = loaded.topics.get(hint[1])
        if topic is not None:
            return topic, SOURCES[TopicSource.RULES]
    decision = classify_with_fallback(
        text,
        model,
        loaded.rules,
        threshold,
        shipped=model or shipped_model(),
        evidence=has_evidence,
    )
    topic = loaded.topics.get(decision.topic)
    if decision.source not in SOURCES or topic is None:
        return None, ""
    if decision.source == TopicSource.SHIPPED and model is not None:
        return topic, SOURCES[TopicSource.MODEL]  # the account's model, in the shipped model's place
    return topic, SOURCES[decision.source]


def shipped_model() -> shipped.ShippedModel | None:
    """The model that ships with cstracker, loaded (or trained) once per process; None when
    `CSTRACKER_SHIPPED_TOPIC_MODEL` is off."""
    global _shipped
    if not settings.CSTRACKER_SHIPPED_TOPIC_MODEL:
        return None
    with _shipped_lock:
        if _shipped is None:
            _shipped = shipped.load_or_build(settings.CSTRACKER_TOPIC_MODEL_FILE or None)
        return _shipped


def current_rules() -> CompiledRules:
    """The admin's active rules, compiled (cached like everything here)."""
    return _load().rules


def model_by_id(model_id: int) -> TrainedModel | None:
    """A stored model, loaded once per process; None if it cannot be used (no bytes, or
    written by another scikit-learn version)."""
    with _lock:
        if model_id in _models:
            return _models[model_id]
    model = _load_model(model_id)
    with _lock:
        _models[model_id] = model
    return model


def rules_for_hints(*, account_id: int | None = None) -> CompiledRules | None:
    """The rules to classify by where messages are parsed, or None while a learned model is
    active for the account (its decision comes first, so a hint from the rules alone would
    not stand)."""
    loaded = _load()
    return loaded.rules if _active_model(loaded, account_id)[0] is None else None


def _active_model(loaded: _Loaded, account_id: int | None) -> tuple[TrainedModel | None, float]:
    active = loaded.active.get(account_id) if account_id is not None else None
    if active is None:
        active = loaded.active.get(None)
    if active is None:
        return None, 1.0
    return model_by_id(active[0]), active[1]


def _load() -> _Loaded:
    global _cache
    now = time.monotonic()
    with _lock:
        cached = _cache
    if cached is not None and cached.expires > now:
        return cached
    topics = {topic.key: topic for topic in Topic.objects.all()}
    # A row's kind is one of the admin's choices, RuleKind's values; `compile_rules` rejects any
    # other (a row written by SQL), and `_compile` skips it.
    rules = _compile(
        TopicRule(row.topic.key, row.pattern, cast(RuleKind, row.kind), row.language, row.weight)
        for row in TopicRuleRow.objects.filter(is_active=True).select_related("topic").order_by("id")
    )
    active: dict[int | None, tuple[int, float]] = {
        account_id: (model_id, threshold)
        for model_id, account_id, threshold in TopicModel.objects.filter(is_active=True).values_list(
            "id", "account_id", "threshold"
        )
    }
    loaded = _Loaded(now + CACHE_SECONDS, rules, topics, active)
    in_use = {model_id for model_id, _ in active.values()}
    with _lock:
        _cache = loaded
        for model_id in [model_id for model_id in _models if model_id not in in_use]:
            del _models[model_id]
    return loaded


def _compile(rules: Iterable[TopicRule]) -> CompiledRules:
    good = []
    for rule in rules:
        try:
            compile_rules([rule])
        except ValueError as exc:
            logger.warning("Skipping a topic rule that does not compile: %s", exc)
            continue
        good.append(rule)
    return compile_rules(good)


def _load_model(model_id: int) -> TrainedModel | None:
    blob = TopicModel.objects.filter(pk=model_id).values_list("blob", flat=True).first()
    if not blob:
        return None
    try:
        return TrainedModel.loads(bytes(blob))
    except ModelVersionError as exc:
        logger.warning("Not using topic model %s: %s", model_id, exc)
        return None
