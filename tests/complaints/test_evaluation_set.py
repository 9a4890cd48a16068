"""The project's own evaluation sets (the first one, the independent one, the dev set and the six
German judging sets, the first five of which have had their judging say and are German training
data since measurement 10) and `manage.py evaluate_topics` without a CSV."""

from __future__ import annotations

import re
from collections import Counter
from io import StringIO

import pytest
from django.core.management import call_command

from inquiries.complaints.datasets import (
    GERMAN_TRAIN_DIRS,
    TRAIN_DIR,
    load_german_training_set,
    load_training_set,
)
from inquiries.complaints.evaluation import (
    BITEXT_LABEL_COLUMN,
    BITEXT_TEXT_COLUMN,
    DEV_DIR,
    EVAL_LANGUAGES,
    EVAL_SETS,
    INDEPENDENT_EVAL_DIR,
    JUDGE_DE2_DIR,
    JUDGE_DE3_DIR,
    JUDGE_DE4_DIR,
    JUDGE_DE5_DIR,
    JUDGE_DE6_DIR,
    JUDGE_DE_DIR,
    EvalMessage,
    evaluate_project_set,
    load_eval_set,
    load_labelled_csv,
)
from inquiries.complaints.rules import DEFAULT_TOPICS
from inquiries.management.commands import evaluate_topics
from tests.shared_data import shared_file

NOT_TRAINED_DIR = TRAIN_DIR.parent / "not_trained"
TRAIN_DE_DIR = TRAIN_DIR.parent / "train_de"
EVAL = load_eval_set()
INDEPENDENT = load_eval_set(INDEPENDENT_EVAL_DIR)
DEV = load_eval_set(DEV_DIR)
JUDGE_DE = load_eval_set(JUDGE_DE_DIR)
JUDGE_DE2 = load_eval_set(JUDGE_DE2_DIR)
JUDGE_DE3 = load_eval_set(JUDGE_DE3_DIR)
JUDGE_DE4 = load_eval_set(JUDGE_DE4_DIR)
JUDGE_DE5 = load_eval_set(JUDGE_DE5_DIR)
JUDGE_DE6 = load_eval_set(JUDGE_DE6_DIR)
# Both sets must meet the same guarantees; the independent one is also the held-back measurement.
BOTH_SETS = pytest.mark.parametrize("messages", [EVAL, INDEPENDENT], ids=["project", "independent"])
JUDGING_SETS = {
    "judge-de": JUDGE_DE,
    "judge-de2": JUDGE_DE2,
    "judge-de3": JUDGE_DE3,
    "judge-de4": JUDGE_DE4,
    "judge-de5": JUDGE_DE5,
    "judge-de6": JUDGE_DE6,
}
# Every set that was written to be held out, the German judging sets included.
HELD_OUT_SETS = pytest.mark.parametrize(
    "messages", [EVAL, INDEPENDENT, *JUDGING_SETS.values()], ids=["project", "independent", *JUDGING_SETS]
)
GERMAN_JUDGING_SETS = pytest.mark.parametrize("messages", list(JUDGING_SETS.values()), ids=list(JUDGING_SETS))


def folded(text: str) -> str:
    """Case, punctuation and spacing dropped: a copy with another comma is still a copy."""
    return " ".join(re.findall(r"\w+", text.casefold()))


@BOTH_SETS
def test_every_topic_has_40_messages_and_10_in_each_language(messages):
    per_topic = Counter(message.topic for message in messages)
    per_language = Counter((message.topic, message.language) for message in messages)
    assert set(per_topic) == {topic.key for topic in DEFAULT_TOPICS}
    assert min(per_topic.values()) >= 40
    assert {language for _, language in per_language} == set(EVAL_LANGUAGES)
    assert min(per_language[(topic, language)] for topic in per_topic for language in EVAL_LANGUAGES) >= 10


