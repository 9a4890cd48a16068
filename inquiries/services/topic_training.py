"""Learning from the seller: agents' topics become labels, labels retrain the account's model.

Every topic an agent sets or corrects (`actions.change_topic`: the inquiry page, the write
API, bulk actions and macros all end there) is stored as a `TopicLabel` with the inquiry's
opening customer message. A periodic task (`learn_all`) retrains each account's model once
it has enough labels (`CSTRACKER_TOPIC_MIN_TRAINING_SAMPLES` labelled inquiries in at least
`CSTRACKER_TOPIC_MIN_LABEL_TOPICS` topics) and new labels since its last training:

- the newest label of each inquiry counts; one inquiry in four (by a hash of its id, so the
  split never changes) is **held out**: never trained on, used to score;
- the candidate is trained on the shipped model's data weighed as the shipped model weighs it
  (`shipped.training_samples`: "other" twice, `shipped.TOPIC_WEIGHTS`) plus the account's other
  labels, each as `SELLER_LABEL_WEIGHT` shipped examples of its topic, with the shipped symptom
  lexicon: the shipped model with the seller's own words on top;
- the candidate and the account's active configuration (its active model, or the shipped one)
  classify the held-out labels exactly as ingestion would (`classify_with_fallback`: rules,
  model, minimum evidence); the score is the **macro-F1 over the topics of the held-out
  labels** (no topic counts as a miss). The candidate is kept, and becomes active, only when
  its score is strictly higher; otherwise it is stored as `rejected` (scores, no bytes).
"""

from __future__ import annotations

import logging
import zlib
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import Count, Max
from django.utils import timezone

from inquiries.complaints import shipped
from inquiries.complaints.classifier import (
    LabeledText,
    TopicSource,
    TrainedModel,
    classify_with_fallback,
    evaluate,
    train,
)
from inquiries.complaints.evidence import has_evidence
from inquiries.models import (
    Account,
    Direction,
    Inquiry,
    Message,
    Topic,
    TopicLabel,
    TopicModel,
    TopicModelOutcome,
)
from inquiries.selectors import topics
from inquiries.services.complaints import complaint_text

logger = logging.getLogger(__name__)

# Each of the seller's labels weighs as much as this many shipped examples of its topic (whose
# weight, `shipped.topic_weight`, it is multiplied by: an "other" label weighs 3 x 2): the
# seller's own words must be able to outvote the shipped data where they disagree.
SELLER_LABEL_WEIGHT = 3.0
# One inquiry in HOLDOUT_EVERY is held out (by a hash of its id: stable across trainings).
HOLDOUT_EVERY = 4
# Below this many held-out labels a comparison means nothing: training waits for more.
MIN_HOLDOUT_LABELS = 5
# Bounds memory and the task's run time: the newest labels count.
MAX_LABELS = 50_000
SCORE_DEFINITION = (
    "Macro-F1 over the topics of the account's held-out labels (labels never trained on), each "
    "held-out message classified as at ingestion (rules, model, minimum evidence); no topic is a "
    "miss. A new version is kept only when its score is strictly higher than the active one's."
)
SHIPPED_NAME = "shipped model"


def record_label(
    *, inquiry: Inquiry, topic: Topic, actor: AbstractBaseUser | None, corrected: bool, now: datetime
) -> TopicLabel | None:
    """Store an agent's topic as a label (call inside the change's transaction). None when the
    inquiry has no customer message to learn from."""
    opening = (
        Message.objects.filter(inquiry_id=inquiry.pk, direction=Direction.INBOUND, automatic=False)
        .order_by("received_at", "id")
        .values_list("subject", "body_text")
        .first()
    )
    if opening is None:
        return None
    return TopicLabel.objects.create(
        account_id=inquiry.account_id,
        team_id=inquiry.team_id,
        inquiry_id=inquiry.pk,
        topic=topic,
        text=complaint_text(*opening),
        labelled_by_id=actor.pk if actor is not None and actor.is_authenticated else None,
        labelled_at=now,
        corrected=corrected,
    )


def is_held_out(inquiry_id: int) -> bool:
    """Whether an inquiry's label is held out for scoring (stable: a hash of its id)."""
    return zlib.crc32(str(inquiry_id).encode()) % HOLDOUT_EVERY == 0


@dataclass(frozen=True, slots=True)
class Label:
    inquiry_id: int
    text: str
    topic: str


