"""Reply writers: word a reply from the facts with the model, check every claim, repair or send the template.

`GroundedWriter` implements `trustgen.types.ReplyWriter`. Nothing unchecked reaches a customer: `stream()` hands
out the model's reply sentence by sentence, each only after the text so far passes the claim check (repaired
where one value fits), and a sentence that fails ends the reply before anything after it is sent; when nothing
has been sent yet the checked template goes instead. `write()` is the same stream, joined, and passes each
checked piece to the sink installed with `streaming_to()` (how `bot.Bot.stream` shows a reply as it is checked).
A model that fails (missing or corrupt files, an error, a time-out) leaves the writer answering with templates
and `healthy` False. `TemplateWriter` sends the bot's template (checked, for citations); `ScriptedWriter`
replays enqueued texts instead of a model, so tests exercise repair and fallback without one. Engines:
trustgen.engines; the model loads on first use.
"""
from __future__ import annotations

import contextvars
import logging
import re
import threading
import time
from collections import deque
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Callable, Generator as Gen, Iterator, Protocol

from .claims import Vocabulary, check, check_and_repair, degenerate
from .engines import Streamed, make_engine
from .errors import ModelFilesError
from .generate import Generation
from .prompting import build_messages
from .types import CheckedReply, ReplyRequest

log = logging.getLogger(__name__)

# Where checked pieces of the reply being written go as they pass (set by `streaming_to`), and a lock held by
# the caller that is let go while the model generates (set by `generating_outside`), so other conversations
# proceed meanwhile. Context variables: each thread (each conversation) has its own.
_SINK: contextvars.ContextVar[Callable[[str], None] | None] = contextvars.ContextVar("reply_sink", default=None)
_OUTSIDE: contextvars.ContextVar[object | None] = contextvars.ContextVar("generation_lock", default=None)


@contextmanager
def streaming_to(sink: Callable[[str], None]):
    """While active, model-worded replies written in this context pass each checked piece to `sink`."""
    token = _SINK.set(sink)
    try:
        yield
    finally:
        _SINK.reset(token)


@contextmanager
def generating_outside(lock):
    """While active, writers in this context release `lock` (a threading.RLock held by the caller) for as long
    as the model generates, and take it back before returning."""
    token = _OUTSIDE.set(lock)
    try:
        yield
    finally:
        _OUTSIDE.reset(token)


@contextmanager
def _released():
    lock = _OUTSIDE.get()
    owned = getattr(lock, "_is_owned", None)
    if lock is None or owned is None or not owned():
        yield
        return
    state = lock._release_save()  # the whole recursion count, as threading.Condition.wait does
    try:
        yield
    finally:
        lock._acquire_restore(state)


@dataclass(frozen=True)
class WriterConfig:
    max_new_tokens: int = 96  # a reply of two or three sentences
    time_limit_s: float = 12.0  # hard stop for one generation; whole sentences checked by then are kept
    use_model: bool = True  # False: every reply is the bot's template (still claim-checked)
    engine: str = "auto"  # auto (SHOPBOT_ENGINE, else ct2 when installed), ct2, transformers, openai
    quantize: bool = False  # transformers engine only: int8 linear layers (trustgen.quantize)
    adapter_path: str | None = "default"  # "default": trustgen/adapters/shop-lora when present; None: base model
    base_path: str | None = None  # None: the converted base model from `shopbot setup`
    stream_words: int = 3  # words per streamed piece of a template reply
    threads: int | None = 1  # cores per generation (torch's setting is process-wide; CT2's is per replica)
    workers: int = 2  # ct2: conversations decoded at once (model replicas sharing the weights)
    retry_after_s: float = 60.0  # after a model error or time-out, templates for this long, then the model again


class TextGenerator(Protocol):
    """Turns chat messages into reply text. One verb; `ModelGenerator` and `ScriptedGenerator` implement it
    (and `stream(messages)`, a stream of text pieces returning a `Generation`, which the writer prefers)."""

    def generate(self, messages: list[dict]) -> str: ...


