"""`shopbot eval TARGET`: one entry point for every measurement; each target lives in its own package.

    shopbot eval search      retrieval on the labelled shop questions and on real Amazon shopper questions
    shopbot eval model       perplexity and factual accuracy, base model against fine-tuned
    shopbot eval intents     intent accuracy on the held-out customer-support utterances
    shopbot eval scenarios   scripted customers play the retail tasks against the assistant
    shopbot eval understanding   the reader's Readings on unseen phrasings: accuracy per kind, latency
    shopbot eval security    attack probes (injection, disclosure, markup) and false refusals
    shopbot eval copy        advertising copy on held-out products against the copy rules

Each target module has `add_arguments(parser)` (its own options) and `run(args) -> int`.
"""
from __future__ import annotations

import importlib

TARGETS = {
    "search": ("knowledge.evaluate", "retrieval: dense, BM25 and hybrid on shop and shopper questions"),
    "model": ("trustgen.evaluate", "perplexity and factual accuracy, base model against fine-tuned"),
    "intents": ("bot.intent_eval", "intent accuracy on the held-out customer-support utterances"),
    "understanding": ("bot.understand_eval", "the reader on unseen phrasings: exact-match accuracy per kind, p50/p95"),
    "scenarios": ("bot.evaluate", "scripted customers play the retail tasks; pass^1, pass^k, unsupported claims"),
    "security": ("bot.security_eval", "attack probes by family and false refusals on ordinary requests"),
    "copy": ("trustgen.copy_eval", "advertising copy on held-out products: rules passed, coverage, variety, speed"),
}


def add_arguments(parser) -> None:
    sub = parser.add_subparsers(dest="target", metavar="TARGET", required=True)
    for name, (module_name, help_text) in TARGETS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        module = importlib.import_module(module_name)
        if hasattr(module, "add_arguments"):
            module.add_arguments(p)
        else:
            p.add_argument("--limit", type=int, default=None, help="measure on at most this many examples")
            p.add_argument("--out", default=None, help="also write the figures as JSON to this file")
        p.set_defaults(_eval_module=module)


def run(args) -> int:
    return args._eval_module.run(args)
