"""Engines and the honest stream: the OpenAI-compatible engine against a real local HTTP server, sentence-by-sentence
checking (a failing sentence stops everything after it), a failing model in each way (missing file, corrupt
adapter, raised error, time-out) giving template replies and `healthy` False, the fast model's cache, and the
real CTranslate2 engine streaming a checked reply. Facts come from the real demo shop."""
from __future__ import annotations

import json
import shutil
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from trustgen.engines import EngineBase, OpenAIEngine, Streamed, drain, make_engine
from trustgen.errors import EngineError
from trustgen.generate import Generation
from trustgen.types import ReplyRequest, fact_from_variant
from trustgen.writer import GroundedWriter, ModelGenerator, WriterConfig, streaming_to


def request(bottle, **kw) -> ReplyRequest:
    template = f"The Water Bottle ({', '.join(bottle['options'].values())}) costs ${bottle['price']:.2f}."
    return ReplyRequest(message="How much is the water bottle?", facts=(fact_from_variant(bottle),),
                        template=template, **kw)


class PacedEngine(EngineBase):
    """Yields scripted text in small pieces with a pause between them, and records whether it was stopped early."""

    name = "paced"

    def __init__(self, text: str, pause_s: float = 0.0, fail_after: int | None = None):
        self.text, self.pause_s, self.fail_after = text, pause_s, fail_after
        self.closed_early, self.ended_at = False, None

    def stream(self, messages, max_new_tokens=96, time_limit_s=12.0, stop=()):
        started = time.perf_counter()
        try:
            return (yield from self._pieces(started, time_limit_s))
        finally:
            self.ended_at = time.perf_counter()

    def _pieces(self, started, time_limit_s):
        n = 0
        try:
            for i in range(0, len(self.text), 3):
                if self.fail_after is not None and n >= self.fail_after:
                    raise RuntimeError("the model crashed")
                time.sleep(self.pause_s)
                if time.perf_counter() - started > time_limit_s:
                    return Generation(self.text[:i].strip(), n, 10, "time", time.perf_counter() - started)
                n += 1
                yield self.text[i:i + 3]
        except GeneratorExit:
            self.closed_early = True
            raise
        return Generation(self.text.strip(), n, 10, "eos", time.perf_counter() - started, 0.0)


def writer_with(engine, **config) -> GroundedWriter:
    cfg = WriterConfig(**config)
    return GroundedWriter(ModelGenerator(cfg, engine=engine), cfg)


# ------------------------------------------------------------------------------------------ streaming honestly

def test_checked_sentences_arrive_before_generation_ends(bottle):
    first = f"The Water Bottle costs ${bottle['price']:.2f}."
    engine = PacedEngine(first + " It holds 1000ml and is made of glass, which many customers like a lot.", 0.04)
    writer, seen = writer_with(engine), []
    with streaming_to(lambda piece: seen.append((time.perf_counter(), piece))):
        reply = writer.write(request(bottle, must_state=("price",)))
    assert "".join(p for _, p in seen) == reply.text and reply.used_model and not reply.fell_back
    assert seen[0][1] == first and seen[0][0] < engine.ended_at - 0.5  # out while the rest was being written


def test_a_failing_sentence_is_repaired_before_it_is_sent(bottle):
    wrong = f"The Water Bottle costs ${bottle['price'] + 3:.2f}. Thanks for asking."
    pieces = list(writer_with(PacedEngine(wrong)).stream(request(bottle)))
    assert pieces[0] == f"The Water Bottle costs ${bottle['price']:.2f}."  # never the wrong price, not even briefly
    assert "".join(pieces) == f"The Water Bottle costs ${bottle['price']:.2f}. Thanks for asking."


def test_nothing_after_an_unsupported_sentence_is_sent(bottle):
    text = (f"The Water Bottle costs ${bottle['price']:.2f}. Your order #W1234567 was delivered yesterday. "
            "Have a nice day.")
    engine = PacedEngine(text)
    reply = writer_with(engine).write(request(bottle))
    assert reply.text == f"The Water Bottle costs ${bottle['price']:.2f}." and reply.used_model
    assert engine.closed_early  # generation was stopped at the failing sentence


