"""Latency of a real grounded reply: generate with the model, check every claim, repair or fall back.

Builds N requests from the packaged demo shop (product, order and FAQ questions, fixed seed), runs
`GroundedWriter.write` on each after one warm-up reply (checked sentences going to a sink, as `Bot.stream` has
them), and prints the median and 90th percentile reply time, the time to the first checked sentence, and how many
replies were sent as written, repaired or replaced by the template. Whole bot turns: bench/turn_latency.py.
Run: `nice -n 10 .venv/bin/python bench/trust_latency.py --n 10 [--engine ct2|transformers] [--adapter none]`.
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
    parser.add_argument("--engine", default="auto", help="auto (ct2 when installed), ct2, transformers or openai")
    parser.add_argument("--threads", type=int, default=1, help="cores per generation")
    parser.add_argument("--adapter", default="default", help="'default' (shop adapter if present), 'none' or a path")
    parser.add_argument("--quantize", action="store_true", help="transformers engine: int8 linear layers")
    parser.add_argument("--max-new-tokens", type=int, default=None, help="default: WriterConfig's")
    parser.add_argument("--out", help="write the figures as JSON here")
    args = parser.parse_args(argv)

    from trustgen.writer import GroundedWriter, ModelGenerator, WriterConfig, streaming_to

    config = WriterConfig(engine=args.engine, quantize=args.quantize, threads=args.threads,
                          adapter_path=None if args.adapter == "none" else args.adapter)
    if args.max_new_tokens:
        config = WriterConfig(**{**config.__dict__, "max_new_tokens": args.max_new_tokens})
    generator = ModelGenerator(config)
    started = time.perf_counter()
    generator.load()
    load_s = time.perf_counter() - started
    writer = GroundedWriter(generator, config)
    reqs = requests(args.n)
    writer.write(reqs[0])  # warm-up: first-call allocations are not a customer's latency
    rows = []
    for req in reqs:  # GroundedWriter.write as Bot.stream drives it: checked sentences to a sink
        seen = []
        t0 = time.perf_counter()
        with streaming_to(lambda piece: seen.append(time.perf_counter() - t0)):
            reply = writer.write(req)
        total = time.perf_counter() - t0
        outcome = "template" if not reply.used_model else "repaired" if reply.repaired else "as written"
        rows.append({"total_s": total, "first_sentence_s": seen[0] if seen else total, "outcome": outcome,
                     "message": req.message, "reply": reply.text})
    totals = sorted(r["total_s"] for r in rows)
    figures = {
        "engine": getattr(generator.engine, "name", args.engine), "threads": args.threads, "n": len(rows),
        "load_s": round(load_s, 2), "median_reply_s": round(statistics.median(totals), 2),
        "p90_reply_s": round(totals[min(len(totals) - 1, int(0.9 * len(totals)))], 2),
        "median_first_sentence_s": round(statistics.median(r["first_sentence_s"] for r in rows), 2),
        "outcomes": {k: sum(r["outcome"] == k for r in rows) for k in ("as written", "repaired", "template")},
        "healthy": writer.healthy,
    }
    for r in rows:
        print(f"{r['total_s']:6.2f} s  first {r['first_sentence_s']:5.2f} s  {r['outcome']:<10}  {r['message'][:50]!r}\n"
              f"    sent:  {r['reply'][:110]!r}")
    print(json.dumps(figures, indent=2))
    if args.out:
        Path(args.out).write_text(json.dumps({"figures": figures, "rows": rows}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
