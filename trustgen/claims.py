"""The claim checker: find every checkable claim in a reply and verify it against the facts it was written from.

Claims are prices and amounts, counts, ids (items, orders, payment methods), durations, option values,
availability, order statuses and policy terms (who may cancel/return/exchange what, cancellation reasons, refund
destinations). Attribute claims are tied to the product they are stated about: a price next to "the blue M
T-shirt" must be that variant's price. `check_and_repair` replaces an unsupported value when the facts leave
exactly one candidate for it, else sends the template. It does not judge tone or advertising: see compliance.py.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import Iterable, Sequence

from .prompting import prompt_wording
from .types import CheckedReply, Claim, Fact

WORDING = prompt_wording("claims")
_SENTENCE = re.compile(r"\S.*?(?:[.!?]+(?=\s|$)|\n|$)", re.S)  # "$49.99" does not end a sentence
_CLAUSE_SPLIT = re.compile(r"[,;:()]|\s(?:but|while|whereas)\s")


@dataclass(frozen=True)
class Span:
    """One claim found in a text: what kind, where, and its normalised value."""
    kind: str  # price | amount | count | id | date | duration | option | availability | status | policy
    start: int
    end: int
    text: str
    value: str
    key: str = ""  # option name, id type, refund class, or policy sub-kind (reason | destination | rule)


# ------------------------------------------------------------------------------------------------ vocabulary

@dataclass(frozen=True, eq=False)  # hashed by identity: compiled patterns are cached per vocabulary
class Vocabulary:
    """All option values of the shop (value -> option names), so another product's option is recognised."""
    values: dict = field(default_factory=dict)
    specific: frozenset = frozenset()  # values that count even when generic (they are the facts' own options)
    names: frozenset = frozenset()  # product names: "Fleece Jacket" is a name, not the material fleece

    @classmethod
    def from_variants(cls, variants: Iterable[dict]) -> "Vocabulary":
        values: dict[str, set] = {}
        for v in variants:
            for key, val in (v.get("options") or {}).items():
                values.setdefault(str(val), set()).add(str(key))
        return cls({k: frozenset(v) for k, v in values.items()},
                   names=frozenset(str(v["name"]) for v in variants if v.get("name")))

    def merged(self, other: dict, names: Iterable[str] = ()) -> "Vocabulary":
        """This vocabulary plus `other` (value -> option names), whose values always count as claims."""
        out = {k: set(v) for k, v in self.values.items()}
        for k, keys in other.items():
            out.setdefault(k, set()).update(keys)
        return Vocabulary({k: frozenset(v) for k, v in out.items()}, self.specific | frozenset(other),
                          self.names | frozenset(names))


@lru_cache(maxsize=1)
def default_vocabulary() -> Vocabulary:
    """The packaged demo shop's option values (use `vocabulary_from_store` for another shop)."""
    from knowledge.paths import demo_shop_source
    products = json.loads((demo_shop_source() / "products.json").read_text(encoding="utf-8"))
    return Vocabulary.from_variants({**v, "name": p["name"]} for p in products.values()
                                    for v in p["variants"].values())


_NO_OPTIONS = Vocabulary()


def vocabulary_from_store(store) -> Vocabulary:
    return Vocabulary.from_variants(store.variants())


def _boundary(value: str, case_sensitive: bool) -> re.Pattern:
    return re.compile(r"(?<![\w-])" + re.escape(value) + r"(?![\w-])", 0 if case_sensitive else re.I)


@lru_cache(maxsize=8)
def _option_patterns(vocab: Vocabulary) -> list[tuple[str, frozenset, re.Pattern, bool]]:
    generic = {str(v).lower() for v in WORDING["generic_option_values"]}
    always = {str(v).lower() for v in WORDING["needs_option_name"]}
    out = []
    for value in sorted(vocab.values, key=len, reverse=True):  # longest first: "rose gold" before "gold"
        short = len(value) <= 3 and value != value.lower()  # "M", "XL", "RGB" match as written; "red" any case
        # a small bare number ("7", a shoe size) needs its option's name nearby even when it is the facts' own
        # value: "5 to 7 business days" is not about size 7. "2000" (puzzle pieces) is distinctive enough.
        small_number = value.isdigit() and len(value) <= 2
        is_generic = small_number or value.lower() in always or \
            ((value.lower() in generic or value.isdigit()) and value not in vocab.specific)
        out.append((value, vocab.values[value], _boundary(value, short), is_generic))
    return out


@lru_cache(maxsize=8)
def _key_pattern(vocab: Vocabulary) -> re.Pattern:
    keys = sorted({k for ks in vocab.values.values() for k in ks}, key=len, reverse=True)
    multi = [re.escape(k) for k in keys if " " in k]
    single = [re.escape(k) + r"(?=\s*:)" for k in keys if " " not in k]
    return re.compile(r"(?<![\w-])(" + "|".join(multi + single or ["(?!)"]) + r")(?![\w-])", re.I)


# ------------------------------------------------------------------------------------------------ extraction

def _norm_money(raw: str) -> str:
    number = re.sub(r"[^\d.]", "", raw.replace(",", ""))
    try:
        return f"{float(number.strip('.')):.2f}"
    except ValueError:
        return raw


def _norm_duration(raw: str) -> str:
    text = " ".join(raw.lower().replace("–", "-").split())
    text = re.sub(r"^(within|in)\s+", "", text)
    text = re.sub(r"\s*-\s*", " to ", text)
    return text


def _alternation(phrases: Iterable[str]) -> str:
    return "|".join(p if "\\" in p or "(?" in p else re.escape(p) for p in sorted(phrases, key=len, reverse=True))


