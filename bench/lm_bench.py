"""The shop's model on each inference engine, side by side in one run: speed, memory, perplexity, factual accuracy.

Each engine runs in its own process (so its peak memory is its own) on the same validation prompts: time to the
first token for prompts near 300 tokens, decode tokens per second (greedy, batch 1, one thread), bytes of weights
read per token against this machine's memory bandwidth (a large numpy copy, measured here), peak resident memory,
perplexity of the reference replies (reply tokens only; summed nats over summed tokens), and factual accuracy of
greedy replies (every claim the checker finds is supported by the prompt's facts, before any repair).

    nice -n 10 .venv/bin/python bench/lm_bench.py --engines ct2,transformers-fp32 --out runs/lm_bench.json
"""
from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ENGINES = ("ct2", "llama-cpp", "transformers-fp32", "transformers-int8")


def memory_bandwidth(mb: int = 256, repeats: int = 5) -> float:
    """Bytes per second moved by a large array copy (read + write), best of `repeats`."""
    import numpy as np
    src = np.ones(mb * 2**20 // 8, dtype=np.float64)
    dst = np.empty_like(src)
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        np.copyto(dst, src)
        best = min(best, time.perf_counter() - t)
    return 2 * src.nbytes / best


def make(name: str, threads: int, adapter):
    """(engine, weight bytes read per token, tokenizer)."""
    from trustgen.engines import CT2Engine, LlamaCppEngine, TransformersEngine
    if name == "llama-cpp":
        from trustgen.convert import build_gguf_model
        path = build_gguf_model(adapter)
        engine = LlamaCppEngine(path, adapter, threads=threads, workers=1)
        return engine, path.stat().st_size, engine.load()
    if name == "ct2":
        from trustgen.convert import build_fast_model
        path = build_fast_model(adapter)
        engine = CT2Engine(path, threads=threads, workers=1)
        tokenizer, _ = engine.load()
        return engine, (path / "model.bin").stat().st_size, tokenizer
    from trustgen.quantize import weight_bytes
    engine = TransformersEngine(adapter_path=adapter, quantize=name.endswith("int8"), threads=threads)
    loaded = engine.load()
    return engine, weight_bytes(loaded.model)["weight_bytes"], loaded.tokenizer


def near_300(records, tokenizer, n: int) -> list[dict]:
    """The `n` validation prompts whose length is nearest 300 tokens (the target's prompt size)."""
    from trustgen.engines import prompt_ids
    sized = [(abs(len(prompt_ids(tokenizer, r["messages"][:-1])[0]) - 300), i) for i, r in enumerate(records)]
    return [records[i] for _, i in sorted(sized)[:n]]


def speed(engine, records, max_new_tokens: int) -> dict:
    """Median time to first token and decode rate (one warm-up generation first). An engine that keeps the
    state of the prompt's fixed start (CT2Engine.prefix_cache) is timed on each prompt twice, in turn: computing
    the whole prompt (`ttft_s`), and with that start cached as in the app (`ttft_cached_s`)."""
    engine.generate(records[0]["messages"][:-1], max_new_tokens=8, time_limit_s=120.0)
    modes = [False, True] if hasattr(engine, "prefix_cache") else [None]
    ttft, rates, prompt_tokens = {m: [] for m in modes}, [], []
    for r in records:
        for mode in modes:
            if mode is not None:
                engine.prefix_cache = mode
            g = engine.generate(r["messages"][:-1], max_new_tokens=max_new_tokens, time_limit_s=120.0)
            ttft[mode].append(g.first_token_s)
            if g.new_tokens > 1:
                rates.append((g.new_tokens - 1) / max(g.seconds - g.first_token_s, 1e-9))
        prompt_tokens.append(g.prompt_tokens)
    row = {"ttft_s": statistics.median(ttft[modes[0]]), "decode_tokens_per_s": statistics.median(rates),
           "median_prompt_tokens": statistics.median(prompt_tokens), "timed_prompts": len(records)}
    if True in ttft:
        row["ttft_cached_s"] = statistics.median(ttft[True])
    return row


def scored_perplexity(engine, tokenizer, records) -> dict:
    """Perplexity of the reference replies under an engine that scores token ids (CTranslate2, llama.cpp), scored
    exactly as trustgen.evaluate scores the transformers model (same encoding, reply tokens only)."""
    from trustgen.evaluate import MAX_LEN
    from trustgen.metrics import perplexity
    from trustgen.metrics import IGNORE
    from trustgen.train import encode_all
    encoded = encode_all(records, tokenizer, MAX_LEN)
    nats, tokens = 0.0, 0
    for (ids, labels), log_probs in zip(encoded, engine.score([ids for ids, _ in encoded])):
        # log_probs[i - 1] is log p(ids[i] | ids[:i])
        for i in range(1, len(ids)):
            if labels[i] != IGNORE:
                nats -= log_probs[i - 1]
                tokens += 1
    return {"perplexity": perplexity(nats, tokens), "tokens": tokens, "examples": len(encoded)}


def accuracy(engine, records, max_new_tokens: int) -> dict:
    from trustgen.claims import check
    from trustgen.dataset import facts_of
    from trustgen.metrics import factual_accuracy
    checked = [check(engine.generate(r["messages"][:-1], max_new_tokens=max_new_tokens, time_limit_s=60.0).text,
                     facts_of(r)) for r in records]
    return factual_accuracy(checked)


def child(args) -> int:
    """Measure one engine; print its figures as JSON."""
    from trustgen.evaluate import validation_records
    adapter = None if args.adapter == "none" else args.adapter
    started = time.perf_counter()
    engine, weights, tokenizer = make(args.child, args.threads, adapter)
    row = {"load_s": time.perf_counter() - started, "weight_bytes_per_token": weights}
    records = validation_records(limit=max(args.ppl_examples, args.gen_examples, 60))
    row.update(speed(engine, near_300(records, tokenizer, args.prompts), args.max_new_tokens))
    ppl_records = records[:args.ppl_examples]
    if args.child in ("ct2", "llama-cpp"):
        row["perplexity"] = scored_perplexity(engine, tokenizer, ppl_records)
    else:
        from trustgen.evaluate import score_perplexity
        row["perplexity"] = score_perplexity(engine.load(), ppl_records)
    row["accuracy"] = accuracy(engine, records[:args.gen_examples], args.max_new_tokens)
    row["peak_rss_bytes"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux reports KiB
    Path(args.child_out).write_text(json.dumps(row), encoding="utf-8")
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engines", default="ct2,transformers-fp32", help=f"comma-separated, of {ENGINES}")
    parser.add_argument("--prompts", type=int, default=6, help="validation prompts timed per engine (near 300 tokens)")
    parser.add_argument("--max-new-tokens", type=int, default=64, help="longest reply generated (timing, accuracy)")
    parser.add_argument("--ppl-examples", type=int, default=40, help="validation examples for perplexity")
    parser.add_argument("--gen-examples", type=int, default=24, help="validation prompts for factual accuracy")
    parser.add_argument("--adapter", default="default", help="adapter folder, 'default' or 'none'")
    parser.add_argument("--threads", type=int, default=1, help="CPU threads per engine (1: one conversation's share)")
    parser.add_argument("--out", default=None, help="also write the figures as JSON here")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--child-out", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return child(args)

    bandwidth = memory_bandwidth()
    rows = {}
    for name in [e.strip() for e in args.engines.split(",") if e.strip()]:
        if name not in ENGINES:
            parser.error(f"unknown engine {name!r}; choose from {', '.join(ENGINES)}")
        with tempfile.NamedTemporaryFile(suffix=".json") as out:
            cmd = [sys.executable, __file__, "--child", name, "--child-out", out.name, "--prompts", str(args.prompts),
                   "--max-new-tokens", str(args.max_new_tokens), "--ppl-examples", str(args.ppl_examples),
                   "--gen-examples", str(args.gen_examples), "--adapter", args.adapter, "--threads", str(args.threads)]
            subprocess.run(cmd, check=True)
            row = json.loads(Path(out.name).read_text())
        row["bandwidth_bound_tokens_per_s"] = bandwidth / row["weight_bytes_per_token"]
        row["share_of_bound"] = row["decode_tokens_per_s"] / row["bandwidth_bound_tokens_per_s"]
        rows[name] = row
        print(f"{name}: done", flush=True)

    print(f"\nmodel: {'base' if args.adapter == 'none' else 'base + shop adapter (merged)'}; memory bandwidth "
          f"{bandwidth / 1e9:.1f} GB/s (numpy copy); {args.threads} thread(s); {args.prompts} prompts near 300 "
          f"tokens; perplexity on {args.ppl_examples}, factual accuracy on {args.gen_examples} validation examples\n")
    print("| engine | prompt tokens | first token | first token, fixed start cached | decode tok/s "
          "| weights read/token | bandwidth bound | share | peak memory | val perplexity | factual accuracy |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for name, r in rows.items():
        a = r["accuracy"]
        cached = f"{r['ttft_cached_s']:.3f} s" if "ttft_cached_s" in r else "-"
        print(f"| {name} | {r['median_prompt_tokens']:.0f} | {r['ttft_s']:.3f} s | {cached} "
              f"| {r['decode_tokens_per_s']:.1f} | {r['weight_bytes_per_token'] / 1e6:.0f} MB | {r['bandwidth_bound_tokens_per_s']:.1f} tok/s "
              f"| {r['share_of_bound']:.0%} | {r['peak_rss_bytes'] / 2**20:.0f} MiB "
              f"| {r['perplexity']['perplexity']:.3f} | {a['accuracy']:.3f} ({a['replies']}) |")
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps({"bandwidth_bytes_per_s": bandwidth, "threads": args.threads,
                                              "adapter": args.adapter, "engines": rows}, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
