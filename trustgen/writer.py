"""Reply writers: word a reply from the facts with the model, check every claim, repair or send the template.

`GroundedWriter` implements `trustgen.types.ReplyWriter`. Nothing unchecked reaches a customer: `stream()` first
generates and checks the whole reply, then yields the checked text in word groups. `TemplateWriter` sends the
bot's template (still checked, for citations); `ScriptedWriter` replays enqueued texts instead of a model, so
other packages' tests exercise repair and fallback without loading one. The model loads on first use.
"""
from __future__ import annotations

import logging
import re
import threading
from collections import deque
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Iterator, Protocol

from .claims import Vocabulary, check, check_and_repair
from .errors import TrustgenError
from .prompting import build_messages
from .types import CheckedReply, ReplyRequest

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class WriterConfig:
    max_new_tokens: int = 96  # a reply of two or three sentences; every token costs ~0.05-0.1 s on a laptop CPU
    time_limit_s: float = 12.0  # hard stop for one generation; the checked template is sent if it runs out
    use_model: bool = True  # False: every reply is the bot's template (still claim-checked)
    quantize: bool = False  # int8 linear layers (trustgen.quantize); see docs/trust.md for the measured trade-off
    adapter_path: str | None = "default"  # "default": trustgen/adapters/shop-lora when present; None: base model
    base_path: str | None = None  # None: the converted base model from `shopbot setup`
    stream_words: int = 3  # words per streamed piece
    threads: int | None = 1  # torch threads (process-wide); 1 measured 2.4x faster on a shared 2-core CPU
    # (docs/trust.md); None leaves torch's default


class TextGenerator(Protocol):
    """Turns chat messages into reply text. One verb; `ModelGenerator` and `ScriptedGenerator` implement it."""

    def generate(self, messages: list[dict]) -> str: ...


class ModelGenerator:
    """The shop's language model, loaded on first use (thread-safe), greedy and bounded by WriterConfig."""

    def __init__(self, config: WriterConfig = WriterConfig(), loaded=None):
        self.config = config
        self._loaded = loaded  # a trustgen.generate.LoadedModel to share, or None to load on first use
        self._lock = threading.Lock()

    def load(self):
        with self._lock:
            if self._loaded is None:
                from .generate import load_model
                c = self.config
                if c.threads:
                    import torch
                    torch.set_num_threads(c.threads)
                self._loaded = load_model(Path(c.base_path) if c.base_path else None, c.adapter_path, c.quantize)
        return self._loaded

    def generate(self, messages: list[dict]) -> str:
        from .generate import generate
        loaded = self.load()
        out = generate(loaded, messages, max_new_tokens=self.config.max_new_tokens,
                       time_limit_s=self.config.time_limit_s)
        return usable_text(out)


class ScriptedGenerator:
    """A generator that returns enqueued texts in order (an empty string when none is left) and records the
    messages it was given."""

    def __init__(self, *texts: str):
        self.queue: deque[str] = deque(texts)
        self.calls: list[list[dict]] = []

    def enqueue(self, *texts: str) -> "ScriptedGenerator":
        self.queue.extend(texts)
        return self

    def generate(self, messages: list[dict]) -> str:
        self.calls.append(messages)
        return self.queue.popleft() if self.queue else ""


def said(request: ReplyRequest) -> tuple[str, ...]:
    """What the customer wrote: it may support an address they gave, nothing else (see claims.check)."""
    return tuple(t for role, t in request.history if role == "user") + (request.message or "",)


def usable_text(generation) -> str:
    """The part of a `trustgen.generate.Generation` worth checking: when it was cut off by the token or time
    limit, or ends announcing what never came ("The answer is:"), its whole sentences only ("" sends the
    template)."""
    cut = generation.stopped_by in ("length", "time") or generation.text.rstrip().endswith(":")
    return complete_sentences(generation.text) if cut else generation.text