_PAYMENT_ID = re.compile(r"\b(?:credit_card|gift_card|paypal|debit_card|bank_account)_\d+\b")
_ORDER_ID = re.compile(r"(?<![\w#])#?W\d{7}\b")
_LONG_ID = re.compile(r"(?<![\w#$.])\d{8,14}(?![\w.]\d)")
_MONEY = re.compile(r"\$\s?\d[\d,]*(?:\.\d+)?|\bUSD\s?\d[\d,]*(?:\.\d+)?|\b\d[\d,]*(?:\.\d+)?\s?(?:dollars|USD)\b", re.I)
_DATE = re.compile(r"\b\d{4}-\d{2}-\d{2}\b|\b(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?\s+\d{1,2}"
                   r"(?:st|nd|rd|th)?(?:,?\s+\d{4})?\b", re.I)
_TIME = re.compile(r"\b\d{1,2}:\d{2}(?::\d{2})?\b")
_MEASURE = re.compile(r"(?<![\w.$#-])\d+(?:\.\d+)?\s?(?:W|V|ml|mAh|GB|TB|MP|K|inch(?:es)?|in|ft|lbs?|kg|g|mm|cm|m|"
                      r"cups?|liters?|L|bar|degrees|x|%|p)(?![\w-])")
_STREET_TYPES = r"Road|Rd|Street|St|Avenue|Ave|Lane|Ln|Drive|Dr|Boulevard|Blvd|Court|Ct|Place|Pl|Way|Terrace|Parkway"
_ADDRESS = [re.compile(r"\b\d{1,6}\s+(?:[A-Z][a-z]+\s+){1,3}(?:" + _STREET_TYPES + r")\b\.?|\b\d{1,6}\s+Broadway\b"),
            re.compile(r"\b(?:Suite|Apt|Apartment|Unit)\.?\s+#?\w+", re.I),
            re.compile(r"\b[A-Z]{2},?\s+(\d{5}(?:-\d{4})?)\b")]
_NUMBER = re.compile(r"(?<![\w.$#/-])\d+(?:\.\d+)?(?![\w/-]|\.\d)")
_STATUS_WORDS = _alternation(WORDING["order_statuses"]).replace(r"\ ", r"\s+")
_STATUS = re.compile(r"\b(?:is|was|has\s+been|have\s+been|are|status(?:\s+is)?|shows|now|currently|still|stays|:)\s+"
                     r"(?:now\s+|currently\s+|still\s+|already\s+|marked\s+(?:as\s+)?|set\s+to\s+)?['\"]?"
                     rf"(?P<status>{_STATUS_WORDS})\b(?!\s+orders?\b)", re.I)
_AVAIL = [(kind, re.compile(rf"(?<![\w-])(?:{_alternation(WORDING['availability'][kind])})(?![\w-])", re.I))
          for kind in ("count", "negative", "positive")]
_DURATION = re.compile(rf"(?<![\w-])(?:{_alternation(WORDING['durations'])})(?![\w-])", re.I)
_REASONS = re.compile(r"\breasons?\b", re.I)
_QUOTED = re.compile(r"['\"‘“]([^'\"’”]{3,60})['\"’”]")
_REASON_LIST = re.compile(r"\breasons?\b[^.:]*?(?:\bis\b|\bare\b|:|\bsuch as\b|\blike\b|\binclud\w*\b|\bof\b)\s+"
                          r"([^()\n;]+)", re.I)
_DESTINATIONS = re.compile(rf"(?<![\w-])(?:{_alternation(WORDING['refund_destinations'])})(?![\w-])", re.I)
_REFUND = re.compile(r"\brefund\w*\b|\b(?:money|goes|go|paid|paying|sent)\s+back\b|\breimburs\w*\b", re.I)


class _Mask:
    def __init__(self, n: int):
        self.taken = bytearray(n)

    def free(self, a: int, b: int) -> bool:
        return not any(self.taken[a:b])

    def take(self, a: int, b: int):
        self.taken[a:b] = b"\x01" * (b - a)


