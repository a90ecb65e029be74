"""Search benchmark: ingest throughput, query latency, index size and peak memory, printed as figures.

Parts (each in its own process, so its peak memory is its own):
  shop   ingest of the demo shop against a plain sentence-transformers `encode` of the same texts (ratio, same
         run), then query latency of hybrid/dense/BM25 search on the labelled questions;
  100k / 1m  synthetic variants: vectors made from MiniLM embeddings of the shop's real variant texts and
         option words plus noise (see `synthesize`); exact search (IndexFlatIP) against IVF, the smallest nprobe
         whose Recall@10 against exact is >= 0.95, and the latency of single queries at that nprobe.
Run: `nice -n 10 .venv/bin/python bench/search_bench.py [--million] [--runs 2]` (the 1m part only with --million).
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

TARGET_RECALL = 0.95
NPROBES = (4, 8, 16, 32, 64, 128, 256)


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def percentiles(seconds: list[float]) -> dict:
    ms = np.asarray(seconds) * 1000
    return {"p50_ms": float(np.percentile(ms, 50)), "p95_ms": float(np.percentile(ms, 95)), "n": len(ms)}


def dir_size(path: Path) -> int:
    return sum(f.stat().st_size for f in Path(path).rglob("*") if f.is_file())


def shop_parts():
    from knowledge.documents import shop_documents
    from knowledge.evaluate import load_questions
    from knowledge.store import Store
    tmp = tempfile.mkdtemp()
    store, _ = Store.create(Path(tmp) / "shop.db")
    docs = shop_documents(store)
    store.close()
    return tmp, docs, [q["question"] for q in load_questions()]


# ---------------------------------------------------------------- part: shop
def part_shop(runs: int) -> dict:
    from knowledge.embeddings import MiniLMEmbedder
    from knowledge.evaluate import CachedEmbedder
    from knowledge.index import SearchIndex
    tmp, docs, questions = shop_parts()
    texts = [d.text for d in docs]
    embedder = MiniLMEmbedder()
    model = embedder.model  # load once, outside the timings
    model.encode(texts[:64], batch_size=64)  # warm-up
    plain, ours = [], []
    for run in range(runs):  # interleaved, so both see the same machine load
        start = time.perf_counter()
        model.encode(texts, batch_size=64, convert_to_numpy=True, normalize_embeddings=True)
        plain.append(time.perf_counter() - start)
        path = Path(tmp) / f"index{run}"
        start = time.perf_counter()
        index = SearchIndex.build(docs, path=path, embedder=embedder)
        ours.append(time.perf_counter() - start)
    latency, index_only = {}, {}
    filters = {"kind": "product", "available": True, "price": (0, 500)}
    cached = CachedEmbedder(embedder)
    cached.warm(questions)
    for label, kwargs in (("hybrid", {}), ("dense", {"mode": "dense"}), ("bm25", {"mode": "bm25"}),
                          ("hybrid+filters", {"filters": filters})):
        for target, which in ((latency, embedder), (index_only, cached)):  # with and without query embedding
            index.embedder = which
            for q in questions[:10]:
                index.search(q, **kwargs)  # warm-up
            times = []
            for q in questions:
                start = time.perf_counter()
                index.search(q, top_k=10, **kwargs)
                times.append(time.perf_counter() - start)
            target[label] = percentiles(times)
    import torch
    threads = {}
    for n in sorted({torch.get_num_threads(), 1}, reverse=True):  # the query embedding alone
        torch.set_num_threads(n)
        times = []
        for q in questions[:100]:
            start = time.perf_counter()
            embedder.encode([q])
            times.append(time.perf_counter() - start)
        threads[n] = percentiles(times)
    return {"documents": len(docs), "plain_encode_s": plain, "query_embedding_by_threads": threads, "ingest_s": ours,
            "plain_docs_per_s": len(texts) / min(plain), "ingest_docs_per_s": len(texts) / min(ours),
            "ingest_over_plain": min(plain) / min(ours), "latency": latency, "index_only": index_only,
            "index_bytes": dir_size(Path(tmp) / "index0"), "peak_rss_mb": peak_mb()}


# ---------------------------------------------------------------- part: synthetic
def base_vectors(cache: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(variant text vectors, option word vectors, question vectors) from the real shop, cached in a .npz."""
    if cache.is_file():
        data = np.load(cache)
        return data["variants"], data["words"], data["questions"]
    from knowledge.embeddings import MiniLMEmbedder
    _, docs, questions = shop_parts()
    embedder = MiniLMEmbedder()
    words = sorted({str(v) for d in docs if d.metadata.get("kind") == "product"
                    for k, v in d.metadata.items() if k.startswith("option.")})
    variants = embedder.encode([d.text for d in docs if d.metadata.get("kind") == "product"])
    out = {"variants": variants, "words": embedder.encode(words), "questions": embedder.encode(questions)}
    np.savez(cache, **out)
    return out["variants"], out["words"], out["questions"]


