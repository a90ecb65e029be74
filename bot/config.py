"""How the assistant behaves: thresholds and limits, as one frozen dataclass, loadable from TOML.

`BotConfig()` gives the defaults; `BotConfig.from_toml(path)` reads a `[bot]` table and rejects unknown keys.
"""
from __future__ import annotations

import tomllib
from dataclasses import dataclass, fields
from pathlib import Path


@dataclass(frozen=True)
class BotConfig:
    min_confidence: float = 0.35  # below this the classifier's guess is not acted on; we ask to rephrase
    handover_after_unclear: int = 2  # consecutive unclear turns before offering a person
    max_suggestions: int = 3  # recommendations per reply
    search_top_k: int = 6  # passages and items fetched per question
    history_turns: int = 6  # turns of history passed to the writer
    use_model: bool = True  # free-form answers may be worded by the model; actions always use templates

    @classmethod
    def from_toml(cls, path: str | Path) -> "BotConfig":
        data = tomllib.loads(Path(path).read_text(encoding="utf-8")).get("bot", {})
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown [bot] settings: {sorted(unknown)}")
        return cls(**data)
