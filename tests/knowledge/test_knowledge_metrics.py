import math

import pytest

from knowledge.evaluate import ndcg_at_k, recall_at_k, reciprocal_rank, summarize


def test_recall_is_capped_by_what_fits_in_k():
    assert recall_at_k(["a", "b", "c"], {"a"}, 1) == 1.0
    assert recall_at_k(["b", "a"], {"a"}, 1) == 0.0
    assert recall_at_k(["a", "x", "b"], {"a", "b", "c"}, 5) == pytest.approx(2 / 3)
    assert recall_at_k(["a", "b"], {"a", "b", "c"}, 1) == 1.0  # one slot, one hit
    assert recall_at_k(["a"], set(), 5) == 0.0


def test_reciprocal_rank():
    assert reciprocal_rank(["x", "y", "a"], {"a", "b"}) == pytest.approx(1 / 3)
    assert reciprocal_rank(["x"], {"a"}) == 0.0


def test_ndcg_golden_values():
    assert ndcg_at_k(["a", "b"], {"a", "b"}, 10) == 1.0
    # one relevant doc at rank 2: (1/log2 3) / 1
    assert ndcg_at_k(["x", "a"], {"a"}, 10) == pytest.approx(1 / math.log2(3))
    # relevant at ranks 1 and 3 of two: (1 + 1/2) / (1 + 1/log2 3)
    assert ndcg_at_k(["a", "x", "b"], {"a", "b"}, 10) == pytest.approx(1.5 / (1 + 1 / math.log2(3)))
    assert ndcg_at_k(["x", "a"], {"a"}, 1) == 0.0


def test_summarize_means_and_empty_case():
    m = summarize([["a", "x"], ["x", "b"]], [{"a"}, {"b"}])
    assert m == {"recall@1": 0.5, "recall@5": 1.0, "mrr": 0.75,
                 "ndcg@10": pytest.approx((1 + 1 / math.log2(3)) / 2), "queries": 2}
    assert summarize([], [])["queries"] == 0
