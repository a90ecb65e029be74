"""`shopbot train`: fine-tune the shop's language model with LoRA (peft) on the CPU; loss on reply tokens only.

Reads a TOML preset (trustgen/presets/shop-lora.toml by default) into a frozen `TrainConfig`; every field can
be overridden with a flag. Builds the grounded training set, trains with a plain AdamW loop, and saves the
adapter (peft's save_pretrained folder) with train_log.json. The `tiny` preset trains a small random GPT-2 in
seconds instead (trustgen/tiny.py). Does not quantize or evaluate beyond a closing validation loss.

    shopbot train --preset shop-lora            # the committed adapter (see its README.md for the exact run)
    shopbot train --preset tiny --out /tmp/tiny
"""
from __future__ import annotations

import argparse
import dataclasses
import functools
import json
import math
import random
import time
import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from .errors import TrustgenError
from .metrics import IGNORE, dataset_nll, nll_sum, perplexity


class ConfigError(TrustgenError):
    def __init__(self, path, reason: str):
        super().__init__(f"{path}: {reason}")
        self.path, self.reason = str(path), reason


@dataclass(frozen=True)
class TrainConfig:
    model: str = "base"  # "base": the converted SmolLM2 folder; "tiny": random GPT-2 (trustgen/tiny.py); or a path
    out: str = "trustgen/adapters/shop-lora"
    dataset_dir: str = ""  # folder with train.jsonl/val.jsonl; "" builds them from data_root into <out>/data
    data_root: str = ""  # shared data folder; "" is ../shared/data beside the repo
    keep_data: bool = False  # keep the built jsonl files in <out>/data (off: they are large and rebuildable)
    seed: int = 0
    steps: int = 200
    batch_size: int = 4
    lr: float = 3e-4
    warmup_steps: int = 10
    weight_decay: float = 0.0
    max_len: int = 352  # tokens; longer examples are skipped, never cut (a cut prompt loses its facts)
    lora_r: int = 8  # 0: train every weight (the tiny from-scratch model)
    lora_alpha: int = 16
    lora_dropout: float = 0.05
    target_modules: tuple[str, ...] = ("q_proj", "k_proj", "v_proj", "o_proj")
    lora_layers: int = 0  # adapt only the top N decoder layers (0: all); backward then stops below them
    threads: int = 2
    log_every: int = 10
    val_examples: int = 64  # validation examples for the closing loss (full comparison: shopbot eval model)
    max_minutes: float = 0.0  # stop early after this much training time; 0 = no limit

    def replace(self, **changes) -> "TrainConfig":
        return dataclasses.replace(self, **changes)


def preset_path(name: str) -> Path:
    """A preset by name (trustgen/presets/<name>.toml) or a path to a TOML file."""
    if name.endswith(".toml") or "/" in name:
        return Path(name)
    return Path(str(resources.files("trustgen").joinpath("presets", f"{name}.toml")))


def load_config(name: str = "shop-lora", **overrides) -> TrainConfig:
    path = preset_path(name)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(path, "preset file is missing") from None
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(path, f"cannot read the preset: {exc}") from None
    known = {f.name for f in dataclasses.fields(TrainConfig)}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise ConfigError(path, f"unknown setting(s) {', '.join(unknown)}")
    values = {**raw, **{k: v for k, v in overrides.items() if v is not None}}
    if "target_modules" in values:
        values["target_modules"] = tuple(values["target_modules"])
    try:
        return TrainConfig(**values)
    except TypeError as exc:
        raise ConfigError(path, str(exc)) from None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--preset", default="shop-lora", help="preset name in trustgen/presets or a TOML path")
    helps = {"model": "'base', 'tiny' or a model folder", "out": "folder to write the adapter into",
             "dataset_dir": "folder with train.jsonl and val.jsonl (default: build them)",
             "data_root": "shared data folder for building the set", "keep_data": "keep the built jsonl files",
             "seed": "seed for data, split and init", "steps": "optimizer steps", "batch_size": "examples per step",
             "lr": "peak learning rate", "warmup_steps": "linear warm-up steps", "weight_decay": "AdamW decay",
             "max_len": "longest example in tokens (longer ones are skipped)", "lora_r": "LoRA rank (0: all weights)",
             "lora_alpha": "LoRA scale numerator", "lora_dropout": "dropout on the LoRA input",
             "target_modules": "comma-separated module names to adapt",
             "lora_layers": "adapt only the top N layers (0: all)", "threads": "torch CPU threads",
             "log_every": "print the loss every N steps", "val_examples": "validation examples for the closing loss",
             "max_minutes": "stop after this many minutes of training (0: no limit)"}
    for f in dataclasses.fields(TrainConfig):
        kind = {bool: _yes_no, tuple: _names}.get(type(f.default), type(f.default))
        parser.add_argument("--" + f.name.replace("_", "-"), dest=f.name, type=kind, default=None,
                            help=f"{helps[f.name]} (preset value if omitted)")


