"""Topic rules: admin-editable keyword and regex rules, several languages, no Django.

The contract:

- A `TopicRule` says "this pattern is evidence for this topic, worth `weight`".
- `compile_rules()` validates and compiles a list of rules once; it raises `ValueError`
  naming the offending rule, so the admin's `clean()` can show the message as is.
- `classify(text, compiled)` scores every topic by the summed weight of its rules that
  match (each rule counts once, however often it occurs) and returns the best topic, or
  `None` when no rule matches. Ties are broken by a fixed topic priority, so the same text
  and rules always give the same answer.

Matching is case-insensitive and accent-insensitive: text and patterns are both folded
with `normalise()` (NFKD, combining marks dropped, "ß" -> "ss", typographic quotes made
ASCII), so "beschädigt", "beschadigt" and "BESCHÄDIGT" are the same word, while
"beschaedigt" (the ASCII spelling Germans type without an umlaut key) is a separate seed.

Keyword rules match whole words or phrases: "wrong item" matches "Wrong   Item!" but
"refund" does not match "refunded". A trailing `*` makes the last word a prefix, so
"refund*" matches "refund", "refunds" and "refunded". Regex rules are Python `re` patterns
searched in the folded text with `re.IGNORECASE`; write them without accents.
"""

from __future__ import annotations

import hashlib
import math
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal

RuleKind = Literal["keyword", "regex"]

# Only this much of a message is examined. Long quoted e-mail threads add nothing that the
# first screenful doesn't say, and the cap bounds the cost of every regex search.
MAX_TEXT_CHARS = 20_000

HealthCategory = Literal["product_condition", "delivery", "none"]


@dataclass(frozen=True, slots=True)
class TopicDefinition:
    """Default data for one topic (fields as on the Topic model), to seed the database from."""

    key: str
    name: str
    is_complaint: bool
    # Which account-health metric a complaint of this topic moves: Amazon counts
    # "item not as described" / defective under product condition, while damage in transit
    # and late or missing parcels are carrier/delivery problems.
    health_category: HealthCategory


DEFAULT_TOPICS: tuple[TopicDefinition, ...] = (
    TopicDefinition("quality", "Product quality", True, "product_condition"),
    TopicDefinition("damaged", "Damaged in transit", True, "delivery"),
    TopicDefinition("wrong_item", "Wrong item", True, "product_condition"),
    TopicDefinition("missing", "Missing item or parts", True, "product_condition"),
    TopicDefinition("delivery", "Late or no delivery", True, "delivery"),
    TopicDefinition("refund", "Returns and refunds", True, "none"),
    TopicDefinition("billing", "Billing and payment", True, "none"),
    TopicDefinition("question", "Product question", False, "none"),
    # "Where is my order?" before the promised delivery date: a question, not a complaint.
    # After that date it is a delivery complaint (`after_promised_delivery()`).
    TopicDefinition("order_status", "Order status question", False, "none"),
    TopicDefinition("thanks", "Thanks and praise", False, "none"),
    TopicDefinition("other", "Other", False, "none"),
)

# Tie-break order, most specific first: "it arrived smashed, I want a refund" is about the
# damage (the root cause a cluster should count), not about the refund it leads to.
# Topics not listed here (added by an admin) rank after these, alphabetically.
TOPIC_PRIORITY: tuple[str, ...] = (
    "damaged",
    "wrong_item",
    "missing",
    "quality",
    "delivery",
    "refund",
    "billing",
    "order_status",
    "question",
    "thanks",
    "other",
)


def after_promised_delivery(topic: str | None, overdue: bool | None) -> str | None:
    """The topic once the linked order's promised delivery date is known.

    "Where is my order?" (order_status) about an order whose promised delivery date has
    passed (`overdue`) is a delivery complaint; before that date, or without a known date,
    it stays a question. Every other topic is returned as is.
    """
    return "delivery" if topic == "order_status" and overdue else topic


@dataclass(frozen=True, slots=True)
class TopicRule:
    """One piece of evidence for a topic. `language` is an ISO 639-1 code, for the admin."""

    topic: str
    pattern: str
    kind: RuleKind
    language: str
    weight: float = 1.0

    def describe(self) -> str:
        return f"{self.kind} rule {self.pattern!r} ({self.topic}, {self.language})"


