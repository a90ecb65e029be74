"""Inference engines: the seam between the reply writer and whatever runs the language model.

An engine has one verb, `stream(messages, max_new_tokens, time_limit_s)`: it yields decoded text pieces as tokens
arrive and returns a `Generation` (why it stopped, token counts, time to the first token); `generate()` drains it.
Engines: `CT2Engine` (CTranslate2, int8 weights: the default on CPU), `LlamaCppEngine` (llama.cpp on the merged GGUF
file, where llama-cpp-python is installed), `TransformersEngine` (PyTorch: training,
perplexity, and the fallback without ctranslate2), `OpenAIEngine` (an OpenAI-compatible server elsewhere, such as
llama.cpp's server or vLLM). Each loads on first use and may serve several conversations at once. Nothing here
checks claims (trustgen.writer does). Try it: `python -m trustgen.engines --engine ct2 "Do you sell backpacks?"`.
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import os
import queue
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Generator as Gen, Iterator, Protocol, Sequence

from .errors import EngineError, ModelFilesError
from .generate import DEFAULT_STOP, MAX_PROMPT_TOKENS, Generation, fit_messages

ENGINES = ("ct2", "llama-cpp", "transformers", "openai")


class Engine(Protocol):
    """Chat messages in, text pieces out; the generator's return value is the `Generation`."""

    name: str

    def stream(self, messages: list[dict], max_new_tokens: int = 96, time_limit_s: float = 12.0,
               stop: Sequence[str] = DEFAULT_STOP) -> Gen[str, None, Generation]: ...


class EngineBase:
    """Conveniences over `stream`: `generate()` returns the whole `Generation`."""

    name = "engine"

    def stream(self, messages, max_new_tokens=96, time_limit_s=12.0, stop=DEFAULT_STOP):
        raise NotImplementedError

    def generate(self, messages: list[dict], **kwargs) -> Generation:
        return drain(self.stream(messages, **kwargs))


def drain(pieces: Gen[str, None, Generation]) -> Generation:
    """Run a stream to its end; its `Generation` (whose text is the pieces joined, stripped)."""
    streamed = Streamed(pieces)
    for _ in streamed:
        pass
    return streamed.generation


class Streamed:
    """Iterate a stream's text pieces; after the loop, `generation` holds what the stream returned."""

    def __init__(self, pieces: Gen[str, None, Generation]):
        self.pieces, self.generation = pieces, None

    def __iter__(self) -> Iterator[str]:
        self.generation = yield from self.pieces

    def close(self) -> None:
        self.pieces.close()


class _Decoder:
    """Incremental detokenisation: hands out only text before any stop string, holding back a possible start of
    one (and half a multi-byte character) until the end."""

    def __init__(self, tokenizer, stop: Sequence[str]):
        self.tokenizer, self.stop, self.ids, self.emitted = tokenizer, tuple(stop), [], 0
        self.hold = max(map(len, self.stop), default=0)

    def text(self) -> tuple[str, bool]:
        text = self.tokenizer.decode(self.ids, skip_special_tokens=False)
        cut = min((text.find(s) for s in self.stop if s in text), default=-1)
        return (text[:cut], True) if cut >= 0 else (text, False)

    def add(self, token_id: int) -> tuple[str, bool]:
        self.ids.append(token_id)
        text, hit = self.text()
        safe = len(text) if hit else max(len(text) - self.hold, 0)
        if text.endswith("\ufffd") and not hit:
            safe = min(safe, len(text) - 1)
        piece = text[self.emitted:safe] if safe > self.emitted else ""
        self.emitted = max(self.emitted, safe)
        return piece, hit

    def rest(self) -> str:
        text, _ = self.text()
        piece, self.emitted = text[self.emitted:], len(text)
        return piece


def prompt_ids(tokenizer, messages: list[dict], max_prompt_tokens: int = MAX_PROMPT_TOKENS):
    """(token ids, truncated) of the chat prompt, cut from the left to fit; (None, False) when it is empty."""
    if not messages or not any(str(m.get("content", "")).strip() for m in messages):
        return None, False
    fitted, truncated = fit_messages(tokenizer, messages, max_prompt_tokens)
    ids = tokenizer.apply_chat_template(fitted, tokenize=True, add_generation_prompt=True,
                                        return_dict=True)["input_ids"]
    return list(ids), truncated