def extract_claims(text: str, vocabulary: Vocabulary | None = None) -> list[Span]:
    """Every checkable claim in `text`, in order, without overlaps (ids and prices win over plain numbers)."""
    vocab = vocabulary or default_vocabulary()
    mask, spans = _Mask(len(text)), []

    def add(kind, m, value, key="", group=0):
        a, b = m.span(group)
        if mask.free(a, b):
            mask.take(a, b)
            spans.append(Span(kind, a, b, text[a:b], value, key))

    for m in _PAYMENT_ID.finditer(text):
        add("id", m, m.group(0), "payment")
    for m in _ORDER_ID.finditer(text):
        add("id", m, "#" + m.group(0).lstrip("#"), "order")
    for m in _MONEY.finditer(text):
        add("price", m, _norm_money(m.group(0)))
    for n, pattern in enumerate(_ADDRESS):
        for m in pattern.finditer(text):
            value = m.group(1) if n == 2 else " ".join(m.group(0).lower().rstrip(".").split())
            add("id", m, value, "address")
    for m in _LONG_ID.finditer(text):
        add("id", m, m.group(0), "item" if len(m.group(0)) == 10 else "number")
    for m in _DATE.finditer(text):
        add("date", m, m.group(0).lower())
    for m in _TIME.finditer(text):
        mask.take(*m.span())  # clock times are not counts
    for m in re.finditer(r"(?m)^\s*(?:[-*]\s*)?\d{1,2}[.)](?=\s)", text):
        mask.take(*m.span())  # list markers "1." are not counts
    for kind, pattern in _AVAIL:
        for m in pattern.finditer(text):
            if kind == "positive" and re.search(r"\bnot\s+(?:\w+\s+)?$", text[max(0, m.start() - 20):m.start()]):
                continue  # "is not currently in stock" is caught as negative below or left unchecked
            value = {"count": "count", "negative": "no", "positive": "yes"}[kind]
            if kind == "positive" and re.search(r"\b(?:none|neither)\b", _clause_lead(text, m.start()), re.I):
                value = "no"  # "none of the 2 Smartphones ... is in stock"
            add("availability", m, value)
    for name in sorted(vocab.names, key=len, reverse=True):
        for m in _boundary(name, False).finditer(text):
            mask.take(*m.span())  # a product's name is not an option claim
    for m in _key_pattern(vocab).finditer(text):
        mask.take(*m.span(1))  # "battery life: 6 hours" names an option; "battery" here is not a value
    for value, keys, pattern, generic in _option_patterns(vocab):
        for m in pattern.finditer(text):
            if generic and not _near_key(text, m.start(), m.end(), keys):
                continue
            add("option", m, value, "|".join(sorted(keys)))
    for m in _DURATION.finditer(text):
        add("duration", m, _norm_duration(m.group(0)))
    for m in _STATUS.finditer(text):
        sentence_start = max((x.start() for x in _SENTENCE.finditer(text) if x.start() <= m.start()), default=0)
        lead = re.split(r"[,;:()]", text[sentence_start:m.start("status")])[-1]
        if not re.search(r"\b(?:can|cannot|can't|only|once|if|when|while|until|unless|after|orders)\b", lead, re.I):
            add("status", m, " ".join(m.group("status").lower().split()), group="status")
    spans.extend(_reason_spans(text, mask))
    for m in _DESTINATIONS.finditer(text):
        if _REFUND.search(_sentence_at(text, m.start())):
            add("policy", m, m.group(0).lower(), "destination")
    for m in _MEASURE.finditer(text):
        add("amount", m, re.sub(r"\s+", "", m.group(0)).lower(), "measure")
    for m in _NUMBER.finditer(text):
        kind = "amount" if "." in m.group(0) else "count"
        add(kind, m, m.group(0))
    spans.extend(_rule_spans(text))
    return sorted(spans, key=lambda s: (s.start, s.end))


def _clause_lead(text: str, pos: int) -> str:
    """The words of the sentence before `pos`, from its last comma or semicolon."""
    start = max((m.start() for m in _SENTENCE.finditer(text) if m.start() <= pos), default=0)
    return re.split(r"[;]|,\s(?!\w+\s\d)", text[start:pos])[-1]


def _near_key(text: str, a: int, b: int, keys: Iterable[str]) -> bool:
    window = (text[max(0, a - 24):a] + " " + text[b:b + 24]).lower()
    return any(re.search(r"\b" + re.escape(k.lower()) + r"\b", window) for k in keys)


def _sentence_at(text: str, pos: int) -> str:
    for m in _SENTENCE.finditer(text):
        if m.start() <= pos < max(m.end(), m.start() + 1):
            return m.group(0)
    return text


def _clause_at(text: str, pos: int) -> str:
    sentence_start = max((m.start() for m in _SENTENCE.finditer(text) if m.start() <= pos), default=0)
    sentence = _sentence_at(text, pos)
    offset = pos - sentence_start
    cuts = [0] + [m.end() for m in _CLAUSE_SPLIT.finditer(sentence) if m.end() <= offset]
    nxt = [m.start() for m in _CLAUSE_SPLIT.finditer(sentence) if m.start() > offset]
    return sentence[max(cuts):min(nxt) if nxt else len(sentence)]


def _reason_spans(text: str, mask: _Mask) -> list[Span]:
    """Cancellation reasons: quoted phrases, or the list after 'reasons are', in a sentence about reasons."""
    out = []
    for sm in _SENTENCE.finditer(text):
        sentence = sm.group(0)
        if not _REASONS.search(sentence) or not re.search(r"cancel", text, re.I):
            continue
        found = [(sm.start() + m.start(1), m.group(1)) for m in _QUOTED.finditer(sentence)]
        if not found and (lm := _REASON_LIST.search(sentence)):
            base = sm.start() + lm.start(1)
            for part in re.finditer(r"[^,;]+?(?=,|;|\bor\b|\band\b|[.!?]|$)", lm.group(1)):
                phrase = part.group(0).strip(" .'\"")
                if 3 <= len(phrase) <= 40 and not re.search(r"\b(?:other|any|these|following)\b", phrase, re.I):
                    found.append((base + part.start() + part.group(0).find(phrase), phrase))
        for start, phrase in found:
            end = start + len(phrase)
            if mask.free(start, end):
                mask.take(start, end)
                out.append(Span("policy", start, end, text[start:end], " ".join(phrase.lower().split()), "reason"))
    return out


# ------------------------------------------------------------------------------------------------ policy rules

_ACTION_WORDS = {w: a for a, ws in WORDING["policy_actions"].items() for w in ws}
_ACTION = re.compile(rf"\b(?:{_alternation(_ACTION_WORDS)})\b", re.I)
_RULE_STATUS = re.compile(rf"\b(?:{_alternation(WORDING['policy_statuses'])})\b", re.I)
_MODAL = re.compile(rf"\b(?:{_alternation(WORDING['modal'])})\b", re.I)
_NEGATION = re.compile(rf"(?:{_alternation(WORDING['negation'])})\b", re.I)
_STATUS_PHRASES = re.compile(r"\b(?:return|exchange)\s+requested\b|\bpending\s*\(items?\s+modified\)", re.I)


