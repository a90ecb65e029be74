"""The reader's own text encoder: all-MiniLM-L6-v2 with a LoRA adapter trained to tell the shop's requests apart.

Frozen sentence embeddings put "which lamp has the highest price" next to "... the lowest price" and "put the mat
next to the tablet" next to a list request: a logistic regression on them cannot separate what they do not. A
LoRA adapter (rank 16 on every attention and feed-forward projection, about 0.3 M weights, 1.2 MB) trained on the
reader's training clauses with a softmax head moves the embeddings so that requests of one kind gather; the
clause classifier (classify.py) is then a logistic regression on the adapted embeddings, as before.

The adapter ships in bot/data/nlu/reader-lora/ (trained by `python -m bot.nlu.train --encoder`). Setup merges it
into the packaged weights once, into a folder of the model cache named by a content hash of the adapter and the
weights, with a manifest (knowledge/manifest.py), and exports that folder for ONNX Runtime as the search encoder
is exported (knowledge/onnx_minilm.py, same agreement check); a stale or damaged folder is rebuilt. Where ONNX
Runtime cannot be had, the merged folder is run by sentence-transformers on PyTorch. The search index keeps the
plain encoder: the adapter is for telling requests apart, not for finding passages.
"""
from __future__ import annotations

import functools
import hashlib
import json
import logging
import random
import shutil
import threading
import time
from importlib import resources
from pathlib import Path
from typing import Sequence

import numpy as np

log = logging.getLogger(__name__)

ADAPTER = "reader-lora"
NAME_PREFIX = "all-MiniLM-L6-v2+reader-lora-"
FORMAT = 1  # bump when the merge changes: every merged folder is then rebuilt
TARGETS = ["query", "key", "value", "dense"]  # every projection of the six layers
MAX_TOKENS = 64  # clauses are short; longer ones are cut in training only
MERGED_NAME = "reader-minilm-merged"  # the model cache's folders of the merged weights ...
ONNX_NAME = "reader-minilm-onnx"  # ... and of their exports


def adapter_dir() -> Path:
    return Path(str(resources.files("bot") / "data" / "nlu" / ADAPTER))


def adapter_key(adapter: Path | None = None) -> str:
    """The content hash of the adapter and of the packaged weights it adapts."""
    from knowledge.manifest import digest
    from knowledge.onnx_minilm import packaged_model
    adapter = adapter or adapter_dir()
    h = hashlib.sha256(f"{FORMAT}".encode())
    for path in (adapter / "adapter_config.json", adapter / "adapter_model.safetensors",
                 packaged_model() / "model.safetensors"):
        h.update(f"|{path.name}:{digest(path)}".encode())
    return h.hexdigest()


def encoder_name(adapter: Path | None = None) -> str:
    return NAME_PREFIX + adapter_key(adapter)[:12]


def build_merged(force: bool = False, adapter: Path | None = None) -> Path:
    """The packaged sentence-transformers folder with the adapter merged into its weights; built when missing,
    stale or damaged, else returned at once."""
    from knowledge.manifest import folder_ok, write_manifest
    from knowledge.onnx_minilm import packaged_model
    from knowledge.paths import model_dir
    adapter = adapter or adapter_dir()
    key = adapter_key(adapter)
    target = model_dir() / f"{MERGED_NAME}-{key[:16]}"
    if not force and folder_ok(target, key):
        return target
    work = target.with_name(target.name + ".partial")
    shutil.rmtree(work, ignore_errors=True)
    shutil.copytree(packaged_model(), work)
    try:
        import torch
        from peft import PeftModel
        from transformers import AutoModel
        base = AutoModel.from_pretrained(str(packaged_model()), local_files_only=True)
        merged = PeftModel.from_pretrained(base, str(adapter)).merge_and_unload().eval()
        with torch.no_grad():
            merged.save_pretrained(str(work), safe_serialization=True)
        write_manifest(work, key)
    except Exception:
        shutil.rmtree(work, ignore_errors=True)
        raise
    shutil.rmtree(target, ignore_errors=True)
    work.rename(target)
    for old in target.parent.glob(f"{MERGED_NAME}-*"):  # merges of earlier adapters
        if old != target and old.is_dir() and not old.name.endswith(".partial"):
            shutil.rmtree(old, ignore_errors=True)
    return target


