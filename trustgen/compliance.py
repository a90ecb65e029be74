"""Advertising compliance linter: flag and remove what honest copy must not say.

Four rules, worded in `trustgen/prompts/compliance.yaml`: unsupported superlatives ("best", "#1"), urgency the
stock data does not support ("only 2 left", "hurry"), promises and guarantees the policy does not make
("lifetime warranty"), and health or environmental claims ("eco-friendly", "non-toxic"). A phrase that the
given facts state word for word is allowed. It does not verify prices or options: that is trustgen.claims.
Use: `lint(text, facts) -> Linted(text, findings)`.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Sequence

from .prompting import prompt_wording
from .types import Fact

_SENTENCE = re.compile(r"\S.*?(?:[.!?]+(?=\s|$)|$)", re.S)


@dataclass(frozen=True)
class Finding:
    rule: str  # superlative | urgency | promise | health_environment
    start: int  # span in the text that was linted
    end: int
    text: str
    action: str  # "removed word" | "removed sentence"
    why: str


@dataclass(frozen=True)
class Linted:
    text: str  # the cleaned text
    findings: tuple[Finding, ...] = ()

    @property
    def clean(self) -> bool:
        return not self.findings


@lru_cache(maxsize=1)
def _rules() -> list[tuple[str, str, str, re.Pattern]]:
    out = []
    for name, rule in prompt_wording("compliance")["rules"].items():
        phrases = sorted(rule["phrases"], key=len, reverse=True)
        pattern = re.compile(r"(?<![\w-])(?:" + "|".join(phrases) + r")(?![\w-])", re.I)
        out.append((name, rule["action"], rule["why"], pattern))
    return out


def _stated_in(phrase: str, facts: Sequence[Fact]) -> bool:
    pattern = re.compile(r"(?<![\w-])" + re.escape(phrase) + r"(?![\w-])", re.I)
    return any(pattern.search(f.text or "") for f in facts)


def lint(text: str, facts: Sequence[Fact] = ()) -> Linted:
    """Find every non-compliant phrase in `text` and return the text without them (and their findings)."""
    text = text or ""
    findings, cut_words, cut_sentences = [], [], []
    sentences = [(m.start(), m.end()) for m in _SENTENCE.finditer(text)]
    taken = bytearray(len(text))
    for name, action, why, pattern in _rules():
        for m in pattern.finditer(text):
            if any(taken[m.start():m.end()]) or _stated_in(m.group(0), facts):
                continue
            taken[m.start():m.end()] = b"\x01" * (m.end() - m.start())
            if action == "sentence":
                sentence = next((s for s in sentences if s[0] <= m.start() < s[1]), (m.start(), m.end()))
                cut_sentences.append(sentence)
                findings.append(Finding(name, m.start(), m.end(), m.group(0), "removed sentence", why))
            else:
                cut_words.append((m.start(), m.end()))
                findings.append(Finding(name, m.start(), m.end(), m.group(0), "removed word", why))
    keep = bytearray(b"\x01" * len(text))
    for a, b in cut_sentences:
        keep[a:b] = bytes(b - a)
    for a, b in cut_words:
        keep[a:b] = bytes(b - a)
    cleaned = "".join(ch for ch, k in zip(text, keep) if k)
    return Linted(_tidy(cleaned), tuple(sorted(findings, key=lambda f: f.start)))


def _tidy(text: str) -> str:
    """Spaces and punctuation left behind by removals: doubled spaces, "a  bottle", " ,", "the the"."""
    text = re.sub(r"[ \t]{2,}", " ", text)
    text = re.sub(r"\s+([,.!?;:])", r"\1", text)
    text = re.sub(r"([,;:])(?=[.!?])", "", text)
    text = re.sub(r"\b(a|an|the|our|this)\s+(?=[,.!?]|$)", "", text, flags=re.I)
    text = re.sub(r"\b(a|an|the)\s+(?:and|or),?\s+", r"\1 ", text, flags=re.I)  # "a [unique] and stylish"
    text = re.sub(r"\b(?:a|an|the)\s+(?=(?:for|with|of|to|that|in|on)\b)", "", text, flags=re.I)  # "a [must-have] for"
    text = re.sub(r"\b(\w+) \1\b", r"\1", text, flags=re.I)
    text = re.sub(r"\ban (?=[bcdfghjklmnpqrstvwxyz])", "a ", text, flags=re.I)
    text = re.sub(r"\b([Aa]) (?=[aeio])", r"\1n ", text)  # "a [unique] item" -> "an item"
    text = re.sub(r"(^|[.!?]\s+)([a-z])", lambda m: m.group(1) + m.group(2).upper(), text)
    return text.strip()