def account_labels(account_id: int) -> tuple[list[Label], int]:
    """The newest label of each labelled inquiry of the account, and the newest label's id."""
    rows = (
        TopicLabel.objects.filter(account_id=account_id)
        .order_by("-id")
        .values_list("id", "inquiry_id", "text", "topic__key")[:MAX_LABELS]
    )
    labels: dict[int, Label] = {}
    newest = 0
    for label_id, inquiry_id, text, key in rows:
        newest = max(newest, label_id)
        if inquiry_id not in labels and text.strip():
            labels[inquiry_id] = Label(inquiry_id, text, key)
    return list(labels.values()), newest


@dataclass(frozen=True, slots=True)
class LearningResult:
    model: TopicModel
    kept: bool


def learn_all(*, now: datetime | None = None) -> list[LearningResult]:
    """Retrain every account that has enough labels (the periodic task)."""
    minimum = settings.CSTRACKER_TOPIC_MIN_TRAINING_SAMPLES
    accounts = (
        TopicLabel.objects.values("account_id")
        .annotate(n=Count("inquiry_id", distinct=True))
        .filter(n__gte=minimum)
        .values_list("account_id", flat=True)
    )
    results = []
    for account in Account.objects.filter(pk__in=list(accounts)).order_by("pk"):
        result = learn_topics(account=account, now=now)
        if result is not None:
            results.append(result)
    return results


def learn_topics(
    *, account: Account, now: datetime | None = None, min_labels: int | None = None
) -> LearningResult | None:
    """Train a candidate for `account` from its labels, score it against the active
    configuration on the held-out labels, store it; None when skipped (too few labels or
    topics, too few held out, or no new label since the last training)."""
    now = now or timezone.now()
    minimum = settings.CSTRACKER_TOPIC_MIN_TRAINING_SAMPLES if min_labels is None else min_labels
    labels, newest = account_labels(account.pk)
    split = _split_labels(account, labels, newest, minimum=minimum)
    if split is None:
        return None
    trained, held = split
    samples = shipped.training_samples()
    samples += [
        LabeledText(label.text, label.topic, SELLER_LABEL_WEIGHT * shipped.topic_weight(label.topic))
        for label in trained
    ]
    candidate = train(samples, version=f"{account.pk}-{now:%Y-%m-%dT%H:%M:%SZ}", lexicon=shipped.symptoms)
    threshold = settings.CSTRACKER_CLUSTER_CLASSIFIER_THRESHOLD_PERCENT / 100
    compared_name, active, active_threshold = _active_configuration(account, threshold)
    candidate_score = _score(held, candidate, threshold)
    compared_score = _score(held, active, active_threshold)
    kept = float(candidate_score["macro_f1"]) > float(compared_score["macro_f1"])
    metrics = {
        "definition": SCORE_DEFINITION,
        "newest_label": newest,
        "labels_per_topic": _labels_per_topic(trained, held),
        "candidate": candidate_score,
        "compared": {"name": compared_name, **compared_score},
    }
    row = _store_candidate(
        account,
        candidate,
        now=now,
        kept=kept,
        newest=newest,
        metrics=metrics,
        threshold=threshold,
        trained_labels=len(trained),
        holdout_labels=len(held),
    )
    if row is None:
        return None  # another worker stored this training meanwhile
    topics.clear_cache()
    logger.info(
        "Topic model v%s for %s %s: held-out macro-F1 %.3f against %.3f (%s)",
        row.version,
        account,
        "kept" if kept else "rejected",
        candidate_score["macro_f1"],
        compared_score["macro_f1"],
        compared_name,
    )
    return LearningResult(row, kept)


def _split_labels(
    account: Account, labels: list[Label], newest: int, *, minimum: int
) -> tuple[list[Label], list[Label]] | None:
    """The labels to train on and those held out; None (logged) when there are too few labels,
    topics or held-out labels, or no label is new since the last training."""
    per_topic = Counter(label.topic for label in labels)
    if len(labels) < minimum or len(per_topic) < settings.CSTRACKER_TOPIC_MIN_LABEL_TOPICS:
        logger.info(
            "Topic learning skipped for %s: %s labels in %s topics", account, len(labels), len(per_topic)
        )
        return None
    if _last_trained_label(account) >= newest:
        return None  # nothing new since the last training
    held = [label for label in labels if is_held_out(label.inquiry_id)]
    trained = [label for label in labels if not is_held_out(label.inquiry_id)]
    if len(held) < MIN_HOLDOUT_LABELS or len({label.topic for label in trained}) < 1:
        logger.info("Topic learning skipped for %s: %s held-out labels", account, len(held))
        return None
    return trained, held


