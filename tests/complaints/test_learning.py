"""Learning from the seller (issue 22, point 3): agents' topics are labels; the periodic task
trains the account's model on top of the shipped one and keeps it only when it scores better
on the account's held-out labels; ingestion uses the account's active model."""

from __future__ import annotations

import itertools
from datetime import timedelta

import pytest
from django.test import override_settings
from django.urls import reverse

from inquiries import models as m
from inquiries import tasks
from inquiries.complaints import shipped
from inquiries.complaints.classifier import train
from inquiries.complaints.datasets import TrainingMessage
from inquiries.scoping import scoped
from inquiries.selectors import topics as topic_cache
from inquiries.services import change_topic, topic_training
from inquiries.services.topic_training import (
    SELLER_LABEL_WEIGHT,
    account_labels,
    is_held_out,
    learn_topics,
    use_shipped,
)
from tests.complaints.helpers import T0, ingest

pytestmark = pytest.mark.django_db

# A coffee roaster's customers: taste complaints (product quality to this seller) name no
# symptom the shipped model knows, and subscription pauses are not billing or delivery.
TASTES = ["stale", "sour", "burnt", "bitter", "flat", "watery", "musty", "dull"]
BATCHES = ["this time", "again", "in the last bag", "since the new roast"]
TASTE_TEXTS = [f"The beans taste {t} {b}" for t, b in itertools.product(TASTES, BATCHES)]
MONTHS = ["July", "August", "September", "October", "November", "December", "January", "March"]
PAUSES = ["Please pause my subscription for", "Skip my box in", "Hold my beans until", "No coffee for me in"]
PAUSE_TEXTS = [f"{p} {month}" for p, month in itertools.product(PAUSES, MONTHS)]


def _label(channel, agent, topics, *, wrong_when_trained: bool = False) -> list[m.Inquiry]:
    """64 labelled inquiries: taste complaints are quality, pauses are other. With
    `wrong_when_trained`, the labels the task trains on are swapped (a careless labeller)
    while the held-out ones are right."""
    at, inquiries = T0, []
    texts = [(text, "quality") for text in TASTE_TEXTS] + [(text, "other") for text in PAUSE_TEXTS]
    for n, (text, key) in enumerate(texts):
        at += timedelta(minutes=3)
        message = ingest(channel, at=at, subject="Coffee", body=text, customer=f"c{n}@example.com")
        assert message.inquiry_id is not None
        inquiry = m.Inquiry.objects.get(pk=message.inquiry_id)
        if wrong_when_trained and not is_held_out(inquiry.pk):
            key = {"quality": "other", "other": "quality"}[key]
        change_topic(inquiry=inquiry, topic=topics[key], actor=agent, now=at)
        inquiries.append(inquiry)
    return inquiries


def _topic_of(channel, body: str, customer: str) -> tuple[str | None, str]:
    message = ingest(channel, at=T0 + timedelta(days=2), subject="Coffee", body=body, customer=customer)
    assert message.inquiry_id is not None
    return m.Inquiry.objects.filter(pk=message.inquiry_id).values_list("topic__key", "topic_source").get()


# --- labels --------------------------------------------------------------------------------------


def test_every_path_that_sets_a_topic_records_a_label(client, api, channel, topics, agent):
    by_path = {}
    for n, path in enumerate(["page", "api", "bulk", "cleared"]):
        message = ingest(
            channel, subject="Kettle", body=f"Text {n}: it squeaks", customer=f"p{n}@example.com"
        )
        by_path[path] = m.Inquiry.objects.get(pk=message.inquiry_id)
    client.force_login(agent)

    page = by_path["page"]
    data = {"status": page.status, "priority": page.priority, "topic": "damaged", "assignee": ""}
    assert client.post(reverse("inquiries:update", args=[page.pk]), data).status_code == 302
    api_url = f"/api/v1/inquiries/{by_path['api'].pk}/topic/"
    assert api.post(api_url, {"topic": "refund"}, format="json").status_code == 200
    bulk = {"ids": [by_path["bulk"].pk], "action": "topic:missing"}
    assert client.post(reverse("inquiries:bulk"), bulk).status_code == 302
    cleared_url = f"/api/v1/inquiries/{by_path['cleared'].pk}/topic/"
    assert api.post(cleared_url, {"topic": None}, format="json").status_code == 200

    labels = {
        label.inquiry_id: label for label in m.TopicLabel.objects.select_related("topic", "labelled_by")
    }
    assert {path: labels[i.pk].topic.key for path, i in by_path.items() if i.pk in labels} == {
        "page": "damaged",
        "api": "refund",
        "bulk": "missing",
    }  # clearing a topic says what it is not, not what it is: no label
    for n, path in enumerate(["page", "api", "bulk"]):
        label, inquiry = labels[by_path[path].pk], by_path[path]
        assert (label.account_id, label.team_id, label.labelled_by) == (
            inquiry.account_id,
            inquiry.team_id,
            agent,
        )
        assert label.text == f"Kettle\nText {n}: it squeaks"
        assert label.labelled_at is not None


