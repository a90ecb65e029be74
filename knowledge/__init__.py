"""The shop's data: catalog, customers and orders (store), FAQ and policy, and search over them.

`from knowledge import SearchIndex` is resolved on first use, so importing the package loads no FAISS,
bm25s or torch.
"""
from __future__ import annotations

_LAZY = {
    "SearchIndex": "knowledge.index", "SearchConfig": "knowledge.index", "SearchResult": "knowledge.index",
    "Hit": "knowledge.index", "UpdateReport": "knowledge.index", "Document": "knowledge.documents",
    "shop_documents": "knowledge.documents", "open_shop_index": "knowledge.ingest",
    "find_references": "knowledge.lookup",
}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'knowledge' has no attribute {name!r}")


__all__ = sorted(_LAZY)
