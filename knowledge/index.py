"""`SearchIndex`: hybrid (dense + BM25) search over plain documents, saved to disk with a manifest.

Dense vectors live in a FAISS `IndexIDMap2(IndexFlatIP)` (unit vectors, so inner product = cosine); BM25
comes from bm25s and is rebuilt from the texts when needed (it is cheap). `update()` re-embeds only the
documents whose text changed. `load()` checks the manifest, the model and every file before trusting them.
Usage: `SearchIndex.build(docs, path=dir).search("glass bottle", filters={"available": True})`.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Literal, Mapping

import numpy as np

from .documents import Document
from .errors import IndexCorrupt, IndexMismatch
from .hybrid import KeywordIndex, matches, reciprocal_rank_fusion, top_positions, weighted_fusion

log = logging.getLogger(__name__)

FORMAT_VERSION = 1
MANIFEST, VECTORS, DOCUMENTS = "manifest.json", "vectors.faiss", "documents.jsonl"
CHARS_PER_TOKEN = 8  # generous: a query is cut to max_tokens * this many characters, the model cuts the rest
PROGRESS_FROM = 2000  # show an embedding progress bar from this many texts on
Mode = Literal["hybrid", "dense", "bm25"]


@dataclass(frozen=True)
class SearchConfig:
    fusion: Literal["rrf", "weighted"] = "weighted"  # beat RRF on the demo shop's questions (docs/search.md)
    rrf_k: int = 60  # the usual constant from the RRF paper; larger flattens the rank weights
    dense_weight: float = 0.6  # only for fusion="weighted"; 0.5-0.7 within 1-3 questions of each other
    candidates: int = 50  # hits taken from each retriever before fusing
    faiss_threads: int = 1  # OpenMP threads for one search (set for the calling thread only, then restored):
    # a single query gains nothing from threads, and on a busy 2-core machine their waiting turned 0.1 ms into 10 ms


@dataclass(frozen=True)
class Hit:
    id: str
    score: float
    text: str
    metadata: dict


class SearchResult(list):
    """The hits of a search, best first. Empty with a `reason` when nothing could be searched."""

    def __init__(self, hits: Iterable[Hit] = (), reason: str | None = None, truncated: bool = False):
        super().__init__(hits)
        self.reason = reason  # why there are no hits: "empty query", "no document matches the filters", ...
        self.truncated = truncated  # the query was longer than the model reads and was cut


@dataclass(frozen=True)
class UpdateReport:
    added: tuple[str, ...] = ()
    changed: tuple[str, ...] = ()  # text changed: re-embedded
    relabelled: tuple[str, ...] = ()  # only metadata changed: vector kept
    removed: tuple[str, ...] = ()
    unchanged: int = 0

    @property
    def embedded(self) -> int:
        return len(self.added) + len(self.changed)

    def __str__(self) -> str:
        return (f"{len(self.added)} added, {len(self.changed)} changed, {len(self.relabelled)} metadata-only, "
                f"{len(self.removed)} removed, {self.unchanged} unchanged")


def content_hash(doc: Document) -> str:
    """Hash of a document's text and metadata: equal hashes mean nothing to update."""
    payload = json.dumps([doc.text, doc.metadata], sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()[:32]


def _text_hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:32]


@dataclass
class _Entry:
    doc: Document
    vector_id: int  # the FAISS id of its vector
    hash: str = ""
    text_hash: str = ""