@BOTH_SETS
def test_order_status_and_overdue_where_is_my_order_messages_say_how_the_order_stood(messages):
    assert all(message.overdue is False for message in messages if message.topic == "order_status")
    overdue = [message for message in messages if message.overdue]
    assert {message.topic for message in overdue} == {"delivery"}
    assert {message.language for message in overdue} == set(EVAL_LANGUAGES)


@HELD_OUT_SETS
def test_no_message_is_there_twice(messages):
    texts = Counter(folded(message.text) for message in messages)
    assert [text for text, count in texts.items() if count > 1] == []


def test_the_independent_set_shares_no_text_with_the_first_one():
    first = {folded(message.text) for message in EVAL}
    assert [m.text for m in INDEPENDENT if folded(m.text) in first] == []


@HELD_OUT_SETS
def test_no_evaluation_text_is_in_the_bitext_training_data(messages):
    path = shared_file("bitext-customer-support", "Bitext_Sample_Customer_Support_Training_Dataset.csv")
    training = {
        folded(s.text) for s in load_labelled_csv(path, BITEXT_TEXT_COLUMN, BITEXT_LABEL_COLUMN, None).samples
    }
    assert [m.text for m in messages if folded(m.text) in training] == []


def test_a_bad_line_is_refused_with_its_file_and_line(tmp_path):
    (tmp_path / "xx.jsonl").write_text(
        '{"text": "fine", "language": "en", "topic": "thanks"}\n{"text": "no topic", "language": "en"}\n',
        encoding="utf-8",
    )
    with pytest.raises(ValueError, match=r"xx\.jsonl line 2"):
        load_eval_set(tmp_path)
    (tmp_path / "xx.jsonl").write_text(
        '{"text": "x", "language": "en", "topic": "delivery", "promised_delivery": "soon"}\n',
        encoding="utf-8",
    )
    with pytest.raises(ValueError, match=r"xx\.jsonl line 1"):
        load_eval_set(tmp_path)


def test_scores_per_language_count_no_topic_as_not_a_complaint():
    messages = [
        EvalMessage("a", "en", "damaged", None),
        EvalMessage("b", "en", "damaged", None),
        EvalMessage("c", "en", "thanks", None),
        EvalMessage("d", "de", "delivery", None),
        EvalMessage("e", "de", "question", None),
    ]
    evaluation = evaluate_project_set(
        messages, ["damaged", None, "thanks", "refund", "delivery"], ["damaged", "delivery", "refund"]
    )
    en, de = evaluation.languages
    assert (en.language, en.messages, en.complaint_recall, en.complaint_accuracy) == ("en", 3, 0.5, 2 / 3)
    # de: delivery filed as refund is still a complaint (right side), its recall 0; the question
    # filed as delivery is on the wrong side.
    assert (de.complaint_recall, de.complaint_accuracy) == (0.0, 0.5)
    assert evaluation.overall.messages == 5
    assert "(none)" in evaluation.format()


def test_evaluate_topics_without_a_csv_scores_the_evaluation_set_per_topic_and_language():
    out = StringIO()
    call_command("evaluate_topics", stdout=out)
    output = out.getvalue()
    assert f"{len(EVAL)} messages" in output
    assert "complaint macro recall" in output and "complaint-or-not accuracy" in output
    for language in (*EVAL_LANGUAGES, "all"):
        assert re.search(rf"^{language} +\d+ +[01]\.\d{{3}} +[01]\.\d{{3}}$", output, re.MULTILINE), language
    for topic in DEFAULT_TOPICS:
        assert re.search(rf"^{topic.key} +[01]\.\d{{3}} +[01]\.\d{{3}}", output, re.MULTILINE), topic.key


def test_evaluate_topics_scores_the_independent_set_or_both_sets_when_asked():
    out = StringIO()
    call_command("evaluate_topics", "--set", "independent", stdout=out)
    output = out.getvalue()
    assert f"data: the independent evaluation set, {len(INDEPENDENT)} messages" in output
    assert "project's evaluation set" not in output
    for language in (*EVAL_LANGUAGES, "all"):
        assert re.search(rf"^{language} +\d+ +[01]\.\d{{3}} +[01]\.\d{{3}}$", output, re.MULTILINE), language

    out = StringIO()
    call_command("evaluate_topics", "--set", "both", "--rules-only", stdout=out)
    output = out.getvalue()
    assert output.index("data: the project's evaluation set") < output.index("data: the independent")
    assert len(re.findall(r"^all +\d+ ", output, re.MULTILINE)) == 2


