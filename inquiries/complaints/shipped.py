"""The topic model that ships with cstracker: training data, symptom lexicon, build. No Django.

Out of the box, before any seller has labelled anything, topics come from the seed rules
(precise, auditable matches) and, where no rule is sure, from this model. It is trained
from data the repository holds, `data/train/*.jsonl`: short customer messages written for
this project in English, German, Spanish and French, one per line with its topic. It is
never trained on the evaluation sets (`data/eval`, `data/eval_independent`) nor on the dev
set (`data/dev`, see `evaluation.py`); a test checks that no text is in both.

The model (`shipped-2`, `ShippedModel`) is two models trained on the same messages. First
the classifier's n-gram pipeline (`classifier.train`: word and character n-gram TF-IDF into
a logistic regression) with a third feature set, the **symptom lexicon**: word stems per
language for what customers describe ("kaputt", "roto", "cassé", "smashed" are all
`broken`), matched at the start of a word, which is the stemming an inflected language needs
("zerbrochen"; "rotos"). Where it is sure (`NGRAMS_SURE_AT`) its answer stands; elsewhere a
multilingual sentence encoder with a logistic-regression head decides (`encoder.py`), which
understands a complaint told in words neither the n-grams nor the lexicon know. The n-gram
model alone (`shipped-1`) lost to this on held-out data (docs/topics.md). The lexicon also
gives the minimum evidence a model needs before filing a complaint at low confidence
(`has_evidence`).

`build()` is deterministic (fixed data and encoder, lbfgs without random state), so the same
data and versions give the same model. It takes seconds, so it is done once: `manage.py
build_topic_model` (run at install, like `collectstatic`) writes it to
`CSTRACKER_TOPIC_MODEL_FILE`; `load_or_build()` loads that file, and trains and writes it
when it is missing, stale (other training data or encoder: `fingerprint()`) or damaged.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TypeVar

from inquiries.complaints.classifier import LabeledText, ModelVersionError, TrainedModel, train
from inquiries.complaints.encoder import (
    HEAD_C,
    EncoderModel,
    EncoderVersionError,
    encoder_version,
    train_head,
)
from inquiries.complaints.rules import normalise

TRAIN_DIR = Path(__file__).resolve().parent / "data" / "train"
# shipped-1: the n-gram and lexicon pipeline (`classifier.train`) alone; shipped-2: that
# pipeline where it is sure, else the multilingual sentence encoder with a topic head
# (`encoder`), chosen on held-out data (docs/topics.md).
VERSION = "shipped-2"
# At or above this confidence the n-gram model's answer stands; below it the encoder decides.
# Chosen on the dev set and 5-fold cross-validation of the training set (docs/topics.md): the
# encoder alone scored 0.868 dev complaint recall, behind the n-gram model sure at 0.9 0.911
# (0.85: 0.904, 0.95: 0.893). It also spares the messages the n-grams are sure of the encoder.
NGRAMS_SURE_AT = 0.9
_MAGIC = b"cstracker-shipped-model/2\n"

# Concept -> word stems (lower case, without accents: matched on `normalise()`d, case-folded
# text, at the start of a word). Kept to symptoms and objects a complaint names; the topic
# words the rules already use are in here too, so the model can weigh them against the rest.
LEXICON: dict[str, tuple[str, ...]] = {
    "broken": (
        "broke",
        "smash",
        "shatter",
        "crack",
        "crush",
        "dent",
        "bent",
        "snapped",
        "chipped",
        "squash",
        "kaputt",
        "zerbro",
        "zerbrach",
        "gebroch",
        "zersplitt",
        "gesprung",
        "sprung",
        "riss",
        "delle",
        "verbeul",
        "verbog",
        "eingedr",
        "eingedell",
        "abgebroch",
        "abgeplatzt",
        "scherben",
        "macken",
        "roto",
        "rota",
        "rompi",
        "rompio",
        "partid",
        "aplast",
        "abollad",
        "grieta",
        "rajad",
        "anicos",
        "pedazos",
        "trozos",
        "torcid",
        "doblad",
        "golpe",
        "desportill",
        "destroz",
        "cass",
        "bris",
        "fele",
        "fend",
        "fissur",
        "ecras",
        "caboss",
        "ebrech",
        "tordu",
        "enfonc",
        "morceaux",
        "bosse",
        "abim",
        "voile",
        "explose",
    ),
    "parcel": (
        "box",
        "parcel",
        "package",
        "packag",
        "packing",
        "padding",
        "transit",
        "shipping",
        "courier",
        "post",
        "karton",
        "paket",
        "verpack",
        "versand",
        "transport",
        "bote",
        "sendung",
        "caja",
        "paquete",
        "embal",
        "envio",
        "transport",
        "repartid",
        "carton",
        "colis",
        "emball",
        "envoi",
        "livreur",
        "boite",
    ),
    "wrong": (
        "wrong",
        "instead",
        "different",
        "somebody",
        "someone",
        "else",
        "falsch",
        "statt",
        "anderes",
        "andere",
        "jemand",
        "equivoc",
        "en vez",
        "distint",
        "otra persona",
        "otro modelo",
        "mauvais",
        "au lieu",
        "different",
        "quelqu",
        "autre",
    ),
    "ordered": (
        "ordered",
        "order",
        "chose",
        "asked for",
        "bought",
        "paid for",
        "bestellt",
        "gekauft",
        "ausgesucht",
        "bezahlt",
        "pedi",
        "compre",
        "elegi",
        "pague",
        "commande",
        "achete",
        "choisi",
        "paye",
        "pris",
    ),
    "missing": (
        "missing",
        "not included",
        "not in",
        "werent in",
        "wasnt in",
        "isnt in",
        "arent",
        "empty",
        "only got",
        "only one",
        "no ",
        "without",
        "fehlt",
        "fehlen",
        "nicht dabei",
        "nicht drin",
        "kein",
        "leer",
        "nur ",
        "falta",
        "no viene",
        "no venia",
        "no trae",
        "no estan",
        "no hay",
        "vacia",
        "vacio",
        "solo ",
        "manque",
        "pas fourni",
        "pas dans",
        "n'y etai",
        "vide",
        "seulement",
        "pas de ",
    ),
    "parts": (
        "screw",
        "bolt",
        "part",
        "piece",
        "manual",
        "lid",
        "cable",
        "charger",
        "remote",
        "batter",
        "shelf",
        "schraub",
        "teil",
        "anleitung",
        "deckel",
        "kabel",
        "ladeger",
        "fernbedien",
        "batterie",
        "regal",
        "tornill",
        "pieza",
        "manual",
        "tapa",
        "cable",
        "cargador",
        "mando",
        "pila",
        "balda",
        "vis",
        "piece",
        "notice",
        "couvercle",
        "cable",
        "chargeur",
        "telecommande",
        "pile",
        "etagere",
    ),
    "late": (
        "late",
        "still",
        "waiting",
        "wait",
        "week",
        "days",
        "overdue",
        "never",
        "nothing",
        "nobody",
        "delay",
        "spat",
        "verspat",
        "immer noch",
        "warte",
        "woche",
        "tage",
        "uberfall",
        "nie ",
        "nichts",
        "keiner",
        "retras",
        "sigo",
        "sigue",
        "esperando",
        "espera",
        "semana",
        "dias",
        "nunca",
        "nada",
        "nadie",
        "retard",
        "toujours",
        "attend",
        "semaine",
        "jours",
        "jamais",
        "rien",
        "personne",
    ),
    "arrive": (
        "arriv",
        "deliver",
        "came",
        "come",
        "turn up",
        "show up",
        "receiv",
        "got it",
        "tracking",
        "ankomm",
        "angekomm",
        "geliefert",
        "zugestellt",
        "liefer",
        "kommt",
        "erhalten",
        "bekomm",
        "llega",
        "llego",
        "entreg",
        "recib",
        "seguimiento",
        "aparec",
        "arriv",
        "livr",
        "recu",
        "suivi",
    ),
    "defect": (
        "stop",
        "not work",
        "doesnt work",
        "dont work",
        "wont",
        "dead",
        "noise",
        "leak",
        "hot",
        "smell",
        "burn",
        "flicker",
        "loose",
        "undone",
        "came off",
        "fell apart",
        "thin",
        "cheap",
        "only play",
        "lose",
        "jam",
        "funktioniert nicht",
        "geht nicht",
        "lauft nicht",
        "tropf",
        "heiss",
        "riecht",
        "verbrannt",
        "flacker",
        "lost sich",
        "abgelost",
        "dunn",
        "billig",
        "nur noch",
        "klemm",
        "knister",
        "no funciona",
        "deja de",
        "dejo de",
        "pierde",
        "calient",
        "huele",
        "quemad",
        "parpade",
        "descos",
        "despeg",
        "finisim",
        "barat",
        "solo suena",
        "atras",
        "atasc",
        "ne marche",
        "ne fonctionne",
        "marche plus",
        "arrete",
        "fuit",
        "chauff",
        "sent le",
        "brule",
        "clignot",
        "defont",
        "decoll",
        "fin ",
        "cheap",
        "retarde",
        "bourr",
        "grésill",
        "gresill",
    ),
    "money": (
        "refund",
        "money back",
        "my money",
        "return",
        "send it back",
        "send back",
        "reimburs",
        "cancel",
        "exchange",
        "swap",
        "give this back",
        "erstatt",
        "geld",
        "zuruck",
        "retour",
        "storn",
        "umtausch",
        "gutschrift",
        "reembols",
        "devol",
        "dinero",
        "cancel",
        "anul",
        "cambiar",
        "rembours",
        "retour",
        "renvoy",
        "argent",
        "annul",
        "echang",
        "rendre",
    ),
    "charge": (
        "charge",
        "paid",
        "pay",
        "payment",
        "invoice",
        "receipt",
        "card",
        "bank",
        "statement",
        "vat",
        "tax",
        "coupon",
        "price",
        "billed",
        "billing",
        "subscription",
        "abgebucht",
        "abbuch",
        "zahl",
        "rechnung",
        "karte",
        "konto",
        "mwst",
        "steuer",
        "gutschein",
        "preis",
        "abo",
        "belast",
        "cobr",
        "cargo",
        "pago",
        "pague",
        "factura",
        "tarjeta",
        "banco",
        "iva",
        "precio",
        "descuento",
        "suscrip",
        "debit",
        "preleve",
        "prelev",
        "paie",
        "paye",
        "facture",
        "carte",
        "banque",
        "tva",
        "prix",
        "promo",
        "abonnement",
    ),
    "where": (
        "where",
        "when",
        "status",
        "update",
        "tracking number",
        "shipped",
        "sent out",
        "on its way",
        "dispatch",
        "wo ist",
        "wo bleibt",
        "wo sind",
        "wann",
        "stand",
        "verschickt",
        "unterwegs",
        "raus",
        "donde",
        "cuando",
        "estado",
        "novedad",
        "enviado",
        "en camino",
        "salio",
        "ou est",
        "ou sont",
        "quand",
        "ou en est",
        "nouvelles",
        "expedi",
        "partie",
        "en route",
    ),
    "ask": (
        "does it",
        "is it",
        "is this",
        "is the",
        "can i",
        "can the",
        "will it",
        "will this",
        "what",
        "how many",
        "which",
        "do you",
        "passt",
        "ist die",
        "ist das",
        "kann man",
        "kann die",
        "gibt es",
        "welche",
        "wie viel",
        "funktioniert das",
        "sirve",
        "es ",
        "se puede",
        "que ",
        "cuant",
        "lo tienen",
        "vale para",
        "tiene",
        "ca va",
        "est ",
        "passe",
        "quelle",
        "combien",
        "il existe",
        "on peut",
        "ce chargeur",
    ),
    "thanks": (
        "thank",
        "thx",
        "cheers",
        "appreciat",
        "great service",
        "love it",
        "perfect",
        "danke",
        "dank",
        "toll",
        "super",
        "perfekt",
        "klasse",
        "gracias",
        "genial",
        "perfecto",
        "agradec",
        "encanta",
        "merci",
        "parfait",
        "top",
        "genial",
        "adore",
    ),
}


def _stem_pattern(stems: Sequence[str]) -> re.Pattern[str]:
    alternatives = "|".join(re.escape(stem) for stem in sorted(set(stems), key=len, reverse=True))
    return re.compile(rf"(?<!\w)(?:{alternatives})")


_CONCEPTS = tuple((concept, _stem_pattern(stems)) for concept, stems in LEXICON.items())


def symptoms(text: str) -> str:
    """The lexicon's concepts found in `text`, as words for a vectorizer ("broken parcel")."""
    folded = normalise(text).casefold().replace("'", "")
    return " ".join(concept for concept, pattern in _CONCEPTS if pattern.search(folded))


