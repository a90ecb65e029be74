"""The shop's FAQ: questions and answers in a JSON file, each with the policy sentences it rests on.

Every entry is {id, question, answer, policy}: `policy` quotes, word for word, the parts of the shop's
policy.md that the answer restates, so a test can check the FAQ never says more than the policy does.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from .errors import DataFileError
from .paths import demo_shop_source


@dataclass(frozen=True)
class FaqEntry:
    id: str
    question: str
    answer: str
    policy: tuple[str, ...]


def load_faq(path: str | Path | None = None) -> list[FaqEntry]:
    """Read and check a FAQ file (the demo shop's by default); a malformed entry rejects the file."""
    path = Path(path) if path else demo_shop_source() / "faq.json"
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DataFileError(path, f"cannot read the FAQ: {exc}") from None
    if not isinstance(raw, list):
        raise DataFileError(path, "expected a JSON list of entries")
    entries, seen = [], set()
    for n, item in enumerate(raw):
        if not isinstance(item, dict):
            raise DataFileError(path, f"entry {n} is not an object")
        where = f"entry {item.get('id', n)!r}"
        for key in ("id", "question", "answer"):
            if not isinstance(item.get(key), str) or not item[key].strip():
                raise DataFileError(path, f"{where}: '{key}' must be a non-empty string")
        policy = item.get("policy", [])
        if not isinstance(policy, list) or not all(isinstance(p, str) for p in policy):
            raise DataFileError(path, f"{where}: 'policy' must be a list of strings")
        if item["id"] in seen:
            raise DataFileError(path, f"{where}: duplicate id")
        seen.add(item["id"])
        entries.append(FaqEntry(item["id"], item["question"].strip(), item["answer"].strip(), tuple(policy)))
    return entries


def load_policy(path: str | Path | None = None) -> str:
    path = Path(path) if path else demo_shop_source() / "policy.md"
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise DataFileError(path, f"cannot read the policy: {exc}") from None
