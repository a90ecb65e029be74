"""What the customer wants: an embedding classifier over 27 customer-support intents plus the shop's own.

Training data: the Bitext customer-support utterances (CDLA-Sharing-1.0, copied into bot/data/) and the shop's
examples in bot/data/shop_intents.yaml; a deterministic fifth of each is held out for `shopbot eval intents`.
The classifier is logistic regression on MiniLM sentence embeddings, shipped trained as bot/data/intents.npz.
Retrain with `python -m bot.intents` (about a minute on a CPU). Business decisions are not made here.
"""
from __future__ import annotations

import csv
import hashlib
import io
import threading
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np
import yaml

ARTEFACT = "intents.npz"

# What each intent means to the dialogue: the flow that handles it (bot/flows.py reads this).
FLOW_OF_INTENT = {
    "cancel_order": "cancel", "check_cancellation_fee": "policy",
    "change_order": "modify", "modify_items": "modify", "exchange_item": "exchange",
    "get_refund": "return", "return_item": "return", "track_refund": "order_status",
    "change_shipping_address": "address", "set_up_shipping_address": "address",
    "modify_payment": "payment", "check_payment_methods": "payment_methods", "payment_issue": "handover",
    "track_order": "order_status", "order_details": "order_status", "check_invoice": "order_status",
    "get_invoice": "order_status", "delivery_options": "policy", "delivery_period": "policy",
    "check_refund_policy": "policy", "contact_human_agent": "handover", "contact_customer_service": "handover",
    "complaint": "handover", "review": "handover", "create_account": "out_of_scope",
    "delete_account": "out_of_scope", "edit_account": "out_of_scope", "recover_password": "out_of_scope",
    "registration_problems": "out_of_scope", "switch_account": "out_of_scope",
    "newsletter_subscription": "out_of_scope", "place_order": "recommend",
    "product_question": "product", "recommend_product": "recommend", "gift_card_balance": "gift_card",
    "privacy_what_you_know": "privacy_show", "forget_me": "privacy_forget",
    "personalisation_off": "personalisation", "greeting": "greeting", "thanks": "thanks",
}


@dataclass(frozen=True)
class Example:
    text: str
    intent: str
    source: str  # 'bitext' | 'shop'


@dataclass(frozen=True)
class Prediction:
    intent: str
    confidence: float  # the classifier's probability of `intent`
    flow: str


def _data_file(name: str):
    return resources.files("bot") / "data" / name


def is_held_out(text: str) -> bool:
    """A fixed fifth of the examples, chosen by a hash of the text (stable across runs and machines)."""
    return hashlib.blake2b(text.strip().lower().encode(), digest_size=4).digest()[0] % 5 == 0


def load_examples() -> list[Example]:
    """Bitext utterances and the shop's examples, in file order."""
    raw = _data_file("bitext_8k_utterances.csv").read_bytes().decode("utf-8-sig")
    out = [Example(row["utterance"].strip(), row["intent"].strip(), "bitext")
           for row in csv.DictReader(io.StringIO(raw)) if row.get("utterance", "").strip()]
    shop = yaml.safe_load(_data_file("shop_intents.yaml").read_text(encoding="utf-8"))
    out += [Example(str(text).strip(), intent, "shop") for intent, texts in shop.items() for text in texts]
    return out


def split(examples: list[Example]) -> tuple[list[Example], list[Example]]:
    train = [e for e in examples if not is_held_out(e.text)]
    test = [e for e in examples if is_held_out(e.text)]
    return train, test


class IntentClassifier:
    """Multinomial logistic regression on unit sentence embeddings: softmax(W @ e + b)."""

    def __init__(self, labels: list[str], weights: np.ndarray, bias: np.ndarray, embedder_name: str, embedder=None):
        self.labels, self.weights, self.bias = list(labels), weights, bias  # weights: (n_labels, dim)
        self.embedder_name = embedder_name
        self._embedder = embedder
        self._cache: dict[str, Prediction] = {}
        self._lock = threading.Lock()

    @property
    def embedder(self):
        if self._embedder is None:
            from knowledge.embeddings import default_embedder
            self._embedder = default_embedder()
        return self._embedder

    @classmethod
    def train(cls, examples: list[Example], embedder, c: float = 10.0) -> "IntentClassifier":
        from sklearn.linear_model import LogisticRegression
        vectors = embedder.encode([e.text for e in examples], batch_size=128)
        model = LogisticRegression(C=c, max_iter=2000, class_weight="balanced")  # the shop's intents are few
        model.fit(vectors, [e.intent for e in examples])
        return cls(list(model.classes_), model.coef_.astype(np.float32), model.intercept_.astype(np.float32),
                   embedder.name, embedder)

    def save(self, path: str | Path) -> None:
        np.savez_compressed(path, labels=np.array(self.labels), weights=self.weights, bias=self.bias,
                            embedder=np.array(self.embedder_name))

    @classmethod
    def load(cls, path=None, embedder=None) -> "IntentClassifier":
        """The packaged artefact by default; `embedder` must be the one it was trained with."""
        source = Path(path) if path else _data_file(ARTEFACT)
        with source.open("rb") if hasattr(source, "open") else open(source, "rb") as fh:
            data = np.load(io.BytesIO(fh.read()))
            clf = cls([str(x) for x in data["labels"]], data["weights"], data["bias"], str(data["embedder"]), embedder)
        if embedder is not None and embedder.name != clf.embedder_name:
            raise ValueError(f"intent classifier was trained with {clf.embedder_name}, not {embedder.name}")
        return clf

    def predict_many(self, texts: list[str]) -> list[Prediction]:
        vectors = self.embedder.encode(list(texts), batch_size=128)
        logits = vectors @ self.weights.T + self.bias
        logits -= logits.max(axis=1, keepdims=True)
        probs = np.exp(logits)
        probs /= probs.sum(axis=1, keepdims=True)
        out = []
        for row in probs:
            best = int(row.argmax())
            label = self.labels[best]
            out.append(Prediction(label, float(row[best]), FLOW_OF_INTENT.get(label, "out_of_scope")))
        return out

    def predict(self, text: str) -> Prediction:
        key = text.strip().lower()
        with self._lock:
            if key in self._cache:
                return self._cache[key]
        prediction = self.predict_many([text])[0]
        with self._lock:
            if len(self._cache) > 5000:
                self._cache.clear()
            self._cache[key] = prediction
        return prediction


def main() -> None:
    """Retrain the packaged classifier on the training part of the examples."""
    import torch
    torch.set_num_threads(1)  # short sentences: more threads only contend on a shared CPU
    from knowledge.embeddings import default_embedder
    train, test = split(load_examples())
    clf = IntentClassifier.train(train, default_embedder())
    target = Path(__file__).parent / "data" / ARTEFACT
    clf.save(target)
    print(f"trained on {len(train)} examples ({len(test)} held out), {len(clf.labels)} intents -> {target}")


if __name__ == "__main__":
    main()
