import numpy as np
import pytest

from inquiries.complaints.clusters import TextItem, burst_test, near_duplicate_groups, similar_to

EIGHT_WEEKS = 56


def test_a_burst_of_ten_complaints_in_two_days_over_a_quiet_baseline_is_flagged():
    # One complaint a fortnight for eight weeks, then ten in two days.
    weekly = [1, 0, 1, 0, 0, 1, 0, 1]
    result = burst_test(10, weekly, window_days=2, baseline_days=EIGHT_WEEKS)
    assert result.flagged
    assert result.observed == 10
    assert result.expected == pytest.approx(2 * 5 / 56)  # 4 complaints + 1 pseudo-count
    assert result.p_value < 1e-10
    assert result.severity == "critical"


def test_a_product_with_no_history_is_not_flagged_for_a_single_complaint():
    result = burst_test(1, [0] * 8, window_days=2, baseline_days=EIGHT_WEEKS)
    assert not result.flagged
    assert result.expected > 0  # the pseudo-count keeps the test finite
    assert result.severity == "none"


def test_min_count_guards_small_counts_even_when_the_p_value_is_tiny():
    result = burst_test(2, [0] * 8, window_days=2, baseline_days=EIGHT_WEEKS)
    assert result.p_value < 0.01
    assert not result.flagged
    assert burst_test(2, [0] * 8, window_days=2, baseline_days=EIGHT_WEEKS, min_count=2).flagged


def test_a_busy_product_at_its_usual_rate_is_not_flagged():
    # Five complaints a week is this product's normal; six this week is not a burst.
    assert not burst_test(6, [5] * 8, window_days=7, baseline_days=EIGHT_WEEKS).flagged


@pytest.mark.parametrize(
    ("observed", "baseline_total", "severity"),
    [(3, 0, "medium"), (6, 0, "high"), (12, 0, "critical"), (15, 55, "low")],
)
def test_severity_grows_with_count_and_excess(observed, baseline_total, severity):
    # Baseline 55 + 1 pseudo-count over 56 days is 7 expected a week: 15 is 2.1x.
    result = burst_test(observed, [baseline_total], window_days=7 if baseline_total else 2, baseline_days=56)
    assert result.flagged
    assert result.severity == severity


def test_steady_background_noise_over_many_products_flags_nothing():
    # 200 SKUs, each with its own small daily complaint rate, for ten weeks; the last two
    # days are tested against the eight weeks before them. Summing the exact flag
    # probability over baselines and windows gives about 0.07 expected false flags for
    # all 200 SKUs together, so zero is the expected outcome, not a lucky seed.
    rng = np.random.default_rng(42)
    rates = rng.uniform(0.01, 0.1, size=200)
    daily = rng.poisson(rates[:, None], size=(200, 70))
    flagged = [
        sku
        for sku in range(200)
        if burst_test(
            int(daily[sku, 68:].sum()),
            daily[sku, 12:68].tolist(),
            window_days=2,
            baseline_days=EIGHT_WEEKS,
        ).flagged
    ]
    assert flagged == []


@pytest.mark.parametrize(
    "kwargs",
    [
        {"window_days": 0, "baseline_days": 56},
        {"window_days": 2, "baseline_days": 0},
        {"window_days": 2, "baseline_days": 56, "alpha": 0},
    ],
)
def test_burst_test_refuses_meaningless_parameters(kwargs):
    with pytest.raises(ValueError):
        burst_test(3, [1], **kwargs)


def test_burst_test_refuses_negative_counts():
    with pytest.raises(ValueError, match="negative"):
        burst_test(3, [1, -1], window_days=2, baseline_days=56)


TEMPLATE = (
    "The zipper on this backpack broke after one day and the stitching is coming apart. Terrible quality."
)
UNRELATED = [
    "Where is my order? It has not arrived yet.",
    "I was charged twice for order 114-2233, please refund one payment.",
    "Do you have this jacket in size XL?",
    "My backpack zipper broke the first time I used it, very disappointed.",
]


def test_near_identical_texts_from_different_customers_form_a_group():
    items = [
        TextItem(1, "alice", TEMPLATE),
        TextItem(2, "bob", UNRELATED[0]),
        TextItem(3, "carol", TEMPLATE.upper().replace("ONE DAY", "1 day") + "!!"),
        TextItem(4, "dave", UNRELATED[1]),
        TextItem(
            5, "erin", "the zipper on this backpack broke after one day and the stitching is coming apart"
        ),
        TextItem(6, "frank", UNRELATED[3]),
    ]
    assert near_duplicate_groups(items) == [[1, 3, 5]]


def test_templated_complaints_differing_only_in_order_numbers_are_grouped():
    items = [
        TextItem("a", "alice", "Order 123-4455667 arrived broken, the box was crushed."),
        TextItem("b", "bob", "Order 998-1122334 arrived broken, the box was crushed."),
        TextItem("c", "carol", UNRELATED[2]),
    ]
    assert near_duplicate_groups(items) == [["a", "b"]]


def test_one_customer_repeating_the_same_text_is_not_a_cluster():
    items = [TextItem(i, "alice", TEMPLATE) for i in range(4)] + [TextItem(9, "bob", UNRELATED[0])]
    assert near_duplicate_groups(items) == []


def test_repeats_by_one_customer_join_a_group_that_has_other_customers():
    items = [TextItem(1, "alice", TEMPLATE), TextItem(2, "alice", TEMPLATE), TextItem(3, "bob", TEMPLATE)]
    assert near_duplicate_groups(items) == [[1, 2, 3]]


def test_texts_sharing_words_in_a_different_order_are_not_near_duplicates():
    words = TEMPLATE.lower().rstrip(".").replace(".", "").split()
    rng = np.random.default_rng(7)
    items = [TextItem(i, f"customer-{i}", " ".join(rng.permutation(words))) for i in range(50)]
    assert near_duplicate_groups(items) == []


def test_grouping_handles_empty_input_and_empty_texts():
    assert near_duplicate_groups([]) == []
    assert near_duplicate_groups([TextItem(1, "a", ""), TextItem(2, "b", "  ")]) == []


def test_grouping_a_few_thousand_texts_finds_the_planted_group():
    rng = np.random.default_rng(3)
    letters = list("abcdefghijklmnopqrstuvwxyz")
    vocabulary = ["".join(rng.choice(letters, size=rng.integers(3, 9))) for _ in range(500)]
    items = [TextItem(i, f"c{i}", " ".join(rng.choice(vocabulary, size=15))) for i in range(3000)]
    items += [TextItem(f"dup-{k}", f"dup-customer-{k}", TEMPLATE) for k in range(3)]
    assert near_duplicate_groups(items) == [["dup-0", "dup-1", "dup-2"]]


def test_similar_to_returns_matching_candidates_best_first():
    candidates = [
        TextItem(1, "alice", UNRELATED[0]),
        TextItem(2, "bob", TEMPLATE + " Want a refund."),
        TextItem(3, "carol", TEMPLATE),
    ]
    hits = similar_to(TEMPLATE.lower(), candidates, threshold=0.8)
    assert [key for key, _ in hits] == [3, 2]
    assert hits[0][1] == pytest.approx(1.0)
    assert 0.8 <= hits[1][1] < 1.0


def test_similar_to_with_no_candidates_returns_nothing():
    assert similar_to(TEMPLATE, []) == []
