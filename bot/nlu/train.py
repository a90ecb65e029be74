"""Training data for the clause classifier, and training of the shipped MiniLM one.

Clauses come from three sources: messages generated from the train phrasing families (bot/nlu/generate.py),
the Bitext customer-support utterances (training fifth excluded as in bot/intents.py; intents mapped to the
Reading's labels, unrelated ones left out), and the sentences of the tau-bench train task instructions turned
into first person ("Cancel order #W... because ..."). Dev phrasings are never used. Run
`python -m bot.nlu.train` (a couple of minutes on a CPU) to rewrite bot/data/nlu/clauses.npz on the reader's
encoder; `--encoder` first retrains that encoder's adapter (encoder.py).
"""
from __future__ import annotations

import random
import re
from pathlib import Path

import numpy as np

# Bitext and shop intents -> clause labels (intents the Reading has no label for are left out).
FROM_INTENT = {
    "cancel_order": "order_task:cancel", "change_shipping_address": "order_task:order_address",
    "set_up_shipping_address": "order_task:user_address", "track_order": "account_info:order_status",
    "order_details": "account_info:order_status", "check_refund_policy": "policy", "delivery_period": "policy",
    "delivery_options": "policy", "check_cancellation_fee": "policy", "contact_human_agent": "handover",
    "contact_customer_service": "handover", "complaint": "handover", "modify_payment": "order_task:payment",
    "exchange_item": "order_task:exchange", "return_item": "order_task:return", "modify_items": "order_task:modify_items",
    "gift_card_balance": "account_info:gift_card", "privacy_what_you_know": "privacy:show", "forget_me": "privacy:forget",
    "personalisation_off": "privacy:personalise_off", "recommend_product": "recommend", "greeting": "greeting",
    "thanks": "thanks", "get_refund": "order_task:return",
}
HOW_TO = re.compile(r"\b(how (to|can|do|could|would)|where (can|do|to)|what is the (process|procedure)|"
                    r"is it possible|information|what do i have to do|what are the steps)\b", re.I)
TAU_SENTENCE = [
    (re.compile(r"^Cancel order"), "order_task:cancel"), (re.compile(r"^Return "), "order_task:return"),
    (re.compile(r"exchange "), "order_task:exchange"), (re.compile(r"modify "), "order_task:modify_items"),
    (re.compile(r"change address"), "order_task:order_address"), (re.compile(r"change payment"), "order_task:payment"),
    (re.compile(r"^Your name is"), "identify"), (re.compile(r"default address|user address"), "order_task:user_address"),
]


def bitext_clauses(rng: random.Random, per_intent: int = 60) -> list[tuple[str, str, str]]:
    from ..intents import load_examples, split
    train, _ = split(load_examples())
    by_label: dict[str, list[str]] = {}
    for e in train:
        label = FROM_INTENT.get(e.intent)
        if label:
            text = re.sub(r"\{\{[^}]*\}\}", lambda m: "#W" + str(rng.randrange(1000000, 9999999))
                          if "Order" in m.group(0) else "it", e.text)
            if label.startswith("order_task") and HOW_TO.search(text):
                label = "policy"  # "how can I cancel an order?" asks how it works, it does not ask to act
            by_label.setdefault(label, []).append(text)
    out = []
    for label, texts in by_label.items():
        rng.shuffle(texts)
        out += [(t, "", label) for t in texts[:per_intent]]
    return out


def tau_clauses(rng: random.Random, limit: int = 400) -> list[tuple[str, str, str]]:
    from .generate import tau_tasks
    out = []
    for task in tau_tasks("train"):
        for sentence in re.split(r"(?<=\.)\s+(?=[A-Z])", task["instruction"]):
            sentence = re.sub(r"\{[^}]*\}", "", sentence).strip()
            sentence = re.sub(r"^Your ", "My ", sentence).replace(" your ", " my ")
            for pattern, label in TAU_SENTENCE:
                if pattern.search(sentence):
                    out.append((sentence, "identify" if label == "identify" else "", label))
                    break
    rng.shuffle(out)
    return out[:limit]