def _rules(text: str, default_status: str | None = None, answers: bool = False) -> list[tuple[str, str, bool, int, int]]:
    """(action, status, allowed, start, end) for each clause that says an order of some status can (not) be
    acted on. A clause without a status word uses the status nearest before it in the sentence, else the first
    after it, else the last one stated in an earlier sentence. With `answers` (a FAQ's question then answer),
    a question without a status takes the answer's first status and its Yes/No."""
    out, last_status = [], default_status
    text = _STATUS_PHRASES.sub(lambda m: " " * len(m.group(0)), text)
    sentences = list(_SENTENCE.finditer(text))
    for k, sm in enumerate(sentences):
        if answers and sm.group(0).rstrip().endswith("?") and k + 1 < len(sentences):
            _, actions = _piece_words(sm.group(0))
            following = " ".join(x.group(0) for x in sentences[k + 1:k + 3])
            status = _RULE_STATUS.search(following)
            if actions and status and not _RULE_STATUS.search(sm.group(0)):
                allowed = not re.match(r"\s*(?:no|not)\b", sentences[k + 1].group(0), re.I)
                for action in dict.fromkeys(actions):
                    out.append((action, status.group(0).lower(), allowed, sm.start(), sm.end()))
                continue
        pieces, pos = [], sm.start()
        for piece in re.split(r"([;:()]|,|\sbut\s|\swhile\s)", sm.group(0)):
            pieces.append((pos, piece, *_piece_words(piece)))
            pos += len(piece)
        modal = bool(_MODAL.search(sm.group(0)))
        asked = not answers and sm.group(0).rstrip().endswith("?")  # a question (a quoted FAQ's) states no rule
        if asked:
            last_status = default_status  # ... and starts a new topic: earlier statuses do not carry into it
        for n, (start, piece, statuses, actions) in enumerate(pieces):
            if actions and modal and not asked:
                before = [s for _, _, ss, _ in pieces[:n] for s in ss]
                after = [s for _, _, ss, _ in pieces[n + 1:] for s in ss]
                use = statuses or before[-1:] or after[:1] or ([last_status] if last_status else [])
                allowed = not _NEGATION.search(piece)
                for status in use:
                    for action in dict.fromkeys(actions):
                        if action != "cancel" or status != "cancelled":
                            out.append((action, status, allowed, start, start + len(piece)))
            if statuses:
                last_status = statuses[-1]
    return out


def _piece_words(piece: str) -> tuple[list, list]:
    statuses, actions = [], []
    for m in _RULE_STATUS.finditer(piece):
        word = m.group(0).lower()
        if word == "cancelled" and piece[max(0, m.start() - 4):m.start()].lower().endswith("be "):
            actions.append("cancel")  # "can no longer be cancelled": the action, not the status
        else:
            statuses.append(word)
    for m in _ACTION.finditer(piece):
        word = m.group(0).lower()
        if word != "cancelled":
            actions.append(_ACTION_WORDS[word])
    return statuses, actions


def _rule_spans(text: str) -> list[Span]:
    out = []
    for act, st, ok, a, b in _rules(text):
        a += len(text[a:b]) - len(text[a:b].lstrip())
        out.append(Span("policy", a, b, text[a:b].strip(), f"{act}:{st}:{'yes' if ok else 'no'}", "rule"))
    return out


# ------------------------------------------------------------------------------------------------ evidence

@dataclass
class _Entity:
    item_id: str
    product_id: str
    name: str
    options: dict
    price: str | None
    available: bool | None
    fact_id: str


@dataclass
class _Order:
    order_id: str
    status: str
    amounts: set
    item_ids: set
    fact_id: str


