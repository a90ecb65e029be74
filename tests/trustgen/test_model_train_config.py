"""Training presets: loading, command-line overrides, and clear errors for missing or broken preset files."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from trustgen.train import ConfigError, TrainConfig, add_arguments, load_config, lr_at


def test_presets_load_into_frozen_configs():
    shop = load_config("shop-lora")
    tiny = load_config("tiny")
    assert shop.model == "base" and shop.lora_r > 0
    # the preset reproduces the committed adapter: same settings as its training log
    logged = json.loads((Path(__file__).parents[2] / "trustgen/adapters/shop-lora/train_log.json").read_text())["config"]
    for key in ("steps", "batch_size", "lr", "max_len", "lora_r", "lora_alpha", "lora_layers", "seed"):
        assert getattr(shop, key) == logged[key], key
    assert tiny.model == "tiny" and tiny.lora_r == 0
    with pytest.raises(Exception):
        shop.steps = 1  # frozen


def test_command_line_overrides_the_preset():
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    args = parser.parse_args(["--preset", "tiny", "--steps", "7", "--lr", "0.01", "--target-modules", "a,b",
                              "--keep-data", "yes"])
    cfg = load_config(args.preset, **{k: v for k, v in vars(args).items() if k != "preset"})
    assert (cfg.steps, cfg.lr, cfg.target_modules, cfg.keep_data) == (7, 0.01, ("a", "b"), True)
    assert cfg.batch_size == load_config("tiny").batch_size  # untouched values come from the preset
    for action in parser._actions:
        assert action.help, action.dest  # every flag says what it does


def test_missing_unknown_and_corrupt_presets_name_the_file(tmp_path):
    with pytest.raises(ConfigError, match="no-such-preset.toml: preset file is missing"):
        load_config("no-such-preset")
    bad = tmp_path / "bad.toml"
    bad.write_text("steps = [unclosed\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="bad.toml: cannot read"):
        load_config(str(bad))
    odd = tmp_path / "odd.toml"
    odd.write_text('steps = 3\nlearning_rate = 0.1\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="odd.toml: unknown setting.*learning_rate"):
        load_config(str(odd))


def test_learning_rate_warms_up_then_decays():
    cfg = TrainConfig(steps=100, warmup_steps=10, lr=1.0)
    assert lr_at(0, cfg) == pytest.approx(0.1)
    assert lr_at(9, cfg) == pytest.approx(1.0)
    assert lr_at(99, cfg) < lr_at(50, cfg) < lr_at(10, cfg)
    assert lr_at(100, cfg) == pytest.approx(0.1)
