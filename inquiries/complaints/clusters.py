"""Complaint cluster statistics: bursts per product, near-duplicate texts. No Django.

Two questions, both answered from numbers and texts the caller has already selected:

- `burst_test()`: is this product's complaint count in the current window unusual against
  its own history? A one-sided Poisson test, so a product that always gets 5 complaints a
  week is not flagged for its sixth, while a quiet one getting 10 in two days is.
- `near_duplicate_groups()` / `similar_to()`: are different customers sending (almost) the
  same text, e.g. a review-bombing campaign or a copied template, often without a SKU?
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

# numpy, scipy and scikit-learn are imported where they are used: together they take a
# second or more to import, which every process that loads the URLconf (a web worker, a
# management command's system checks) would otherwise pay, most of them never testing a
# burst or comparing two texts.
if TYPE_CHECKING:
    import numpy as np
    from scipy.sparse import csr_matrix

Severity = Literal["none", "low", "medium", "high", "critical"]

# The baseline gets this many pseudo-complaints spread over its period (a Gamma prior on
# the rate, in effect). Without it a product with no history has expected count 0, and
# a single complaint would be "infinitely" significant.
PRIOR_COUNT = 1.0


@dataclass(frozen=True, slots=True)
class BurstResult:
    """Outcome of `burst_test()`. `p_value` is P(X >= observed) for X ~ Poisson(expected)."""

    flagged: bool
    p_value: float
    expected: float
    observed: int
    severity: Severity

    @property
    def ratio(self) -> float:
        """Observed over expected (`expected` is always > 0 thanks to the prior)."""
        return self.observed / self.expected


def _severity(observed: int, expected: float) -> Severity:
    # Both the excess and the absolute size matter: 3 complaints against 0.04 expected is a
    # huge ratio but still only 3 customers; 10 against 1 is a product problem.
    ratio = observed / expected
    if observed >= 10 and ratio >= 10:
        return "critical"
    if observed >= 5 and ratio >= 5:
        return "high"
    if ratio >= 3:
        return "medium"
    return "low"


def burst_test(
    window_count: int,
    baseline_counts: Sequence[int],
    *,
    window_days: int,
    baseline_days: int,
    min_count: int = 3,
    alpha: float = 0.01,
) -> BurstResult:
    """Test whether `window_count` complaints in `window_days` exceed the product's baseline.

    `baseline_counts` are the product's complaint counts (per day, per week: any split)
    over the `baseline_days` before the window, e.g. the previous 8 weeks. The expected
    window count is `window_days * (sum(baseline_counts) + PRIOR_COUNT) / baseline_days`.
    Flagged when `window_count >= min_count` and the Poisson upper tail P(X >= window_count)
    is below `alpha`.

    Severity, for flagged results only ("none" otherwise), by observed/expected ratio and
    count: "critical" at >= 10 complaints and >= 10x expected; "high" at >= 5 and >= 5x;
    "medium" at >= 3x; "low" otherwise.

    Each call is one test: run across many products daily, about `alpha` of the quiet ones
    may be flagged by chance (fewer in practice, as counts are discrete and small), which
    `min_count` and a small `alpha` keep rare.
    """
    if window_days <= 0 or baseline_days <= 0:
        raise ValueError("window_days and baseline_days must be positive")
    if window_count < 0 or any(count < 0 for count in baseline_counts):
        raise ValueError("counts cannot be negative")
    if not 0 < alpha < 1:
        raise ValueError("alpha must be between 0 and 1")
    from scipy.stats import poisson

    expected = window_days * (sum(baseline_counts) + PRIOR_COUNT) / baseline_days
    # sf(k - 1) = P(X > k - 1) = P(X >= k).
    p_value = float(poisson.sf(window_count - 1, expected))
    flagged = window_count >= min_count and p_value < alpha
    return BurstResult(
        flagged=flagged,
        p_value=p_value,
        expected=expected,
        observed=window_count,
        severity=_severity(window_count, expected) if flagged else "none",
    )


@dataclass(frozen=True, slots=True)
class TextItem:
    """A complaint text to compare: `id` is the caller's key (e.g. a message pk)."""

    id: Hashable
    customer: str
    text: str