# Minimum evidence before the model files a complaint (`has_evidence`; `classify_with_fallback`
# asks for it only below `classifier.EVIDENCE_NOT_NEEDED_AT` confidence): the text must name at
# least one lexicon concept that belongs to that complaint topic. Without it the model's
# answer rests on the topic's prior and on incidental words ("As discussed on the phone." was
# product quality at 0.63). Time words alone ("next week", "semaine") are not evidence of a
# late delivery, and "zurückrufen" (call back) is not "zurück" (send back).
TOPIC_EVIDENCE: dict[str, frozenset[str]] = {
    "quality": frozenset({"defect", "broken"}),
    "damaged": frozenset({"broken", "parcel"}),
    "wrong_item": frozenset({"wrong", "ordered"}),
    "missing": frozenset({"missing", "parts"}),
    "delivery": frozenset({"late", "arrive", "where", "parcel"}),
    "refund": frozenset({"money"}),
    "billing": frozenset({"charge", "money"}),
}
_NOT_EVIDENCE = frozenset({"week", "days", "woche", "tage", "semana", "dias", "semaine", "jours"})
# Symptoms that count as evidence but are not (yet) model features: adding them to LEXICON
# would change the shipped model; they close gaps where one language had no stem for what the
# others name ("hace un zumbido y se apaga": it buzzes and shuts off).
_MORE_EVIDENCE: dict[str, tuple[str, ...]] = {
    "defect": (
        "buzz",
        "shuts off",
        "switches off",
        "brumm",
        "summt",
        "geht aus",
        "schaltet ab",
        "zumbid",
        "ruido",
        "se apaga",
        "bourdonn",
        "bruit",
        "seteint",
        "wobbl",
        "squeak",
        "creak",
        "wackel",
        "knarz",
        "quietsch",
        "tambale",
        "cruj",
        "chirri",
        "bancal",
        "grince",
    ),
}
_EVIDENCE_CONCEPTS = tuple(
    (
        concept,
        _stem_pattern(
            [stem for stem in stems if stem not in _NOT_EVIDENCE] + list(_MORE_EVIDENCE.get(concept, ()))
        ),
    )
    for concept, stems in LEXICON.items()
)
_CALL_BACK = re.compile(r"zuruckruf\w*")


