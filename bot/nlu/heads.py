"""Two small learned readers of details whose wording varies: whether an amount is an upper or a lower price
bound ("budget is 100 dollars", "north of 50 bucks"), and which cancel reason a clause gives ("don't need it
anymore" -> "no longer needed"). Each is logistic regression on character n-grams, trained in about a second on
the phrasing pieces of bot/data/nlu/phrasings_<language>.yaml (train families only) when first used.
"""
from __future__ import annotations

import random
import re

import numpy as np

from .spans import Amount, amounts

BOUNDS = ("max", "min", "none")
NEGATIONS = {"not", "no", "can't", "cannot", "won't", "don't", "nothing", "never", "shouldn't", "wouldn't"}
REASON_MIN = 0.6  # below this a reason is asked for rather than guessed (a wrong reason cancels the order wrongly)
CURRENCY = re.compile(r"usd|dollar|buck|quid|eur", re.I)
RANGE = re.compile(r"(?:between|from)?\s*\$?\s*(\d+(?:\.\d+)?)\s*(?:\$|usd|dollars|bucks)?\s*(?:and|to|-)\s*\$?\s*"
                   r"(\d+(?:\.\d+)?)\s*(?:\$|usd|dollars|bucks)?", re.I)


def _window(text: str, amount: Amount) -> str:
    """The words around an amount as position-tagged features: b1 the word just before, b12 the two before..."""
    words = [re.sub(r"'s$", "", w) for w in re.findall(r"[a-z']+", text[:amount.start].lower())]
    before = words[-3:][::-1]
    negated = any(w in NEGATIONS for w in words[-5:])
    after = re.findall(r"[a-z']+", text[amount.end:].lower())[:2]
    feats = [f"b{i + 1}={w}" for i, w in enumerate(before)] + [f"a{i + 1}={w}" for i, w in enumerate(after)]
    feats += [f"w={w}" for w in before]
    feats += [f"neg+b{i + 1}={w}" for i, w in enumerate(before)] if negated else []
    feats += [f"b21={before[1]}_{before[0]}"] if len(before) > 1 else []
    feats += [f"b32={before[2]}_{before[1]}"] if len(before) > 2 else []
    feats += [f"money={amount.money}"]
    return " ".join(feats)


def _word_lr(texts, labels, c=5.0):
    from sklearn.feature_extraction.text import CountVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    return make_pipeline(CountVectorizer(token_pattern=r"\S+", lowercase=False, binary=True),
                         LogisticRegression(C=c, max_iter=2000, class_weight="balanced")).fit(texts, labels)


def _char_lr(texts, labels, c=10.0):
    """Character n-grams for slips and word pairs for what they say together ("need to" / "don't need")."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline, make_union
    features = make_union(TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4), sublinear_tf=True),
                          TfidfVectorizer(analyzer="word", ngram_range=(1, 2), token_pattern=r"[a-z']+"))
    return make_pipeline(features, LogisticRegression(C=c, max_iter=2000, class_weight="balanced")).fit(texts, labels)


def _train_pieces(pieces: dict, key: str) -> list[str]:
    return [t for name, family in pieces.get(key, {}).items() if not name.startswith("dev") for t in family]


NEGATION_FORMS = (("not ", "no "), ("won't ", "can't "), ("don't ", "can't "), ("can't ", "won't "))


def _negation_forms(pieces: list[str]) -> list[str]:
    """Each piece with its negation said another way as well ("not less than" / "no less than", "won't pay" /
    "can't pay"): the same bound, so the head learns the negation rather than the one word."""
    out = list(pieces)
    for piece in pieces:
        for a, b in NEGATION_FORMS:
            if piece.startswith(a) or f" {a}" in piece:
                out.append(piece.replace(a, b, 1))
    return list(dict.fromkeys(out))


class BoundHead:
    def __init__(self, pieces: dict, seed: int = 0):
        rng = random.Random(seed)
        texts, labels = [], []
        lead = ["", "something ", "a gift ", "show me shoes ", "any laptop ", "i want one ", "recommend a bag ",
                "what would you get my dad ", "the blue one ", "any ideas for a present ", "hiking boots, ",
                "my sister likes yoga, ", "got any speakers ", "a good pick in lamps "]
        for key, label in (("price_max", "max"), ("price_min", "min"), ("not_money", "none")):
            for tpl in _negation_forms(_train_pieces(pieces, key)):
                for _ in range(30):
                    n = str(rng.choice([15, 40, 60, 100, 120, 250, 400, 999]))
                    text = rng.choice(lead) + tpl.replace("{n}", n)
                    for a in amounts(text):
                        texts.append(_window(text, a))
                        labels.append(label)
        self.model = _word_lr(texts, labels)

    def bounds(self, text: str, skip: set[str] = frozenset()) -> tuple[float | None, float | None]:
        """(price_min, price_max) stated in the text; a range "between 50 and 100" gives both."""
        m = RANGE.search(text.replace(",", ""))
        found = [a for a in amounts(text) if text[a.start:a.end].strip().lower() not in skip or
                 "$" in text[max(0, a.start - 2):a.start] or CURRENCY.search(text[a.start:a.end])]  # "5k" camera
        if m and re.search(r"between|from|range|-|to", m.group(0)) and len(found) >= 2:
            lo, hi = sorted((float(m.group(1)), float(m.group(2))))
            if lo < hi and any(a.money for a in found) or re.search(r"between", m.group(0)):
                return lo, hi
        if not found:
            return None, None
        labels = self.model.predict([_window(text, a) for a in found])
        lo = hi = None
        for a, label in zip(found, labels):
            if label == "max" and hi is None:
                hi = a.value
            elif label == "min" and lo is None:
                lo = a.value
        return lo, hi


class ReasonHead:
    LABELS = ("no longer needed", "ordered by mistake", "other", "")

    def __init__(self, pieces: dict, negatives: list[str], seed: int = 0):
        texts, labels = [], []
        rng = random.Random(seed)
        lead = ["", "cancel it, ", "because ", "please cancel #W0000000 ", "i want to cancel my order, "]
        for key, label in (("reason_no_longer_needed", "no longer needed"),
                           ("reason_ordered_by_mistake", "ordered by mistake"), ("reason_other", "other")):
            for tpl in _train_pieces(pieces, key):
                for _ in range(6):
                    texts.append(rng.choice(lead) + tpl)
                    labels.append(label)
        texts += negatives + [lead.strip(" ,") for lead in lead if lead.strip()] * 6
        labels += [""] * (len(texts) - len(labels))
        self.model = _char_lr(texts, labels)

    def reason(self, text: str, sure: float = REASON_MIN, forced: bool = False) -> str:
        """The reason given, or "" when the head is less sure of one than `sure` ("i need to cancel w6272294" gives
        none); an answer to "why would you like to cancel?" is read with sure=0 (the likeliest reading)."""
        parts = [text] + [p for p in re.split(r"[.?!,;]+\s*", text) if p.strip() and p.strip() != text.strip()]
        probs = self.model.predict_proba([p.lower() for p in parts])  # "cancel w677? dont need it": said apart
        if forced:  # the answer to "why?": the likeliest of the reasons, "none given" is not an answer
            probs = np.where(self.model.classes_ == "", -1.0, probs)
        elif sure > 0:  # the most certain reason said in any part: "no reason" in another part says nothing
            probs = np.where(self.model.classes_ == "", 0.0, probs)
        row, best = np.unravel_index(int(probs.argmax()), probs.shape)
        return str(self.model.classes_[best]) if probs[row, best] >= sure else ""
