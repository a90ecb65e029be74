"""fp32 against int8 for the shop's model, side by side in one run, with the memory-bandwidth bound of each.

For each variant: time to first token and decode tokens per second (greedy, batch 1, on validation prompts),
validation perplexity on the same examples, bytes of weights read per generated token, and the tokens per
second that this machine's memory bandwidth (measured here with a large numpy copy) allows at most.

    nice -n 10 .venv/bin/python bench/lm_bench.py --prompts 6 --ppl-examples 40 --out runs/lm_bench.json
"""
from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

from trustgen.quantize import KEEP_FLOAT


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


def speed(loaded, records, max_new_tokens: int) -> dict:
    """Median time to first token and decode rate over the prompts (one warm-up generation first)."""
    from trustgen.generate import generate
    generate(loaded, records[0]["messages"][:-1], max_new_tokens=8)
    ttft, rates, tokens = [], [], 0
    for r in records:
        g = generate(loaded, r["messages"][:-1], max_new_tokens=max_new_tokens, time_limit_s=120.0)
        ttft.append(g.first_token_s)
        if g.new_tokens > 1:
            rates.append((g.new_tokens - 1) / max(g.seconds - g.first_token_s, 1e-9))
        tokens += g.new_tokens
    return {"ttft_s": statistics.median(ttft), "decode_tokens_per_s": statistics.median(rates),
            "prompt_count": len(records), "new_tokens": tokens}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prompts", type=int, default=6, help="validation prompts timed per variant")
    parser.add_argument("--max-new-tokens", type=int, default=48, help="longest reply generated while timing")
    parser.add_argument("--ppl-examples", type=int, default=40, help="validation examples for perplexity")
    parser.add_argument("--adapter", default="default", help="adapter folder, 'default' or 'none'")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (1 suits a shared CPU)")
    parser.add_argument("--keep-float", default=",".join(KEEP_FLOAT),
                        help="comma-separated linear layer names left in float32 by int8 ('' quantizes all)")
    parser.add_argument("--out", default=None, help="also write the figures as JSON here")
    args = parser.parse_args(argv)

    import torch
    from trustgen.evaluate import score_perplexity, validation_records
    from trustgen.generate import load_model
    from trustgen.quantize import quantize_int8, weight_bytes
    torch.set_num_threads(args.threads)
    bandwidth = memory_bandwidth()
    records = validation_records(limit=max(args.ppl_examples, args.prompts))
    timed = records[:args.prompts]
    adapter = None if args.adapter == "none" else args.adapter
    rows = {}
    keep_float = tuple(n.strip() for n in args.keep_float.split(",") if n.strip())
    for name, quantize in (("fp32", False), ("int8", True)):
        loaded = load_model(adapter_path=adapter)
        if quantize:
            quantize_int8(loaded.model, keep_float=keep_float)
        size = weight_bytes(loaded.model)
        row = {"weight_bytes_per_token": size["weight_bytes"],
               "bandwidth_bound_tokens_per_s": bandwidth / size["weight_bytes"]}
        row.update(speed(loaded, timed, args.max_new_tokens))
        row["share_of_bound"] = row["decode_tokens_per_s"] / row["bandwidth_bound_tokens_per_s"]
        ppl = score_perplexity(loaded, records[:args.ppl_examples])
        row.update(val_perplexity=ppl["perplexity"], ppl_tokens=ppl["tokens"])
        rows[name] = row
        print(f"{name}: done", flush=True)
        del loaded

    print(f"\nmodel: {'base' if adapter is None else 'base + adapter (merged)'}; memory bandwidth "
          f"{bandwidth / 1e9:.1f} GB/s (numpy copy); {args.threads} threads; {args.prompts} prompts; "
          f"perplexity on {args.ppl_examples} validation examples; int8 keeps {keep_float or 'nothing'} in float32\n")
    print("| variant | TTFT (s) | decode tok/s | weights read/token (MB) | bandwidth bound tok/s | share of bound "
          "| val perplexity |")
    print("|---|---|---|---|---|---|---|")
    for name, r in rows.items():
        print(f"| {name} | {r['ttft_s']:.3f} | {r['decode_tokens_per_s']:.1f} | {r['weight_bytes_per_token'] / 1e6:.0f} "
              f"| {r['bandwidth_bound_tokens_per_s']:.1f} | {r['share_of_bound']:.0%} | {r['val_perplexity']:.3f} |")
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps({"bandwidth_bytes_per_s": bandwidth, "threads": args.threads,
                                              "keep_float": keep_float, "adapter": args.adapter,
                                              "variants": rows}, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
