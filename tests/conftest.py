"""Tests run offline and write only under pytest's temporary directory."""
from __future__ import annotations

import os

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


@pytest.fixture(autouse=True)
def _isolated_data_dir(tmp_path, monkeypatch):
    """Point the default data directory at the test's own temporary directory."""
    monkeypatch.setenv("SHOPBOT_DATA_DIR", str(tmp_path / "shopbot-data"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    yield


@pytest.fixture(scope="session")
def demo_db(tmp_path_factory):
    """A pristine demo shop database, imported once per test session; copy it before changing it."""
    from knowledge.store import Store
    path = tmp_path_factory.mktemp("demo") / "shop.db"
    store, problems = Store.create(path)
    assert problems == []
    store.close()
    return path


@pytest.fixture
def store(demo_db, tmp_path):
    """A fresh, writable copy of the demo shop."""
    import shutil
    from knowledge.store import Store
    path = tmp_path / "shop.db"
    shutil.copy(demo_db, path)
    s = Store(path)
    yield s
    s.close()
