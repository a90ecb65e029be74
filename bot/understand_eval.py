"""`shopbot eval understanding`: exact-match accuracy of the Reading on the unseen-phrasing dev split.

The dev split: messages written from the held-out phrasing families (bot/nlu/generate.py, split "dev", the
tau-bench dev tasks) and the hand-written messages and conversations of bot/data/nlu/dev_hand.yaml; none of their
wordings are trained on. A message counts as right when every request matches its label in kind, order and
arguments (the customer's quoted `mention` and `confidence` aside; a policy question's first FAQ passage must be
one of those labelled, when labelled; an unknown product's words compare as singular tokens; a recommendation's
topic is the customer's own words and is not compared). The clause classifiers are measured side by side in one
run, with the reader's own latency per message (p50, p95): `minilm` (the shipped one, on the reader's adapted
encoder, bot/nlu/encoder.py), `plain` (the same logistic regression fitted on the plain encoder), `chars`.

The test split (bot/data/nlu/test_hand.yaml, 272 messages) was written apart from the training phrasings, the dev
set and the reader's code, and is reported in the same run. The dev split's misses have been read to find the
reader's faults; the test split's have not, so it is the figure of how the reader does on wording it has not met.
"""
from __future__ import annotations

import json
import statistics
import time
from collections import Counter
from importlib import resources
from pathlib import Path

import yaml

from .reading import Reading, empty_focus


def add_arguments(parser) -> None:
    parser.add_argument("--generated", type=int, default=400, help="dev messages from the held-out families")
    parser.add_argument("--seed", type=int, default=1, help="seed of the generated dev messages")
    parser.add_argument("--candidates", default="minilm,plain,chars",
                        help="clause classifiers to compare: minilm (adapted encoder, shipped), plain (plain encoder), "
                             "chars, cascade (chars, then minilm where chars is unsure)")
    parser.add_argument("--out", default=None, help="also write the figures and the misses as JSON to this file")
    parser.add_argument("--show-misses", type=int, default=0, help="print this many misses per candidate")


# ---------------------------------------------------------------- the dev set
def _resolve(label: list[dict], ids: dict[str, str]) -> dict:
    """A hand label (catalog names) -> a Reading dict (catalog ids)."""
    def ref(d):
        d = dict(d)
        if "product" in d:
            d["product_id"] = ids[d.pop("product").lower()]
        return d
    requests = []
    for r in label:
        r = dict(r)
        if "catalog" in r:
            c = dict(r["catalog"])
            if "products" in c:
                c["product_ids"] = [ids[p.lower()] for p in c.pop("products")]
            if "compare" in c:
                c["compare"] = [ref(x) for x in c["compare"]]
            r["catalog"] = c
        if "items" in r:
            r["items"] = [{**ch, "item": ref(ch.get("item", {}))} for ch in r["items"]]
        if "faq" in r:
            r["faq_ids"] = r.pop("faq")
        requests.append(r)
    return Reading.from_dict({"requests": requests}).to_dict()


def dev_set(store, generated: int = 400, seed: int = 1) -> list[dict]:
    """[{text, state, reading, source}] with the state before each message."""
    from .nlu.generate import Generator
    out = []
    for ex in Generator(store, "dev", seed).examples(generated):
        out.append({"text": ex.text, "state": ex.state, "reading": ex.reading, "source": "generated"})
    return out + hand_set(store, "dev_hand.yaml", ("hand", "conversation"))


def test_set(store) -> list[dict]:
    """The test split: bot/data/nlu/test_hand.yaml, written apart from the phrasing families, the dev set and
    the reader's code, and never used to tune them; reported beside the dev split, not inside it."""
    return hand_set(store, "test_hand.yaml", ("test", "test conversation"))


def hand_set(store, name: str, sources: tuple[str, str]) -> list[dict]:
    """The labelled messages and conversations of one hand-written file, each with the state before it."""
    from .understand import Reader
    ids = {n.lower(): p for p, n in ((v["product_id"], v["name"]) for v in store.variants())}
    out = []
    raw = yaml.safe_load((resources.files("bot") / "data" / "nlu" / name).read_text(encoding="utf-8"))
    for m in raw["messages"]:
        state = dict(m.get("state") or {})
        state["focus"] = {**empty_focus(), **state.get("focus", {})}
        out.append({"text": m["text"], "state": state, "reading": _resolve(m["reading"], ids), "source": sources[0]})
    remember = Reader(store).remember
    for conversation in raw["conversations"]:
        state: dict = {"focus": empty_focus()}
        for turn in conversation:
            state = {**state, "awaiting": turn.get("awaiting", ""), "task": turn.get("task", "")}
            gold = _resolve(turn["reading"], ids)
            out.append({"text": turn["text"], "state": json.loads(json.dumps(state)), "reading": gold,
                        "source": sources[1]})
            remember(state, Reading.from_dict(gold))
    return out


