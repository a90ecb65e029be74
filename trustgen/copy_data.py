"""The copy adapter's training set: chat records (train.jsonl, val.jsonl) in the shape trustgen.train reads.

Two tasks. Copy: the prompt `copywriter.copy_messages` builds, answered with checked phrasebook copy in one of the
three voices, for every variant of the shop's products that are NOT held out for `shopbot eval copy` (held out
by product, the same seeded split as copy_eval). Attribute sentences: one semiPQA attribute ("color: navy blue")
answered with the sentence a person wrote for it (amazon-pqa/semiPQA, train split only), so the model learns to
state a value in plain words. It does not train; `shopbot train --preset copy-lora` does.

    python -m trustgen.copy_data --out copy-data
"""
from __future__ import annotations

import argparse
import csv
import json
import random
import re
from pathlib import Path

from .copy_eval import held_out_product
from .copywriter import CopySettings, compose, copy_messages
from .dataset import DEFAULT_DATA_ROOT, DatasetError
from .prompting import prompt_wording

ATTRIBUTE_PROMPT = "Attribute: {key}: {value}\nWrite one sentence telling a shopper this attribute."
SEMIPQA_MAX = 300  # human attribute sentences kept; the copy task stays the larger share
_SIMPLE = re.compile(r'^"?(\w+): \{ value:""?(.+?)""? \}"?$')  # key: { value:"X" } only (no units, no lists)


def semipqa_pairs(root: Path, limit: int = SEMIPQA_MAX, seed: int = 0) -> list[tuple[str, str, str]]:
    """(key, value, sentence) from semiPQA's train split where the data is one plain value the sentence states."""
    path = root / "amazon-pqa" / "semiPQA" / "train.csv"
    if not path.is_file():
        raise DatasetError(path, "file is missing")
    out = []
    with open(path, encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh, delimiter="\t"):
            m = _SIMPLE.match((row.get("data") or "").strip())
            text = " ".join((row.get("text") or "").split())
            if not m or not text:
                continue
            key, value = m.group(1).replace("_", " "), m.group(2).strip('"')
            if value.lower() in text.lower() and 4 <= len(text.split()) <= 30:
                out.append((key, value, text[0].upper() + text[1:] + ("" if text[-1] in ".!?" else ".")))
    random.Random(seed).shuffle(out)
    return out[:limit]


def copy_records(products: dict, seed: int = 0) -> list[dict]:
    rng = random.Random(seed)
    styles = prompt_wording("copy")["styles"]
    records = []
    for pid, product in products.items():
        variants = sorted(product["variants"].values(), key=lambda v: v["item_id"])
        split = "val" if held_out_product(pid) else "train"
        for shape, raw in enumerate(variants):
            if not raw.get("available"):
                continue
            variant = dict(raw, name=product["name"], product_id=pid)
            for style in rng.sample(styles, 2):  # two voices per variant
                settings = CopySettings(style=style, with_price=rng.random() < 0.2)
                reply = compose(variant, settings, shape)
                records.append({"kind": "copy", "source": "shop", "split": split, "products": [pid],
                                "messages": copy_messages(variant, settings) + [{"role": "assistant", "content": reply}]})
    return records


def attribute_records(pairs) -> list[dict]:
    return [{"kind": "attribute", "source": "semiPQA", "split": "train", "products": [],
             "messages": [{"role": "user", "content": ATTRIBUTE_PROMPT.format(key=k, value=v)},
                          {"role": "assistant", "content": s}]} for k, v, s in pairs]


def build(data_root: str | Path | None = None, seed: int = 0) -> list[dict]:
    root = Path(data_root) if data_root else DEFAULT_DATA_ROOT
    products_path = root / "tau-bench-retail" / "products.json"
    if not products_path.is_file():
        raise DatasetError(products_path, "file is missing")
    products = json.loads(products_path.read_text(encoding="utf-8"))
    records = copy_records(products, seed) + attribute_records(semipqa_pairs(root, seed=seed))
    random.Random(seed).shuffle(records)
    return records


def write(records, out: str | Path) -> dict[str, int]:
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    counts = {"train": 0, "val": 0}
    with open(out / "train.jsonl", "w", encoding="utf-8") as tr, open(out / "val.jsonl", "w", encoding="utf-8") as va:
        for r in records:
            (va if r["split"] == "val" else tr).write(json.dumps(r, ensure_ascii=False) + "\n")
            counts[r["split"]] += 1
    return counts


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="Build the copy adapter's training set.")
    parser.add_argument("--data-root", default=None, help=f"shared data folder; default {DEFAULT_DATA_ROOT}")
    parser.add_argument("--out", required=True, help="folder to write train.jsonl and val.jsonl into")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    counts = write(build(args.data_root, args.seed), args.out)
    print(f"wrote {counts['train']} training and {counts['val']} validation records to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