def test_a_first_sentence_that_fails_sends_the_template(bottle):
    reply = writer_with(PacedEngine("Order #W1234567 was delivered. It is great.")).write(request(bottle))
    assert reply.fell_back and reply.text == request(bottle).template


def test_what_was_asked_is_held_back_until_it_is_stated(bottle):
    stock = "in stock" if bottle["available"] else "out of stock"
    text = f"Thanks for your question. The Water Bottle is {stock}."
    seen = []
    with streaming_to(seen.append):
        reply = writer_with(PacedEngine(text)).write(request(bottle, must_state=("price",)))
    assert reply.fell_back and reply.text == request(bottle).template and seen == []


def test_an_answering_clause_goes_out_before_the_sentence_ends(bottle):
    """"Yes, it is in stock; it costs $X.": the clause that answers is sent once checked, while the model still
    writes the price; its semicolon goes out with what follows it."""
    stock = "in stock" if bottle["available"] else "out of stock"
    clause = f"The Water Bottle is {stock}"
    engine = PacedEngine(f"{clause}; it costs ${bottle['price']:.2f}, and it holds a full litre of water.", 0.04)
    writer, seen = writer_with(engine), []
    with streaming_to(lambda piece: seen.append((time.perf_counter(), piece))):
        reply = writer.write(request(bottle, must_state=("availability",)))
    assert [p for _, p in seen][0] == clause and seen[0][0] < engine.ended_at - 0.5
    assert "".join(p for _, p in seen) == reply.text and reply.text.startswith(f"{clause}; it costs $")
    assert reply.used_model and reply.unsupported == 0


def test_a_clause_left_alone_ends_with_a_full_stop(bottle):
    stock = "in stock" if bottle["available"] else "out of stock"
    clause = f"The Water Bottle is {stock}"
    engine = PacedEngine(f"{clause}; your order #W1234567 was delivered yesterday. Have a nice day.")
    writer = writer_with(engine)
    pieces = list(writer.stream(request(bottle, must_state=("availability",))))
    assert pieces == [clause, "."] and engine.closed_early
    reply = writer_with(PacedEngine(f"{clause}; your order #W1234567 was delivered yesterday.")).write(
        request(bottle, must_state=("availability",)))
    assert reply.text == clause + "." and reply.used_model and reply.unsupported == 0


# ------------------------------------------------------------------------------------------ a failing model

def test_missing_model_files_give_templates_and_degraded(bottle, tmp_path):
    writer = GroundedWriter(ModelGenerator(WriterConfig(engine="ct2", base_path=str(tmp_path / "gone"))))
    reply = writer.write(request(bottle))
    assert reply.fell_back and reply.text == request(bottle).template
    assert not writer.healthy and "gone" in writer.failure and "shopbot setup" in writer.failure


def test_corrupt_adapter_gives_templates_and_degraded(bottle, tmp_path):
    pytest.importorskip("ctranslate2")
    from trustgen.convert import base_model_path, is_model_folder
    if not is_model_folder(base_model_path()):
        pytest.skip("the base model is not converted (run `shopbot setup`)")
    adapter = tmp_path / "bad-lora"
    shutil.copytree(Path(__file__).parents[2] / "trustgen" / "adapters" / "shop-lora", adapter)
    (adapter / "adapter_model.safetensors").write_bytes(b"\x00garbage, not a safetensors file" * 10)
    writer = GroundedWriter(ModelGenerator(WriterConfig(engine="ct2", adapter_path=str(adapter))))
    reply = writer.write(request(bottle))
    assert reply.fell_back and reply.text == request(bottle).template
    assert not writer.healthy and "adapter_model.safetensors" in writer.failure