class Evidence:
    """What a set of facts supports, indexed for the checks: items, orders, ids, numbers, policy clauses."""

    def __init__(self, facts: Sequence[Fact], vocabulary: Vocabulary):
        self.facts = tuple(facts)
        self.entities: list[_Entity] = []
        self.orders: list[_Order] = []
        self.ids: dict[str, set] = {}
        self.numbers: dict[str, set] = {}
        self.free_amounts: dict[str, set] = {}  # amounts not tied to an item or an order
        self.free_options: dict[str, set] = {}
        self.texts: list[tuple[str, str]] = []  # (lower-case text, fact id) of every fact
        self.reasons: dict[str, set] = {}
        self.quantities: dict[str, dict] = {}
        self.strings: list[tuple[str, str]] = []  # (lower-case string field, fact id): addresses and names
        for fact in self.facts:
            self._add_fact(fact, vocabulary)
        self.vocabulary = vocabulary.merged({str(v): {k} for e in self.entities for k, v in e.options.items()},
                                            {e.name for e in self.entities if e.name})
        self.names = sorted({e.name for e in self.entities if e.name}, key=len, reverse=True)
        self.rules: dict[tuple, set] = {}
        for text, fid in self.texts:
            if self.kind_of(fid) in ("policy", "faq"):
                for action, status, ok, _, _ in _rules(text, answers=True):
                    self.rules.setdefault((action, status, ok), set()).add(fid)

    def kind_of(self, fact_id: str) -> str:
        return next((f.kind for f in self.facts if f.id == fact_id), "")

    def _add_fact(self, fact: Fact, vocabulary: Vocabulary):
        text = str(fact.text or "")
        self.texts.append((text.lower(), fact.id))
        has_records = self._walk(fact.fields or {}, fact.id, {})
        for span in extract_claims(text, _NO_OPTIONS):
            if span.kind in ("price", "amount", "count"):
                self.numbers.setdefault(_num(span.value), set()).add(fact.id)
                if span.kind == "price" and not has_records:
                    self.free_amounts.setdefault(span.value, set()).add(fact.id)
            elif span.kind == "id":
                self.ids.setdefault(span.value, set()).add(fact.id)
        for m in _QUOTED.finditer(text):
            if _REASONS.search(_sentence_at(text, m.start())):
                self.reasons.setdefault(" ".join(m.group(1).lower().split()), set()).add(fact.id)
        if not has_records:
            for value, keys in vocabulary.values.items():  # option values a plain-text fact (a passage) states
                # a short value ("M") only beside its option's name ("in size M"): alone it is any letter or word
                said = [value] if len(value) > 3 else [f"{k} {value}" for k in keys]
                if any(_boundary(v, False).search(text) for v in said):
                    self.free_options.setdefault(value.lower(), set()).add(fact.id)

    def _walk(self, node, fid: str, parent: dict) -> bool:
        """Index nested fields; returns whether any item or order record was found."""
        found = False
        if isinstance(node, dict):
            ctx = {**parent, **{k: node[k] for k in ("name", "product_id") if isinstance(node.get(k), str)}}
            if ("item_id" in node and ("price" in node or "options" in node)) or "order_id" in node:
                ctx["_record"] = True  # numbers inside a record are checked against that record only
            if "item_id" in node and ("price" in node or "options" in node):
                price = node.get("price")
                self.entities.append(_Entity(str(node["item_id"]), str(ctx.get("product_id", "")),
                                             str(ctx.get("name", "")), dict(node.get("options") or {}),
                                             f"{float(price):.2f}" if isinstance(price, (int, float)) else None,
                                             node.get("available") if isinstance(node.get("available"), bool)
                                             else None, fid))
                for k in ("stock", "quantity", "inventory"):
                    if isinstance(node.get(k), int):
                        self.quantities[str(node["item_id"])] = {"n": node[k]}
                found = True
            if "order_id" in node and "status" in node:
                amounts = {f"{float(p['amount']):.2f}" for p in node.get("payment_history", [])
                           if isinstance(p, dict) and isinstance(p.get("amount"), (int, float))}
                for key in ("total", "amount", "refund", "price_difference"):
                    if isinstance(node.get(key), (int, float)):
                        amounts.add(f"{float(node[key]):.2f}")
                items = {str(i.get("item_id")) for i in node.get("items", []) if isinstance(i, dict)}
                self.orders.append(_Order("#" + str(node["order_id"]).lstrip("#"), str(node["status"]).lower(),
                                          amounts, items, fid))
                found = True
            for key, value in node.items():
                if key in ("cancel_reason", "reason", "cancel_reasons", "reasons"):
                    for r in value if isinstance(value, (list, tuple)) else [value]:
                        self.reasons.setdefault(" ".join(str(r).lower().split()), set()).add(fid)
                if isinstance(value, (list, tuple)):
                    self.numbers.setdefault(str(len(value)), set()).add(fid)
                found = self._walk(value, fid, ctx) or found
        elif isinstance(node, (list, tuple)):
            for value in node:
                found = self._walk(value, fid, parent) or found
        elif isinstance(node, bool) or node is None:
            pass
        elif isinstance(node, (int, float)):
            self.numbers.setdefault(_num(str(node)), set()).add(fid)
            if not parent.get("_record"):
                self.free_amounts.setdefault(f"{float(node):.2f}", set()).add(fid)
        else:
            value = str(node)
            self.strings.append((" ".join(value.lower().split()), fid))
            for m in (_PAYMENT_ID, _ORDER_ID, _LONG_ID):
                for hit in m.finditer(value):
                    v = hit.group(0)
                    self.ids.setdefault("#" + v.lstrip("#") if m is _ORDER_ID else v, set()).add(fid)
        return found


def _num(value: str) -> str:
    try:
        f = float(value.replace(",", ""))
    except ValueError:
        return value
    if f != f or f in (float("inf"), float("-inf")) or abs(f) >= 1e15:
        return value  # a run of digits too long to be an amount: compared as written
    return str(int(f)) if f == int(f) else f"{f:.2f}"


# ------------------------------------------------------------------------------------------------ checking

@dataclass
class _Scope:
    entities: list
    orders: list

    def __bool__(self):
        return bool(self.entities or self.orders)