@dataclass(frozen=True, slots=True)
class RuleMatch:
    """The winning topic, its summed weight and the patterns that matched, in rule order."""

    topic: str
    score: float
    matched: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class _CompiledRule:
    rule: TopicRule
    regex: re.Pattern[str]
    # Words of which every match contains at least one (case-folded); empty: always run the regex.
    anchors: tuple[str, ...] = ()
    # ASCII words (lower case) of which every match starts with one: in ASCII text the regex
    # is tried only where one of them occurs, not searched through the whole text.
    starts: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class CompiledRules:
    """Rules ready for `classify()`. Build with `compile_rules()`; immutable, thread-safe."""

    rules: tuple[_CompiledRule, ...]
    priority: tuple[str, ...]
    # Every distinct anchor of every rule, each tested once per text rather than once per rule,
    # and the rules (by position) each anchor may let run.
    anchors: tuple[str, ...] = field(init=False)
    rules_by_anchor: dict[str, tuple[int, ...]] = field(init=False)
    # The anchors by their first three letters: a text can only hold the anchors filed under
    # the three-letter strings it holds. Shorter anchors are searched for each time.
    anchors_by_head: dict[str, tuple[str, ...]] = field(init=False)
    short_anchors: tuple[str, ...] = field(init=False)
    # Rules without anchors: their regex runs on every text.
    unanchored: frozenset[int] = field(init=False)
    # Names these rules by what they say (two compilations of the same rules share it), so a
    # topic worked out elsewhere can be checked to have come from the same rules.
    fingerprint: str = field(init=False)

    def __post_init__(self) -> None:
        described = repr(([item.rule for item in self.rules], self.priority)).encode()
        object.__setattr__(self, "fingerprint", hashlib.sha256(described).hexdigest())
        by_anchor: dict[str, list[int]] = {}
        for position, item in enumerate(self.rules):
            for anchor in item.anchors:
                by_anchor.setdefault(anchor, []).append(position)
        object.__setattr__(self, "anchors", tuple(by_anchor))
        object.__setattr__(self, "rules_by_anchor", {a: tuple(p) for a, p in by_anchor.items()})
        by_head: dict[str, list[str]] = {}
        for anchor in by_anchor:
            if len(anchor) >= _HEAD:
                by_head.setdefault(anchor[:_HEAD], []).append(anchor)
        object.__setattr__(self, "anchors_by_head", {h: tuple(a) for h, a in by_head.items()})
        object.__setattr__(self, "short_anchors", tuple(a for a in by_anchor if len(a) < _HEAD))
        unanchored = frozenset(p for p, item in enumerate(self.rules) if not item.anchors)
        object.__setattr__(self, "unanchored", unanchored)

    def rank(self, topic: str) -> tuple[int, str]:
        """Sort key for tie-breaks: listed topics by position, others after, by name."""
        try:
            return (self.priority.index(topic), "")
        except ValueError:
            return (len(self.priority), topic)


_HEAD = 3  # letters of an anchor's head
_DOTLESS_I = str.maketrans({"\u0131": "i"})


_QUOTES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u00b4": "'", "\u201c": '"', "\u201d": '"'})


def normalise(text: str) -> str:
    """Fold `text` for matching: no accents, "ß" -> "ss", ASCII quotes. Case is kept.

    Case is kept on purpose: regex patterns go through this too, and lower-casing `\\S` or
    `\\W` would change their meaning; matching uses `re.IGNORECASE` instead.
    """
    if text.isascii():  # nothing to fold, and most mail is plain ASCII
        return text
    decomposed = unicodedata.normalize("NFKD", text.translate(_QUOTES))
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return unicodedata.normalize("NFC", stripped.replace("ß", "ss").replace("ẞ", "SS"))


# A group that contains a quantifier and is itself repeated without an upper bound, e.g.
# "(a+)+" or "(\w+\s?)*": the classic shape of catastrophic backtracking. Python's `re` has
# no timeout, so such patterns are refused at compile time. It is a heuristic: bounded
# repeats like "(\w+\s+){0,3}" pass, and a refused safe pattern can always be rewritten.
_NESTED_QUANTIFIER = re.compile(r"\((?:[^()\\]|\\.)*(?<!\\)[+*}](?:[^()\\]|\\.)*\)(?:[+*]|\{\d*,\})")


