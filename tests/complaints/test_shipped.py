"""The topic model that ships with cstracker: built from the repository's data, stored once,
used for what the rules do not decide, in four languages."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command

from inquiries.complaints import shipped
from inquiries.complaints.classifier import TrainedModel


@pytest.fixture(scope="module")
def stored(tmp_path_factory) -> tuple[TrainedModel, object]:
    path = tmp_path_factory.mktemp("model") / "topic-model.bin"
    return shipped.load_or_build(path), path


def test_it_is_built_from_the_repositorys_training_set_and_stored_for_the_next_process(stored):
    model, path = stored
    assert model.version == shipped.fingerprint()
    assert set(model.labels) == {m.topic for m in shipped.load_training_set()}
    again = shipped.load_or_build(path)
    assert again.version == model.version
    assert again.pipeline is not model.pipeline  # read from the file, not trained again


def test_a_stale_stored_model_is_replaced(stored, tmp_path):
    model, _ = stored
    path = tmp_path / "old.bin"
    old = TrainedModel(model.pipeline, "shipped-0-old", model.labels, model.sklearn_version, model.n_samples)
    shipped.write(old, path)
    assert shipped.load_or_build(path).version == shipped.fingerprint()
    assert TrainedModel.loads(path.read_bytes()).version == shipped.fingerprint()


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


def test_build_topic_model_writes_the_model_where_it_is_told(tmp_path):
    out = StringIO()
    call_command("build_topic_model", "--output", str(tmp_path / "m.bin"), stdout=out)
    assert f"topic model {shipped.fingerprint()}" in out.getvalue()
    assert TrainedModel.loads((tmp_path / "m.bin").read_bytes()).version == shipped.fingerprint()
