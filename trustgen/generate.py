"""Load the shop's language model and generate text from chat messages: greedy, streamed, bounded.

`load_model()` opens the converted base model (and the shop's LoRA adapter when there is one) in eval mode;
missing or unreadable files raise `ModelFilesError` naming the file and the command that rebuilds it.
`generate()` returns the whole text; `stream()` yields it piece by piece. Both stop at a stop string, a token
limit or a time limit, so generation never hangs. Nothing here checks claims: see `trustgen.claims`.
Try it: `python -m trustgen.generate "Do you sell backpacks?"`.
"""
from __future__ import annotations

import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

from .errors import ModelFilesError

CONTEXT_TOKENS = 8192  # SmolLM2's context; prompts are kept far shorter for speed
MAX_PROMPT_TOKENS = 1500  # prompt budget: CPU prefill time grows with it
DEFAULT_STOP = ("<|im_end|>", "<|im_start|>", "<|endoftext|>")
DEFAULT_ADAPTER = Path(__file__).parent / "adapters" / "shop-lora"
REBUILD_BASE = "run `shopbot setup --force` to rebuild the base model"
REBUILD_ADAPTER = "run `shopbot train` to rebuild the adapter, or pass adapter_path=None to use the base model"


@dataclass
class LoadedModel:
    tokenizer: Any
    model: Any
    base_path: Path
    adapter_path: Path | None = None
    quantized: bool = False

    @property
    def name(self) -> str:
        return self.base_path.name + (f"+{self.adapter_path.name}" if self.adapter_path else "") \
            + ("-int8" if self.quantized else "")


@dataclass(frozen=True)
class Generation:
    text: str  # the reply, cut before any stop string
    new_tokens: int
    prompt_tokens: int
    stopped_by: str  # stop | eos | length | time | empty
    seconds: float
    first_token_s: float | None = None
    truncated: bool = False  # the prompt was cut to fit MAX_PROMPT_TOKENS


def _resolve_adapter(adapter_path: Path | None | str) -> Path | None:
    if adapter_path is None:
        return None
    if adapter_path == "default":
        return DEFAULT_ADAPTER if (DEFAULT_ADAPTER / "adapter_config.json").is_file() else None
    return Path(adapter_path)


def _check_files(folder: Path, names: Sequence[str], fix: str) -> None:
    if not folder.is_dir():
        raise ModelFilesError(folder, "the model folder is missing", fix)
    for name in names:
        path = folder / name
        if not path.is_file() or path.stat().st_size == 0:
            raise ModelFilesError(path, "the file is missing or empty", fix)