class ReaderEncoder:
    """Unit-length embeddings from the adapted encoder: ONNX Runtime when it can be had, else PyTorch."""

    dim = 384
    max_tokens = 256

    def __init__(self, onnx: bool | None = None):
        import os
        self.onnx = os.environ.get("SHOPBOT_ENCODER", "").strip().lower() != "torch" if onnx is None else onnx
        self._run = None
        self._lock = threading.Lock()

    @functools.cached_property
    def name(self) -> str:
        """Which adapter the embeddings come from (hashing the weights: only training and checks ask)."""
        return encoder_name()

    def _runner(self):
        with self._lock:
            if self._run is None:
                folder = build_merged()
                if self.onnx:
                    try:
                        from knowledge.onnx_minilm import OnnxMiniLM, build_onnx_minilm
                        self._run = OnnxMiniLM(build_onnx_minilm(source=folder, name=ONNX_NAME)).encode
                    except Exception as exc:  # noqa: BLE001 - no onnxruntime, no exporter, a failed check
                        log.warning("reader encoder on PyTorch: ONNX unavailable (%s: %s)", type(exc).__name__, exc)
                if self._run is None:
                    from sentence_transformers import SentenceTransformer
                    model = SentenceTransformer(str(folder), device="cpu", local_files_only=True)
                    model.max_seq_length = self.max_tokens
                    self._run = lambda texts, batch_size=64: model.encode(
                        list(texts), batch_size=batch_size, convert_to_numpy=True, normalize_embeddings=True)
            return self._run

    def encode(self, texts: Sequence[str], batch_size: int = 64, progress: bool = False) -> np.ndarray:
        if len(texts) == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.asarray(self._runner()(list(texts), batch_size=batch_size), dtype=np.float32)


_SHARED: dict[str, ReaderEncoder] = {}
_SHARED_LOCK = threading.Lock()


def reader_encoder() -> ReaderEncoder:
    """One adapted encoder per process (it holds a model: ~90 MB)."""
    with _SHARED_LOCK:
        if "encoder" not in _SHARED:
            _SHARED["encoder"] = ReaderEncoder()
        return _SHARED["encoder"]


def setup_step(data_dir: Path, force: bool = False) -> str:
    if not (adapter_dir() / "adapter_model.safetensors").exists():
        return "reader encoder: no adapter shipped (the clause classifier uses the plain encoder)"
    folder = build_merged(force=force)
    import importlib.util
    if importlib.util.find_spec("onnxruntime") is None:
        return f"reader encoder merged in {folder} (PyTorch)"
    from knowledge.onnx_minilm import build_onnx_minilm
    exported = build_onnx_minilm(force=force, source=folder, name=ONNX_NAME)
    return f"reader encoder (adapter merged, ONNX Runtime) in {exported}"


# ---------------------------------------------------------------- training
def train_adapter(clauses: list[str], awaiting: list[str], labels: list[str], out: Path, *, epochs: float = 1.0,
                  batch: int = 32, lr: float = 1e-3, rank: int = 16, seed: int = 0) -> dict:
    """Train the LoRA adapter on (clause, awaiting, label) with a softmax head over [embedding; awaiting one-hot];
    write the adapter (not the head: the shipped classifier is refitted on the adapted embeddings) to `out`."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModel, AutoTokenizer

    from knowledge.onnx_minilm import packaged_model
    from .classify import AWAITING, _await_features, mask
    torch.manual_seed(seed)
    source = str(packaged_model())
    tokenizer = AutoTokenizer.from_pretrained(source)
    model = get_peft_model(AutoModel.from_pretrained(source, local_files_only=True),
                           LoraConfig(r=rank, lora_alpha=2 * rank, lora_dropout=0.05, target_modules=TARGETS))
    names = sorted(set(labels))
    index = {n: i for i, n in enumerate(names)}
    head = torch.nn.Linear(384 + len(AWAITING), len(names))
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimiser = torch.optim.AdamW([{"params": trainable, "lr": lr}, {"params": head.parameters(), "lr": 1e-2}],
                                  weight_decay=0.01)
    steps = max(1, int(epochs * len(clauses) / batch))
    schedule = torch.optim.lr_scheduler.LambdaLR(optimiser, lambda s: min(1.0, (s + 1) / 20) * max(0.0, 1 - s / steps))
    order = list(range(len(clauses)))
    rng = random.Random(seed)
    losses, start = [], time.time()
    model.train()
    for step in range(steps):
        at = (step * batch) % max(1, len(order) - batch)
        if at < batch:
            rng.shuffle(order)
        rows = order[at:at + batch]
        enc = tokenizer([mask(clauses[i]) for i in rows], padding=True, truncation=True, max_length=MAX_TOKENS,
                        return_tensors="pt")
        states = model(**enc).last_hidden_state
        weights = enc["attention_mask"].unsqueeze(-1).float()
        vectors = torch.nn.functional.normalize((states * weights).sum(1) / weights.sum(1).clamp(min=1e-9), dim=-1)
        features = torch.cat([vectors * 4.0, torch.tensor(_await_features([awaiting[i] for i in rows]))], dim=1)
        loss = torch.nn.functional.cross_entropy(head(features), torch.tensor([index[labels[i]] for i in rows]))
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        schedule.step()
        losses.append(loss.item())
        if step % 25 == 0:
            log.info("reader adapter step %d/%d loss %.3f (%.0f s)", step, steps, losses[-1], time.time() - start)
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(str(out))
    config = json.loads((out / "adapter_config.json").read_text(encoding="utf-8"))
    config["base_model_name_or_path"] = "all-MiniLM-L6-v2"  # the packaged model, not this machine's path to it
    (out / "adapter_config.json").write_text(json.dumps(config, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return {"steps": steps, "batch": batch, "lr": lr, "rank": rank, "seconds": round(time.time() - start),
            "loss_first": round(losses[0], 3), "loss_last_25": round(float(np.mean(losses[-25:])), 3),
            "clauses": len(clauses)}