def _pieces(token_ids: Iterator[int], tokenizer, stop: Sequence[str], started: float, max_new_tokens: int,
            time_limit_s: float, close, prompt_tokens: int, truncated: bool,
            end_id: int | None = None) -> Gen[str, None, Generation]:
    """The text of `token_ids` in pieces as they arrive, until a stop string, `end_id`, `max_new_tokens` or the
    time limit; `close()` is called as soon as no more tokens are wanted. Returns the Generation."""
    decoder, first, stopped_by, count = _Decoder(tokenizer, stop), None, None, 0
    try:
        for token_id in token_ids:
            if token_id == end_id:
                break
            count += 1
            first = first if first is not None else time.perf_counter() - started
            piece, hit = decoder.add(token_id)
            if piece:
                yield piece
            if hit:
                stopped_by = "stop"
                break
            if time.perf_counter() - started > time_limit_s:
                stopped_by = "time"
                break
            if count >= max_new_tokens:
                break
    finally:
        close()
    if stopped_by != "time" and (piece := decoder.rest()):
        yield piece
    text, hit = decoder.text()
    stopped_by = stopped_by or ("stop" if hit else "length" if count >= max_new_tokens else "eos")
    return Generation(text.strip(), count, prompt_tokens, stopped_by, time.perf_counter() - started, first, truncated)


def fixed_start(tokenizer) -> list[int]:
    """Token ids every reply prompt starts with: the chat template's system turn up to the end of the fixed
    instructions (trustgen.prompting.SYSTEM_PROMPT)."""
    from .prompting import SYSTEM_PROMPT
    return list(tokenizer.apply_chat_template([{"role": "system", "content": SYSTEM_PROMPT}], tokenize=True,
                                              return_dict=True)["input_ids"])


MIN_PREFIX_TOKENS = 16  # a shorter shared start is not worth a kept state


def shared_start(prefix: list[int], ids: list[int], minimum: int = MIN_PREFIX_TOKENS) -> int:
    """How many of `ids` are `prefix` (0 when the prompt does not start so, or shares fewer than `minimum`
    tokens: another system text, or a prompt without one); the prompt after them keeps at least one token."""
    k, limit = 0, min(len(prefix), len(ids) - 1)
    while k < limit and ids[k] == prefix[k]:
        k += 1
    return k if k >= minimum else 0


class CT2Engine(EngineBase):
    """CTranslate2 with int8 weights: the base model with the shop's adapter merged, converted once by
    `shopbot setup` (trustgen.convert.build_fast_model) and rebuilt when stale or corrupt. `workers` model
    replicas share the weights and decode that many conversations at once, each on `threads` cores.

    With `prefix_cache` the tokens every reply prompt starts with (the chat template's system turn up to the end
    of the fixed instructions, trustgen.prompting.SYSTEM_PROMPT) are run through the model once and their state
    kept (CTranslate2's static prompt), so a turn computes only its facts, history and message."""

    name = "ct2-int8"
    MIN_PREFIX_TOKENS = MIN_PREFIX_TOKENS

    def __init__(self, model_path: str | Path | None = None, adapter_path: str | Path | None = "default",
                 threads: int = 1, workers: int = 2, base_path: str | Path | None = None,
                 prefix_cache: bool = True):
        self.model_path, self.adapter_path, self.base_path = model_path, adapter_path, base_path
        self.threads, self.workers = max(int(threads or 1), 1), max(int(workers or 1), 1)
        self.prefix_cache = prefix_cache
        self._lock = threading.Lock()
        self._loaded = None  # (tokenizer, ctranslate2.Generator)
        self._prefix: list[int] | None = None  # token ids of the fixed start of every reply prompt

    def load(self):
        with self._lock:
            if self._loaded is None:
                from .convert import build_fast_model
                path = Path(self.model_path) if self.model_path else \
                    build_fast_model(self.adapter_path, base_path=self.base_path)
                self._loaded = _open_ct2(path, self.threads, self.workers)
        return self._loaded

    def stream(self, messages, max_new_tokens=96, time_limit_s=12.0, stop=DEFAULT_STOP):
        tokenizer, generator = self.load()
        started = time.perf_counter()
        ids, truncated = prompt_ids(tokenizer, messages)
        if ids is None:
            return Generation("", 0, 0, "empty", 0.0)
        tokens = tokenizer.convert_ids_to_tokens(ids)
        shared = self._shared_start(tokenizer, ids) if self.prefix_cache else 0
        cached = {"static_prompt": tokens[:shared], "cache_static_prompt": True} if shared else {}
        steps = generator.generate_tokens(tokens[shared:], max_length=max(int(max_new_tokens), 1),
                                          sampling_topk=1, end_token=[tokenizer.eos_token], **cached)
        # closing the steps stops the decoding loop when the caller stopped early
        return (yield from _pieces((step.token_id for step in steps), tokenizer, stop, started, max_new_tokens,
                                   time_limit_s, steps.close, len(ids), truncated))

    def _shared_start(self, tokenizer, ids: list[int]) -> int:
        if self._prefix is None:
            self._prefix = fixed_start(tokenizer)
        return shared_start(self._prefix, ids, self.MIN_PREFIX_TOKENS)

    def score(self, token_ids: list[list[int]]) -> list[list[float]]:
        """Log-probabilities of each token given the ones before it (for perplexity), one list per sequence."""
        tokenizer, generator = self.load()
        # small batches: the scores of a batch hold (batch x length x vocabulary) logits at once
        results = generator.score_batch([tokenizer.convert_ids_to_tokens(ids) for ids in token_ids], max_batch_size=2)
        return [list(r.log_probs) for r in results]