def test_a_raised_error_gives_templates_then_the_model_again(bottle):
    engine = PacedEngine(f"The Water Bottle costs ${bottle['price']:.2f}.", fail_after=2)
    writer = writer_with(engine, retry_after_s=0.0)
    reply = writer.write(request(bottle))
    assert reply.fell_back and reply.text == request(bottle).template
    assert not writer.healthy and "the model crashed" in writer.failure
    engine.fail_after = None  # the model recovers: the next reply uses it and health is ok again
    assert writer.write(request(bottle)).used_model and writer.healthy


def test_errors_keep_the_model_off_until_the_retry_time(bottle):
    engine = PacedEngine(f"The Water Bottle costs ${bottle['price']:.2f}.", fail_after=0)
    writer = writer_with(engine, retry_after_s=3600.0)
    writer.write(request(bottle))
    engine.fail_after = None
    later = writer.write(request(bottle))  # no retry within the hour: the template, the model not asked
    assert later.text == request(bottle).template and not later.used_model and not writer.healthy


def test_a_time_out_gives_templates_and_degraded(bottle):
    engine = PacedEngine(f"The Water Bottle costs ${bottle['price']:.2f}.", pause_s=0.05)
    writer = writer_with(engine, time_limit_s=0.12)
    reply = writer.write(request(bottle))
    assert reply.fell_back and reply.text == request(bottle).template
    assert not writer.healthy and "time-out" in writer.failure


# ------------------------------------------------------------------------------------------ OpenAI-compatible HTTP

class _Server:
    """A tiny OpenAI-compatible chat-completions server on localhost that streams a scripted reply."""

    def __init__(self, reply: str, status: int = 200, finish: str = "stop"):
        outer = self
        self.reply, self.status, self.finish, self.bodies = reply, status, finish, []

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                outer.bodies.append((self.path, body))
                if outer.status != 200:
                    self.send_response(outer.status)
                    self.end_headers()
                    self.wfile.write(b'{"error": "overloaded"}')
                    return
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.end_headers()
                words = outer.reply.split(" ")
                for i, w in enumerate(words):
                    delta = {"content": w + (" " if i < len(words) - 1 else "")}
                    self.wfile.write(f"data: {json.dumps({'choices': [{'delta': delta}]})}\n\n".encode())
                end = {"choices": [{"delta": {}, "finish_reason": outer.finish}], "usage": {"prompt_tokens": 42}}
                self.wfile.write(f"data: {json.dumps(end)}\n\ndata: [DONE]\n\n".encode())

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def test_openai_engine_streams_from_a_server(bottle):
    text = f"The Water Bottle costs ${bottle['price']:.2f}. It is made of glass."
    server = _Server(text)
    try:
        engine = make_engine("openai", url=server.url)
        streamed = Streamed(engine.stream([{"role": "user", "content": "price?"}], max_new_tokens=40))
        assert "".join(streamed) == text
        g = streamed.generation
        assert g.text == text and g.stopped_by == "stop" and g.prompt_tokens == 42 and g.first_token_s is not None
        path, body = server.bodies[0]
        assert path == "/v1/chat/completions" and body["stream"] is True and body["max_tokens"] == 40
        assert body["temperature"] == 0 and body["messages"][0]["content"] == "price?"
        reply = writer_with(engine).write(request(bottle))  # the writer over HTTP: checked as any engine
        assert reply.text == text and reply.used_model
    finally:
        server.close()


def test_openai_engine_reports_a_cut_reply_and_server_errors(bottle):
    server = _Server(f"The Water Bottle costs ${bottle['price']:.2f}. It is", finish="length")
    try:
        g = drain(OpenAIEngine(server.url).stream([{"role": "user", "content": "hi"}]))
        assert g.stopped_by == "length"
        assert writer_with(OpenAIEngine(server.url)).write(request(bottle)).text == \
            f"The Water Bottle costs ${bottle['price']:.2f}."  # the unfinished sentence is never sent
        server.status = 503
        with pytest.raises(EngineError, match="503"):
            drain(OpenAIEngine(server.url).stream([{"role": "user", "content": "hi"}]))
    finally:
        server.close()


