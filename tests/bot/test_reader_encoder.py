"""The reader's adapted encoder: the shipped classifier was fitted on the shipped adapter, the merged folder is
rebuilt when damaged, ONNX Runtime and PyTorch give the same embeddings, and the adapter changes them."""
from __future__ import annotations

import numpy as np
import pytest

from bot.nlu import encoder


def test_the_shipped_classifier_was_fitted_on_the_shipped_adapter():
    from bot.nlu.classify import MiniLMClauses
    assert (encoder.adapter_dir() / "adapter_model.safetensors").exists()
    assert MiniLMClauses.load().embedder_name == encoder.encoder_name()


def test_onnx_and_torch_agree_and_the_adapter_moves_the_embeddings():
    from knowledge.embeddings import MiniLMEmbedder
    texts = ["which lamp has the highest price", "which lamp has the lowest price", "yep", "cancel w6779827"]
    fast, slow = encoder.ReaderEncoder(), encoder.ReaderEncoder(onnx=False)
    got, want = fast.encode(texts), slow.encode(texts)
    assert got.shape == (4, 384) and float(np.min(np.sum(got * want, axis=1))) > 0.9999
    plain = MiniLMEmbedder().encode(texts)
    assert float(np.max(np.sum(got * plain, axis=1))) < 0.99  # adapted: not the plain encoder
    # the point of the adapter: the dearest and the cheapest are further apart than in the plain space
    assert float(got[0] @ got[1]) < float(plain[0] @ plain[1])


def test_a_damaged_merge_is_rebuilt(tmp_path, monkeypatch):
    monkeypatch.setenv("SHOPBOT_MODEL_DIR", str(tmp_path))
    folder = encoder.build_merged()
    key = encoder.adapter_key()
    from knowledge.manifest import folder_ok
    assert folder_ok(folder, key) and encoder.build_merged() == folder
    with open(folder / "model.safetensors", "r+b") as f:
        f.seek(8192)
        byte = f.read(1)
        f.seek(8192)
        f.write(bytes([byte[0] ^ 0xFF]))
    assert not folder_ok(folder, key)
    assert encoder.build_merged() == folder and folder_ok(folder, key)
    assert not list(tmp_path.glob("*.partial"))


def test_setup_step_reports_the_encoder(tmp_path, monkeypatch):
    pytest.importorskip("onnxruntime")
    monkeypatch.setenv("SHOPBOT_MODEL_DIR", str(tmp_path))
    done = encoder.setup_step(tmp_path)
    assert "reader encoder" in done and "ONNX Runtime" in done
    assert len(list(tmp_path.glob("reader-minilm-onnx-*"))) == 1
