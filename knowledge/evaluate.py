"""`shopbot eval search`: retrieval quality of dense, BM25 and hybrid search, in one table per question set.

Question sets: the demo shop's labelled questions (knowledge/data/demo_shop/questions.json) over a fresh copy
of the demo shop, and real Amazon shopper questions (hetPQA dev split) over the evidence sentences of each
question's product and over the whole split's pool (`--pqa DIR`, skipped with a message if absent).
Metrics are pure functions below. Run: `shopbot eval search [--limit N] [--out figures.json]`.
"""
from __future__ import annotations

import csv
import json
import math
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Sequence

import numpy as np

from .documents import Document
from .index import SearchConfig, SearchIndex
from .paths import demo_shop_source

K_SMALL, K_LARGE = 5, 10
SYSTEMS = {  # row label -> (mode, fusion config)
    "dense": ("dense", SearchConfig()),
    "bm25": ("bm25", SearchConfig()),
    "hybrid-rrf": ("hybrid", SearchConfig(fusion="rrf")),
    "hybrid-weighted": ("hybrid", SearchConfig(fusion="weighted")),  # the default SearchConfig's weight
}
SWEEP = {f"weighted w={w}": ("hybrid", SearchConfig(fusion="weighted", dense_weight=w)) for w in (0.3, 0.5, 0.6, 0.7)}
SWEEP.update({f"rrf k={k}": ("hybrid", SearchConfig(fusion="rrf", rrf_k=k)) for k in (10, 60)})


# ---------------------------------------------------------------- metrics (pure)
def recall_at_k(ranked: Sequence[str], relevant: set, k: int) -> float:
    """Share of the relevant ids found in the top k, out of the most that fit there: min(|relevant|, k)."""
    if not relevant or k <= 0:
        return 0.0
    return len(set(ranked[:k]) & relevant) / min(len(relevant), k)


def reciprocal_rank(ranked: Sequence[str], relevant: set) -> float:
    for rank, doc_id in enumerate(ranked, start=1):
        if doc_id in relevant:
            return 1.0 / rank
    return 0.0


def ndcg_at_k(ranked: Sequence[str], relevant: set, k: int) -> float:
    """Binary-gain nDCG: DCG of the ranking over DCG of a ranking with every relevant id first."""
    if not relevant or k <= 0:
        return 0.0
    dcg = sum(1.0 / math.log2(i + 2) for i, doc_id in enumerate(ranked[:k]) if doc_id in relevant)
    ideal = sum(1.0 / math.log2(i + 2) for i in range(min(len(relevant), k)))
    return dcg / ideal


def summarize(rankings: Sequence[Sequence[str]], relevants: Sequence[set]) -> dict[str, float]:
    """Mean Recall@1, Recall@5, MRR and nDCG@10 over queries (all 0 for no queries)."""
    n = len(rankings)
    if n == 0:
        return {"recall@1": 0.0, "recall@5": 0.0, "mrr": 0.0, "ndcg@10": 0.0, "queries": 0}
    pairs = list(zip(rankings, relevants))
    return {"recall@1": sum(recall_at_k(r, g, 1) for r, g in pairs) / n,
            "recall@5": sum(recall_at_k(r, g, K_SMALL) for r, g in pairs) / n,
            "mrr": sum(reciprocal_rank(r, g) for r, g in pairs) / n,
            "ndcg@10": sum(ndcg_at_k(r, g, K_LARGE) for r, g in pairs) / n,
            "queries": n}


# ---------------------------------------------------------------- running searches
class CachedEmbedder:
    """Wraps an embedder so a text is embedded once across the many small indexes of an evaluation."""

    def __init__(self, inner):
        self.inner, self.name, self.dim = inner, inner.name, inner.dim
        self.max_tokens = inner.max_tokens
        self._cache: dict[str, np.ndarray] = {}

    def warm(self, texts: Sequence[str], progress: bool = False) -> None:
        todo = list(dict.fromkeys(t for t in texts if t not in self._cache))
        for text, vector in zip(todo, self.inner.encode(todo, progress=progress)):
            self._cache[text] = vector

    def encode(self, texts, batch_size: int = 64, progress: bool = False) -> np.ndarray:
        self.warm(texts, progress)
        return np.stack([self._cache[t] for t in texts]) if len(texts) else np.zeros((0, self.dim), np.float32)