def test_unreachable_server_gives_templates_and_degraded(bottle):
    server = _Server("unused")
    url = server.url
    server.close()  # nothing listens there any more
    writer = writer_with(OpenAIEngine(url))
    reply = writer.write(request(bottle))
    assert reply.fell_back and not writer.healthy and "127.0.0.1" in writer.failure


def test_engine_names_and_empty_prompts():
    with pytest.raises(EngineError, match="unknown engine"):
        make_engine("tpu")
    with pytest.raises(EngineError, match="SHOPBOT_MODEL_URL"):
        make_engine("openai")
    assert drain(OpenAIEngine("http://127.0.0.1:9/v1").stream([])).stopped_by == "empty"


# ------------------------------------------------------------------------------------------ the real fast model

@pytest.fixture(scope="module")
def fast_model():
    pytest.importorskip("ctranslate2")
    from trustgen.convert import base_model_path, is_model_folder
    if not is_model_folder(base_model_path()):
        pytest.skip("the base model is not converted (run `shopbot setup`)")
    from trustgen.convert import build_fast_model
    return build_fast_model()


def test_fast_model_cache_detects_corruption(fast_model, tmp_path):
    from trustgen.convert import MANIFEST, fast_model_ok
    key = json.loads((fast_model / MANIFEST).read_text())["key"]
    assert fast_model_ok(fast_model, key) and not fast_model_ok(fast_model, "another-key")
    copy = tmp_path / fast_model.name
    shutil.copytree(fast_model, copy)
    assert fast_model_ok(copy, key)
    with open(copy / "model.bin", "r+b") as f:  # one flipped byte in the weights
        f.seek(1000)
        byte = f.read(1)
        f.seek(1000)
        f.write(bytes([byte[0] ^ 0xFF]))
    assert not fast_model_ok(copy, key)
    (copy / "model.bin").unlink()
    assert not fast_model_ok(copy, key)


def test_ct2_engine_streams_a_checked_reply(fast_model, bottle):
    from trustgen.engines import CT2Engine
    from trustgen.prompting import build_messages
    engine = CT2Engine(fast_model, threads=1, workers=1)
    messages = build_messages(request(bottle))
    streamed = Streamed(engine.stream(messages, max_new_tokens=40))
    text = "".join(streamed)
    g = streamed.generation
    assert g.text == text.strip() and g.new_tokens > 0 and g.prompt_tokens > 50 and g.stopped_by in ("stop", "length")
    assert engine.generate(messages, max_new_tokens=40).text == g.text  # greedy: the same reply again
    assert engine.generate(messages, max_new_tokens=3).stopped_by == "length"
    timed_out = writer_with(engine, time_limit_s=0.0)  # a real time-out: the first token is already too late
    assert timed_out.write(request(bottle)).fell_back and "time-out" in timed_out.failure
    writer, seen = writer_with(engine), []
    with streaming_to(seen.append):
        reply = writer.write(request(bottle))
    assert "".join(seen) == (reply.text if reply.used_model else "")
    assert reply.unsupported == 0



@pytest.mark.xfail(strict=True, reason="the int8 model computed in two parts (cached start, then the rest) gives "
                   "log-probabilities that differ from one pass; with the answer-first adapter greedy wording flips "
                   "at near ties, as on this prompt: open, see docs/model.md")
def test_ct2_prefix_cache_gives_the_same_reply(fast_model, bottle):
    """The fixed instructions every prompt starts with are computed once and kept; the reply should not change."""
    from trustgen.engines import CT2Engine
    from trustgen.prompting import build_messages
    messages = build_messages(request(bottle))
    cached, whole = CT2Engine(fast_model, threads=1, workers=1), CT2Engine(fast_model, threads=1, workers=1,
                                                                           prefix_cache=False)
    first, again = cached.generate(messages, max_new_tokens=30), cached.generate(messages, max_new_tokens=30)
    assert first.text == again.text  # the kept state is reused as computed
    assert first.text == whole.generate(messages, max_new_tokens=30).text