_DIGITS = re.compile(r"\d+")
_PUNCTUATION = re.compile(r"[^\w\s]+")
_SPACE = re.compile(r"\s+")
# Rows of the similarity matrix computed at once: bounds memory at BLOCK x n floats even
# when nearly every pair shares some n-gram, which makes X @ X.T close to dense.
_BLOCK = 512


def _fold(text: str) -> str:
    # Order numbers, amounts and dates differ between copies of one template; accents, case
    # and punctuation differ between people typing the same complaint.
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return _SPACE.sub(" ", _PUNCTUATION.sub(" ", _DIGITS.sub("0", stripped))).strip()


def _vectorise(texts: Sequence[str]) -> csr_matrix | None:
    """L2-normalised TF-IDF rows of character 3-5 grams, or None if no text has any."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    # "char", not "char_wb": n-grams that span word boundaries keep word order, so two
    # different complaints built from the same common words do not look alike.
    vectorizer = TfidfVectorizer(analyzer="char", ngram_range=(3, 5), sublinear_tf=True, lowercase=False)
    try:
        return vectorizer.fit_transform([_fold(text) for text in texts])
    except ValueError:  # every text is empty or too short for a 3-gram
        return None


def near_duplicate_groups(items: Sequence[TextItem], *, threshold: float = 0.8) -> list[list[Hashable]]:
    """Group near-identical texts that come from at least two different customers.

    Two texts are linked when the cosine similarity of their character n-gram TF-IDF
    vectors is >= `threshold`; a group is a connected set of links (single linkage, so
    A~B and B~C put A and C together). Groups with only one customer are not returned:
    a customer repeating themselves is not a cluster. Ids keep input order inside a
    group; groups are ordered by their first member. Sparse matrix products, in blocks,
    so a few thousand texts take seconds, not minutes.
    """
    import numpy as np
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    if not 0 < threshold <= 1:
        raise ValueError("threshold must be in (0, 1]")
    matrix = _vectorise([item.text for item in items])
    if matrix is None:
        return []
    n = matrix.shape[0]
    rows: list[np.ndarray] = []
    cols: list[np.ndarray] = []
    for start in range(0, n, _BLOCK):
        block = (matrix[start : start + _BLOCK] @ matrix.T).tocoo()
        # A tiny tolerance: identical texts score 1 - 1e-16 in floating point.
        keep = block.data >= threshold - 1e-9
        rows.append(block.row[keep] + start)
        cols.append(block.col[keep])
    row_idx = np.concatenate(rows)
    col_idx = np.concatenate(cols)
    links = coo_matrix((np.ones(len(row_idx), dtype=np.int8), (row_idx, col_idx)), shape=(n, n))
    _, component = connected_components(links, directed=False)
    # Filled in index order, so components come out ordered by their first member.
    members: dict[int, list[int]] = {}
    for index, label in enumerate(component):
        members.setdefault(int(label), []).append(index)
    return [
        [items[i].id for i in indices]
        for indices in members.values()
        if len({items[i].customer for i in indices}) >= 2
    ]


def similar_to(
    text: str, candidates: Sequence[TextItem], threshold: float = 0.8
) -> list[tuple[Hashable, float]]:
    """Candidates whose text has cosine similarity >= `threshold` with `text`, best first.

    For per-complaint updates: compare a new complaint with the window's recent ones
    instead of regrouping everything. Same measure as `near_duplicate_groups()`, with the
    IDF fitted on `text` plus the candidates. Checking customers is up to the caller.
    """
    if not candidates:
        return []
    matrix = _vectorise([text, *(item.text for item in candidates)])
    if matrix is None:
        return []
    similarities = (matrix[1:] @ matrix[0].T).toarray().ravel()
    hits = [
        (item.id, min(float(score), 1.0))
        for item, score in zip(candidates, similarities, strict=True)
        if score >= threshold - 1e-9
    ]
    # A stable sort: equal scores keep the candidates' order.
    return sorted(hits, key=lambda hit: -hit[1])