def rank_all(index: SearchIndex, queries: Sequence[str], systems=SYSTEMS, k: int = K_LARGE) -> dict[str, list]:
    """For each system, the ranked ids of every query (the index's fusion config is swapped per system)."""
    out = {}
    for label, (mode, config) in systems.items():
        index.config = config
        out[label] = [[h.id for h in index.search(q, top_k=k, mode=mode)] for q in queries]
    return out


def load_questions(path: Path | None = None, limit: int | None = None) -> list[dict]:
    path = path or demo_shop_source() / "questions.json"
    questions = json.loads(Path(path).read_text(encoding="utf-8"))
    return questions[:limit] if limit else questions


def eval_shop(embedder, limit: int | None = None, sweep: bool = False) -> dict:
    """Metrics on the demo shop's labelled questions, over a fresh copy of the demo shop."""
    from .documents import shop_documents
    from .store import Store
    questions = load_questions(limit=limit)
    with tempfile.TemporaryDirectory() as tmp:
        store, _ = Store.create(Path(tmp) / "shop.db")
        documents = shop_documents(store)
        store.close()
    cached = CachedEmbedder(embedder)  # each text embedded once, in batches, for all systems
    cached.warm([d.text for d in documents] + [q["question"] for q in questions])
    index = SearchIndex.build(documents, embedder=cached)
    known = {d.id for d in documents}
    missing = sorted({r for q in questions for r in q["relevant"]} - known)
    if missing:
        raise ValueError(f"questions.json names documents the shop does not have: {missing[:5]}")
    relevants = [set(q["relevant"]) for q in questions]
    rankings = rank_all(index, [q["question"] for q in questions])
    table = {label: summarize(r, relevants) for label, r in rankings.items()}
    by_type = {}
    for kind in sorted({q["type"] for q in questions}):
        picked = [i for i, q in enumerate(questions) if q["type"] == kind]
        by_type[kind] = {label: summarize([r[i] for i in picked], [relevants[i] for i in picked])
                         for label, r in rankings.items()}
    result = {"documents": len(documents), "table": table, "by_type": by_type}
    if sweep:
        result["sweep"] = {label: summarize(r, relevants)
                           for label, r in rank_all(index, [q["question"] for q in questions], SWEEP).items()}
    return result


