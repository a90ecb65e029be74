"""The rules publishable advertising copy must pass, as pure functions over the text and the variant's facts.

`judge(text, variant, with_price)` returns a `Verdict` listing every rule the text breaks: the label, 2 to 4
sentences and 25 to 80 words, the product named, at least two of the variant's own option values named, the
price only when asked for (and then its own), no compliance finding (compliance.py), no unsupported claim
(claims.py), no echoed instruction, no loop, and the variant in stock. `template_like(a, b, ...)` says whether
two variants' copies are the same text with the values swapped. It does not write or repair copy: copywriter.py.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache

from .claims import check, degenerate
from .compliance import lint
from .prompting import prompt_wording
from .types import fact_from_variant

_SENTENCE = re.compile(r"\S.*?(?:[.!?]+(?=\s|$)|$)", re.S)
_PRICE = re.compile(r"(?:\$|USD\s?)\s?\d[\d,]*(?:\.\d+)?|\d[\d,]*(?:\.\d+)?\s?(?:dollars|USD)\b", re.I)
# Words that only appear when the model repeats its instruction or the prompt's field labels.
_ECHO = re.compile(r"\b(?:sentences? of|shop copy|advertisement for|advertising copy|options:|product:|price:|"
                   r"write (?:two|three|2|3)|the buyer|as given)\b", re.I)


@dataclass(frozen=True)
class CopyRules:
    min_sentences: int = 2
    max_sentences: int = 4
    min_words: int = 25
    max_words: int = 80
    min_options: int = 2  # option values named as benefits (fewer only when the variant has fewer to advertise)
    same_template: float = 0.7  # word-trigram overlap, values masked, at which two copies count as one template


@dataclass(frozen=True)
class Verdict:
    failures: tuple[str, ...]  # names of the rules broken, empty when the copy passes
    words: int = 0
    sentences: int = 0
    options_named: tuple[str, ...] = ()  # the option names whose value the copy states
    unsupported: int = 0
    findings: tuple[str, ...] = field(default=())  # compliance rules the text breaks

    @property
    def passed(self) -> bool:
        return not self.failures


def body_of(text: str) -> str:
    """The copy without its advertising label."""
    label = prompt_wording("copy")["label"]
    return text[len(label):] if text.startswith(label) else text


def sentences(text: str) -> list[str]:
    return [m.group(0).strip() for m in _SENTENCE.finditer(text or "") if re.search(r"\w", m.group(0))]


def advertisable(variant: dict) -> dict:
    """The options that can be advertised as a benefit (not "none", "no", ...)."""
    skip = {v.lower() for v in prompt_wording("copy")["not_a_benefit"]}
    return {k: str(v) for k, v in (variant.get("options") or {}).items() if str(v).lower() not in skip}


@lru_cache(maxsize=4096)
def _mention(value: str) -> re.Pattern:
    return re.compile(r"(?<![\w-])" + re.escape(value) + r"(?![\w-])", re.I)


def options_named(text: str, variant: dict) -> tuple[str, ...]:
    """Option names whose value the text states; a yes-valued option counts when its name is stated."""
    yes = {v.lower() for v in prompt_wording("copy")["yes_values"]}
    out = []
    for key, value in advertisable(variant).items():
        said = key if value.lower() in yes else value
        if _mention(said).search(text or ""):
            out.append(key)
    return tuple(out)


def judge(text: str, variant: dict, with_price: bool = False, rules: CopyRules = CopyRules()) -> Verdict:
    """Every rule `text` (labelled copy for `variant`) breaks; see the module docstring."""
    failures = []
    label = prompt_wording("copy")["label"]
    if not (text or "").startswith(label):
        failures.append("label")
    body = body_of(text or "")
    parts = sentences(body)
    words = len(re.findall(r"[\w$][\w.,'%$-]*", body))
    if not rules.min_sentences <= len(parts) <= rules.max_sentences:
        failures.append("sentences")
    if not rules.min_words <= words <= rules.max_words:
        failures.append("words")
    if not _mention(str(variant.get("name", ""))).search(body):
        failures.append("names_product")
    named = options_named(body, variant)
    if len(named) < min(rules.min_options, len(advertisable(variant))):
        failures.append("options")
    prices = {p for p in _PRICE.findall(body)}
    own = f"${float(variant['price']):.2f}"
    if with_price and own not in body:
        failures.append("price_missing")
    if prices and not (with_price and all(own.lstrip("$") in p for p in prices)):
        failures.append("price_unasked" if not with_price else "price_wrong")
    facts = (fact_from_variant(variant),)
    linted = lint(body, facts)
    if linted.findings:
        failures.append("compliance")
    checked = check(body, facts)
    if checked.unsupported:
        failures.append("claims")
    if _ECHO.search(body):
        failures.append("echo")
    if degenerate(body) or len({s.lower() for s in parts}) < len(parts):
        failures.append("loop")
    if not variant.get("available"):
        failures.append("out_of_stock")
    return Verdict(tuple(failures), words, len(parts), named, checked.unsupported,
                   tuple(sorted({f.rule for f in linted.findings})))


def _masked_trigrams(text: str, variant: dict) -> set[tuple[str, ...]]:
    body = body_of(text).lower()
    for value in sorted((str(v) for v in (variant.get("options") or {}).values()), key=len, reverse=True):
        body = _mention(value).sub(" VALUE ", body)
    body = _PRICE.sub(" PRICE ", body)
    words = re.findall(r"[\w-]+", body)
    return {tuple(words[i:i + 3]) for i in range(len(words) - 2)}


def template_overlap(a: str, variant_a: dict, b: str, variant_b: dict) -> float:
    """Jaccard overlap of word trigrams of two copies with each one's option values and price masked."""
    ta, tb = _masked_trigrams(a, variant_a), _masked_trigrams(b, variant_b)
    return len(ta & tb) / len(ta | tb) if ta | tb else 1.0


def template_like(a: str, variant_a: dict, b: str, variant_b: dict, rules: CopyRules = CopyRules()) -> bool:
    """True when two variants' copies are one text with the values swapped (overlap >= rules.same_template)."""
    return template_overlap(a, variant_a, b, variant_b) >= rules.same_template


def distinct_n(texts, n: int = 2) -> float:
    """Distinct-n: unique word n-grams over all n-grams of the texts (0 for none); higher is more varied."""
    grams = []
    for t in texts:
        words = re.findall(r"[\w-]+", body_of(t).lower())
        grams += [tuple(words[i:i + n]) for i in range(len(words) - n + 1)]
    return len(set(grams)) / len(grams) if grams else 0.0