def _keyword_regex(pattern: str) -> str:
    words = normalise(pattern).split()
    prefix = words[-1].endswith("*")
    if prefix:
        words[-1] = words[-1][:-1]
    if not all(words):
        raise ValueError("a keyword needs at least one letter before '*'")
    body = r"\s+".join(re.escape(word) for word in words)
    # Word edges by lookaround rather than \b, so keywords that start or end with
    # punctuation ("n'est pas", "a.s.a.p.") still behave as whole words.
    tail = r"\w*" if prefix else ""
    return rf"(?<!\w){body}{tail}(?!\w)"


def _compile_one(rule: TopicRule) -> _CompiledRule:
    if not rule.topic.strip():
        raise ValueError(f"{rule.describe()}: the topic is empty")
    if not rule.pattern.strip():
        raise ValueError(f"{rule.describe()}: the pattern is empty")
    if not (math.isfinite(rule.weight) and rule.weight > 0):
        raise ValueError(f"{rule.describe()}: the weight must be a positive number, not {rule.weight}")
    if rule.kind == "keyword":
        try:
            source = _keyword_regex(rule.pattern)
        except ValueError as exc:
            raise ValueError(f"{rule.describe()}: {exc}") from exc
    elif rule.kind == "regex":
        source = normalise(rule.pattern)
        if _NESTED_QUANTIFIER.search(source):
            raise ValueError(
                f"{rule.describe()}: nested repetition such as '(a+)+' can take exponential time; "
                "rewrite it without a quantified group that contains a quantifier"
            )
    else:
        raise ValueError(f"{rule.describe()}: the kind must be 'keyword' or 'regex'")
    try:
        compiled = re.compile(source, re.IGNORECASE)
    except re.error as exc:
        raise ValueError(f"{rule.describe()}: invalid regular expression: {exc}") from exc
    if compiled.search(""):
        # A pattern that matches the empty string matches every message.
        raise ValueError(f"{rule.describe()}: the pattern matches empty text, so it matches everything")
    return _CompiledRule(
        rule=rule, regex=compiled, anchors=_anchors(rule, source), starts=_starts(rule, source)
    )


# A regex that opens with a group of plain alternative words, e.g. r"\b(order|parcels?)\s+...":
# every match contains one of those words, which makes them anchors.
_LEADING_WORDS = re.compile(r"^(?:\\b)?\(((?:[\w' ]+\??\|)*[\w' ]+\??)\)")
# Or with a plain word or phrase, e.g. r"\bcharged\s+(me|my)" or r"\bleaks?": the letters up to
# the first other character, less the last one if a quantifier makes it optional.
_LEADING_LITERAL = re.compile(r"^(?:\\b)?([A-Za-z][A-Za-z ]*)([?*{]?)")


def _anchors(rule: TopicRule, source: str) -> tuple[str, ...]:
    if rule.kind == "keyword":
        words = [w for w in re.split(r"\s+", normalise(rule.pattern).replace("*", "")) if w]
        return (max(words, key=len).casefold(),) if words else ()
    if _has_top_level_alternative(source):
        return ()  # "a|b": a match may contain either side only
    found = _LEADING_WORDS.match(source)
    if found and source[found.end() : found.end() + 1] in ("?", "*", "{"):
        return ()  # "(very )?broken": the group may be left out
    if found:
        # "leaks?" may match "leak": an optional last letter is dropped from the anchor.
        alternatives = tuple(w.rstrip("?")[:-1] if w.endswith("?") else w for w in found.group(1).split("|"))
        return tuple(w.casefold() for w in alternatives) if all(alternatives) else ()
    found = _LEADING_LITERAL.match(source)
    if found:
        literal = found.group(1)[:-1] if found.group(2) else found.group(1)
        return (literal.casefold(),) if literal.strip() else ()
    return ()


def _starts(rule: TopicRule, source: str) -> tuple[str, ...]:
    if rule.kind == "keyword":
        # The regex opens with the first word (a lookbehind before it takes no characters).
        first = normalise(rule.pattern).split()[0].rstrip("*")
        words: tuple[str, ...] = (first.lower(),)
    else:
        # Leading anchors are where a match starts (after a zero-width \b).
        words = _anchors(rule, source)
    # Only ASCII: re.IGNORECASE matches some other letters to ASCII ones (dotless i, U+0131, to "i").
    return words if all(w and w.isascii() for w in words) else ()