def dev_wordings() -> set[str]:
    """The dev families' fixed wordings and the hand-written dev messages, lower case: kept out of the Bitext and
    tau-bench training clauses (the generator's train families are kept apart by the dev test instead)."""
    from .generate import phrasings
    p = phrasings()
    tables = list(p["requests"].values()) + list(p["details"].values()) + list(p["pieces"].values())
    from importlib import resources
    import yaml
    hand = yaml.safe_load((resources.files("bot") / "data" / "nlu" / "dev_hand.yaml").read_text(encoding="utf-8"))
    texts = [m["text"] for m in hand["messages"]] + [t["text"] for c in hand["conversations"] for t in c]
    return {t.lower().strip(" ?.!") for table in tables if isinstance(table, dict)
            for t in table.get("dev", []) if "{" not in t} | {t.lower().strip(" ?.!") for t in texts}


def training_clauses(store, n_messages: int = 8000, seed: int = 0) -> list[tuple[str, str, str]]:
    """(clause, awaiting, label) triples from the generator's train families, Bitext and tau-bench train."""
    from .generate import Generator
    rng = random.Random(seed)
    gen = Generator(store, "train", seed)
    held_out = dev_wordings()  # a casual slip can turn a train wording into a dev one ("thanks" -> "thx")
    out = [c for ex in gen.examples(n_messages) for c in ex.clauses]
    return [c for c in out + bitext_clauses(rng) + tau_clauses(rng) if c[0].lower().strip(" ?.!") not in held_out]


class CachedEmbedder:
    """The embedder with a cache of the vectors it has made, kept on disk between retrains (same texts, same
    vectors: retraining after a change to the phrasings embeds only the new clauses)."""

    def __init__(self, embedder, path: Path):
        self.inner, self.path, self.name = embedder, path, embedder.name
        self.cache: dict[str, np.ndarray] = {}
        if path.exists():
            data = np.load(path, allow_pickle=False)
            if str(data["embedder"]) == self.name:
                self.cache = dict(zip((str(t) for t in data["texts"]), data["vectors"]))

    def encode(self, texts, batch_size: int = 64, progress: bool = False):
        missing = list(dict.fromkeys(t for t in texts if t not in self.cache))
        if missing:
            for t, v in zip(missing, self.inner.encode(missing, batch_size=batch_size)):
                self.cache[t] = v
        return np.stack([self.cache[t] for t in texts])

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        texts = list(self.cache)
        np.savez(self.path, texts=np.array(texts), vectors=np.stack([self.cache[t] for t in texts]),
                 embedder=np.array(self.name))


def main() -> None:
    import argparse
    import json
    import logging
    import torch
    from knowledge.embeddings import default_embedder
    from knowledge.paths import default_data_dir
    from knowledge.store import open_store
    from .classify import ARTEFACT, MiniLMClauses
    from .encoder import adapter_dir, build_merged, reader_encoder, train_adapter
    parser = argparse.ArgumentParser(description="train the reader's clause classifier (and its encoder adapter)")
    parser.add_argument("--messages", type=int, default=8000, help="generated training messages")
    parser.add_argument("--seed", type=int, default=0, help="generator seed")
    parser.add_argument("--encoder", action="store_true",
                        help="first train the encoder's LoRA adapter (bot/data/nlu/reader-lora; about 20 minutes)")
    parser.add_argument("--plain", action="store_true", help="fit the classifier on the plain encoder, no adapter")
    parser.add_argument("--cache", default="~/.cache/shopbot/reader-embeddings.npz",
                        help="vectors of clauses embedded before (delete it to embed everything again)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    torch.set_num_threads(2)
    data = training_clauses(open_store(default_data_dir()), args.messages, args.seed)
    texts, awaiting, labels = [c for c, _, _ in data], [a for _, a, _ in data], [lab for _, _, lab in data]
    if args.encoder:
        report = train_adapter(texts, awaiting, labels, adapter_dir(), seed=args.seed)
        (adapter_dir() / "train_log.json").write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
        build_merged(force=True)
        print(f"encoder adapter: {report}")
    base = default_embedder() if args.plain else reader_encoder()
    embedder = CachedEmbedder(base, Path(args.cache).expanduser())
    clf = MiniLMClauses.train(texts, awaiting, labels, embedder)
    embedder.save()
    clf.embedder_name = embedder.name
    target = Path(__file__).resolve().parents[1] / "data" / "nlu" / ARTEFACT
    clf.save(target)
    print(f"trained on {len(data)} clauses, {len(clf.labels)} labels, embedder {embedder.name} -> {target}")


if __name__ == "__main__":
    main()
