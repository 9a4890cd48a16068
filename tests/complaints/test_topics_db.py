"""Topics as data: seeded rules classify at ingestion in four languages; agents correct; the
account's learned model, stored by version, is used where confident."""

from __future__ import annotations

from datetime import timedelta

import pytest

from inquiries import models as m
from inquiries.complaints.classifier import LabeledText, train
from inquiries.selectors import topics as topic_cache
from inquiries.services import change_topic
from inquiries.services.topic_training import activate
from tests.complaints.helpers import T0, ingest

pytestmark = pytest.mark.django_db


def test_the_default_topics_are_seeded_with_their_flags_and_health_categories(topics):
    assert {key: (t.is_complaint, t.health_category) for key, t in topics.items()} == {
        "quality": (True, "product_condition"),
        "damaged": (True, "delivery"),
        "wrong_item": (True, "product_condition"),
        "missing": (True, "product_condition"),
        "delivery": (True, "delivery"),
        "refund": (True, "none"),
        "billing": (True, "none"),
        "question": (False, "none"),
        "order_status": (False, "none"),
        "thanks": (False, "none"),
        "other": (False, "none"),
    }
    languages = set(m.TopicRule.objects.values_list("language", flat=True))
    assert languages == {"en", "de", "es", "fr"}
    assert set(m.TopicRule.objects.values_list("kind", flat=True)) == {"keyword", "regex"}


@pytest.mark.parametrize(
    ("subject", "body", "expected"),
    [
        ("Broken on arrival", "The glass lid arrived cracked.", "damaged"),
        ("Bestellung 4711", "Mein Paket ist immer noch nicht angekommen.", "delivery"),
        ("Pedido", "El producto es defectuoso, no funciona.", "quality"),
        ("Commande", "J'ai reçu un mauvais article, pas ce que j'ai commandé.", "wrong_item"),
        ("Rechnung", "Sie haben mir den Betrag doppelt abgebucht.", "billing"),
        ("Colis", "Il manque une pièce, le colis est incomplet.", "missing"),
    ],
)
def test_ingestion_sets_the_topic_by_the_rules_in_several_languages(channel, topics, subject, body, expected):
    message = ingest(channel, subject=subject, body=body)

    inquiry = m.Inquiry.objects.get(pk=message.inquiry_id)
    assert (inquiry.topic.key, inquiry.topic_source) == (expected, "rules")


def test_a_message_without_any_evidence_is_left_without_a_topic(channel, topics, settings):
    settings.CSTRACKER_SHIPPED_TOPIC_MODEL = False
    message = ingest(channel, subject="Hello", body="Hi there, have a nice day.")

    inquiry = m.Inquiry.objects.get(pk=message.inquiry_id)
    assert (inquiry.topic, inquiry.topic_source) == (None, "")


@pytest.mark.parametrize(
    ("subject", "body"),
    [("Hello", "Hi there, have a nice day."), ("Hi", "Just saying hello"), ("Hallo", "Guten Morgen")],
)
def test_a_greeting_is_never_filed_as_a_complaint(channel, topics, subject, body):
    # Short texts without a symptom once leaned on the model's prior ("Hello" came out as
    # product quality); greetings are in its training set as "other" now.
    message = ingest(channel, subject=subject, body=body)

    inquiry = m.Inquiry.objects.get(pk=message.inquiry_id)
    assert inquiry.topic is None or inquiry.topic.key == "other"


def test_a_plain_language_complaint_without_a_rule_keyword_gets_its_topic_from_the_shipped_model(
    channel, topics
):
    message = ingest(channel, subject="Kettle", body="the lid wont stay shut and it squeaks")

    inquiry = m.Inquiry.objects.get(pk=message.inquiry_id)
    assert (inquiry.topic.key, inquiry.topic_source) == ("quality", "shipped")


def test_a_rule_added_in_the_admin_classifies_once_the_cache_is_refreshed(channel, topics):
    m.TopicRule.objects.create(
        topic=topics["quality"], kind="keyword", pattern="wobbly", language="en", weight=2
    )
    topic_cache.clear_cache()

    message = ingest(channel, subject="Chair", body="The chair is wobbly.")

    assert m.Inquiry.objects.get(pk=message.inquiry_id).topic.key == "quality"


def test_a_rule_that_does_not_compile_is_skipped_and_the_others_still_work(channel, topics):
    m.TopicRule.objects.create(topic=topics["quality"], kind="regex", pattern="(unclosed", language="en")
    topic_cache.clear_cache()

    message = ingest(channel, subject="Late", body="Where is my order? It has not arrived.")

    assert m.Inquiry.objects.get(pk=message.inquiry_id).topic.key == "delivery"


def test_an_agents_correction_is_stored_as_such_with_its_event(channel, topics, agent):
    message = ingest(channel, subject="Late", body="Where is my order?")
    inquiry = m.Inquiry.objects.get(pk=message.inquiry_id)

    change_topic(inquiry=inquiry, topic=topics["damaged"], actor=agent, now=T0 + timedelta(hours=1))

    inquiry.refresh_from_db()
    assert (inquiry.topic.key, inquiry.topic_source) == ("damaged", "agent")
    event = m.InquiryEvent.objects.get(inquiry=inquiry, kind=m.EventKind.TOPIC_CHANGED)
    assert event.data == {"from": "order_status", "to": "damaged", "correction": True}
    assert event.actor == agent


