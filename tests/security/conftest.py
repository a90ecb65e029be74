"""Shared set-up for the security tests: the packaged intent classifier (real MiniLM, loaded once per test
session), a hashing-embedder index of the demo shop, and bots on fresh copies of the demo shop."""
from __future__ import annotations

import shutil

import pytest


@pytest.fixture(scope="session")
def classifier():
    import torch
    torch.set_num_threads(1)
    from bot.intents import IntentClassifier
    clf = IntentClassifier.load()
    clf.predict("warm up")
    return clf


@pytest.fixture(scope="session")
def demo_export(demo_db):
    from knowledge.store import Store
    store = Store(demo_db)
    try:
        return store.export()
    finally:
        store.close()


@pytest.fixture(scope="session")
def hash_index(demo_db):
    """The demo shop's search index built with the hashing embedder (fast; search quality is not tested here)."""
    from knowledge.documents import shop_documents
    from knowledge.embeddings import HashEmbedder
    from knowledge.index import SearchIndex
    from knowledge.store import Store
    store = Store(demo_db)
    try:
        return SearchIndex.build(shop_documents(store), embedder=HashEmbedder())
    finally:
        store.close()


@pytest.fixture
def make_bot(demo_db, tmp_path, classifier, hash_index):
    """make_bot(**kw) -> a Bot on its own copy of the demo shop, with the claim-checking template writer."""
    from bot import Bot
    from trustgen.writer import TemplateWriter
    made = []

    def make(name="shop", db=None, **kw):
        data = tmp_path / name
        data.mkdir(exist_ok=True)
        shutil.copy(db or demo_db, data / "shop.db")
        kw.setdefault("writer", TemplateWriter())
        kw.setdefault("classifier", classifier)
        kw.setdefault("index", hash_index)
        bot = Bot.load(data, **kw)
        made.append(bot)
        return bot

    yield make
    for bot in made:
        bot.close()