def synthesize(n: int, variants: np.ndarray, words: np.ndarray, rng: np.random.Generator,
               noise: float = 0.35) -> np.ndarray:
    """n unit vectors: a real variant's vector + 0.4 x (sum of 3 random option-word vectors) + Gaussian noise.

    noise is per dimension, scaled by 1/sqrt(dim) so its norm is about `noise`: synthetic variants stay near
    the real catalog's region of the space but are all distinct, like a large catalog of similar products.
    """
    dim = variants.shape[1]
    x = variants[rng.integers(0, len(variants), n)].copy()
    for _ in range(3):
        x += 0.4 * words[rng.integers(0, len(words), n)]
    x += rng.standard_normal((n, dim), dtype=np.float32) * (noise / np.sqrt(dim))
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x.astype(np.float32)


def part_synthetic(n: int, cache: Path, seed: int = 0) -> dict:
    import faiss
    build_threads = int(os.environ.get("BENCH_THREADS", "2"))
    faiss.omp_set_num_threads(build_threads)  # training and adding use both cores
    variants, words, questions = base_vectors(cache)
    rng = np.random.default_rng(seed)
    dim = variants.shape[1]
    nlist = int(2 ** round(np.log2(2 * np.sqrt(n))))  # ~2*sqrt(n) lists as a power of two: 512 at 100k, 2048 at 1M
    train = synthesize(min(n, 40 * nlist), variants, words, rng)  # faiss asks for >= 39 points per list
    quantizer = faiss.IndexFlatIP(dim)
    ivf = faiss.IndexIVFFlat(quantizer, dim, nlist, faiss.METRIC_INNER_PRODUCT)
    start = time.perf_counter()
    ivf.train(train)
    train_s = time.perf_counter() - start
    queries = np.ascontiguousarray(questions, dtype=np.float32)
    exact = faiss.IndexFlatIP(dim)
    chunk, added, add_s = 100_000, 0, 0.0
    while added < n:  # generate and add in chunks: the vectors are never held twice
        block = synthesize(min(chunk, n - added), variants, words, rng)
        start = time.perf_counter()
        ivf.add(block)
        add_s += time.perf_counter() - start
        exact.add(block)
        added += len(block)
    del block
    start = time.perf_counter()
    _, truth = exact.search(queries, 10)
    exact_batch_s = time.perf_counter() - start
    exact_lat = []
    faiss.omp_set_num_threads(1)
    for q in queries[:50]:
        t = time.perf_counter()
        exact.search(q[None], 10)
        exact_lat.append(time.perf_counter() - t)
    del exact
    faiss.omp_set_num_threads(1)  # the service answers one query at a time; see SearchConfig.faiss_threads
    sweep, chosen = {}, None
    for nprobe in NPROBES:
        ivf.nprobe = nprobe
        _, found = ivf.search(queries, 10)
        recall = float(np.mean([len(set(f) & set(t)) / 10 for f, t in zip(found, truth)]))
        sweep[nprobe] = recall
        if recall >= TARGET_RECALL:
            chosen = nprobe
            break
    ivf.nprobe = chosen or NPROBES[-1]
    for q in queries[:20]:
        ivf.search(q[None], 10)
    lat = []
    for q in queries:
        t = time.perf_counter()
        ivf.search(q[None], 10)
        lat.append(time.perf_counter() - t)
    with tempfile.TemporaryDirectory() as tmp:
        faiss.write_index(ivf, f"{tmp}/ivf.faiss")
        size = os.path.getsize(f"{tmp}/ivf.faiss")
    return {"n": n, "dim": dim, "nlist": nlist, "train_s": train_s, "add_s": add_s, "recall_by_nprobe": sweep,
            "nprobe": ivf.nprobe, "recall@10": sweep[ivf.nprobe], "ivf_latency": percentiles(lat),
            "exact_latency": percentiles(exact_lat), "exact_batch_s": exact_batch_s, "queries": len(queries),
            "index_bytes": size, "peak_rss_mb": peak_mb(), "build_threads": build_threads}