def _open_ct2(path: Path, threads: int, workers: int):
    import ctranslate2
    from transformers import AutoTokenizer
    try:
        tokenizer = AutoTokenizer.from_pretrained(path)
        generator = ctranslate2.Generator(str(path), device="cpu", compute_type="int8", intra_threads=threads,
                                          inter_threads=workers)
    except Exception as exc:  # a corrupt or half-written folder: name it, say how to rebuild
        raise ModelFilesError(path, f"cannot be opened ({exc.__class__.__name__}: {exc})",
                              "run `shopbot setup --force` to rebuild it") from exc
    return tokenizer, generator


class LlamaCppEngine(EngineBase):
    """llama.cpp (llama-cpp-python, built from source: `pip install llama-cpp-python==0.3.36`) on the packaged GGUF
    file with the shop's adapter merged (trustgen.convert.build_gguf_model). `workers` model instances, each on
    `threads` cores, serve that many conversations at once. With `prefix_cache` an instance keeps the state of the
    fixed start of the prompt (as CT2Engine does) and computes only the rest. Measured against CTranslate2 in
    bench/lm_bench.py and bench/turn_latency.py (docs/model.md)."""

    name = "llama-cpp"
    CONTEXT = MAX_PROMPT_TOKENS + 256  # the longest prompt and reply

    def __init__(self, model_path: str | Path | None = None, adapter_path: str | Path | None = "default",
                 threads: int = 1, workers: int = 2, prefix_cache: bool = True):
        self.model_path, self.adapter_path = model_path, adapter_path
        self.threads, self.workers = max(int(threads or 1), 1), max(int(workers or 1), 1)
        self.prefix_cache = prefix_cache
        self._lock = threading.Lock()
        self._tokenizer = None
        self._pool: queue.Queue | None = None  # idle llama_cpp.Llama instances
        self._scorer = None  # an instance that keeps every position's logits (perplexity only)
        self._prefix: list[int] | None = None

    def load(self):
        with self._lock:
            if self._pool is None:
                from transformers import AutoTokenizer
                from .convert import build_gguf_model, convert_base_model
                path = Path(self.model_path) if self.model_path else build_gguf_model(self.adapter_path)
                self._tokenizer = AutoTokenizer.from_pretrained(convert_base_model())
                pool = queue.Queue()
                for _ in range(self.workers):
                    pool.put(self._open(path))
                self._pool, self._path = pool, path
        return self._tokenizer

    def _open(self, path: Path, logits_all: bool = False):
        try:
            from llama_cpp import Llama
        except ImportError as exc:
            raise EngineError("llama-cpp", "llama-cpp-python is not installed (pip install llama-cpp-python==0.3.36; "
                                           "it compiles llama.cpp, about 15 minutes on 2 cores)") from exc
        try:
            return Llama(model_path=str(path), n_ctx=self.CONTEXT, n_batch=512, n_threads=self.threads,
                         n_threads_batch=self.threads, logits_all=logits_all, verbose=False)
        except Exception as exc:  # a corrupt or unreadable file: name it, say how to rebuild
            raise ModelFilesError(path, f"cannot be opened ({exc.__class__.__name__}: {exc})",
                                  "remove its folder: the merged file is rebuilt when the engine next loads") from exc

    def stream(self, messages, max_new_tokens=96, time_limit_s=12.0, stop=DEFAULT_STOP):
        tokenizer = self.load()
        started = time.perf_counter()
        ids, truncated = prompt_ids(tokenizer, messages)
        if ids is None:
            return Generation("", 0, 0, "empty", 0.0)
        model = self._pool.get()
        try:
            kept = self._keep_start(model, tokenizer, ids)
            steps = model.generate(ids[kept:], top_k=1, top_p=1.0, min_p=0.0, temp=0.0, repeat_penalty=1.0,
                                   reset=False)
        except BaseException:
            self._pool.put(model)
            raise

        def release():
            steps.close()
            self._pool.put(model)

        return (yield from _pieces(steps, tokenizer, stop, started, max_new_tokens, time_limit_s, release, len(ids),
                                   truncated, end_id=tokenizer.eos_token_id))

    def _keep_start(self, model, tokenizer, ids: list[int]) -> int:
        """Keep the instance's state of the prompt's fixed start when it holds it; forget the rest. Returns how
        many tokens of `ids` need no computing."""
        if self._prefix is None:
            self._prefix = fixed_start(tokenizer)
        k = shared_start(self._prefix, ids) if self.prefix_cache else 0
        if k and model.n_tokens >= k and list(model.input_ids[:k]) == ids[:k]:
            model.n_tokens = k  # the next evaluation drops the cache after it
            return k
        model.reset()
        return 0

    def score(self, token_ids: list[list[int]]) -> list[list[float]]:
        """Log-probabilities of each token given the ones before it (for perplexity), one list per sequence."""
        import numpy as np
        self.load()
        if self._scorer is None:
            self._scorer = self._open(self._path, logits_all=True)
        out = []
        for ids in token_ids:
            self._scorer.reset()
            self._scorer.eval(ids)
            logits = np.asarray(self._scorer.scores[:len(ids) - 1], dtype=np.float64)
            top = logits.max(axis=1, keepdims=True)
            log_norm = np.log(np.exp(logits - top).sum(axis=1)) + top[:, 0]
            out.append([float(logits[i, ids[i + 1]] - log_norm[i]) for i in range(len(ids) - 1)])
        return out


