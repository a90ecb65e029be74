"""The assistant with its search index missing, corrupt or unreadable: fewer answers, never a crash.

`GuardedIndex` stands in front of the shop's index (given, or opened on first use). A search or look-up that
fails with a storage or search error returns no hits, logs the reason once, and reports "degraded: ..." for
`Bot.health` (and so /healthz); the bot then answers from the catalog database and its templates. It tries
to open the index again after RETRY_S. Our own bugs (any other exception) are raised as usual.
Tests: tests/security/test_security_degraded.py.
"""
from __future__ import annotations

import logging
import time
from typing import Callable

from knowledge.errors import KnowledgeError

log = logging.getLogger(__name__)
RETRY_S = 60.0  # after a failure, how long before opening the index is tried again
FAULTS = (KnowledgeError, OSError, ImportError, RuntimeError)  # a missing file, a model that cannot load


class EmptyResult(list):
    """No hits, shaped like knowledge's SearchResult (a list of hits with a reason)."""

    def __init__(self, reason: str):
        super().__init__()
        self.reason, self.truncated = reason, False


class GuardedIndex:
    def __init__(self, source, clock: Callable[[], float] = time.monotonic):
        """`source`: an index, or a function that opens one (called on first use and after a failure)."""
        self._opener = source if callable(source) and not hasattr(source, "search") else None
        self._index = None if self._opener else source
        self._clock = clock
        self._failed_at: float | None = None
        self._checked_at: float | None = None  # when a search last worked
        self.problem: str | None = None

    def _open(self):
        if self._index is None:
            if self._failed_at is not None and self._clock() - self._failed_at < RETRY_S:
                raise _Unavailable(self.problem or "unavailable")
            self._index = self._opener()
        return self._index

    def _failed(self, exc: Exception) -> None:
        why = getattr(exc, "reason", None) or str(exc)  # SearchIndexError's reason names no file path
        reason = f"search index unavailable ({type(exc).__name__}: {why})"[:300]
        if reason != self.problem:
            log.warning("%s; answering without search", reason)
        self.problem, self._failed_at = reason, self._clock()
        if self._opener is not None:
            self._index = None  # reopen later: the files may be back

    def search(self, query: str, top_k: int = 10, filters=None, **kwargs):
        try:
            hits = self._open().search(query, top_k=top_k, filters=filters, **kwargs)
        except _Unavailable:
            return EmptyResult(self.problem or "search index unavailable")
        except FAULTS as exc:
            self._failed(exc)
            return EmptyResult(self.problem)
        self.problem, self._checked_at = None, self._clock()
        return hits

    def get(self, doc_id: str):
        try:
            return self._open().get(doc_id)
        except _Unavailable:
            return None
        except FAULTS as exc:
            self._failed(exc)
            return None

    def health(self) -> str:
        """"ok" or "degraded: why"; an index not used for RETRY_S is tried with a one-word search first."""
        if self.problem is None and (self._checked_at is None or self._clock() - self._checked_at >= RETRY_S):
            self.search("health", top_k=1)
        return f"degraded: {self.problem}" if self.problem else "ok"

    def __getattr__(self, name):  # anything else of the index (len, documents...), unguarded
        return getattr(self._open(), name)


class _Unavailable(Exception):
    """The index failed a moment ago; not retried yet."""