def evidence(text: str) -> frozenset[str]:
    """The lexicon concepts that count as evidence in `text` (see `TOPIC_EVIDENCE`)."""
    folded = _CALL_BACK.sub(" ", normalise(text).casefold().replace("'", ""))
    return frozenset(concept for concept, pattern in _EVIDENCE_CONCEPTS if pattern.search(folded))


def has_evidence(text: str, topic: str) -> bool:
    """Whether a model may file `text` under `topic`: always for a topic that is not one of the
    seven complaint topics, else only when the text names one of the topic's concepts."""
    needed = TOPIC_EVIDENCE.get(topic)
    return needed is None or not needed.isdisjoint(evidence(text))


class _Message(Protocol):
    # Read-only: the messages are frozen dataclasses.
    @property
    def text(self) -> str: ...
    @property
    def language(self) -> str: ...
    @property
    def topic(self) -> str: ...


M = TypeVar("M", bound=_Message)


@dataclass(frozen=True, slots=True)
class TrainingMessage:
    text: str
    language: str
    topic: str


def read_messages(directory: str | Path, make: Callable[[dict[str, Any]], M]) -> list[M]:
    """Every `*.jsonl` of `directory`, in name order, one message a line built by `make` from
    the line's object. A line that is not JSON, that `make` refuses (KeyError, ValueError,
    TypeError) or whose message lacks text, language or topic raises `ValueError` naming it."""
    messages: list[M] = []
    for path in sorted(Path(directory).glob("*.jsonl")):
        with path.open(encoding="utf-8") as handle:
            for number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                try:
                    message = make(json.loads(line))
                except (ValueError, KeyError, TypeError, AttributeError) as exc:
                    raise ValueError(f"{path.name} line {number}: not a valid message ({exc!r})") from exc
                if not (message.text and message.language and message.topic):
                    raise ValueError(f"{path.name} line {number}: text, language and topic are required")
                messages.append(message)
    return messages


