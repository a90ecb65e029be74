"""Shared set-up for the dialogue tests: a bot on a fresh copy of the demo shop, with the packaged intent
classifier (real MiniLM, loaded once per test session) and the claim-checking template writer."""
from __future__ import annotations

import functools
import shutil
from pathlib import Path


@functools.lru_cache(maxsize=1)
def classifier():
    import torch
    torch.set_num_threads(1)
    from bot.intents import IntentClassifier
    clf = IntentClassifier.load()
    clf.predict("warm up")
    return clf


@functools.lru_cache(maxsize=1)
def hash_index(demo_db: str):
    """A search index of the demo shop built with the hashing embedder (fast; search quality is not tested here)."""
    from knowledge.documents import shop_documents
    from knowledge.embeddings import HashEmbedder
    from knowledge.index import SearchIndex
    from knowledge.store import Store
    store = Store(demo_db)
    try:
        return SearchIndex.build(shop_documents(store), embedder=HashEmbedder())
    finally:
        store.close()


def make_bot(demo_db: Path, tmp_path: Path, **kw):
    from bot import Bot
    from trustgen.writer import TemplateWriter
    data = tmp_path / "shop"
    data.mkdir(exist_ok=True)
    shutil.copy(demo_db, data / "shop.db")
    kw.setdefault("writer", TemplateWriter())
    kw.setdefault("classifier", classifier())
    kw.setdefault("index", hash_index(str(demo_db)))
    return Bot.load(data, **kw)


def talk(bot, session: str, *messages: str):
    return [bot.respond(m, session_id=session) for m in messages]