class TransformersEngine(EngineBase):
    """PyTorch through transformers (trustgen.generate): fp32, or int8 linear layers with `quantize`. Slower on
    a CPU than CT2Engine, but needs nothing beyond training's dependencies."""

    name = "transformers"

    def __init__(self, base_path: str | Path | None = None, adapter_path: str | Path | None = "default",
                 quantize: bool = False, threads: int | None = 1, loaded=None):
        self.base_path, self.adapter_path, self.quantize, self.threads = base_path, adapter_path, quantize, threads
        self._loaded = loaded  # a trustgen.generate.LoadedModel to share, or None to load on first use
        self._lock = threading.Lock()
        if loaded is not None:
            self.name = f"transformers-{'int8' if loaded.quantized else 'fp32'}"

    def load(self):
        with self._lock:
            if self._loaded is None:
                from .generate import load_model
                if self.threads:
                    import torch
                    torch.set_num_threads(self.threads)  # process-wide: torch has no per-call setting
                self._loaded = load_model(Path(self.base_path) if self.base_path else None, self.adapter_path,
                                          self.quantize)
                self.name = f"transformers-{'int8' if self.quantize else 'fp32'}"
        return self._loaded

    def stream(self, messages, max_new_tokens=96, time_limit_s=12.0, stop=DEFAULT_STOP):
        from .generate import generate
        loaded = self.load()
        pieces: queue.Queue = queue.Queue()
        closed = threading.Event()
        result: dict = {}

        def on_text(piece: str) -> None:
            if closed.is_set():  # the caller stopped reading: abort model.generate from inside its streamer
                raise _Stopped()
            pieces.put(piece)

        def work():
            try:
                result["generation"] = generate(loaded, messages, max_new_tokens=max_new_tokens, stop=stop,
                                                time_limit_s=time_limit_s, on_text=on_text)
            except _Stopped:
                pass
            except BaseException as exc:  # re-raised in the caller's thread
                result["error"] = exc
            finally:
                pieces.put(None)

        thread = threading.Thread(target=work, daemon=True)
        thread.start()
        try:
            while (piece := pieces.get()) is not None:
                yield piece
        finally:
            closed.set()
        thread.join()
        if "error" in result:
            raise result["error"]
        return result["generation"]


class _Stopped(Exception):
    pass