class _Checker:
    def __init__(self, text: str, facts: Sequence[Fact], vocabulary: Vocabulary | None, said: Sequence[str] = ()):
        self.text = text
        self.ev = Evidence(facts, vocabulary or default_vocabulary())
        self.said = " ".join(" ".join(str(x).lower().split()) for x in said)
        self.spans = extract_claims(text, self.ev.vocabulary)
        self.sentences = [(m.start(), m.end()) for m in _SENTENCE.finditer(text)] or [(0, len(text))]
        self.carry = _Scope([], [])
        self.last_status: str | None = None

    # --- which item or order a piece of text is about
    def _mentions(self, a: int, b: int) -> _Scope:
        ev, segment = self.ev, self.text[a:b]
        inside = [s for s in self.spans if a <= s.start and s.end <= b]
        ids = {s.value for s in inside if s.kind == "id"}
        orders = [o for o in ev.orders if o.order_id in ids]
        by_id = [e for e in ev.entities if e.item_id in ids or (e.product_id in ids and e.product_id)]
        if by_id:
            return _Scope(by_id, orders)
        names = [n for n in ev.names if re.search(r"(?<![\w-])" + re.escape(n) + r"(?:e?s)?(?![\w-])", segment, re.I)]
        base = [e for e in ev.entities if e.name in names] or \
            [e for o in orders for e in ev.entities if e.item_id in o.item_ids and e.fact_id == o.fact_id]
        options = {s.value.lower() for s in inside if s.kind == "option"}
        if not options and not base:  # "Right now small is out of stock": the facts' own values, everyday or not
            own = {str(v).lower() for e in ev.entities for v in e.options.values()
                   if _boundary(str(v), len(str(v)) <= 3).search(segment)}
            scored = [(sum(str(v).lower() in own for v in e.options.values()), e) for e in ev.entities]
            best = max((n for n, _ in scored), default=0)
            if best:
                return _Scope([e for n, e in scored if n == best], orders)
        if options:
            pool = base or (self.carry.entities if self.carry.entities else ev.entities)
            scored = [(sum(str(v).lower() in options for v in e.options.values()), e) for e in pool]
            best = max((n for n, _ in scored), default=0)
            if best:
                return _Scope([e for n, e in scored if n == best], orders)
            return _Scope(pool if base else [], orders)
        return _Scope(base, orders)

    def _scope_for(self, span: Span, sentence: tuple[int, int]) -> _Scope:
        """Nearest context first: the words since the previous anchored claim, then the sentence, then the
        previous sentence, then everything in the facts."""
        anchors = [s.end for s in self.spans if s.kind in ("price", "availability") and sentence[0] <= s.end
                   <= span.start]
        near = self._mentions(max(anchors, default=sentence[0]), span.end)
        if near:
            return near
        whole = self._mentions(*sentence)
        return whole or self.carry or _Scope(self.ev.entities, self.ev.orders)

    # --- the checks
    def run(self) -> list[tuple[Span, Claim]]:
        out = []
        for sentence in self.sentences:
            for span in [s for s in self.spans if sentence[0] <= s.start < sentence[1]]:
                out.append((span, self._check(span, sentence)))
            mentioned = self._mentions(*sentence)
            if mentioned:
                self.carry = mentioned
        return self._one_variant_per_description(out)

    def _one_variant_per_description(self, out: list[tuple[Span, Claim]]) -> list[tuple[Span, Claim]]:
        """Option values inside one pair of brackets describe one variant ("the Smartphone (RAM: 4GB, screen
        size: 6.1-inch)", two or more "option: value" pairs): each true of some variant, but when no variant has
        them all they describe none, and they are unsupported, with no repair."""
        for m in re.finditer(r"\(([^()]*)\)", self.text):
            if m.group(1).count(":") < 2:
                continue  # "(blue and red)", "(colours: blue, red)": alternatives, not one variant's options
            inside = [i for i, (span, claim) in enumerate(out)
                      if span.kind == "option" and claim.supported and m.start() < span.start < m.end()]
            values = {out[i][0].value.lower() for i in inside}
            if len(values) < 2 or not self.ev.entities:
                continue
            if not any(values <= {str(v).lower() for v in e.options.values()} for e in self.ev.entities):
                for i in inside:
                    span, claim = out[i]
                    out[i] = (span, replace(claim, supported=False, sources=(), repaired_to=None))
        return out

    def _claim(self, span: Span, sources, repair: str | None = None) -> Claim:
        sources = tuple(sorted(set(sources)))
        return Claim(span.kind, span.text, span.value, bool(sources), sources, None if sources else repair)

    def _check(self, span: Span, sentence) -> Claim:
        ev = self.ev
        if span.key == "address":
            return self._check_address(span)
        if span.kind == "id":
            if span.value in ev.ids:
                return self._claim(span, ev.ids[span.value])
            return self._claim(span, (), self._repair_id(span, sentence))
        if span.kind == "price":
            scope = self._scope_for(span, sentence)
            allowed = {}
            for e in scope.entities:
                if e.price:
                    allowed.setdefault(e.price, set()).add(e.fact_id)
            for o in scope.orders:
                for a in o.amounts:
                    allowed.setdefault(a, set()).add(o.fact_id)
            for a, fids in ev.free_amounts.items():
                allowed.setdefault(a, set()).update(fids)
            if span.value in allowed:
                return self._claim(span, allowed[span.value])
            prices = {e.price for e in scope.entities if e.price}
            repair = f"${next(iter(prices))}" if len(prices) == 1 and scope.entities else None
            return self._claim(span, (), repair)
        if span.kind == "option":
            return self._check_option(span, sentence)
        if span.kind == "availability":
            return self._check_availability(span, sentence)
        if span.kind == "status":
            scope = self._scope_for(span, sentence)
            orders = scope.orders or (self.carry.orders if self.carry.orders else ev.orders)
            self.last_status = span.value
            hits = [o.fact_id for o in orders if o.status == span.value]
            if not ev.orders:  # no order in the facts: only a policy or FAQ sentence quoted word for word
                start = sentence[0] + self.text[sentence[0]:span.start].rfind(": ") + 1  # after "Also: "
                said = " ".join(self.text[start:sentence[1]].lower().split())
                hits = [fid for t, fid in ev.texts if ev.kind_of(fid) in ("policy", "faq") and said in " ".join(t.split())]
            statuses = {o.status for o in orders}
            return self._claim(span, hits, next(iter(statuses)) if len(statuses) == 1 and not hits else None)
        if span.kind == "duration":
            return self._check_duration(span)
        if span.kind == "policy":
            return self._check_policy(span)
        if span.key == "measure":  # "75W", "1.5 liters": stated in some fact, spaces and case aside
            return self._claim(span, [fid for t, fid in ev.texts if span.value in re.sub(r"\s+", "", t)])
        if span.kind == "date":
            return self._claim(span, [fid for t, fid in ev.texts if span.value in t])
        # counts and other plain numbers: stated somewhere in the facts, or a count of listed records
        return self._claim(span, ev.numbers.get(_num(span.value), ()))

    def _check_address(self, span: Span) -> Claim:
        """Street, suite or zip code: in a fact, or given by the customer (a new shipping address)."""
        hits = [fid for t, fid in self.ev.texts if span.value in " ".join(t.split())]
        hits += [fid for value, fid in self.ev.strings if span.value in value]
        if not hits and span.value in self.said:
            hits = ["customer:message"]
        return self._claim(span, hits)

    def _repair_id(self, span: Span, sentence) -> str | None:
        ev = self.ev
        if span.key == "order":
            pool = {o.order_id for o in ev.orders}
        elif span.key == "payment":
            kind = span.value.rsplit("_", 1)[0]
            pool = {i for i in ev.ids if i.startswith(kind + "_")}
        elif span.key == "item":
            scope = self._mentions(*sentence)
            pool = {e.item_id for e in (scope.entities if scope.entities else ev.entities)}
        else:
            return None
        return next(iter(pool)) if len(pool) == 1 else None

    def _check_option(self, span: Span, sentence) -> Claim:
        ev, value = self.ev, span.value.lower()
        scope = self._scope_for(span, sentence)
        ids = {s.value for s in self.spans if s.kind == "id" and sentence[0] <= s.start < sentence[1]}
        named = [e for e in ev.entities if e.item_id in ids] or \
            [e for e in ev.entities if e.name and re.search(re.escape(e.name), self.text[sentence[0]:sentence[1]], re.I)]
        # an option is checked against the product the sentence is about (all of its listed variants)
        pool = named or [e for e in ev.entities if e.product_id in {x.product_id for x in scope.entities}] \
            or ev.entities
        hits = [e.fact_id for e in pool if value in {str(v).lower() for v in e.options.values()}]
        hits += list(ev.free_options.get(value, ()))
        if hits:
            return self._claim(span, hits)
        keys = set(span.key.split("|"))
        narrow = named if len(named) == 1 else scope.entities
        candidates = {str(v) for e in narrow for k, v in e.options.items() if k in keys}
        return self._claim(span, (), next(iter(candidates)) if len(candidates) == 1 and len(narrow) == 1 else None)

    def _check_availability(self, span: Span, sentence) -> Claim:
        scope = self._scope_for(span, sentence)
        ents = [e for e in scope.entities if e.available is not None]
        if span.value == "count":
            n = re.search(r"\d+", span.text)
            hits = [e.fact_id for e in scope.entities if n and self.ev.quantities.get(e.item_id, {}).get("n")
                    == int(n.group(0))]
            states = {e.available for e in ents}
            repair = ("in stock" if states == {True} else "out of stock") if len(states) == 1 else None
            return self._claim(span, hits, repair)
        want = span.value == "yes"
        hits = [e.fact_id for e in ents if e.available == want]
        if hits and len({e.available for e in ents}) > 1 and len(scope.entities) > 1:
            hits = hits if len(ents) == len(hits) else []  # "the blue ones are in stock" must hold for each
        if not hits and not ents:  # no record says anything about stock: a text fact may (e.g. action results)
            hits = [fid for t, fid in self.ev.texts if span.text.lower() in t]
        states = {e.available for e in ents}
        repair = ("available" if states == {True} else "out of stock") if len(states) == 1 else None
        verb = re.match(r"(?:it's|is|are|currently|still|now)\s+", span.text, re.I)
        if repair and verb:  # "is available" -> "is out of stock", keeping the sentence's verb
            repair = verb.group(0) + repair
        return self._claim(span, hits, repair)

    def _refund_class(self, clause: str) -> str | None:
        for name, phrases in WORDING["refund_classes"].items():
            if any(p in clause.lower() for p in phrases):
                return name
        return None

    def _check_duration(self, span: Span) -> Claim:
        wanted = self._refund_class(_clause_at(self.text, span.start))
        hits, candidates = [], set()
        for text, fid in self.ev.texts:
            for m in _DURATION.finditer(text):
                have = self._refund_class(_clause_at(text, m.start()))
                if wanted is None or have in (None, wanted):
                    candidates.add(_norm_duration(m.group(0)))
                    if _norm_duration(m.group(0)) == span.value:
                        hits.append(fid)
        return self._claim(span, hits, next(iter(candidates)) if len(candidates) == 1 and wanted else None)

    def _check_policy(self, span: Span) -> Claim:
        ev = self.ev
        if span.key == "reason":
            return self._claim(span, ev.reasons.get(span.value, ()))
        if span.key == "destination":
            hits = [fid for text, fid in ev.texts if ev.kind_of(fid) in ("policy", "faq", "action")
                    and _REFUND.search(text) for m in re.finditer(re.escape(span.value) + r"s?\b", text)
                    if not _NEGATION.search(_clause_at(text, m.start()))]
            if not hits and span.value in ("gift card", "existing gift card"):
                hits = [fid for i, fids in ev.ids.items() if i.startswith("gift_card_") for fid in fids]
            return self._claim(span, hits)
        action, status, ok = span.value.split(":")
        if self.last_status and status not in span.text.lower():
            status = self.last_status  # "you can cancel it" about the order whose status was just stated
        return self._claim(span, ev.rules.get((action, status, ok == "yes"), ()))


