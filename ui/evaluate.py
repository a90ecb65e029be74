"""`shopbot eval TARGET`: one entry point for every measurement; each target lives in its own package.

    shopbot eval search      retrieval on the labelled shop questions and on real Amazon shopper questions
    shopbot eval model       perplexity and factual accuracy, base model against fine-tuned
    shopbot eval intents     intent accuracy on the held-out customer-support utterances
    shopbot eval scenarios   scripted customers play the retail tasks against the assistant
"""
from __future__ import annotations

import importlib

TARGETS = {
    "search": "knowledge.evaluate",
    "model": "trustgen.evaluate",
    "intents": "bot.intent_eval",
    "scenarios": "bot.evaluate",
}


def add_arguments(parser) -> None:
    parser.add_argument("target", choices=sorted(TARGETS), help="what to measure")
    parser.add_argument("--limit", type=int, default=None, help="measure on at most this many examples")
    parser.add_argument("--out", default=None, help="also write the figures as JSON to this file")


def run(args) -> int:
    module = importlib.import_module(TARGETS[args.target])
    return module.run(args)