def test_a_confirmation_is_a_label_too_and_the_newest_label_of_an_inquiry_counts(channel, topics, agent):
    message = ingest(channel, body="The lid arrived cracked.")
    inquiry = m.Inquiry.objects.get(pk=message.inquiry_id)
    assert inquiry.topic.key == "damaged"

    change_topic(inquiry=inquiry, topic=topics["damaged"], actor=agent, now=T0 + timedelta(hours=1))
    change_topic(inquiry=inquiry, topic=topics["quality"], actor=agent, now=T0 + timedelta(hours=2))

    rows = list(m.TopicLabel.objects.order_by("id").values_list("topic__key", "corrected"))
    assert rows == [("damaged", False), ("quality", True)]
    labels, _ = account_labels(inquiry.account_id)
    assert [(label.inquiry_id, label.topic) for label in labels] == [(inquiry.pk, "quality")]


# --- the periodic task ---------------------------------------------------------------------------


@override_settings(CSTRACKER_TOPIC_MIN_TRAINING_SAMPLES=50)
def test_the_task_keeps_a_better_model_and_the_accounts_new_messages_use_it(
    channel, other_channel, topics, agent
):
    _label(channel, agent, topics)
    before = _topic_of(channel, "The beans taste stale and musty lately", "before@example.com")

    assert tasks.train_topic_model().startswith("v1 kept")

    model = m.TopicModel.objects.get()
    assert (model.account_id, model.outcome, model.is_active) == (channel.account_id, "kept", True)
    assert model.trained_labels + model.holdout_labels == 64 and model.holdout_labels >= 5
    candidate, compared = model.metrics["candidate"], model.metrics["compared"]
    assert compared["name"] == "shipped model"
    assert candidate["macro_f1"] > compared["macro_f1"]
    assert {row["topic"] for row in candidate["topics"]} == {"quality", "other"}
    assert model.metrics["labels_per_topic"]["quality"]["trained"] > 0
    assert before != ("quality", "classifier")

    # the account's model decides its new messages; another account keeps the shipped model
    assert _topic_of(channel, "The beans taste stale and musty lately", "after@example.com") == (
        "quality",
        "classifier",
    )
    assert _topic_of(other_channel, "The beans taste stale and musty lately", "x@example.com")[1] != (
        "classifier"
    )
    # nothing new to learn: the next run does not train again
    assert tasks.train_topic_model() == "nothing to learn"
    assert m.TopicModel.objects.count() == 1


def test_a_model_from_careless_labels_is_rejected_and_the_shipped_model_stays(channel, topics, agent):
    _label(channel, agent, topics, wrong_when_trained=True)

    result = learn_topics(account=channel.account, min_labels=50)

    assert result is not None and not result.kept
    model = m.TopicModel.objects.get()
    assert (model.outcome, model.is_active, bytes(model.blob)) == ("rejected", False, b"")
    assert model.metrics["candidate"]["macro_f1"] < model.metrics["compared"]["macro_f1"]
    assert _topic_of(channel, "The beans taste stale and musty lately", "n@example.com")[1] != "classifier"


