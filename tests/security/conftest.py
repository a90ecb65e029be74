"""Shared set-up for the security tests: bots on fresh copies of the demo shop, with the session's intent
classifier and hashing-embedder index (tests/conftest.py)."""
from __future__ import annotations

import shutil

import pytest


@pytest.fixture(scope="session")
def demo_export(demo_db):
    from knowledge.store import Store
    store = Store(demo_db)
    try:
        return store.export()
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
