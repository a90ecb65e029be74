"""What each clause of a message asks: one label such as "catalog:cheapest", "order_task:return" or "confirm".

Two candidates behind one seam (`ClauseClassifier.predict(clauses, awaiting)`), trained on the same data:
`minilm`, logistic regression on all-MiniLM-L6-v2 sentence embeddings, and `chars`, logistic regression on
character n-gram TF-IDF. Both also see what the assistant just asked (state["awaiting"]) as a one-hot feature,
so "yep" or "the visa" are read as answers. The MiniLM one is shipped trained (bot/data/nlu/clauses.npz, by
`python -m bot.nlu.train`); the char one trains in seconds when first used. Identifiers are masked before
classifying ("#W1234567" -> "#W0000000"), so the label depends on the wording, not on the digits.
"""
from __future__ import annotations

import io
import re
import threading
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Protocol

import numpy as np

AWAITING = ("", "identify", "order", "items", "new_item", "choice", "reason", "payment", "address", "confirm")
AWAIT_WEIGHT = 1.0  # scale of the awaiting one-hot next to a unit embedding
ARTEFACT = "clauses.npz"


def mask(text: str) -> str:
    t = re.sub(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}", "name@example.com", text)
    t = re.sub(r"#?\b[Ww]\s?\d{7}\b", "#W0000000", t)
    return re.sub(r"\b(gift_card|credit_card|paypal)_\d+\b", r"\1_0000000", t)


def _await_features(awaiting: list[str]) -> np.ndarray:
    out = np.zeros((len(awaiting), len(AWAITING)), dtype=np.float32)
    for row, a in enumerate(awaiting):
        out[row, AWAITING.index(a) if a in AWAITING else 0] = AWAIT_WEIGHT
    return out


@dataclass(frozen=True)
class Label:
    label: str
    confidence: float


class ClauseClassifier(Protocol):
    name: str

    def predict(self, clauses: list[str], awaiting: list[str]) -> list[Label]: ...


def _softmax_labels(logits: np.ndarray, labels: list[str]) -> list[Label]:
    logits = logits - logits.max(axis=1, keepdims=True)
    probs = np.exp(logits)
    probs /= probs.sum(axis=1, keepdims=True)
    return [Label(labels[int(r.argmax())], float(r.max())) for r in probs]


class MiniLMClauses:
    """softmax(W @ [embedding; awaiting] + b); the embedder loads on first use."""

    name = "minilm"

    def __init__(self, labels, weights, bias, embedder_name: str, embedder=None):
        self.labels, self.weights, self.bias = list(labels), weights, bias  # weights: (n_labels, dim + n_await)
        self.embedder_name, self._embedder = embedder_name, embedder
        self._lock = threading.Lock()

    @property
    def embedder(self):
        if self._embedder is None:
            from .encoder import NAME_PREFIX, reader_encoder
            if self.embedder_name.startswith(NAME_PREFIX):  # trained on the reader's adapted encoder
                self._embedder = reader_encoder()
            else:
                from knowledge.embeddings import default_embedder
                self._embedder = default_embedder()
        return self._embedder

    def features(self, clauses, awaiting):
        with self._lock:
            vectors = self.embedder.encode([mask(c) for c in clauses], batch_size=128)
        return np.hstack([vectors, _await_features(awaiting)])

    @classmethod
    def train(cls, clauses, awaiting, labels, embedder, c: float = 20.0) -> "MiniLMClauses":
        from sklearn.linear_model import LogisticRegression
        clf = cls([], None, None, embedder.name, embedder)
        x = clf.features(clauses, awaiting)
        model = LogisticRegression(C=c, max_iter=3000, class_weight="balanced").fit(x, labels)
        return cls(list(model.classes_), model.coef_.astype(np.float32), model.intercept_.astype(np.float32),
                   embedder.name, embedder)

    def predict(self, clauses, awaiting):
        if not clauses:
            return []
        return _softmax_labels(self.features(clauses, awaiting) @ self.weights.T + self.bias, self.labels)

    def save(self, path) -> None:
        np.savez_compressed(path, labels=np.array(self.labels), weights=self.weights, bias=self.bias,
                            embedder=np.array(self.embedder_name))

    @classmethod
    def load(cls, path=None, embedder=None) -> "MiniLMClauses":
        source = Path(path) if path else resources.files("bot") / "data" / "nlu" / ARTEFACT
        data = np.load(io.BytesIO(source.read_bytes()))
        clf = cls([str(x) for x in data["labels"]], data["weights"], data["bias"], str(data["embedder"]), embedder)
        if embedder is not None and embedder.name != clf.embedder_name:
            raise ValueError(f"clause classifier was trained with {clf.embedder_name}, not {embedder.name}")
        return clf


class CharClauses:
    """Logistic regression on character 2-5-gram TF-IDF (within word boundaries) plus the awaiting one-hot."""

    name = "chars"

    def __init__(self, vectorizer, model):
        self.vectorizer, self.model = vectorizer, model

    @classmethod
    def train(cls, clauses, awaiting, labels, c: float = 10.0) -> "CharClauses":
        from scipy.sparse import hstack
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression
        vec = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), min_df=2, max_features=60000, sublinear_tf=True,
                              lowercase=True)
        x = hstack([vec.fit_transform([mask(c) for c in clauses]), _await_features(awaiting)]).tocsr()
        model = LogisticRegression(C=c, max_iter=3000, class_weight="balanced").fit(x, labels)
        return cls(vec, model)

    def predict(self, clauses, awaiting):
        if not clauses:
            return []
        from scipy.sparse import hstack
        x = hstack([self.vectorizer.transform([mask(c) for c in clauses]), _await_features(awaiting)]).tocsr()
        return _softmax_labels(self.model.decision_function(x), list(self.model.classes_))


class CascadeClauses:
    """The fast classifier first; clauses it is unsure of (probability below `threshold`) go to the slow one."""

    name = "cascade"

    def __init__(self, fast: ClauseClassifier, slow: ClauseClassifier, threshold: float = 0.8):
        self.fast, self.slow, self.threshold = fast, slow, threshold

    def predict(self, clauses, awaiting):
        out = self.fast.predict(clauses, awaiting)
        unsure = [i for i, lab in enumerate(out) if lab.confidence < self.threshold]
        if unsure:
            again = self.slow.predict([clauses[i] for i in unsure], [awaiting[i] for i in unsure])
            for i, lab in zip(unsure, again):
                out[i] = lab
        return out