def degenerate(text: str) -> bool:
    """A looping model output: a line or sentence of 3+ words said twice, a 4-word sequence said three times,
    a 6-word sequence twice, or one word making up a fifth of the text. Such text is not sent even if its values check out."""
    parts = [" ".join(p.lower().split()) for p in re.split(r"[\n.!?:]+", text or "")]
    parts = [p for p in parts if len(p.split()) >= 3]
    if len(parts) != len(set(parts)):
        return True
    words = re.findall(r"\w+", (text or "").lower())
    grams = [tuple(words[i:i + 4]) for i in range(len(words) - 3)]
    if any(grams.count(g) >= 3 for g in set(grams)):
        return True
    six = [tuple(words[i:i + 6]) for i in range(len(words) - 5)]
    if len(six) != len(set(six)):
        return True  # a six-word stretch said twice
    long_words = [w for w in words if len(w) >= 4]
    top = max((long_words.count(w) for w in set(long_words)), default=0)
    return top >= 4 and top > 0.2 * len(words)  # one word over and over ("9612497925: 9612497925: ...")


def check(text: str, facts: Sequence[Fact], vocabulary: Vocabulary | None = None,
          said: Sequence[str] = ()) -> CheckedReply:
    """Verify every claim in `text` against `facts`; the text is returned unchanged. `said` is what the customer
    wrote (message, earlier turns): it supports only an address they gave, never a price or a policy term."""
    claims = tuple(claim for _, claim in _Checker(text or "", facts, vocabulary, said).run())
    return CheckedReply(text=text or "", claims=tuple(replace(c, repaired_to=None) for c in claims))


