"""Fixtures for the knowledge tests: the demo shop's documents and a fake embedder that counts its work."""
from __future__ import annotations

import pytest

from knowledge.embeddings import HashEmbedder


class CountingEmbedder(HashEmbedder):
    """The hashing fake, remembering every text it was asked to embed."""

    def __init__(self, dim: int = 256, name: str = "hash-embedder"):
        super().__init__(dim, name)
        self.seen: list[str] = []

    def encode(self, texts, batch_size: int = 64, progress: bool = False):
        self.seen.extend(texts)
        return super().encode(texts, batch_size, progress)


@pytest.fixture
def embedder():
    return CountingEmbedder()


@pytest.fixture(scope="session")
def shop_docs(demo_db):
    from knowledge.documents import shop_documents
    from knowledge.store import Store
    store = Store(demo_db)
    try:
        return shop_documents(store)
    finally:
        store.close()


@pytest.fixture(scope="session")
def minilm():
    """The packaged all-MiniLM-L6-v2, loaded once per test session."""
    from knowledge.embeddings import default_embedder
    return default_embedder()


@pytest.fixture
def data_dir(demo_db, tmp_path):
    """A shop data directory holding a copy of the demo shop's database (importing it anew takes seconds)."""
    import shutil
    shutil.copy(demo_db, tmp_path / "shop.db")
    return tmp_path