class OpenAIEngine(EngineBase):
    """A model served elsewhere behind the OpenAI chat-completions API (streamed with server-sent events).
    The server applies the chat template; greedy decoding is asked for with temperature 0."""

    name = "openai"

    def __init__(self, base_url: str, model: str = "shopbot", api_key: str | None = None):
        self.base_url, self.model, self.api_key = base_url.rstrip("/"), model, api_key

    def stream(self, messages, max_new_tokens=96, time_limit_s=12.0, stop=DEFAULT_STOP):
        started = time.perf_counter()
        if not messages or not any(str(m.get("content", "")).strip() for m in messages):
            return Generation("", 0, 0, "empty", 0.0)
        body = json.dumps({"model": self.model, "messages": messages, "max_tokens": int(max_new_tokens),
                           "temperature": 0, "stream": True, "stop": list(stop)[:4]}).encode()
        headers = {"Content-Type": "application/json", "Accept": "text/event-stream"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        url = f"{self.base_url}/chat/completions"
        request = urllib.request.Request(url, data=body, headers=headers, method="POST")
        text, count, first, stopped_by, prompt_tokens = "", 0, None, None, 0
        try:
            with urllib.request.urlopen(request, timeout=time_limit_s) as response:
                for raw in response:
                    line = raw.decode("utf-8", "replace").strip()
                    if not line.startswith("data:"):
                        continue
                    data = line[5:].strip()
                    if data == "[DONE]":
                        break
                    event = json.loads(data)
                    prompt_tokens = (event.get("usage") or {}).get("prompt_tokens", prompt_tokens)
                    choice = (event.get("choices") or [{}])[0]
                    piece = (choice.get("delta") or {}).get("content") or ""
                    if piece:
                        count += 1
                        first = first if first is not None else time.perf_counter() - started
                        text += piece
                        yield piece
                    if choice.get("finish_reason"):
                        stopped_by = "length" if choice["finish_reason"] == "length" else "stop"
                    if time.perf_counter() - started > time_limit_s:
                        stopped_by = "time"
                        break
        except (urllib.error.URLError, OSError, ValueError, json.JSONDecodeError) as exc:
            raise EngineError(url, f"{exc.__class__.__name__}: {exc}") from exc
        return Generation(text.strip(), count, prompt_tokens, stopped_by or "eos", time.perf_counter() - started,
                          first)


def default_engine_name() -> str:
    """SHOPBOT_ENGINE if set; else CTranslate2 where it is installed, transformers otherwise."""
    chosen = os.environ.get("SHOPBOT_ENGINE", "").strip().lower()
    if chosen:
        return chosen
    if os.environ.get("SHOPBOT_MODEL_URL"):
        return "openai"
    return "ct2" if importlib.util.find_spec("ctranslate2") else "transformers"


def make_engine(name: str = "auto", *, base_path=None, adapter_path="default", quantize: bool = False,
                threads: int | None = 1, workers: int = 2, url: str | None = None, model: str = "shopbot") -> Engine:
    """An engine by name: "auto" (see `default_engine_name`), "ct2", "llama-cpp", "transformers" or "openai" (`url`, or
    SHOPBOT_MODEL_URL, is the server's base URL ending in /v1)."""
    name = default_engine_name() if name in ("auto", "", None) else name
    if name == "ct2":
        return CT2Engine(adapter_path=adapter_path, threads=threads or 1, workers=workers, base_path=base_path)
    if name == "llama-cpp":
        return LlamaCppEngine(adapter_path=adapter_path, threads=threads or 1, workers=workers)
    if name == "transformers":
        return TransformersEngine(base_path, adapter_path, quantize, threads)
    if name == "openai":
        url = url or os.environ.get("SHOPBOT_MODEL_URL")
        if not url:
            raise EngineError("openai", "no server URL: set SHOPBOT_MODEL_URL (for example http://host:8080/v1)")
        return OpenAIEngine(url, os.environ.get("SHOPBOT_MODEL_NAME", model), os.environ.get("SHOPBOT_MODEL_KEY"))
    raise EngineError(name, f"unknown engine; choose one of {', '.join(ENGINES)}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("message", nargs="*", help="what the customer writes")
    parser.add_argument("--engine", default="auto", help=f"auto or one of {', '.join(ENGINES)}")
    args = parser.parse_args(argv)
    from .prompting import build_messages
    from .types import ReplyRequest
    engine = make_engine(args.engine)
    messages = build_messages(ReplyRequest(message=" ".join(args.message) or "Hello!", facts=(), template=""))
    streamed = Streamed(engine.stream(messages))
    for piece in streamed:
        print(piece, end="", flush=True)
    result = streamed.generation
    print(f"\n[{engine.name}: {result.new_tokens} tokens, first after {result.first_token_s or 0:.2f} s, "
          f"{result.seconds:.2f} s, stopped by {result.stopped_by}]")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
