"""`shopbot ingest`: build or update a shop's search index in `DATA_DIR/index/` from its catalog, FAQ and policy.

`open_shop_index(data_dir)` is what the bot calls: it loads the index, re-embeds only what changed in the
catalog, and rebuilds (with a warning) an index that is corrupt or was made by another embedding model.
`setup_step` does the same for `shopbot setup`. Run: `shopbot ingest [--rebuild]`.
"""
from __future__ import annotations

import logging
import shutil
import time
from pathlib import Path

from .documents import shop_documents
from .errors import SearchIndexError
from .index import SearchIndex, UpdateReport
from .paths import default_data_dir

log = logging.getLogger(__name__)
INDEX_DIR = "index"


def index_path(data_dir: str | Path) -> Path:
    return Path(data_dir) / INDEX_DIR


def _rebuild(path: Path, documents, embedder) -> SearchIndex:
    if path.exists():
        shutil.rmtree(path)
    return SearchIndex.build(documents, path=path, embedder=embedder)


def refresh_shop_index(data_dir: str | Path, embedder=None, store=None, force: bool = False
                       ) -> tuple[SearchIndex, str]:
    """(index, what happened): builds if absent/unusable (or `force`), else updates to the current shop."""
    from .embeddings import default_embedder
    from .store import open_store
    data_dir = Path(data_dir)
    embedder = embedder or default_embedder()
    own_store = store is None
    store = open_store(data_dir) if own_store else store
    try:
        documents = shop_documents(store)
    finally:
        if own_store:
            store.close()
    path = index_path(data_dir)
    if force:
        return _rebuild(path, documents, embedder), f"rebuilt ({len(documents)} documents)"
    if not path.exists():
        return _rebuild(path, documents, embedder), f"built ({len(documents)} documents)"
    try:
        index = SearchIndex.load(path, embedder=embedder)
    except SearchIndexError as exc:
        log.warning("%s; rebuilding it", exc)
        return _rebuild(path, documents, embedder), f"rebuilt: {exc.reason} ({len(documents)} documents)"
    report: UpdateReport = index.update(documents)
    return index, f"updated: {report}"


def open_shop_index(data_dir: str | Path | None = None, embedder=None, store=None) -> SearchIndex:
    """The shop's search index, current with its catalog (built if absent, rebuilt if unusable)."""
    return refresh_shop_index(data_dir or default_data_dir(), embedder=embedder, store=store)[0]


def setup_step(data_dir: Path, force: bool = False) -> str:
    index, what = refresh_shop_index(data_dir, force=force)
    return f"search index {index_path(data_dir)}: {what}"


def add_arguments(parser) -> None:
    parser.add_argument("--rebuild", action="store_true", help="embed every document again, even if unchanged")


def run(args) -> int:
    data_dir = Path(getattr(args, "data_dir", None) or default_data_dir())
    start = time.perf_counter()
    index, what = refresh_shop_index(data_dir, force=getattr(args, "rebuild", False))
    print(f"search index {index_path(data_dir)}: {what}; {len(index)} documents, "
          f"{time.perf_counter() - start:.1f} s")
    return 0