def load_pqa(path: Path, limit: int | None = None) -> tuple[list[Document], list[tuple[str, str, set]]]:
    """(pool documents, queries as (asin, question, relevant ids)) from a hetPQA split (tab-separated)."""
    with open(path, encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    docs: dict[tuple[str, str], Document] = {}
    relevant: dict[tuple[str, str], set] = {}
    for row in rows:
        asin, question, candidate = row["ASIN"].strip(), row["question"].strip(), row["candidate"].strip()
        if not (asin and question and candidate):
            continue
        key = (asin, " ".join(candidate.lower().split()))  # the same sentence twice on a page is one document
        if key not in docs:
            docs[key] = Document(f"{asin}:{len(docs)}", candidate, {"asin": asin, "source": row.get("source", "")})
        # rows that repeat a question on one product pool their evidence: each of them answers it
        relevant.setdefault((asin, " ".join(question.lower().split())), set()).add(docs[key].id)
    first_wording = {}
    for row in rows:
        first_wording.setdefault((row["ASIN"].strip(), " ".join(row["question"].lower().split())), row["question"].strip())
    queries = [(asin, first_wording[(asin, q)], ids) for (asin, q), ids in relevant.items()]
    return list(docs.values()), queries[:limit] if limit else queries


def eval_pqa(embedder, path: Path, limit: int | None = None) -> dict:
    """Metrics on hetPQA: each question against its product's pool, and against the whole split's pool."""
    documents, queries = load_pqa(path, limit)
    cached = CachedEmbedder(embedder)
    cached.warm([d.text for d in documents] + [q for _, q, _ in queries])
    by_asin: dict[str, list[Document]] = {}
    for doc in documents:
        by_asin.setdefault(doc.metadata["asin"], []).append(doc)
    per_product = {label: [] for label in SYSTEMS}
    for asin, question, _ in queries:
        index = SearchIndex.build(by_asin[asin], embedder=cached)
        for label, ranked in rank_all(index, [question]).items():
            per_product[label].append(ranked[0])
    relevants = [ids for _, _, ids in queries]
    whole = rank_all(SearchIndex.build(documents, embedder=cached), [q for _, q, _ in queries])
    pool_sizes = [len(by_asin[a]) for a, _, _ in queries]
    hard = [i for i, size in enumerate(pool_sizes) if size >= 2]
    return {
        "queries": len(queries), "documents": len(documents), "mean_product_pool": float(np.mean(pool_sizes)),
        "per_product": {label: summarize(r, relevants) for label, r in per_product.items()},
        "per_product_pool_2plus": {label: summarize([r[i] for i in hard], [relevants[i] for i in hard])
                                   for label, r in per_product.items()},
        "whole_split": {label: summarize(r, relevants) for label, r in whole.items()},
    }


# ---------------------------------------------------------------- command line
def format_table(title: str, table: dict[str, dict]) -> str:
    lines = [title, f"  {'system':<16}{'R@1':>7}{'R@5':>7}{'MRR':>7}{'nDCG@10':>9}{'n':>6}"]
    for label, m in table.items():
        lines.append(f"  {label:<16}{m['recall@1']:>7.3f}{m['recall@5']:>7.3f}{m['mrr']:>7.3f}"
                     f"{m['ndcg@10']:>9.3f}{m['queries']:>6}")
    return "\n".join(lines)


def default_pqa_dir() -> Path:
    """The shared data folder beside the repository: ../shared/data/amazon-pqa."""
    return Path(__file__).resolve().parents[2] / "shared" / "data" / "amazon-pqa"


def add_arguments(parser) -> None:
    parser.add_argument("--limit", type=int, default=None, help="at most this many questions per set")
    parser.add_argument("--out", default=None, help="also write the figures as JSON to this file")
    parser.add_argument("--pqa", default=None, help=f"hetPQA data folder (default {default_pqa_dir()})")
    parser.add_argument("--sweep", action="store_true", help="also compare fusion settings on the shop questions")


def run(args) -> int:
    from .embeddings import default_embedder
    embedder = default_embedder()
    limit = getattr(args, "limit", None)
    start = time.perf_counter()
    shop = eval_shop(embedder, limit, sweep=getattr(args, "sweep", False))
    figures = {"embedder": embedder.name, "shop": shop}
    print(f"demo shop: {sum(1 for _ in load_questions(limit=limit))} labelled questions, {shop['documents']} documents")
    print(format_table("all questions", shop["table"]))
    for kind, table in shop["by_type"].items():
        print(format_table(f"  {kind} questions", table))
    if "sweep" in shop:
        print(format_table("fusion settings (hybrid)", shop["sweep"]))
    pqa_dir = Path(getattr(args, "pqa", None) or default_pqa_dir())
    dev = pqa_dir / "hetPQA" / "dev.csv"
    if dev.is_file():
        pqa = eval_pqa(embedder, dev, limit)
        figures["pqa"] = pqa
        print(f"\nhetPQA dev: {pqa['queries']} questions, {pqa['documents']} evidence sentences, "
              f"{pqa['mean_product_pool']:.1f} per product on average")
        print(format_table("each question against its product's evidence", pqa["per_product"]))
        print(format_table("  only products with 2+ evidence sentences", pqa["per_product_pool_2plus"]))
        print(format_table("each question against the whole split's evidence", pqa["whole_split"]))
    else:
        print(f"\nhetPQA skipped: {dev} not found (pass --pqa DIR, the folder holding hetPQA/)")
    print(f"\n{time.perf_counter() - start:.0f} s with {embedder.name}")
    if getattr(args, "out", None):
        Path(args.out).write_text(json.dumps(figures, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    import argparse
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_arguments(p)
    raise SystemExit(run(p.parse_args()))