def test_the_accounts_model_weighs_the_shipped_data_and_the_labels_as_the_shipped_model_does(
    channel, topics, agent, monkeypatch
):
    # "other" weighs more in the shipped model so that neutral sentences are no complaints
    # (test_evidence.py); the seller's model, which may replace it, must not lose that.
    other = shipped.TOPIC_WEIGHTS["other"]
    assert other > 1
    shipped_data = [
        TrainingMessage("Bitte Newsletter abbestellen", "de", "other"),
        TrainingMessage("Der Deckel ist kaputt", "de", "quality"),
    ]
    german_data = [TrainingMessage("Das Paket kam nie an", "de", "delivery")]
    monkeypatch.setattr(shipped, "load_training_set", lambda: shipped_data)
    monkeypatch.setattr(shipped, "load_german_training_set", lambda: german_data)
    trained_on = []

    def spy(samples, **kwargs):
        trained_on.extend(samples)
        return train(samples, **kwargs)

    monkeypatch.setattr(topic_training, "train", spy)
    _label(channel, agent, topics)

    assert learn_topics(account=channel.account, min_labels=50) is not None

    # the shipped n-gram model's data, its German sets included
    assert [(s.text, s.topic, s.weight) for s in trained_on[:3]] == [
        ("Bitte Newsletter abbestellen", "other", other),
        ("Der Deckel ist kaputt", "quality", 1.0),
        ("Das Paket kam nie an", "delivery", 1.0),
    ]
    # each seller's label weighs SELLER_LABEL_WEIGHT shipped examples of its topic
    assert {(s.topic, s.weight) for s in trained_on[3:]} == {
        ("quality", SELLER_LABEL_WEIGHT),
        ("other", SELLER_LABEL_WEIGHT * other),
    }


def test_training_waits_for_enough_labels_in_enough_topics(channel, topics, agent, settings):
    for n in range(6):
        message = ingest(channel, body=f"The beans taste stale {n}", customer=f"s{n}@example.com")
        change_topic(
            inquiry=m.Inquiry.objects.get(pk=message.inquiry_id), topic=topics["quality"], actor=agent
        )

    assert learn_topics(account=channel.account, min_labels=5) is None  # one topic only
    settings.CSTRACKER_TOPIC_MIN_TRAINING_SAMPLES = 50
    assert tasks.train_topic_model() == "nothing to learn"
    assert not m.TopicModel.objects.exists()


def test_a_second_training_is_compared_with_the_active_model_and_the_admin_can_switch_back(
    client, superuser, channel, topics, agent
):
    _label(channel, agent, topics)
    first = learn_topics(account=channel.account, min_labels=50).model
    # one more label: the candidate must now beat the account's model, not the shipped one
    message = ingest(
        channel, at=T0 + timedelta(days=1), body="The beans taste burnt", customer="one@example.com"
    )
    change_topic(inquiry=m.Inquiry.objects.get(pk=message.inquiry_id), topic=topics["quality"], actor=agent)
    second = learn_topics(account=channel.account, min_labels=50).model
    assert second.metrics["compared"]["name"] == str(first)

    client.force_login(superuser)
    page = client.get(reverse("admin:inquiries_topicmodel_change", args=[first.pk])).content.decode()
    assert "Scores on the held-out labels" in page and "precision (shipped model)" in page
    assert "<td>quality</td>" in page and "Macro-F1 over the topics" in page
    assert "1.000" in page  # the taste complaints held out, all found
    listing = client.get(reverse("admin:inquiries_topicmodel_changelist")).content.decode()
    assert "kept" in listing.lower()
    assert client.get(reverse("admin:inquiries_topiclabel_changelist")).status_code == 200

    response = client.post(
        reverse("admin:inquiries_topicmodel_changelist"),
        {"action": "use_shipped", "_selected_action": [first.pk]},
    )
    assert response.status_code == 302
    assert not m.TopicModel.objects.filter(is_active=True).exists()
    topic_cache.clear_cache()
    assert _topic_of(channel, "The beans taste stale and musty lately", "z@example.com")[1] != "classifier"


def test_use_shipped_only_touches_the_given_account(channel, other_channel):
    mine = m.TopicModel.objects.create(
        account=channel.account, version=1, sklearn_version="x", blob=b"x", is_active=True
    )
    theirs = m.TopicModel.objects.create(
        account=other_channel.account, version=2, sklearn_version="x", blob=b"x", is_active=True
    )
    use_shipped(account=channel.account)
    assert list(m.TopicModel.objects.filter(is_active=True)) == [theirs]
    assert mine.pk != theirs.pk


def test_models_are_scoped_to_the_users_accounts(channel, other_channel, agent):
    theirs = m.TopicModel.objects.create(account=other_channel.account, version=3, sklearn_version="x")
    mine = m.TopicModel.objects.create(account=channel.account, version=4, sklearn_version="x")

    assert list(scoped(m.TopicModel.objects.all(), agent)) == [mine]
    assert theirs.pk != mine.pk