class ModelGenerator:
    """The shop's language model behind an engine (trustgen.engines), loaded on first use, greedy and bounded by
    WriterConfig. `loaded`: a trustgen.generate.LoadedModel to share (transformers engine)."""

    def __init__(self, config: WriterConfig = WriterConfig(), loaded=None, engine=None):
        self.config = config
        if engine is None and loaded is not None:
            from .engines import TransformersEngine
            engine = TransformersEngine(loaded=loaded, threads=config.threads)
        self._engine = engine
        self._lock = threading.Lock()

    @property
    def engine(self):
        with self._lock:
            if self._engine is None:
                c = self.config
                if c.threads and c.engine != "transformers":  # the transformers engine sets it on load
                    _torch_threads(c.threads)
                self._engine = make_engine(c.engine, base_path=c.base_path, adapter_path=c.adapter_path,
                                           quantize=c.quantize, threads=c.threads, workers=c.workers)
        return self._engine

    def load(self):
        engine = self.engine
        return engine.load() if hasattr(engine, "load") else engine

    def stream(self, messages: list[dict]) -> Gen[str, None, Generation]:
        return self.engine.stream(messages, max_new_tokens=self.config.max_new_tokens,
                                  time_limit_s=self.config.time_limit_s)

    def generate(self, messages: list[dict]) -> str:
        streamed = Streamed(self.stream(messages))
        for _ in streamed:
            pass
        return usable_text(streamed.generation)


