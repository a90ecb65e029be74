"""The parts of hybrid search that are not FAISS: BM25 keyword scores, metadata filters and rank fusion.

Pure functions over plain lists and arrays, so each is tested on its own; `knowledge.index.SearchIndex`
puts them together. bm25s is imported only when a keyword index is built.
"""
from __future__ import annotations

import re
from typing import Mapping, Sequence

import numpy as np

STOPWORDS = frozenset("""a an and are as at be by can could do does for from has have how i if in is it its me my
of on or our please should so than that the their them then there these they this to was we what when where which
who will with would you your""".split())

_TOKEN = re.compile(r"[a-z0-9]+")
_MIXED = re.compile(r"[0-9]+|[a-z]+")


def tokenize(text: str) -> list[str]:
    """Lower-cased word tokens without stopwords; '1000ml' also yields '1000' and 'ml', 'bottles' -> 'bottle'."""
    out = []
    for token in _TOKEN.findall(text.lower()):
        if token in STOPWORDS:
            continue
        parts = _MIXED.findall(token)
        if len(parts) > 1:  # '16gb' matches '16 GB' and '16GB'
            out.append(token)
            out.extend(parts)
            continue
        if len(token) > 3 and token.endswith("s") and not token.endswith("ss"):
            token = token[:-3] + "y" if token.endswith("ies") else token[:-1]
        out.append(token)
    return out


class KeywordIndex:
    """BM25 (bm25s, Lucene variant) over a list of texts; scores every text for a query."""

    def __init__(self, texts: Sequence[str]):
        import bm25s
        self.size = len(texts)
        self._bm25 = bm25s.BM25()
        corpus = [tokenize(t) or ["\u2205"] for t in texts]  # an empty text still takes its position
        if corpus:
            self._bm25.index(corpus, show_progress=False)

    def scores(self, query: str) -> np.ndarray:
        """float32 array of shape (size,): the BM25 score of each text (0 where no query word occurs)."""
        tokens = [t for t in tokenize(query) if t in getattr(self._bm25, "vocab_dict", {})]
        if not tokens or not self.size:
            return np.zeros(self.size, dtype=np.float32)
        return np.asarray(self._bm25.get_scores(tokens), dtype=np.float32)


def matches(metadata: Mapping, filters: Mapping | None) -> bool:
    """Whether a document's metadata passes every filter.

    A filter value is a scalar (equality), a list or set (any of) or a tuple `(low, high)` (inclusive range;
    either end may be None). A document without the key never passes.
    """
    for key, want in (filters or {}).items():
        if key not in metadata:
            return False
        have = metadata[key]
        if isinstance(want, tuple):
            if len(want) != 2:
                raise ValueError(f"range filter on {key!r} must be (low, high), got {want!r}")
            low, high = want
            try:
                if (low is not None and have < low) or (high is not None and have > high):
                    return False
            except TypeError:
                return False
        elif isinstance(want, (list, set, frozenset)):
            if have not in want:
                return False
        elif have != want:
            return False
    return True


def top_positions(scores: np.ndarray, k: int, allowed: np.ndarray | None = None, positive_only: bool = False) -> list[int]:
    """Positions of the k highest scores, best first, among `allowed` (a boolean mask) if given."""
    scores = scores.astype(np.float64, copy=True)
    if allowed is not None:
        scores[~allowed] = -np.inf
    if positive_only:
        scores[scores <= 0] = -np.inf
    k = min(k, int(np.isfinite(scores).sum()))
    if k <= 0:
        return []
    part = np.argpartition(-scores, k - 1)[:k]
    return [int(p) for p in part[np.argsort(-scores[part], kind="stable")]]


def reciprocal_rank_fusion(rankings: Sequence[Sequence[str]], k: int = 60) -> list[tuple[str, float]]:
    """Fuse ranked id lists: score(id) = sum over lists of 1 / (k + rank), rank from 1. Best first."""
    fused: dict[str, float] = {}
    for ranking in rankings:
        for rank, doc_id in enumerate(ranking, start=1):
            fused[doc_id] = fused.get(doc_id, 0.0) + 1.0 / (k + rank)
    return sorted(fused.items(), key=lambda kv: (-kv[1], kv[0]))


def weighted_fusion(dense: Mapping[str, float], keyword: Mapping[str, float], dense_weight: float = 0.5
                    ) -> list[tuple[str, float]]:
    """Fuse scores: each list min-max normalised to [0, 1] (absent = 0), then a weighted sum. Best first."""
    def normalised(scores: Mapping[str, float]) -> dict[str, float]:
        if not scores:
            return {}
        lo, hi = min(scores.values()), max(scores.values())
        span = hi - lo
        return {d: ((s - lo) / span if span > 0 else 1.0) for d, s in scores.items()}
    nd, nk = normalised(dense), normalised(keyword)
    fused = {d: dense_weight * nd.get(d, 0.0) + (1 - dense_weight) * nk.get(d, 0.0) for d in set(nd) | set(nk)}
    return sorted(fused.items(), key=lambda kv: (-kv[1], kv[0]))
