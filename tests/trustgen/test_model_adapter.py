"""The committed shop adapter: present, small, and loadable on the real base model by the app's loader."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

ADAPTER = Path(__file__).resolve().parents[2] / "trustgen" / "adapters" / "shop-lora"


@pytest.fixture(scope="module")
def adapter():
    if not (ADAPTER / "adapter_config.json").is_file():
        pytest.skip("no committed adapter")
    return ADAPTER


def test_adapter_folder_is_complete_and_small(adapter):
    config = json.loads((adapter / "adapter_config.json").read_text(encoding="utf-8"))
    assert config["peft_type"] == "LORA"
    weights = adapter / "adapter_model.safetensors"
    assert 100_000 < weights.stat().st_size < 20_000_000
    card = (adapter / "README.md").read_text(encoding="utf-8")
    assert "shopbot train" in card and "perplexity" in card.lower()


def test_app_loader_merges_the_adapter(adapter):
    from trustgen.convert import base_model_path, is_model_folder
    if not is_model_folder(base_model_path()):
        pytest.skip("base model not converted (run `shopbot setup`)")
    from safetensors.torch import load_file
    from trustgen.generate import load_model
    loaded = load_model(adapter_path="default")
    assert loaded.adapter_path == adapter
    lora = load_file(adapter / "adapter_model.safetensors")
    assert lora and all(t.abs().sum() > 0 for k, t in lora.items() if "lora_B" in k)  # B moved from zero
    assert not any("lora" in name for name, _ in loaded.model.named_parameters())  # merged into the base
