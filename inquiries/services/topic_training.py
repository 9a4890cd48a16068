"""Training the topic classifier from the inquiries' own labels; each run stores a new version.

Agents' topics (topic_source "agent": a re-tag or a confirmation) are the ground truth at
weight 1.0; topics the rules set are added at weight 0.3, so the model learns the
vocabulary of every topic without simply copying the rules. Topics the classifier itself
set are never used: the model would learn from its own guesses. The text is the inquiry's
opening customer message, the same text classification saw at ingestion.

A new version becomes the active one at once (the previous stays stored, and the admin
can switch back). With fewer than CSTRACKER_TOPIC_MIN_TRAINING_SAMPLES labelled inquiries,
or fewer than two topics, training is skipped and the current model stays.
"""

from __future__ import annotations

import logging
from collections import Counter
from datetime import datetime

import sklearn
from django.conf import settings
from django.db import transaction
from django.db.models import F, Max
from django.utils import timezone
from sklearn.model_selection import train_test_split

from inquiries.complaints import topics
from inquiries.complaints.classifier import LabeledText, evaluate, train
from inquiries.models import Direction, Message, TopicModel
from inquiries.services.complaints import complaint_text

logger = logging.getLogger(__name__)

WEIGHTS = {"agent": 1.0, "rules": 0.3}
# Enough for a good model of short messages; bounds memory and the daily task's run time.
MAX_SAMPLES_PER_SOURCE = 50_000
# A held-out evaluation is stored when every topic has this many examples.
MIN_PER_TOPIC_FOR_HOLDOUT = 5


def labelled_samples() -> dict[str, list[LabeledText]]:
    """The newest labelled inquiries' opening texts, by who labelled them ("agent", "rules")."""
    by_source: dict[str, list[LabeledText]] = {}
    for source, weight in WEIGHTS.items():
        rows = (
            Message.objects.filter(
                direction=Direction.INBOUND,
                automatic=False,
                inquiry__topic__isnull=False,
                inquiry__topic_source=source,
                received_at=F("inquiry__opened_at"),
            )
            .order_by("-inquiry_id", "id")
            .values_list("inquiry_id", "subject", "body_text", "inquiry__topic__key")[:MAX_SAMPLES_PER_SOURCE]
        )
        seen: set[int] = set()
        samples = by_source[source] = []
        for inquiry_id, subject, body, key in rows:
            if inquiry_id not in seen:
                seen.add(inquiry_id)
                samples.append(LabeledText(text=complaint_text(subject, body), topic=key, weight=weight))
    return by_source


def train_topic_model(*, now: datetime | None = None, min_samples: int | None = None) -> TopicModel | None:
    """Train, store and activate a new version; None when there is too little to learn from."""
    now = now or timezone.now()
    minimum = settings.CSTRACKER_TOPIC_MIN_TRAINING_SAMPLES if min_samples is None else min_samples
    by_source = labelled_samples()
    samples = [sample for source in WEIGHTS for sample in by_source[source]]
    per_topic = Counter(sample.topic for sample in samples)
    if len(samples) < minimum or len(per_topic) < 2:
        logger.info(
            "Topic training skipped: %s labelled inquiries in %s topics", len(samples), len(per_topic)
        )
        return None
    metrics: dict[str, object] = {"samples_per_topic": dict(sorted(per_topic.items()))}
    if min(per_topic.values()) >= MIN_PER_TOPIC_FOR_HOLDOUT:
        metrics["holdout"] = _holdout(samples)
    # Trained outside the transaction (it takes seconds); the blob's own version string is
    # the training time, the row's version number is assigned when it is stored.
    model = train(samples, version=f"{now:%Y-%m-%dT%H:%M:%SZ}")
    with transaction.atomic():
        version = (TopicModel.objects.aggregate(last=Max("version"))["last"] or 0) + 1
        TopicModel.objects.filter(is_active=True).update(is_active=False)
        row = TopicModel.objects.create(
            version=version,
            created_at=now,
            agent_samples=len(by_source["agent"]),
            rule_samples=len(by_source["rules"]),
            labels=list(model.labels),
            metrics=metrics,
            sklearn_version=sklearn.__version__,
            blob=model.dumps(),
            threshold=settings.CSTRACKER_CLUSTER_CLASSIFIER_THRESHOLD_PERCENT / 100,
            is_active=True,
        )
    topics.clear_cache()
    logger.info("Topic model v%s trained on %s inquiries", version, len(samples))
    return row


def _holdout(samples: list[LabeledText]) -> dict[str, object]:
    """Macro-F1 and accuracy of a model trained on 80% and scored on the other 20%."""
    train_part, test_part = train_test_split(
        samples, test_size=0.2, random_state=0, stratify=[sample.topic for sample in samples]
    )
    model = train(train_part, version="holdout")
    predicted = [topic for topic, _ in model.predict_many([sample.text for sample in test_part])]
    truth = [sample.topic for sample in test_part]
    report = evaluate(truth, predicted, labels=sorted(set(truth) | set(predicted)))
    return {
        "macro_f1": round(report.macro_f1, 4),
        "accuracy": round(report.accuracy, 4),
        "test_samples": len(test_part),
    }


def activate(*, model: TopicModel) -> TopicModel:
    """Make `model` the one used at ingestion (e.g. to roll back to an earlier version)."""
    with transaction.atomic():
        TopicModel.objects.filter(is_active=True).exclude(pk=model.pk).update(is_active=False)
        TopicModel.objects.filter(pk=model.pk).update(is_active=True)
    model.is_active = True
    topics.clear_cache()
    return model