def load_model(base_path: Path | None = None, adapter_path: Path | None | str = "default",
               quantize: bool = False) -> LoadedModel:
    """The tokenizer and model in eval mode; `adapter_path="default"` uses the shop's adapter if it exists."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from .convert import base_model_path

    base = Path(base_path) if base_path else base_model_path()
    _check_files(base, ("config.json", "model.safetensors", "tokenizer.json"), REBUILD_BASE)
    adapter = _resolve_adapter(adapter_path)
    if adapter is not None:  # before the slow base load: a missing adapter is reported at once
        _check_files(adapter, ("adapter_config.json", "adapter_model.safetensors"), REBUILD_ADAPTER)
    try:
        tokenizer = AutoTokenizer.from_pretrained(base)
    except Exception as exc:  # a corrupt tokenizer file: name it, say how to rebuild
        raise ModelFilesError(base / "tokenizer.json", f"cannot be read ({exc.__class__.__name__}: {exc})",
                              REBUILD_BASE) from exc
    try:
        model = AutoModelForCausalLM.from_pretrained(base, dtype=torch.float32)
    except Exception as exc:
        raise ModelFilesError(base / "model.safetensors", f"cannot be loaded ({exc.__class__.__name__}: {exc})",
                              REBUILD_BASE) from exc
    if adapter is not None:
        model = _apply_adapter(model, adapter)
    model.eval()
    if quantize:
        from .quantize import quantize_int8
        model = quantize_int8(model)
        model.eval()
    return LoadedModel(tokenizer=tokenizer, model=model, base_path=base, adapter_path=adapter, quantized=quantize)


def _apply_adapter(model, adapter: Path):
    """Merge the LoRA adapter into the base weights (same speed as the base model at inference)."""
    from peft import PeftModel

    weights = "adapter_model.safetensors"
    try:
        return PeftModel.from_pretrained(model, adapter).merge_and_unload()
    except Exception as exc:
        raise ModelFilesError(adapter / weights, f"the adapter cannot be loaded ({exc.__class__.__name__}: {exc})",
                              REBUILD_ADAPTER) from exc


# ------------------------------------------------------------------------------------------------ prompt

def _token_len(tokenizer, messages: list[dict]) -> int:
    return len(tokenizer.apply_chat_template(messages, tokenize=True, add_generation_prompt=True,
                                             return_dict=True)["input_ids"])


def fit_messages(tokenizer, messages: list[dict], max_tokens: int = MAX_PROMPT_TOKENS) -> tuple[list[dict], bool]:
    """Cut a prompt to `max_tokens` from the left: oldest history turns first, then the start of the last
    message; the system message (instructions and facts) is kept whole unless it alone is over budget."""
    messages = [dict(m) for m in messages]
    if _token_len(tokenizer, messages) <= max_tokens:
        return messages, False
    keep_first = messages and messages[0].get("role") == "system"
    head, middle, last = messages[:1] if keep_first else [], messages[1 if keep_first else 0:-1], messages[-1:]
    while middle and _token_len(tokenizer, head + middle + last) > max_tokens:
        middle.pop(0)
    fitted = head + middle + last
    overflow = _token_len(tokenizer, fitted) - max_tokens
    if overflow > 0 and last:
        ids = tokenizer(last[0]["content"], add_special_tokens=False)["input_ids"]
        room = max(len(ids) - overflow, 16)  # keep the end of the customer's message: it holds the question
        last[0]["content"] = tokenizer.decode(ids[-room:])
        overflow = _token_len(tokenizer, head + middle + last) - max_tokens
    if overflow > 0 and head:  # the facts alone exceed the budget: keep their beginning
        ids = tokenizer(head[0]["content"], add_special_tokens=False)["input_ids"]
        head[0]["content"] = tokenizer.decode(ids[:max(len(ids) - overflow, 16)])
    return head + middle + last, True


# ------------------------------------------------------------------------------------------------ generation

def _criteria(tokenizer, prompt_len: int, stop: Sequence[str], time_limit_s: float, state: dict):
    from transformers import MaxTimeCriteria, StoppingCriteria, StoppingCriteriaList

    class StopStrings(StoppingCriteria):
        """Stops when the decoded tail of the new tokens contains a stop string (any tokenization)."""

        def __call__(self, input_ids, scores, **kwargs):
            tail = tokenizer.decode(input_ids[0, prompt_len:][-12:], skip_special_tokens=False)
            if any(s in tail for s in stop):
                state["stopped_by"] = "stop"
                return True
            return False

    class Clock(MaxTimeCriteria):
        def __call__(self, input_ids, scores, **kwargs):
            done = super().__call__(input_ids, scores, **kwargs)
            if bool(done.all() if hasattr(done, "all") else done):
                state["stopped_by"] = "time"
            return done

    return StoppingCriteriaList([StopStrings(), Clock(max_time=time_limit_s)])


def _cut_at_stop(text: str, stop: Sequence[str]) -> tuple[str, bool]:
    cut = min((text.find(s) for s in stop if s in text), default=-1)
    return (text[:cut], True) if cut >= 0 else (text, False)


def _prepare(loaded: LoadedModel, messages: list[dict], max_prompt_tokens: int):
    import torch

    if not messages or not any(str(m.get("content", "")).strip() for m in messages):
        return None, 0, False
    fitted, truncated = fit_messages(loaded.tokenizer, messages, max_prompt_tokens)
    ids = loaded.tokenizer.apply_chat_template(fitted, tokenize=True, add_generation_prompt=True,
                                               return_dict=True)["input_ids"]
    return torch.tensor([ids]), len(ids), truncated


def generate(loaded: LoadedModel, messages: list[dict], max_new_tokens: int = 160,
             stop: Sequence[str] = DEFAULT_STOP, time_limit_s: float = 20.0,
             on_text: Callable[[str], None] | None = None, greedy: bool = True,
             max_prompt_tokens: int = MAX_PROMPT_TOKENS) -> Generation:
    """Generate a reply to chat `messages`; `on_text` receives decoded pieces as tokens arrive.

    Greedy (deterministic) by default. An empty prompt returns an empty `Generation` with stopped_by="empty".
    """
    import torch
    from transformers.generation.streamers import BaseStreamer

    started = time.perf_counter()
    input_ids, prompt_len, truncated = _prepare(loaded, messages, max_prompt_tokens)
    if input_ids is None:
        return Generation("", 0, 0, "empty", 0.0)
    tokenizer = loaded.tokenizer
    state: dict = {"stopped_by": None, "first": None, "emitted": 0}
    stop = tuple(stop)

    class Pieces(BaseStreamer):
        """Decodes the new tokens incrementally and passes on only text before any stop string."""

        def __init__(self):
            self.ids: list[int] = []
            self.skip_prompt = True

        def put(self, value):
            if self.skip_prompt:  # the first call carries the prompt
                self.skip_prompt = False
                return
            if state["first"] is None:
                state["first"] = time.perf_counter() - started
            self.ids.extend(value.reshape(-1).tolist())
            self._emit(final=False)

        def end(self):
            self._emit(final=True)

        def _emit(self, final: bool):
            text, _ = _cut_at_stop(tokenizer.decode(self.ids, skip_special_tokens=False), stop)
            # hold back a possible start of a stop string (and half a multi-byte character) until final
            safe = len(text) if final else max(len(text) - max(map(len, stop), default=0), 0)
            if text.endswith("\ufffd") and not final:
                safe = min(safe, len(text) - 1)
            if on_text and safe > state["emitted"]:
                on_text(text[state["emitted"]:safe])
                state["emitted"] = safe

    kwargs = dict(max_new_tokens=max(int(max_new_tokens), 1), do_sample=not greedy,
                  stopping_criteria=_criteria(tokenizer, prompt_len, stop, time_limit_s, state),
                  pad_token_id=tokenizer.pad_token_id if tokenizer.pad_token_id is not None
                  else tokenizer.eos_token_id, streamer=Pieces())
    if greedy:
        kwargs.update(temperature=None, top_p=None, top_k=None)
    with torch.no_grad():
        out = loaded.model.generate(input_ids=input_ids, attention_mask=torch.ones_like(input_ids), **kwargs)
    new = out[0, prompt_len:].tolist()
    text, hit_stop = _cut_at_stop(tokenizer.decode(new, skip_special_tokens=False), stop)
    eos = tokenizer.eos_token_id
    stopped_by = state["stopped_by"] or ("stop" if hit_stop else "eos" if new and new[-1] == eos
                                         else "length")
    if hit_stop and stopped_by != "time":
        stopped_by = "stop"
    text = text.replace(tokenizer.eos_token or "\0", "").strip()
    return Generation(text, len(new), prompt_len, stopped_by, time.perf_counter() - started,
                      state["first"], truncated)


def stream(loaded: LoadedModel, messages: list[dict], **kwargs) -> Iterator[str]:
    """The same generation as `generate()`, as an iterator of text pieces (generation runs in a thread)."""
    import queue

    pieces: queue.Queue = queue.Queue()
    done = object()
    errors: list[BaseException] = []

    def work():
        try:
            generate(loaded, messages, on_text=pieces.put, **kwargs)
        except BaseException as exc:  # re-raised in the caller's thread
            errors.append(exc)
        finally:
            pieces.put(done)

    thread = threading.Thread(target=work, daemon=True)
    thread.start()
    while (piece := pieces.get()) is not done:
        yield piece
    thread.join()
    if errors:
        raise errors[0]


def main(argv: list[str] | None = None) -> int:
    import torch

    from .writer import WriterConfig

    message = " ".join(argv if argv is not None else sys.argv[1:]) or "Hello!"
    torch.set_num_threads(WriterConfig().threads or torch.get_num_threads())  # the writer's measured default
    loaded = load_model()
    from .prompting import build_messages
    from .types import ReplyRequest
    result = generate(loaded, build_messages(ReplyRequest(message=message, facts=(), template="")),
                      on_text=lambda piece: print(piece, end="", flush=True))
    print(f"\n[{loaded.name}: {result.new_tokens} tokens, {result.seconds:.2f} s, stopped by {result.stopped_by}]")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