@BOTH_SETS
def test_no_evaluation_text_is_in_the_shipped_models_training_set(messages):
    training = [*load_training_set(), *load_german_training_set()]
    assert len(training) >= 4000
    folded_training = {folded(message.text) for message in training}
    assert [m.text for m in messages if folded(m.text) in folded_training] == []


def test_the_german_training_sets_are_the_spent_judging_sets_and_train_de():
    # The five judging sets have had their one judging say (docs/topics.md); the sixth is not one.
    assert GERMAN_TRAIN_DIRS == (
        JUDGE_DE_DIR,
        JUDGE_DE2_DIR,
        JUDGE_DE3_DIR,
        JUDGE_DE4_DIR,
        JUDGE_DE5_DIR,
        TRAIN_DE_DIR,
    )
    train_de = load_training_set(TRAIN_DE_DIR)
    assert len(train_de) >= 300 and {m.language for m in train_de} == {"de"}
    others = {folded(message.text) for other in (EVAL, INDEPENDENT, DEV) for message in other}
    assert [m.text for m in train_de if folded(m.text) in others] == []


def test_the_sixth_german_judging_set_is_in_no_training_data():
    # It judged measurement 10, whose model trains on the five before it.
    training = {folded(message.text) for message in (*load_training_set(), *load_german_training_set())}
    assert JUDGE_DE6_DIR not in GERMAN_TRAIN_DIRS
    assert [m.text for m in JUDGE_DE6 if folded(m.text) in training] == []


def test_the_dev_set_covers_every_topic_in_each_language_and_is_never_trained_on():
    for language in EVAL_LANGUAGES:
        counts = Counter(m.topic for m in DEV if m.language == language)
        assert set(counts) == {topic.key for topic in DEFAULT_TOPICS}, language
        assert min(counts.values()) >= 4, language
    training = {folded(message.text) for message in (*load_training_set(), *load_german_training_set())}
    evaluation = {folded(message.text) for message in (*EVAL, *INDEPENDENT)}
    assert [m.text for m in DEV if folded(m.text) in training | evaluation] == []
    assert len({folded(m.text) for m in DEV}) == len(DEV)


def test_evaluate_topics_scores_the_dev_set_when_asked():
    out = StringIO()
    call_command("evaluate_topics", "--set", "dev", "--rules-only", stdout=out)
    assert f"data: the dev set, {len(DEV)} messages" in out.getvalue()


@GERMAN_JUDGING_SETS
def test_the_german_judging_sets_cover_every_topic_and_say_how_the_orders_stood(messages):
    assert {message.language for message in messages} == {"de"}
    counts = Counter(message.topic for message in messages)
    assert set(counts) == {topic.key for topic in DEFAULT_TOPICS}
    assert min(counts.values()) >= 9
    assert all(message.overdue is False for message in messages if message.topic == "order_status")
    assert {message.topic for message in messages if message.overdue} == {"delivery"}


@pytest.mark.parametrize(
    "messages",
    [JUDGE_DE2, JUDGE_DE3, JUDGE_DE4, JUDGE_DE5, JUDGE_DE6],
    ids=["judge-de2", "judge-de3", "judge-de4", "judge-de5", "judge-de6"],
)
def test_the_later_german_judging_sets_have_25_messages_a_complaint_topic_and_15_for_the_others(
    messages,
):
    counts = Counter(message.topic for message in messages)
    assert min(counts[topic.key] for topic in DEFAULT_TOPICS if topic.is_complaint) >= 25
    assert min(counts[topic.key] for topic in DEFAULT_TOPICS if not topic.is_complaint) >= 15
    # "Where is my order" both sides of the promised date, and a delivery complaint without one.
    assert {m.overdue for m in messages if m.topic == "delivery"} == {True, None}


