"""Latency of a real grounded reply: generate with the model, check every claim, repair or fall back.

Builds N requests from the packaged demo shop (product, order and FAQ questions, fixed seed), runs
`GroundedWriter.write` on each after one warm-up reply, and prints the median and 90th percentile wall time,
the time to generate alone, and how many replies were sent as written, repaired or replaced by the template.
Run: `nice -n 10 .venv/bin/python bench/trust_latency.py --n 10 [--threads 1] [--adapter none] [--quantize]`.
"""
from __future__ import annotations

import argparse
import json
import random
import statistics
import tempfile
import time
from pathlib import Path


def requests(n: int, seed: int = 3):
    from knowledge.faq import load_faq
    from knowledge.store import Store
    from trustgen.types import ReplyRequest, fact_from_faq, fact_from_order, fact_from_variant

    rng = random.Random(seed)
    store, _ = Store.create(Path(tempfile.mkdtemp()) / "shop.db")
    variants = rng.sample(store.variants(), n)
    orders = [o for uid in sorted(store.export()["users"])[:30] for o in store.orders_of(uid)]
    faq = load_faq()
    out = []
    for i in range(n):
        kind = i % 3
        if kind == 0:
            v = store.get_variant(variants[i]["item_id"])
            opts = ", ".join(map(str, v["options"].values()))
            out.append(ReplyRequest(f"How much is the {v['name'].lower()} in {opts}, and is it in stock?",
                                    (fact_from_variant(v),),
                                    f"The {v['name']} ({opts}) costs ${v['price']:.2f} and is "
                                    f"{'in stock' if v['available'] else 'out of stock'}."))
        elif kind == 1:
            o = rng.choice(orders)
            out.append(ReplyRequest(f"What's the status of my order {o['order_id']}?", (fact_from_order(o),),
                                    f"Your order {o['order_id']} is {o['status']}."))
        else:
            e = rng.choice(faq)
            out.append(ReplyRequest(e.question, (fact_from_faq(e),), e.answer))
    store.close()
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10, help="number of requests (default 10)")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    parser.add_argument("--adapter", default="default", help="'default' (shop adapter if present), 'none' or a path")
    parser.add_argument("--quantize", action="store_true", help="int8 dynamic quantization of linear layers")
    parser.add_argument("--max-new-tokens", type=int, default=None, help="default: WriterConfig's")
    parser.add_argument("--out", help="write the figures as JSON here")
    args = parser.parse_args(argv)

    import torch

    from trustgen.claims import check_and_repair
    from trustgen.generate import generate, load_model
    from trustgen.prompting import build_messages
    from trustgen.writer import GroundedWriter, ModelGenerator, WriterConfig, usable_text

    if args.threads:
        torch.set_num_threads(args.threads)
    config = WriterConfig(quantize=args.quantize, adapter_path=None if args.adapter == "none" else args.adapter)
    if args.max_new_tokens:
        config = WriterConfig(**{**config.__dict__, "max_new_tokens": args.max_new_tokens})
    started = time.perf_counter()
    loaded = load_model(None, config.adapter_path, config.quantize)
    load_s = time.perf_counter() - started
    writer = GroundedWriter(ModelGenerator(config, loaded), config)
    reqs = requests(args.n)
    writer.write(reqs[0])  # warm-up: first-call allocations are not a customer's latency
    rows = []
    for req in reqs:  # exactly what GroundedWriter.write does, timed in its two parts
        t0 = time.perf_counter()
        gen = generate(loaded, build_messages(req), max_new_tokens=config.max_new_tokens,
                       time_limit_s=config.time_limit_s)
        t1 = time.perf_counter()
        reply = check_and_repair(usable_text(gen), req.facts, req.template)
        t2 = time.perf_counter()
        outcome = "template" if reply.fell_back else "repaired" if reply.repaired else "as written"
        rows.append({"total_s": t2 - t0, "generate_s": t1 - t0, "check_s": t2 - t1, "tokens": gen.new_tokens,
                     "prompt_tokens": gen.prompt_tokens, "outcome": outcome, "first_token_s": gen.first_token_s,
                     "stopped_by": gen.stopped_by, "message": req.message, "model_text": gen.text,
                     "reply": reply.text})
    totals = sorted(r["total_s"] for r in rows)
    figures = {
        "model": loaded.name, "threads": torch.get_num_threads(), "n": len(rows), "load_s": round(load_s, 2),
        "median_reply_s": round(statistics.median(totals), 2),
        "p90_reply_s": round(totals[min(len(totals) - 1, int(0.9 * len(totals)))], 2),
        "median_first_token_s": round(statistics.median(r["first_token_s"] or 0 for r in rows), 2),
        "median_tokens": statistics.median(r["tokens"] for r in rows),
        "median_prompt_tokens": statistics.median(r["prompt_tokens"] for r in rows),
        "median_check_s": round(statistics.median(r["check_s"] for r in rows), 3),
        "outcomes": {k: sum(r["outcome"] == k for r in rows) for k in ("as written", "repaired", "template")},
    }
    for r in rows:
        print(f"{r['total_s']:6.2f} s  {r['tokens']:3d} tok  {r['outcome']:<10}  {r['message'][:50]!r}\n"
              f"    model: {r['model_text'][:110]!r}\n    sent:  {r['reply'][:110]!r}")
    print(json.dumps(figures, indent=2))
    if args.out:
        Path(args.out).write_text(json.dumps({"figures": figures, "rows": rows}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
