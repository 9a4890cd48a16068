"""Minimum evidence before a model files a complaint (`evidence.has_evidence`).

Neutral, out-of-domain sentences in the four languages, written for this test and in
neither the training nor the evaluation set, must never be filed as a complaint: the model
may only file a complaint topic when the text names one of that topic's concepts.
"""

from __future__ import annotations

import re

import pytest

from inquiries.complaints.datasets import load_german_training_set, load_training_set
from inquiries.complaints.evaluation import load_eval_set
from inquiries.complaints.evidence import has_evidence
from inquiries.selectors import topics as topic_cache

NEUTRAL = {
    "en": [
        "As discussed on the phone.",
        "Please see my earlier email.",
        "I will be away next week.",
        "Our office moves to a new building in March.",
        "Could you call me back tomorrow morning?",
        "My colleague Sarah will take over this conversation.",
        "Sent from my phone.",
        "Happy new year to the whole team!",
    ],
    "de": [
        "Wie am Telefon besprochen.",
        "Siehe meine vorherige Nachricht.",
        "Ich bin nächste Woche im Urlaub.",
        "Unser Büro zieht im März um.",
        "Können Sie mich morgen früh zurückrufen?",
        "Meine Kollegin übernimmt ab jetzt.",
        "Von meinem Handy gesendet.",
        "Frohe Ostern an das ganze Team!",
    ],
    "es": [
        "Como hablamos por teléfono.",
        "Vea mi correo anterior, por favor.",
        "Estaré fuera la próxima semana.",
        "Nuestra oficina se muda en marzo.",
        "¿Me puede llamar mañana por la mañana?",
        "Mi compañera seguirá con esta conversación.",
        "Enviado desde mi móvil.",
        "¡Feliz año nuevo a todo el equipo!",
    ],
    "fr": [
        "Comme convenu au téléphone.",
        "Voir mon courriel précédent.",
        "Je serai absent la semaine prochaine.",
        "Notre bureau déménage en mars.",
        "Pouvez-vous me rappeler demain matin ?",
        "Ma collègue prendra le relais.",
        "Envoyé de mon téléphone.",
        "Bonne année à toute l'équipe !",
    ],
}
SENTENCES = [(language, text) for language, texts in NEUTRAL.items() for text in texts]


def _key(text: str) -> str:
    return re.sub(r"\W+", " ", text.casefold()).strip()


def test_the_neutral_sentences_are_in_neither_the_training_nor_the_evaluation_set():
    training = [*load_training_set(), *load_german_training_set()]
    known = {_key(m.text) for m in training} | {_key(m.text) for m in load_eval_set()}
    assert not {_key(text) for _, text in SENTENCES} & known


@pytest.mark.django_db
@pytest.mark.parametrize(("language", "text"), SENTENCES)
def test_a_neutral_sentence_is_never_filed_as_a_complaint(topics, language, text):
    topic, source = topic_cache.topic_for_text(text)

    assert topic is None or not topic.is_complaint, (language, text, topic.key, source)


@pytest.mark.parametrize(
    ("text", "topic", "expected"),
    [
        ("As discussed on the phone.", "quality", False),
        ("It stopped working after two days", "quality", True),
        ("I will be away next week.", "delivery", False),
        ("Still waiting for my parcel", "delivery", True),
        ("Können Sie mich morgen früh zurückrufen?", "refund", False),
        ("Ich schicke es zurück und will mein Geld", "refund", True),
        ("Hello", "question", True),  # not a complaint topic: no evidence needed
    ],
)
def test_a_complaint_topic_needs_one_of_its_concepts(text, topic, expected):
    assert has_evidence(text, topic) is expected