@pytest.mark.parametrize(
    ("messages", "sizes", "per_complaint_topic", "per_other_topic", "per_side_of_the_date"),
    [
        (JUDGE_DE4, (260, 290), 28, 17, 17),
        (JUDGE_DE5, (270, 295), 30, 15, 18),
        (JUDGE_DE6, (280, 300), 31, 16, 18),
    ],
    ids=["judge-de4", "judge-de5", "judge-de6"],
)
def test_the_fourth_to_sixth_german_judging_sets_weigh_the_complaint_topics_and_both_dates(
    messages, sizes, per_complaint_topic, per_other_topic, per_side_of_the_date
):
    counts = Counter(message.topic for message in messages)
    assert sizes[0] <= len(messages) <= sizes[1]
    assert min(counts[topic.key] for topic in DEFAULT_TOPICS if topic.is_complaint) >= per_complaint_topic
    assert min(counts[topic.key] for topic in DEFAULT_TOPICS if not topic.is_complaint) >= per_other_topic
    # About as many "where is my order" messages after the promised date as before it.
    assert sum(1 for m in messages if m.overdue) >= per_side_of_the_date
    assert sum(1 for m in messages if m.overdue is False) >= per_side_of_the_date


@pytest.mark.parametrize("messages", [JUDGE_DE5, JUDGE_DE6], ids=["judge-de5", "judge-de6"])
def test_the_latest_german_judging_sets_share_no_text_with_the_messages_judged_and_not_trained_on(messages):
    # `data/not_trained` holds training messages that were judged and not kept (`hands5-de.jsonl`
    # is in `data/train_de` since measurement 10), so the judging set must not contain them either.
    not_trained = {folded(m.text) for d in (NOT_TRAINED_DIR, TRAIN_DE_DIR) for m in load_training_set(d)}
    assert len(not_trained) >= 300
    assert [m.text for m in messages if folded(m.text) in not_trained] == []


@pytest.mark.parametrize("name", list(JUDGING_SETS))
def test_a_german_judging_set_shares_no_text_with_any_other_held_out_set(name):
    # Both ways: an earlier set is checked against the later ones too.
    others = (
        EVAL,
        INDEPENDENT,
        DEV,
        *(messages for other, messages in JUDGING_SETS.items() if other != name),
    )
    elsewhere = {folded(message.text) for other in others for message in other}
    assert [m.text for m in JUDGING_SETS[name] if folded(m.text) in elsewhere] == []


def test_evaluate_topics_offers_every_set_with_a_description():
    # Parsing only: the judging set is scored once, when the new German data is judged.
    parser = evaluate_topics.Command().create_parser("manage.py", "evaluate_topics")
    assert parser.parse_args(["--set", "judge-de"]).eval_set == "judge-de"
    assert parser.parse_args(["--set", "judge-de2"]).eval_set == "judge-de2"
    assert parser.parse_args(["--set", "judge-de3"]).eval_set == "judge-de3"
    assert parser.parse_args(["--set", "judge-de4"]).eval_set == "judge-de4"
    assert parser.parse_args(["--set", "judge-de5"]).eval_set == "judge-de5"
    assert parser.parse_args(["--set", "judge-de6"]).eval_set == "judge-de6"
    assert (
        EVAL_SETS["judge-de"],
        EVAL_SETS["judge-de2"],
        EVAL_SETS["judge-de3"],
        EVAL_SETS["judge-de4"],
        EVAL_SETS["judge-de5"],
        EVAL_SETS["judge-de6"],
    ) == (JUDGE_DE_DIR, JUDGE_DE2_DIR, JUDGE_DE3_DIR, JUDGE_DE4_DIR, JUDGE_DE5_DIR, JUDGE_DE6_DIR)
    assert set(evaluate_topics.SET_DESCRIPTIONS) == set(EVAL_SETS)