def _yes_no(text: str) -> bool:
    if text.lower() not in ("yes", "no", "true", "false", "1", "0"):
        raise argparse.ArgumentTypeError(f"expected yes or no, got {text!r}")
    return text.lower() in ("yes", "true", "1")


def _names(text: str) -> tuple[str, ...]:
    return tuple(n.strip() for n in text.split(",") if n.strip())


# --- data -------------------------------------------------------------------------------------------------

def encode(record: dict, tokenizer, max_len: int) -> tuple[list[int], list[int]] | None:
    """Token ids and labels for one chat record; labels are IGNORE on the prompt. None if too long.

    The prompt is rendered with the chat template and add_generation_prompt, exactly as at answer time, and
    tokenized on its own; the reply and its end-of-turn token follow.
    """
    prompt = tokenizer.apply_chat_template(record["messages"][:-1], tokenize=False, add_generation_prompt=True)
    prompt_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
    reply_ids = tokenizer(record["messages"][-1]["content"] + tokenizer.eos_token + "\n",
                          add_special_tokens=False)["input_ids"]
    ids = prompt_ids + reply_ids
    if len(ids) > max_len:
        return None
    return ids, [IGNORE] * len(prompt_ids) + reply_ids


def encode_all(records, tokenizer, max_len: int) -> list[tuple[list[int], list[int]]]:
    return [e for e in (encode(r, tokenizer, max_len) for r in records) if e is not None]


def collate(examples, pad_id: int) -> dict:
    import torch
    width = max(len(ids) for ids, _ in examples)
    ids = torch.full((len(examples), width), pad_id, dtype=torch.long)
    labels = torch.full((len(examples), width), IGNORE, dtype=torch.long)
    mask = torch.zeros((len(examples), width), dtype=torch.long)
    for row, (i, lab) in enumerate(examples):
        ids[row, :len(i)], labels[row, :len(lab)], mask[row, :len(i)] = torch.tensor(i), torch.tensor(lab), 1
    return {"input_ids": ids, "attention_mask": mask, "labels": labels}


def batches(encoded, batch_size: int, pad_id: int):
    # Sorted by length so padding stays small; order of scoring does not change a summed loss.
    ordered = sorted(encoded, key=lambda e: len(e[0]))
    for i in range(0, len(ordered), batch_size):
        yield collate(ordered[i:i + batch_size], pad_id)


def prepare_data(cfg: TrainConfig) -> tuple[Path, Path]:
    from .dataset import build_examples, write_jsonl
    if cfg.dataset_dir:
        return Path(cfg.dataset_dir) / "train.jsonl", Path(cfg.dataset_dir) / "val.jsonl"
    paths = write_jsonl(build_examples(cfg.data_root or None, cfg.seed), Path(cfg.out) / "data")
    return paths["train"], paths["val"]


# --- model ------------------------------------------------------------------------------------------------

