"""Token counts for the API's `usage` field, with the language model's own tokenizer.

The prompt is the messages the assistant read, framed as the model would see them (its ChatML chat format:
`<|im_start|>role\\ncontent<|im_end|>\\n` per message, then the assistant's opening); the completion is the reply
text shown plus the end-of-turn token. Which messages are read is the API's (ui/api.py): never more than a few
cut ones, so counting stays cheap whatever a client sends. The tokenizer is read from the converted model
folder (`tokenizer.json`) on first use, never downloaded. Not counted: what the flows read (facts, templates).
"""
from __future__ import annotations

import logging
import threading
from pathlib import Path

log = logging.getLogger(__name__)
START, END = "<|im_start|>", "<|im_end|>"


class TokenCounter:
    """Counts tokens with the `tokenizers` library and the model folder's tokenizer.json (loaded on first use)."""

    def __init__(self, tokenizer_file: str | Path | None = None):
        self._file = Path(tokenizer_file) if tokenizer_file else None
        self._tokenizer = None
        self._lock = threading.Lock()

    def _load(self):
        with self._lock:
            if self._tokenizer is None:
                from tokenizers import Tokenizer
                path = self._file
                if path is None:
                    from trustgen.convert import base_model_path
                    path = base_model_path() / "tokenizer.json"
                self._tokenizer = Tokenizer.from_file(str(path))  # FileNotFoundError / Exception: no such file
        return self._tokenizer

    def count(self, text: str) -> int:
        return len(self._load().encode(text, add_special_tokens=False).ids)

    def usage(self, messages: list[tuple[str, str]], completion: str) -> dict | None:
        """OpenAI's usage object for (role, text) messages and the reply; None when the tokenizer is missing."""
        try:
            prompt = "".join(f"{START}{role}\n{text}{END}\n" for role, text in messages) + f"{START}assistant\n"
            prompt_tokens, completion_tokens = self.count(prompt), self.count(completion + END)
        except Exception:  # noqa: BLE001 - a missing tokenizer must not cost the customer their answer
            log.warning("token counting failed; usage left out (run `shopbot setup`)", exc_info=True)
            return None
        return {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens}
