"""The sentence encoder and its topic head (`complaints/encoder.py`): pure, no database."""

from __future__ import annotations

import numpy as np
import pytest

from inquiries.complaints.classifier import LabeledText
from inquiries.complaints.encoder import EncoderModel, EncoderVersionError, embed, train_head

SAMPLES = [
    LabeledText("the parcel never arrived", "delivery"),
    LabeledText("mein Paket ist nie angekommen", "delivery"),
    LabeledText("thank you so much, all good", "thanks"),
    LabeledText("vielen Dank, alles bestens", "thanks"),
]


def test_the_same_sentence_in_two_languages_lies_closer_than_two_topics():
    english, german, thanks = embed(["my package never came", "mein Paket kam nie an", "thanks a lot!"])
    assert float(english @ german) > float(english @ thanks)


def test_a_two_topic_head_gives_probabilities_and_survives_storage():
    model = train_head(SAMPLES, version="t")
    assert model.labels == ("delivery", "thanks")
    topic, confidence = model.predict("el paquete nunca llegó")
    assert topic == "delivery"
    assert 0.5 < confidence <= 1.0
    restored = EncoderModel.loads(model.dumps())
    assert restored.predict("el paquete nunca llegó") == pytest.approx(
        model.predict("el paquete nunca llegó")
    )
    assert np.array_equal(restored.weights, model.weights)


def test_bytes_that_are_not_an_encoder_model_are_refused():
    with pytest.raises(EncoderVersionError):
        EncoderModel.loads(b"\x80\x04garbage")
    with pytest.raises(EncoderVersionError):
        EncoderModel.loads(b"cstracker-encoder-model/1\n{not json\n")