def test_ct2_prefix_cache_covers_only_the_fixed_start(fast_model, bottle):
    """A prompt that starts otherwise is computed whole, and the cached start never swallows the whole prompt."""
    from trustgen.engines import CT2Engine
    from trustgen.prompting import build_messages
    messages = build_messages(request(bottle))
    cached = CT2Engine(fast_model, threads=1, workers=1)
    first = cached.generate(messages, max_new_tokens=5)
    tokenizer, _ = cached.load()
    ids = tokenizer.apply_chat_template(messages, tokenize=True, add_generation_prompt=True,
                                        return_dict=True)["input_ids"]
    shared = cached._shared_start(tokenizer, list(ids))
    assert shared >= CT2Engine.MIN_PREFIX_TOKENS and shared < len(ids) and first.prompt_tokens == len(ids)
    other = [{"role": "system", "content": "Reply in French."}, {"role": "user", "content": "Hello"}]
    other_ids = tokenizer.apply_chat_template(other, tokenize=True, add_generation_prompt=True,
                                              return_dict=True)["input_ids"]
    assert cached._shared_start(tokenizer, list(other_ids)) == 0
    assert cached._shared_start(tokenizer, cached._prefix[:40]) < 40  # at least one token left to compute

# ------------------------------------------------------------------------------------------ through the Bot

class BarrierEngine(PacedEngine):
    """Generates only once `parties` conversations are generating at the same moment (else the barrier breaks
    and the engine raises): proof that generation is not serialised by the bot's lock."""

    def __init__(self, text: str, parties: int = 2):
        super().__init__(text)
        self.barrier = threading.Barrier(parties, timeout=20)

    def stream(self, messages, **kw):
        self.barrier.wait()
        return (yield from super().stream(messages, **kw))


@pytest.fixture
def bot_with(demo_db, tmp_path):
    import sys
    sys.path.insert(0, str(Path(__file__).parents[1] / "bot"))
    from dialogue_helpers import make_bot  # the dialogue tests' bot: fresh demo shop, shared classifier, hash index
    bots = []

    def make(engine, **config):
        folder = tmp_path / f"bot{len(bots)}"
        folder.mkdir()
        bots.append(make_bot(demo_db, folder, writer=writer_with(engine, **config)))
        return bots[-1]
    yield make
    for b in bots:
        b.close()


QUESTION = "how much is the red 1000ml glass water bottle?"


def test_bot_answers_from_templates_and_reports_degraded_when_the_model_fails(bot_with, bottle):
    bot = bot_with(PacedEngine("unused", fail_after=0))
    reply = bot.respond(QUESTION, session_id="s1")
    assert f"${bottle['price']:.2f}" in reply.text and reply.claims_unsupported == 0
    assert bot.health()["model"].startswith("degraded")


def test_bot_stream_sends_checked_sentences_while_the_model_writes(bot_with, bottle):
    first = f"The Water Bottle costs ${bottle['price']:.2f}."
    bot = bot_with(PacedEngine(first + " It is made of glass and holds 1000ml, a good size for a long day out.", 0.03))
    engine, seen = bot.writer.generator.engine, []
    for piece in bot.stream(QUESTION, session_id="s1"):
        seen.append((time.perf_counter(), piece))
    texts = [p for _, p in seen if isinstance(p, str)]
    reply = seen[-1][1]
    assert texts[0] == first and seen[0][0] < engine.ended_at - 0.5  # out well before the model finished
    assert "".join(texts) == reply.text
    assert bot.transcript("s1")[-1].text == reply.text and bot.health()["model"] == "ok"


def test_two_conversations_generate_at_the_same_time(bot_with, bottle):
    text = f"The Water Bottle costs ${bottle['price']:.2f}."
    bot = bot_with(BarrierEngine(text))
    bot.respond("hello", session_id="warm-up")  # first-use loading outside the timed part
    replies = {}

    def turn(session):
        replies[session] = bot.respond(QUESTION, session_id=session)

    threads = [threading.Thread(target=turn, args=(s,)) for s in ("a", "b")]
    [t.start() for t in threads]
    [t.join(60) for t in threads]
    assert replies["a"].text == replies["b"].text == text  # both model-worded: both were generating at once
    assert bot.health()["model"] == "ok"