# ---------------------------------------------------------------- comparing Readings
def _canon(reading: dict) -> list[dict]:
    from .nlu.lexicon import _norm_phrase
    out = []
    for r in reading.get("requests", []):
        r = {k: v for k, v in r.items() if k not in ("confidence", "faq_ids", "topic")}  # topic: the customer's words
        for ch in r.get("items", []):
            ch.get("item", {}).pop("mention", None)
        if "catalog" in r:
            c = dict(r["catalog"])
            for ref in c.get("compare", []):
                ref.pop("mention", None)
            for bound in ("price_min", "price_max"):
                if c.get(bound) is not None:
                    c[bound] = float(c[bound])
            if c.get("unknown_product"):
                c["unknown_product"] = " ".join(_norm_phrase(c["unknown_product"]))
            r["catalog"] = c
        out.append(r)
    return out


def matches(predicted: dict, gold: dict) -> bool:
    if json.dumps(_canon(predicted), sort_keys=True) != json.dumps(_canon(gold), sort_keys=True):
        return False
    for p, g in zip(predicted.get("requests", []), gold.get("requests", [])):
        if g.get("faq_ids") and (not p.get("faq_ids") or p["faq_ids"][0] not in g["faq_ids"]):
            return False
    return True


# ---------------------------------------------------------------- measuring
def _classifier(name: str, store, embedder, cache: dict):
    """The candidate `name`; `cache["training"]` holds the training clauses the fitted ones are fitted on."""
    from .nlu.classify import CascadeClauses, CharClauses, MiniLMClauses
    if name not in cache:
        data = cache["training"]
        texts, awaiting, labels = [c for c, _, _ in data], [a for _, a, _ in data], [lab for _, _, lab in data]
        if name == "minilm":  # the shipped one: the reader's adapted encoder (bot/nlu/encoder.py) + LR
            cache[name] = MiniLMClauses.load()
        elif name == "plain":  # the same LR fitted here on the plain encoder's embeddings (a minute or two)
            cache[name] = MiniLMClauses.train(texts, awaiting, labels, embedder)
        elif name == "chars":
            cache[name] = CharClauses.train(texts, awaiting, labels)
        elif name == "cascade":
            cache[name] = CascadeClauses(_classifier("chars", store, embedder, cache),
                                         _classifier("minilm", store, embedder, cache))
        else:
            raise ValueError(f"unknown candidate {name!r}: minilm, plain, chars or cascade")
    return cache[name]


def _reader(name: str, store, index, embedder, cache: dict):
    from .understand import Reader
    classifier = _classifier(name, store, embedder, cache)
    reader = Reader.load(store, index=index, embedder=embedder, classifier=classifier)
    reader.warm_up()
    return reader


def evaluate(store, index=None, embedder=None, candidates=("minilm", "chars"), generated=400, seed=1) -> dict:
    from .nlu.train import training_clauses
    dev = dev_set(store, generated, seed)
    test = test_set(store)
    training = training_clauses(store)
    trained = {c.lower().strip(" ?.!") for c, _, _ in training}
    report = {"examples": len(dev), "sources": dict(Counter(e["source"] for e in dev)),
              "seen": sum(1 for e in dev if e["text"].lower().strip(" ?.!") in trained),
              "with_state": sum(1 for e in dev if e["state"].get("awaiting") or e["state"]["focus"] != empty_focus()),
              "test_examples": len(test), "test_sources": dict(Counter(e["source"] for e in test)),
              "candidates": {}}
    cache: dict = {"training": training}
    for name in candidates:
        reader = _reader(name, store, index, embedder, cache)
        report["candidates"][name] = {**score(reader, dev), "test": score(reader, test)}
    return report