# ---------------------------------------------------------------- driver
def child(args) -> None:
    if args.part == "vectors":  # made once, in its own process, so no synthetic part carries the model's memory
        base_vectors(Path(args.cache))
        result = {}
    elif args.part == "shop":
        result = part_shop(args.runs)
    else:
        result = part_synthetic({"100k": 100_000, "1m": 1_000_000}[args.part], Path(args.cache))
    result["load_average"] = os.getloadavg()  # the machine is shared: timings depend on what else runs
    print("RESULT " + json.dumps(result))


def report(part: str, r: dict) -> None:
    mb = lambda b: b / 2 ** 20  # noqa: E731
    if part == "shop":
        print(f"demo shop, {r['documents']} documents")
        print(f"  ingest (SearchIndex.build, saved): {r['ingest_docs_per_s']:.0f} docs/s  runs {['%.1f s' % s for s in r['ingest_s']]}")
        print(f"  plain SentenceTransformer.encode:  {r['plain_docs_per_s']:.0f} docs/s  runs {['%.1f s' % s for s in r['plain_encode_s']]}")
        print(f"  ingest / plain throughput ratio:   {r['ingest_over_plain']:.2f} (best run of each)")
        for label, m in r["latency"].items():
            o = r["index_only"][label]
            print(f"  query latency {label:<15} p50 {m['p50_ms']:.1f} ms  p95 {m['p95_ms']:.1f} ms;  without query "
                  f"embedding p50 {o['p50_ms']:.2f} ms  p95 {o['p95_ms']:.2f} ms  ({m['n']} queries)")
        for n, m in r["query_embedding_by_threads"].items():
            print(f"  query embedding alone, torch threads {n}: p50 {m['p50_ms']:.1f} ms  p95 {m['p95_ms']:.1f} ms"
                  f"  ({m['n']} queries)")
        print(f"  index on disk {mb(r['index_bytes']):.1f} MiB, peak memory {r['peak_rss_mb']:.0f} MiB")
        return
    print(f"synthetic catalog, {r['n']:,} variants ({r['dim']}-d), IVF{r['nlist']},Flat, built with "
          f"{r['build_threads']} threads, searched with 1")
    print(f"  train {r['train_s']:.1f} s, add {r['add_s']:.1f} s; Recall@10 vs exact by nprobe: "
          + ", ".join(f"{k}: {v:.3f}" for k, v in r["recall_by_nprobe"].items()))
    print(f"  nprobe {r['nprobe']}: Recall@10 {r['recall@10']:.3f} on {r['queries']} queries; single-query latency "
          f"p50 {r['ivf_latency']['p50_ms']:.2f} ms, p95 {r['ivf_latency']['p95_ms']:.2f} ms")
    print(f"  exact (IndexFlatIP) single-query p50 {r['exact_latency']['p50_ms']:.1f} ms, "
          f"p95 {r['exact_latency']['p95_ms']:.1f} ms")
    print(f"  IVF index on disk {mb(r['index_bytes']):.0f} MiB, peak memory {r['peak_rss_mb']:.0f} MiB")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--million", action="store_true", help="also run the 1,000,000-variant part (minutes)")
    p.add_argument("--only", choices=["shop", "100k", "1m"], help="run one part only")
    p.add_argument("--runs", type=int, default=2, help="timed ingest runs of each kind (best is compared)")
    p.add_argument("--out", default=None, help="also write the figures as JSON to this file")
    p.add_argument("--part", help=argparse.SUPPRESS)
    p.add_argument("--cache", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.part:
        child(args)
        return 0
    parts = [args.only] if args.only else ["shop", "100k"] + (["1m"] if args.million else [])
    figures = {}
    with tempfile.TemporaryDirectory() as tmp:
        cache = Path(tmp) / "base_vectors.npz"
        for part in (["vectors"] if set(parts) & {"100k", "1m"} else []) + parts:
            start = time.perf_counter()
            out = subprocess.run([sys.executable, __file__, "--part", part, "--cache", str(cache),
                                  "--runs", str(args.runs)], capture_output=True, text=True)
            lines = [line for line in out.stdout.splitlines() if line.startswith("RESULT ")]
            if out.returncode or not lines:
                print(out.stderr[-3000:], file=sys.stderr)
                return 1
            figures[part] = json.loads(lines[-1][len("RESULT "):])
            if part == "vectors":
                continue
            report(part, figures[part])
            print("  load average (1, 5, 15 min) at the end: " + ", ".join(f"{x:.1f}" for x in figures[part]["load_average"]))
            print(f"  ({time.perf_counter() - start:.0f} s)\n")
    if args.out:
        Path(args.out).write_text(json.dumps(figures, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    raise SystemExit(main())
