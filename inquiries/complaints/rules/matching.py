"""Matching text against topic rules: normalising text, compiling each rule's keywords and
phrases into one guarded regular expression (`compile_rules`), and `classify`, which scores the
rules that match a message.
"""

from __future__ import annotations

import hashlib
import math
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from inquiries.complaints.rules.definitions import (
    MAX_TEXT_CHARS,
    TOPIC_PRIORITY,
    RuleMatch,
    TopicHint,
    TopicRule,
    is_decisive,
)
from inquiries.words import _


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
        raise ValueError(_("a keyword needs at least one letter before '*'"))
    body = r"\s+".join(re.escape(word) for word in words)
    # Word edges by lookaround rather than \b, so keywords that start or end with
    # punctuation ("n'est pas", "a.s.a.p.") still behave as whole words.
    tail = r"\w*" if prefix else ""
    return rf"(?<!\w){body}{tail}(?!\w)"


def _refused(rule: TopicRule, why: str) -> ValueError:
    """The error for a rule the engine cannot use: the rule, then why, in the reader's language."""
    return ValueError(_("%(rule)s: %(problem)s") % {"rule": rule.describe(), "problem": why})


def _compile_one(rule: TopicRule) -> _CompiledRule:
    if not rule.topic.strip():
        raise _refused(rule, _("the topic is empty"))
    if not rule.pattern.strip():
        raise _refused(rule, _("the pattern is empty"))
    if not (math.isfinite(rule.weight) and rule.weight > 0):
        raise _refused(
            rule, _("the weight must be a positive number, not %(weight)s") % {"weight": rule.weight}
        )
    if rule.kind == "keyword":
        try:
            source = _keyword_regex(rule.pattern)
        except ValueError as exc:
            raise _refused(rule, str(exc)) from exc
    elif rule.kind == "regex":
        source = normalise(rule.pattern)
        if _NESTED_QUANTIFIER.search(source):
            raise _refused(
                rule,
                _(
                    "nested repetition such as '(a+)+' can take exponential time; "
                    "rewrite it without a quantified group that contains a quantifier"
                ),
            )
    else:
        raise _refused(rule, _("the kind must be 'keyword' or 'regex'"))
    try:
        compiled = re.compile(source, re.IGNORECASE)
    except re.error as exc:
        raise _refused(rule, _("invalid regular expression: %(error)s") % {"error": exc}) from exc
    if compiled.search(""):
        # A pattern that matches the empty string matches every message.
        raise _refused(rule, _("the pattern matches empty text, so it matches everything"))
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


def topic_hint(text: str, compiled: CompiledRules) -> TopicHint:
    """`classify()` in a form to carry with a parsed message to where it is stored: the topic
    only when the match is decisive ("" otherwise, and the model is asked where it is stored)."""
    match = classify(text, compiled)
    return compiled.fingerprint, match.topic if match is not None and is_decisive(match) else ""