# Capitalised words a reply may use without a fact naming them: the speaker, courtesy and labels.
_COMMON_CAPITALS = frozenset(WORDING.get("common_capitals", ()))
_CAPITALISED = re.compile(r"(?<![\w'’-])[A-Z][\w'’-]*")


def novel_names(text: str, facts: Sequence[Fact], said: Sequence[str] = ()) -> list[str]:
    """Capitalised words inside a sentence that neither the facts nor the customer used: a name, place, brand or
    policy term the model brought in ("the Eastern Time Zone", "our Premium plan"). No claim kind covers such a
    word, so a reply that has one is not sent as written. The first word of a sentence is exempt."""
    known = " ".join([str(f.text).lower() for f in facts] + [str(x).lower() for x in said])
    starts = {m.start() for m in _SENTENCE.finditer(text)}
    starts |= {m.end() for m in re.finditer(r"(?:^|\n)\s*(?:[-*]\s*)?|[:(]\s*", text)}
    out = []
    for m in _CAPITALISED.finditer(text):
        word = m.group(0).rstrip("'’-")
        if m.start() in starts or word in _COMMON_CAPITALS or any(c.isdigit() for c in word):
            continue  # a sentence's first word; "I", "OK"; ids and codes are claims of their own
        if not re.search(r"(?<!\w)" + re.escape(word.lower()) + r"(?!\w)", known):
            out.append(word)
    return out


def check_and_repair(text: str, facts: Sequence[Fact], template: str, vocabulary: Vocabulary | None = None,
                     said: Sequence[str] = ()) -> CheckedReply:
    """Check `text`; replace each unsupported value that has exactly one supported candidate; if any claim is
    left unsupported (or the repaired text does not check clean), the text is empty or `degenerate`, or it
    brings in a name no fact or customer used (`novel_names`), send the template instead (`fell_back`)."""
    if not (text or "").strip() or degenerate(text) or novel_names(text, facts, said):
        return _fallback(template, facts, vocabulary, said)
    results = _Checker(text, facts, vocabulary, said).run()
    if any(not c.supported and c.repaired_to is None for _, c in results):
        return _fallback(template, facts, vocabulary, said)
    edits = {span.start: (span.end, claim.repaired_to) for span, claim in results if claim.repaired_to is not None}
    edits.update(_answer_flips(text, results))
    repaired = text
    for start in sorted(edits, reverse=True):
        end, new = edits[start]
        repaired = repaired[:start] + new + repaired[end:]
    if repaired != text:
        recheck = check(repaired, facts, vocabulary, said)
        if recheck.unsupported:
            return _fallback(template, facts, vocabulary, said)
        kept = [c for _, c in results if c.repaired_to is not None]
        return CheckedReply(repaired, tuple(kept) + tuple(c for c in recheck.claims if c.supported))
    return CheckedReply(text, tuple(c for _, c in results))


_YES_NO = re.compile(r"(?:(?<=[.!?]\s)|^)(Yes|No)\b")


def _answer_flips(text: str, results) -> dict[int, tuple[int, str]]:
    """A sentence that opens with "Yes" or "No" and whose stock state was repaired to the other state answers the
    other way too: "Yes, the Tablet is in stock" repaired to "out of stock" opens with "No" ({start: (end, word)})."""
    flips = {}
    for span, claim in results:
        if span.kind != "availability" or span.value == "count" or claim.repaired_to is None:
            continue
        if claim.repaired_to.strip().lower() == span.text.strip().lower():
            continue
        opening = [m for m in _YES_NO.finditer(text, 0, span.start)]
        if opening and not re.search(r"[.!?]\s", text[opening[-1].end():span.start]):
            m = opening[-1]
            flips[m.start()] = (m.end(), "No" if m.group(1) == "Yes" else "Yes")
    return flips


def _fallback(template: str, facts: Sequence[Fact], vocabulary: Vocabulary | None, said: Sequence[str]) -> CheckedReply:
    return replace(check(template, facts, vocabulary, said), fell_back=True)