def load_training_set(directory: str | Path = TRAIN_DIR) -> list[TrainingMessage]:
    """The training set: every `*.jsonl` of `directory` (see `read_messages`)."""
    return read_messages(
        directory, lambda row: TrainingMessage(row["text"].strip(), row["language"], row["topic"])
    )


def fingerprint(directory: str | Path = TRAIN_DIR) -> str:
    """Names the training data, the lexicon and the encoder: a stored model built from anything
    else is stale."""
    settings = (VERSION, encoder_version(), HEAD_C, NGRAMS_SURE_AT, sorted(LEXICON.items()))
    digest = hashlib.sha256(repr(settings).encode())
    for path in sorted(Path(directory).glob("*.jsonl")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return f"{VERSION}-{digest.hexdigest()[:12]}"


@dataclass(frozen=True, eq=False)
class ShippedModel:
    """The n-gram model where it is sure (`NGRAMS_SURE_AT`), else the sentence encoder's head.
    Both are trained on the same messages and know the same topics."""

    ngrams: TrainedModel
    encoder: EncoderModel
    version: str

    @property
    def labels(self) -> tuple[str, ...]:
        return self.encoder.labels

    def predict(self, text: str) -> tuple[str, float]:
        """`(topic, confidence)`: the n-gram model's, when at least `NGRAMS_SURE_AT`, else the
        encoder's (whose confidence `classify_with_fallback` then holds to its thresholds)."""
        topic, confidence = self.ngrams.predict(text)
        return (topic, confidence) if confidence >= NGRAMS_SURE_AT else self.encoder.predict(text)

    def predict_many(self, texts: Sequence[str]) -> list[tuple[str, float]]:
        """`predict()` for many texts (each model runs them as one batch)."""
        answers = self.ngrams.predict_many(texts)
        unsure = [i for i, (_, confidence) in enumerate(answers) if confidence < NGRAMS_SURE_AT]
        for i, answer in zip(unsure, self.encoder.predict_many([texts[i] for i in unsure]), strict=True):
            answers[i] = answer
        return answers

    def dumps(self) -> bytes:
        """Both models' bytes, the n-gram model's length first; `loads()` reverses it."""
        ngrams = self.ngrams.dumps()
        header = json.dumps({"version": self.version, "ngrams_bytes": len(ngrams)}).encode()
        return _MAGIC + header + b"\n" + ngrams + self.encoder.dumps()

    @classmethod
    def loads(cls, data: bytes) -> ShippedModel:
        """Load bytes made by `dumps()`. Raise `ModelVersionError` or `EncoderVersionError` when
        they are not ours or were made by other library versions (then build it again)."""
        if not data.startswith(_MAGIC):
            raise ModelVersionError("not a stored shipped topic model (unknown header); build it again")
        header_end = data.find(b"\n", len(_MAGIC))
        try:
            header = json.loads(data[len(_MAGIC) : header_end])
            version, split = str(header["version"]), header_end + 1 + int(header["ngrams_bytes"])
        except (ValueError, TypeError, KeyError) as exc:
            raise ModelVersionError(
                "stored shipped topic model has a damaged header; build it again"
            ) from exc
        return cls(
            ngrams=TrainedModel.loads(data[header_end + 1 : split]),
            encoder=EncoderModel.loads(data[split:]),
            version=version,
        )


def build(messages: Sequence[TrainingMessage] | None = None, *, version: str | None = None) -> ShippedModel:
    """Train the shipped model on `messages` (default: the repository's training set)."""
    if messages is None:
        messages, version = load_training_set(), version or fingerprint()
    version = version or VERSION
    samples = [LabeledText(m.text, m.topic) for m in messages]
    return ShippedModel(
        ngrams=train(samples, version=version, lexicon=symptoms),
        encoder=train_head(samples, version=version),
        version=version,
    )


def load_or_build(path: str | Path | None) -> ShippedModel:
    """The model stored at `path` by `manage.py build_topic_model` (or by an earlier call of
    this), or, when there is none, or it is stale or damaged, one trained now from the
    repository's data and stored at `path` for the next process (best effort: a read-only disk
    only costs the next process the same training)."""
    expected = fingerprint()
    if path is not None:
        try:
            model = ShippedModel.loads(Path(path).read_bytes())
        except (OSError, ModelVersionError, EncoderVersionError):
            model = None
        if model is not None and model.version == expected:
            return model
    model = build()
    if path is not None:
        with contextlib.suppress(OSError):
            write(model, path)
    return model


def write(model: ShippedModel, path: str | Path) -> None:
    """Store `model` at `path` atomically (a reader never sees half a file)."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    partial.write_bytes(model.dumps())
    partial.replace(target)
