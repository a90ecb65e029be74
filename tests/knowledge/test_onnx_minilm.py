"""The ONNX Runtime encoder gives sentence-transformers' embeddings, is rebuilt when its export is damaged, and
gives way to PyTorch when it cannot be had."""
from __future__ import annotations

import shutil

import numpy as np
import pytest

pytest.importorskip("onnxruntime")

from knowledge import onnx_minilm  # noqa: E402
from knowledge.embeddings import MiniLMEmbedder  # noqa: E402
from knowledge.faq import load_faq  # noqa: E402


@pytest.fixture(scope="module")
def shop_texts():
    entries = load_faq()
    texts = [e.question for e in entries][:20] + ["do u sell washing machines", "the kettle", "yep", "",
                                                  "name's Mei Davis, zip 80217", "x" * 3000]
    return texts


def test_onnx_embeddings_match_torch_on_shop_text(shop_texts):
    fast, slow = MiniLMEmbedder(), MiniLMEmbedder(onnx=False)
    got = np.vstack([fast.encode(shop_texts[i:i + 8]) for i in range(0, len(shop_texts), 8)])
    assert isinstance(fast._fast, onnx_minilm.OnnxMiniLM)  # small batches went through ONNX Runtime
    want = slow.encode(shop_texts)
    assert got.shape == want.shape == (len(shop_texts), 384)
    assert float(np.min(np.sum(got * want, axis=1))) > onnx_minilm.MIN_AGREEMENT
    assert np.allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)


def test_a_damaged_export_is_rebuilt(tmp_path, monkeypatch):
    good = onnx_minilm.build_onnx_minilm()
    monkeypatch.setenv("SHOPBOT_MODEL_DIR", str(tmp_path))
    copy = tmp_path / good.name
    shutil.copytree(good, copy)
    key = onnx_minilm.export_key(onnx_minilm.packaged_model())
    assert onnx_minilm.export_ok(copy, key) and onnx_minilm.build_onnx_minilm() == copy
    with open(copy / "model.onnx", "r+b") as f:
        f.seek(4096)
        byte = f.read(1)
        f.seek(4096)
        f.write(bytes([byte[0] ^ 0xFF]))
    assert not onnx_minilm.export_ok(copy, key)
    rebuilt = onnx_minilm.build_onnx_minilm()
    assert rebuilt == copy and onnx_minilm.export_ok(copy, key)
    assert not list(tmp_path.glob("*.partial"))


def test_torch_is_used_when_the_export_cannot_be_had(monkeypatch, caplog):
    def broken(*args, **kwargs):
        raise onnx_minilm.ExportError("the export's embeddings differ from the model's (cosine 0.5)")

    monkeypatch.setattr(onnx_minilm, "build_onnx_minilm", broken)
    embedder = MiniLMEmbedder()
    vectors = embedder.encode(["how long do refunds take?"])
    assert embedder.fast is None and "ONNX encoder is unavailable" in caplog.text
    assert vectors.shape == (1, 384) and abs(float(np.linalg.norm(vectors[0])) - 1.0) < 1e-5
    monkeypatch.setenv("SHOPBOT_ENCODER", "torch")
    assert MiniLMEmbedder().fast is None