# ------------------------------------------------------------------------------------------ the merged GGUF model

@pytest.fixture(scope="module")
def gguf_model():
    from trustgen.convert import base_model_path, build_gguf_model, is_model_folder
    if not is_model_folder(base_model_path()):
        pytest.skip("the base model is not converted (run `shopbot setup`)")
    return build_gguf_model()


def test_merged_gguf_holds_the_adapters_weights(gguf_model):
    """transformers reads the merged GGUF (undoing llama.cpp's row order itself) and finds the weights peft's own
    merge gives: the adapter's layers changed by it, within Q8_0 rounding; the layers it leaves alone exactly as
    packaged; and the same next-token choices on a shop prompt."""
    import torch
    from transformers import AutoModelForCausalLM
    from trustgen.convert import base_model_path
    from trustgen.generate import load_model
    merged = load_model(base_model_path(), "default", quantize=False)
    read = AutoModelForCausalLM.from_pretrained(gguf_model.parent, gguf_file=gguf_model.name, dtype=torch.float32)
    base = AutoModelForCausalLM.from_pretrained(base_model_path(), dtype=torch.float32)
    want, got, plain = merged.model.state_dict(), read.state_dict(), base.state_dict()
    for layer in (0, 14):  # below the adapter's layers: as packaged
        for name in ("q_proj", "k_proj", "o_proj"):
            key = f"model.layers.{layer}.self_attn.{name}.weight"
            assert torch.equal(got[key], plain[key])
    for layer in (15, 22, 29):
        for name in ("q_proj", "k_proj", "v_proj", "o_proj"):
            key = f"model.layers.{layer}.self_attn.{name}.weight"
            # Q8_0 rounding leaves 16-40% of the adapter's change as error; rows in the wrong order give over 100%
            error = ((got[key] - want[key]).norm() / (plain[key] - want[key]).norm()).item()
            assert error < 0.6, (key, error)
            assert (got[key] - want[key]).abs().max() <= want[key].abs().max() / 100  # within a Q8_0 step
    ids = merged.tokenizer("<|im_start|>user\nIs the water bottle in stock?<|im_end|>\n<|im_start|>assistant\n",
                           return_tensors="pt")["input_ids"]
    with torch.no_grad():
        a, b = merged.model(ids).logits[0], read(ids).logits[0]
    same = (a.argmax(-1) == b.argmax(-1)).float().mean().item()
    assert same >= 0.85 and a[-1].argmax() == b[-1].argmax()  # the reply's first token included


def test_merged_gguf_is_cached_and_rebuilt_when_damaged(gguf_model, tmp_path, monkeypatch):
    from trustgen.convert import MANIFEST, build_gguf_model
    monkeypatch.setenv("SHOPBOT_MODEL_DIR", str(tmp_path))
    built = build_gguf_model()
    assert built.name == "model.gguf" and built.parent.parent == tmp_path
    assert (built.parent / MANIFEST).is_file() and built.read_bytes() == gguf_model.read_bytes()
    stamp = built.stat().st_mtime_ns
    assert build_gguf_model() == built and built.stat().st_mtime_ns == stamp  # cached: not written again
    with open(built, "r+b") as f:  # one flipped byte in the weights
        f.seek(-1000, 2)
        byte = f.read(1)
        f.seek(-1000, 2)
        f.write(bytes([byte[0] ^ 0xFF]))
    assert build_gguf_model() == built and built.read_bytes() == gguf_model.read_bytes()
    plain = build_gguf_model(adapter_path=None)  # no adapter: another folder, the packaged tensors
    assert plain.parent != built.parent and json.loads((plain.parent / MANIFEST).read_text())["merged_tensors"] == 0