def _active_configuration(account: Account, threshold: float) -> tuple[str, TrainedModel | None, float]:
    """What the account classifies with now: the name, model and threshold of its active model,
    or of the shipped one (None, at `threshold`)."""
    active_row = TopicModel.objects.filter(account=account, is_active=True).defer("blob").first()
    active = topics.model_by_id(active_row.pk) if active_row is not None else None
    if active_row is None or active is None:
        return SHIPPED_NAME, active, threshold
    return str(active_row), active, active_row.threshold


def _labels_per_topic(trained: list[Label], held: list[Label]) -> dict[str, dict[str, int]]:
    return {
        topic: {
            "trained": sum(1 for label in trained if label.topic == topic),
            "held_out": sum(1 for label in held if label.topic == topic),
        }
        for topic in sorted({label.topic for label in [*trained, *held]})
    }


def _store_candidate(
    account: Account,
    candidate: TrainedModel,
    *,
    now: datetime,
    kept: bool,
    newest: int,
    metrics: dict[str, Any],
    threshold: float,
    trained_labels: int,
    holdout_labels: int,
) -> TopicModel | None:
    """Store the candidate as the account's next version, active when kept (its bytes only
    then); None when another worker stored the training up to label `newest` meanwhile."""
    with transaction.atomic():
        Account.objects.select_for_update().filter(
            pk=account.pk
        ).first()  # one training per account at a time
        if _last_trained_label(account) >= newest:
            return None
        version = (TopicModel.objects.aggregate(last=Max("version"))["last"] or 0) + 1
        if kept:
            TopicModel.objects.filter(account=account, is_active=True).update(is_active=False)
        return TopicModel.objects.create(
            account=account,
            version=version,
            created_at=now,
            outcome=TopicModelOutcome.KEPT if kept else TopicModelOutcome.REJECTED,
            trained_labels=trained_labels,
            holdout_labels=holdout_labels,
            labels=list(candidate.labels),
            metrics=metrics,
            sklearn_version=candidate.sklearn_version,
            blob=candidate.dumps() if kept else b"",
            threshold=threshold,
            is_active=kept,
        )


def _last_trained_label(account: Account) -> int:
    metrics = (
        TopicModel.objects.filter(account=account).order_by("-version").values_list("metrics", flat=True)
    )
    last = metrics.first()
    return int((last or {}).get("newest_label") or 0)


def _score(held: list[Label], model: TrainedModel | None, threshold: float) -> dict[str, Any]:
    """Classify the held-out labels as ingestion would with `model` as the account's model (None:
    the shipped one); macro-F1 over their topics, precision and recall per topic."""
    rules = topics.current_rules()
    base = topics.shipped_model()
    predicted = []
    for label in held:
        decision = classify_with_fallback(
            label.text,
            model,
            rules,
            threshold,
            shipped=model or base,
            evidence=has_evidence,
        )
        predicted.append("(none)" if decision.source == TopicSource.DEFAULT else decision.topic)
    truth = [label.topic for label in held]
    report = evaluate(truth, predicted, labels=sorted(set(truth)))
    return {
        "macro_f1": round(report.macro_f1, 4),
        "topics": [
            {
                "topic": score.topic,
                "precision": round(score.precision, 4),
                "recall": round(score.recall, 4),
                "support": score.support,
            }
            for score in report.scores
        ],
    }


def activate(*, model: TopicModel) -> TopicModel:
    """Make `model` the one its account uses at ingestion (e.g. to roll back to an earlier version)."""
    if model.account_id is None:
        raise ValueError("Only an account's own model can be made active.")
    with transaction.atomic():
        TopicModel.objects.filter(account_id=model.account_id, is_active=True).exclude(pk=model.pk).update(
            is_active=False
        )
        TopicModel.objects.filter(pk=model.pk).update(is_active=True)
    model.is_active = True
    topics.clear_cache()
    return model


def use_shipped(*, account: Account | None) -> None:
    """Switch `account` back to the shipped model (None: the models made for every account)."""
    TopicModel.objects.filter(account=account, is_active=True).update(is_active=False)
    topics.clear_cache()