def score(reader, examples: list[dict]) -> dict:
    """Exact-match accuracy overall, per kind and per source, the reader's latency, and the misses."""
    right, seconds, misses = [], [], []
    for e in examples:
        start = time.perf_counter()
        predicted = reader.read(e["text"], json.loads(json.dumps(e["state"]))).to_dict()
        seconds.append(time.perf_counter() - start)
        ok = matches(predicted, e["reading"])
        right.append(ok)
        if not ok:
            misses.append({"text": e["text"], "state": e["state"], "gold": e["reading"], "read": predicted,
                           "source": e["source"]})
    kinds: dict[str, list[bool]] = {}
    for e, ok in zip(examples, right):
        for kind in {r["kind"] for r in e["reading"]["requests"]}:
            kinds.setdefault(kind, []).append(ok)
    sources = {s: [ok for e, ok in zip(examples, right) if e["source"] == s] for s in {e["source"] for e in examples}}
    ms = sorted(s * 1000 for s in seconds)
    return {"accuracy": sum(right) / len(right),
            "kinds": {k: {"examples": len(v), "accuracy": sum(v) / len(v)} for k, v in sorted(kinds.items())},
            "sources": {s: sum(v) / len(v) for s, v in sources.items() if v},
            "p50_ms": statistics.median(ms), "p95_ms": ms[int(0.95 * (len(ms) - 1))], "misses": misses}


def print_table(report: dict, show_misses: int = 0) -> None:
    names = list(report["candidates"])
    print(f"dev split: {report['examples']} messages ({', '.join(f'{k} {v}' for k, v in report['sources'].items())}); "
          f"{report['with_state']} read with a dialogue state; {report['seen']} whose exact wording is also a training "
          f"clause (short answers such as 'yes', 'thanks')")
    print(f"{'kind':<14}{'n':>5}" + "".join(f"{n:>10}" for n in names))
    kinds = sorted({k for c in report["candidates"].values() for k in c["kinds"]})
    for k in kinds:
        n = report["candidates"][names[0]]["kinds"].get(k, {}).get("examples", 0)
        print(f"{k:<14}{n:>5}" + "".join(f"{report['candidates'][c]['kinds'].get(k, {}).get('accuracy', 0):>10.3f}"
                                          for c in names))
    for source in report["sources"]:
        print(f"{'[' + source + ']':<14}{report['sources'][source]:>5}" +
              "".join(f"{report['candidates'][c]['sources'].get(source, 0):>10.3f}" for c in names))
    print(f"{'all':<14}{report['examples']:>5}" + "".join(f"{report['candidates'][c]['accuracy']:>10.3f}" for c in names))
    print(f"{'p50 ms':<19}" + "".join(f"{report['candidates'][c]['p50_ms']:>10.1f}" for c in names))
    print(f"{'p95 ms':<19}" + "".join(f"{report['candidates'][c]['p95_ms']:>10.1f}" for c in names))
    test = {c: report["candidates"][c]["test"] for c in names}
    print(f"test split (never tuned on): {report['test_examples']} messages "
          f"({', '.join(f'{k} {v}' for k, v in report['test_sources'].items())})")
    for k in sorted({k for c in test.values() for k in c["kinds"]}):
        n = test[names[0]]["kinds"].get(k, {}).get("examples", 0)
        print(f"{k:<14}{n:>5}" + "".join(f"{test[c]['kinds'].get(k, {}).get('accuracy', 0):>10.3f}" for c in names))
    print(f"{'all':<14}{report['test_examples']:>5}" + "".join(f"{test[c]['accuracy']:>10.3f}" for c in names))
    for c in names:
        for miss in report["candidates"][c]["misses"][:show_misses]:
            print(f"[{c}] {miss['text']!r}\n   gold {json.dumps(miss['gold']['requests'])}\n   read "
                  f"{json.dumps(miss['read']['requests'])}")


def run(args) -> int:
    import torch
    torch.set_num_threads(1)  # one short message at a time: more threads only contend on a shared CPU
    from knowledge.embeddings import default_embedder
    from knowledge.ingest import open_shop_index
    from knowledge.paths import default_data_dir
    from knowledge.store import open_store
    data_dir = Path(getattr(args, "data_dir", None) or default_data_dir())
    store = open_store(data_dir)
    embedder = default_embedder()
    index = open_shop_index(data_dir, embedder=embedder, store=store)
    report = evaluate(store, index, embedder, tuple(args.candidates.split(",")), args.generated, args.seed)
    print_table(report, args.show_misses)
    if args.out:
        Path(args.out).write_text(json.dumps(report, indent=2), encoding="utf-8")
    return 0
