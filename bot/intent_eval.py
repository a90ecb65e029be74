"""`shopbot eval intents`: accuracy of the packaged intent classifier on the held-out examples.

Held out: a fixed fifth of the Bitext utterances (27 intents) and of the shop's own examples, chosen by a hash
of the text (bot/intents.py `is_held_out`); the classifier never saw them. Prints overall and per-source
accuracy and the worst intents; `--out` writes the figures as JSON. `--limit N` scores the first N held-out.
"""
from __future__ import annotations

import json
import time
from collections import Counter
from pathlib import Path


def evaluate(limit: int | None = None, classifier=None) -> dict:
    from .intents import IntentClassifier, load_examples, split
    _, test = split(load_examples())
    if limit:
        test = test[:limit]
    classifier = classifier or IntentClassifier.load()
    start = time.perf_counter()
    predictions = classifier.predict_many([e.text for e in test])
    seconds = time.perf_counter() - start
    report = {"examples": len(test), "seconds": round(seconds, 1), "sources": {}, "intents": {}}
    for source in sorted({e.source for e in test}):
        pairs = [(e, p) for e, p in zip(test, predictions) if e.source == source]
        report["sources"][source] = {"examples": len(pairs),
                                     "accuracy": sum(e.intent == p.intent for e, p in pairs) / max(1, len(pairs))}
    totals, right = Counter(e.intent for e in test), Counter(e.intent for e, p in zip(test, predictions)
                                                              if e.intent == p.intent)
    report["intents"] = {i: {"examples": n, "accuracy": right[i] / n} for i, n in sorted(totals.items())}
    report["accuracy"] = sum(right.values()) / max(1, len(test))
    return report


def print_table(report: dict) -> None:
    print(f"{'held-out set':<16}{'examples':>10}{'accuracy':>10}")
    for source, s in report["sources"].items():
        print(f"{source:<16}{s['examples']:>10}{s['accuracy']:>10.3f}")
    print(f"{'all':<16}{report['examples']:>10}{report['accuracy']:>10.3f}")
    worst = sorted(report["intents"].items(), key=lambda kv: kv[1]["accuracy"])[:5]
    print("lowest: " + ", ".join(f"{i} {s['accuracy']:.2f} (n={s['examples']})" for i, s in worst))
    print(f"{report['seconds']} s to classify")


def run(args) -> int:
    import torch
    torch.set_num_threads(1)  # short sentences: more threads only contend on a shared CPU
    report = evaluate(limit=getattr(args, "limit", None))
    print_table(report)
    if getattr(args, "out", None):
        Path(args.out).write_text(json.dumps(report, indent=2), encoding="utf-8")
    return 0