def _has_top_level_alternative(source: str) -> bool:
    """Whether `source` has a "|" outside any group; when unsure (comments), yes."""
    if "(?#" in source:
        return True
    depth, escaped, in_class, class_start = 0, False, False, 0
    for position, char in enumerate(source):
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif in_class:
            # A "]" first in a class ("[]a]", "[^]a]") is one of its characters.
            in_class = char != "]" or position == class_start
        elif char == "[":
            in_class = True
            class_start = position + 1 + (source[position + 1 : position + 2] == "^")
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        elif char == "|" and depth == 0:
            return True
    return False


def compile_rules(rules: Iterable[TopicRule], *, priority: Sequence[str] = TOPIC_PRIORITY) -> CompiledRules:
    """Validate and compile `rules`; raise `ValueError` naming the first bad rule."""
    return CompiledRules(rules=tuple(_compile_one(rule) for rule in rules), priority=tuple(priority))


def classify(text: str, compiled: CompiledRules) -> RuleMatch | None:
    """Return the best-scoring topic for `text`, or `None` when no rule matches.

    Only the first `MAX_TEXT_CHARS` characters are examined.
    """
    folded = normalise(text[:MAX_TEXT_CHARS])
    scores: dict[str, float] = {}
    matched: dict[str, list[str]] = {}
    # re.IGNORECASE also matches a dotless i (U+0131) to "i", which case folding keeps apart.
    lowered = folded.casefold().translate(_DOTLESS_I)
    # A keyword can only match where its longest word occurs: a substring test in C is far
    # cheaper than the regex, and most rules of most messages stop here. Each distinct anchor
    # is tested once; a rule then needs one set lookup.
    candidates = set(compiled.unanchored)
    for anchor in _anchors_in(lowered, compiled):
        candidates.update(compiled.rules_by_anchor[anchor])
    # In ASCII text (most mail) a string is where its lower-case copy is, letter for letter.
    occurrences: dict[str, list[int]] | None = {} if lowered.isascii() else None
    for position in sorted(candidates):  # rule order: the matched patterns are listed in it
        item = compiled.rules[position]
        if occurrences is not None and item.starts:
            hit = any(
                item.regex.match(folded, at)
                for word in item.starts
                for at in _positions(lowered, word, occurrences)
            )
        else:
            hit = item.regex.search(folded) is not None
        if hit:
            scores[item.rule.topic] = scores.get(item.rule.topic, 0.0) + item.rule.weight
            matched.setdefault(item.rule.topic, []).append(item.rule.pattern)
    if not scores:
        return None
    # Round before comparing so 0.1 + 0.2 and 0.3 tie as a person would expect.
    best = min(scores, key=lambda topic: (-round(scores[topic], 9), compiled.rank(topic)))
    return RuleMatch(topic=best, score=scores[best], matched=tuple(matched[best]))


def _anchors_in(lowered: str, compiled: CompiledRules) -> list[str]:
    """The anchors that occur in `lowered`.

    Hundreds of substring searches through the whole text cost more than listing the
    text's three-letter strings once and searching only for the anchors that start with
    one of them (usually a few dozen).
    """
    by_head = compiled.anchors_by_head
    # Every three letters in a row (the shorter slices end the zip where the text ends).
    heads = set(map("".join, zip(lowered, lowered[1:], lowered[2:], strict=False)))
    found = [anchor for head in heads & by_head.keys() for anchor in by_head[head] if anchor in lowered]
    return found + [anchor for anchor in compiled.short_anchors if anchor in lowered]


def _positions(text: str, word: str, cache: dict[str, list[int]]) -> list[int]:
    """Every index at which `word` occurs in `text` (overlapping ones too), computed once per text."""
    found = cache.get(word)
    if found is None:
        found = []
        at = text.find(word)
        while at >= 0:
            found.append(at)
            at = text.find(word, at + 1)
        cache[word] = found
    return found


# What classifying a message by the rules came to, worked out where it was parsed: the
# rules' fingerprint and the winning topic ("" for none).
TopicHint = tuple[str, str]


# A rule match at least this strong decides the topic on its own; weaker ones (only hints of
# weight 0.5 to 0.8, such as "thanks" or "not received") leave it to the shipped model.
DECISIVE_RULE_SCORE = 1.0


def is_decisive(match: RuleMatch) -> bool:
    """Whether `match` is precise enough to decide the topic without the model."""
    return round(match.score, 9) >= DECISIVE_RULE_SCORE