def load_base(cfg: TrainConfig, train_path: Path | None = None):
    """(model, tokenizer) for training: the converted base model, a tiny random GPT-2, or a model folder."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer
    torch.manual_seed(cfg.seed)
    if cfg.model == "tiny":
        from .tiny import build_tiny
        return build_tiny(train_path, seed=cfg.seed)
    from .convert import base_model_path, is_model_folder
    from .errors import ModelFilesError
    path = base_model_path() if cfg.model == "base" else Path(cfg.model)
    if not is_model_folder(path):
        raise ModelFilesError(path, "not a model folder (config.json, model.safetensors, tokenizer.json)")
    return AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32), AutoTokenizer.from_pretrained(path)


def with_lora(model, cfg: TrainConfig):
    if cfg.lora_r <= 0:
        return model
    from peft import LoraConfig, get_peft_model
    layers = None
    if cfg.lora_layers > 0:
        total = model.config.num_hidden_layers
        layers = list(range(max(0, total - cfg.lora_layers), total))
    lora = LoraConfig(r=cfg.lora_r, lora_alpha=cfg.lora_alpha, lora_dropout=cfg.lora_dropout,
                      target_modules=list(cfg.target_modules), layers_to_transform=layers, task_type="CAUSAL_LM")
    return get_peft_model(model, lora)


def lr_at(step: int, cfg: TrainConfig) -> float:
    """Linear warm-up, then cosine decay to a tenth of the peak."""
    if step < cfg.warmup_steps:
        return cfg.lr * (step + 1) / cfg.warmup_steps
    progress = (step - cfg.warmup_steps) / max(1, cfg.steps - cfg.warmup_steps)
    return cfg.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(1.0, progress))))


def train(cfg: TrainConfig, log=functools.partial(print, flush=True)) -> dict:
    """Run one training; returns the log written to <out>/train_log.json."""
    import torch
    from .dataset import read_jsonl
    torch.set_num_threads(cfg.threads)
    started = time.time()
    train_path, val_path = prepare_data(cfg)
    train_records, val_records = read_jsonl(train_path), read_jsonl(val_path)
    model, tokenizer = load_base(cfg, train_path)
    model = with_lora(model, cfg)
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    train_set = encode_all(train_records, tokenizer, cfg.max_len)
    rng = random.Random(cfg.seed)
    val_set = encode_all(val_records, tokenizer, cfg.max_len)
    val_set = rng.sample(val_set, min(len(val_set), cfg.val_examples))
    if not train_set:
        raise ConfigError(train_path, f"no training example fits max_len={cfg.max_len}")
    params = [p for p in model.parameters() if p.requires_grad]
    trainable = sum(p.numel() for p in params)
    optimizer = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    log(f"{len(train_set)} training examples (of {len(train_records)}), {len(val_set)} validation; "
        f"{trainable:,} trainable parameters")
    model.eval()
    val_before = perplexity(*dataset_nll(model, batches(val_set, cfg.batch_size, pad_id)))
    order, losses, t0, step = [], [], time.time(), 0
    model.train()
    for step in range(cfg.steps):
        if cfg.max_minutes and time.time() - t0 > cfg.max_minutes * 60:
            log(f"stopping at step {step}: max_minutes={cfg.max_minutes} reached")
            break
        if len(order) < cfg.batch_size:
            order += rng.sample(range(len(train_set)), len(train_set))  # a fresh shuffled epoch
        batch = collate([train_set[i] for i in order[:cfg.batch_size]], pad_id)
        order = order[cfg.batch_size:]
        for group in optimizer.param_groups:
            group["lr"] = lr_at(step, cfg)
        logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
        shift = (batch["labels"][:, 1:] != IGNORE).sum().clamp(min=1)
        loss = torch.nn.functional.cross_entropy(logits[:, :-1].reshape(-1, logits.size(-1)),
                                                 batch["labels"][:, 1:].reshape(-1), ignore_index=IGNORE,
                                                 reduction="sum") / shift
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        optimizer.step()
        losses.append(loss.item())
        if (step + 1) % cfg.log_every == 0 or step == 0:
            recent = losses[-cfg.log_every:]
            log(f"step {step + 1}/{cfg.steps}  loss {sum(recent) / len(recent):.3f}  "
                f"lr {lr_at(step, cfg):.2e}  {time.time() - t0:.0f}s")
    train_seconds = time.time() - t0
    model.eval()
    val_after = perplexity(*dataset_nll(model, batches(val_set, cfg.batch_size, pad_id)))
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    card = out / "README.md"
    kept_card = card.read_text(encoding="utf-8") if card.is_file() else None
    for peft_config in getattr(model, "peft_config", {}).values():  # a name, not this machine's path
        peft_config.base_model_name_or_path = Path(str(peft_config.base_model_name_or_path)).name
    model.save_pretrained(out)
    if kept_card is not None:  # peft rewrites README.md; the model card written for the adapter stays
        card.write_text(kept_card, encoding="utf-8")
    if cfg.lora_r <= 0:
        tokenizer.save_pretrained(out)
    record = {"config": dataclasses.asdict(cfg), "steps_done": len(losses), "train_examples": len(train_set),
              "trainable_parameters": trainable, "train_seconds": round(train_seconds, 1),
              "total_seconds": round(time.time() - started, 1), "first_loss": losses[0], "last_loss":
              sum(losses[-cfg.log_every:]) / len(losses[-cfg.log_every:]), "losses": [round(x, 4) for x in losses],
              "val_examples": len(val_set), "val_perplexity_before": val_before, "val_perplexity_after": val_after}
    (out / "train_log.json").write_text(json.dumps(record, indent=1), encoding="utf-8")
    if not cfg.keep_data and not cfg.dataset_dir:
        for path in (train_path, val_path):
            path.unlink(missing_ok=True)
        if (out / "data").is_dir() and not any((out / "data").iterdir()):
            (out / "data").rmdir()
    log(f"saved to {out}: {len(losses)} steps in {train_seconds:.0f}s; validation perplexity "
        f"{val_before:.2f} -> {val_after:.2f} on {len(val_set)} examples")
    return record


def run(args) -> int:
    overrides = {f.name: getattr(args, f.name, None) for f in dataclasses.fields(TrainConfig)}
    train(load_config(args.preset, **overrides))
    return 0


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_arguments(p)
    raise SystemExit(run(p.parse_args()))