def missing_kinds(checked: CheckedReply, kinds: tuple[str, ...]) -> list[str]:
    """The claim kinds in `kinds` that the checked reply does not state."""
    stated = {c.kind for c in checked.claims if c.supported or c.repaired_to is not None}
    return [k for k in kinds if k not in stated]


def complete_sentences(text: str) -> str:
    """`text` up to its last full stop, question or exclamation mark ("" when it has none)."""
    ends = [m.end() for m in re.finditer(r"[.!?](?=\s|$)", text)]
    return text[:ends[-1]] if ends else ""


def pieces(text: str, words: int = 3) -> Iterator[str]:
    """`text` in groups of `words` words, whitespace kept, so the pieces joined equal the text."""
    tokens, n = re.findall(r"\S+\s*|\s+", text), max(words, 1)
    for i in range(0, len(tokens), n):
        yield "".join(tokens[i:i + n])


class GroundedWriter:
    """Model-worded, claim-checked replies; falls back to the request's template when a reply cannot be repaired,
    when the model is unavailable, or when the request says `use_model=False`."""

    def __init__(self, generator: TextGenerator | None = None, config: WriterConfig = WriterConfig(),
                 vocabulary: Vocabulary | None = None):
        self.generator = generator
        self.config = config
        self.vocabulary = vocabulary
        self.failure: str | None = None  # why the model could not be used, once it failed

    @property
    def healthy(self) -> bool:
        """False once the model failed to load or generate: replies are then the checked templates."""
        return self.failure is None

    def template_reply(self, request: ReplyRequest) -> CheckedReply:
        return check(request.template, request.facts, self.vocabulary, said(request))

    def write(self, request: ReplyRequest) -> CheckedReply:
        if not (request.use_model and self.config.use_model and self.generator is not None and self.healthy):
            return self.template_reply(request)
        try:
            text = self.generator.generate(build_messages(request))
        except TrustgenError as exc:  # missing model files and the like: say so once, keep answering
            self.failure = str(exc)
            log.warning("model unavailable, sending templates: %s", exc)
            return replace(self.template_reply(request), fell_back=True)
        checked = check_and_repair(text, request.facts, request.template, self.vocabulary, said(request))
        if not checked.fell_back and missing_kinds(checked, request.must_state):
            return replace(self.template_reply(request), fell_back=True)
        return replace(checked, used_model=not checked.fell_back)

    def stream(self, request: ReplyRequest) -> Iterator[str]:
        """The checked reply in word groups; joined they equal `write(request).text`."""
        yield from pieces(self.write(request).text, self.config.stream_words)


class TemplateWriter(GroundedWriter):
    """No model: every reply is the request's template, claim-checked so it carries its sources."""

    def __init__(self, vocabulary: Vocabulary | None = None):
        super().__init__(None, WriterConfig(use_model=False), vocabulary)


class ScriptedWriter(GroundedWriter):
    """A GroundedWriter whose "model" replays enqueued replies: `ScriptedWriter().enqueue("It costs $9.")`."""

    def __init__(self, *texts: str, config: WriterConfig = WriterConfig(), vocabulary: Vocabulary | None = None):
        super().__init__(ScriptedGenerator(*texts), config, vocabulary)

    def enqueue(self, *texts: str) -> "ScriptedWriter":
        self.generator.enqueue(*texts)
        return self

    @property
    def calls(self) -> list[list[dict]]:
        return self.generator.calls


def load_default_writer(quantize: bool | None = None, config: WriterConfig | None = None,
                        vocabulary: Vocabulary | None = None) -> GroundedWriter:
    """The app's writer: the base model plus the shop's adapter, loaded on the first reply (not here).
    `vocabulary`: the shop's option values (`claims.vocabulary_from_store(store)`); default the demo shop's."""
    config = config or WriterConfig()
    if quantize is not None:
        config = replace(config, quantize=quantize)
    return GroundedWriter(ModelGenerator(config), config, vocabulary)
