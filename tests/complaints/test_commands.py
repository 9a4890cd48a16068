"""manage.py evaluate_topics and train_topics."""

from __future__ import annotations

import csv
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from inquiries import models as m
from inquiries.services import change_topic
from tests.complaints.helpers import T0, ingest

LATE = [
    "my parcel is late again",
    "the courier never came",
    "package still not here",
    "delivery delayed twice",
]
BROKEN = [
    "the handle snapped off",
    "screen cracked in the box",
    "it arrived smashed",
    "glass shattered inside",
]


@pytest.fixture
def labelled_csv(tmp_path):
    path = tmp_path / "labelled.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["utterance", "tag"])
        for n in range(10):
            for text in LATE:
                writer.writerow([f"{text} (order {n})", "LATE"])
            for text in BROKEN:
                writer.writerow([f"{text} (order {n})", "BROKEN"])
            writer.writerow([f"hello {n}", "SMALLTALK"])
    return path


def run(*args: str) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_evaluate_topics_prints_per_topic_scores_and_a_confusion_matrix(labelled_csv):
    output = run(
        "evaluate_topics",
        str(labelled_csv),
        "--text-column",
        "utterance",
        "--label-column",
        "tag",
        "--map",
        "LATE=delivery,BROKEN=damaged,SMALLTALK=",
    )

    assert "80 rows used, 10 dropped" in output
    assert "split: 60 train / 20 test (stratified, seed 42)" in output
    assert "precision  recall     f1  support" in output
    for line in (
        "damaged",
        "delivery",
        "macro-F1",
        "accuracy",
        "confusion matrix (rows: true topic, columns: predicted)",
    ):
        assert line in output
    assert "SMALLTALK" not in output


def test_evaluate_topics_uses_the_labels_as_topics_without_a_mapping(labelled_csv):
    output = run("evaluate_topics", str(labelled_csv), "--text-column", "utterance", "--label-column", "tag")

    assert "90 rows used, 0 dropped" in output
    assert "SMALLTALK" in output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--text-column", "nope", "--label-column", "tag"], "no column named nope"),
        (["--text-column", "utterance", "--label-column", "tag", "--map", "LATE"], "expected label=topic"),
        (["--text-column", "utterance", "--label-column", "tag", "--test-size", "1.5"], "between 0 and 1"),
    ],
)
def test_evaluate_topics_explains_bad_input(labelled_csv, args, message):
    with pytest.raises(CommandError, match=message):
        run("evaluate_topics", str(labelled_csv), *args)


def test_evaluate_topics_reports_a_missing_file(tmp_path):
    with pytest.raises(CommandError):
        run("evaluate_topics", str(tmp_path / "missing.csv"))


@pytest.mark.django_db
def test_train_topics_says_when_there_is_too_little_to_learn(topics):
    assert "Skipped" in run("train_topics")
    assert not m.TopicModel.objects.exists()


@pytest.mark.django_db
def test_train_topics_refuses_an_unknown_account(topics):
    with pytest.raises(CommandError, match="no account with id 999999"):
        run("train_topics", "--account", "999999")


@pytest.mark.django_db
def test_train_topics_trains_an_accounts_model_and_says_whether_it_is_kept(channel, topics, agent):
    at = T0
    for n in range(12):
        for key, text in (("delivery", LATE[n % 4]), ("damaged", BROKEN[n % 4])):
            at += timedelta(minutes=1)
            message = ingest(
                channel, at=at, body=f"{text} #{n}", subject="Hi", customer=f"{key}{n}@example.com"
            )
            change_topic(
                inquiry=m.Inquiry.objects.get(pk=message.inquiry_id), topic=topics[key], actor=agent, now=at
            )

    output = run("train_topics", "--account", str(channel.account_id), "--min-labels", "10")

    model = m.TopicModel.objects.get()
    assert f"topic model v{model.version}" in output and "held-out macro-F1" in output
    assert ("kept and active" in output) == model.is_active
    assert f"{model.trained_labels} labels trained on, {model.holdout_labels} held out" in output
