"""The tiny preset end to end: prepare, train, evaluate, generate, quantize, and a LoRA adapter round trip.

A random 2-layer GPT-2 with a tokenizer trained on the shop's own text stands in for the real model, so the
whole pipeline runs in well under a minute on the real shop data.
"""
from __future__ import annotations

import math
from pathlib import Path

import pytest

from trustgen.dataset import DEFAULT_DATA_ROOT

pytestmark = pytest.mark.skipif(not DEFAULT_DATA_ROOT.is_dir(), reason="shared data folder is not present")
torch = pytest.importorskip("torch")


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    from trustgen.train import load_config, train
    out = tmp_path_factory.mktemp("tiny")
    cfg = load_config("tiny", out=str(out), steps=30, keep_data=True)
    log = train(cfg, log=lambda *_: None)
    return out, log


def loaded(folder: Path):
    from trustgen.generate import LoadedModel
    from trustgen.tiny import load_tiny
    model, tokenizer = load_tiny(folder)
    return LoadedModel(tokenizer=tokenizer, model=model, base_path=folder)


def test_training_lowers_the_loss(tiny_run):
    out, log = tiny_run
    assert log["steps_done"] == 30
    assert log["last_loss"] < log["first_loss"] - 0.5
    assert log["val_perplexity_after"] < log["val_perplexity_before"] / 2
    assert (out / "train_log.json").is_file() and (out / "model.safetensors").is_file()


def test_evaluation_compares_two_models_on_the_same_data(tiny_run):
    from trustgen.dataset import read_jsonl
    from trustgen.evaluate import compare, table
    from trustgen.tiny import build_tiny
    out, _ = tiny_run
    records = read_jsonl(out / "data" / "val.jsonl")[:24]
    model, tokenizer = build_tiny(out / "data" / "train.jsonl", seed=0)  # the same untrained starting point
    from trustgen.generate import LoadedModel
    untrained = LoadedModel(tokenizer=tokenizer, model=model.eval(), base_path=out)
    results = compare({"untrained": untrained, "trained": loaded(out)}, records, gen_records=records[:2],
                      log=lambda *_: None)
    for name in ("untrained", "trained"):
        ppl = results[name]["perplexity"]
        assert math.isfinite(ppl["perplexity"]) and ppl["perplexity"] > 1
        assert ppl["tokens"] == results["untrained"]["perplexity"]["tokens"]  # same data for both
        gen = results[name]["generation"]
        assert gen["replies"] == 2 and 0 <= gen["accuracy"] <= 1
    assert results["trained"]["perplexity"]["perplexity"] < results["untrained"]["perplexity"]["perplexity"]
    assert "| trained |" in table(results)


def test_generation_runs_and_stops(tiny_run):
    from trustgen.generate import generate
    out, _ = tiny_run
    model = loaded(out)
    messages = [{"role": "system", "content": "Facts:\n[item:1] Lamp, item 1: color red; price $5.00; available"},
                {"role": "user", "content": "How much is the lamp?"}]
    first = generate(model, messages, max_new_tokens=12, time_limit_s=10)
    assert first.new_tokens > 0 and first.stopped_by in ("eos", "stop", "length")
    assert generate(model, messages, max_new_tokens=12, time_limit_s=10).text == first.text  # greedy


def test_int8_quantization_keeps_outputs_close(tiny_run):
    from trustgen.quantize import quantize_int8, weight_bytes
    out, _ = tiny_run
    fp32 = loaded(out).model
    ids = torch.randint(0, fp32.config.vocab_size, (2, 40))
    with torch.no_grad():
        reference = fp32(ids).logits
    size_before = weight_bytes(fp32)["weight_bytes"]
    int8 = quantize_int8(fp32)
    from torch.ao.nn.quantized.dynamic import Linear as DynamicLinear
    assert any(isinstance(m, DynamicLinear) for m in int8.modules())
    with torch.no_grad():
        quantized = int8(ids).logits
    assert weight_bytes(int8)["weight_bytes"] < size_before
    assert (quantized.argmax(-1) == reference.argmax(-1)).float().mean() > 0.9
    assert torch.nn.functional.cosine_similarity(quantized.flatten(), reference.flatten(), dim=0) > 0.99


def test_lora_adapter_saves_in_the_format_the_app_loads(tiny_run, tmp_path):
    from trustgen.dataset import read_jsonl
    from trustgen.generate import generate, load_model
    from trustgen.train import load_config, train
    out, _ = tiny_run
    data = tmp_path / "data"
    data.mkdir()
    for split in ("train", "val"):  # a small slice keeps this test quick
        lines = (out / "data" / f"{split}.jsonl").read_text(encoding="utf-8").splitlines()[:40]
        (data / f"{split}.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert len(read_jsonl(data / "train.jsonl")) == 40
    cfg = load_config("tiny", model=str(out), out=str(tmp_path / "lora"), steps=3, lora_r=4,
                      target_modules=("c_attn",), dataset_dir=str(data), val_examples=4)
    train(cfg, log=lambda *_: None)
    assert (tmp_path / "lora" / "adapter_config.json").is_file()
    assert (tmp_path / "lora" / "adapter_model.safetensors").is_file()
    model = load_model(base_path=out, adapter_path=tmp_path / "lora")
    assert model.adapter_path == tmp_path / "lora"
    assert generate(model, [{"role": "user", "content": "hello"}], max_new_tokens=4).new_tokens > 0
