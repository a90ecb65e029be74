"""A langchain-core retriever over a `SearchIndex`, so LangChain chains can use ShopBot's search.

`ShopRetriever(index=index, top_k=4, filters={"kind": "faq"})` returns LangChain `Document`s whose metadata
carries the hit's `id` and `score` beside the document's own metadata. This is the only module that imports
langchain_core; ShopBot itself calls `SearchIndex.search` directly.
"""
from __future__ import annotations

from typing import Any, Literal

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document as LCDocument
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict


class ShopRetriever(BaseRetriever):
    """Hybrid search over a `knowledge.SearchIndex` as a LangChain retriever (a Runnable: str -> documents)."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    index: Any  # a knowledge.SearchIndex
    top_k: int = 4
    filters: dict | None = None
    mode: Literal["hybrid", "dense", "bm25"] = "hybrid"

    def _get_relevant_documents(self, query: str, *, run_manager: CallbackManagerForRetrieverRun) -> list[LCDocument]:
        hits = self.index.search(query, top_k=self.top_k, filters=self.filters, mode=self.mode)
        return [LCDocument(page_content=h.text, id=h.id, metadata={**h.metadata, "id": h.id, "score": h.score})
                for h in hits]