def test_merge_refuses_what_it_cannot_merge(tmp_path):
    from trustgen.convert import adapter_deltas
    from trustgen.errors import ModelFilesError
    from trustgen.generate import DEFAULT_ADAPTER
    odd = tmp_path / "odd"
    shutil.copytree(DEFAULT_ADAPTER, odd)
    config = json.loads((odd / "adapter_config.json").read_text())
    (odd / "adapter_config.json").write_text(json.dumps({**config, "use_dora": True}))
    with pytest.raises(ModelFilesError, match="DoRA"):
        adapter_deltas(odd, 9, 3)


# ------------------------------------------------------------------------------------------ llama.cpp

@pytest.fixture(scope="module")
def llama_engine(gguf_model):
    pytest.importorskip("llama_cpp")
    from trustgen.engines import LlamaCppEngine
    return LlamaCppEngine(gguf_model, threads=1, workers=2)


def test_llama_cpp_engine_streams_a_checked_reply(llama_engine, bottle):
    from trustgen.prompting import build_messages
    messages = build_messages(request(bottle))
    streamed = Streamed(llama_engine.stream(messages, max_new_tokens=40))
    text = "".join(streamed)
    g = streamed.generation
    assert g.text == text.strip() and g.new_tokens > 0 and g.prompt_tokens > 50
    assert g.stopped_by in ("eos", "stop", "length") and g.first_token_s is not None
    assert f"{bottle['price']:.2f}" in g.text or "stock" in g.text  # it answers from the facts
    assert llama_engine.generate(messages, max_new_tokens=3).stopped_by == "length"
    writer, seen = writer_with(llama_engine), []
    with streaming_to(seen.append):
        reply = writer.write(request(bottle))
    assert "".join(seen) == (reply.text if reply.used_model else "") and reply.unsupported == 0


def test_llama_cpp_keeps_only_the_fixed_start(llama_engine, bottle):
    """The kept state is the prompt's fixed start and nothing after it: a prompt that starts otherwise is computed
    whole, and the same prompt again gives the same greedy reply as computed from nothing."""
    from trustgen.engines import LlamaCppEngine, shared_start
    from trustgen.prompting import build_messages
    messages = build_messages(request(bottle))
    whole = LlamaCppEngine(llama_engine.model_path, threads=1, workers=1, prefix_cache=False)
    cached = LlamaCppEngine(llama_engine.model_path, threads=1, workers=1)
    first = cached.generate(messages, max_new_tokens=30)
    model = cached._pool.queue[0]
    tokenizer = cached.load()
    ids = tokenizer.apply_chat_template(messages, tokenize=True, add_generation_prompt=True,
                                        return_dict=True)["input_ids"]
    kept = cached._keep_start(model, tokenizer, list(ids))
    assert 16 <= kept == shared_start(cached._prefix, list(ids), 16) < len(ids)
    assert model.n_tokens == kept
    assert cached.generate(messages, max_new_tokens=30).text == first.text == \
        whole.generate(messages, max_new_tokens=30).text
    other = [{"role": "system", "content": "Reply in French."}, {"role": "user", "content": "Hello"}]
    other_ids = tokenizer.apply_chat_template(other, tokenize=True, add_generation_prompt=True,
                                              return_dict=True)["input_ids"]
    assert cached._keep_start(model, tokenizer, list(other_ids)) == 0 and model.n_tokens == 0


def test_llama_cpp_serves_two_conversations_at_once(llama_engine, bottle):
    from trustgen.prompting import build_messages
    messages = build_messages(request(bottle))
    alone = llama_engine.generate(messages, max_new_tokens=30).text
    results = [None, None]

    def run(i):
        results[i] = llama_engine.generate(messages, max_new_tokens=30).text

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert results == [alone, alone] and llama_engine._pool.qsize() == 2


def test_llama_cpp_scores_like_a_language_model(llama_engine):
    tokenizer = llama_engine.load()
    ids = tokenizer("The water bottle costs $49.72 and is in stock.")["input_ids"]
    scores = llama_engine.score([ids, ids[:4]])
    assert len(scores[0]) == len(ids) - 1 and len(scores[1]) == 3
    assert all(s <= 0 for s in scores[0]) and scores[0][:3] == pytest.approx(scores[1], abs=1e-3)