def _torch_threads(n: int) -> None:
    """One torch thread per conversation for the rest of the turn (the bot's reader, embeddings): on a shared
    2-core CPU two torch threads per turn were several times slower (docs/trust.md)."""
    import importlib.util
    if importlib.util.find_spec("torch") is not None:
        import torch
        torch.set_num_threads(n)


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

    def stream(self, messages: list[dict]) -> Gen[str, None, Generation]:
        """The next text in pieces of a few characters, as a model's tokens would arrive."""
        text = self.generate(messages)
        for i in range(0, len(text), 4):
            yield text[i:i + 4]
        return Generation(text.strip(), (len(text) + 3) // 4, 0, "eos", 0.0)


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


_SENTENCE_END = re.compile(r"[.!?;](?=\s)|\n")  # a clause ending in a semicolon is checked on its own


class GroundedWriter:
    """Model-worded, claim-checked replies; falls back to the request's template when a reply cannot be repaired,
    when the model is unavailable, or when the request says `use_model=False`."""

    def __init__(self, generator: TextGenerator | None = None, config: WriterConfig = WriterConfig(),
                 vocabulary: Vocabulary | None = None):
        self.generator = generator
        self.config = config
        self.vocabulary = vocabulary
        self.failure: str | None = None  # why the model could not be used, once it failed
        self._failed_at = 0.0
        self._permanent = False  # missing or corrupt files: no retry until the process restarts

    @property
    def healthy(self) -> bool:
        """False once the model failed to load or generate (or timed out with nothing usable) and has not
        answered since: replies are then the checked templates."""
        return self.failure is None

    def _model_usable(self) -> bool:
        if self.generator is None or self.failure is None:
            return self.generator is not None
        return not self._permanent and time.monotonic() - self._failed_at >= self.config.retry_after_s

    def _fail(self, reason: str, permanent: bool) -> None:
        self.failure, self._failed_at, self._permanent = reason, time.monotonic(), permanent
        log.warning("model unavailable, sending templates: %s", reason)

    def template_reply(self, request: ReplyRequest) -> CheckedReply:
        return check(request.template, request.facts, self.vocabulary, said(request))

    def write(self, request: ReplyRequest) -> CheckedReply:
        """The checked reply; each model-worded piece also goes to the `streaming_to` sink as it passes."""
        sink, streamed = _SINK.get(), Streamed(self._stream_checked(request))
        for piece in streamed:
            if sink is not None:
                sink(piece)
        return streamed.generation

    def stream(self, request: ReplyRequest) -> Iterator[str]:
        """The checked reply in pieces (sentences of the model's reply; word groups of a template); joined they
        equal `write(request).text`."""
        yield from self._stream_checked(request, template_pieces=True)

    def _stream_checked(self, request: ReplyRequest, template_pieces: bool = False) -> Gen[str, None, CheckedReply]:
        if not (request.use_model and self.config.use_model and self._model_usable()):
            reply = self.template_reply(request)
        else:
            reply = yield from self._model_reply(request)
        if reply.used_model is False and template_pieces:
            yield from pieces(reply.text, self.config.stream_words)
        return reply

    def _model_reply(self, request: ReplyRequest) -> Gen[str, None, CheckedReply]:
        """Sentence by sentence: the text so far plus the new sentence is checked (and repaired) before the
        sentence is handed out; what the question asked for (`must_state`) is held back until it is stated. A
        clause ending in a semicolon counts as a sentence ("Yes, the kettle is in stock; it costs $X."), so the
        answer goes out before the rest is written; its semicolon waits for what follows, and becomes a full stop
        when nothing does."""
        facts, template, words = request.facts, request.template, said(request)
        accepted, held, sent, last = "", "", False, None
        streamed = None

        def add(sentence: str) -> str | None:
            """Check `sentence` after the accepted text: None when it fails; else what may be sent now ("" while
            what was asked for is not stated yet)."""
            nonlocal accepted, held, sent, last
            ok = self._accept(sentence, accepted, facts, template, words)
            if ok is None:
                return None
            accepted, last = ok.text, ok
            held += ok.piece
            if not held or missing_kinds(ok.checked, request.must_state):
                return ""
            ready, held, sent = held, "", True
            if ready.endswith(";"):  # the clause goes out; its semicolon only with what follows it
                ready, held = ready[:-1], ";"
            return ready

        def closed(checked: CheckedReply) -> Gen[str, None, CheckedReply]:
            """The reply as sent: a clause whose semicolon was held back ends with a full stop instead."""
            if held == ";" and checked.text.endswith(";"):
                yield "."
                checked = replace(checked, text=checked.text[:-1] + ".")
            return replace(checked, used_model=True)

        try:
            with _released():
                streamed = Streamed(self._generator_stream(build_messages(request)))
                buffer = ""
                for piece in streamed:
                    buffer += piece
                    while (cut := _sentence_cut(buffer, accepted)) is not None:
                        sentence, buffer = buffer[:cut], buffer[cut:]
                        if (ready := add(sentence)) is None:
                            break
                        if ready:
                            yield ready
                    else:
                        continue
                    streamed.close()  # a sentence failed: stop generating, send nothing after it
                    buffer = ""
                    break
                gen = streamed.generation
                tail = buffer if gen is not None and gen.stopped_by not in ("length", "time") else ""
                if tail.strip() and not tail.rstrip().endswith(":") and (ready := add(tail.rstrip())):
                    yield ready
        except ModelFilesError as exc:
            self._fail(str(exc), permanent=True)
            return replace(self.template_reply(request), fell_back=True)
        except Exception as exc:  # noqa: BLE001 - an engine or model server failing must not fail the turn
            self._fail(f"{exc.__class__.__name__}: {exc}", permanent=False)
            log.debug("engine error", exc_info=True)
            if not sent:
                return replace(self.template_reply(request), fell_back=True)
            return (yield from closed(last.checked))
        gen = streamed.generation if streamed is not None else None
        timed_out = gen is not None and gen.stopped_by == "time"
        if not sent:  # nothing usable, or it never said what was asked: the template
            if timed_out:
                self._fail(f"time-out: no checked sentence within {self.config.time_limit_s:g} s", permanent=False)
            return replace(self.template_reply(request), fell_back=True)
        self.failure = None  # the model answered: healthy again
        return (yield from closed(last.checked))

    def _generator_stream(self, messages: list[dict]) -> Gen[str, None, Generation]:
        stream = getattr(self.generator, "stream", None)
        if stream is not None:
            return stream(messages)
        return _one_piece(self.generator.generate(messages))

    def _accept(self, sentence: str, accepted: str, facts, template: str, words) -> "_Accepted | None":
        """The text with `sentence` added, checked and repaired, when it passes and leaves the accepted text
        unchanged; None when it fails (unsupported, looping, or changing what was already sent)."""
        if not accepted:
            sentence = sentence.lstrip()
        text = accepted + sentence
        if not sentence.strip() or degenerate(text):
            return None
        checked = check_and_repair(text, facts, template, self.vocabulary, words)
        if checked.fell_back or not checked.text.startswith(accepted):
            return None
        return _Accepted(checked.text, checked.text[len(accepted):], checked)


@dataclass(frozen=True)
class _Accepted:
    text: str  # the whole accepted reply so far
    piece: str  # what this sentence added (repaired)
    checked: CheckedReply


def _sentence_cut(buffer: str, accepted: str) -> int | None:
    """Where the first whole sentence in `buffer` ends (after its punctuation or line break), or None."""
    for m in _SENTENCE_END.finditer(buffer):
        if buffer[:m.end()].strip():
            return m.end()
    return None


def _one_piece(text: str) -> Gen[str, None, Generation]:
    """A generator's whole text as a one-piece stream (for generators that only `generate`)."""
    if text:
        yield text
    return Generation(text.strip(), 0, 0, "eos", 0.0)


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