# --- an account's learned model (trained by services.topic_training; see test_learning.py) -------

# Vocabulary the rules do not know: only the agents' labels can teach it.
AGENT_LABELLED = {
    "quality": [f"The hinge on unit {n} is wobbly and squeaks, the finish flakes off" for n in range(12)],
    "delivery": [f"Courier left a note {n} times, parcel sits at the depot forever" for n in range(12)],
    "refund": [f"Please send the money for order {n} to my card, I sent the box to you" for n in range(12)],
}


def _stored_model(account, *, version: int = 1, threshold: float = 0.5, active: bool = True) -> m.TopicModel:
    """A small model trained on AGENT_LABELLED, stored as the account's (active) version."""
    samples = [LabeledText(text, key) for key, texts in AGENT_LABELLED.items() for text in texts]
    model = train(samples, version=f"test-{version}")
    row = m.TopicModel.objects.create(
        account=account,
        version=version,
        labels=list(model.labels),
        sklearn_version=model.sklearn_version,
        blob=model.dumps(),
        threshold=threshold,
        is_active=active,
    )
    topic_cache.clear_cache()
    return row


def test_the_accounts_model_decides_where_confident_and_the_rules_elsewhere(channel, topics):
    model = _stored_model(channel.account, threshold=0.5)

    learned = ingest(
        channel,
        at=T0 + timedelta(days=3),
        subject="Hinge",
        body="The hinge is wobbly and the finish flakes off",
        customer="new@example.com",
    )
    assert m.Inquiry.objects.filter(pk=learned.inquiry_id).values_list(
        "topic__key", "topic_source"
    ).get() == ("quality", "classifier")

    m.TopicModel.objects.filter(pk=model.pk).update(threshold=1.0)
    topic_cache.clear_cache()
    ruled = ingest(
        channel,
        at=T0 + timedelta(days=3, hours=1),
        subject="Lid",
        body="The lid arrived cracked.",
        customer="other@example.com",
    )
    assert m.Inquiry.objects.filter(pk=ruled.inquiry_id).values_list("topic__key", "topic_source").get() == (
        "damaged",
        "rules",
    )


def test_an_older_version_can_be_reactivated_for_its_account(channel, other_channel, topics):
    first = _stored_model(channel.account, version=1, active=False)
    second = _stored_model(channel.account, version=2)
    theirs = _stored_model(other_channel.account, version=3)

    activate(model=first)

    assert set(m.TopicModel.objects.filter(is_active=True)) == {first, theirs}
    assert second.pk not in m.TopicModel.objects.filter(is_active=True).values_list("pk", flat=True)


def test_a_model_from_another_scikit_learn_version_falls_back_to_the_rules(channel, topics):
    model = _stored_model(channel.account, threshold=0.0)
    blob = bytes(model.blob).replace(model.sklearn_version.encode(), b"0.0.0", 1)
    m.TopicModel.objects.filter(pk=model.pk).update(blob=blob)
    topic_cache.clear_cache()

    message = ingest(
        channel, at=T0 + timedelta(days=3), body="The lid arrived cracked.", customer="x@example.com"
    )

    assert (
        m.Inquiry.objects.filter(pk=message.inquiry_id).values_list("topic_source", flat=True).get()
        == "rules"
    )


def test_a_topic_worked_out_by_the_same_rules_elsewhere_is_taken_as_it_is(topics, monkeypatch):
    rules = topic_cache.rules_for_hints()
    text = "Lid\nThe lid arrived cracked."

    def not_again(*args, **kwargs):
        raise AssertionError("classified again")

    monkeypatch.setattr(topic_cache, "classify_with_fallback", not_again)
    assert topic_cache.topic_for_text(text, hint=(rules.fingerprint, "damaged")) == (
        topics["damaged"],
        "rules",
    )


def test_a_hint_that_the_rules_did_not_decide_is_classified_again_with_the_shipped_model(topics):
    rules = topic_cache.rules_for_hints()
    text = "Hinge\nder Stuhl wackelt und die Lehne knarzt"
    assert topic_cache.topic_for_text(text, hint=(rules.fingerprint, "")) == (topics["quality"], "shipped")


def test_a_hint_from_other_rules_or_under_a_learned_model_is_not_trusted(channel, topics):
    text = "Lid\nThe lid arrived cracked."
    stale = ("rules as they were before an admin edit", "billing")
    assert topic_cache.topic_for_text(text, hint=stale) == (topics["damaged"], "rules")

    _stored_model(channel.account, threshold=0.5)
    account_id = channel.account_id
    assert topic_cache.rules_for_hints(account_id=account_id) is None  # the model decides first
    rules = topic_cache._load().rules
    learned = topic_cache.topic_for_text(
        "Hinge\nThe hinge is wobbly and the finish flakes off",
        hint=(rules.fingerprint, "billing"),
        account_id=account_id,
    )
    assert learned == (topics["quality"], "classifier")
