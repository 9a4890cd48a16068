"""Text fingerprints (MinHash) screen look-alike complaints before the exact comparison."""

from __future__ import annotations

import pytest

from inquiries.complaints.fingerprints import (
    SIGNATURE_BYTES,
    estimated_jaccard,
    fingerprint,
    fold,
    screening_bound,
)

CAMPAIGN = "Your seller sent me a used and dirty product with scratches, this is a scam, refund now!!"


def test_a_fingerprint_has_a_fixed_size_and_is_the_same_in_every_process():
    assert len(fingerprint(CAMPAIGN)) == SIGNATURE_BYTES
    assert fingerprint(CAMPAIGN) == fingerprint(CAMPAIGN)
    assert len(fingerprint("")) == SIGNATURE_BYTES


def test_order_numbers_case_and_accents_do_not_make_texts_different():
    assert fold("Commande N° 4711: CASSÉ!") == fold("commande n 123: cassé")
    a, b = fingerprint("Order 123-456: the lid is CRACKED."), fingerprint("order 999-000: the lid is cracked")
    assert estimated_jaccard(a, b)[0] == 1.0


def test_near_identical_texts_score_high_and_unrelated_ones_low():
    others = [
        CAMPAIGN.replace("scam", "SCAM"),
        CAMPAIGN + " Thanks.",
        "The kettle leaks at the bottom seam.",
        "Where is my parcel? It has not arrived after two weeks.",
    ]
    scores = estimated_jaccard(fingerprint(CAMPAIGN), b"".join(fingerprint(text) for text in others))
    assert scores[0] == 1.0
    assert scores[1] > 0.8
    assert scores[2] < 0.1 and scores[3] < 0.1


def test_no_candidates_give_no_scores():
    assert len(estimated_jaccard(fingerprint(CAMPAIGN), b"")) == 0


@pytest.mark.parametrize(("cosine", "bound"), [(0.6, 0.2), (0.8, 0.4), (1.0, 0.6), (0.3, 0.15)])
def test_the_screening_bound_stays_below_what_the_cosine_threshold_needs(cosine, bound):
    assert screening_bound(cosine) == pytest.approx(bound)
