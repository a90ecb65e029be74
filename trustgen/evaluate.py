"""`shopbot eval model`: the base model against the fine-tuned one, same validation data, same run.

Two figures per model: perplexity of the reference replies on the validation split (reply tokens only), and
factual accuracy of greedy replies generated for the same validation prompts: the share whose every claim the
claim checker finds is supported by the prompt's facts, before any repair. Prints a table (overall and per
example kind) and writes JSON with --out. Does not train or repair; works for the tiny model too.

    shopbot eval model --limit 100 --out runs/eval-model.json
"""
from __future__ import annotations

import argparse
import json
import random
import time
from pathlib import Path

from .dataset import build_examples, facts_of
from .metrics import dataset_nll, factual_accuracy, perplexity

EVAL_SEED = 0  # the same validation prompts every run
MAX_LEN = 1024  # perplexity scores whole examples up to this many tokens (the same set for both models)
MAX_NEW_TOKENS = 160  # the length limit of trustgen.generate.generate, as the app runs it; a cut reply can end mid-id


def validation_records(data_root=None, seed: int = 0, limit: int | None = None) -> list[dict]:
    """The validation split as chat records, a seeded sample of `limit` of them (stratified by kind)."""
    from .prompting import build_messages
    records = [e.record(build_messages) for e in build_examples(data_root, seed) if e.held_out]
    if limit is None or limit >= len(records):
        return records
    rng, by_kind = random.Random(EVAL_SEED), {}
    for r in records:
        by_kind.setdefault(r["kind"], []).append(r)
    # Each kind gets its share of the sample, at least one, so rare kinds (hand-overs, policy) are measured.
    picked = []
    for kind in sorted(by_kind):
        group = by_kind[kind]
        take = max(1, round(limit * len(group) / len(records)))
        picked += rng.sample(group, min(take, len(group)))
    rng.shuffle(picked)
    return picked[:limit]


def score_perplexity(loaded, records, batch_size: int = 4) -> dict:
    from .train import batches, encode_all
    tok = loaded.tokenizer
    encoded = encode_all(records, tok, MAX_LEN)
    pad = tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id
    nats, tokens = dataset_nll(loaded.model, batches(encoded, batch_size, pad))
    return {"perplexity": perplexity(nats, tokens), "nats": nats, "tokens": tokens, "examples": len(encoded)}


def score_generation(loaded, records, check=None, max_new_tokens: int = MAX_NEW_TOKENS) -> dict:
    """Greedy replies for each record's prompt, checked against its facts (no repair)."""
    from .generate import generate
    if check is None:
        from .claims import check
    rows, started = [], time.perf_counter()
    for r in records:
        gen = generate(loaded, r["messages"][:-1], max_new_tokens=max_new_tokens, time_limit_s=30.0)
        checked = check(gen.text, facts_of(r))
        rows.append({"kind": r["kind"], "reply": gen.text, "reference": r["messages"][-1]["content"],
                     "new_tokens": gen.new_tokens, "claims": len(checked.claims),
                     "unsupported": [c.text for c in checked.claims if not c.supported], "checked": checked})
    overall = factual_accuracy(row["checked"] for row in rows)
    per_kind = {k: factual_accuracy(row["checked"] for row in rows if row["kind"] == k)
                for k in sorted({row["kind"] for row in rows})}
    for row in rows:
        del row["checked"]
    return {**overall, "per_kind": per_kind, "seconds": time.perf_counter() - started, "samples": rows}


def compare(models: dict, records, gen_records=None, check=None, log=print) -> dict:
    """{name: figures} for each loaded model on the same records; gen_records default to records."""
    gen_records = records if gen_records is None else gen_records
    results = {}
    for name, loaded in models.items():
        t = time.perf_counter()
        ppl = score_perplexity(loaded, records)
        log(f"{name}: perplexity {ppl['perplexity']:.3f} on {ppl['tokens']} reply tokens "
            f"({time.perf_counter() - t:.0f}s)")
        gen = score_generation(loaded, gen_records, check) if gen_records else {}
        if gen:
            log(f"{name}: factual accuracy {gen['accuracy']:.3f} on {gen['replies']} replies "
                f"({gen['seconds']:.0f}s)")
        results[name] = {"perplexity": ppl, "generation": gen}
    return results


def table(results: dict) -> str:
    """A markdown table of the figures, one row per model, then factual accuracy per example kind."""
    lines = ["| model | val perplexity | reply tokens | factual accuracy | replies | with claims | accuracy "
             "(with claims) | unsupported claims |", "|---|---|---|---|---|---|---|---|"]
    for name, r in results.items():
        p, g = r["perplexity"], r["generation"]
        lines.append(f"| {name} | {p['perplexity']:.3f} | {p['tokens']} | {g.get('accuracy', float('nan')):.3f} | "
                     f"{g.get('replies', 0)} | {g.get('replies_with_claims', 0)} | "
                     f"{g.get('accuracy_with_claims', float('nan')):.3f} | {g.get('unsupported_claims', 0)} |")
    kinds = sorted({k for r in results.values() for k in r["generation"].get("per_kind", {})})
    if kinds:
        lines += ["", "| kind | " + " | ".join(results) + " |", "|---|" + "---|" * len(results)]
        for k in kinds:
            cells = []
            for r in results.values():
                a = r["generation"]["per_kind"].get(k)
                cells.append(f"{a['accuracy']:.2f} ({a['replies']})" if a else "-")
            lines.append(f"| {k} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--limit", type=int, default=100, help="validation examples to score and generate for")
    parser.add_argument("--out", default=None, help="also write the figures (and sample replies) as JSON here")
    parser.add_argument("--data-root", default=None, help="shared data folder (default ../shared/data)")
    parser.add_argument("--adapter", default=None, help="adapter folder (default trustgen/adapters/shop-lora)")
    parser.add_argument("--no-generation", action="store_true", help="perplexity only (fast)")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (1 suits a shared CPU)")


def run(args) -> int:
    """Entry point of `shopbot eval model` (args has .limit and .out; the rest is optional)."""
    from .generate import DEFAULT_ADAPTER, load_model
    from .errors import ModelFilesError
    import torch
    # One thread by default: on a shared CPU two threads wait on each other at every operation (see the
    # thread note in docs/model.md: greedy decoding ran many times slower on two threads of a busy machine).
    torch.set_num_threads(getattr(args, "threads", None) or 1)
    limit = getattr(args, "limit", None) or 100
    adapter = Path(getattr(args, "adapter", None) or DEFAULT_ADAPTER)
    if not (adapter / "adapter_config.json").is_file():
        raise ModelFilesError(adapter / "adapter_config.json", "no fine-tuned adapter to compare",
                              "run `shopbot train --preset shop-lora`")
    records = validation_records(getattr(args, "data_root", None), limit=limit)
    models = {"base": load_model(adapter_path=None), "fine-tuned": load_model(adapter_path=adapter)}
    gen_records = [] if getattr(args, "no_generation", False) else records
    results = compare(models, records, gen_records)
    print(f"\nValidation split (held-out products, customers, FAQ entries, ASINs): {len(records)} examples, "
          f"greedy, max {MAX_NEW_TOKENS} new tokens\n")
    print(table(results))
    if getattr(args, "out", None):
        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps({"limit": limit, "adapter": str(adapter), "results": results}, indent=1,
                                  default=str), encoding="utf-8")
    return 0


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_arguments(p)
    raise SystemExit(run(p.parse_args()))