def topic_hint(text: str, compiled: CompiledRules) -> TopicHint:
    """`classify()` in a form to carry with a parsed message to where it is stored: the topic
    only when the match is decisive ("" otherwise, and the model is asked where it is stored)."""
    match = classify(text, compiled)
    return compiled.fingerprint, match.topic if match is not None and is_decisive(match) else ""


def _seed(
    topic: str, language: str, keywords: str = "", regexes: Sequence[str] = (), *, weight: float = 1.0
) -> list[TopicRule]:
    """Rules for one topic and language; `keywords` is a ";"-separated list, for compactness."""
    rules = [
        TopicRule(topic, k.strip(), "keyword", language, weight) for k in keywords.split(";") if k.strip()
    ]
    return rules + [TopicRule(topic, pattern, "regex", language, weight) for pattern in regexes]


# Seed rules, written from the wording of real marketplace buyer messages. Weights:
# 1.0 ordinary evidence; 1.5 for phrases that name the topic unambiguously ("my order has
# not arrived"); 0.8 for generic phrases that other topics use too ("not received" is said
# of refunds as well); 0.6 for questions and "other", so any complaint evidence wins.
# No pattern appears twice (a test checks), because duplicates would double-count.
DEFAULT_RULES: tuple[TopicRule, ...] = tuple(
    # --- product quality: defective, stopped working, poorly made ---------------------------
    _seed(
        "quality",
        "en",
        "defective; faulty; poor quality; bad quality; low quality; cheap quality; cheaply made;"
        "poorly made; malfunction*; stopped working; quit working; not working; fell apart;"
        "falling apart; came apart; dead on arrival; doa; counterfeit; fake",
        [
            r"\b(does|do|did|is|was|will|would)\s*(n'?t|not)\s+"
            r"(work|turn on|power on|charge|hold a charge|switch on)",
            r"\bwon'?t\s+(work|turn on|power on|charge|switch on)",
            r"\bbroke\s+(after|within|the first|on the first)",
            r"\b(peeling|ripped|torn|leaks?|leaking)\b",
        ],
    )
    + _seed(
        "quality",
        "de",
        "defekt; defekte*; fehlerhaft*; mangelhaft*; minderwertig*; schlechte Qualität;"
        "schlechter Qualität; funktioniert nicht; funktioniert nicht mehr; geht nicht mehr;"
        "kaputt gegangen; kaputtgegangen; geht nicht an; Fälschung",
        [
            r"\blasst sich nicht\s+(einschalten|laden|aufladen|offnen|bedienen)",
            r"\bnach\s+(\w+\s+){0,2}(tag|tagen|woche|wochen|monat|monaten)\s+(schon\s+)?(kaputt|defekt)",
        ],
    )
    + _seed(
        "quality",
        "es",
        "defectuoso; defectuosa; no funciona; dejó de funcionar; mala calidad; baja calidad;"
        "pésima calidad; no enciende; no carga; se descose; se despega; falsificado",
        [r"\bse\s+(rompio|estropeo|averio|descompuso)\s+(a los|despues|al)"],
    )
    + _seed(
        "quality",
        "fr",
        "défectueux; défectueuse; ne fonctionne pas; ne fonctionne plus; ne marche pas;"
        "ne marche plus; mauvaise qualité; qualité médiocre; en panne; tombé en panne;"
        "ne s'allume pas; ne charge pas; contrefaçon",
        [r"\b(s'est|est)\s+casse(e|s|es)?\s+(apres|au bout)"],
    )
    # "broken" alone may be a defect or transit damage; weaker than any "arrived broken" rule,
    # so the damaged topic wins when the message says how it arrived.
    + _seed("quality", "en", "broken", weight=0.8)
    + _seed("quality", "de", "kaputt", weight=0.8)
    + _seed("quality", "es", "roto; rota", weight=0.8)
    + _seed("quality", "fr", "cassé; cassée", weight=0.8)
    # --- damaged in transit: arrived broken, crushed box ------------------------------------
    + _seed(
        "damaged",
        "en",
        "damaged; smashed; shattered; cracked; dented; crushed; broken on arrival; damaged in transit;"
        "damaged in shipping; damaged during shipping; damaged during delivery; box was crushed",
        [
            r"\b(arrived|came|was delivered|got here|received it)\s+(completely\s+|totally\s+)?"
            r"(broken|cracked|damaged|smashed|shattered|dented|crushed|in pieces|scratched)",
        ],
    )
    + _seed(
        "damaged",
        "de",
        "beschädigt; beschaedigt; kaputt angekommen; beschädigt angekommen; defekt angekommen;"
        "zerbrochen; zerkratzt; zerdrückt; verbeult; Transportschaden; Glas gesprungen",
        [r"\b(ist|kam|war)\s+(\w+\s+){0,2}(kaputt|zerbrochen|beschadigt|zerkratzt)\s+(an|angekommen)\b"],
    )
    + _seed(
        "damaged",
        "es",
        "llegó roto; llegó rota; llegó dañado; llegó dañada; llegó en mal estado; dañado; dañada;"
        "dañados; golpeado; abollado; aplastado; agrietado; rajado; daños en el envío",
        [r"\b(llego|vino|recibi)\s+(\w+\s+){0,2}(roto|rota|rotos|rotas|quebrad[oa]s?|partid[oa]s?)\b"],
    )
    + _seed(
        "damaged",
        "fr",
        "endommagé; endommagée; endommagés; abîmé; abîmée; abîmés; écrasé; fissuré; fissurée;"
        "cabossé; arrivé en mauvais état; reçu en mauvais état",
        [
            r"\b(arrive|arrivee|arrives|recu|recue|livre|livree)\s+(\w+\s+){0,2}(casse|brise|ecrase)(e|s|es)?\b"
        ],
    )
    # --- wrong item: wrong size/colour/model, not as described ------------------------------
    + _seed(
        "wrong_item",
        "en",
        "wrong item; wrong product; wrong size; wrong color; wrong colour; wrong model; wrong one;"
        "not what I ordered; different item; different product; not as described; not as pictured;"
        "not as advertised; does not match the description; doesn't match the description",
        [r"\b(sent|shipped|received|got|gave)\s+(me\s+)?(the\s+|a\s+)?(wrong|incorrect|different)\b"],
    )
    + _seed(
        "wrong_item",
        "de",
        "falscher Artikel; falschen Artikel; falsche Artikel; falsches Produkt; falsche Größe;"
        "falsche Farbe; falsches Modell; falsche Ware; nicht bestellt; anderen Artikel;"
        "nicht wie beschrieben; entspricht nicht der Beschreibung",
        [r"\bfalsche[nrs]?\s+(teil|lieferung)"],
    )
    + _seed(
        "wrong_item",
        "es",
        "no es lo que pedí; no es lo que compré; me enviaron otro; me mandaron otro; no corresponde;"
        "no coincide con la descripción; diferente a la descripción; distinto al de la foto",
        [r"\b(articulo|producto|talla|color|modelo|pedido|numero)\s+(equivocad|incorrect|erron)[oa]s?\b"],
    )
    + _seed(
        "wrong_item",
        "fr",
        "mauvais article; mauvais produit; mauvaise taille; mauvaise couleur; mauvais modèle;"
        "pas ce que j'ai commandé; article différent; reçu un autre; non conforme; pas conforme;"
        "ne correspond pas",
    )
    # --- missing item or parts: incomplete, empty box ---------------------------------------
    + _seed(
        "missing",
        "en",
        "missing; missing parts; missing pieces; parts missing; incomplete; not included;"
        "wasn't included; was not included; empty box; box was empty; package was empty;"
        "only received one; only got one",
        [r"\bnot\s+in\s+the\s+(box|package|parcel)\b"],
    )
    + _seed(
        "missing",
        "de",
        "fehlt; fehlen; fehlende*; unvollständig; nicht enthalten; nicht dabei; nicht im Paket;"
        "leerer Karton; Paket war leer; Karton war leer; nur einen erhalten",
    )
    + _seed(
        "missing",
        "es",
        "falta; faltan; faltante*; incompleto; incompleta; no venía; no incluye; no incluía;"
        "caja vacía; paquete vacío; solo recibí uno",
    )
    + _seed(
        "missing",
        "fr",
        "il manque; manque; manquant*; incomplet; pas inclus; pas dans le colis;"
        "colis vide; boîte vide; carton vide",
    )
    # --- late or no delivery ------------------------------------------------------------------
    + _seed(
        "delivery",
        "en",
        "not arrived; hasn't arrived; has not arrived; never arrived; never received; not received;"
        "still waiting; not been delivered",
        weight=0.8,
    )
    + _seed(
        "delivery",
        "en",
        "late delivery; delivery is late; tracking shows; lost in transit; lost package; lost parcel;"
        "marked as delivered;"
        "says delivered; shows delivered; not delivered; delayed",
        [
            r"\b(order|package|parcel|shipment|item|delivery)\s+(still\s+)?(has|have|is|was)\s*"
            r"(n'?t|not|never)\s+(yet\s+)?(arrived|come|been delivered|shipped|been shipped)",
            r"\b(never|not|n'?t)\s+(yet\s+)?(received|got|gotten)\s+(my|the|this|our)\s+"
            r"(order|package|parcel|item|shipment|delivery)",
            r"\b(package|parcel|order|shipment)\s+(is|was|has gone|went)\s+(missing|lost)\b",
        ],
        weight=1.5,
    )
    + _seed(
        "delivery",
        "de",
        "nicht angekommen; nicht erhalten; nie angekommen; immer noch nicht",
        weight=0.8,
    )
    + _seed(
        "delivery",
        "de",
        "nicht geliefert; nicht zugestellt; als zugestellt markiert; Lieferverzögerung; verspätet;"
        "Paket verloren; Paket verschwunden",
        [
            r"\b(bestellung|paket|ware|sendung|lieferung)\s+(\w+\s+){0,4}(nicht|nie)\s+"
            r"(angekommen|erhalten|bekommen|geliefert)",
        ],
        weight=1.5,
    )
    + _seed(
        "delivery",
        "es",
        "no ha llegado; no llegó; no he recibido; todavía no llega; aún no llega",
        weight=0.8,
    )
    + _seed(
        "delivery",
        "es",
        "paquete perdido;"
        "pedido perdido; marcado como entregado; aparece como entregado; retraso en la entrega; retrasado",
        [
            r"\b(pedido|paquete|envio|producto|articulo)\s+(\w+\s+){0,3}no\s+(me\s+)?(ha\s+)?(llegado|llego|llega)",
            r"\bno\s+(me\s+)?(ha\s+)?(llegado|llego)\s+(mi|el|la)\s+(pedido|paquete|envio|producto|articulo|compra)",
            r"\bno\s+(he\s+)?(recibido|recibi)\s+(mi|el|la)\s+(pedido|paquete|envio|producto|articulo|compra)",
        ],
        weight=1.5,
    )
    + _seed(
        "delivery",
        "fr",
        "pas reçu; jamais reçu; pas arrivé; toujours rien; toujours pas",
        weight=0.8,
    )
    + _seed(
        "delivery",
        "fr",
        "colis perdu; commande perdue;"
        "marqué comme livré; indiqué comme livré; non livré; pas été livré; retard de livraison; en retard",
        [
            r"\b(pas|jamais)\s+(encore\s+|toujours\s+)?(recu|eu)\s+(ma|mon|la|le|les|mes)\s+"
            r"(commande|colis|article|paquet|produit|livraison)",
            r"\b(commande|colis|paquet|article)\s+(\w+\s+){0,3}(pas|jamais)\s+(encore\s+|toujours\s+)?"
            r"(arrive|livre|recu)",
        ],
        weight=1.5,
    )
    # --- order status: "where is my order" --------------------------------------------------
    # A question while the order is not yet due; once the promised delivery date has passed
    # the same words are a delivery complaint (`after_promised_delivery()`), and the message
    # that turns into an item-not-received claim when it goes unanswered.
    + _seed(
        "order_status",
        "en",
        "where is my order; where is my package; where is my parcel; where's my order; where's my package;"
        "tracking number; tracking info*; track my order; track my package; order status;"
        "status of my order; when will my order arrive; when will it arrive; when will I receive;"
        "estimated delivery; ETA; has my order shipped; has my order been shipped",
    )
    + _seed(
        "order_status",
        "de",
        "wo ist meine Bestellung; wo ist mein Paket; wo bleibt meine Bestellung; wo bleibt mein Paket;"
        "Sendungsverfolgung; Sendungsnummer; wann kommt meine Bestellung; wann kommt mein Paket;"
        "Lieferstatus; Bestellstatus; Lieferzeit; schon verschickt",
    )
    + _seed(
        "order_status",
        "es",
        "dónde está mi pedido; dónde está mi paquete; número de seguimiento; cuándo llega; cuándo llegará;"
        "estado de mi pedido; rastrear mi pedido; seguimiento de mi pedido",
    )
    + _seed(
        "order_status",
        "fr",
        "où est ma commande; où est mon colis; numéro de suivi; quand vais-je recevoir; quand arrivera;"
        "suivre ma commande; suivi de ma commande; état de ma commande; délai de livraison",
    )
    # --- returns and refunds (a cancellation undoes the purchase, so it counts here too) ----
    + _seed(
        "refund",
        "en",
        "refund*; reimburse*; money back; return label; return request; return policy; return it;"
        "return the item; return this; send it back; cancel my order; cancel the order; cancel this order",
        [r"\b(want|like|need|how (do|can) i)\s+(to\s+)?return\b"],
    )
    + _seed(
        "refund",
        "de",
        "Rückerstattung; erstatten; erstattet; Geld zurück; zurückschicken; zurücksenden;"
        "Rücksendung; Rücksendeetikett; Retoure; Widerruf; stornieren; Stornierung",
    )
    + _seed(
        "refund",
        "es",
        "reembolso; reembolsar; devolución; devolver; devuélvanme; mi dinero; etiqueta de devolución;"
        "cancelar mi pedido; cancelar el pedido",
    )
    + _seed(
        "refund",
        "fr",
        "rembours*; retourner; renvoyer; étiquette de retour; demande de retour; bon de retour;"
        "annuler ma commande; annulation; rétractation",
    )
    # --- billing and payment -------------------------------------------------------------------
    + _seed(
        "billing",
        "en",
        "invoice; receipt; billing; billed; double charged; charged twice; overcharged; chargeback;"
        "payment; credit card; card was declined; VAT; sales tax",
        [r"\b(was|were|been|got)\s+charged\b", r"\bcharged\s+(me|my|us)\b"],
    )
    + _seed(
        "billing",
        "de",
        "Rechnung; doppelt abgebucht; zweimal abgebucht; doppelt berechnet; Abbuchung; abgebucht;"
        "Zahlung; Kreditkarte; MwSt; Mehrwertsteuer",
    )
    + _seed(
        "billing",
        "es",
        "factura; me cobraron; cobro; cobrado dos veces; doble cargo; cargo duplicado; cargo indebido;"
        "pago; tarjeta de crédito; IVA",
    )
    + _seed(
        "billing",
        "fr",
        "facture; facturation; débité deux fois; prélevé deux fois; double prélèvement; prélèvement;"
        "paiement; carte bancaire; TVA",
    )
    # --- product questions (pre-sale) ---------------------------------------------------------
    + _seed(
        "question",
        "en",
        "compatible with; is it compatible; will it fit; does it fit; does it come with; what size;"
        "dimensions; in stock; back in stock; restock; how do I use; instructions; user manual",
        weight=0.6,
    )
    + _seed(
        "question",
        "de",
        "kompatibel; passt das; passt es; welche Größe; Abmessungen; auf Lager; wieder verfügbar;"
        "Bedienungsanleitung; Frage zum Artikel",
        weight=0.6,
    )
    + _seed(
        "question",
        "es",
        "es compatible; qué talla; medidas; dimensiones; hay stock; disponible en; instrucciones;"
        "manual de uso",
        weight=0.6,
    )
    + _seed(
        "question",
        "fr",
        "compatible avec; est-il compatible; quelle taille; mode d'emploi; la notice",
        weight=0.6,
    )
    # --- thanks and praise: weak, so any other evidence in the same message wins -------------------
    + _seed(
        "thanks", "en", "thank you; thanks; thx; many thanks; much appreciated; great service", weight=0.5
    )
    + _seed("thanks", "de", "danke; vielen Dank; herzlichen Dank; danke schön; toller Service", weight=0.5)
    + _seed("thanks", "es", "gracias; muchas gracias; mil gracias; buen servicio", weight=0.5)
    + _seed("thanks", "fr", "merci; merci beaucoup; mille mercis; super service", weight=0.5)
    # --- other: not about an order or a product ------------------------------------------------
    + _seed(
        "other",
        "en",
        "unsubscribe; newsletter; wholesale; partnership; collaboration; sponsorship",
        weight=0.6,
    )
    + _seed("other", "de", "abmelden; Großhandel; Kooperation; Zusammenarbeit", weight=0.6)
    + _seed("other", "es", "darme de baja; boletín; mayorista; colaboración; distribuidor", weight=0.6)
    + _seed("other", "fr", "désabonner; désinscrire; grossiste; partenariat", weight=0.6)
)