@dataclass
class SearchIndex:
    """Build with `SearchIndex.build`, reopen with `SearchIndex.load`; the constructor is internal."""

    embedder: object
    config: SearchConfig = field(default_factory=SearchConfig)
    path: Path | None = None

    def __post_init__(self):
        import faiss
        self._faiss = faiss.IndexIDMap2(faiss.IndexFlatIP(self.embedder.dim))
        self._entries: dict[str, _Entry] = {}
        self._order: list[str] = []  # document ids in document order (BM25 positions)
        self._by_vector: dict[int, str] = {}
        self._next_id = 0
        self._keywords: KeywordIndex | None = None
        self._lock = threading.RLock()

    # ------------------------------------------------------------ building
    @classmethod
    def build(cls, documents: Iterable[Document], path: str | Path | None = None, embedder=None,
              config: SearchConfig | None = None) -> "SearchIndex":
        """Embed and index `documents` (objects with id, text, metadata); saved to `path` if given."""
        from .embeddings import default_embedder
        index = cls(embedder or default_embedder(), config or SearchConfig(), Path(path) if path else None)
        index._apply(list(documents))
        if index.path:
            index.save(index.path)
        return index

    def update(self, documents: Iterable[Document]) -> UpdateReport:
        """Make the index hold exactly `documents`: embeds new or re-worded ones only; saves if it has a path."""
        report = self._apply(list(documents))
        if self.path and (report.embedded or report.relabelled or report.removed):
            self.save(self.path)
        return report

    def _apply(self, documents: list[Document]) -> UpdateReport:
        with self._lock:
            new: dict[str, Document] = {}
            for doc in documents:
                if not isinstance(doc.id, str) or not doc.id:
                    raise ValueError(f"document id must be a non-empty string, got {doc.id!r}")
                if doc.id in new:
                    raise ValueError(f"duplicate document id {doc.id!r}")
                new[doc.id] = Document(doc.id, doc.text, dict(doc.metadata or {}))
            removed = [d for d in self._order if d not in new]
            added, changed, relabelled, unchanged = [], [], [], 0
            for doc_id, doc in new.items():
                old = self._entries.get(doc_id)
                if old is None:
                    added.append(doc_id)
                elif old.hash == content_hash(doc):
                    unchanged += 1
                elif old.text_hash == _text_hash(doc.text):
                    relabelled.append(doc_id)
                else:
                    changed.append(doc_id)
            stale = [self._entries[d].vector_id for d in removed + changed]
            if stale:
                import faiss
                self._faiss.remove_ids(faiss.IDSelectorBatch(np.asarray(stale, dtype=np.int64)))
                for vid in stale:
                    self._by_vector.pop(vid, None)
            to_embed = added + changed
            if to_embed:
                texts = [new[d].text for d in to_embed]
                vectors = self.embedder.encode(texts, batch_size=64, progress=len(texts) >= PROGRESS_FROM)
                ids = np.arange(self._next_id, self._next_id + len(to_embed), dtype=np.int64)
                self._faiss.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32), ids)
                self._next_id += len(to_embed)
                for doc_id, vid in zip(to_embed, ids.tolist()):
                    self._entries[doc_id] = _Entry(new[doc_id], vid)
                    self._by_vector[vid] = doc_id
            for doc_id in removed:
                del self._entries[doc_id]
            for doc_id, doc in new.items():
                entry = self._entries[doc_id]
                entry.doc, entry.hash, entry.text_hash = doc, content_hash(doc), _text_hash(doc.text)
            self._order = list(new)
            self._keywords = None  # rebuilt on the next keyword search
            return UpdateReport(tuple(added), tuple(changed), tuple(relabelled), tuple(removed), unchanged)

    # ------------------------------------------------------------ reading
    def __len__(self) -> int:
        return len(self._order)

    def __contains__(self, doc_id: str) -> bool:
        return doc_id in self._entries

    def get(self, doc_id: str) -> Document | None:
        entry = self._entries.get(doc_id)
        return entry.doc if entry else None

    def documents(self) -> list[Document]:
        return [self._entries[d].doc for d in self._order]

    def search(self, query: str, top_k: int = 10, filters: Mapping | None = None, mode: Mode = "hybrid"
               ) -> SearchResult:
        """Hits for `query`, best first. An empty query gives an empty result with `reason` set."""
        if not isinstance(query, str):
            raise TypeError(f"query must be a string, got {type(query).__name__}")
        if mode not in ("hybrid", "dense", "bm25"):
            raise ValueError(f"mode must be 'hybrid', 'dense' or 'bm25', not {mode!r}")
        if not query.strip():
            return SearchResult(reason="empty query: nothing to search for")
        if top_k <= 0:
            return SearchResult(reason="top_k is 0")
        limit = int(getattr(self.embedder, "max_tokens", 256)) * CHARS_PER_TOKEN
        truncated = len(query) > limit
        query = query[:limit]
        if not self._order:
            return SearchResult(reason="the index is empty", truncated=truncated)
        # embedded before taking the lock: concurrent searches wait only for the index, not for the model
        vector = self.embedder.encode([query]) if mode != "bm25" else None
        with self._lock:
            allowed = None
            if filters:
                allowed = np.fromiter((matches(self._entries[d].doc.metadata, filters) for d in self._order),
                                      dtype=bool, count=len(self._order))
                if not allowed.any():
                    return SearchResult(reason="no document matches the filters", truncated=truncated)
            n = max(top_k, self.config.candidates) if mode == "hybrid" else top_k
            dense = self._dense(vector, n, allowed) if mode != "bm25" else []
            keyword = self._keyword(query, n, allowed) if mode != "dense" else []
            if mode == "dense":
                ranked = dense
            elif mode == "bm25":
                ranked = keyword
            elif self.config.fusion == "weighted":
                ranked = weighted_fusion(dict(dense), dict(keyword), self.config.dense_weight)
            else:
                ranked = reciprocal_rank_fusion([[d for d, _ in dense], [d for d, _ in keyword]], self.config.rrf_k)
            hits = [Hit(d, float(s), self._entries[d].doc.text, dict(self._entries[d].doc.metadata))
                    for d, s in ranked[:top_k]]
        reason = None if hits else "no document shares a word with the query"
        return SearchResult(hits, reason=reason, truncated=truncated)

    def _dense(self, vector: np.ndarray, k: int, allowed: np.ndarray | None) -> list[tuple[str, float]]:
        import faiss
        vector = np.ascontiguousarray(vector, dtype=np.float32).reshape(1, -1)
        params = None
        if allowed is not None:
            ids = np.asarray([self._entries[d].vector_id for d, ok in zip(self._order, allowed) if ok], dtype=np.int64)
            params = faiss.SearchParameters(sel=faiss.IDSelectorBatch(ids))
        k = min(k, self._faiss.ntotal)
        # omp_set_num_threads changes the calling thread's OpenMP setting, which torch shares: restore it
        before = faiss.omp_get_max_threads()
        faiss.omp_set_num_threads(self.config.faiss_threads or before)
        try:
            scores, ids = self._faiss.search(vector, k, params=params)
        finally:
            faiss.omp_set_num_threads(before)
        return [(self._by_vector[int(i)], float(s)) for s, i in zip(scores[0], ids[0]) if i >= 0]

    def _keyword(self, query: str, k: int, allowed: np.ndarray | None) -> list[tuple[str, float]]:
        if self._keywords is None:
            self._keywords = KeywordIndex([self._entries[d].doc.text for d in self._order])
        scores = self._keywords.scores(query)
        return [(self._order[p], float(scores[p])) for p in top_positions(scores, k, allowed, positive_only=True)]

    # ------------------------------------------------------------ disk
    def save(self, path: str | Path) -> Path:
        """Write vectors, documents and manifest (last, so a half-written index never looks complete)."""
        import faiss
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        with self._lock:
            (path / MANIFEST).unlink(missing_ok=True)
            faiss.write_index(self._faiss, str(path / VECTORS))
            with open(path / DOCUMENTS, "w", encoding="utf-8") as f:
                for doc_id in self._order:
                    e = self._entries[doc_id]
                    f.write(json.dumps({"id": doc_id, "vector_id": e.vector_id, "text": e.doc.text,
                                        "metadata": e.doc.metadata}, ensure_ascii=False) + "\n")
            manifest = {
                "format_version": FORMAT_VERSION, "model": self.embedder.name, "dim": int(self.embedder.dim),
                "count": len(self._order), "next_vector_id": self._next_id,
                "config": {k: v for k, v in self.config.__dict__.items() if k != "faiss_threads"},
                "files": {name: _file_hash(path / name) for name in (VECTORS, DOCUMENTS)},
                "hashes": {d: self._entries[d].hash for d in self._order},
            }
            tmp = path / (MANIFEST + ".tmp")
            tmp.write_text(json.dumps(manifest, indent=1), encoding="utf-8")
            os.replace(tmp, path / MANIFEST)
            self.path = path
        return path

    @classmethod
    def load(cls, path: str | Path, embedder=None) -> "SearchIndex":
        """Reopen a saved index; raises IndexMismatch (other model) or IndexCorrupt (anything unreadable)."""
        import faiss
        from .embeddings import default_embedder
        path = Path(path)
        embedder = embedder or default_embedder()
        manifest = _read_manifest(path)
        if manifest["model"] != embedder.name or manifest["dim"] != embedder.dim:
            raise IndexMismatch(path, f"built with {manifest['model']} ({manifest['dim']}-d), "
                                      f"not {embedder.name} ({embedder.dim}-d)")
        for name, digest in manifest["files"].items():
            if not (path / name).is_file():
                raise IndexCorrupt(path, f"{name} is missing")
            if _file_hash(path / name) != digest:
                raise IndexCorrupt(path, f"{name} does not match its checksum in the manifest")
        try:
            vectors = faiss.read_index(str(path / VECTORS))
        except RuntimeError as exc:
            raise IndexCorrupt(path, f"{VECTORS} cannot be read: {exc}") from None
        if vectors.ntotal != manifest["count"] or vectors.d != embedder.dim:
            raise IndexCorrupt(path, f"{VECTORS} holds {vectors.ntotal} {vectors.d}-d vectors, "
                                     f"manifest says {manifest['count']} {manifest['dim']}-d")
        saved = manifest.get("config") if isinstance(manifest.get("config"), dict) else {}
        config = SearchConfig(**{k: v for k, v in saved.items() if k in SearchConfig.__dataclass_fields__})
        index = cls(embedder, config, path)
        if not isinstance(vectors, faiss.IndexIDMap2):
            raise IndexCorrupt(path, f"{VECTORS} is a {type(vectors).__name__}, expected IndexIDMap2")
        index._faiss = vectors
        try:
            with open(path / DOCUMENTS, encoding="utf-8") as f:
                rows = [json.loads(line) for line in f if line.strip()]
            for row in rows:
                doc = Document(row["id"], row["text"], row["metadata"])
                index._entries[doc.id] = _Entry(doc, int(row["vector_id"]), content_hash(doc), _text_hash(doc.text))
                index._order.append(doc.id)
                index._by_vector[int(row["vector_id"])] = doc.id
        except (ValueError, KeyError, TypeError) as exc:
            raise IndexCorrupt(path, f"{DOCUMENTS} is malformed: {exc}") from None
        if {d: index._entries[d].hash for d in index._order} != manifest["hashes"]:
            raise IndexCorrupt(path, "documents do not match the content hashes in the manifest")
        index._next_id = int(manifest["next_vector_id"])
        return index


def _file_hash(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _read_manifest(path: Path) -> dict:
    if not (path / MANIFEST).is_file():
        raise IndexCorrupt(path, f"no {MANIFEST} (missing or half-written index)")
    try:
        manifest = json.loads((path / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise IndexCorrupt(path, f"{MANIFEST} cannot be read: {exc}") from None
    if not isinstance(manifest, dict) or manifest.get("format_version") != FORMAT_VERSION:
        version = manifest.get("format_version") if isinstance(manifest, dict) else None
        raise IndexCorrupt(path, f"format version {version!r}, expected {FORMAT_VERSION}")
    required = {"model": str, "dim": int, "count": int, "next_vector_id": int, "files": dict, "hashes": dict}
    for key, kind in required.items():
        if not isinstance(manifest.get(key), kind):
            raise IndexCorrupt(path, f"{MANIFEST} lacks a valid {key!r}")
    if len(manifest["hashes"]) != manifest["count"]:
        raise IndexCorrupt(path, f"{MANIFEST} lists {len(manifest['hashes'])} hashes for {manifest['count']} documents")
    return manifest
